"""An Engine.IO echo server for protocol test suites, on the standalone server.

Every message (text or binary) a client sends comes back to it unchanged.

    PORT=3000 python examples/protocol_suite/engineio_server.py

Uses uvloop when it is installed. Stops cleanly on SIGINT / SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from aiosocketio.engine import CorsPolicy, EngineServer, EngineSocket
from aiosocketio.transport import StandaloneServer

log = logging.getLogger("engineio_server")


class Echo:
    """Sends every message back on the session it came from."""

    __slots__ = ("esock",)

    def __init__(self, esock: EngineSocket) -> None:
        self.esock = esock

    def on_message(self, data: str | bytes) -> None:
        self.esock.send_message(data)

    def on_close(self, reason: str, description: str | None) -> None:
        pass


def on_connection(esock: EngineSocket) -> None:
    esock.handler = Echo(esock)


def make_engine() -> EngineServer:
    return EngineServer(
        on_connection,
        path="/engine.io",
        ping_interval=0.3,
        ping_timeout=0.2,
        max_http_buffer_size=1_000_000,
        cors=CorsPolicy("*"),
    )


async def main(host: str = "127.0.0.1", port: int | None = None) -> None:
    if port is None:
        port = int(os.environ.get("PORT", "3000"))
    server = StandaloneServer([make_engine()])
    await server.start(host, port)
    log.info("Engine.IO echo server listening on http://%s:%d/engine.io/", host, server.port)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    try:
        await stop
    finally:
        await server.close()
        log.info("stopped")


def run() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


if __name__ == "__main__":
    run()
