"""The reference configuration of the official Socket.IO protocol test suite
(socketio/socket.io-protocol, folder test-suite), served by aiosocketio.

    PORT=3000 python examples/protocol_suite/socketio_server.py
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

from aiosocketio import Server, Socket


def create_server() -> Server:
    io = Server(ping_interval=0.3, ping_timeout=0.2, max_http_buffer_size=1_000_000, cors="*")

    def on_connection(socket: Socket) -> None:
        socket.emit("auth", socket.handshake.auth)

        @socket.on("message")
        def message(*args: Any) -> None:
            socket.emit("message-back", *args)

        @socket.on("message-with-ack")
        def message_with_ack(*args: Any, ack: Any) -> None:
            ack(*args)

    io.on("connection", on_connection)
    io.of("/custom").on("connection", lambda socket: socket.emit("auth", socket.handshake.auth))
    return io


async def main() -> None:
    port = int(os.environ.get("PORT", "3000"))
    io = create_server()
    await io.start("127.0.0.1", port)
    logging.getLogger("aiosocketio").warning("listening on http://127.0.0.1:%d/socket.io/", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await io.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
