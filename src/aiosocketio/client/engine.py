"""The Engine.IO v4 client session (engine.io-client's ``Socket``).

It opens the first transport, reads the handshake, answers the server's pings (and closes
with "ping timeout" when none comes within ``pingInterval + pingTimeout``), buffers what is
written while the transport is busy, and upgrades from long-polling to WebSocket by probing
(``2probe`` / ``3probe``), pausing the polling transport, then sending the ``5`` upgrade
packet on the new one.

The owner (the Manager) hears of it through an :class:`EngineListener`; user code may also
listen to the engine's own events: ``open``, ``handshake``, ``packet``, ``ping``, ``drain``,
``flush``, ``upgrading``, ``upgrade``, ``upgradeError``, ``error`` and ``close``.
"""

from __future__ import annotations

import asyncio
import math
import ssl as _ssl
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

from .. import _json
from ..engineio.packets import MESSAGE, NOOP, OPEN, PING, PONG, UPGRADE
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


class EngineListener(Protocol):
    def on_engine_open(self, engine: Engine) -> None: ...
    def on_engine_data(self, engine: Engine, data: str | bytes) -> None: ...
    def on_engine_ping(self, engine: Engine) -> None: ...
    def on_engine_error(self, engine: Engine, error: Exception) -> None: ...
    def on_engine_close(self, engine: Engine, reason: str, description: Any) -> None: ...


