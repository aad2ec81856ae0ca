#!/usr/bin/env python3
"""Generate the `events` sample dataset and, side by side, the rows PostgreSQL must hold after `etl process`.

The expected output is computed here, independently of the Rust implementation: the dataset spec's rules
(data/events.toml) are re-implemented with Python's `re`, and every value is rendered the way PostgreSQL's text
COPY output renders it with TimeZone=UTC. The tests compare the loaded table with this file; the benchmark feeds
it to `psql \\copy` as the physical limit of the load.

    python3 data/gen_events.py --rows 3000 --seed 7 --csv data/events.csv \\
        --expected data/events.expected.tsv --rejects data/events.rejects.tsv
"""

import argparse
import datetime as dt
import json
import random
import re
from decimal import Decimal

COLUMNS = ["event_id", "occurred_at", "user_id", "country", "device", "event_type", "amount",
           "session_seconds", "is_fraud", "comment"]

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
COLOUR = re.compile(r"\bcolour\b")

COUNTRIES = ["US", "GB", "DE", "FR", "IN", "BR", "JP", "uk", "UK", "usa", "USA", "us", "N/A", "unknown", "??", None]
DEVICES = ["iPhone 15", "iphone", "iPad", "IPAD Pro", "Android 14", "android", "web", "Web", "desktop", None]
EVENT_TYPES = ["view", "click", "add_to_cart", "purchase", "share, email", "search \"shoes\""]
FRAUD = ["false"] * 6 + ["true", "yes", "no", "Y", "N", "1", "0", "t", "f"]
COMMENTS = [
    "fast checkout",
    "Loved the colour, will buy again",
    "Colour was off",  # case-sensitive rule: untouched
    "colours differ from the photo",  # word boundary: untouched
    "watercolour set, 24 pieces",  # word boundary: untouched
    "contact me at jane.doe+shop@example.com, thanks",
    "He said \"it's fine\", then left",
    "line one\nline two",
    "windows line\r\nending",
    "Größe passt, très bien 👍",
    "日本語のレビュー",
    "tab\tseparated",
    "back\\slash path C:\\temp",
    "",
    None,
    "\"quoted\" start",
    "ends with comma,",
]


def pick(rng, values):
    return values[rng.randrange(len(values))]


def csv_field(value, rng):
    """RFC 4180 quoting; None is an unquoted empty field (NULL), "" a quoted empty field."""
    if value is None:
        return ""
    if value == "" or any(c in value for c in ',"\r\n') or rng.random() < 0.05:
        return '"' + value.replace('"', '""') + '"'
    return value


def copy_text(value):
    """PostgreSQL text COPY encoding of one value."""
    if value is None:
        return "\\N"
    return (value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
            .replace("\t", "\\t"))


def country_rule(raw):
    if raw is None or raw in ("N/A", "unknown", "??"):
        return None
    if raw.lower() == "uk":
        return "GB"
    if raw.lower() in ("us", "usa"):
        return "US"
    return raw


def device_rule(raw):
    if raw is None:
        return None
    low = raw.lower()
    if low.startswith("iphone") or low.startswith("ipad"):
        return "ios"
    if low.startswith("android"):
        return "android"
    return raw


