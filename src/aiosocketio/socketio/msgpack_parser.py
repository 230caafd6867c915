"""Socket.IO packets as MessagePack, byte-compatible with socket.io-msgpack-parser 3.0.2.

One packet is one MessagePack map ``{"type", "data", "nsp", "id"}`` sent as one binary
Engine.IO message: there are no BINARY_EVENT / BINARY_ACK packets and no attachments, bytes
are plain ``bin`` values inside the map. The Node package encodes with notepack.io 2.2, whose
mapping of JavaScript values this module follows in both directions:

====================  ==============================  ===============================
JavaScript            on the wire (notepack 2.2)      Python
====================  ==============================  ===============================
integral number       smallest int format             ``int``
other number          float 64                        ``float`` (always float 64)
string                fixstr / str 8 / 16 / 32        ``str``
Buffer                bin 8 / 16 / 32                 ``bytes`` (``bytearray`` and
                                                      ``memoryview`` are written too)
ArrayBuffer, views    ext 8 / 16 / 32 of type 0       read as ``bytes``
Date                  fixext 8 of type 0 (ms, int64)  aware ``datetime`` (naive = UTC)
undefined             fixext 1 of type 0              read as ``None``; a packet with no
                                                      data leaves the key out
null                  nil                             ``None``
other extensions      ``[type, Buffer]``              ``[type, bytes]`` (type -1, the
                                                      standard timestamp: ``datetime``)
====================  ==============================  ===============================

A Python float is always written as float 64 even when integral (notepack would write the JS
number 2 as an integer; both decode to the same JavaScript number), so floats stay floats
between Python peers. Map keys are written as they are (JavaScript reads them as strings).

The decoder is strict: it takes binary messages only, a map with an integer ``type`` from 0
to 4, a string ``nsp`` starting with ``/``, an optional safe-integer ``id`` and the payload
rules of the JSON parser (event names, reserved events, CONNECT data an object, ...); any
other input raises :class:`~aiosocketio.errors.ProtocolError`. Message size is bounded by
the transport; nesting is bounded at :data:`MAX_DEPTH` containers, and a declared length
larger than the rest of the message is refused before anything is allocated.

Decoding runs in msgpack's C extension. notepack writes ``undefined``, a ``Date`` and an
``ArrayBuffer`` as extensions of the same type 0, told apart only by their format byte (fixext
or ext 8), which msgpack does not report; a message where that matters and cannot be settled
from its bytes alone is decoded by a small exact decoder written in Python.
"""

from __future__ import annotations

import datetime as _dt
import importlib
from enum import Enum
from functools import partial
from struct import Struct
from typing import Any

from .._json import plain
from ..errors import ProtocolError
from .packets import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    MAX_SAFE_INTEGER,
    Packet,
    valid_payload,
)

__all__ = ["MAX_DEPTH", "MsgpackDecoder", "MsgpackParser"]

MAX_DEPTH = 1024
"""The deepest nesting of arrays and maps a decoder accepts (msgpack's own limit)."""

_UTC = _dt.UTC
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)
_MILLISECOND = _dt.timedelta(milliseconds=1)
_INT64 = Struct(">q")


def _load_msgpack() -> Any:
    try:
        return importlib.import_module("msgpack")
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "MsgpackParser needs the msgpack package: pip install 'aiosocketio[msgpack]'"
        ) from exc


# ---------------------------------------------------------------------------------- encoding


