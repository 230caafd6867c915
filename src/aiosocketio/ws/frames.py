"""WebSocket framing (RFC 6455 section 5), sans-I/O.

Building frames: :func:`encode_frame` is the general encoder; :func:`text_frame` and
:func:`binary_frame` are the server hot path (unmasked, FIN set, one concatenation).

Parsing frames: :class:`FrameParser` takes the bytes received from one peer and returns the
finished messages as ``(opcode, payload)`` tuples: TEXT gives ``str``, every other opcode
``bytes``. Fragmented messages are reassembled, control frames are returned as soon as they
arrive, and permessage-deflate (RFC 7692) messages are decompressed when a
:class:`~aiosocketio.ws.deflate.Deflate` is given.
"""

from __future__ import annotations

import importlib
import os
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import PayloadTooLarge, ProtocolError

if TYPE_CHECKING:
    from .deflate import Deflate

__all__ = [
    "BINARY",
    "CLOSE",
    "CONT",
    "PING",
    "PONG",
    "TEXT",
    "FrameParser",
    "Message",
    "apply_mask",
    "binary_frame",
    "close_frame",
    "encode_frame",
    "frame_header",
    "masked_frame",
    "next_mask",
    "parse_close",
    "ping_frame",
    "pong_frame",
    "text_frame",
]

CONT = 0
TEXT = 1
BINARY = 2
CLOSE = 8
PING = 9
PONG = 10

Message = tuple[int, bytes | str]
"""A finished message: ``(opcode, payload)``; payload is ``str`` for TEXT, else ``bytes``."""

_OPCODES = frozenset((CONT, TEXT, BINARY, CLOSE, PING, PONG))

_U16 = struct.Struct("!H").unpack_from
_U64 = struct.Struct("!Q").unpack_from
_U32_LE = struct.Struct("<I").unpack_from
_PACK_CODE = struct.Struct("!H").pack
_PACK_16 = struct.Struct("!BBH").pack
_PACK_64 = struct.Struct("!BBQ").pack

_ZERO_MASK = b"\x00\x00\x00\x00"

# Ready-made two-byte headers of unmasked final frames with a 7-bit length.
_TEXT_HEADERS = tuple(bytes((0x80 | TEXT, n)) for n in range(126))
_BINARY_HEADERS = tuple(bytes((0x80 | BINARY, n)) for n in range(126))

# Unmasking a short payload: the 4-byte mask read as a little-endian integer, multiplied by
# _REPEAT[n], repeats it over ceil(n / 4) words; "& _LOW[n]" cuts it down to n bytes.
_TABLE_SIZE = 256
_REPEAT = tuple(sum(1 << (32 * i) for i in range((n + 3) >> 2)) for n in range(_TABLE_SIZE))
_LOW = tuple((1 << (8 * n)) - 1 for n in range(_TABLE_SIZE))

# From this length on, masking 4 strided slices with bytes.translate beats the big integer.
_TRANSLATE_FROM = 4096
_IDENTITY = int.from_bytes(bytes(range(256)), "little")
_XOR_TABLES = tuple(
    (_IDENTITY ^ int.from_bytes(bytes((k,)) * 256, "little")).to_bytes(256, "little")
    for k in range(256)
)

# An unfinished frame that needs this many bytes or more is kept as a list of the reads, joined
# once complete; past _MAX_PARTS reads it moves to a bytearray accumulator.
_PARTS_FROM = 16384
_MAX_PARTS = 64

# Close codes a peer may send (RFC 6455 section 7.4 and the IANA registry).
_VALID_CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, *range(1007, 1015)))


_c_apply_mask: Callable[[bytes | memoryview, bytes | memoryview], bytes] | None
_c_masked_frame: Callable[[int, bytes, bytes], bytes] | None
try:
    # a C extension module that imports nothing; loaded by name because static import
    # checkers cannot see inside it and would take it for the parent package
    _speedups = importlib.import_module(f"{__package__}._speedups")
    _c_apply_mask = _speedups.apply_mask
    _c_masked_frame = getattr(_speedups, "masked_frame", None)  # None: an older build
except ImportError:  # built without a C compiler
    _c_apply_mask = None
    _c_masked_frame = None

