"""Logging: the library logs to the `aiosocketio.*` loggers and configures nothing."""

import asyncio
import logging
import sys

from aiosocketio import AckTimeout, Server, connect


class OneLine(logging.Formatter):
    def formatException(self, exc_info):  # the exception on the same line, no traceback
        return f"    {exc_info[0].__name__}: {exc_info[1]}"


handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(OneLine("%(levelname)s %(name)s: %(message)s"))
logging.basicConfig(level=logging.WARNING, handlers=[handler])
logging.getLogger("aiosocketio.server").setLevel(logging.INFO)

io = Server()


@io.on("connection")
def on_connection(socket):
    @socket.on("divide")
    def divide(a, b):
        return a / b  # an exception is logged; no acknowledgement is sent


async def main():
    server = await io.start("127.0.0.1", 0)
    sock = await connect(f"http://127.0.0.1:{server.port}")
    try:
        await sock.emit_with_ack("divide", 1, 0, timeout=0.5)
    except AckTimeout:
        print("client: no answer")
    await sock.disconnect()
    await io.close()


asyncio.run(main())
