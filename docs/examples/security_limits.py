"""Limits: message size, connection count."""

import asyncio

from aiosocketio import Server, TransportError, connect

io = Server(
    max_http_buffer_size=10_000,  # bytes: the largest message (and long-polling body)
    max_connections=2,  # Engine.IO connections; beyond: HTTP 503 (default: no limit)
)
io.on("connection", lambda socket: socket.on("upload", len))


async def main():
    server = await io.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"

    sock = await connect(url, transports=["websocket"], reconnection=False)
    print("small:", await sock.emit_with_ack("upload", b"x" * 5_000))
    closed = asyncio.get_running_loop().create_future()
    sock.on("disconnect", closed.set_result)
    sock.emit("upload", b"x" * 50_000)  # too large: the server closes the connection
    print("large:", await closed)

    first, second = await connect(url), await connect(url)
    try:
        await connect(url)
    except TransportError as exc:
        print("third:", exc)
    await first.disconnect()
    await second.disconnect()
    await io.close()


asyncio.run(main())
