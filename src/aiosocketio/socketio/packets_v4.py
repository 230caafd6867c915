"""Socket.IO protocol v4 (socket.io-client 2.x, over Engine.IO v3): what differs from v5.

The packets are written and read as in v5 (:mod:`aiosocketio.socketio.packets`); the rules
around them differ:

- the client is connected to the main namespace ``/`` without asking (no CONNECT from it);
- a CONNECT carries no payload: the client's query comes in the namespace itself
  (``40/chat?token=abc,``); as socket.io 4.8 does, the server reads every packet's namespace
  as a URL path (``new URL(nsp, "https://socket.io").pathname``) and a CONNECT's query as
  the ``auth`` object;
- the server's CONNECT reply has no payload (``40``, ``40/chat,``);
- a refusal by middleware is ``44<nsp,>`` followed by the error's data (when it is truthy,
  in JavaScript's sense) or its message, as JSON.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import parse_qsl

from ..errors import ProtocolError
from .packets import CONNECT, Packet
from .parser import Decoder

__all__ = ["DecoderV4", "refusal_payload", "split_namespace"]

# a namespace whose URL path is itself: no query, no dot segment, nothing to escape
_PLAIN = re.compile(r"/(?!/)[A-Za-z0-9_\-.~!$&'()*+,;=:@|^\[\]/]*")
_STRIP = "".join(map(chr, range(0x21)))  # what URL parsing trims: C0 controls and space
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")
_HOST = re.compile(r"(?:[^@/]*@)?[A-Za-z0-9.\-]+(?::[0-9]*)?")  # [user@]host[:port]
# characters a URL path keeps as they are; any other is percent-encoded (UTF-8)
_PATH_KEEPS = frozenset(
    chr(c) for c in range(0x21, 0x7F) if chr(c) not in ('"', "#", "<", ">", "?", "`", "{", "}")
)
_SINGLE_DOT = frozenset((".", "%2e"))
_DOUBLE_DOT = frozenset(("..", ".%2e", "%2e.", "%2e%2e"))


def split_namespace(nsp: str) -> tuple[str, dict[str, str]]:
    """A packet's namespace as socket.io 4.8 reads it from a v4 client: the path (as
    ``URL.pathname`` normalises it) and the query's parameters (the last of a repeated name
    wins). Raises ProtocolError where ``new URL()`` throws."""
    if _PLAIN.fullmatch(nsp) and "/." not in nsp:
        return nsp, {}
    text = nsp.strip(_STRIP).translate(_TAB_OR_NEWLINE).partition("#")[0]
    path, _, query = text.partition("?")
    path = path.replace("\\", "/")
    if path.startswith("//"):  # an authority ("//host/path"): the path is what follows it
        end = path.find("/", 2)
        host = path[2:] if end < 0 else path[2:end]
        if not _HOST.fullmatch(host):
            raise ProtocolError("invalid namespace")
        path = "/" if end < 0 else path[end:]
    return _normalise_path(path), dict(parse_qsl(query, keep_blank_values=True))


def _normalise_path(path: str) -> str:
    segments: list[str] = []
    parts = path[1:].split("/")
    for index, raw in enumerate(parts):
        segment = _escape(raw)
        last = index == len(parts) - 1
        lowered = segment.lower()
        if lowered in _DOUBLE_DOT:
            if segments:
                segments.pop()
            if last:
                segments.append("")
        elif lowered in _SINGLE_DOT:
            if last:
                segments.append("")
        else:
            segments.append(segment)
    return "/" + "/".join(segments)


def _escape(segment: str) -> str:
    if all(c in _PATH_KEEPS for c in segment):
        return segment
    out = []
    for c in segment:
        if c in _PATH_KEEPS:
            out.append(c)
        else:
            if "\ud800" <= c <= "\udfff":
                c = "\ufffd"  # a lone surrogate, as a USVString has it
            out.append("".join(f"%{b:02X}" for b in c.encode()))
    return "".join(out)


def refusal_payload(message: str, data: Any = None) -> Any:
    """The payload of a CONNECT_ERROR for a refused v4 client (Node: ``err.data ||
    err.message``)."""
    return data if _truthy(data) else message


def _truthy(value: Any) -> bool:
    """JavaScript's truthiness of a value decoded from JSON: objects and arrays are true."""
    if value is None or value is False or value == "":
        return False
    if type(value) is int:
        return value != 0
    if type(value) is float:
        return value != 0 and not math.isnan(value)
    return True


class DecoderV4:
    """A decoder of a v4 client: packets as the wrapped decoder reads them, with their
    namespace read as a URL (:func:`split_namespace`) and a CONNECT's data replaced by the
    query (the ``auth`` of the socket)."""

    __slots__ = ("_decoder",)

    def __init__(self, decoder: Decoder) -> None:
        self._decoder = decoder

    def decode_text(self, text: str) -> Packet | None:
        return self._convert(self._decoder.decode_text(text))

    def decode_binary(self, data: bytes) -> Packet | None:
        return self._convert(self._decoder.decode_binary(data))

    @staticmethod
    def _convert(packet: Packet | None) -> Packet | None:
        if packet is None:
            return None
        nsp = packet.nsp
        if nsp != "/":
            packet.nsp, query = split_namespace(nsp)
        else:
            query = {}
        if packet.type == CONNECT:
            packet.data = query
        return packet
