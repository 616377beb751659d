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
    # The chat accepts its own page's origin and refuses another site's (a cross-site page).
    try:
        async with connect(f"ws://127.0.0.1:{CHAT}/ws", origin="https://evil.example"):
            pass
        check(False, "chat: another site's Origin refused")
    except InvalidStatus as error:
        check(error.response.status_code == 403, "chat: another site's Origin refused with 403")
    async with connect(f"ws://127.0.0.1:{CHAT}/ws", origin=f"http://127.0.0.1:{CHAT}") as ws:
        check(ws.response.status_code == 101, "chat: its own Origin accepted")


def masked_frame(opcode, payload):
    """A client frame built by hand (FIN set, masked, payload under 126 bytes)."""
    key = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def message_then_close_in_one_write():
    # What `send(); close()` produces in most clients: the echo must still come back, before
    # the server's Close.
    reader, writer = await asyncio.open_connection("127.0.0.1", ECHO)
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    writer.write(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{ECHO}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    check(head.startswith(b"HTTP/1.1 101"), "raw: upgraded")
    writer.write(masked_frame(0x1, b"hello") + masked_frame(0x8, b"\x03\xe8"))
    answer = await asyncio.wait_for(reader.read(), 5)
    check(answer == b"\x81\x05hello\x88\x02\x03\xe8", f"raw: echo before the Close when both arrive in one write ({answer!r})")
    writer.close()


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
    await message_then_close_in_one_write()
    await chat_broadcast()
    print(f"python websockets interop: {checks.passed} passed, 0 failed")


asyncio.run(main())
