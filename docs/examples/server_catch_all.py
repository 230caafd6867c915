"""Catch-all listeners: every event in and out of a socket, and the events no handler took."""

import asyncio

from aiosocketio import Server, connect

io = Server()


@io.on("connection")
def on_connection(socket):
    @socket.on_any
    def incoming(event, *args):
        print("in: ", event, args)

    @socket.on_any_outgoing
    def outgoing(event, *args):
        print("out:", event, args)

    socket.on("greet", lambda: socket.emit("greeting", "hi"))


@io.on_unhandled
def unhandled(socket, event, *args):  # only the events no handler took
    print("unhandled:", event, args)
    return "no such event"


async def main():
    server = await io.start("127.0.0.1", 0)
    sock = await connect(f"http://127.0.0.1:{server.port}")
    print("ack:", await sock.emit_with_ack("unknown", 1, 2))
    await sock.emit_with_ack("greet")
    await sock.disconnect()
    await io.close()


asyncio.run(main())
