"""Fuzz target: the WebSocket frame parser (server and client side, with and without
permessage-deflate), close payloads, and the opening handshake checks.

    python fuzz/fuzz_ws_frames.py [libFuzzer options] [corpus dir]

Bytes fed to a FrameParser give messages or a ProtocolError carrying a close code that may be
sent, never another exception; after an error the parser keeps refusing; a message is never
longer than the limit; and how the bytes are split into reads changes nothing.
``tests/fuzz`` runs the same checks under hypothesis.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if (_FUZZ_DIR := str(Path(__file__).resolve().parent)) not in sys.path:
    sys.path.append(_FUZZ_DIR)  # loaded by tests/fuzz: find _common.py next to this file
from _common import Reader, fuzz, instrumented

with instrumented(__name__):
    from aiosocketio.errors import PayloadTooLarge, ProtocolError
    from aiosocketio.ws.deflate import Deflate, DeflateParams, negotiate_client, negotiate_server
    from aiosocketio.ws.frames import (
        BINARY,
        CLOSE,
        PING,
        PONG,
        TEXT,
        FrameParser,
        Message,
        parse_close,
    )
    from aiosocketio.ws.handshake import check_request

# close codes a ProtocolError may carry: WebSocket codes, or HTTP statuses for the handshake
CLOSE_CODES = frozenset((1002, 1007, 1009))
OPCODES = (TEXT, BINARY, 0, CLOSE, PING, PONG, 3, 11, 15)
PARAMS = (
    DeflateParams(),
    DeflateParams(server_no_context_takeover=True, client_no_context_takeover=True),
    DeflateParams(server_max_window_bits=9, client_max_window_bits=8),
)
OFFERS = (
    "permessage-deflate",
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate; server_max_window_bits=10; client_no_context_takeover",
    'permessage-deflate; server_max_window_bits="8"',
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; x=1, permessage-deflate",
    "x-webkit-deflate-frame",
    ',;="\\',
)


# ---------------------------------------------------------------------------------- checks
def parse(
    chunks: Sequence[bytes], *, client_side: bool, params: DeflateParams | None, max_size: int
) -> tuple[list[Message], ProtocolError | None]:
    """Feed the chunks to a fresh parser; the messages, and the error that stopped it."""
    deflate = Deflate(params, client_side=client_side) if params is not None else None
    parser = FrameParser(client_side=client_side, max_message_size=max_size, deflate=deflate)
    out: list[Message] = []
    for chunk in chunks:
        try:
            out.extend(parser.feed(chunk))
        except ProtocolError as exc:
            _check_error(exc)
            # a failed parser stays failed, with the same kind of error
            try:
                parser.feed(b"\x81\x00")
            except ProtocolError as again:
                assert type(again) is type(exc) and again.close_code == exc.close_code
            else:
                raise AssertionError("the parser accepted data after an error") from None
            return out, exc
    return out, None


def _check_error(exc: ProtocolError) -> None:
    assert exc.close_code in CLOSE_CODES, exc.close_code
    if isinstance(exc, PayloadTooLarge):
        assert exc.close_code == 1009


def check_frames(
    chunks: Sequence[bytes],
    *,
    client_side: bool = False,
    params: DeflateParams | None = None,
    max_size: int = 1000,
) -> None:
    messages, error = parse(chunks, client_side=client_side, params=params, max_size=max_size)
    for opcode, payload in messages:
        assert opcode in (TEXT, BINARY, CLOSE, PING, PONG), opcode
        assert isinstance(payload, str if opcode == TEXT else bytes), (opcode, payload)
        if opcode >= CLOSE:
            assert len(payload) <= 125
        else:
            size = len(payload.encode() if isinstance(payload, str) else payload)
            assert size <= max_size, (size, max_size)
        if opcode == CLOSE:
            assert isinstance(payload, bytes)
            try:
                code, _reason = parse_close(payload)
            except ProtocolError as exc:
                assert exc.close_code in (1002, 1007)
            else:
                assert code == 1005 or 1000 <= code <= 4999
    # the same bytes in one read give the same messages, and the same error if any
    whole = b"".join(chunks)
    once, error_once = parse([whole], client_side=client_side, params=params, max_size=max_size)
    if error is None:
        assert error_once is None, error_once
        assert once == messages
    else:
        assert error_once is not None and type(error_once) is type(error)
        assert error_once.close_code == error.close_code


def check_extensions(offer: str) -> None:
    """Any Sec-WebSocket-Extensions offer: nothing, or an answer a client accepts."""
    extension, params = negotiate_server(offer)
    if extension is None:
        assert params is None
        return
    assert params is not None
    assert negotiate_client(extension).server_max_window_bits == params.server_max_window_bits


def check_upgrade_request(method: str, headers: dict[str, str]) -> None:
    """Any upgrade request: a key, or ProtocolError with the HTTP status to answer."""
    try:
        key = check_request(method, headers)
    except ProtocolError as exc:
        assert exc.close_code in (400, 426), exc.close_code
        return
    assert isinstance(key, str) and key


# ---------------------------------------------------------------------------------- input
def build_frame(r: Reader, *, masked: bool, compressor: Any) -> bytes:
    """One frame from the input: mostly well-formed, with any flag, length form and mask."""
    opcode = r.pick(OPCODES)
    fin = r.byte() % 4 != 0
    flags = r.byte()
    rsv = (0x40 if flags % 3 == 0 else 0) | (0x30 if flags % 17 == 0 else 0)
    payload = r.chunk(200)
    if flags % 5 == 1 and opcode == TEXT:
        payload = r.text(40).encode()
    if rsv & 0x40 and compressor is not None and flags % 2:
        payload = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if payload.endswith(b"\x00\x00\xff\xff"):
            payload = payload[:-4]
    elif flags % 11 == 0 and compressor is not None:
        # a small compressed bomb: much bigger once inflated
        bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
        payload = bomb.compress(b"\x00" * 5000) + bomb.flush(zlib.Z_SYNC_FLUSH)
        rsv |= 0x40
    n = len(payload)
    form = r.byte() % 4
    b0 = bytes(((0x80 if fin else 0) | rsv | opcode,))
    mask_bit = 0x80 if masked != (form == 3) else 0
    if n < 126 and form < 2:
        head = b0 + bytes((mask_bit | n,))
    elif form == 2 or n >= 0x10000:
        head = b0 + bytes((mask_bit | 127,)) + n.to_bytes(8, "big")
    else:
        head = b0 + bytes((mask_bit | 126,)) + n.to_bytes(2, "big")
    if mask_bit:
        key = r.chunk(4).ljust(4, b"\x00")
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return head + key + payload
    return head + payload


def split(r: Reader, data: bytes) -> list[bytes]:
    """Cut the bytes into reads at places the input picks."""
    chunks = []
    while data:
        size = 1 + r.byte() % 64 if r.byte() % 2 else len(data)
        chunks.append(data[:size])
        data = data[size:]
    return chunks


def one_input(data: bytes) -> None:
    """The fuzz target: the first byte picks the mode and the side of the parser."""
    r = Reader(data)
    mode = r.byte()
    client_side = bool(mode & 1)
    kind = (mode >> 1) % 8
    if kind == 0:
        check_frames(split(r, data[r.pos :]), client_side=client_side)
        return
    if kind == 1:
        check_extensions(data[1:].decode("latin-1"))
        return
    if kind == 2:
        headers = {
            "upgrade": r.pick(("websocket", "WebSocket, h2c", "", "h2c")),
            "connection": r.pick(("Upgrade", "keep-alive, upgrade", "close")),
            "sec-websocket-key": r.pick(("dGhlIHNhbXBsZSBub25jZQ==", "", "x" * 24, r.text(30))),
            "sec-websocket-version": r.pick(("13", "8", "", "13, 8", r.text(4))),
        }
        check_upgrade_request(r.pick(("GET", "POST", "get", r.text(5))), headers)
        return
    params = r.pick(PARAMS) if kind >= 5 else None
    if kind == 4 or kind == 7:
        offer = r.pick(OFFERS)
        _extension, negotiated = negotiate_server(offer)
        if negotiated is not None:
            params = negotiated
    compressor = None
    if params is not None:
        bits = params.server_max_window_bits if client_side else params.client_max_window_bits
        compressor = zlib.compressobj(6, zlib.DEFLATED, -max(bits, 9))
    frames: list[bytes] = []
    while r.more() and len(frames) < 12:
        frames.append(build_frame(r, masked=not client_side, compressor=compressor))
    max_size = r.pick((1000, 125, 10, 0, 5000))
    wire = b"".join(frames)
    if r.byte() % 4 == 0 and wire:  # a flipped byte somewhere
        at = r.byte() * 7 % len(wire)
        wire = wire[:at] + bytes((wire[at] ^ (1 + r.byte() % 255),)) + wire[at + 1 :]
    check_frames(split(r, wire), client_side=client_side, params=params, max_size=max_size)


if __name__ == "__main__":
    fuzz(one_input)
