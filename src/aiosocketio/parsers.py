"""The Socket.IO parsers, and what a parser of your own needs (docs/parsers.md).

``Server(parser=...)`` and ``connect(url, parser=...)`` take any object with the
:class:`Parser` methods: the default :data:`JSON_PARSER` (socket.io-parser), a
:class:`MsgpackParser` (@socket.io/msgpack-parser; needs the ``msgpack`` extra when one is
made), or yours, which turns :class:`Packet` objects into messages and back.
"""

from __future__ import annotations

from .socketio.msgpack_parser import MsgpackParser
from .socketio.packets import (
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
from .socketio.parser import JSON_PARSER, Decoder, JSONParser, Parser

__all__ = [
    "ACK",
    "BINARY_ACK",
    "BINARY_EVENT",
    "CONNECT",
    "CONNECT_ERROR",
    "DISCONNECT",
    "EVENT",
    "JSON_PARSER",
    "RESERVED_EVENTS",
    "Decoder",
    "JSONParser",
    "MsgpackParser",
    "Packet",
    "Parser",
]
