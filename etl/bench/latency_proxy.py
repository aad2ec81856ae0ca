#!/usr/bin/env python3
"""A loopback TCP proxy that gives every HTTP response S3-like latency: it holds the response's first byte until
DELAY_MS after the request's first byte arrived. One request at a time per connection (HTTP/1.1 without
pipelining, as the AWS SDKs speak), so "a request" is the first client data after the previous response began.

    latency_proxy.py LISTEN_PORT UPSTREAM_PORT [DELAY_MS]     (default 20 ms)
"""
import asyncio
import sys
import time


async def pipe_requests(reader, writer, state):
    while data := await reader.read(65536):
        if state["asked"] is None:
            state["asked"] = time.monotonic()
        writer.write(data)
        await writer.drain()
    writer.close()


async def pipe_responses(reader, writer, state, delay):
    while data := await reader.read(65536):
        if state["asked"] is not None:
            await asyncio.sleep(max(0.0, state["asked"] + delay - time.monotonic()))
            state["asked"] = None
        writer.write(data)
        await writer.drain()
    writer.close()


async def main(listen, upstream, delay):
    async def handle(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            client_writer.close()
            return
        state = {"asked": None}
        await asyncio.gather(
            pipe_requests(client_reader, up_writer, state),
            pipe_responses(up_reader, client_writer, state, delay),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen, backlog=512)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3] if len(sys.argv) > 3 else 20) / 1000))
