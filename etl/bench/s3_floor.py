#!/usr/bin/env python3
"""S3 side of the many-small-objects benchmark, with boto3 (the AWS_* environment names the endpoint).

    s3_floor.py put BUCKET PREFIX CSV OBJECTS      split CSV (with header) into OBJECTS objects, uploaded in parallel
    s3_floor.py list BUCKET PREFIX                 list every key once; prints seconds
    s3_floor.py floor BUCKET PREFIX                list, then GET every object with 32 parallel requests; prints seconds
"""
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

PARALLEL = 32


def client():
    return boto3.client("s3", config=Config(max_pool_connections=PARALLEL, s3={"addressing_style": "path"}))


def keys(s3, bucket, prefix):
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out.extend(o["Key"] for o in page.get("Contents", []))
    return out


def put(bucket, prefix, csv_path, objects):
    s3 = client()
    s3.create_bucket(Bucket=bucket)
    with open(csv_path, "rb") as f:
        header = f.readline()
        records, record = [], b""
        for line in f:
            record += line
            if record.count(b'"') % 2 == 0:  # a quoted field may hold line breaks: a record ends on even quotes
                records.append(record)
                record = b""
    per = -(-len(records) // objects)
    bodies = [header + b"".join(records[i * per:(i + 1) * per]) for i in range(objects)]
    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"{prefix}/part-{i:05}.csv", Body=bodies[i]),
                      range(objects)))


def main():
    command, bucket, prefix = sys.argv[1:4]
    if command == "put":
        put(bucket, prefix, sys.argv[4], int(sys.argv[5]))
        return
    s3 = client()
    started = time.monotonic()
    listed = keys(s3, bucket, prefix)
    if command == "floor":
        with ThreadPoolExecutor(PARALLEL) as pool:
            got = sum(pool.map(lambda k: len(s3.get_object(Bucket=bucket, Key=k)["Body"].read()), listed))
        assert got > 0
    print(f"{time.monotonic() - started:.3f}")


if __name__ == "__main__":
    main()