class Engine(Emitter):
    """One Engine.IO session with a server."""

    prior_websocket_success: ClassVar[bool] = False

    __slots__ = (
        "_after_drain",
        "_after_upgrade",
        "_close_timer",
        "_closed",
        "_loop",
        "_ping_deadline",
        "_ping_timer",
        "_prev_len",
        "_probes",
        "_tasks",
        "id",
        "listener",
        "max_payload",
        "options",
        "ping_interval",
        "ping_timeout",
        "ready_state",
        "remember_upgrade",
        "transport",
        "transports",
        "try_all_transports",
        "upgrade",
        "upgrades",
        "upgrading",
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
        for name in transports:
            if name not in TRANSPORTS:
                raise ValueError(f"unknown transport {name!r}")
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
        self.transports = list(transports)
        self.try_all_transports = try_all_transports
        self.upgrade = upgrade
        self.remember_upgrade = remember_upgrade
        self.listener = listener
        self.ready_state = "closed"
        self.id: str | None = None
        self.transport: Transport | None = None
        self.upgrades: list[str] = []
        self.upgrading = False
        self.write_buffer: list[OutPacket] = []
        self.ping_interval = -1.0
        self.ping_timeout = -1.0
        self.max_payload = 0
        self._prev_len = 0
        self._ping_timer: asyncio.TimerHandle | None = None
        self._ping_deadline = math.inf
        self._loop: asyncio.AbstractEventLoop | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._after_drain = False
        self._after_upgrade = False
        self._probes: list[_Probe] = []
        self._tasks = TaskSet(log)
        self._closed = asyncio.Event()

    def __repr__(self) -> str:
        name = self.transport.name if self.transport is not None else None
        return f"<Engine id={self.id!r} {self.ready_state} transport={name!r}>"

    def _task_set(self) -> TaskSet:
        return self._tasks

    # ------------------------------------------------------------------ opening
    def open(self) -> None:
        """Start connecting (call once, from the event loop)."""
        if not self.transports:
            loop = asyncio.get_running_loop()
            loop.call_soon(self._emit_error, TransportError("No transports available"))
            return
        name = self.transports[0]
        remembered = self.remember_upgrade and Engine.prior_websocket_success
        if remembered and "websocket" in self.transports:
            name = "websocket"
        self.ready_state = "opening"
        transport = self._create_transport(name)
        self._set_transport(transport)
        transport.open()

    def _create_transport(self, name: str) -> Transport:
        query = {"sid": self.id} if self.id else {}
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
        if self.ready_state not in ("opening", "open", "closing"):
            return
        listeners = self._listeners
        if listeners:
            self._emit_reserved("packet", kind, data)
        if kind == MESSAGE:
            if self.listener is not None:
                self.listener.on_engine_data(self, data)
            if listeners:
                self._emit_reserved("message", data)
        elif kind == PING:
            self._send_packet(PONG)
            if self.listener is not None:
                self.listener.on_engine_ping(self)
            self._emit_reserved("ping")
            self._reset_ping_timeout()
        elif kind == OPEN:
            self._on_handshake(data)
        elif kind != NOOP:
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
            if self._after_drain:
                self._after_drain = False
                if self.upgrading:
                    self._after_upgrade = True
                else:
                    self._force_close()
        else:
            self.flush()

    # ------------------------------------------------------------------ handshake
    def _on_handshake(self, data: str | bytes) -> None:
        try:
            info = _json.loads(data)
            sid = info["sid"]
            upgrades = info.get("upgrades") or []
            ping_interval = float(info["pingInterval"]) / 1000
            ping_timeout = float(info["pingTimeout"]) / 1000
            max_payload = int(info.get("maxPayload") or 0)
            if not isinstance(sid, str) or not isinstance(upgrades, list):
                raise TypeError("bad handshake types")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self._on_error(TransportError("invalid handshake", exc))
            return
        self._emit_reserved("handshake", info)
        self.id = sid
        assert self.transport is not None
        self.transport.query["sid"] = sid
        self.upgrades = [name for name in upgrades if name in self.transports]
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_payload = max_payload
        self._on_open()
        if self.ready_state == "closed":
            return
        self._reset_ping_timeout()

    def _on_open(self) -> None:
        self.ready_state = "open"
        assert self.transport is not None
        Engine.prior_websocket_success = self.transport.name == "websocket"
        if self.listener is not None:
            self.listener.on_engine_open(self)
        self._emit_reserved("open")
        self.flush()
        if self.ready_state == "open" and self.upgrade:
            for name in self.upgrades:
                if name != self.transport.name:
                    self._probe(name)

    # ------------------------------------------------------------------ heartbeat
    def _reset_ping_timeout(self) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
        delay = self.ping_interval + self.ping_timeout
        loop = self._loop = asyncio.get_running_loop()
        self._ping_deadline = loop.time() + delay
        self._ping_timer = loop.call_later(delay, self._on_close, DisconnectReason.PING_TIMEOUT)

    def has_ping_expired(self) -> bool:
        """True once the server's ping is overdue (the session then closes soon)."""
        deadline = self._ping_deadline
        if not deadline:
            return True
        loop = self._loop
        if loop is None:  # no ping expected yet
            return False
        if loop.time() > deadline:
            self._ping_deadline = 0
            loop.call_soon(self._on_close, DisconnectReason.PING_TIMEOUT)
            return True
        return False

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
        if self.ready_state in ("closing", "closed"):
            return
        self.write_buffer.append((kind, data, compress))
        transport = self.transport
        if transport is not None and transport.writable:  # else the drain flushes
            self.flush()

    def flush(self) -> None:
        transport = self.transport
        if (
            self.ready_state != "closed"
            and transport is not None
            and transport.writable
            and not self.upgrading
            and self.write_buffer
        ):
            packets = self._writable_packets(transport)
            self._prev_len = len(packets)
            transport.send(packets)
            if self._listeners:
                self._emit_reserved("flush")

    def _writable_packets(self, transport: Transport) -> list[OutPacket]:
        buffer = self.write_buffer
        if not self.max_payload or transport.name != "polling" or len(buffer) <= 1:
            return list(buffer)
        size = 1
        for i, (_, data, _) in enumerate(buffer):
            if isinstance(data, str):
                size += len(data.encode())
            else:
                size += 1 + 4 * ((len(data) + 2) // 3)
            if i > 0 and size > self.max_payload:
                return buffer[:i]
            size += 2
        return list(buffer)

    # ------------------------------------------------------------------ upgrade
    def _probe(self, name: str) -> None:
        Engine.prior_websocket_success = False
        probe = _Probe(self, self._create_transport(name))
        self._probes.append(probe)
        probe.start()

    def _upgrade_settled(self) -> None:
        if self._after_upgrade:
            self._after_upgrade = False
            self._force_close()

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        """Close the session once what is buffered is written (and an upgrade is over)."""
        if self.ready_state not in ("opening", "open"):
            return
        self.ready_state = "closing"
        if self.write_buffer:
            self._after_drain = True
        elif self.upgrading:
            self._after_upgrade = True
        else:
            self._force_close()
            return
        self._close_timer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self._force_close)

    def _force_close(self) -> None:
        self._on_close(DisconnectReason.FORCED_CLOSE)

    def _on_error(self, error: Exception) -> None:
        Engine.prior_websocket_success = False
        opening = self.ready_state == "opening" and self.id is None
        if self.try_all_transports and opening and len(self.transports) > 1:
            # as engine.io-client's tryAllTransports: on to the next transport, quietly
            log.debug("transport %s failed (%s): trying the next one", self.transports[0], error)
            del self.transports[0]
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
        if self.ready_state not in ("opening", "open", "closing"):
            return
        log.debug("engine %s closed: %s", self.id, reason)
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
        self.ready_state = "closed"
        self.id = None
        for probe in list(self._probes):
            probe.fail("socket closed", quiet=True)
        self.upgrading = False
        self._after_drain = self._after_upgrade = False
        if self.listener is not None:
            self.listener.on_engine_close(self, reason, description)
        self._emit_reserved("close", reason, description)
        self.write_buffer = []
        self._prev_len = 0
        self._closed.set()

    async def wait_closed(self) -> None:
        """Wait until the session is closed and its tasks and connections are gone."""
        if self.ready_state != "closed":
            await self._closed.wait()
        await self._tasks.wait()

    def abort(self) -> None:
        """Cancel the tasks of this session (it is closed already)."""
        self._tasks.cancel()


class _Probe:
    """Tries a transport for an upgrade: ``2probe`` must come back as ``3probe``."""

    __slots__ = ("answered", "engine", "failed", "pending", "transport")

    def __init__(self, engine: Engine, transport: Transport) -> None:
        self.engine = engine
        self.transport = transport
        self.failed = False
        self.answered = False
        self.pending: list[tuple[int, str | bytes]] = []

    def start(self) -> None:
        self.transport.handler = self
        self.transport.open()

    def on_transport_open(self, transport: Transport) -> None:
        if not self.failed:
            transport.send([(PING, "probe", True)])

    def on_transport_packet(self, transport: Transport, kind: int, data: str | bytes) -> None:
        if self.failed:
            return
        if self.answered:
            self.pending.append((kind, data))
            return
        self.answered = True
        engine = self.engine
        if kind == PONG and data == "probe":
            engine.upgrading = True
            engine._emit_reserved("upgrading", transport)
            Engine.prior_websocket_success = transport.name == "websocket"
            engine._tasks.spawn(self._switch(), "upgrade")
        else:
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
        if self.failed or engine.ready_state == "closed" or engine.transport is not old:
            return
        transport = self.transport
        engine._probes.remove(self)
        engine._set_transport(transport)
        old.discard()
        transport.send([(UPGRADE, "", True)])
        engine.upgrading = False
        log.debug("engine %s upgraded to %s", engine.id, transport.name)
        engine._emit_reserved("upgrade", transport)
        for kind, data in self.pending:
            engine.on_transport_packet(transport, kind, data)
        self.pending = []
        engine.flush()
        engine._upgrade_settled()

    def fail(self, message: str, quiet: bool = False) -> None:
        if self.failed:
            return
        self.failed = True
        engine = self.engine
        if self in engine._probes:
            engine._probes.remove(self)
        self.transport.handler = None
        self.transport.close()
        if quiet:
            return
        was_upgrading = engine.upgrading
        engine.upgrading = False
        error = TransportError(message)
        log.debug("upgrade of engine %s failed: %s", engine.id, message)
        engine._emit_reserved("upgradeError", error)
        if was_upgrading and engine.transport is not None:
            # the paused transport goes on (Node leaves it paused; polling again is kinder)
            engine.transport.resume()
            engine.flush()
        engine._upgrade_settled()
