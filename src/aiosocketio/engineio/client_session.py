"""The Engine.IO v4 client session as a state machine, driven by ``now`` arguments.

The counterpart of :mod:`.session` (the server's): it knows nothing of transports, tasks or
timers. The I/O layer (``client/engine.py``) feeds it what its transports report and the
current time, and does what it answers: deliver a message, answer a ping, wake up at
:attr:`ClientSession.ping_deadline`, probe a transport, close.

Heartbeat (server-initiated in v4): the server pings, the client answers each ping with a
pong. The session is dead when no ping came within ``pingInterval + pingTimeout`` after the
handshake or after the last ping.

Upgrade (engine.io-client): each transport the server offers beyond the current one is
probed (:class:`Probe`): ``2probe`` on the new transport must come back as ``3probe``; the
session is then *upgrading* (writes wait) until the old transport is paused and the upgrade
packet (``5``) went out on the new one.

Remembered upgrades (``rememberUpgrade``): after a connection that worked over WebSocket, the
next connection to that server starts on WebSocket. engine.io-client keeps one flag for the
whole process; here :class:`UpgradeMemory` keeps it per server.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import _json
from ..errors import ProtocolError
from .packets import MESSAGE, NOOP, OPEN, PING, PONG, Packet

__all__ = [
    "TRANSPORTS",
    "Action",
    "ClientSession",
    "Handshake",
    "Probe",
    "ProbeState",
    "State",
    "UpgradeMemory",
    "parse_open",
]

TRANSPORTS = ("polling", "websocket")
"""The transports a client session knows."""


class State(enum.IntEnum):
    """engine.io-client's ``readyState``; ordered: from CLOSING on, nothing is sent."""

    OPENING = 1
    OPEN = 2
    CLOSING = 3
    CLOSED = 4

    @property
    def ready_state(self) -> str:
        """The name engine.io-client gives it: "opening", "open", "closing", "closed"."""
        return self.name.lower()


class Action(enum.IntEnum):
    """What the I/O layer must do after a call."""

    NONE = 0
    MESSAGE = 1  # deliver the data to the layer above
    SEND_PONG = 2  # answer the server's ping with a pong ("3"); the ping deadline moved
    HANDSHAKE = 3  # the open packet arrived (:attr:`ClientSession.handshake`): call open()
    UNEXPECTED = 4  # a packet type the client does not expect (ignored)
    CLOSE_NOW = 5  # close the transport now, reason "forced close"
    CLOSE_LATER = 6  # close once the buffer is written or the upgrade is over (or a timeout)
    RETRY = 7  # the transport failed before the handshake: open the next one, quietly
    FAIL = 8  # report the error, close with the reason "transport error"
    UPGRADING = 9  # the probe was answered: pause the old transport, then switch()
    PROBE_FAILED = 10  # give up the probe ("probe error")
    BUFFER = 11  # a packet on the probed transport after its answer: keep it for the switch


# ---------------------------------------------------------------------- the open packet


@dataclass(frozen=True, slots=True)
class Handshake:
    """The server's open packet. Times in seconds; ``info`` is the packet's whole object."""

    sid: str
    upgrades: list[str]
    ping_interval: float
    ping_timeout: float
    max_payload: int
    info: dict[str, Any]


_A_YEAR = 365 * 24 * 3600.0


def parse_open(data: str | bytes) -> Handshake:
    """Read an open packet's data (``{"sid": ..., "upgrades": [...], "pingInterval": ms,
    "pingTimeout": ms, "maxPayload": bytes}``). Raises ProtocolError, caused by what was
    wrong (a missing key, a value of the wrong type, a heartbeat that is negative, not a
    number or longer than a year, a negative maxPayload)."""
    try:
        info = _json.loads(data)
        sid = info["sid"]
        upgrades = info.get("upgrades") or []
        ping_interval = float(info["pingInterval"]) / 1000
        ping_timeout = float(info["pingTimeout"]) / 1000
        max_payload = int(info.get("maxPayload") or 0)
        if not isinstance(sid, str) or not isinstance(upgrades, list):
            raise TypeError("bad handshake types")
        if not (0 <= ping_interval < _A_YEAR and 0 <= ping_timeout < _A_YEAR and max_payload >= 0):
            # NaN or infinity would never time out; a negative value is nonsense
            raise ValueError("heartbeat or maxPayload out of range")
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
        raise ProtocolError("invalid handshake") from exc
    return Handshake(sid, upgrades, ping_interval, ping_timeout, max_payload, info)


# ---------------------------------------------------------------------- remembered upgrades