# Masks are cut from one block of random bytes, refilled when used up: one os.urandom call
# per 2048 frames instead of one per frame (ws does the same with crypto.randomFillSync).
_MASK_POOL_SIZE = 8192
_mask_pool = b""
_mask_pos = _MASK_POOL_SIZE


def _valid_close_code(code: int) -> bool:
    return code in _VALID_CLOSE_CODES or 3000 <= code <= 4999


def _mask_int(data: bytes, mask: bytes) -> bytes:
    n = len(data)
    key = int.from_bytes((mask * ((n >> 2) + 1))[:n], "little")
    return (int.from_bytes(data, "little") ^ key).to_bytes(n, "little")


def _mask_translate(data: bytes, mask: bytes) -> bytes:
    out = bytearray(data)
    tables = _XOR_TABLES
    out[0::4] = data[0::4].translate(tables[mask[0]])
    out[1::4] = data[1::4].translate(tables[mask[1]])
    out[2::4] = data[2::4].translate(tables[mask[2]])
    out[3::4] = data[3::4].translate(tables[mask[3]])
    return bytes(out)


def apply_mask(data: bytes, mask: bytes) -> bytes:
    """XOR ``data`` with the repeated 4-byte ``mask`` (masking and unmasking are the same).

    An all-zero mask returns ``data`` itself. The C accelerator (``aiosocketio.ws._speedups``)
    does the rest when it is built; in pure Python, short payloads go through one big integer
    XOR and from 4 KiB on four strided ``bytes.translate`` calls are faster.
    """
    if _c_apply_mask is not None:
        if mask == _ZERO_MASK:
            return data
        return _c_apply_mask(data, mask)
    return _py_apply_mask(data, mask)


def _py_apply_mask(data: bytes, mask: bytes) -> bytes:
    if len(mask) != 4:
        raise ValueError("a WebSocket mask is exactly 4 bytes")
    if mask == _ZERO_MASK:
        return data
    n = len(data)
    if n < _TABLE_SIZE:
        key = int.from_bytes(mask, "little") * _REPEAT[n] & _LOW[n]
        return (int.from_bytes(data, "little") ^ key).to_bytes(n, "little")
    if n < _TRANSLATE_FROM:
        return _mask_int(data, mask)
    return _mask_translate(bytes(data), mask)


def encode_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask: bytes | None = None,
) -> bytes:
    """Build one complete frame. With ``mask`` (4 bytes, client side) the payload is masked.

    Raises ValueError for an unknown opcode, a bad mask, or a control frame that is
    fragmented, compressed or longer than 125 bytes.
    """
    if opcode not in _OPCODES:
        raise ValueError(f"invalid opcode {opcode}")
    n = len(payload)
    if opcode >= CLOSE and (n > 125 or not fin or rsv1):
        raise ValueError("control frames are final, uncompressed and at most 125 bytes")
    b0 = opcode | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    bit = 0
    if mask is not None:
        if len(mask) != 4:
            raise ValueError("a WebSocket mask is exactly 4 bytes")
        bit = 0x80
        payload = apply_mask(bytes(payload), mask)
    if n < 126:
        header = bytes((b0, bit | n))
    elif n < 0x10000:
        header = _PACK_16(b0, bit | 126, n)
    else:
        header = _PACK_64(b0, bit | 127, n)
    if mask is not None:
        return header + mask + payload
    return header + payload


def next_mask() -> bytes:
    """A fresh 4-byte mask from the operating system's random source (RFC 6455 5.3)."""
    global _mask_pool, _mask_pos
    pos = _mask_pos
    if pos >= _MASK_POOL_SIZE:
        _mask_pool = os.urandom(_MASK_POOL_SIZE)
        pos = 0
    _mask_pos = pos + 4
    return _mask_pool[pos : pos + 4]


def _py_masked_frame(first_byte: int, payload: bytes, mask: bytes) -> bytes:
    if len(mask) != 4 or not 0 <= first_byte <= 255:
        raise ValueError("a 4-byte mask and a first byte 0-255 are required")
    n = len(payload)
    if n < 126:
        header = bytes((first_byte, 0x80 | n))
    elif n < 0x10000:
        header = _PACK_16(first_byte, 0xFE, n)
    else:
        header = _PACK_64(first_byte, 0xFF, n)
    return header + mask + _py_apply_mask(payload, mask)


