"""Fuzz target: Engine.IO v3 packets and payloads, the v3 heartbeat, and the protocol v4
namespace rules (socket.io-client 2.x, ``allow_eio3``).

    python fuzz/fuzz_engineio_v3.py [libFuzzer options] [corpus dir]

Any input must give a value or a ProtocolError, never another exception: v3 packets (text,
``b<type><base64>``, type byte + bytes), text payloads (lengths in UTF-16 units) and binary
payloads; what decodes encodes back to the same packets. The v3 session never asks to be
woken up in the past and never pings. A packet's namespace reads as a path without a query
(or a ProtocolError), and a CONNECT's data is its query. ``tests/fuzz`` runs the same checks
under hypothesis.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

if (_FUZZ_DIR := str(Path(__file__).resolve().parent)) not in sys.path:
    sys.path.append(_FUZZ_DIR)  # loaded by tests/fuzz: find _common.py next to this file
from _common import Reader, fuzz, instrumented

with instrumented(__name__):
    from aiosocketio.engineio import payload_v3
    from aiosocketio.engineio.packets import MESSAGE, OPEN, PING, PONG, UPGRADE
    from aiosocketio.engineio.session import Action, EngineConfig, State
    from aiosocketio.engineio.session_v3 import SessionV3
    from aiosocketio.errors import ProtocolError
    from aiosocketio.socketio.packets import CONNECT, Decoder
    from aiosocketio.socketio.packets_v4 import DecoderV4, split_namespace

# pieces that v3 payloads are made of, so that mutations reach deep quickly
PIECES = (
    "0", "1", "2", "3", "4", "5", "6", "7", ":", "1:", "2:", "3:", "10:", "0:", "01:", "b",
    "b4", "b4AA==", "b9", "=", "😀", "é", "\ud800", "40", '2["a"]', "99999999999999999:",
)  # fmt: skip
BYTES = (b"\x00", b"\x01", b"\x02", b"\x09", b"\xff", b"\x04", b"\x0a", b"40", b"\xf0\x9f\x98\x80")
NAMESPACE_PIECES = (
    "/", "//", "\\", "a", ".", "..", "%2e", "?", "&", "=", "#", " ", "\t", "é", "😀", "%zz",
    "@", ":", "<", "x=1", "\x00",
)  # fmt: skip
TIMES = (0.0, 0.001, 0.5, 1.0, 20.0, 25.0, 45.0)
_SURROGATE = re.compile("[\ud800-\udfff]")


# ---------------------------------------------------------------------------------- checks
def check_packet(data: str | bytes) -> None:
    try:
        kind, payload = payload_v3.decode_packet(data)
    except ProtocolError:
        return
    assert 0 <= kind <= 6, kind
    if isinstance(payload, bytes):
        again: str | bytes = payload_v3.encode_binary(payload, kind)
        assert payload_v3.decode_packet(again) == (kind, payload)
        assert payload_v3.decode_packet(payload_v3.encode_base64(payload, kind)) == (kind, payload)
    else:
        assert payload_v3.decode_packet(f"{kind}{payload}") == (kind, payload)


def _as_text(packets: Sequence[tuple[int, str | bytes]]) -> list[str]:
    """Decoded packets written back in their text form (binary ones as base64)."""
    return [
        payload_v3.encode_base64(data, kind) if isinstance(data, bytes) else f"{kind}{data}"
        for kind, data in packets
    ]


def _units(packets: Sequence[tuple[int, str | bytes]]) -> list[tuple[int, str | bytes]]:
    """Packets compared as JavaScript would: text as UTF-16 code units."""
    return [(k, payload_v3._from_units(d) if isinstance(d, str) else d) for k, d in packets]


def check_payload(payload: str) -> None:
    """A text payload: packets or ProtocolError; written back, it reads the same."""
    try:
        packets = payload_v3.decode_payload(payload)
    except ProtocolError:
        return
    assert all(0 <= kind <= 6 for kind, _ in packets)
    text = payload_v3.encode_payload_text(_as_text(packets))
    again = payload_v3.decode_payload(text) if packets else []
    assert _units(again) == _units(packets), (payload, text)


def check_binary_payload(payload: bytes) -> None:
    """A binary payload: packets or ProtocolError; written back, it reads the same (a lone
    surrogate in a text packet comes back as U+FFFD)."""
    try:
        packets = payload_v3.decode_payload_binary(payload)
    except ProtocolError:
        return
    assert packets, payload
    messages: list[str | bytes] = [
        data if isinstance(data, bytes) and kind == MESSAGE else text
        for (kind, data), text in zip(packets, _as_text(packets), strict=True)
    ]
    again = payload_v3.decode_payload_binary(payload_v3.encode_payload_binary(messages))
    expected = [
        (k, _SURROGATE.sub("\ufffd", payload_v3._from_units(d)) if isinstance(d, str) else d)
        for k, d in packets
    ]
    assert _units(again) == expected, payload


def check_session(ops: Sequence[tuple[int, int, str]], config: EngineConfig) -> None:
    """``(operation, time step, data)``: 0 receive a packet, 1 tick, 2 upgrade, 3 close."""
    now = 1000.0
    session = SessionV3("sid", "polling", config, now)
    assert session.deadline == now + config.ping_interval + config.ping_timeout
    for op, step, data in ops:
        now += TIMES[step % len(TIMES)]
        if op == 0:
            try:
                kind, payload = payload_v3.decode_packet(data)
            except ProtocolError:
                continue
            try:
                action = session.receive(kind, payload, now)
            except ProtocolError:
                assert kind in (OPEN, PONG, UPGRADE)  # the packets a client never sends
                continue
            if kind == PING and session.state is not State.CLOSED:
                assert action is Action.SEND_PONG
                assert session._pong_deadline == now + config.ping_interval + config.ping_timeout
        elif op == 1:
            for _ in range(4):
                action = session.tick(now)
                assert action is not Action.SEND_PING  # a v3 server never pings
                if action is Action.NONE:
                    assert session.deadline > now
                    break
            else:
                raise AssertionError("tick keeps returning actions")
        elif op == 2:
            if session.can_upgrade("websocket"):
                session.start_upgrade(now)
        else:
            session.close()
        if session.state is State.CLOSED:
            assert session.tick(now + 1e9) is Action.NONE


def check_namespace(nsp: str, connect: bool) -> None:
    try:
        path, query = split_namespace(nsp)
    except ProtocolError:
        return
    assert path.startswith("/") and "?" not in path and "#" not in path, (nsp, path)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in query.items())
    if not path.startswith("//"):  # (which would read as a host, in Node too)
        assert split_namespace(path) == (path, {}), (nsp, path)  # a path reads as itself
    decoder = DecoderV4(Decoder())
    text = ("0" if connect else "2") + nsp + ("," if connect else ',["x"]')
    try:
        packet = decoder.decode_text(text)
    except ProtocolError:
        return
    assert packet is not None
    if nsp.startswith("/"):
        assert packet.nsp == path
    if packet.type == CONNECT:
        assert packet.data == (query if nsp.startswith("/") else {})


# ---------------------------------------------------------------------------------- input
def one_input(data: bytes) -> None:
    """The fuzz target: the first byte picks what the rest of the input is."""
    r = Reader(data)
    mode = r.byte() % 5
    if mode == 0:
        rest = data[1:]
        check_packet(rest)
        check_packet(rest.decode("utf-8", "replace"))
    elif mode == 1:
        check_payload(r.mixed_text(PIECES, 12))
    elif mode == 2:
        check_binary_payload(r.mixed_bytes(BYTES, 12))
    elif mode == 3:
        config = EngineConfig(ping_interval=r.pick(TIMES), ping_timeout=r.pick(TIMES))
        ops: list[tuple[int, int, str]] = []
        while r.more():
            ops.append((r.byte() % 4, r.byte(), r.pick(PIECES) if r.byte() % 2 else r.text(6)))
        check_session(ops, config)
    else:
        connect = r.byte() % 2 == 0
        check_namespace("/" + r.mixed_text(NAMESPACE_PIECES, 6), connect)


if __name__ == "__main__":
    fuzz(one_input)