class UpgradeMemory:
    """The servers whose last connection worked over WebSocket (engine.io-client's
    ``priorWebsocketSuccess``, kept per server instead of once per process). Bounded: the
    least recently successful server is forgotten beyond ``limit``."""

    __slots__ = ("_servers", "latest", "limit")

    def __init__(self, limit: int = 64) -> None:
        self.limit = limit
        self._servers: dict[str, None] = {}  # insertion order: the oldest first
        self.latest = False
        """The last outcome recorded, whichever the server."""

    def __len__(self) -> int:
        return len(self._servers)

    def remember(self, server: str, websocket: bool) -> None:
        servers = self._servers
        servers.pop(server, None)
        self.latest = websocket
        if websocket:
            servers[server] = None
            if len(servers) > self.limit:
                del servers[next(iter(servers))]

    def websocket_worked(self, server: str) -> bool:
        return server in self._servers


# ---------------------------------------------------------------------- upgrade probes


class ProbeState(enum.IntEnum):
    OPENING = 1  # the new transport is connecting
    SENT = 2  # "2probe" went out on it
    ANSWERED = 3  # "3probe" came back: the old transport pauses, the session is upgrading
    UPGRADED = 4  # the upgrade packet went out; the new transport is the session's
    FAILED = 5


class Probe:
    """The probe of one transport for an upgrade."""

    __slots__ = ("name", "pending", "state")

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = ProbeState.OPENING
        self.pending: list[Packet] = []
        """Packets that came on the new transport after the answer, for after the switch."""

    def opened(self) -> Packet | None:
        """The new transport is open: the probe packet to send on it (None once failed)."""
        if self.state is not ProbeState.OPENING:
            return None
        self.state = ProbeState.SENT
        return PING, "probe"


# ---------------------------------------------------------------------- the session