masked_frame: Callable[[int, bytes, bytes], bytes] = _c_masked_frame or _py_masked_frame
"""``masked_frame(first_byte, payload, mask)``: a masked frame (client to server) in one
piece; ``first_byte`` holds FIN, RSV1 and the opcode (0x81: a final TEXT frame). No check of
the opcode: the client hot path builds only TEXT and BINARY frames this way."""


def text_frame(data: str) -> bytes:
    """An unmasked final TEXT frame (server to client)."""
    payload = data.encode()
    n = len(payload)
    if n < 126:
        return _TEXT_HEADERS[n] + payload
    if n < 0x10000:
        return _PACK_16(0x81, 126, n) + payload
    return _PACK_64(0x81, 127, n) + payload


def frame_header(opcode: int, length: int) -> bytes:
    """The header of an unmasked final frame, for writing a big payload without copying it."""
    b0 = 0x80 | opcode
    if length < 126:
        return bytes((b0, length))
    if length < 0x10000:
        return _PACK_16(b0, 126, length)
    return _PACK_64(b0, 127, length)


def binary_frame(data: bytes) -> bytes:
    """An unmasked final BINARY frame (server to client)."""
    n = len(data)
    if n < 126:
        return _BINARY_HEADERS[n] + data
    if n < 0x10000:
        return _PACK_16(0x82, 126, n) + data
    return _PACK_64(0x82, 127, n) + data


def close_frame(code: int = 1000, reason: str = "", mask: bytes | None = None) -> bytes:
    """A CLOSE frame. Code 1005 ("no status") sends an empty payload.

    The reason is cut to the 123 bytes that fit, on a character boundary. Raises ValueError
    for a code that may not be sent.
    """
    if code == 1005:
        return encode_frame(CLOSE, b"", mask=mask)
    if not _valid_close_code(code):
        raise ValueError(f"close code {code} may not be sent")
    raw = reason.encode()
    if len(raw) > 123:
        raw = raw[:123].decode(errors="ignore").encode()
    return encode_frame(CLOSE, _PACK_CODE(code) + raw, mask=mask)


def ping_frame(payload: bytes = b"", mask: bytes | None = None) -> bytes:
    """A PING frame (payload at most 125 bytes)."""
    return encode_frame(PING, payload, mask=mask)


def pong_frame(payload: bytes = b"", mask: bytes | None = None) -> bytes:
    """A PONG frame (payload at most 125 bytes)."""
    return encode_frame(PONG, payload, mask=mask)


def parse_close(payload: bytes) -> tuple[int, str]:
    """Read a CLOSE payload as ``(code, reason)``; an empty payload gives ``(1005, "")``.

    Raises ProtocolError: close code 1002 for a 1-byte payload or a code a peer may not
    send, 1007 for a reason that is not UTF-8.
    """
    if not payload:
        return 1005, ""
    if len(payload) < 2:
        raise ProtocolError("close payload of 1 byte", close_code=1002)
    code = (payload[0] << 8) | payload[1]
    if not _valid_close_code(code):
        raise ProtocolError(f"invalid close code {code}", close_code=1002)
    try:
        reason = payload[2:].decode()
    except UnicodeDecodeError:
        raise ProtocolError("close reason is not UTF-8", close_code=1007) from None
    return code, reason


def _fail(message: str) -> ProtocolError:
    return ProtocolError(message, close_code=1002)


