"""The parser seam: how Socket.IO packets become Engine.IO messages and back.

The default parser is JSON (``socketio.packets``). A custom parser (msgpack, ...) provides
the same two things: ``encode(type, nsp, data, id)`` returning the Engine.IO messages of one
packet, and ``decoder()`` returning an object with ``decode_text`` / ``decode_binary`` that
yield finished :class:`~aiosocketio.socketio.packets.Packet` objects (or None while a packet
is incomplete) and raise :class:`~aiosocketio.errors.ProtocolError` on bad input.
"""

from __future__ import annotations

from typing import Any, Protocol

from . import packets

__all__ = ["JSON_PARSER", "Decoder", "JSONParser", "Parser"]


class Decoder(Protocol):
    def decode_text(self, text: str) -> packets.Packet | None: ...
    def decode_binary(self, data: bytes) -> packets.Packet | None: ...


class Parser(Protocol):
    def encode(self, kind: int, nsp: str, data: Any, id: int | None = None) -> list[str | bytes]:
        """The messages of one packet: text and/or binary."""
        ...

    def decoder(self) -> Decoder: ...


class JSONParser:
    """The default Socket.IO parser (socket.io-parser 4.x): JSON text plus binary attachments."""

    __slots__ = ("max_attachments",)

    def __init__(self, max_attachments: int = 10) -> None:
        self.max_attachments = max_attachments

    # the codec function itself, not a wrapper: one call less per packet
    encode = staticmethod(packets.encode)

    def decoder(self) -> packets.Decoder:
        return packets.Decoder(self.max_attachments)


JSON_PARSER = JSONParser()
