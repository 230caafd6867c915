"""The Engine.IO v4 server session state machine, driven by explicit ``now`` values."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from aiosocketio.engineio.packets import CLOSE, MESSAGE, NOOP, OPEN, PING, PONG, UPGRADE
from aiosocketio.engineio.session import Action, EngineConfig, Session, State
from aiosocketio.errors import ProtocolError

T0 = 1000.0
INTERVAL = 25.0
TIMEOUT = 20.0
UPGRADE_TIMEOUT = 10.0


def make(transport: str = "polling", **options: Any) -> Session:
    return Session("sid123", transport, EngineConfig(**options), T0)


def open_payload(session: Session) -> dict[str, object]:
    packet = session.open_packet()
    assert packet[0] == "0"
    payload = json.loads(packet[1:])
    assert isinstance(payload, dict)
    return payload


def ping(session: Session) -> float:
    """Advance to the next ping; return the time it was sent."""
    now = session.deadline
    assert session.tick(now) is Action.SEND_PING
    return now


# ---------------------------------------------------------------------------- handshake


def test_default_config_matches_engine_io_defaults() -> None:
    cfg = EngineConfig()
    assert (cfg.ping_interval, cfg.ping_timeout, cfg.upgrade_timeout) == (25.0, 20.0, 10.0)
    assert cfg.max_payload == 1_000_000
    assert cfg.transports == ("polling", "websocket")
    assert cfg.allow_upgrades is True


def test_new_session_is_open() -> None:
    session = make()
    assert session.state is State.OPEN
    assert session.sid == "sid123"
    assert session.transport == "polling"


def test_open_packet_has_exactly_the_five_keys_in_node_order() -> None:
    assert list(open_payload(make())) == [
        "sid",
        "upgrades",
        "pingInterval",
        "pingTimeout",
        "maxPayload",
    ]


def test_open_packet_is_byte_identical_to_engine_io() -> None:
    assert make().open_packet() == (
        '0{"sid":"sid123","upgrades":["websocket"],"pingInterval":25000,'
        '"pingTimeout":20000,"maxPayload":1000000}'
    )


def test_open_packet_times_are_integer_milliseconds() -> None:
    payload = open_payload(make(ping_interval=0.3, ping_timeout=0.7, max_payload=5000))
    assert payload["pingInterval"] == 300
    assert payload["pingTimeout"] == 700
    assert payload["maxPayload"] == 5000
    for key in ("pingInterval", "pingTimeout", "maxPayload"):
        assert type(payload[key]) is int
    assert '"pingInterval":300,' in make(ping_interval=0.3).open_packet()


def test_open_packet_upgrades_is_websocket_for_polling() -> None:
    assert open_payload(make("polling"))["upgrades"] == ["websocket"]


def test_open_packet_upgrades_is_empty_for_websocket() -> None:
    assert open_payload(make("websocket"))["upgrades"] == []


def test_open_packet_upgrades_is_empty_when_upgrades_are_off() -> None:
    assert open_payload(make("polling", allow_upgrades=False))["upgrades"] == []


def test_open_packet_upgrades_is_empty_without_the_websocket_transport() -> None:
    assert open_payload(make("polling", transports=("polling",)))["upgrades"] == []


# ---------------------------------------------------------------------------- heartbeat


def test_first_deadline_is_the_first_ping() -> None:
    assert make().deadline == T0 + INTERVAL


def test_nothing_to_do_before_ping_interval() -> None:
    session = make()
    assert session.tick(T0) is Action.NONE
    assert session.tick(T0 + INTERVAL - 0.001) is Action.NONE
    assert session.deadline == T0 + INTERVAL


def test_ping_is_due_at_ping_interval() -> None:
    session = make()
    assert session.tick(T0 + INTERVAL) is Action.SEND_PING
    # only once: the next call waits for the pong
    assert session.tick(T0 + INTERVAL) is Action.NONE


def test_deadline_after_ping_is_the_pong_deadline() -> None:
    session = make()
    sent = ping(session)
    assert session.deadline == sent + TIMEOUT


def test_no_pong_by_ping_interval_plus_ping_timeout_is_a_ping_timeout() -> None:
    session = make()
    ping(session)
    assert session.tick(T0 + INTERVAL + TIMEOUT - 0.001) is Action.NONE
    assert session.tick(T0 + INTERVAL + TIMEOUT) is Action.PING_TIMEOUT
    assert session.state is State.CLOSED
    assert session.deadline == math.inf


def test_ping_timeout_counts_from_the_ping_actually_sent() -> None:
    session = make()
    late = T0 + INTERVAL + 3.0  # the event loop woke up late
    assert session.tick(late) is Action.SEND_PING
    assert session.tick(late + TIMEOUT - 0.001) is Action.NONE
    assert session.tick(late + TIMEOUT) is Action.PING_TIMEOUT


def test_messages_do_not_replace_the_pong() -> None:
    # WIRE.md: dead at pingInterval + pingTimeout after the last pong, no grace
    session = make()
    ping(session)
    assert session.receive(MESSAGE, "2[]", T0 + INTERVAL + 1) is Action.MESSAGE
    assert session.tick(T0 + INTERVAL + TIMEOUT) is Action.PING_TIMEOUT


def test_pong_resets_the_heartbeat() -> None:
    session = make()
    ping(session)
    pong_at = T0 + INTERVAL + 5.0
    assert session.receive(PONG, "", pong_at) is Action.NONE
    assert session.deadline == pong_at + INTERVAL
    # the old pong deadline no longer applies
    assert session.tick(T0 + INTERVAL + TIMEOUT) is Action.NONE
    assert session.tick(pong_at + INTERVAL) is Action.SEND_PING
    assert session.state is State.OPEN


def test_heartbeat_cycles_while_pongs_arrive() -> None:
    session = make()
    for _ in range(5):
        sent = ping(session)
        assert session.receive(PONG, "", sent + 0.01) is Action.NONE
    assert session.state is State.OPEN
    assert session.deadline == pytest.approx(sent + 0.01 + INTERVAL)


def test_client_ping_is_a_protocol_error() -> None:
    # Engine.IO v4: "invalid heartbeat direction"
    with pytest.raises(ProtocolError) as info:
        make().receive(PING, "", T0 + 1)
    assert info.value.remote is True


def test_message_is_delivered() -> None:
    session = make()
    assert session.receive(MESSAGE, '2["a"]', T0) is Action.MESSAGE
    assert session.receive(MESSAGE, b"\x01", T0) is Action.MESSAGE


def test_noop_from_client_is_ignored() -> None:
    session = make()
    assert session.receive(NOOP, "", T0 + 1) is Action.NONE
    assert session.state is State.OPEN


# ---------------------------------------------------------------------------- close


def test_close_packet_closes_the_session() -> None:
    session = make()
    assert session.receive(CLOSE, "", T0 + 1) is Action.CLOSE
    assert session.state is State.CLOSED
    assert session.deadline == math.inf


def test_closed_session_ignores_time_and_messages() -> None:
    session = make()
    session.receive(CLOSE, "", T0 + 1)
    assert session.tick(T0 + 10 * INTERVAL) is Action.NONE
    assert session.receive(MESSAGE, "x", T0 + 2) is Action.NONE


def test_local_close_stops_the_clock() -> None:
    session = make()
    session.close()
    assert session.state is State.CLOSED
    assert session.deadline == math.inf
    assert session.tick(T0 + 10 * INTERVAL) is Action.NONE


# ---------------------------------------------------------------------------- upgrade


def test_polling_session_can_upgrade_to_websocket() -> None:
    assert make("polling").can_upgrade("websocket") is True


def test_websocket_session_cannot_upgrade() -> None:
    session = make("websocket")
    assert session.can_upgrade("websocket") is False
    assert session.can_upgrade("polling") is False


def test_upgrade_refused_when_upgrades_are_off() -> None:
    assert make("polling", allow_upgrades=False).can_upgrade("websocket") is False


def test_upgrade_refused_while_upgrading_or_closed() -> None:
    session = make()
    session.start_upgrade(T0)
    assert session.can_upgrade("websocket") is False
    with pytest.raises(ProtocolError):
        session.start_upgrade(T0)
    closed = make()
    closed.close()
    assert closed.can_upgrade("websocket") is False
    with pytest.raises(ProtocolError):
        closed.start_upgrade(T0)


def test_start_upgrade_enters_upgrading_with_its_deadline() -> None:
    session = make()
    session.start_upgrade(T0 + 1)
    assert session.state is State.UPGRADING
    assert session.deadline == T0 + 1 + UPGRADE_TIMEOUT


def test_upgrade_probe_is_answered() -> None:
    session = make()
    session.start_upgrade(T0 + 1)
    assert session.receive_upgrading(PING, "probe") is Action.PROBE
    assert session.state is State.UPGRADING
    assert session.transport == "polling"


def test_upgrade_packet_switches_to_websocket() -> None:
    session = make()
    session.start_upgrade(T0 + 1)
    session.receive_upgrading(PING, "probe")
    assert session.receive_upgrading(UPGRADE, "") is Action.UPGRADED
    assert session.state is State.OPEN
    assert session.transport == "websocket"
    assert session.deadline == T0 + INTERVAL  # only the heartbeat is left


@pytest.mark.parametrize(
    ("kind", "data"),
    [(PING, ""), (PING, "prob"), (PONG, "probe"), (MESSAGE, "x"), (OPEN, ""), (NOOP, "")],
)
def test_other_packet_during_upgrade_is_an_error(kind: int, data: str) -> None:
    session = make()
    session.start_upgrade(T0 + 1)
    with pytest.raises(ProtocolError):
        session.receive_upgrading(kind, data)


def test_upgrade_packets_without_upgrade_in_progress_are_an_error() -> None:
    session = make()
    with pytest.raises(ProtocolError):
        session.receive_upgrading(PING, "probe")
    with pytest.raises(ProtocolError):
        session.receive_upgrading(UPGRADE, "")


def test_upgrade_timeout_gives_up_the_upgrade_and_reopens() -> None:
    session = make()
    session.start_upgrade(T0 + 1)
    session.receive_upgrading(PING, "probe")
    assert session.tick(T0 + 1 + UPGRADE_TIMEOUT - 0.001) is Action.NONE
    assert session.tick(T0 + 1 + UPGRADE_TIMEOUT) is Action.UPGRADE_TIMEOUT
    assert session.state is State.OPEN
    assert session.transport == "polling"
    assert session.deadline == T0 + INTERVAL
    assert session.can_upgrade("websocket") is True


def test_old_transport_keeps_working_during_upgrade() -> None:
    session = make()
    session.start_upgrade(T0 + 1)
    assert session.receive(MESSAGE, "x", T0 + 2) is Action.MESSAGE
    assert session.receive(PONG, "", T0 + 2) is Action.NONE
    assert session.state is State.UPGRADING


def test_heartbeat_runs_during_upgrade() -> None:
    session = make(upgrade_timeout=60.0)
    session.start_upgrade(T0 + 1)
    assert session.deadline == T0 + INTERVAL
    assert session.tick(T0 + INTERVAL) is Action.SEND_PING
    assert session.deadline == T0 + INTERVAL + TIMEOUT
    assert session.tick(T0 + INTERVAL + TIMEOUT) is Action.PING_TIMEOUT


def test_abort_upgrade_reopens() -> None:
    session = make()
    session.start_upgrade(T0 + 1)
    session.abort_upgrade()
    assert session.state is State.OPEN
    assert session.deadline == T0 + INTERVAL


def test_upgrade_deadline_before_ping_deadline() -> None:
    session = make()
    session.start_upgrade(T0 + INTERVAL - 5.0)
    assert session.deadline == T0 + INTERVAL  # ping first
    assert session.tick(T0 + INTERVAL) is Action.SEND_PING
    assert session.deadline == T0 + INTERVAL - 5.0 + UPGRADE_TIMEOUT
    assert session.tick(session.deadline) is Action.UPGRADE_TIMEOUT
    assert session.deadline == T0 + INTERVAL + TIMEOUT
