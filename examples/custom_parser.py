"""A custom Socket.IO parser: each packet is one JSON text message.

This is the format of the custom-parser example in the Socket.IO documentation (its Encoder
writes ``JSON.stringify(packet)``, its Decoder checks what ``JSON.parse`` returns), so a
JavaScript client given that parser talks to a server given this one. It has no binary
support: the data must be JSON.

A parser is two methods:

* ``encode(kind, nsp, data, id)`` returns the Engine.IO messages of one packet, ``str`` for
  text and ``bytes`` for binary;
* ``decoder()`` returns a fresh object for one connection, whose ``decode_text`` and
  ``decode_binary`` return a finished :class:`Packet` (or None while a packet is still
  incomplete) and raise :class:`ProtocolError` on anything invalid (the connection is then
  closed).

Run it to see a server and a client use it::

    python examples/custom_parser.py
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiosocketio import ProtocolError, Server, Socket, client
from aiosocketio.parsers import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    RESERVED_EVENTS,
    Packet,
)


class JSONTextParser:
    """``Server(parser=JSONTextParser())`` / ``connect(url, parser=JSONTextParser())``."""

    def encode(self, kind: int, nsp: str, data: Any, id: int | None = None) -> list[str | bytes]:
        # the JSON parser's binary kinds may reach a custom parser (a packet relayed by a
        # cluster adapter): this format has no such kinds
        kind = {BINARY_EVENT: EVENT, BINARY_ACK: ACK}.get(kind, kind)
        packet: dict[str, Any] = {"type": kind, "nsp": nsp}
        if data is not None:
            packet["data"] = data
        if id is not None:
            packet["id"] = id
        return [json.dumps(packet, separators=(",", ":"), ensure_ascii=False)]

    def decoder(self) -> JSONTextDecoder:
        return JSONTextDecoder()


class JSONTextDecoder:
    """One per connection; this format keeps no state between messages."""

    def decode_text(self, text: str) -> Packet | None:
        try:
            packet = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ProtocolError("invalid JSON") from exc
        if not isinstance(packet, dict):
            raise ProtocolError("a packet must be an object")
        kind, nsp, data, id = (packet.get(k) for k in ("type", "nsp", "data", "id"))
        if type(kind) is not int or kind not in (CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR):
            raise ProtocolError("invalid packet type")
        if type(nsp) is not str or not nsp.startswith("/"):
            raise ProtocolError("invalid namespace")
        if id is not None and (type(id) is not int or not 0 <= id <= 2**53 - 1):
            raise ProtocolError("invalid ack id")
        if not _valid_data(kind, data):
            raise ProtocolError("invalid payload")
        return Packet(kind, nsp, data, id)

    def decode_binary(self, data: bytes) -> Packet | None:
        raise ProtocolError("this parser takes text messages only")


def _valid_data(kind: int, data: Any) -> bool:
    if kind == CONNECT:
        return data is None or isinstance(data, dict)
    if kind == DISCONNECT:
        return data is None
    if kind == CONNECT_ERROR:
        return isinstance(data, (str, dict))
    if kind == ACK:
        return isinstance(data, list)
    # EVENT: a list that starts with the event name
    return (
        isinstance(data, list)
        and bool(data)
        and isinstance(data[0], str)
        and data[0] not in RESERVED_EVENTS
    )


async def main() -> list[Any]:
    """A server and a client with the parser; returns what the client got."""
    server = Server(parser=JSONTextParser())

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.on("add", lambda a, b: a + b)
        socket.emit("hello", {"from": "server"})

    standalone = await server.start("127.0.0.1", 0)
    try:
        hello: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        sock = client.io(f"http://127.0.0.1:{standalone.port}", parser=JSONTextParser())
        sock.on("hello", hello.set_result)
        await sock.wait_connected(5)
        try:
            total = await sock.emit_with_ack("add", 1, 2, timeout=5)
            return [await asyncio.wait_for(hello, 5), total]
        finally:
            await sock.disconnect()
    finally:
        await server.close()


if __name__ == "__main__":
    print(asyncio.run(main()))
