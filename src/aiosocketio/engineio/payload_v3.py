"""Engine.IO v3 packets and long-polling payloads (socket.io-client 2.x, ``EIO=3``).

Packets are the same ``(type, data)`` values as in v4; only their framing differs:

- a binary message over WebSocket starts with its type byte (``b"\\x04"`` + data);
  ``b<type><base64>`` is its text form (clients that ask for ``b64=1``, and long-polling
  text payloads);
- a long-polling text payload is each packet prefixed with its length and ``:``
  (``2:40`` + ``6:42[""]``), the length counting what JavaScript's ``String.length`` counts:
  UTF-16 code units;
- a long-polling binary payload (``application/octet-stream``) is, per packet, a marker byte
  (0 text, 1 binary), the length's decimal digits as bytes of value 0 to 9, the byte 255,
  then the packet: text as UTF-8 (its length in bytes), binary with its type byte.

The decoders refuse anything that does not frame exactly (wrong or non-digit lengths,
truncated packets, unknown types, bad base64) with a ProtocolError.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode, b64encode
from collections.abc import Sequence

from ..errors import ProtocolError
from .packets import MESSAGE, Packet

__all__ = [
    "decode_packet",
    "decode_payload",
    "decode_payload_binary",
    "encode_base64",
    "encode_binary",
    "encode_payload",
    "encode_payload_binary",
    "encode_payload_text",
    "js_length",
]

_TYPES = {str(t): t for t in range(7)}
_MAX_LENGTH_DIGITS = 15  # beyond any body a server accepts; keeps int() cheap
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


# ---------------------------------------------------------------------------------- packets
def encode_binary(data: bytes, kind: int = MESSAGE) -> bytes:
    """A binary packet as v3 writes it on WebSocket (and in binary payloads): type byte first."""
    return bytes((kind,)) + data


def encode_base64(data: bytes, kind: int = MESSAGE) -> str:
    """A binary packet in its text form: ``b``, the type digit, the data in base64."""
    return f"b{kind}" + b64encode(data).decode("ascii")


def decode_packet(data: str | bytes) -> Packet:
    """Decode one v3 packet: a text packet, ``b<type><base64>``, or type byte + bytes."""
    if not isinstance(data, str):
        if not data:
            raise ProtocolError("empty packet")
        kind = data[0]
        if kind > 6:
            raise ProtocolError(f"unknown packet type {kind}")
        return kind, bytes(data[1:])
    if not data:
        raise ProtocolError("empty packet")
    first = data[0]
    if first == "b":
        found = _TYPES.get(data[1:2])
        if found is None:
            raise ProtocolError("unknown packet type in base64 packet")
        try:
            return found, b64decode(data[2:], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("invalid base64 in binary packet") from exc
    found = _TYPES.get(first)
    if found is None:
        raise ProtocolError(f"unknown packet type {first!r}")
    return found, data[1:]


# ---------------------------------------------------------------------------------- lengths
def js_length(text: str) -> int:
    """``text.length`` in JavaScript: UTF-16 code units (two for a character past U+FFFF)."""
    if text.isascii():
        return len(text)
    return len(text) + len(_ASTRAL.findall(text))


def _to_units(text: str) -> str:
    """The text with each character past U+FFFF split into its two surrogates, so that
    indexes and slices count UTF-16 code units, as JavaScript's do."""

    def pair(match: re.Match[str]) -> str:
        value = ord(match.group()) - 0x10000
        return chr(0xD800 + (value >> 10)) + chr(0xDC00 + (value & 0x3FF))

    return _ASTRAL.sub(pair, text)


def _from_units(text: str) -> str:
    """Join surrogate pairs back into characters (a lone surrogate stays, as in JavaScript)."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _utf8(text: str) -> bytes:
    """UTF-8 as Node's v3 encoder writes it: a lone surrogate as U+FFFD."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", _from_units(text)).encode()


def _length(digits: str) -> int:
    if not digits or len(digits) > _MAX_LENGTH_DIGITS or not digits.isascii():
        raise ProtocolError("invalid packet length")
    if not digits.isdigit():
        raise ProtocolError("invalid packet length")
    return int(digits)


# ---------------------------------------------------------------------------------- payloads
def encode_payload_text(packets: Sequence[str | bytes]) -> str:
    """A text payload: ``<length>:<packet>`` each; binary messages in their base64 form."""
    if not packets:
        return "0:"
    parts = []
    for packet in packets:
        text = packet if isinstance(packet, str) else encode_base64(packet)
        parts.append(f"{js_length(text)}:{text}")
    return "".join(parts)


def encode_payload_binary(packets: Sequence[str | bytes]) -> bytes:
    """A binary payload (``application/octet-stream``); ``bytes`` are binary messages."""
    out = bytearray()
    for packet in packets:
        if isinstance(packet, str):
            body = _utf8(packet)
            out.append(0)
        else:
            body = encode_binary(packet)
            out.append(1)
        out += bytes(int(d) for d in str(len(body)))
        out.append(255)
        out += body
    return bytes(out)


def encode_payload(packets: Sequence[str | bytes], *, binary: bool) -> tuple[bytes, bool]:
    """The body of a long-polling answer and whether it is binary: binary when the client
    takes binary (``binary``, no ``b64``) and a packet is binary, else text."""
    if binary and any(not isinstance(p, str) for p in packets):
        return encode_payload_binary(packets), True
    return encode_payload_text(packets).encode(), False


def decode_payload(payload: str) -> list[Packet]:
    """Split a text payload into packets (empty packets, ``0:``, are skipped)."""
    if not payload:
        raise ProtocolError("empty payload")
    text = payload if payload.isascii() or max(payload) <= "\uffff" else _to_units(payload)
    end = len(text)
    packets: list[Packet] = []
    i = 0
    while i < end:
        colon = text.find(":", i)
        if colon < 0:
            raise ProtocolError("payload without a packet length")
        start = colon + 1
        stop = start + _length(text[i:colon])
        if stop > end:
            raise ProtocolError("packet length beyond the payload")
        if stop > start:
            packets.append(decode_packet(_from_units(text[start:stop])))
        i = stop
    return packets


def decode_payload_binary(payload: bytes) -> list[Packet]:
    """Split a binary payload (a POST with ``Content-Type: application/octet-stream``)."""
    if not payload:
        raise ProtocolError("empty payload")
    end = len(payload)
    packets: list[Packet] = []
    i = 0
    while i < end:
        marker = payload[i]
        if marker > 1:
            raise ProtocolError("invalid packet marker in binary payload")
        stop_digits = payload.find(255, i + 1)
        if stop_digits < 0:
            raise ProtocolError("binary payload without a packet length")
        digits = payload[i + 1 : stop_digits]
        if any(d > 9 for d in digits):
            raise ProtocolError("invalid packet length")
        start = stop_digits + 1
        stop = start + _length("".join(map(str, digits)))
        if stop > end:
            raise ProtocolError("packet length beyond the payload")
        body = payload[start:stop]
        if marker == 0:
            try:
                text = body.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError as exc:
                raise ProtocolError("invalid UTF-8 in binary payload") from exc
            packets.append(decode_packet(_from_units(text)))
        else:
            packets.append(decode_packet(body))
        i = stop
    return packets
