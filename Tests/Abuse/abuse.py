"""The abuse cases of issue 10, run against release builds of the example servers over raw
sockets on 127.0.0.1. For each case it prints what the server answered and the server's
resident memory (RSS) and open descriptors before, at the peak, and after.

    python3 Tests/Abuse/abuse.py [--bin DIR] [--quick]

DIR holds websocket-echo and websocket-chat (default .build/release; build them with
`swift build -c release --product websocket-echo --product websocket-chat`). --quick shortens
the floods (for CI). Exits non-zero if a case's answer is wrong; memory figures are reported,
and a case fails if its peak passes the bound printed beside it.
"""
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
import zlib

args = sys.argv[1:]
QUICK = "--quick" in args
BIN = args[args.index("--bin") + 1] if "--bin" in args else ".build/release"
FLOOD_SECONDS = 2 if QUICK else 8
MiB = 1 << 20
failures = []
ran = []


# --- the server under test ---------------------------------------------------------------

class Server:
    def __init__(self, name, *flags):
        self.process = subprocess.Popen([os.path.join(BIN, name), "--port", "0", *flags],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.process.stdout.readline()
        self.port = int(re.search(r":(\d+)", line).group(1))
        self.peak = 0
        self._sampling = False

    def rss(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def fds(self):
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def sample(self):
        """Samples RSS every 20 ms in the background until stop_sampling()."""
        self.peak = self.rss()
        self._sampling = True

        def run():
            while self._sampling:
                self.peak = max(self.peak, self.rss())
                time.sleep(0.02)
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop_sampling(self):
        self._sampling = False
        self._thread.join()
        self.peak = max(self.peak, self.rss())

    def stop(self):
        self.process.terminate()
        self.process.wait(5)


def case(server, name, bound=None):
    """Runs a case (a decorated function) with memory and descriptor figures around it."""
    def run(body):
        ran.append(name)
        rss_before, fds_before = server.rss(), server.fds()
        server.sample()
        started = time.monotonic()
        try:
            answer = body()
        except Exception as error:  # a case that raises is a failure with its reason
            answer = f"FAILED: {error!r}"
        server.stop_sampling()
        elapsed = time.monotonic() - started
        time.sleep(0.3)  # let the server finish closing what the case opened
        rss_after, fds_after = server.rss(), server.fds()
        growth = server.peak - rss_before
        over = bound is not None and growth > bound
        if answer.startswith("FAILED") or over:
            failures.append(name)
        limit = f" (bound {bound / MiB:.0f} MiB{': EXCEEDED' if over else ''})" if bound is not None else ""
        print(f"- {name}: {answer}\n    {elapsed:.1f} s; RSS {rss_before / MiB:.1f} -> peak {server.peak / MiB:.1f} "
              f"-> {rss_after / MiB:.1f} MiB{limit}; fds {fds_before} -> {fds_after}", flush=True)
    return run


# --- a raw client -------------------------------------------------------------------------

def frame(opcode, payload=b"", fin=True, rsv1=False):
    """A masked client frame."""
    key = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    mask = (key * (n // 4 + 1))[:n]
    return head + key + (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big") if n else head + key


def connect(port, path="/", headers="", receive_buffer=None):
    """Opens a WebSocket over a blocking socket; returns it once the 101 has arrived."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", port))
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.split(b"\r\n")[0].decode())
    sock.settimeout(10)
    return sock


def read_all(sock, seconds):
    """Everything the server sends until it closes or `seconds` pass."""
    data = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    return data


def frames_in(data):
    """(opcode, payload) of each whole server frame in `data`."""
    out, i = [], 0
    while i + 2 <= len(data):
        n, j = data[i + 1] & 0x7F, i + 2
        if n == 126:
            n, j = int.from_bytes(data[j:j + 2], "big"), j + 2
        elif n == 127:
            n, j = int.from_bytes(data[j:j + 8], "big"), j + 8
        if j + n > len(data):
            break
        out.append((data[i] & 0x0F, data[j:j + n]))
        i = j + n
    return out


def flood(sock, make, seconds):
    """Sends make(i) without reading, as fast as the socket takes it; returns how many went out."""
    sock.setblocking(False)
    sent, pending, deadline = 0, b"", time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pending:
            pending = make(sent)
        try:
            n = sock.send(pending)
            pending = pending[n:]
            if not pending:
                sent += 1
        except BlockingIOError:
            select.select([], [sock], [], 0.05)
    sock.setblocking(True)
    return sent


def raw_exchange(port, request):
    """Sends a raw request; returns the response: its head for a 101 (the connection then stays
    open), else everything up to the server's close."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(request)
    answer = b""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (answer.startswith(b"HTTP/1.1 101") and b"\r\n\r\n" in answer):
        ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        chunk = sock.recv(1 << 16) if ready else b""
        if not chunk:
            break
        answer += chunk
    sock.close()
    return answer


# --- the cases ----------------------------------------------------------------------------

def main():
    echo = Server("websocket-echo")
    deflate = Server("websocket-echo", "--compression")
    chat = Server("websocket-chat")
    print(f"abuse cases against {BIN} ({'quick' if QUICK else 'full'}; floods of {FLOOD_SECONDS} s)\n")

    @case(echo, "message and Close in one write")
    def _():
        sock = connect(echo.port)
        sock.sendall(frame(0x1, b"hello") + frame(0x8, b"\x03\xe8"))
        got = frames_in(read_all(sock, 5))
        return "echo, then Close 1000" if got == [(1, b"hello"), (8, b"\x03\xe8")] else f"FAILED: got {got}"

    for bad_name, bad in [("reserved opcode", frame(0x3)), ("RSV bits", frame(0x1, b"x", rsv1=True)),
                          ("stray continuation", frame(0x0, b"x"))]:
        @case(echo, f"message and a {bad_name} in one write")
        def _(bad=bad):
            sock = connect(echo.port)
            sock.sendall(frame(0x1, b"hello") + bad)
            got = frames_in(read_all(sock, 5))
            ok = len(got) == 2 and got[0] == (1, b"hello") and got[1][0] == 8 and got[1][1][:2] == b"\x03\xea"
            return "echo, then Close 1002" if ok else f"FAILED: got {got}"

    @case(echo, f"1-byte messages from a peer that does not read for {FLOOD_SECONDS} s, then drains", bound=64 * MiB)
    def _():
        sock = connect(echo.port, receive_buffer=16 << 10)
        sent = flood(sock, lambda i: frame(0x2, b"x"), FLOOD_SECONDS)
        started = time.monotonic()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * MiB)
        expected, data = sent * 3, b""
        deadline = started + 60
        while len(data) < expected and time.monotonic() < deadline:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        took = time.monotonic() - started
        sock.close()
        if len(data) < expected:
            return f"FAILED: {len(data) // 3} of {sent} echoes within 60 s"
        return f"{sent} sent, all echoed; drained in {took:.2f} s"

    @case(echo, f"125-byte Pings from a peer that does not read, {FLOOD_SECONDS} s", bound=64 * MiB)
    def _():
        sock = connect(echo.port, receive_buffer=16 << 10)
        sent = flood(sock, lambda i: frame(0x9, bytes(125)), FLOOD_SECONDS)
        sock.close()
        return f"{sent} Pings sent"

    @case(echo, f"empty messages from a peer that does not read, {FLOOD_SECONDS} s", bound=64 * MiB)
    def _():
        sock = connect(echo.port, receive_buffer=16 << 10)
        sent = flood(sock, lambda i: frame(0x2), FLOOD_SECONDS)
        sock.close()
        return f"{sent} messages sent"

    @case(deflate, "8 unfinished compressed messages of 60 MiB each (61 KB on the wire)", bound=200 * MiB)
    def _():
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        payload = compressor.compress(bytes(60 * MiB)) + compressor.flush(zlib.Z_SYNC_FLUSH)
        payload = payload[:-4]  # RFC 7692 §7.2.1: the 00 00 FF FF tail is removed
        bomb = frame(0x2, payload, fin=False, rsv1=True)
        socks, refused = [], 0
        for _ in range(8):
            sock = connect(deflate.port, headers="Sec-WebSocket-Extensions: permessage-deflate\r\n")
            sock.sendall(bomb)
            socks.append(sock)
        time.sleep(2)
        for sock in socks:
            sock.setblocking(False)
            try:
                got = frames_in(sock.recv(1 << 16))
                if got and got[0][0] == 8 and got[0][1][:2] == (1013).to_bytes(2, "big"):
                    refused += 1
            except BlockingIOError:
                pass
            sock.close()
        return f"{len(payload)} bytes sent per connection; {refused} of 8 closed with 1013 (Try Again Later)"

    for name, request, status in [
        ("upgrade with Content-Length and a frame as its body",
         b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         b"Sec-WebSocket-Version: 13\r\nContent-Length: 11\r\n\r\n" + frame(0x1, b"smuggled"), b"400"),
        ("HTTP/2.0 upgrade", b"GET / HTTP/2.0\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", b"505"),
        ("absolute-form target", b"GET http://a/ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", b"101"),
        ("empty line before the request line", b"\r\nGET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", b"101"),
        ("malformed Host", b"GET /ws HTTP/1.1\r\nHost: a b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", b"400"),
        ("chat upgrade from another site's page", b"GET /ws HTTP/1.1\r\nHost: a\r\nOrigin: https://evil.example\r\nUpgrade: websocket\r\n"
         b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", b"403"),
        # Keep-alive: a body the server does not read must not be taken for the next request.
        ("page request whose body hides a second request",
         b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 35\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", b"200"),
    ]:
        @case(chat, name)
        def _(request=request, status=status):
            answer = raw_exchange(chat.port, request)
            line = answer.split(b"\r\n")[0].decode(errors="replace")
            ok = (line.startswith("HTTP/1.1 " + status.decode()) and b"smuggled" not in answer
                  and len(re.findall(rb"(?:^|\r\n)HTTP/1\.1 \d{3} ", answer)) == 1)  # one response, no second one
            return line if ok else f"FAILED: {line!r}, expected {status.decode()}"

    for server in (echo, deflate, chat):
        server.stop()
    print(f"\nabuse: {len(ran) - len(failures)} passed, {len(failures)} failed" + (f" ({', '.join(failures)})" if failures else ""))
    sys.exit(1 if failures else 0)


main()
