"""Interop: Python's `websockets` client (an independent RFC 6455/7692 implementation)
against the example servers. Run by .ci/run; exits non-zero on the first failure.

    python3 Tests/Interop/python_client.py ECHO_PORT COMPRESSED_ECHO_PORT CHAT_PORT
"""
import asyncio
import os
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

import checks
from checks import check

ECHO, ECHO_DEFLATE, CHAT = (int(p) for p in sys.argv[1:4])


async def echo_suite(port, compression):
    uri = f"ws://127.0.0.1:{port}/echo"
    kind = "deflate" if compression else "plain"
    async with connect(uri, compression="deflate" if compression else None, max_size=None) as ws:
        negotiated = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        if compression:
            check(negotiated.startswith("permessage-deflate"), f"{kind}: permessage-deflate negotiated ({negotiated})")
        else:
            check(negotiated == "", f"{kind}: no extension without an offer")
        for message in ["Hello", "κόσμε 🌍 multi-byte", "", b"", b"\x00\x01\xfe\xff"]:
            await ws.send(message)
            reply = await ws.recv()
            check(reply == message and type(reply) == type(message), f"{kind}: echo {message[:20]!r}")
        for size in (1 << 20, 16 << 20):
            payload = os.urandom(size)
            await ws.send(payload)
            check(await ws.recv() == payload, f"{kind}: echo {size >> 20} MiB binary")
        text = "{\"price\": 43125.5, \"size\": 0.0125} " * 30000  # ~1 MiB of JSON-like text
        await ws.send(text)
        check(await ws.recv() == text, f"{kind}: echo 1 MiB text")
        # A fragmented message: websockets sends an iterable as one message in several frames.
        await ws.send(["frag", "mented ", "message"])
        check(await ws.recv() == "fragmented message", f"{kind}: fragmented send comes back whole")
        pong = await ws.ping(b"are you there")
        latency = await asyncio.wait_for(pong, 5)
        check(latency >= 0, f"{kind}: ping answered with pong")
        await ws.close(4000, "done here")
        check(ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 4000, f"{kind}: close code 4000 echoed")
        check(ws.protocol.close_sent.reason == "done here", f"{kind}: close reason sent")


async def protocol_errors():
    # An oversize message (the echo server's limit is 64 MiB) closes with 1009.
    async with connect(f"ws://127.0.0.1:{CHAT}/ws", max_size=None) as ws:
        # The chat server's limit is 64 KiB.
        await ws.send("x" * (65 << 10))
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosedError as error:
            check(error.rcvd is not None and error.rcvd.code == 1009, "message over the limit closed with 1009")


async def rejected_handshake():
    try:
        async with connect(f"ws://127.0.0.1:{CHAT}/missing"):
            pass
        check(False, "handshake to a missing path refused")
    except InvalidStatus as error:
        check(error.response.status_code == 404, "handshake to a missing path refused with 404")
    try:
        async with connect(f"ws://127.0.0.1:{CHAT}/ws", origin="http://x"):
            pass
        check(True, "handshake with an Origin accepted")
    except InvalidStatus as error:
        check(False, f"handshake with an Origin accepted ({error.response.status_code})")


async def chat_broadcast():
    async with connect(f"ws://127.0.0.1:{CHAT}/ws") as a, connect(f"ws://127.0.0.1:{CHAT}/ws") as b:
        await a.send("a" * 80)
        for ws in (a, b):
            while True:
                message = await asyncio.wait_for(ws.recv(), 5)
                if not message.startswith("»"):
                    break
            check(message == "a" * 50, "chat: message cut to 50 characters and broadcast")


async def main():
    await echo_suite(ECHO, compression=False)
    await echo_suite(ECHO_DEFLATE, compression=True)
    await protocol_errors()
    await rejected_handshake()
    await chat_broadcast()
    print(f"python websockets interop: {checks.passed} passed, 0 failed")


asyncio.run(main())
