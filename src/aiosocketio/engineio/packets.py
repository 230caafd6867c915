"""Engine.IO v4 packets and long-polling payloads.

A packet travels as text (its type digit, then its data) or, for a binary message over
WebSocket, as the raw bytes. On long-polling, packets are joined with the record separator
``\\x1e`` and a binary message is written as ``b`` followed by its base64 form.

Packets are plain values on the hot path: a decoded packet is a ``(type, data)`` tuple where
data is ``str`` or ``bytes``.
"""

from __future__ import annotations

import binascii
from base64 import b64decode, b64encode
from collections.abc import Iterable

from ..errors import ProtocolError

__all__ = [
    "CLOSE",
    "MESSAGE",
    "NOOP",
    "OPEN",
    "PING",
    "PONG",
    "SEPARATOR",
    "UPGRADE",
    "Packet",
    "decode_packet",
    "decode_payload",
    "encode_packet",
    "encode_payload",
    "message_packets",
]

OPEN = 0
CLOSE = 1
PING = 2
PONG = 3
MESSAGE = 4
UPGRADE = 5
NOOP = 6

SEPARATOR = "\x1e"

Packet = tuple[int, str | bytes]

_TYPES = {str(t): t for t in range(7)}


def message_packets(messages: list[str | bytes]) -> list[str | bytes]:
    """Engine.IO MESSAGE packets of the layer above's messages, in place: a text message gets
    the type digit ``4``; a binary message is sent as it is (the transport frames it)."""
    first = messages[0]
    if type(first) is str:  # the common case: only the first message is text
        messages[0] = "4" + first
    for i in range(1, len(messages)):
        message = messages[i]
        if type(message) is str:
            messages[i] = "4" + message
    return messages


def encode_packet(kind: int, data: str | bytes = "") -> str | bytes:
    """Encode one packet for WebSocket: text packets get their type digit, binary stays raw."""
    if isinstance(data, bytes):
        if kind != MESSAGE:
            raise ValueError("only message packets can carry binary data")
        return data
    return f"{kind}{data}"


def decode_packet(data: str | bytes) -> Packet:
    """Decode one WebSocket message into ``(type, data)``. Raises ProtocolError."""
    if not isinstance(data, str):
        return MESSAGE, bytes(data)
    if not data:
        raise ProtocolError("empty packet")
    if data[0] == "b":
        # base64 binary message: long-polling, or a WebSocket client with forceBase64
        try:
            return MESSAGE, b64decode(data[1:], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("invalid base64 in binary packet") from exc
    kind = _TYPES.get(data[0])
    if kind is None:
        raise ProtocolError(f"unknown packet type {data[0]!r}")
    return kind, data[1:]


def encode_payload(packets: Iterable[str | bytes]) -> str:
    """Join already encoded packets (text packets or binary messages) for long-polling."""
    if type(packets) is list and len(packets) == 1 and type(packets[0]) is str:
        return packets[0]  # the common answer: one text packet
    parts = [p if isinstance(p, str) else "b" + b64encode(p).decode("ascii") for p in packets]
    return SEPARATOR.join(parts)


def decode_payload(payload: str) -> list[Packet]:
    """Split a long-polling payload into packets. Raises ProtocolError on any bad packet."""
    if payload[:1] == "4" and SEPARATOR not in payload:  # the common POST: one message
        return [(MESSAGE, payload[1:])]
    return [decode_packet(part) for part in payload.split(SEPARATOR)]
