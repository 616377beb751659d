"""Interop: the chat scaled out. A redis-server of its own, two websocket-chat processes on
different ports sharing it (--redis), and Python's `websockets` as a browser tab on each: a
message typed on one appears on the other. Run by .ci/run.

    python3 Tests/Interop/scaleout.py WEBSOCKET_CHAT
"""
import asyncio
import socket
import subprocess
import sys

from websockets.asyncio.client import connect

import checks
from checks import check

CHAT = sys.argv[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_port(port):
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


async def next_chat_line(ws):
    """The next chat message, skipping join and leave notices."""
    while True:
        message = await asyncio.wait_for(ws.recv(), 5)
        if not message.startswith(("»", "«")):
            return message


async def main():
    redis_port, first, second = free_port(), free_port(), free_port()
    processes = [subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL)]
    try:
        await wait_port(redis_port)
        for port in (first, second):
            processes.append(subprocess.Popen([CHAT, "--port", str(port), "--redis", f"redis://127.0.0.1:{redis_port}"],
                                              stdout=subprocess.DEVNULL))
        for port in (first, second):
            await wait_port(port)
        async with connect(f"ws://127.0.0.1:{first}/ws") as a, connect(f"ws://127.0.0.1:{second}/ws") as b:
            await asyncio.sleep(0.3)  # both processes have subscribed their Redis channel
            await a.send("typed on the first server")
            check(await next_chat_line(b) == "typed on the first server", "scale-out: a message typed on one chat process reaches the other")
            check(await next_chat_line(a) == "typed on the first server", "scale-out: and its own process's tab, once")
            await b.send("and back " + "x" * 60)
            check(await next_chat_line(a) == ("and back " + "x" * 60)[:50], "scale-out: the other way, cut to 50 characters")
            check(await next_chat_line(b) == ("and back " + "x" * 60)[:50], "scale-out: the sender's own tab gets it too")
    finally:
        for process in processes:
            process.kill()
    print(f"scale-out: {checks.passed} passed, 0 failed")


asyncio.run(main())
