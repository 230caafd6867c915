"""Pulling events instead of listening: receive(), and wait() for the end of the connection."""

import asyncio

from aiosocketio import NotConnected, Server, client


async def main():
    io = Server()

    @io.on("connection")
    def welcome(socket):
        socket.emit("welcome", "you are in")

    @io.on_event("count")
    def count(socket, n):
        for i in range(n, 0, -1):
            socket.emit("count", i)
        socket.disconnect()

    server = await io.start("127.0.0.1", 0)
    sock = await client.connect(f"http://127.0.0.1:{server.port}", reconnection=False)
    # the events no listener takes are kept from the first receive() (or keep_unheard())
    print(await sock.receive(timeout=5))
    sock.emit("count", 3)
    while True:
        try:
            print(await sock.receive(timeout=5))
        except NotConnected:  # disconnected, nothing left to receive
            break
    await sock.wait()  # returns once disconnected for good (not during a reconnection)
    print("done")
    await io.close()


asyncio.run(main())
