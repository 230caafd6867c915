"""Socket.IO v5 packets: ``<type>[<attachments>-][<nsp>,][<ack id>][<json>]``.

The encoder turns a packet into one text message followed by its binary attachments; the
decoder is stateful only while it waits for the attachments of a binary packet. Every rule
that protects a server from bad input is enforced here, so the I/O layers never see an
invalid packet: they see a ProtocolError.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from orjson import dumps as _orjson_dumps
from orjson import loads as _orjson_loads

from .. import _json
from .._json import ORJSON_OPTION, plain
from ..errors import PayloadTooLarge, ProtocolError

__all__ = [
    "ACK",
    "BINARY_ACK",
    "BINARY_EVENT",
    "CONNECT",
    "CONNECT_ERROR",
    "DISCONNECT",
    "EVENT",
    "RESERVED_EVENTS",
    "Decoder",
    "Packet",
    "encode",
    "encode_text",
    "has_binary",
    "valid_payload",
]

CONNECT = 0
DISCONNECT = 1
EVENT = 2
ACK = 3
CONNECT_ERROR = 4
BINARY_EVENT = 5
BINARY_ACK = 6

RESERVED_EVENTS = frozenset(
    ("connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener")
)

MAX_SAFE_INTEGER = 2**53 - 1
# Deepest nesting of arrays and objects a peer may send (ProtocolError beyond). orjson reads
# up to 1024 levels, but data much deeper than this cannot be written back (echoed,
# broadcast): encoding it would hit Python's recursion limit in the middle of a handler.
MAX_DEPTH = 256
_BINARY_TYPES = (bytes, bytearray, memoryview)


class Packet:
    """One decoded (or to be encoded) Socket.IO packet."""

    __slots__ = ("data", "id", "nsp", "type")

    def __init__(self, type: int, nsp: str = "/", data: Any = None, id: int | None = None) -> None:
        self.type = type
        self.nsp = nsp
        self.data = data
        self.id = id

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Packet):
            return NotImplemented
        return (self.type, self.nsp, self.data, self.id) == (
            other.type,
            other.nsp,
            other.data,
            other.id,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Packet(type={self.type}, nsp={self.nsp!r}, data={self.data!r}, id={self.id!r})"


# ---------------------------------------------------------------------------------- encoding


_SCALARS = frozenset((str, int, float, bool, type(None)))
_MAX_NODES = 1_000_000  # a guard against cyclic structures, which JSON cannot hold anyway


def has_binary(value: Any) -> bool:
    """True when value holds bytes, bytearray or memoryview anywhere inside."""
    if type(value) in _SCALARS:
        return False
    scalars = _SCALARS
    stack = [value]
    pop = stack.pop
    extend = stack.extend
    seen = 0
    while stack:
        item = pop()
        kind = type(item)
        if kind in scalars:
            continue
        seen += 1
        if seen > _MAX_NODES:
            raise ValueError("data too large or cyclic")
        if kind is dict:
            extend(item.values())
        elif kind is list or kind is tuple:
            extend(item)
        elif isinstance(item, _BINARY_TYPES):
            return True
        elif isinstance(item, dict):
            extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            extend(item)
        elif is_dataclass(item) and not isinstance(item, type):
            extend(getattr(item, field.name) for field in fields(item))
    return False


def _deconstruct(value: Any, buffers: list[bytes]) -> Any:
    if isinstance(value, _BINARY_TYPES):
        buffers.append(bytes(value))
        return {"_placeholder": True, "num": len(buffers) - 1}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_deconstruct(v, buffers) for v in value]
    if isinstance(value, dict):
        return {k: _deconstruct(v, buffers) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _deconstruct(getattr(value, f.name), buffers) for f in fields(value)}
    return value


def _header(kind: int, nsp: str, id: int | None, attachments: int = 0) -> str:
    if not attachments and (nsp == "/" or not nsp):  # the common case, in one step
        return str(kind) if id is None else f"{kind}{id}"
    head = str(kind)
    if attachments:
        head += f"{attachments}-"
    if nsp and nsp != "/":
        head += nsp + ","
    if id is not None:
        head += str(id)
    return head


def encode_text(kind: int, nsp: str, data: Any, id: int | None = None) -> str:
    """Encode a packet that holds no binary data into its text form."""
    head = _header(kind, nsp, id)
    if data is None:
        return head
    return head + _json.dumps(data)


def encode(kind: int, nsp: str, data: Any, id: int | None = None) -> list[str | bytes]:
    """Encode a packet: one text message, then one binary message per attachment.

    EVENT and ACK packets whose data holds binary become BINARY_EVENT / BINARY_ACK.
    """
    if kind in (EVENT, ACK):
        try:
            # the common case in one pass: orjson refuses bytes, so no binary walk first
            body: str | None = _orjson_dumps(data, plain, ORJSON_OPTION).decode()
        except TypeError:
            body = None
        if body is None:
            if has_binary(data):
                buffers: list[bytes] = []
                data = _deconstruct(data, buffers)
                kind = BINARY_EVENT if kind == EVENT else BINARY_ACK
                head = _header(kind, nsp, id, len(buffers))
                return [head + _json.dumps(data), *buffers]
            body = _json.dumps(data)  # what orjson refuses: big integers, non-string keys...
        if nsp == "/":
            return [f"{kind}{body}" if id is None else f"{kind}{id}{body}"]
        return [_header(kind, nsp, id) + body]
    return [encode_text(kind, nsp, data, id)]


# ---------------------------------------------------------------------------------- decoding


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def valid_payload(kind: int, data: Any) -> bool:
    """Whether data is a valid payload for a packet of this type (shared by every parser)."""
    return _valid_payload(kind, data)


def _valid_payload(kind: int, data: Any) -> bool:
    if kind in (EVENT, BINARY_EVENT):
        if type(data) is not list or not data:
            return False
        name = data[0]
        if type(name) is str:
            return name not in RESERVED_EVENTS
        return type(name) is int or type(name) is float
    if kind in (ACK, BINARY_ACK):
        return type(data) is list
    if kind == CONNECT:
        return _is_object(data)
    if kind == CONNECT_ERROR:
        return type(data) is str or _is_object(data)
    return False  # DISCONNECT carries no payload


class Decoder:
    """Turns Socket.IO messages into packets, reassembling binary attachments.

    Call :meth:`decode_text` for each text message and :meth:`decode_binary` for each binary
    message; each returns a finished Packet, or None while attachments are still missing.
    Any violation raises ProtocolError; the connection should then be closed.
    """

    __slots__ = ("_attachments", "_buffers", "_pending", "max_attachments")

    def __init__(self, max_attachments: int = 10) -> None:
        self.max_attachments = max_attachments
        self._pending: Packet | None = None
        self._attachments = 0
        self._buffers: list[bytes] = []

    @property
    def reconstructing(self) -> bool:
        return self._pending is not None

    def decode_text(self, text: str) -> Packet | None:
        if self._pending is not None:
            raise ProtocolError("got plaintext data when reconstructing a packet")
        kind = _FAST_KINDS.get(text[:1])
        if kind is not None:
            fast = _parse_fast(kind, text)
            if fast is not None:
                return fast
        packet, attachments = self._parse(text)
        if attachments:
            self._pending = packet
            self._attachments = attachments
            self._buffers = []
            return None
        return packet

    def decode_binary(self, data: bytes) -> Packet | None:
        packet = self._pending
        if packet is None:
            raise ProtocolError("got binary data when not reconstructing a packet")
        self._buffers.append(data)
        if len(self._buffers) < self._attachments:
            return None
        buffers = self._buffers
        self._pending = None
        self._buffers = []
        try:
            packet.data = _reconstruct(packet.data, buffers)
        except RecursionError as exc:
            raise ProtocolError("invalid payload") from exc
        return packet

    def _parse(self, text: str) -> tuple[Packet, int]:
        if not text:
            raise ProtocolError("empty packet")
        kind = ord(text[0]) - 48
        if kind < 0 or kind > 6:
            raise ProtocolError(f"unknown packet type {text[0]!r}")
        length = len(text)
        i = 1
        attachments = 0
        if kind in (BINARY_EVENT, BINARY_ACK):
            dash = text.find("-", 1)
            count = text[1:dash] if dash > 0 else ""
            if not count.isdigit() or not count.isascii() or len(count) > 6:
                raise ProtocolError("illegal attachments")
            attachments = int(count)
            if attachments < 1:
                raise ProtocolError("illegal attachments")
            if attachments > self.max_attachments:
                raise PayloadTooLarge(
                    f"too many attachments ({attachments} > {self.max_attachments})"
                )
            i = dash + 1
        nsp = "/"
        if i < length and text[i] == "/":
            comma = text.find(",", i)
            if comma < 0:
                nsp = text[i:]
                i = length
            else:
                nsp = text[i:comma]
                i = comma + 1
        id: int | None = None
        start = i
        while i < length and "0" <= text[i] <= "9":
            i += 1
        if i > start:
            if i - start > 16:
                raise ProtocolError("illegal ack id")
            id = int(text[start:i])
            if id > MAX_SAFE_INTEGER:
                raise ProtocolError("illegal ack id")
        data: Any = None
        if i < length:
            try:
                data = _orjson_loads(text[i:])
            except ValueError:
                try:  # what orjson refuses but JSON.parse reads (1e400, lone surrogates)
                    data = _json.loads(text[i:])
                except ValueError as exc:
                    raise ProtocolError("invalid payload") from exc
            if not _valid_payload(kind, data):
                raise ProtocolError("invalid payload")
            # only text with enough brackets can be too deep: a short payload cannot be, a
            # longer one pays two counts
            if (
                length - i > MAX_DEPTH
                and text.count("[", i) + text.count("{", i) > MAX_DEPTH
                and _too_deep(data)
            ):
                raise ProtocolError("payload nested too deeply")
        elif kind in (EVENT, BINARY_EVENT, ACK, BINARY_ACK):
            raise ProtocolError("invalid payload")
        return Packet(kind, nsp, data, id), attachments


_FAST_KINDS = {"2": EVENT, "3": ACK}


def _parse_fast(kind: int, text: str) -> Packet | None:
    """An EVENT or ACK of the main namespace with a short array payload (``2["x",1]``,
    ``312[{"a":1}]``): the hot path in one slice, one int and one JSON call. Anything else,
    valid or not, returns None for the general parser (which raises the errors)."""
    start = text.find("[", 1)
    if start < 0 or start > 17 or len(text) - start > MAX_DEPTH:
        return None  # a namespace, a long ack id, or a payload that may nest deeply
    id: int | None = None
    if start > 1:
        head = text[1:start]
        if not head.isdigit() or not head.isascii():
            return None
        id = int(head)
        if id > MAX_SAFE_INTEGER:
            return None
    try:
        data = _orjson_loads(text[start:])
    except ValueError:
        return None
    if type(data) is not list or (kind == EVENT and not _valid_payload(kind, data)):
        return None
    return Packet(kind, "/", data, id)


def _too_deep(value: Any) -> bool:
    """Whether arrays and objects nest deeper than MAX_DEPTH in a decoded value."""
    level: list[Any] = [value] if type(value) is list or type(value) is dict else []
    for _ in range(MAX_DEPTH):  # one level at a time: comprehensions run at C speed
        level = [
            child
            for item in level
            for child in (item if type(item) is list else item.values())
            if type(child) is list or type(child) is dict
        ]
        if not level:
            return False
    return True


def _reconstruct(value: Any, buffers: list[bytes]) -> Any:
    if type(value) is list:
        return [_reconstruct(v, buffers) for v in value]
    if type(value) is dict:
        if value.get("_placeholder") is True:
            num = value.get("num")
            if type(num) is not int or not 0 <= num < len(buffers):
                raise ProtocolError("illegal attachments")
            return buffers[num]
        return {k: _reconstruct(v, buffers) for k, v in value.items()}
    return value