class ClientSession:
    """One Engine.IO session with a server, client side."""

    __slots__ = (
        "after_drain",
        "after_upgrade",
        "handshake",
        "max_payload",
        "memory",
        "ping_deadline",
        "ping_interval",
        "ping_timeout",
        "remember_upgrade",
        "server",
        "sid",
        "state",
        "transport",
        "transports",
        "try_all_transports",
        "upgrade",
        "upgrades",
        "upgrading",
    )

    def __init__(
        self,
        transports: Sequence[str] = TRANSPORTS,
        *,
        upgrade: bool = True,
        remember_upgrade: bool = False,
        try_all_transports: bool = False,
        server: str = "",
        memory: UpgradeMemory | None = None,
    ) -> None:
        for name in transports:
            if name not in TRANSPORTS:
                raise ValueError(f"unknown transport {name!r}")
        self.transports = list(transports)
        self.upgrade = upgrade
        self.remember_upgrade = remember_upgrade
        self.try_all_transports = try_all_transports
        self.server = server
        """The key of the server in ``memory`` (its URL)."""
        self.memory = memory if memory is not None else UpgradeMemory()
        self.state = State.CLOSED
        self.transport: str | None = None
        """The name of the current transport."""
        self.sid: str | None = None
        self.handshake: Handshake | None = None
        self.upgrades: list[str] = []
        self.upgrading = False
        self.ping_interval = -1.0
        self.ping_timeout = -1.0
        self.max_payload = 0
        self.ping_deadline = math.inf
        """When the session is dead without a ping: inf before the handshake, 0 once the
        I/O layer was told (:meth:`ping_expired`)."""
        self.after_drain = False
        """A close waits for the buffer to be written (:meth:`drained`)."""
        self.after_upgrade = False
        """A close waits for the upgrade to succeed or fail (:meth:`upgrade_settled`)."""

    @property
    def ready_state(self) -> str:
        return self.state.ready_state

    # ------------------------------------------------------------------------- opening
    def first_transport(self) -> str | None:
        """The transport to open first (None: there is none); the session is opening.
        WebSocket when ``remember_upgrade`` and the last connection to the server used it."""
        if not self.transports:
            return None
        name = self.transports[0]
        if (
            self.remember_upgrade
            and "websocket" in self.transports
            and self.memory.websocket_worked(self.server)
        ):
            name = "websocket"
        self.state = State.OPENING
        self.transport = name
        return name

    def open(self, now: float) -> None:
        """Take the handshake received (:attr:`handshake`): the session is open."""
        hs = self.handshake
        if hs is None:
            raise ProtocolError("no handshake", remote=False)
        self.sid = hs.sid
        self.upgrades = [name for name in hs.upgrades if name in self.transports]
        self.ping_interval = hs.ping_interval
        self.ping_timeout = hs.ping_timeout
        self.max_payload = hs.max_payload
        self.state = State.OPEN
        self.memory.remember(self.server, self.transport == "websocket")
        self._reset_ping_deadline(now)

    def upgrades_to_probe(self) -> list[str]:
        """The transports to probe now (after the session opened)."""
        if self.state is not State.OPEN or not self.upgrade:
            return []
        return [name for name in self.upgrades if name != self.transport]

    # ------------------------------------------------------------------------- packets
    def receive(self, kind: int, data: str | bytes, now: float) -> Action:
        """A packet on the current transport. Raises ProtocolError for a bad open packet."""
        if self.state is State.CLOSED:
            return Action.NONE
        if kind == MESSAGE:
            return Action.MESSAGE
        if kind == PING:
            self._reset_ping_deadline(now)
            return Action.SEND_PONG
        if kind == OPEN:
            self.handshake = parse_open(data)
            return Action.HANDSHAKE
        if kind == NOOP:
            return Action.NONE
        return Action.UNEXPECTED

    # ------------------------------------------------------------------------- heartbeat
    def _reset_ping_deadline(self, now: float) -> None:
        self.ping_deadline = now + self.ping_interval + self.ping_timeout

    def ping_timed_out(self) -> bool:
        """The I/O layer found ``now > ping_deadline``: True the first time (close the
        session, reason "ping timeout"), False once said."""
        if not self.ping_deadline:
            return False
        self.ping_deadline = 0
        return True

    # ------------------------------------------------------------------------- writing
    def packets_within_max_payload(self, packets: list[tuple[int, str | bytes, bool]]) -> int:
        """How many of the buffered packets one long-polling request may carry: as many as
        fit in the server's ``maxPayload`` (at least one)."""
        if not self.max_payload or len(packets) <= 1:
            return len(packets)
        size = 1
        for i, (_, data, _) in enumerate(packets):
            if isinstance(data, str):
                size += len(data.encode())
            else:
                size += 1 + 4 * ((len(data) + 2) // 3)  # "b" and base64
            if i > 0 and size > self.max_payload:
                return i
            size += 2
        return len(packets)

    # ------------------------------------------------------------------------- upgrade
    def probe(self, name: str) -> Probe:
        """Start probing a transport (WebSocket is not remembered until it answers)."""
        self.memory.remember(self.server, False)
        return Probe(name)

    def probe_packet(self, probe: Probe, kind: int, data: str | bytes) -> Action:
        """A packet on a probed transport: the answer, then packets to keep for the switch."""
        state = probe.state
        if state is ProbeState.FAILED or state is ProbeState.UPGRADED:
            return Action.NONE
        if state is ProbeState.ANSWERED:
            probe.pending.append((kind, data))
            return Action.BUFFER
        if kind == PONG and data == "probe":
            probe.state = ProbeState.ANSWERED
            self.upgrading = True
            self.memory.remember(self.server, probe.name == "websocket")
            return Action.UPGRADING
        return Action.PROBE_FAILED

    def switch(self, probe: Probe, still_current: bool) -> bool:
        """The old transport is paused: True when the probed transport takes over (then send
        the upgrade packet on it); False when the probe failed, the session closed or the
        transport changed (``still_current`` False) meanwhile."""
        if probe.state is not ProbeState.ANSWERED or self.state is State.CLOSED:
            return False
        if not still_current:
            return False
        probe.state = ProbeState.UPGRADED
        self.transport = probe.name
        self.upgrading = False
        return True

    def fail_probe(self, probe: Probe) -> bool:
        """The probe failed; False when it had failed already."""
        if probe.state is ProbeState.FAILED:
            return False
        probe.state = ProbeState.FAILED
        return True

    def abandon_upgrade(self) -> bool:
        """A failed probe was loud: True when the session was upgrading (the paused
        transport must go on)."""
        was_upgrading = self.upgrading
        self.upgrading = False
        return was_upgrading

    def upgrade_settled(self) -> Action:
        """An upgrade succeeded or failed: CLOSE_NOW when a close was waiting for it."""
        if self.after_upgrade:
            self.after_upgrade = False
            return Action.CLOSE_NOW
        return Action.NONE

    # ------------------------------------------------------------------------- closing
    def close(self, buffered: bool) -> Action:
        """Close asked for (``buffered``: packets wait to be written). NONE when the session is
        not opening or open; CLOSE_LATER to wait for the drain or the upgrade."""
        if self.state is not State.OPENING and self.state is not State.OPEN:
            return Action.NONE
        self.state = State.CLOSING
        if buffered:
            self.after_drain = True
        elif self.upgrading:
            self.after_upgrade = True
        else:
            return Action.CLOSE_NOW
        return Action.CLOSE_LATER

    def drained(self) -> Action:
        """The buffer is written: CLOSE_NOW when a close waited for it (and no upgrade)."""
        if not self.after_drain:
            return Action.NONE
        self.after_drain = False
        if self.upgrading:
            self.after_upgrade = True
            return Action.NONE
        return Action.CLOSE_NOW

    def failed(self) -> Action:
        """The current transport failed: RETRY the next transport (``try_all_transports``,
        before the handshake; the failed one is dropped from :attr:`transports`), else FAIL."""
        self.memory.remember(self.server, False)
        opening = self.state is State.OPENING and self.sid is None
        if self.try_all_transports and opening and len(self.transports) > 1:
            del self.transports[0]
            return Action.RETRY
        return Action.FAIL

    def closed(self) -> bool:
        """The session ends (any reason); False when it was not opening, open or closing."""
        if self.state is State.CLOSED:
            return False
        self.state = State.CLOSED
        self.sid = None
        self.upgrading = False
        self.after_drain = self.after_upgrade = False
        return True
