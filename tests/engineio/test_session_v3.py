"""The Engine.IO v3 heartbeat (socket.io-client 2.x): the client pings, the server answers,
and closes a session whose client stopped pinging. Driven by explicit ``now`` values."""

from __future__ import annotations

import math

import pytest

from aiosocketio.engineio.packets import CLOSE, MESSAGE, PING, PONG, UPGRADE
from aiosocketio.engineio.session import Action, EngineConfig, State
from aiosocketio.engineio.session_v3 import SessionV3
from aiosocketio.errors import ProtocolError

T0 = 1000.0
INTERVAL = 25.0
TIMEOUT = 20.0


def make(transport: str = "polling") -> SessionV3:
    return SessionV3("sid", transport, EngineConfig(INTERVAL, TIMEOUT), T0)


def test_the_server_never_pings() -> None:
    session = make()
    assert session.protocol == 3
    assert session.deadline == T0 + INTERVAL + TIMEOUT
    assert session.tick(T0 + INTERVAL) is Action.NONE
    assert session.tick(T0 + INTERVAL + TIMEOUT - 0.001) is Action.NONE


def test_a_client_ping_is_answered_and_moves_the_deadline() -> None:
    session = make()
    assert session.receive(PING, "", T0 + 10) is Action.SEND_PONG
    assert session.deadline == T0 + 10 + INTERVAL + TIMEOUT
    assert session.receive(PING, "probe", T0 + 30) is Action.SEND_PONG
    assert session.deadline == T0 + 30 + INTERVAL + TIMEOUT


def test_no_ping_within_interval_plus_timeout_is_a_ping_timeout() -> None:
    session = make()
    session.receive(PING, "", T0 + 5)
    assert session.tick(T0 + 5 + INTERVAL + TIMEOUT) is Action.PING_TIMEOUT
    assert session.state is State.CLOSED
    assert session.deadline == math.inf


def test_other_packets_do_not_move_the_deadline() -> None:
    session = make()
    assert session.receive(MESSAGE, "0", T0 + 40) is Action.MESSAGE
    assert session.deadline == T0 + INTERVAL + TIMEOUT


def test_a_pong_from_the_client_breaks_the_protocol() -> None:
    with pytest.raises(ProtocolError, match="heartbeat direction"):
        make().receive(PONG, "", T0)


def test_a_ping_after_the_close_is_ignored() -> None:
    session = make()
    assert session.receive(CLOSE, "", T0) is Action.CLOSE
    assert session.receive(PING, "", T0 + 1) is Action.NONE


def test_the_upgrade_is_the_v4_one_and_keeps_the_heartbeat() -> None:
    session = make()
    session.start_upgrade(T0 + 1)
    assert session.receive_upgrading(PING, "probe") is Action.PROBE
    assert session.receive_upgrading(UPGRADE, "") is Action.UPGRADED
    assert session.transport == "websocket"
    # (socket.io 4.8 stops watching an upgraded v3 session's heartbeat; we do not)
    assert session.tick(T0 + INTERVAL + TIMEOUT) is Action.PING_TIMEOUT
