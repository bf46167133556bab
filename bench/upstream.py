#!/usr/bin/env python3
"""Fixtures for bench/provider.sh: the fixed OpenAI-shaped answer (2 KB of
base64, as issue 3 asks: a 22x22 PNG stored without compression), and an
asyncio upstream that holds every request DELAY seconds before answering it
(for the held-requests run).

usage: upstream.py body            → prints the JSON answer
       upstream.py serve PORT DELAY → serves until killed"""
import asyncio
import base64
import json
import os
import struct
import sys
import zlib


def png(side=22):
    rows = b"".join(b"\x00" + bytes([(x * 37 + y * 11) % 256 for x in range(side * 3)])
                    for y in range(side))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 0)) + chunk(b"IEND", b""))


def body():
    return json.dumps({"created": 1, "data": [{"b64_json": base64.b64encode(png()).decode()}]})


async def handle(reader, writer, delay, answer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            n = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":")[1])
            if n:
                await reader.readexactly(n)
            await asyncio.sleep(delay)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(answer)).encode() + b"\r\n\r\n" + answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(port, delay):
    answer = body().encode()
    server = await asyncio.start_server(lambda r, w: handle(r, w, delay, answer), "127.0.0.1",
                                        port, backlog=20000)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "body":
        print(body())
    else:
        asyncio.run(serve(int(sys.argv[2]), float(sys.argv[3])))
