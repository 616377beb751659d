"""Interop: this package's client (the websocket-cat example) against independent servers:
Python's `websockets` and Node's `ws`, each plain, with permessage-deflate and over TLS.
Run by .ci/run; exits non-zero on the first failure.

    python3 Tests/Interop/client_interop.py WEBSOCKET_CAT CA_FILE CERT_FILE KEY_FILE

Each server greets with a binary message, echoes, closes with 4000 "bye" on "close-me", and
answers "who" with the X-Test header and the subprotocol it chose.
"""
import asyncio
import json
import os
import ssl
import subprocess
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

import checks
from checks import check

CAT, CA, CERT, KEY = sys.argv[1:5]
NODE = os.path.join(os.path.dirname(__file__), "node_servers.js")
LONG = "κόσμε 🌍 " * 20000  # about 260 KB of multi-byte text on one line


async def python_handler(ws):
    await ws.send(bytes([0, 1, 2, 255]))
    try:
        async for message in ws:
            if message == "close-me":
                await ws.close(4000, "bye")
            elif message == "who":
                await ws.send(f"header={ws.request.headers.get('X-Test', '')} protocol={ws.subprotocol}")
            else:
                await ws.send(message)
    except ConnectionClosed:
        pass  # the 4000 close ends the loop with an error; that close is the point of the check


def select_subprotocol(connection, subprotocols):
    return "chat.v2" if "chat.v2" in subprotocols else None


def cat(url, lines, *options, expect=0, end_input=True):
    """Runs websocket-cat, writes `lines` to its standard input, waits for `expect` lines of
    output (so that no answer is cut off by the close), then ends the input (or, without
    `end_input`, waits for the server to close). Returns (exit status, stdout lines, stderr)."""
    process = subprocess.Popen([CAT, url, *options], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = []
    try:
        for line in lines:
            process.stdin.write((line + "\n").encode())
        process.stdin.flush()
        while len(out) < expect:
            line = process.stdout.readline()
            if not line:
                break
            out.append(line.decode().rstrip("\n"))
        if end_input:
            process.stdin.close()
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    rest, err = process.stdout.read(), process.stderr.read()
    return process.returncode, out + rest.decode().splitlines(), err.decode()


def suite(name, url, *options):
    status, out, err = cat(url, ["hello", "", LONG, "who"], "--header", "X-Test: 42", "--protocol", "chat.v1",
                           "--protocol", "chat.v2", *options, expect=5)
    check(status == 0 and "closed 1000" in err, f"{name}: clean close after the input ends ({status}, {err.strip()!r})")
    check(out[:1] == ["binary: 00 01 02 ff"], f"{name}: binary greeting shown as hex ({out[:1]})")
    check(out[1:4] == ["hello", "", LONG], f"{name}: text echoed, empty and 260 KB multi-byte included")
    check(out[4:5] == ["header=42 protocol=chat.v2"], f"{name}: header and subprotocol reached the server ({out[4:5]})")
    check("subprotocol chat.v2" in err, f"{name}: the client saw the chosen subprotocol")
    compressed = "--compression" in options
    check(("permessage-deflate" in err) == compressed, f"{name}: permessage-deflate {'agreed' if compressed else 'not offered'}")
    status, out, err = cat(url, ["close-me"], *options, expect=1, end_input=False)
    check(status == 3 and "closed 4000 bye" in err, f"{name}: the server's close 4000 reported, exit 3 ({status}, {err.strip()!r})")


async def python_servers():
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(CERT, KEY)
    async with serve(python_handler, "127.0.0.1", 0, compression=None, select_subprotocol=select_subprotocol, max_size=None) as plain, \
            serve(python_handler, "127.0.0.1", 0, compression="deflate", select_subprotocol=select_subprotocol, max_size=None) as deflate, \
            serve(python_handler, "127.0.0.1", 0, ssl=tls, select_subprotocol=select_subprotocol, max_size=None) as secure:
        ports = [s.sockets[0].getsockname()[1] for s in (plain, deflate, secure)]
        await asyncio.to_thread(suite, "python plain", f"ws://127.0.0.1:{ports[0]}/")
        await asyncio.to_thread(suite, "python deflate", f"ws://127.0.0.1:{ports[1]}/", "--compression")
        await asyncio.to_thread(suite, "python tls", f"wss://localhost:{ports[2]}/", "--ca", CA)


def node_servers():
    env = dict(os.environ, NODE_PATH="/usr/share/nodejs")
    node = subprocess.Popen(["node", NODE, CERT, KEY], stdout=subprocess.PIPE, env=env)
    try:
        ports = json.loads(node.stdout.readline())
        suite("node plain", f"ws://127.0.0.1:{ports['plain']}/")
        suite("node deflate", f"ws://127.0.0.1:{ports['deflate']}/", "--compression")
        suite("node tls", f"wss://localhost:{ports['tls']}/", "--ca", CA)
        # Without the test CA the certificate is refused; --insecure is the named way round it.
        status, _, err = cat(f"wss://localhost:{ports['tls']}/", ["x"])
        check(status == 1 and "certificate verify failed" in err, f"node tls: an unknown CA is refused ({err.strip()!r})")
        status, out, _ = cat(f"wss://localhost:{ports['tls']}/", ["x"], "--insecure", expect=2)
        check(status == 0 and out[1:] == ["x"], "node tls: --insecure connects to a test certificate")
    finally:
        node.kill()


asyncio.run(python_servers())
node_servers()
print(f"client interop: {checks.passed} passed, 0 failed")
