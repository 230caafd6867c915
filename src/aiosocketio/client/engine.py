"""The Engine.IO v4 client session (engine.io-client's ``Socket``).

It opens the first transport, reads the handshake, answers the server's pings (and closes
with "ping timeout" when none comes within ``pingInterval + pingTimeout``), buffers what is
written while the transport is busy, and upgrades from long-polling to WebSocket by probing
(``2probe`` / ``3probe``), pausing the polling transport, then sending the ``5`` upgrade
packet on the new one.

The rules (the handshake, the heartbeat's deadline, which transport to open and to probe, the
probe's steps, the closing transitions) are the sans-I/O
:class:`~aiosocketio.engineio.client_session.ClientSession`'s; the engine does the I/O it
asks for: transports, tasks, timers and events.

The owner (the Manager) hears of it through an :class:`EngineListener`; user code may also
listen to the engine's own events: ``open``, ``handshake``, ``packet``, ``ping``, ``drain``,
``flush``, ``upgrading``, ``upgrade``, ``upgradeError``, ``error`` and ``close``.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar, cast, overload

from ..engineio.client_session import (
    Action,
    ClientSession,
    Probe,
    State,
    UpgradeMemory,
)
from ..engineio.packets import MESSAGE, PONG, UPGRADE
from ..errors import ProtocolError
from ..reasons import DisconnectReason
from .cookies import CookieJar
from .events import Emitter, TaskSet, log
from .http import Target
from .transports import (
    OutPacket,
    PollingTransport,
    Transport,
    TransportError,
    TransportOptions,
)
from .websocket import WebSocketTransport

__all__ = ["Engine", "EngineListener", "TransportError"]

TRANSPORTS: dict[str, type[Transport]] = {
    "polling": PollingTransport,
    "websocket": WebSocketTransport,
}

CLOSE_TIMEOUT = 5.0
"""How long a close waits for buffered packets to be written before it gives up on them."""

UPGRADES = UpgradeMemory()
"""The servers whose last connection worked over WebSocket (``remember_upgrade``), per server
URL: clients of other servers do not change what a client remembers."""

T = TypeVar("T")

_CLOSING = State.CLOSING
_CLOSED = State.CLOSED


def server_key(target: Target) -> str:
    """The key of a server in :data:`UPGRADES`: its Engine.IO URL without the query."""
    scheme = "https" if target.secure else "http"
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"{scheme}://{host}:{target.port}{target.path}"


class EngineListener(Protocol):
    def on_engine_open(self, engine: Engine) -> None: ...
    def on_engine_data(self, engine: Engine, data: str | bytes) -> None: ...
    def on_engine_ping(self, engine: Engine) -> None: ...
    def on_engine_error(self, engine: Engine, error: Exception) -> None: ...
    def on_engine_close(self, engine: Engine, reason: str, description: Any) -> None: ...


class _SessionValue(Generic[T]):
    """A read-only attribute of the engine that is its session's (``engine.id`` is
    ``engine.session.sid``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, engine: None, owner: type[Engine]) -> _SessionValue[T]: ...
    @overload
    def __get__(self, engine: Engine, owner: type[Engine]) -> T: ...
    def __get__(self, engine: Engine | None, owner: type[Engine]) -> T | _SessionValue[T]:
        if engine is None:
            return self
        return cast(T, getattr(engine.session, self.name))


class _EngineType(type):
    @property
    def prior_websocket_success(cls) -> bool:
        """The last outcome remembered for ``remember_upgrade``, whichever the server (it was
        the one flag of the process; the engines now read the memory of their server)."""
        return UPGRADES.latest


