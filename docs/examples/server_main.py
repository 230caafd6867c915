"""A server program: uvloop, and a clean stop on SIGINT (Ctrl-C) or SIGTERM."""

import asyncio
import os
import signal

import uvloop

from aiosocketio import Server

io = Server()
io.on("connection", lambda socket: socket.on("add", lambda a, b: a + b))


async def main(host, port):
    await io.serve(host, port)  # prints where it listens; stops on Ctrl-C or SIGTERM
    print("stopped")  # every client was disconnected ("server shutting down")


async def demo():
    asyncio.get_running_loop().call_later(0.2, os.kill, os.getpid(), signal.SIGTERM)
    await main("127.0.0.1", 0)


if __name__ == "__main__":
    # a real program runs uvloop.run(main("0.0.0.0", 3000)); this one stops itself
    uvloop.run(demo())
