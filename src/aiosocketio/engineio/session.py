"""The Engine.IO v4 server session as a state machine, driven by ``now`` arguments.

The session knows nothing of sockets or timers. The I/O layer feeds it the packets it
receives and the current time, asks it when to wake it up (:attr:`Session.deadline`) and does
what it returns: send a ping, close for a ping timeout, give up an upgrade.

Heartbeat (server-initiated in v4): ``ping_interval`` after the session opened or after the
last pong, the server sends a ping; if no pong arrives within ``ping_timeout`` after that
ping, the session is dead.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from .. import _json
from ..errors import ProtocolError
from .packets import CLOSE, MESSAGE, NOOP, OPEN, PING, PONG, UPGRADE

__all__ = ["Action", "EngineConfig", "Session", "State"]


@dataclass(slots=True)
class EngineConfig:
    """Engine.IO options that sessions read. Times are in seconds."""

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    upgrade_timeout: float = 10.0
    max_payload: int = 1_000_000
    transports: tuple[str, ...] = ("polling", "websocket")
    allow_upgrades: bool = True
    extra: dict[str, object] = field(default_factory=dict)

    def upgrades_for(self, transport: str) -> list[str]:
        if transport == "polling" and self.allow_upgrades and "websocket" in self.transports:
            return ["websocket"]
        return []


class State(enum.IntEnum):
    OPEN = 1
    UPGRADING = 2
    CLOSED = 3


class Action(enum.IntEnum):
    """What the I/O layer must do after a call."""

    NONE = 0
    SEND_PING = 1  # send a ping packet ("2")
    PING_TIMEOUT = 2  # close the session, reason "ping timeout"
    UPGRADE_TIMEOUT = 3  # give up the pending upgrade (close the new transport)
    MESSAGE = 4  # deliver the data to the application
    CLOSE = 5  # the peer closed the session, reason "transport close"
    PROBE = 6  # answer "3probe" on the new transport, send a noop to the old one
    UPGRADED = 7  # switch to the new transport, flush the buffer there
    SEND_PONG = 8  # answer a client's ping with a pong ("3"): Engine.IO v3 only


class Session:
    """One Engine.IO session, server side."""

    protocol = 4  # Engine.IO revision (SessionV3: 3)

    __slots__ = (
        "_ping_at",
        "_pong_deadline",
        "_upgrade_deadline",
        "config",
        "sid",
        "state",
        "transport",
    )

    def __init__(self, sid: str, transport: str, config: EngineConfig, now: float) -> None:
        self.sid = sid
        self.transport = transport
        self.config = config
        self.state = State.OPEN
        self._ping_at = now + config.ping_interval
        self._pong_deadline = math.inf
        self._upgrade_deadline = math.inf

    # ------------------------------------------------------------------------- handshake
    def open_packet(self) -> str:
        """The OPEN packet ("0{...}") that starts the session."""
        cfg = self.config
        return f"{OPEN}" + _json.dumps(
            {
                "sid": self.sid,
                "upgrades": cfg.upgrades_for(self.transport),
                "pingInterval": round(cfg.ping_interval * 1000),
                "pingTimeout": round(cfg.ping_timeout * 1000),
                "maxPayload": cfg.max_payload,
            }
        )

    # ------------------------------------------------------------------------- time
    @property
    def deadline(self) -> float:
        """When :meth:`tick` must be called next (math.inf when closed)."""
        if self.state is State.CLOSED:
            return math.inf
        return min(self._ping_at, self._pong_deadline, self._upgrade_deadline)

    def tick(self, now: float) -> Action:
        """Advance the clock. Call again while it returns something other than NONE."""
        if self.state is State.CLOSED:
            return Action.NONE
        if now >= self._upgrade_deadline:
            self._upgrade_deadline = math.inf
            self.state = State.OPEN
            return Action.UPGRADE_TIMEOUT
        if now >= self._pong_deadline:
            self.state = State.CLOSED
            return Action.PING_TIMEOUT
        if now >= self._ping_at:
            self._ping_at = math.inf
            self._pong_deadline = now + self.config.ping_timeout
            return Action.SEND_PING
        return Action.NONE

    # ------------------------------------------------------------------------- packets
    def receive(self, kind: int, data: str | bytes, now: float) -> Action:
        """A packet from the peer on the session's current transport."""
        if kind == MESSAGE:
            return Action.MESSAGE if self.state is not State.CLOSED else Action.NONE
        if kind == PONG:
            self._pong_deadline = math.inf
            self._ping_at = now + self.config.ping_interval
            return Action.NONE
        if kind == CLOSE:
            self.state = State.CLOSED
            return Action.CLOSE
        if kind == NOOP:
            return Action.NONE
        if kind == PING:
            raise ProtocolError("invalid heartbeat direction")
        raise ProtocolError(f"unexpected packet type {kind}")

    # ------------------------------------------------------------------------- upgrade
    def can_upgrade(self, transport: str) -> bool:
        return (
            self.state is State.OPEN
            and self.transport != transport
            and transport in self.config.upgrades_for(self.transport)
        )

    def start_upgrade(self, now: float) -> None:
        if self.state is not State.OPEN:
            raise ProtocolError("upgrade not possible", remote=True)
        self.state = State.UPGRADING
        self._upgrade_deadline = now + self.config.upgrade_timeout

    def receive_upgrading(self, kind: int, data: str | bytes) -> Action:
        """A packet on the transport being upgraded to (the probe, then the upgrade)."""
        if self.state is not State.UPGRADING:
            raise ProtocolError("no upgrade in progress")
        if kind == PING and data == "probe":
            return Action.PROBE
        if kind == UPGRADE:
            self.state = State.OPEN
            self._upgrade_deadline = math.inf
            self.transport = "websocket"
            return Action.UPGRADED
        raise ProtocolError("invalid packet during upgrade")

    def abort_upgrade(self) -> None:
        if self.state is State.UPGRADING:
            self.state = State.OPEN
            self._upgrade_deadline = math.inf

    def close(self) -> None:
        self.state = State.CLOSED
