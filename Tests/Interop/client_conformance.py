"""Conformance of this package's client, in the manner of Autobahn|Testsuite's client mode: a
server written here byte by byte (no WebSocket library) sends each case's frames to
`websocket-cat --echo`, which must echo every message, answer pings, and fail the
connection with the right close code on bad input. Run by .ci/run.

    python3 Tests/Interop/client_conformance.py WEBSOCKET_CAT

Covers framing and lengths, ping/pong, reserved bits and opcodes, fragmentation (with control
frames between fragments), UTF-8 (fail-fast inside a fragmented message), the closing
handshake (codes and reasons), limits, masking, and permessage-deflate (context takeover,
fragments, RSV1 rules, corrupt data).
"""
import asyncio
import base64
import hashlib
import os
import struct
import subprocess
import sys
import zlib

import checks
from checks import check

CAT = sys.argv[1]
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
TIMEOUT = 5


def frame(opcode, payload=b"", fin=True, rsv=0, mask=False, length=None):
    """A frame as a server would send it (or wrongly: masked, any bits, any length field)."""
    n = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    if n < 126:
        head = struct.pack("!BB", first, (0x80 if mask else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", first, (0x80 if mask else 0) | 127, n)
    if mask:
        key = os.urandom(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


def deflate(data, compressor):
    """permessage-deflate: the compressed bytes without the final 00 00 ff ff (RFC 7692 §7.2.1)."""
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


class Peer:
    """The client as the server sees it: reads its frames, checks they are masked, inflates."""

    def __init__(self, reader, writer, compressed):
        self.reader, self.writer = reader, writer
        self.inflater = zlib.decompressobj(-15) if compressed else None
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, -15) if compressed else None

    async def frame(self):
        """(opcode, payload, fin, rsv1) of the next client frame; raises on EOF or timeout."""
        head = await asyncio.wait_for(self.reader.readexactly(2), TIMEOUT)
        fin, rsv1, opcode = head[0] & 0x80, head[0] & 0x40, head[0] & 0x0F
        assert head[1] & 0x80, "a client frame must be masked"
        n = head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        key = await self.reader.readexactly(4)
        data = await asyncio.wait_for(self.reader.readexactly(n), TIMEOUT)
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data)) if n < 65536 else unmask_fast(data, key)
        return opcode, data, bool(fin), bool(rsv1)

    async def message(self):
        """The next data message or control frame: ("text"|"binary", bytes) or ("ping"|"pong"|"close", payload)."""
        opcode, data, fin, rsv1 = await self.frame()
        if opcode >= 8:
            return {8: "close", 9: "ping", 10: "pong"}[opcode], data
        parts, compressed = [data], rsv1
        while not fin:
            opcode2, data, fin, _ = await self.frame()
            if opcode2 >= 8:
                raise AssertionError("control frame between the fragments of an echo")
            parts.append(data)
        data = b"".join(parts)
        if compressed:
            data = self.inflater.decompress(data + b"\x00\x00\xff\xff")
        return ("text" if opcode == 1 else "binary"), data

    async def close_code(self):
        """Reads until the client's Close; returns its code (None for an empty payload, 'eof')."""
        while True:
            try:
                kind, data = await self.message()
            except (asyncio.IncompleteReadError, ConnectionError):
                return "eof"
            if kind == "close":
                return struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None


def unmask_fast(data, key):
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


CASES = []


def case(name, compressed=False):
    def register(function):
        CASES.append((name, compressed, function))
        return function
    return register


async def expect_echo(peer, kind, data, what):
    got = await peer.message()
    check(got == (kind, data), what)


async def expect_close(peer, codes, what):
    code = await peer.close_code()
    check(code in codes, f"{what} (client closed with {code})")


