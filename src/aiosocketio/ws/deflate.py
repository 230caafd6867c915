"""permessage-deflate (RFC 7692): negotiation and per-connection compression, sans-I/O."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from ..errors import PayloadTooLarge, ProtocolError

__all__ = [
    "Deflate",
    "DeflateParams",
    "client_offer",
    "negotiate_client",
    "negotiate_server",
    "parse_extensions",
]

EXTENSION = "permessage-deflate"

_TAIL = b"\x00\x00\xff\xff"

# One lexical item of a Sec-WebSocket-Extensions value: a token, a quoted string, a
# separator, or (last group) any other character, which makes the element malformed.
_LEXER = re.compile(
    r"""[ \t]*(?:([!#$%&'*+\-.^_`|~0-9A-Za-z]+)|"((?:[^"\\]|\\.)*)"|([,;=])|([^ \t]))""",
    re.DOTALL,
)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_WINDOW_BITS = re.compile(r"[89]|1[0-5]")

Params = list[tuple[str, str | None]]


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """Negotiated permessage-deflate parameters (window bits are 8..15)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15

    def __post_init__(self) -> None:
        for bits in (self.server_max_window_bits, self.client_max_window_bits):
            if not 8 <= bits <= 15:
                raise ValueError(f"window bits must be 8..15, not {bits}")


def parse_extensions(header: str) -> list[tuple[str, Params] | None]:
    """Split a Sec-WebSocket-Extensions value into ``(name, [(param, value or None)])``.

    Names are lower-cased and quoted values unescaped. A malformed list element gives None
    in its place; empty elements are skipped.
    """
    elements: list[list[tuple[int, str]]] = [[]]
    pos = 0
    end = len(header)
    while pos < end:
        match = _LEXER.match(header, pos)
        if match is None:  # only blanks are left
            break
        pos = match.end()
        token, quoted, sep, other = match.groups()
        if sep == ",":
            elements.append([])
        elif token is not None:
            elements[-1].append((0, token))
        elif quoted is not None:
            elements[-1].append((1, _UNESCAPE.sub(r"\1", quoted)))
        elif sep is not None:
            elements[-1].append((2, sep))
        else:
            elements[-1].append((3, other))
    return [_parse_element(items) for items in elements if items]


def _parse_element(items: list[tuple[int, str]]) -> tuple[str, Params] | None:
    # element = token *( ";" token [ "=" ( token / quoted-string ) ] )
    kind, name = items[0]
    if kind != 0:
        return None
    params: Params = []
    i = 1
    count = len(items)
    while i < count:
        if items[i] != (2, ";") or i + 1 >= count or items[i + 1][0] != 0:
            return None
        key = items[i + 1][1].lower()
        i += 2
        value: str | None = None
        if i < count and items[i] == (2, "="):
            if i + 1 >= count or items[i + 1][0] not in (0, 1):
                return None
            value = items[i + 1][1]
            if not _TOKEN.fullmatch(value):  # a quoted value must still be a token
                return None
            i += 2
        params.append((key, value))
    return name.lower(), params


def _read_params(params: Params) -> dict[str, str | None] | None:
    """Check permessage-deflate parameters; None when one is unknown, repeated or bad."""
    found: dict[str, str | None] = {}
    for key, value in params:
        if key in found:
            return None
        if key in ("server_no_context_takeover", "client_no_context_takeover"):
            if value is not None:
                return None
        elif key == "server_max_window_bits":
            if value is None or not _WINDOW_BITS.fullmatch(value):
                return None
        elif key == "client_max_window_bits":
            if value is not None and not _WINDOW_BITS.fullmatch(value):
                return None
        else:
            return None
        found[key] = value
    return found


def negotiate_server(
    offer: str | None, *, enabled: bool = True
) -> tuple[str | None, DeflateParams | None]:
    """Answer a client's Sec-WebSocket-Extensions header.

    Accepts the first valid permessage-deflate offer and returns the response header value
    and the parameters, or ``(None, None)`` when there is nothing to accept.
    """
    if not enabled or not offer:
        return None, None
    for element in parse_extensions(offer):
        if element is None or element[0] != EXTENSION:
            continue
        found = _read_params(element[1])
        if found is None:
            continue
        response = [EXTENSION]
        server_nct = "server_no_context_takeover" in found
        client_nct = "client_no_context_takeover" in found
        if server_nct:
            response.append("server_no_context_takeover")
        if client_nct:
            response.append("client_no_context_takeover")
        server_bits = 15
        value = found.get("server_max_window_bits")
        if value is not None:
            server_bits = int(value)
            response.append(f"server_max_window_bits={server_bits}")
        # client_max_window_bits is left out of the answer: the client may then use any
        # window, and this side always inflates with a 32 KiB window.
        params = DeflateParams(
            server_no_context_takeover=server_nct,
            client_no_context_takeover=client_nct,
            server_max_window_bits=server_bits,
        )
        return "; ".join(response), params
    return None, None


def client_offer() -> str:
    """The Sec-WebSocket-Extensions value a client sends."""
    return f"{EXTENSION}; client_max_window_bits"


def negotiate_client(response: str) -> DeflateParams:
    """Check a server's answer to :func:`client_offer`. Raises ProtocolError (1002)."""
    elements = parse_extensions(response)
    if len(elements) != 1 or elements[0] is None or elements[0][0] != EXTENSION:
        raise ProtocolError(f"unexpected extensions from the server: {response!r}")
    found = _read_params(elements[0][1])
    if found is None:
        raise ProtocolError(f"invalid permessage-deflate parameters: {response!r}")
    client_bits = 15
    if "client_max_window_bits" in found:
        value = found["client_max_window_bits"]
        if value is None:
            raise ProtocolError("client_max_window_bits without a value in the response")
        client_bits = int(value)
    server_bits = found.get("server_max_window_bits")
    return DeflateParams(
        server_no_context_takeover="server_no_context_takeover" in found,
        client_no_context_takeover="client_no_context_takeover" in found,
        server_max_window_bits=15 if server_bits is None else int(server_bits),
        client_max_window_bits=client_bits,
    )


class Deflate:
    """Compressor and decompressor of one side of a permessage-deflate connection."""

    __slots__ = ("_compressor", "_flush", "_inflater", "_peer_reset")

    def __init__(self, params: DeflateParams, *, client_side: bool, level: int = 6) -> None:
        if client_side:
            own_reset = params.client_no_context_takeover
            bits = params.client_max_window_bits
            self._peer_reset = params.server_no_context_takeover
        else:
            own_reset = params.server_no_context_takeover
            bits = params.server_max_window_bits
            self._peer_reset = params.client_no_context_takeover
        # A full flush ends each message with an empty window: no context takeover.
        self._flush = zlib.Z_FULL_FLUSH if own_reset else zlib.Z_SYNC_FLUSH
        if bits == 8:
            # zlib cannot deflate with a 256-byte window; Huffman-only output has no back
            # references at all, so it fits any window.
            self._compressor = zlib.compressobj(level, zlib.DEFLATED, -9, 8, zlib.Z_HUFFMAN_ONLY)
        else:
            self._compressor = zlib.compressobj(level, zlib.DEFLATED, -bits)
        self._inflater = zlib.decompressobj(-15)

    def compress(self, data: bytes) -> bytes:
        """Compress one message payload (the RSV1 frame payload, without 00 00 ff ff)."""
        compressor = self._compressor
        out = compressor.compress(data) + compressor.flush(self._flush)
        if out[-4:] == _TAIL:
            return out[:-4]
        return out

    def decompress(self, data: bytes, max_size: int) -> bytes:
        """Inflate one message payload; PayloadTooLarge beyond ``max_size`` bytes.

        Raises ProtocolError (1007) for corrupt data.
        """
        inflater = self._inflater
        try:
            out = inflater.decompress(data + _TAIL, max_size + 1)
        except zlib.error as exc:
            raise ProtocolError(f"invalid compressed data: {exc}", close_code=1007) from None
        if len(out) > max_size:
            raise PayloadTooLarge(f"decompressed message exceeds {max_size} bytes")
        if self._peer_reset or inflater.eof:
            self._inflater = zlib.decompressobj(-15)
        return out