class FrameParser:
    """Incremental parser of the frames received by one side of a connection.

    ``feed(data)`` returns the messages completed by ``data``. The server side
    (``client_side=False``) requires every frame to be masked, the client side requires
    unmasked frames. A message longer than ``max_message_size`` (after reassembly and
    decompression) raises PayloadTooLarge as soon as a frame header announces it.

    CLOSE payloads are returned raw; read them with :func:`parse_close`.

    Errors raise ProtocolError (or PayloadTooLarge) with the close code to send. Messages
    completed earlier in the same ``feed`` call are dropped, and the parser is then
    unusable: every later ``feed`` raises a new error of the same class and close code.
    """

    __slots__ = (
        "_buf",
        "_deflate",
        "_error",
        "_frag_compressed",
        "_frag_op",
        "_frag_parts",
        "_frag_size",
        "_have",
        "_masked",
        "_max_size",
        "_max_wire",
        "_need",
        "_parts",
    )

    def __init__(
        self,
        *,
        client_side: bool = False,
        max_message_size: int = 1_000_000,
        deflate: Deflate | None = None,
    ) -> None:
        self._masked = 0 if client_side else 0x80
        self._max_size = max_message_size
        # Compressed bytes of a message that fits may slightly exceed it (stored blocks).
        self._max_wire = max_message_size + (max_message_size >> 10) + 64
        self._deflate = deflate
        self._buf = bytearray()  # the start of an unfinished frame (small frames)
        self._parts: list[bytes | memoryview] = []  # the same for a big frame, unjoined
        self._have = 0  # bytes in _parts
        self._need = 0
        self._frag_op = 0
        self._frag_parts: list[bytes] = []
        self._frag_size = 0
        self._frag_compressed = False
        self._error: ProtocolError | None = None

    def feed(self, data: bytes) -> list[Message]:
        """Add received bytes; return the messages they complete, in order."""
        if self._error is not None:
            self._raise_again(self._error)
        buf = self._buf
        parts = self._parts
        if parts:
            # a big frame: keep the pieces and join them once (copying a growing buffer at
            # every read would copy its start again and again)
            parts.append(data if type(data) is bytes else bytes(data))
            self._have += len(data)
            if self._have < self._need:
                if len(parts) > _MAX_PARTS:  # many small reads: an accumulator is linear
                    self._buf = bytearray(b"".join(parts))
                    self._parts = []
                return []
            data = b"".join(parts)
            self._parts = []
        elif buf:
            buf += data
            if len(buf) < self._need:
                return []
            data = bytes(buf)
            self._buf = bytearray()
        elif type(data) is not bytes:
            data = bytes(data)
        try:
            return self._parse(data)
        except ProtocolError as exc:
            self._error = exc
            self._buf = bytearray()
            self._parts = []
            self._frag_parts = []
            raise

    def at_boundary(self) -> bool:
        """True between messages: nothing buffered, no fragmented message in progress, no
        error (bytes that hold exactly one whole frame may then be read without ``feed``)."""
        return not self._buf and not self._parts and not self._frag_op and self._error is None

    @staticmethod
    def _raise_again(error: ProtocolError) -> None:
        message = f"the parser failed earlier: {error}"
        if isinstance(error, PayloadTooLarge):
            raise PayloadTooLarge(message)
        raise ProtocolError(message, close_code=error.close_code)

    def _parse(self, data: bytes) -> list[Message]:
        out: list[Message] = []
        append = out.append
        from_bytes = int.from_bytes
        mask_key = _U32_LE
        repeat = _REPEAT
        low = _LOW
        masked = self._masked
        c_mask = _c_apply_mask
        view: memoryview | None = None
        header = 6 if masked else 2  # bytes before the payload with a 7-bit length
        max_size = self._max_size
        fragmented = self._frag_op
        n = len(data)
        pos = 0
        need = 0
        while True:
            avail = n - pos
            if avail < 2:
                need = 2
                break
            b0 = data[pos]
            b1 = data[pos + 1]
            if b1 & 0x80 != masked:
                raise _fail("unmasked client frame" if masked else "masked server frame")
            ln = b1 & 0x7F
            if ln < 126:
                start = pos + header
            elif ln == 126:
                if avail < 4:
                    need = 4
                    break
                ln = _U16(data, pos + 2)[0]
                start = pos + header + 2
            else:
                if avail < 10:
                    need = 10
                    break
                ln = _U64(data, pos + 2)[0]
                if ln >> 63:
                    raise _fail("64-bit frame length with the top bit set")
                start = pos + header + 8
            end = start + ln

            if (b0 == 0x81 or b0 == 0x82) and not fragmented:
                # Hot path: a complete, uncompressed text or binary message in one frame.
                if ln > max_size:
                    raise PayloadTooLarge(f"message of {ln} bytes exceeds {max_size}")
                if end > n:
                    need = end - pos
                    break
                if not masked:
                    payload = data[start:end]
                elif c_mask is not None:
                    if view is None:
                        view = memoryview(data)
                    payload = c_mask(view[start:end], view[start - 4 : start])
                elif ln < _TABLE_SIZE:
                    payload = (
                        from_bytes(data[start:end], "little")
                        ^ (mask_key(data, start - 4)[0] * repeat[ln] & low[ln])
                    ).to_bytes(ln, "little")
                elif ln < _TRANSLATE_FROM:
                    key = (data[start - 4 : start] * ((ln >> 2) + 1))[:ln]
                    payload = (
                        from_bytes(data[start:end], "little") ^ from_bytes(key, "little")
                    ).to_bytes(ln, "little")
                else:
                    payload = _mask_translate(data[start:end], data[start - 4 : start])
                pos = end
                if b0 == 0x81:
                    try:
                        append((TEXT, payload.decode()))
                    except UnicodeDecodeError:
                        raise ProtocolError(
                            "invalid UTF-8 in text message", close_code=1007
                        ) from None
                else:
                    append((BINARY, payload))
                continue

            opcode = b0 & 0x0F
            fin = b0 & 0x80
            rsv = b0 & 0x70
            if opcode >= CLOSE:
                if opcode > PONG:
                    raise _fail(f"reserved opcode {opcode}")
                if rsv:
                    raise _fail("reserved bits set on a control frame")
                if not fin:
                    raise _fail("fragmented control frame")
                if ln > 125:
                    raise _fail("control frame payload longer than 125 bytes")
                if end > n:
                    need = end - pos
                    break
                append((opcode, self._payload(data, start, end)))
            elif opcode == CONT:
                if not self._frag_op:
                    raise _fail("continuation frame without a message in progress")
                if rsv:
                    raise _fail("reserved bits set on a continuation frame")
                limit = self._max_wire if self._frag_compressed else max_size
                if self._frag_size + ln > limit:
                    raise PayloadTooLarge(f"message longer than {max_size} bytes")
                if end > n:
                    need = end - pos
                    break
                self._frag_parts.append(self._payload(data, start, end))
                self._frag_size += ln
                if fin:
                    opcode = self._frag_op
                    payload = b"".join(self._frag_parts)
                    self._frag_op = 0
                    self._frag_parts = []
                    self._frag_size = 0
                    append(self._message(opcode, payload, self._frag_compressed))
            elif opcode <= BINARY:
                if self._frag_op:
                    raise _fail("new message while a fragmented message is in progress")
                compressed = False
                if rsv:
                    if rsv != 0x40 or self._deflate is None:
                        raise _fail("reserved bits set without a negotiated extension")
                    compressed = True
                if ln > (self._max_wire if compressed else max_size):
                    raise PayloadTooLarge(f"message of {ln} bytes exceeds {max_size}")
                if end > n:
                    need = end - pos
                    break
                payload = self._payload(data, start, end)
                if fin:
                    append(self._message(opcode, payload, compressed))
                else:
                    self._frag_op = opcode
                    self._frag_parts = [payload]
                    self._frag_size = ln
                    self._frag_compressed = compressed
            else:
                raise _fail(f"reserved opcode {opcode}")
            fragmented = self._frag_op
            pos = end

        if pos < n:
            if need >= _PARTS_FROM:
                self._parts = [memoryview(data)[pos:] if pos else data]
                self._have = n - pos
            else:
                self._buf = bytearray(memoryview(data)[pos:])
            self._need = need
        return out

    def _payload(self, data: bytes, start: int, end: int) -> bytes:
        if self._masked:
            return _unmask(data[start:end], data[start - 4 : start])
        return data[start:end]

    def _message(self, opcode: int, payload: bytes, compressed: bool) -> Message:
        if compressed:
            assert self._deflate is not None
            payload = self._deflate.decompress(payload, self._max_size)
        if opcode == TEXT:
            try:
                return TEXT, payload.decode()
            except UnicodeDecodeError:
                raise ProtocolError("invalid UTF-8 in text message", close_code=1007) from None
        return opcode, payload


def _unmask(data: bytes, mask: bytes) -> bytes:
    if _c_apply_mask is not None:
        return _c_apply_mask(data, mask)
    if len(data) >= _TRANSLATE_FROM:
        return _mask_translate(data, mask)
    return _mask_int(data, mask)