def _date_ext(msgpack: Any, value: _dt.datetime) -> Any:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    # notepack 2.2 writes a Date as fixext 8 of type 0: milliseconds since the epoch, int64
    return msgpack.ExtType(0, _INT64.pack((value - _EPOCH) // _MILLISECOND))


class MsgpackParser:
    """The parser of socket.io-msgpack-parser 3.0.2: ``Server(parser=MsgpackParser())``.

    The same instance can serve any number of connections (it holds no state); each
    connection gets its own :meth:`decoder`.
    """

    __slots__ = ("_msgpack", "_packb")

    def __init__(self) -> None:
        msgpack = _load_msgpack()
        self._msgpack = msgpack
        self._packb = msgpack.packb

    def encode(self, kind: int, nsp: str, data: Any, id: int | None = None) -> list[str | bytes]:
        """The one binary message of a packet.

        Raises TypeError for a value MessagePack cannot hold (an unknown type, an integer
        beyond 64 bits) and ValueError for one nested too deeply.
        """
        if kind == BINARY_EVENT:
            kind = EVENT
        elif kind == BINARY_ACK:
            kind = ACK
        packet: dict[str, Any] = {"type": kind}
        if data is not None:  # JavaScript's undefined: the key is left out
            packet["data"] = data
        packet["nsp"] = nsp or "/"
        if id is not None:
            packet["id"] = id
        message: bytes = self._packb(packet, use_bin_type=True, default=self._default)
        return [message]

    def _default(self, value: Any) -> Any:
        if isinstance(value, _dt.datetime):
            return _date_ext(self._msgpack, value)
        if isinstance(value, int) and not isinstance(value, Enum):
            # msgpack hands over the integers it cannot write
            raise TypeError(f"integer {value} does not fit in MessagePack's 64 bits")
        try:
            return plain(value)  # as the JSON parser writes them (docs/json.md)
        except TypeError as exc:
            raise TypeError(str(exc).replace("JSON", "MessagePack")) from None

    def decoder(self) -> MsgpackDecoder:
        return MsgpackDecoder()


# ---------------------------------------------------------------------------------- decoding


class _Ambiguous(Exception):
    """An extension of type 0 whose meaning depends on a format byte msgpack hides."""


_AMBIGUOUS_SIZES = frozenset((1, 2, 4, 8, 16))  # the sizes a fixext can have


def _date(payload: bytes) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(milliseconds=_INT64.unpack(payload)[0])


def _ext_unsure(code: int, payload: bytes) -> Any:
    if code == 0:
        if len(payload) in _AMBIGUOUS_SIZES:
            raise _Ambiguous
        return bytes(payload)  # only ext 8/16/32 have other sizes: an ArrayBuffer
    return [code, bytes(payload)]


def _ext_fixed(code: int, payload: bytes) -> Any:
    """The message has no ext 8/16/32 format byte at all: every extension is a fixext."""
    if code == 0:
        size = len(payload)
        if size == 1:
            return None  # undefined
        if size == 8:
            return _date(payload)
    return [code, bytes(payload)]


def _ext_sized(code: int, payload: bytes) -> Any:
    """The message has no fixext format byte at all: every extension is an ext 8/16/32."""
    if code == 0:
        return bytes(payload)  # an ArrayBuffer
    return [code, bytes(payload)]


_UNDEFINED = object()
_ABSENT = object()
_OPTIONS: dict[str, Any] = {"raw": False, "strict_map_key": False, "timestamp": 3}


class MsgpackDecoder:
    """Turns binary messages into packets (one message, one packet: it keeps no state)."""

    __slots__ = ("_fast", "_msgpack", "_unpackb")

    def __init__(self) -> None:
        msgpack = _load_msgpack()
        self._msgpack = msgpack
        self._unpackb = unpackb = msgpack.unpackb
        self._fast = partial(unpackb, ext_hook=_ext_unsure, **_OPTIONS)

    def decode_text(self, text: str) -> Packet | None:
        raise ProtocolError("the msgpack parser takes binary messages only")

    def decode_binary(self, data: bytes) -> Packet | None:
        if type(data) is not bytes:
            data = bytes(data)
        value = self.unpack(data)
        if type(value) is not dict:
            raise ProtocolError("a packet must be a map")
        kind = _integer(value.get("type"))
        if kind is None or not CONNECT <= kind <= CONNECT_ERROR:
            raise ProtocolError("invalid packet type")
        nsp = value.get("nsp")
        if type(nsp) is not str or not nsp.startswith("/"):
            raise ProtocolError("invalid namespace")
        id = value.get("id")
        if id is not None:
            id = _integer(id)
            if id is None or not 0 <= id <= MAX_SAFE_INTEGER:
                raise ProtocolError("illegal ack id")
        payload = value.get("data", _ABSENT)
        if (
            payload is None
            and kind in (CONNECT, DISCONNECT)
            and _exact(data, self._msgpack, _UNDEFINED)["data"] is _UNDEFINED
        ):
            payload = _ABSENT  # undefined, not null
        if payload is _ABSENT:
            if kind not in (CONNECT, DISCONNECT):
                raise ProtocolError("invalid payload")
            payload = None
        elif not valid_payload(kind, payload):
            raise ProtocolError("invalid payload")
        return Packet(kind, nsp, payload, id)

    def unpack(self, data: bytes) -> Any:
        """One MessagePack value read as notepack 2.2 reads it; ProtocolError when malformed."""
        try:
            return self._fast(data)
        except _Ambiguous:
            pass
        except Exception as exc:
            raise ProtocolError(f"malformed MessagePack: {exc}") from exc
        if b"\xc7" not in data and b"\xc8" not in data and b"\xc9" not in data:
            hook = _ext_fixed
        elif all(bytes((b,)) not in data for b in range(0xD4, 0xD9)):
            hook = _ext_sized
        else:
            return _exact(data, self._msgpack)
        try:
            return self._unpackb(data, ext_hook=hook, **_OPTIONS)
        except Exception as exc:
            raise ProtocolError(f"malformed MessagePack: {exc}") from exc


def _integer(value: Any) -> int | None:
    """An integer as JavaScript's Number.isInteger sees it (2.0 is one, true is not)."""
    kind = type(value)
    if kind is int:
        return value  # type: ignore[no-any-return]
    if kind is float and value.is_integer():
        return int(value)
    return None


# ---------------------------------------------------------------------------------- exact path

_U8 = Struct(">B")
_U16 = Struct(">H")
_U32 = Struct(">I")
_U64 = Struct(">Q")
_I8 = Struct(">b")
_I16 = Struct(">h")
_I32 = Struct(">i")
_F32 = Struct(">f")
_F64 = Struct(">d")

# prefix -> (struct of the value, or of the length), for the fixed-width formats
_NUMBERS = {
    0xCA: _F32,
    0xCB: _F64,
    0xCC: _U8,
    0xCD: _U16,
    0xCE: _U32,
    0xCF: _U64,
    0xD0: _I8,
    0xD1: _I16,
    0xD2: _I32,
    0xD3: _INT64,
}
_STR = {0xD9: _U8, 0xDA: _U16, 0xDB: _U32}
_BIN = {0xC4: _U8, 0xC5: _U16, 0xC6: _U32}
_EXT = {0xC7: _U8, 0xC8: _U16, 0xC9: _U32}
_FIXEXT = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
_ARRAY = {0xDC: _U16, 0xDD: _U32}
_MAP = {0xDE: _U16, 0xDF: _U32}
_CONSTANTS = {0xC0: None, 0xC2: False, 0xC3: True}
_NO_KEY = object()


def _exact(data: bytes, msgpack: Any, undefined: Any = None) -> Any:
    """Decode knowing each extension's format byte, as notepack 2.2 does; no recursion."""
    try:
        return _exact_unchecked(data, msgpack, undefined)
    except ProtocolError:
        raise
    except Exception as exc:  # struct.error on truncation, UnicodeDecodeError, ...
        raise ProtocolError(f"malformed MessagePack: {exc}") from exc


def _exact_unchecked(buf: bytes, msgpack: Any, undefined: Any) -> Any:
    end = len(buf)
    pos = 0
    # one frame per open container: [container, items still expected, pending map key]
    stack: list[list[Any]] = []
    while True:
        if pos >= end:
            raise ProtocolError("truncated MessagePack")
        prefix = buf[pos]
        pos += 1
        value: Any
        count = -1  # the size of a container that opens here
        is_map = False
        if prefix < 0x80:
            value = prefix
        elif prefix < 0x90:
            count, is_map = prefix & 0x0F, True
        elif prefix < 0xA0:
            count = prefix & 0x0F
        elif prefix < 0xC0 or prefix in _STR:
            if prefix < 0xC0:
                size = prefix & 0x1F
            else:
                form = _STR[prefix]
                size = form.unpack_from(buf, pos)[0]
                pos += form.size
            if pos + size > end:
                raise ProtocolError("truncated MessagePack")
            value = buf[pos : pos + size].decode("utf-8")
            pos += size
        elif prefix >= 0xE0:
            value = prefix - 0x100
        elif prefix in _CONSTANTS:
            value = _CONSTANTS[prefix]
        elif prefix in _NUMBERS:
            form = _NUMBERS[prefix]
            value = form.unpack_from(buf, pos)[0]
            pos += form.size
        elif prefix in _BIN:
            form = _BIN[prefix]
            size = form.unpack_from(buf, pos)[0]
            pos += form.size
            if pos + size > end:
                raise ProtocolError("truncated MessagePack")
            value = buf[pos : pos + size]
            pos += size
        elif prefix in _FIXEXT or prefix in _EXT:
            fixed = prefix in _FIXEXT
            if fixed:
                size = _FIXEXT[prefix]
            else:
                form = _EXT[prefix]
                size = form.unpack_from(buf, pos)[0]
                pos += form.size
            code = _I8.unpack_from(buf, pos)[0]
            pos += 1
            if pos + size > end:
                raise ProtocolError("truncated MessagePack")
            payload = buf[pos : pos + size]
            pos += size
            if code == -1:
                value = msgpack.Timestamp.from_bytes(payload).to_datetime()
            elif code != 0:
                value = [code, payload]
            elif not fixed:
                value = payload  # an ArrayBuffer
            elif size == 1:
                value = undefined
            elif size == 8:
                value = _date(payload)
            else:
                value = [0, payload]
        elif prefix in _ARRAY:
            form = _ARRAY[prefix]
            count = form.unpack_from(buf, pos)[0]
            pos += form.size
        elif prefix in _MAP:
            form = _MAP[prefix]
            count, is_map = form.unpack_from(buf, pos)[0], True
            pos += form.size
        else:
            raise ProtocolError(f"invalid MessagePack byte 0x{prefix:02x}")

        if count >= 0:
            if len(stack) >= MAX_DEPTH:
                raise ProtocolError("MessagePack nested too deeply")
            if count * (2 if is_map else 1) > end - pos:  # each item takes a byte at least
                raise ProtocolError("truncated MessagePack")
            if count:
                stack.append([{} if is_map else [], count * 2 if is_map else count, _NO_KEY])
                continue
            value = {} if is_map else []

        # a value is complete: hand it to its container, closing the ones it completes
        while stack:
            frame = stack[-1]
            container = frame[0]
            if type(container) is list:
                container.append(value)
            elif frame[2] is _NO_KEY:
                frame[2] = value
            else:
                try:
                    container[frame[2]] = value
                except TypeError as exc:
                    raise ProtocolError("unhashable map key") from exc
                frame[2] = _NO_KEY
            frame[1] -= 1
            if frame[1]:
                break
            stack.pop()
            value = container
        else:
            if pos != end:
                raise ProtocolError(f"{end - pos} trailing bytes after MessagePack value")
            return value