# Framing and lengths.
for size in (0, 1, 125, 126, 127, 65535, 65536, 1 << 20):
    @case(f"text of {size} bytes echoed")
    async def _(peer, size=size):
        data = (b"abcdefghij" * (size // 10 + 1))[:size]
        peer.writer.write(frame(1, data))
        await expect_echo(peer, "text", data, f"text of {size} bytes echoed")

@case("binary of every byte value echoed")
async def _(peer):
    peer.writer.write(frame(2, bytes(range(256))))
    await expect_echo(peer, "binary", bytes(range(256)), "binary of every byte value echoed")

# Ping and pong.
@case("ping with 125 bytes answered with the same")
async def _(peer):
    peer.writer.write(frame(9, b"p" * 125))
    check(await peer.message() == ("pong", b"p" * 125), "ping with 125 bytes answered with the same")

@case("unsolicited pong ignored")
async def _(peer):
    peer.writer.write(frame(10, b"unasked") + frame(1, b"after"))
    await expect_echo(peer, "text", b"after", "unsolicited pong ignored, the next message echoed")

@case("ping of 126 bytes fails with 1002")
async def _(peer):
    peer.writer.write(frame(9, b"p" * 126))
    await expect_close(peer, {1002}, "ping of 126 bytes fails with 1002")

@case("fragmented ping fails with 1002")
async def _(peer):
    peer.writer.write(frame(9, b"half", fin=False))
    await expect_close(peer, {1002}, "fragmented ping fails with 1002")

# Reserved bits and opcodes.
for rsv in (1, 2, 4):
    @case(f"RSV bits {rsv:03b} fail with 1002")
    async def _(peer, rsv=rsv):
        peer.writer.write(frame(1, b"reserved", rsv=rsv))
        await expect_close(peer, {1002}, f"RSV bits {rsv:03b} without an extension fail with 1002")

for opcode in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
    @case(f"opcode {opcode} fails with 1002")
    async def _(peer, opcode=opcode):
        peer.writer.write(frame(opcode, b"x"))
        await expect_close(peer, {1002}, f"reserved opcode {opcode} fails with 1002")

@case("masked server frame fails with 1002")
async def _(peer):
    peer.writer.write(frame(1, b"masked", mask=True))
    await expect_close(peer, {1002}, "a masked frame from the server fails with 1002")

@case("non-minimal length read")
async def _(peer):
    # RFC 6455 §5.2's "minimal number of bytes" binds the sender; a receiver reads the length.
    peer.writer.write(bytes([0x81, 126, 0, 5]) + b"short")
    await expect_echo(peer, "text", b"short", "a 16-bit length for 5 bytes is read (the minimal-length rule binds senders)")

@case("frame over the limit fails with 1009")
async def _(peer):
    peer.writer.write(frame(2, b"", length=64 << 20)[:10])  # the header alone announces 64 MiB
    await expect_close(peer, {1009}, "a 64 MiB frame header fails with 1009 at once")

# Fragmentation.
@case("fragments echoed whole, with pings between them")
async def _(peer):
    peer.writer.write(frame(1, b"frag", fin=False) + frame(9, b"mid") + frame(0, b"men", fin=False) + frame(0, b"ted"))
    check(await peer.message() == ("pong", b"mid"), "a ping between fragments answered at once")
    await expect_echo(peer, "text", b"fragmented", "fragments echoed as one message")

@case("one-byte fragments")
async def _(peer):
    data = "κόσμε".encode()
    frames = [frame(1 if i == 0 else 0, data[i:i + 1], fin=i == len(data) - 1) for i in range(len(data))]
    peer.writer.write(b"".join(frames))
    await expect_echo(peer, "text", data, "one-byte fragments, splitting UTF-8 characters, echoed whole")

@case("continuation without a start fails with 1002")
async def _(peer):
    peer.writer.write(frame(0, b"orphan"))
    await expect_close(peer, {1002}, "a continuation with nothing to continue fails with 1002")

@case("new message inside a fragmented one fails with 1002")
async def _(peer):
    peer.writer.write(frame(1, b"first", fin=False) + frame(1, b"second"))
    await expect_close(peer, {1002}, "a new text frame before the last fragment fails with 1002")

# UTF-8.
@case("invalid UTF-8 fails with 1007")
async def _(peer):
    peer.writer.write(frame(1, b"\xce\xba\xff"))
    await expect_close(peer, {1007}, "invalid UTF-8 in a text message fails with 1007")

@case("invalid UTF-8 fails fast inside a fragmented message")
async def _(peer):
    peer.writer.write(frame(1, b"valid \xed\xa0\x80 surrogate", fin=False))  # and never the rest
    await expect_close(peer, {1007}, "invalid UTF-8 in the first fragment fails with 1007 before the message ends")

# The closing handshake.
@case("close 1000 with a reason echoed")
async def _(peer):
    peer.writer.write(frame(8, close_payload(1000, b"bye")))
    await expect_close(peer, {1000}, "Close 1000 answered with 1000")

@case("empty close answered")
async def _(peer):
    peer.writer.write(frame(8))
    await expect_close(peer, {None, 1000}, "an empty Close answered (empty or 1000)")

for code in (3000, 4999):
    @case(f"close {code} answered")
    async def _(peer, code=code):
        peer.writer.write(frame(8, close_payload(code)))
        await expect_close(peer, {code, 1000}, f"Close {code} answered")

for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535):
    @case(f"close code {code} fails with 1002")
    async def _(peer, code=code):
        peer.writer.write(frame(8, close_payload(code)))
        await expect_close(peer, {1002}, f"a Close with code {code} fails with 1002")

@case("one-byte close payload fails with 1002")
async def _(peer):
    peer.writer.write(frame(8, b"\x03"))
    await expect_close(peer, {1002}, "a one-byte Close payload fails with 1002")

@case("close reason with invalid UTF-8 fails with 1007")
async def _(peer):
    peer.writer.write(frame(8, close_payload(1000, b"\xff\xfe")))
    await expect_close(peer, {1007}, "a Close reason that is not UTF-8 fails with 1007")

# permessage-deflate.
@case("compressed messages echoed, context taken over", compressed=True)
async def _(peer):
    for i in range(50):
        data = f'{{"n": {i}, "text": "the same words again and again"}}'.encode()
        peer.writer.write(frame(1, deflate(data, peer.compressor), rsv=4))
        await expect_echo(peer, "text", data, None) if i < 49 else await expect_echo(peer, "text", data, "50 compressed messages echoed, context taken over")

@case("compressed fragmented message", compressed=True)
async def _(peer):
    body = deflate(b"fragmented and compressed", peer.compressor)
    peer.writer.write(frame(1, body[:5], fin=False, rsv=4) + frame(0, body[5:]))
    await expect_echo(peer, "text", b"fragmented and compressed", "a compressed message in fragments (RSV1 on the first) echoed")

@case("RSV1 on a continuation fails with 1002", compressed=True)
async def _(peer):
    body = deflate(b"abcdef", peer.compressor)
    peer.writer.write(frame(1, body[:3], fin=False, rsv=4) + frame(0, body[3:], rsv=4))
    await expect_close(peer, {1002}, "RSV1 on a continuation frame fails with 1002")

@case("RSV1 on a ping fails with 1002", compressed=True)
async def _(peer):
    peer.writer.write(frame(9, b"x", rsv=4))
    await expect_close(peer, {1002}, "RSV1 on a control frame fails with 1002")

@case("corrupt compressed data fails with 1007", compressed=True)
async def _(peer):
    peer.writer.write(frame(1, b"\xff\xff\xff\xff not deflate", rsv=4))
    await expect_close(peer, {1007}, "data that does not inflate fails with 1007")


async def run_case(name, compressed, body):
    """Serves one connection of websocket-cat --echo with the case `body`."""
    done = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
            key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            offered = b"permessage-deflate" in request.lower()
            check(offered == compressed, f"{name}: permessage-deflate offered only with --compression")
            extra = b"Sec-WebSocket-Extensions: permessage-deflate\r\n" if compressed else b""
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept + b"\r\n" + extra + b"\r\n")
            peer = Peer(reader, writer, compressed)
            await body(peer)
            done.set_result(None)
        except Exception as error:  # noqa: BLE001 - reported through the future
            done.set_exception(error)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    options = ["--echo"] + (["--compression"] if compressed else [])
    process = await asyncio.create_subprocess_exec(CAT, f"ws://127.0.0.1:{port}/", *options,
                                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await asyncio.wait_for(done, 20)
    finally:
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except asyncio.TimeoutError:
            process.kill()
            check(False, f"{name}: websocket-cat did not exit")
        server.close()


_check = check


def check(condition, what):  # noqa: F811 - a None `what` means "not a check of its own"
    if what is not None:
        _check(condition, what)
    elif not condition:
        raise AssertionError("an intermediate expectation failed")


async def main():
    for name, compressed, body in CASES:
        await run_case(name, compressed, body)
    print(f"client conformance: {checks.passed} passed, 0 failed ({len(CASES)} cases)")


asyncio.run(main())
