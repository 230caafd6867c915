"""README.md, "A server in a few lines": the block as the README shows it, run by
tests/test_docs.py on a free port in place of 3000."""

import asyncio

from aiosocketio import Server

io = Server(cors="*")


@io.on("connection")
def on_connection(socket):
    socket.emit("welcome", {"id": socket.id})

    @socket.on("chat")
    def chat(room, text):
        socket.to(room).emit("chat", socket.id, text)
        return "delivered"  # the acknowledgement

    @socket.on("join")
    def join(room):
        socket.join(room)
        return f"joined {room}"


asyncio.run(io.serve("127.0.0.1", 3000))  # or: app = io.asgi_app() under any ASGI server
