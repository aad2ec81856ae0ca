#!/usr/bin/env python3
"""An HTTP/1.1 reverse proxy in front of moto that breaks S3 object downloads the way real networks do: for a
fraction of GetObject responses it sends the headers and half the body, then resets the connection. Everything
else (listings, HEAD, PUT, ranged GETs, which moto answers with 206) passes through unchanged, so a client that
resumes with `Range: bytes=N-` gets the rest.

`etl/bench/latency_proxy.py` relays raw TCP and never sees where a response's body starts; this proxy reads each
request and response as HTTP messages (Content-Length or chunked framing, keep-alive) so it can cut a body
half-way and know which object it belonged to.

    fault_proxy.py LISTEN_PORT UPSTREAM_PORT [--cut FRACTION] [--seed N] [--min-body BYTES]
                   [--change KEY=FILE ...] [--refuse-ranges]

--cut        the fraction of object GETs (whole or ranged) cut half-way (default 0)
--change     the first GET of KEY (the path below the bucket) is cut half-way; before the reset, the proxy
             PUTs FILE's bytes to KEY on the upstream, so the client's resume (If-Match on the old ETag) fails
--min-body   bodies shorter than this are never cut (default 65536), so the client has surely started the body
--refuse-ranges  every ranged object GET is answered with a reset before any byte, so no resume can succeed

Each cut is printed on stdout as one line: `cut GET /bucket/key at N of M bytes` (`changed` when it replaced
the object; `refused GET /bucket/key` for a refused range).
"""
import argparse
import asyncio
import datetime
import hashlib
import hmac
import http.client
import os
import random
import socket
import struct
import sys


async def read_head(reader):
    """The start line and headers of one message, or None at a clean end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if e.partial:
            raise
        return None
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return head, lines[0], headers


async def read_body(reader, headers, bodyless):
    """The message's body as sent (chunked framing kept), and the payload length."""
    if bodyless:
        return b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        raw = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            raw += size_line
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                # Trailers, then the empty line.
                while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                    raw += line
                raw += b"\r\n"
                return bytes(raw)
            raw += await reader.readexactly(size + 2)
    length = int(headers.get("content-length", "0"))
    return await reader.readexactly(length)


def reset(writer):
    """Closes the connection with a TCP reset instead of an orderly FIN, as a broken network path does."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def object_key(target):
    """`(bucket, key)` of an object request's path (path-style), or None for a bucket-level request."""
    path = target.split("?", 1)[0]
    bucket, _, key = path.lstrip("/").partition("/")
    return (bucket, key) if key else None


def sigv4_headers(host, path, body):
    """Signature Version 4 headers of a PUT of `body` to `path`, with the credentials of the environment (the
    test suite's `testing` ones by default): S3 refuses anonymous writes to a bucket that has an owner."""
    key_id = os.environ.get("AWS_ACCESS_KEY_ID", "testing")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "testing")
    region = os.environ.get("AWS_REGION", "us-east-1")
    amz_date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        ["PUT", path, "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed, payload]
    )
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (amz_date[:8], region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return headers


def put_upstream(port, target, body):
    """Overwrites the object at `target` (a path as the client sent it, already URL-encoded) on the upstream."""
    path = target.split("?", 1)[0]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("PUT", path, body=body, headers=sigv4_headers(f"127.0.0.1:{port}", path, body))
    response = connection.getresponse()
    response.read()
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"PUT {target} answered {response.status}")


class Faults:
    def __init__(self, args):
        self.cut = args.cut
        self.random = random.Random(args.seed)
        self.min_body = args.min_body
        self.refuse_ranges = args.refuse_ranges
        self.changes = {}
        for change in args.change:
            key, _, path = change.partition("=")
            with open(path, "rb") as f:
                self.changes[key] = f.read()

    def decide(self, method, target, status, body):
        """None to pass the response on, "cut" or "change" to break it."""
        located = object_key(target)
        if method != "GET" or status not in (200, 206) or located is None or len(body) < self.min_body:
            return None
        key = located[1]
        if key in self.changes:
            return "change"
        return "cut" if self.random.random() < self.cut else None


async def handle(client_reader, client_writer, upstream, faults):
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
    except OSError:
        client_writer.close()
        return
    try:
        while (request := await read_head(client_reader)) is not None:
            head, start, headers = request
            method, target = start.split(" ")[:2]
            body = await read_body(client_reader, headers, False)
            if faults.refuse_ranges and method == "GET" and "range" in headers and object_key(target):
                print(f"refused GET {target.split('?')[0]}", flush=True)
                reset(client_writer)
                break
            up_writer.write(head + body)
            await up_writer.drain()
            response = await read_head(up_reader)
            if response is None:
                break
            r_head, r_start, r_headers = response
            status = int(r_start.split(" ")[1])
            r_body = await read_body(up_reader, r_headers, method == "HEAD" or status in (204, 304))
            fault = faults.decide(method, target, status, r_body)
            if fault is None:
                client_writer.write(r_head + r_body)
                await client_writer.drain()
                continue
            half = len(r_body) // 2
            client_writer.write(r_head + r_body[:half])
            await client_writer.drain()
            if fault == "change":
                new_body = faults.changes.pop(object_key(target)[1])
                await asyncio.to_thread(put_upstream, upstream, target, new_body)
            print(f"{'changed' if fault == 'change' else 'cut'} GET {target.split('?')[0]} at {half} of "
                  f"{len(r_body)} bytes", flush=True)
            # Let the client take in the headers and the first half before the reset reaches it.
            await asyncio.sleep(0.05)
            reset(client_writer)
            break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        up_writer.close()
        client_writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("listen", type=int)
    parser.add_argument("upstream", type=int)
    parser.add_argument("--cut", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-body", type=int, default=65536)
    parser.add_argument("--change", action="append", default=[])
    parser.add_argument("--refuse-ranges", action="store_true")
    args = parser.parse_args()
    faults = Faults(args)
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, args.upstream, faults), "127.0.0.1", args.listen, backlog=512, limit=1 << 20
    )
    print(f"listening on {args.listen}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
