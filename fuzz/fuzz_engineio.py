"""Fuzz target: Engine.IO v4 packets, long-polling payloads and the session state machine.

    python fuzz/fuzz_engineio.py [libFuzzer options] [corpus dir]

Any input must give a value or a ProtocolError, never another exception; a decoded payload
must survive encoding again; the session must never ask to be woken up in the past (the
I/O layer would spin) nor loop forever in ``tick``. ``tests/fuzz`` runs the same checks
under hypothesis.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

if (_FUZZ_DIR := str(Path(__file__).resolve().parent)) not in sys.path:
    sys.path.append(_FUZZ_DIR)  # loaded by tests/fuzz: find _common.py next to this file
from _common import Reader, fuzz, instrumented

with instrumented(__name__):
    from aiosocketio.engineio.packets import (
        MESSAGE,
        SEPARATOR,
        decode_packet,
        decode_payload,
        encode_packet,
        encode_payload,
    )
    from aiosocketio.engineio.session import Action, EngineConfig, Session, State
    from aiosocketio.errors import ProtocolError

# pieces that polling payloads are made of, so that mutations reach deep quickly
PIECES = ("0", "1", "2", "3", "4", "5", "6", "7", "b", "bAA==", "b=", "2probe", "3probe", SEPARATOR)
TIMES = (0.0, 0.001, 0.5, 1.0, 20.0, 25.0)


# ---------------------------------------------------------------------------------- checks
def check_packet(data: str | bytes) -> None:
    """One WebSocket message: a (type, data) packet or ProtocolError."""
    try:
        kind, payload = decode_packet(data)
    except ProtocolError:
        return
    assert 0 <= kind <= 6, kind
    assert type(payload) in (str, bytes)
    if isinstance(data, bytes):
        assert (kind, payload) == (MESSAGE, data)
        return
    # what decodes, encodes back to the same packet
    again = encode_packet(kind, payload)
    assert decode_packet(again) == (kind, payload), (data, again)


def check_payload(payload: str) -> None:
    """One long-polling body: every packet decodes, or ProtocolError for all of it."""
    try:
        packets = decode_payload(payload)
    except ProtocolError:
        return
    assert len(packets) == payload.count(SEPARATOR) + 1
    encoded = [p if isinstance(p, bytes) else encode_packet(k, p) for k, p in packets]
    assert decode_payload(encode_payload(encoded)) == packets, payload


def check_session(ops: Sequence[tuple[int, int, str]], config: EngineConfig) -> None:
    """Drive a session with ``(operation, time step, data)`` steps.

    Operations: 0 receive a packet, 1 tick, 2 start an upgrade, 3 a packet on the upgrade,
    4 abort the upgrade, 5 close.
    """
    now = 1000.0
    session = Session("sid", "polling", config, now)
    opened = session.open_packet()
    assert opened.startswith("0{"), opened
    for op, step, data in ops:
        now += TIMES[step % len(TIMES)]
        before = session.state
        try:
            if op == 0:
                kind, payload = decode_packet(data)
                action = session.receive(kind, payload, now)
                assert action in (Action.NONE, Action.MESSAGE, Action.CLOSE), action
                if action is Action.CLOSE:
                    assert session.state is State.CLOSED
            elif op == 1:
                _tick_until_idle(session, now)
            elif op == 2:
                if session.can_upgrade("websocket"):
                    session.start_upgrade(now)
                    assert session.state is State.UPGRADING
                    assert session.deadline <= now + config.upgrade_timeout
            elif op == 3:
                kind, payload = decode_packet(data)
                action = session.receive_upgrading(kind, payload)
                assert action in (Action.PROBE, Action.UPGRADED), action
                if action is Action.UPGRADED:
                    assert session.transport == "websocket" and session.state is State.OPEN
            elif op == 4:
                session.abort_upgrade()
                assert session.state is not State.UPGRADING
            else:
                session.close()
        except ProtocolError:
            assert session.state is before or session.state is State.CLOSED
        if session.state is State.CLOSED:
            assert session.deadline == float("inf")
            assert session.tick(now + 1e9) is Action.NONE


def _tick_until_idle(session: Session, now: float) -> None:
    """``tick`` as the I/O layer calls it: until NONE, which must come within a few calls
    and leave the next deadline in the future."""
    for _ in range(4):
        action = session.tick(now)
        if action is Action.NONE:
            assert session.deadline > now, (session.deadline, now)
            return
        if action is Action.PING_TIMEOUT:
            assert session.state is State.CLOSED
    raise AssertionError("tick keeps returning actions")


# ---------------------------------------------------------------------------------- input
def one_input(data: bytes) -> None:
    """The fuzz target: the first byte picks what the rest of the input is."""
    r = Reader(data)
    mode = r.byte() % 4
    if mode == 0:
        rest = data[1:]
        check_packet(rest)
        check_packet(rest.decode("utf-8", "replace"))
    elif mode == 1:
        check_payload(r.mixed_text(PIECES, 16))
    else:
        config = EngineConfig(
            ping_interval=r.pick(TIMES),
            ping_timeout=r.pick(TIMES),
            upgrade_timeout=r.pick(TIMES),
            allow_upgrades=r.byte() % 4 != 0,
        )
        ops: list[tuple[int, int, str]] = []
        while r.more():
            op = r.byte() % 6
            step = r.byte()
            text = r.pick(PIECES) if r.byte() % 2 else r.text(8)
            ops.append((op, step, text))
        check_session(ops, config)


if __name__ == "__main__":
    fuzz(one_input)