class Engine(Emitter, metaclass=_EngineType):
    """One Engine.IO session with a server."""

    __slots__ = (
        "_close_timer",
        "_closed",
        "_loop",
        "_ping_timer",
        "_prev_len",
        "_probes",
        "_tasks",
        "listener",
        "options",
        "session",
        "transport",
        "write_buffer",
    )

    def __init__(
        self,
        target: Target,
        *,
        query: dict[str, str] | None = None,
        headers: Sequence[tuple[str, str]] = (),
        transports: Sequence[str] = ("polling", "websocket"),
        upgrade: bool = True,
        remember_upgrade: bool = False,
        ssl: _ssl.SSLContext | None = None,
        connect_timeout: float = 20.0,
        per_message_deflate: bool = True,
        timestamp_requests: bool = True,
        with_credentials: bool = False,
        try_all_transports: bool = False,
        listener: EngineListener | None = None,
    ) -> None:
        super().__init__()
        self.session = ClientSession(
            transports,
            upgrade=upgrade,
            remember_upgrade=remember_upgrade,
            try_all_transports=try_all_transports,
            server=server_key(target),
            memory=UPGRADES,
        )
        self.options = TransportOptions(
            target=target,
            query=dict(query or {}),
            headers=list(headers),
            ssl=ssl,
            connect_timeout=connect_timeout,
            per_message_deflate=per_message_deflate,
            timestamp_requests=timestamp_requests,
            cookies=CookieJar() if with_credentials else None,
        )
        self.listener = listener
        self.transport: Transport | None = None
        self.write_buffer: list[OutPacket] = []
        self._prev_len = 0
        self._ping_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._probes: list[_Probe] = []
        self._tasks = TaskSet(log)
        self._closed = asyncio.Event()

    def __repr__(self) -> str:
        name = self.transport.name if self.transport is not None else None
        return f"<Engine id={self.id!r} {self.ready_state} transport={name!r}>"

    def _task_set(self) -> TaskSet:
        return self._tasks

    # ------------------------------------------------------------------ the session's values
    @property
    def ready_state(self) -> str:
        """engine.io-client's ``readyState``: "opening", "open", "closing" or "closed"."""
        return self.session.state.ready_state

    @property
    def state(self) -> State:
        """The session's state (``ready_state`` as an enum)."""
        return self.session.state

    id = _SessionValue[str | None]("sid")
    """The session id (None until the handshake and after the close)."""
    upgrades = _SessionValue[list[str]]("upgrades")
    upgrading = _SessionValue[bool]("upgrading")
    transports = _SessionValue[list[str]]("transports")
    ping_interval = _SessionValue[float]("ping_interval")
    ping_timeout = _SessionValue[float]("ping_timeout")
    max_payload = _SessionValue[int]("max_payload")
    upgrade = _SessionValue[bool]("upgrade")
    remember_upgrade = _SessionValue[bool]("remember_upgrade")
    try_all_transports = _SessionValue[bool]("try_all_transports")

    @property
    def prior_websocket_success(self) -> bool:
        """The last connection to this engine's server worked over WebSocket."""
        return self.session.memory.websocket_worked(self.session.server)

    # ------------------------------------------------------------------ opening
    def open(self) -> None:
        """Start connecting (call once, from the event loop)."""
        name = self.session.first_transport()
        if name is None:
            loop = asyncio.get_running_loop()
            loop.call_soon(self._emit_error, TransportError("No transports available"))
            return
        transport = self._create_transport(name)
        self._set_transport(transport)
        transport.open()

    def _create_transport(self, name: str) -> Transport:
        sid = self.session.sid
        query = {"sid": sid} if sid else {}
        return TRANSPORTS[name](self.options, query, self._tasks)

    def _set_transport(self, transport: Transport) -> None:
        if self.transport is not None:
            self.transport.handler = None
        self.transport = transport
        transport.handler = self

    # ------------------------------------------------------------------ transport events
    def on_transport_open(self, transport: Transport) -> None:
        pass  # the session opens with the handshake packet

    def on_transport_packet(self, transport: Transport, kind: int, data: str | bytes) -> None:
        if transport is not self.transport:
            return
        session = self.session
        if session.state is _CLOSED:
            return
        listeners = self._listeners
        if listeners:
            self._emit_reserved("packet", kind, data)
        if kind == MESSAGE:  # what session.receive() says of a message, one call less
            if self.listener is not None:
                self.listener.on_engine_data(self, data)
            if listeners:
                self._emit_reserved("message", data)
            return
        loop = self._loop = asyncio.get_running_loop()
        try:
            action = session.receive(kind, data, loop.time())
        except ProtocolError as exc:  # a bad open packet
            self._on_error(TransportError("invalid handshake", exc.__cause__ or exc))
            return
        if action is Action.SEND_PONG:
            self._send_packet(PONG)
            if self.listener is not None:
                self.listener.on_engine_ping(self)
            self._emit_reserved("ping")
            self._reset_ping_timeout()
        elif action is Action.HANDSHAKE:
            self._on_handshake()
        elif action is Action.UNEXPECTED:
            log.debug("unexpected Engine.IO packet type %d", kind)

    def on_transport_error(self, transport: Transport, error: TransportError) -> None:
        if transport is self.transport:
            self._on_error(error)

    def on_transport_close(self, transport: Transport, description: str) -> None:
        if transport is self.transport:
            self._on_close(DisconnectReason.TRANSPORT_CLOSE, description)

    def on_transport_drain(self, transport: Transport) -> None:
        if transport is not self.transport:
            return
        del self.write_buffer[: self._prev_len]
        self._prev_len = 0
        if not self.write_buffer:
            self._emit_reserved("drain")
            session = self.session
            if session.after_drain and session.drained() is Action.CLOSE_NOW:
                self._force_close()
        else:
            self.flush()

    # ------------------------------------------------------------------ handshake
    def _on_handshake(self) -> None:
        session = self.session
        handshake = session.handshake
        assert handshake is not None and self.transport is not None and self._loop is not None
        self._emit_reserved("handshake", handshake.info)
        self.transport.query["sid"] = handshake.sid
        session.open(self._loop.time())
        if self.listener is not None:
            self.listener.on_engine_open(self)
        self._emit_reserved("open")
        self.flush()
        for name in session.upgrades_to_probe():
            self._probe(name)
        if session.state is _CLOSED:
            return
        self._reset_ping_timeout()

    # ------------------------------------------------------------------ heartbeat
    def _reset_ping_timeout(self) -> None:
        """A timer at the session's ping deadline (moved by the handshake and each ping)."""
        if self._ping_timer is not None:
            self._ping_timer.cancel()
        loop = self._loop
        assert loop is not None
        deadline = self.session.ping_deadline
        self._ping_timer = loop.call_at(deadline, self._on_close, DisconnectReason.PING_TIMEOUT)

    def has_ping_expired(self) -> bool:
        """True once the server's ping is overdue (the session then closes soon)."""
        deadline = self.session.ping_deadline
        if not deadline:
            return True
        loop = self._loop
        if loop is None or loop.time() <= deadline:  # (no ping expected yet, or in time)
            return False
        if self.session.ping_timed_out():
            loop.call_soon(self._on_close, DisconnectReason.PING_TIMEOUT)
        return True

    # ------------------------------------------------------------------ writing
    @property
    def writable(self) -> bool:
        """The transport can take packets now (volatile packets are dropped otherwise)."""
        transport = self.transport
        return transport is not None and transport.writable

    def write(self, data: str | bytes, compress: bool = True) -> None:
        """Send a message packet (buffered while the transport is busy)."""
        self._send_packet(MESSAGE, data, compress)

    send = write

    def _send_packet(self, kind: int, data: str | bytes = "", compress: bool = True) -> None:
        if self.session.state >= _CLOSING:  # packets written from then on are dropped
            return
        self.write_buffer.append((kind, data, compress))
        transport = self.transport
        if transport is not None and transport.writable:  # else the drain flushes
            self.flush()

    def flush(self) -> None:
        transport = self.transport
        session = self.session
        buffer = self.write_buffer
        if (
            session.state is not _CLOSED
            and transport is not None
            and transport.writable
            and not session.upgrading
            and buffer
        ):
            if transport.name == "polling":  # one request carries at most maxPayload bytes
                packets = buffer[: session.packets_within_max_payload(buffer)]
            else:
                packets = list(buffer)
            self._prev_len = len(packets)
            transport.send(packets)
            if self._listeners:
                self._emit_reserved("flush")

    # ------------------------------------------------------------------ upgrade
    def _probe(self, name: str) -> None:
        probe = _Probe(self, self.session.probe(name), self._create_transport(name))
        self._probes.append(probe)
        probe.start()

    def _upgrade_settled(self) -> None:
        if self.session.upgrade_settled() is Action.CLOSE_NOW:
            self._force_close()

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        """Close the session once what is buffered is written (and an upgrade is over)."""
        action = self.session.close(buffered=bool(self.write_buffer))
        if action is Action.CLOSE_NOW:
            self._force_close()
        if action is not Action.CLOSE_LATER:
            return
        self._close_timer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self._force_close)

    def _force_close(self) -> None:
        self._on_close(DisconnectReason.FORCED_CLOSE)

    def _on_error(self, error: Exception) -> None:
        failed = self.transport.name if self.transport is not None else None
        if self.session.failed() is Action.RETRY:
            # as engine.io-client's tryAllTransports: on to the next transport, quietly
            log.debug("transport %s failed (%s): trying the next one", failed, error)
            transport, self.transport = self.transport, None
            if transport is not None:
                transport.handler = None
                transport.close()
            self.open()
            return
        self._emit_error(error)
        self._on_close(DisconnectReason.TRANSPORT_ERROR, error)

    def _emit_error(self, error: Exception) -> None:
        if self.listener is not None:
            self.listener.on_engine_error(self, error)
        self._emit_reserved("error", error)

    def _on_close(self, reason: str, description: Any = None) -> None:
        session = self.session
        if session.state is _CLOSED:
            return
        log.debug("engine %s closed: %s", session.sid, reason)
        for timer in (self._ping_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._ping_timer = self._close_timer = None
        transport = self.transport
        if transport is not None:
            transport.handler = None
            if reason == DisconnectReason.FORCED_CLOSE:
                transport.close()
            else:
                transport.discard()
        session.closed()
        for probe in list(self._probes):
            probe.fail("socket closed", quiet=True)
        if self.listener is not None:
            self.listener.on_engine_close(self, reason, description)
        self._emit_reserved("close", reason, description)
        self.write_buffer = []
        self._prev_len = 0
        self._closed.set()

    async def wait_closed(self) -> None:
        """Wait until the session is closed and its tasks and connections are gone."""
        if self.session.state is not _CLOSED:
            await self._closed.wait()
        await self._tasks.wait()

    def abort(self) -> None:
        """Cancel the tasks of this session (it is closed already)."""
        self._tasks.cancel()


class _Probe:
    """Tries a transport for an upgrade: the I/O of a :class:`Probe` (its steps are the
    session's)."""

    __slots__ = ("engine", "probe", "transport")

    def __init__(self, engine: Engine, probe: Probe, transport: Transport) -> None:
        self.engine = engine
        self.probe = probe
        self.transport = transport

    def start(self) -> None:
        self.transport.handler = self
        self.transport.open()

    def on_transport_open(self, transport: Transport) -> None:
        packet = self.probe.opened()
        if packet is not None:
            transport.send([(*packet, True)])

    def on_transport_packet(self, transport: Transport, kind: int, data: str | bytes) -> None:
        engine = self.engine
        action = engine.session.probe_packet(self.probe, kind, data)
        if action is Action.UPGRADING:
            engine._emit_reserved("upgrading", transport)
            engine._tasks.spawn(self._switch(), "upgrade")
        elif action is Action.PROBE_FAILED:
            self.fail("probe error")

    def on_transport_error(self, transport: Transport, error: TransportError) -> None:
        self.fail(f"probe error: {error}")

    def on_transport_close(self, transport: Transport, description: str) -> None:
        self.fail("probe error: transport closed")

    def on_transport_drain(self, transport: Transport) -> None:
        pass

    async def _switch(self) -> None:
        engine = self.engine
        old = engine.transport
        assert old is not None
        await old.pause()
        if not engine.session.switch(self.probe, engine.transport is old):
            return
        transport = self.transport
        engine._probes.remove(self)
        engine._set_transport(transport)
        old.discard()
        transport.send([(UPGRADE, "", True)])
        log.debug("engine %s upgraded to %s", engine.id, transport.name)
        engine._emit_reserved("upgrade", transport)
        pending, self.probe.pending = self.probe.pending, []
        for kind, data in pending:
            engine.on_transport_packet(transport, kind, data)
        engine.flush()
        engine._upgrade_settled()

    def fail(self, message: str, quiet: bool = False) -> None:
        engine = self.engine
        if not engine.session.fail_probe(self.probe):
            return
        if self in engine._probes:
            engine._probes.remove(self)
        self.transport.handler = None
        self.transport.close()
        if quiet:
            return
        was_upgrading = engine.session.abandon_upgrade()
        error = TransportError(message)
        log.debug("upgrade of engine %s failed: %s", engine.id, message)
        engine._emit_reserved("upgradeError", error)
        if was_upgrading and engine.transport is not None:
            # the paused transport goes on (Node leaves it paused; polling again is kinder)
            engine.transport.resume()
            engine.flush()
        engine._upgrade_settled()
