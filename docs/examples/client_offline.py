"""Offline buffering: what a client emits while it is not connected is sent once it is."""

import asyncio

from aiosocketio import Server, client

io = Server()
received = asyncio.Queue()
io.on("connection", lambda socket: socket.on("note", received.put_nowait))


async def main():
    server = await io.start("127.0.0.1", 0)
    port = server.port
    sock = client.io(f"http://127.0.0.1:{port}", reconnection_delay=0.1)

    sock.emit("note", "sent before the connection")  # kept, then sent in order
    sock.volatile.emit("note", "volatile")  # dropped: not connected
    print("connected:", sock.connected)
    await sock.wait_connected()
    print("server got:", await received.get())

    disconnected = asyncio.Event()
    sock.on("disconnect", lambda reason: disconnected.set())
    await io.close()  # the connection is lost
    await disconnected.wait()
    sock.emit("note", "sent while the server was away")
    await io.start("127.0.0.1", port)
    print("server got:", await received.get())
    await sock.disconnect()
    await io.close()


asyncio.run(main())
