#!/usr/bin/env python3
"""The benchmark's streaming Python peer: what one would write instead of `etl process`.

boto3 streams the object's body, `csv` splits it, `re` applies the dataset spec's `null_if` and rules (read from the
same TOML spec), and psycopg 3 COPYs the rows in, all in one pass with bounded memory. PostgreSQL's text input checks
the types. Python 3.11's `csv` cannot tell a quoted empty field ("") from an unquoted one (NULL), so records whose
raw text holds `""` are split again by a small quote-aware splitter; everything else takes the `csv` fast path.

With `--format jsonl` each line is `json.loads`'d (gzip sniffed from the first bytes, decompressed while streaming)
and a column reads the member of its name (missing or null: NULL). With `--format parquet` the whole object is read
into memory and pyarrow decodes it one record batch at a time; a column reads the file's column of its name. The
same `null_if`, rules and COPY follow for every format.

    peer.py --bucket B --key K --dataset data/events.toml --dsn postgresql://... --object-id 1 [--format jsonl]
"""

import argparse
import csv
import gzip
import io
import json
import re
import tomllib

import boto3
import psycopg


def rust_replacement(replace):
    """`$1` / `${name}` (Rust regex) to `\\g<1>` / `\\g<name>` (Python re)."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: "\\g<" + (m.group(1) or m.group(2)) + ">",
                  replace.replace("\\", "\\\\"))


def split_quoted(record, delimiter):
    """Splits one raw record, keeping quoted empty fields ("") apart from NULL (unquoted empty)."""
    fields, i, n = [], 0, len(record)
    while True:
        if i < n and record[i] == '"':
            value, i = [], i + 1
            while True:
                j = record.index('"', i)
                value.append(record[i:j])
                if j + 1 < n and record[j + 1] == '"':
                    value.append('"')
                    i = j + 2
                else:
                    i = j + 1
                    break
            fields.append("".join(value))
        else:
            j = record.find(delimiter, i)
            j = n if j < 0 else j
            fields.append(record[i:j] or None)
            i = j
        if i >= n:
            return fields
        i += 1
        if i == n:
            fields.append(None)
            return fields


def csv_records(body, spec):
    """The records of a CSV body: a list of values, None for NULL (an unquoted empty field)."""
    delimiter = spec.get("csv", {}).get("delimiter", ",")
    text = io.TextIOWrapper(body, encoding="utf-8", newline="")
    raw = []

    def lines():
        for line in text:
            raw.append(line)
            yield line

    header = spec.get("csv", {}).get("header", True)
    for fields in csv.reader(lines(), delimiter=delimiter, strict=True):
        record = "".join(raw).rstrip("\r\n")
        raw.clear()
        if header:
            header = False
            continue
        if '""' in record:
            yield split_quoted(record, delimiter)
        else:
            yield [value or None for value in fields]


def jsonl_records(body, spec):
    """The records of a JSON Lines body (gzip or not): each column's member as text, None when missing or null."""
    body = io.BufferedReader(body)
    if body.peek(2)[:2] == b"\x1f\x8b":
        body = gzip.GzipFile(fileobj=body)
    names = [c["name"] for c in spec["columns"]]
    for line in io.TextIOWrapper(body, encoding="utf-8", newline="\n"):
        if line.strip():
            record = json.loads(line)
            yield [record.get(name) for name in names]


def parquet_records(body, spec):
    """The records of a Parquet object, read whole into memory, one pyarrow record batch at a time."""
    import pyarrow.parquet

    names = [c["name"] for c in spec["columns"]]
    file = pyarrow.parquet.ParquetFile(io.BytesIO(body.read()))
    for batch in file.iter_batches(columns=names):
        yield from zip(*(batch.column(name).to_pylist() for name in names))


READERS = {"csv": csv_records, "jsonl": jsonl_records, "parquet": parquet_records}


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--bucket", "--key", "--dataset", "--dsn", "--object-id"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--format", choices=sorted(READERS), default="csv")
    args = parser.parse_args()
    with open(args.dataset, "rb") as f:
        spec = tomllib.load(f)
    columns = []
    for c in spec["columns"]:
        rules = [(re.compile(r["pattern"]), rust_replacement(r["replace"])) for r in c.get("rules", [])]
        columns.append((set(c.get("null_if", [])), rules))
    names = ", ".join('"{}"'.format(c["name"]) for c in spec["columns"])

    body = boto3.client("s3").get_object(Bucket=args.bucket, Key=args.key)["Body"]
    object_id = int(args.object_id)
    with psycopg.connect(args.dsn) as conn, conn.cursor() as cur:
        with cur.copy('COPY "{}" ({}, "etl_object_id") FROM STDIN'.format(spec["table"], names)) as copy:
            for fields in READERS[args.format](body, spec):
                row = []
                for value, (null_if, rules) in zip(fields, columns):
                    if value is None or value in null_if:
                        row.append(None)
                        continue
                    for pattern, replace in rules:
                        value = pattern.sub(replace, value)
                    row.append(value)
                row.append(object_id)
                copy.write_row(row)


if __name__ == "__main__":
    main()
