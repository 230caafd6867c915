"""The Engine.IO v4 client session state machine, driven by explicit ``now`` values (no loop)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from aiosocketio.engineio import packets
from aiosocketio.engineio.client_session import (
    Action,
    ClientSession,
    Probe,
    ProbeState,
    State,
    UpgradeMemory,
    parse_open,
)
from aiosocketio.engineio.packets import CLOSE, MESSAGE, NOOP, OPEN, PING, PONG, UPGRADE
from aiosocketio.errors import ProtocolError

T0 = 1000.0
SERVER = "http://example.com:80/socket.io/"
HANDSHAKE: dict[str, Any] = {
    "sid": "abc",
    "upgrades": ["websocket"],
    "pingInterval": 25000,
    "pingTimeout": 20000,
    "maxPayload": 1000000,
}


def open_data(**changes: Any) -> str:
    info = {**HANDSHAKE, **changes}
    return json.dumps({k: v for k, v in info.items() if v is not ...})


def make(**options: Any) -> ClientSession:
    options.setdefault("server", SERVER)
    options.setdefault("memory", UpgradeMemory())
    return ClientSession(**options)


def opened(session: ClientSession | None = None, now: float = T0, **changes: Any) -> ClientSession:
    """A session through its handshake at ``now``."""
    session = session if session is not None else make()
    session.first_transport()
    assert session.receive(OPEN, open_data(**changes), now) is Action.HANDSHAKE
    session.open(now)
    return session


def answered(session: ClientSession) -> Probe:
    """A WebSocket probe whose answer came: the session is upgrading."""
    probe = session.probe("websocket")
    probe.opened()
    assert session.probe_packet(probe, PONG, "probe") is Action.UPGRADING
    return probe


# ---------------------------------------------------------------------------- the open packet


def test_a_valid_open_packet() -> None:
    hs = parse_open(open_data())
    assert (hs.sid, hs.upgrades, hs.ping_interval, hs.ping_timeout, hs.max_payload) == (
        "abc",
        ["websocket"],
        25.0,
        20.0,
        1000000,
    )
    assert hs.info == HANDSHAKE


def test_optional_fields_of_the_open_packet() -> None:
    hs = parse_open(open_data(upgrades=..., maxPayload=...))
    assert hs.upgrades == [] and hs.max_payload == 0
    assert parse_open(open_data(upgrades=None, maxPayload=None)).upgrades == []
    assert parse_open(open_data(pingInterval="300")).ping_interval == 0.3  # as Node: Number()


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        ("not json", ValueError),
        ("[1, 2]", TypeError),  # not an object
        (open_data(sid=...), KeyError),
        (open_data(sid=12), TypeError),
        (open_data(upgrades="websocket"), TypeError),
        (open_data(pingInterval=...), KeyError),
        (open_data(pingInterval="soon"), ValueError),
        (open_data(pingInterval=[1]), TypeError),
        (open_data(pingTimeout=...), KeyError),
        (open_data(pingTimeout={}), TypeError),
        (open_data(maxPayload="big"), ValueError),
        (open_data(maxPayload=[1]), TypeError),
        (open_data(maxPayload=-1), ValueError),
        (open_data(maxPayload=1).replace(": 1}", ": 1e400}"), (ValueError, OverflowError)),
        (open_data(pingInterval=-1), ValueError),
        (open_data(pingInterval="NaN"), ValueError),  # never times out
        (open_data(pingTimeout="Infinity"), ValueError),
        (open_data(pingTimeout=1).replace(": 1,", ": 1e400,"), ValueError),
        (open_data(pingInterval=366 * 24 * 3600 * 1000), ValueError),
    ],
)
def test_each_invalid_field_of_the_open_packet(
    data: str, cause: type[Exception] | tuple[type[Exception], ...]
) -> None:
    with pytest.raises(ProtocolError, match="invalid handshake") as info:
        parse_open(data)
    assert isinstance(info.value.__cause__, cause)


def test_a_bad_open_packet_leaves_the_session_opening() -> None:
    session = make()
    session.first_transport()
    with pytest.raises(ProtocolError):
        session.receive(OPEN, open_data(sid=None), T0)
    assert session.state is State.OPENING and session.sid is None


def test_the_handshake_opens_the_session() -> None:
    session = make()
    assert session.state is State.CLOSED and session.ready_state == "closed"
    assert session.first_transport() == "polling"
    assert session.state is State.OPENING and session.ready_state == "opening"
    session.receive(OPEN, open_data(upgrades=["websocket", "webtransport"]), T0)
    assert session.sid is None  # until open(): the "handshake" event comes first
    session.open(T0)
    assert session.state is State.OPEN and session.ready_state == "open"
    assert session.sid == "abc"
    assert session.upgrades == ["websocket"]  # only transports the client knows and uses
    assert (session.ping_interval, session.ping_timeout, session.max_payload) == (
        25.0,
        20.0,
        1000000,
    )


def test_open_without_a_handshake_is_refused() -> None:
    with pytest.raises(ProtocolError):
        make().open(T0)


def test_ready_states_are_engine_io_client_s() -> None:
    assert [s.ready_state for s in State] == ["opening", "open", "closing", "closed"]


# ---------------------------------------------------------------------------- transports


def test_unknown_transports_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown transport 'carrier-pigeon'"):
        make(transports=["polling", "carrier-pigeon"])


def test_no_transport_to_open() -> None:
    session = make(transports=[])
    assert session.first_transport() is None
    assert session.state is State.CLOSED


def test_the_first_transport_is_the_first_listed() -> None:
    assert make(transports=["websocket", "polling"]).first_transport() == "websocket"


def test_upgrades_to_probe() -> None:
    session = opened()
    assert session.upgrades_to_probe() == ["websocket"]
    assert opened(make(upgrade=False)).upgrades_to_probe() == []
    assert opened(make(transports=["polling"])).upgrades_to_probe() == []
    on_websocket = make(transports=["websocket", "polling"])
    assert opened(on_websocket).upgrades_to_probe() == []  # the current transport
    closing = opened()
    closing.close(buffered=False)
    assert closing.upgrades_to_probe() == []


def test_try_all_transports_drops_the_failed_one_before_the_handshake() -> None:
    session = make(try_all_transports=True)
    session.first_transport()
    assert session.failed() is Action.RETRY
    assert session.transports == ["websocket"]
    assert session.first_transport() == "websocket"
    assert session.failed() is Action.FAIL  # the last one
    assert make().failed() is Action.FAIL  # without the option
    later = opened(make(try_all_transports=True))
    assert later.failed() is Action.FAIL  # after the handshake


# ---------------------------------------------------------------------------- heartbeat


def test_the_ping_deadline_is_interval_plus_timeout_after_the_handshake() -> None:
    session = make()
    assert session.ping_deadline == math.inf  # no ping expected before the handshake
    opened(session, now=T0, pingInterval=300, pingTimeout=200)
    assert session.ping_deadline == pytest.approx(T0 + 0.5)


def test_a_ping_is_answered_and_moves_the_deadline() -> None:
    session = opened(now=T0)
    assert session.receive(PING, "", T0 + 30) is Action.SEND_PONG
    assert session.ping_deadline == T0 + 30 + 45
    assert session.receive(PING, "", T0 + 60) is Action.SEND_PONG
    assert session.ping_deadline == T0 + 60 + 45


def test_other_packets_do_not_move_the_deadline() -> None:
    session = opened(now=T0)
    for kind in (MESSAGE, NOOP, PONG):
        session.receive(kind, "x", T0 + 40)
    assert session.ping_deadline == T0 + 45


def test_a_ping_timeout_is_reported_once() -> None:
    session = opened(now=T0)
    assert session.ping_timed_out()
    assert session.ping_deadline == 0
    assert not session.ping_timed_out()


def test_a_closing_session_still_answers_pings() -> None:
    session = opened()
    session.close(buffered=True)
    assert session.receive(PING, "", T0 + 1) is Action.SEND_PONG


# ---------------------------------------------------------------------------- packets and framing


def test_received_packets() -> None:
    session = opened()
    assert session.receive(MESSAGE, "2[]", T0) is Action.MESSAGE
    assert session.receive(MESSAGE, b"\x01", T0) is Action.MESSAGE
    assert session.receive(NOOP, "", T0) is Action.NONE
    for kind in (PONG, UPGRADE, CLOSE):
        assert session.receive(kind, "", T0) is Action.UNEXPECTED


def test_a_closed_session_takes_no_packet() -> None:
    session = opened()
    session.closed()
    for kind in (MESSAGE, PING, OPEN):
        assert session.receive(kind, "", T0) is Action.NONE


def test_message_framing() -> None:
    # the MESSAGE digit is added and removed by the core's codec, nowhere above it
    assert packets.encode_packet(MESSAGE, '2["a"]') == '42["a"]'
    assert packets.encode_packet(MESSAGE, b"\x00\x01") == b"\x00\x01"
    assert packets.encode_packet(PONG) == "3"
    assert packets.encode_packet(PING, "probe") == "2probe"
    assert packets.decode_packet('42["a"]') == (MESSAGE, '2["a"]')
    assert packets.decode_packet(b"\x00") == (MESSAGE, b"\x00")
    assert packets.message_packets(['2["a"]', b"\x02", "3"]) == ['42["a"]', b"\x02", "43"]
    # a long-polling request: text packets with their digit, binary ones as "b" + base64
    assert (
        packets.encode_payload([packets.encode_packet(MESSAGE, "x"), b"\x01\x02"]) == "4x\x1ebAQI="
    )


def test_packets_within_max_payload() -> None:
    session = opened(maxPayload=20)
    # as engine.io-client counts: 1, then each packet's data and 2 (its type, a separator)
    small = [(MESSAGE, "a" * 5, True) for _ in range(5)]
    assert session.packets_within_max_payload(small) == 3  # 1+5 +2+5 +2+5 = 20, +2+5 > 20
    big = [(MESSAGE, "a" * 50, True), (MESSAGE, "b", True)]
    assert session.packets_within_max_payload(big) == 1  # the first goes, whatever its size
    binary = [(MESSAGE, b"\x00" * 6, True)] * 3  # "b" + 8 base64 characters each
    assert session.packets_within_max_payload(binary) == 1  # 1+9 +2+9 = 21 > 20
    assert opened(maxPayload=0).packets_within_max_payload(small) == 5  # no limit


# ---------------------------------------------------------------------------- upgrade


def test_a_probe_goes_through_its_states() -> None:
    session = opened()
    probe = session.probe("websocket")
    assert probe.state is ProbeState.OPENING
    assert probe.opened() == (PING, "probe")
    assert probe.state is ProbeState.SENT
    assert probe.opened() is None  # once
    assert session.probe_packet(probe, PONG, "probe") is Action.UPGRADING
    assert probe.state is ProbeState.ANSWERED and session.upgrading
    # what comes on the new transport before the switch waits for it
    assert session.probe_packet(probe, MESSAGE, "2[]") is Action.BUFFER
    assert probe.pending == [(MESSAGE, "2[]")]
    assert session.switch(probe, still_current=True)
    assert probe.state is ProbeState.UPGRADED
    assert session.transport == "websocket" and not session.upgrading
    assert session.probe_packet(probe, MESSAGE, "x") is Action.NONE
    assert session.upgrade_settled() is Action.NONE


def test_a_wrong_answer_fails_the_probe() -> None:
    session = opened()
    probe = session.probe("websocket")
    probe.opened()
    assert session.probe_packet(probe, PONG, "nope") is Action.PROBE_FAILED
    assert session.fail_probe(probe)
    assert not session.fail_probe(probe)  # once
    assert probe.state is ProbeState.FAILED
    assert session.probe_packet(probe, PONG, "probe") is Action.NONE
    assert probe.opened() is None
    assert not session.abandon_upgrade()  # it was not upgrading
    assert session.transport == "polling"


def test_a_probe_failing_while_upgrading_resumes_the_old_transport() -> None:
    session = opened()
    probe = answered(session)
    assert session.fail_probe(probe)
    assert session.abandon_upgrade()  # the paused transport must go on
    assert not session.upgrading
    assert not session.switch(probe, still_current=True)


def test_no_switch_when_the_session_closed_or_the_transport_changed() -> None:
    session = opened()
    probe = answered(session)
    assert not session.switch(probe, still_current=False)
    session.closed()
    assert not session.switch(probe, still_current=True)
    assert session.transport == "polling"


def test_a_switch_needs_an_answered_probe() -> None:
    session = opened()
    assert not session.switch(Probe("websocket"), still_current=True)


# ---------------------------------------------------------------------------- closing


def test_close_at_once_when_nothing_waits() -> None:
    session = opened()
    assert session.close(buffered=False) is Action.CLOSE_NOW
    assert session.state is State.CLOSING
    assert session.close(buffered=False) is Action.NONE  # closing already
    assert session.closed()
    assert session.state is State.CLOSED and session.sid is None
    assert not session.closed()  # once


def test_close_waits_for_the_buffer() -> None:
    session = opened()
    assert session.close(buffered=True) is Action.CLOSE_LATER
    assert session.drained() is Action.CLOSE_NOW
    assert session.drained() is Action.NONE


def test_close_waits_for_the_upgrade() -> None:
    session = opened()
    probe = answered(session)
    assert session.close(buffered=False) is Action.CLOSE_LATER
    assert session.switch(probe, still_current=True)
    assert session.upgrade_settled() is Action.CLOSE_NOW
    assert session.upgrade_settled() is Action.NONE


def test_a_drain_while_upgrading_hands_the_close_to_the_upgrade() -> None:
    session = opened()
    probe = session.probe("websocket")
    probe.opened()
    session.close(buffered=True)
    session.probe_packet(probe, PONG, "probe")
    assert session.drained() is Action.NONE
    assert session.fail_probe(probe) and session.abandon_upgrade()
    assert session.upgrade_settled() is Action.CLOSE_NOW


def test_close_before_anything_opened_does_nothing() -> None:
    session = make()
    assert session.close(buffered=False) is Action.NONE
    assert not session.closed()


def test_closing_drops_what_a_close_waited_for() -> None:
    session = opened()
    session.close(buffered=True)
    session.closed()
    assert session.drained() is Action.NONE
    assert session.upgrade_settled() is Action.NONE


def test_a_handshake_while_closing_opens_the_session() -> None:
    # as engine.io-client: the close waits for the buffer, the handshake still opens
    session = make()
    session.first_transport()
    session.close(buffered=True)
    session.receive(OPEN, open_data(), T0)
    session.open(T0)
    assert session.state is State.OPEN
    assert session.drained() is Action.CLOSE_NOW


# ---------------------------------------------------------------------------- remembered upgrades


def test_remember_upgrade_starts_on_websocket_after_a_websocket_connection() -> None:
    memory = UpgradeMemory()
    first = make(memory=memory)
    first.first_transport()
    probe = first.probe("websocket")
    assert not memory.websocket_worked(SERVER)  # probing forgets it
    probe.opened()
    first.probe_packet(probe, PONG, "probe")
    assert memory.websocket_worked(SERVER)
    assert make(memory=memory, remember_upgrade=True).first_transport() == "websocket"
    assert make(memory=memory).first_transport() == "polling"  # without the option
    only_polling = make(memory=memory, remember_upgrade=True, transports=["polling"])
    assert only_polling.first_transport() == "polling"


def test_a_connection_opened_on_websocket_is_remembered_and_a_failure_forgets_it() -> None:
    memory = UpgradeMemory()
    opened(make(memory=memory, transports=["websocket"]))
    assert memory.websocket_worked(SERVER)
    opened(make(memory=memory))  # opened on long-polling
    assert not memory.websocket_worked(SERVER)
    opened(make(memory=memory, transports=["websocket"])).failed()
    assert not memory.websocket_worked(SERVER)


def test_the_memory_is_per_server() -> None:
    memory = UpgradeMemory()
    other = "http://other:80/socket.io/"
    opened(make(memory=memory, transports=["websocket"]))
    assert memory.websocket_worked(SERVER) and not memory.websocket_worked(other)
    assert make(memory=memory, server=other, remember_upgrade=True).first_transport() == "polling"
    failing = make(memory=memory, server=other)
    failing.first_transport()
    failing.failed()
    assert memory.websocket_worked(SERVER)  # another server's failure changes nothing here
    assert memory.latest is False  # the last outcome, whichever the server


def test_the_memory_is_bounded() -> None:
    memory = UpgradeMemory(limit=3)
    for i in range(5):
        memory.remember(f"s{i}", True)
    assert len(memory) == 3
    assert [memory.websocket_worked(f"s{i}") for i in range(5)] == [False, False, True, True, True]
    memory.remember("s2", True)  # the most recent again
    memory.remember("s5", True)
    assert memory.websocket_worked("s2") and not memory.websocket_worked("s3")
    memory.remember("s2", False)
    assert not memory.websocket_worked("s2") and len(memory) == 2
