"""A server program: uvloop, and a clean stop on SIGINT (Ctrl-C) or SIGTERM."""

import asyncio
import os
import signal

import uvloop

from aiosocketio import Server

io = Server()
io.on("connection", lambda socket: socket.on("add", lambda a, b: a + b))


async def main(host, port):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = await io.start(host, port)
    print(f"listening on http://{host}:{server.port}/socket.io/")
    await stop.wait()
    await io.close()  # every client is disconnected ("server shutting down")
    print("stopped")


async def demo():
    asyncio.get_running_loop().call_later(0.2, os.kill, os.getpid(), signal.SIGTERM)
    await main("127.0.0.1", 0)


if __name__ == "__main__":
    # a real program runs uvloop.run(main("0.0.0.0", 3000)); this one stops itself
    uvloop.run(demo())
