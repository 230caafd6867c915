"""The ASGI app under hypercorn: `hypercorn asgi_hypercorn:app --bind 127.0.0.1:3000`.
Run as a script, it starts hypercorn on a free port and connects a client."""

import asyncio
import socket

from hypercorn.asyncio import serve
from hypercorn.config import Config

from aiosocketio import Server, connect

io = Server()
io.on("connection", lambda socket: socket.on("add", lambda a, b: a + b))

app = io.asgi_app()


async def main():
    listener = socket.create_server(("127.0.0.1", 0))  # a free port, listening already
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.detach()}"]  # hypercorn takes the socket over
    config.loglevel = "WARNING"
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))

    sock = await connect(f"http://127.0.0.1:{port}")
    print("1 + 2 =", await sock.emit_with_ack("add", 1, 2))
    await sock.disconnect()

    stop.set()
    await serving


if __name__ == "__main__":
    asyncio.run(main())
