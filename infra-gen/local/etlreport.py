#!/usr/bin/env python3
"""What the local platform reads of the ETL for its checks and its report: the dataset spec's table and columns,
and the summaries in `etl`'s JSON log.

Standard library only: it runs with whatever python3 is on PATH, before any venv exists.

  etlreport.py spec-table SPEC.toml     print the target table named by a dataset spec
  etlreport.py spec-columns SPEC.toml   print the spec's column names, comma-separated, in the spec's order
  etlreport.py etl-summary LOG          print the last ingest and process summaries of an etl JSON log
"""

import json
import sys
import tomllib


def die(msg):
    print(f"etlreport: {msg}", file=sys.stderr)
    sys.exit(1)


def load_spec(spec):
    with open(spec, "rb") as f:
        return tomllib.load(f)


def spec_table(spec):
    doc = load_spec(spec)
    print(doc.get("table") or doc["name"])


def spec_columns(spec):
    print(", ".join(column["name"] for column in load_spec(spec)["columns"]))


def etl_summary(log):
    """The last ingest and process summaries in an etl JSON log, as one line each."""
    ingest = process = None
    with open(log, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "uploaded" in rec and "skipped" in rec:
                ingest = rec
            elif "loaded" in rec and "rejected" in rec and "failed" in rec:
                process = rec
    if ingest:
        print(f"etl ingest: {ingest['uploaded']} uploaded, {ingest['skipped']} unchanged (skipped)")
    if process:
        print(
            f"etl process: {process['loaded']} objects loaded ({process.get('rows', '?')} rows, "
            f"{process['rejected']} rejected), {process.get('skipped', '?')} already loaded, {process['failed']} failed"
        )


def main(argv):
    cmds = {
        "spec-table": spec_table,
        "spec-columns": spec_columns,
        "etl-summary": etl_summary,
    }
    if len(argv) != 3 or argv[1] not in cmds:
        die("usage: see the header of infra-gen/local/etlreport.py")
    cmds[argv[1]](argv[2])


if __name__ == "__main__":
    main(sys.argv)
