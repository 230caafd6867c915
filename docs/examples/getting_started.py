"""Getting started: a server with one event, and a client that talks to it."""

import asyncio

from aiosocketio import Server, client

io = Server()


@io.on("connection")
def on_connection(socket):
    print("server: a client connected")
    socket.emit("welcome", "hello from the server")

    @socket.on("add")
    def add(a, b):
        return a + b  # the return value is the acknowledgement

    @socket.on("disconnect")
    def on_disconnect(reason):
        print("server: the client left:", reason)


async def main():
    server = await io.start("127.0.0.1", 0)  # port 0: any free port
    url = f"http://127.0.0.1:{server.port}"
    sock = client.io(url)  # connects in the background
    sock.on("welcome", lambda text: print("client: welcome:", text))
    await sock.wait_connected()
    print("client: 1 + 2 =", await sock.emit_with_ack("add", 1, 2))
    await sock.disconnect()
    await asyncio.sleep(0.1)  # let the server see the disconnection
    await io.close()


asyncio.run(main())
