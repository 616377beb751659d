"""Python's websockets (pip) as an echo server.
    python3 python-echo.py PORT [--compression]
"""
import asyncio
import sys

from websockets.asyncio.server import serve

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9005
COMPRESSION = "--compression" in sys.argv


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    async with serve(echo, "127.0.0.1", PORT, compression="deflate" if COMPRESSION else None, max_size=None):
        print(f"python-echo listening on ws://127.0.0.1:{PORT}/", flush=True)
        await asyncio.Future()


asyncio.run(main())
