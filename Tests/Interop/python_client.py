"""Interop: Python's `websockets` client (an independent RFC 6455/7692 implementation)
against the example servers, and for the TLS port also Python's `ssl` by hand and
`openssl s_client`. Run by .ci/run; exits non-zero on the first failure.

    python3 Tests/Interop/python_client.py ECHO_PORT COMPRESSED_ECHO_PORT CHAT_PORT TLS_ECHO_PORT CA_FILE
"""
import asyncio
import os
import socket
import ssl
import subprocess
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

import checks
from checks import check

ECHO, ECHO_DEFLATE, CHAT, TLS_ECHO = (int(p) for p in sys.argv[1:5])
CA_FILE = sys.argv[5]


async def echo_suite(port, compression, tls=None):
    uri = f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/echo"
    kind = ("deflate" if compression else "plain") + (" over TLS" if tls else "")
    async with connect(uri, compression="deflate" if compression else None, max_size=None, ssl=tls) as ws:
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
        # The chat agrees to compression without context takeover both ways (shared zlib streams).
        extensions = a.response.headers.get("Sec-WebSocket-Extensions", "")
        check("server_no_context_takeover" in extensions and "client_no_context_takeover" in extensions,
              f"chat: compression without context takeover agreed ({extensions})")
        # Several compressed messages, each inflated by a stream borrowed for it alone.
        for letter in "abc":
            await a.send(letter * 80)
            for ws in (a, b):
                while True:
                    message = await asyncio.wait_for(ws.recv(), 5)
                    if not message.startswith("»"):
                        break
                check(message == letter * 50, f"chat: message {letter!r} cut to 50 characters and broadcast")


def tls_context(maximum=None, alpn=None):
    context = ssl.create_default_context(cafile=CA_FILE)
    if maximum:
        context.maximum_version = maximum
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


UPGRADE = (b"GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


async def tls_suite():
    await echo_suite(TLS_ECHO, compression=False, tls=tls_context())
    for maximum, name in ((None, "TLSv1.3"), (ssl.TLSVersion.TLSv1_2, "TLSv1.2")):
        async with connect(f"wss://localhost:{TLS_ECHO}/", ssl=tls_context(maximum, ["http/1.1"])) as ws:
            ssl_object = ws.transport.get_extra_info("ssl_object")
            check(ssl_object.version() == name, f"TLS: {name} negotiated ({ssl_object.version()}, {ssl_object.cipher()[0]})")
            check(ssl_object.selected_alpn_protocol() == "http/1.1", "TLS: ALPN answered http/1.1")
            await ws.send("over " + name)
            check(await ws.recv() == "over " + name, f"TLS: echo over {name}")
    # RFC 7301 §3.2: no protocol in common is a fatal no_application_protocol alert.
    try:
        async with connect(f"wss://localhost:{TLS_ECHO}/", ssl=tls_context(alpn=["h2"])):
            check(False, "TLS: an h2-only client was accepted")
    except ssl.SSLError as error:
        check("no application protocol" in str(error).lower(), f"TLS: h2-only ALPN refused ({error})")
    # Plain HTTP on the TLS port gets a readable refusal, not TLS bytes.
    reader, writer = await asyncio.open_connection("127.0.0.1", TLS_ECHO)
    writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    check(answer.startswith(b"HTTP/1.1 400 "), f"TLS: plain HTTP on the TLS port gets 400 ({answer[:30]!r})")


def close_notify_after_close_handshake():
    """A clean WebSocket close over TLS ends with the server's close_notify: with ragged EOFs
    not suppressed, Python's ssl reads b'' only after a close_notify."""
    raw = socket.create_connection(("127.0.0.1", TLS_ECHO), timeout=5)
    tls = tls_context().wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
    tls.sendall(UPGRADE)
    head = b""
    while b"\r\n\r\n" not in head:
        head += tls.recv(4096)
    check(head.startswith(b"HTTP/1.1 101 "), "TLS by hand: 101 over Python's ssl")
    tls.sendall(masked_frame(0x8, (1000).to_bytes(2, "big")))
    received = head.split(b"\r\n\r\n", 1)[1]
    try:
        while True:
            chunk = tls.recv(4096)
            if not chunk:
                break
            received += chunk
    except ssl.SSLEOFError:
        check(False, "TLS by hand: the server closed without close_notify")
    check(received[:4] == b"\x88\x02\x03\xe8", "TLS by hand: Close 1000 answered, then close_notify")
    tls.close()


def openssl_s_client():
    """`openssl s_client` as the TLS peer: an upgrade request and a Close frame piped in, a 101
    read back, then the server's Close and its close of the connection end s_client."""
    result = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{TLS_ECHO}", "-servername", "localhost",
         "-CAfile", CA_FILE, "-verify_return_error", "-alpn", "http/1.1", "-ign_eof"],
        input=UPGRADE + masked_frame(0x8, (1000).to_bytes(2, "big")), capture_output=True, timeout=10)
    output = result.stdout.decode(errors="replace")
    check("Verify return code: 0 (ok)" in output, "s_client: the certificate chain verifies")
    check("ALPN protocol: http/1.1" in output, "s_client: ALPN http/1.1")
    check("HTTP/1.1 101 Switching Protocols" in output and "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in output,
          "s_client: 101 with the RFC 6455 example accept value")


async def main():
    await echo_suite(ECHO, compression=False)
    await echo_suite(ECHO_DEFLATE, compression=True)
    await protocol_errors()
    await rejected_handshake()
    await message_then_close_in_one_write()
    await chat_broadcast()
    await tls_suite()
    close_notify_after_close_handshake()
    openssl_s_client()
    print(f"python websockets interop: {checks.passed} passed, 0 failed")


asyncio.run(main())