def amount_raw(rng):
    cents = rng.randrange(0, 500000)
    value = Decimal(cents) / 100
    style = rng.random()
    if style < 0.05:
        return None, None
    if style < 0.08:
        return "-", None
    if style < 0.2:
        return "${:,.2f}".format(value), "{:.2f}".format(value)
    if style < 0.3:
        return str(cents // 100), "{}.00".format(cents // 100)
    return "{:.2f}".format(value), "{:.2f}".format(value)


def fraud_value(raw):
    return "t" if raw.lower() in ("true", "yes", "y", "1", "t") else "f"


def timestamp(rng):
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    moment = base + dt.timedelta(seconds=rng.randrange(0, 366 * 86400))
    millis = rng.choice([0, 0, rng.randrange(1, 1000)])
    moment = moment.replace(microsecond=millis * 1000)
    frac = ".{:03d}".format(millis) if millis else ""
    style = rng.random()
    if style < 0.5:
        raw = moment.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"
    elif style < 0.8:
        offset = dt.timezone(dt.timedelta(hours=2))
        raw = moment.astimezone(offset).strftime("%Y-%m-%d %H:%M:%S") + frac + "+02:00"
    else:
        offset = dt.timezone(dt.timedelta(hours=-5, minutes=-30))
        raw = moment.astimezone(offset).strftime("%Y-%m-%dT%H:%M:%S") + frac + "-05:30"
    out = moment.strftime("%Y-%m-%d %H:%M:%S")
    if millis:
        out += (".{:03d}".format(millis)).rstrip("0")
    return raw, out + "+00"


def comment_rule(raw):
    if raw is None:
        return None
    return COLOUR.sub("color", EMAIL.sub("<email>", raw))


PAD = "Session notes: browsed the catalogue, compared three items, checked delivery times."


def row(rng, event_id, pad):
    ts_raw, ts_out = timestamp(rng)
    user = "u{:06d}".format(rng.randrange(0, 200000))
    country = pick(rng, COUNTRIES)
    device = pick(rng, DEVICES)
    event_type = pick(rng, EVENT_TYPES)
    amount_in, amount_out = amount_raw(rng)
    seconds = None if rng.random() < 0.05 else round(rng.uniform(0.5, 3600.0), 3)
    fraud = pick(rng, FRAUD)
    comment = pick(rng, COMMENTS)
    if pad and comment is not None:
        comment = comment + " " + PAD
    raw = [str(event_id), ts_raw, user, country, device, event_type, amount_in,
           None if seconds is None else repr(seconds), fraud, comment]
    seconds_out = None if seconds is None else repr(seconds)
    if seconds_out is not None and seconds_out.endswith(".0"):
        seconds_out = seconds_out[:-2]
    out = [str(event_id), ts_out, user, country_rule(country), device_rule(device), event_type, amount_out,
           seconds_out, fraud_value(fraud), comment_rule(comment)]
    return raw, out


BAD_ROWS = [
    # (raw fields, reason fragment the reject must carry)
    (["{id}", "2024-02-30T10:00:00Z", "u000001", "US", "web", "view", "1.00", "1.5", "false", "bad date"],
     "occurred_at"),
    (["{id}", "2024-03-01T10:00:00Z", "u000002", "US", "web", "view", "12.5.0", "1.5", "false", "bad amount"],
     "amount"),
    (["{id}", "2024-03-01T10:00:00Z", "u000003", "US", "web", "view", "1.00", "1.5", "false"],
     "expected 10 fields"),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--first-id", type=int, default=1)
    parser.add_argument("--csv", required=True, help="raw CSV to write")
    parser.add_argument("--expected", help="expected table contents, PostgreSQL text COPY format, ordered by id")
    parser.add_argument("--rejects", help="expected rejects: line number and reason fragment (adds 3 bad rows)")
    parser.add_argument("--copy-object-id", type=int,
                        help="append this etl_object_id column to each expected line (for psql \\copy)")
    parser.add_argument("--jsonl", help="also write the same raw values as JSON Lines: one object a record, each CSV "
                        "field a string member, an unquoted empty field (NULL) a null (not with --rejects)")
    parser.add_argument("--pad", action="store_true",
                        help="append a sentence to every comment (about 160 bytes a row, for the benchmark)")
    args = parser.parse_args()
    if args.jsonl and args.rejects:
        parser.error("--jsonl writes no bad rows; leave out --rejects")

    rng = random.Random(args.seed)
    bad_every = args.rows // (len(BAD_ROWS) + 1) if args.rejects else 0
    bad_left = list(BAD_ROWS) if args.rejects else []
    line = 1
    rejects = []
    suffix = "\t{}".format(args.copy_object_id) if args.copy_object_id is not None else ""
    with open(args.csv, "w", encoding="utf-8", newline="") as csv_out, \
            open(args.expected or "/dev/null", "w", encoding="utf-8", newline="") as exp_out, \
            open(args.jsonl or "/dev/null", "w", encoding="utf-8", newline="") as jsonl_out:
        header = ",".join(COLUMNS) + "\n"
        csv_out.write(header)
        line += 1
        event_id = args.first_id
        for n in range(args.rows):
            if bad_left and bad_every and n > 0 and n % bad_every == 0:
                fields, reason = bad_left.pop(0)
                text = ",".join(f.format(id=event_id) for f in fields) + "\n"
                csv_out.write(text)
                rejects.append((line, reason))
                line += text.count("\n")
                event_id += 1
            raw, out = row(rng, event_id, args.pad)
            text = ",".join(csv_field(v, rng) for v in raw) + ("\r\n" if n % 7 == 0 else "\n")
            csv_out.write(text)
            if args.jsonl:
                jsonl_out.write(json.dumps(dict(zip(COLUMNS, raw)), ensure_ascii=False) + "\n")
            line += text.count("\n")
            exp_out.write("\t".join(copy_text(v) for v in out) + suffix + "\n")
            event_id += 1
    if args.rejects:
        with open(args.rejects, "w", encoding="utf-8") as rej_out:
            for number, reason in rejects:
                rej_out.write("{}\t{}\n".format(number, reason))


if __name__ == "__main__":
    main()
