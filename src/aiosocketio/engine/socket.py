"""One Engine.IO session on asyncio: its transport (long-polling or WebSocket), its write
buffer, its heartbeat timer, and the upgrade from long-polling to WebSocket."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..engineio.outgoing import Outgoing
from ..engineio.packets import (
    MESSAGE,
    NOOP,
    PONG,
    Packet,
    decode_packet,
    decode_payload,
    encode_payload,
    message_packets,
)
from ..engineio.session import Action, Session, State
from ..errors import ProtocolError
from ..reasons import DisconnectReason
from ..runtime import Listeners
from .http import BAD_REQUEST, Request, Responder, compress_body

if TYPE_CHECKING:
    from .server import EngineServer

__all__ = ["EngineSocket", "Handler", "Outgoing", "WebSocketConnection", "notify_closed"]

log = logging.getLogger("aiosocketio.engine")

POLL_HEADERS_TEXT = "text/plain; charset=UTF-8"

PACKET_NAMES = ("open", "close", "ping", "pong", "message", "upgrade", "noop")
CONN_EVENTS = frozenset(("packet", "packetCreate", "heartbeat", "upgrading", "upgrade", "close"))
"""The events of :meth:`EngineSocket.on` (Node's names)."""

F = TypeVar("F", bound=Callable[..., Any])


class WebSocketConnection(Protocol):
    """What a front door provides for one accepted WebSocket."""

    receiver: Any

    def send_text(self, data: str) -> None: ...
    def send_bytes(self, data: bytes) -> None: ...
    def send_outgoing(self, out: Outgoing) -> None: ...
    def buffered_amount(self) -> int: ...
    def close(self, code: int | None = 1000, reason: str = "") -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...


def notify_closed(conn: WebSocketConnection, error: bool) -> None:
    """Tell the receiver of a front door's WebSocket that it closed (once: it is let go)."""
    receiver, conn.receiver = conn.receiver, None
    if receiver is not None:
        try:
            receiver.on_ws_close(error=error)
        except Exception:
            log.exception("error in WebSocket close handler")


class Handler(Protocol):
    """The layer above Engine.IO (the Socket.IO client object)."""

    def on_message(self, data: str | bytes) -> None: ...
    def on_close(self, reason: str, description: str | None) -> None: ...


class EngineSocket:
    """One Engine.IO session (Engine.IO v4; :class:`~aiosocketio.engine.socket_v3.EngineSocketV3`
    speaks v3)."""

    protocol = 4
    """The Engine.IO revision the client speaks (Node: ``socket.conn.protocol``)."""

    __slots__ = (
        "_buffer",
        "_buffer_size",
        "_closing",
        "_flush_handle",
        "_held",
        "_listeners",
        "_poll",
        "_poll_request",
        "_probed",
        "_read_paused",
        "_timer",
        "_upgrade",
        "handler",
        "request",
        "server",
        "session",
        "ws",
    )

    def __init__(self, server: EngineServer, session: Session, request: Request) -> None:
        self.server = server
        self.session = session
        self.request = request
        self.handler: Handler | None = None
        # the session's WebSocket once it is its transport; the one being probed while the
        # session upgrades from long-polling: never both (writes go to ``ws`` when it is set)
        self.ws: WebSocketConnection | None = None
        self._upgrade: WebSocketConnection | None = None
        self._probed: WebSocketConnection | None = None
        self._buffer: list[str | bytes] = []
        self._buffer_size = 0
        self._poll: Responder | None = None
        self._held: tuple[Responder, list[tuple[str, str]]] | None = None
        self._read_paused = False
        self._poll_request = request
        self._flush_handle: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False
        self._listeners: Listeners | None = None

    # ------------------------------------------------------------------ events
    def on(self, event: str, handler: F | None = None) -> Any:
        """Listen to the session (Node: ``socket.conn.on(...)``): ``"packet"`` and
        ``"packetCreate"`` (``handler({"type": ..., "data": ...})``, each packet received /
        sent), ``"heartbeat"`` (a pong received), ``"upgrading"`` and ``"upgrade"``
        (``handler("websocket")``), ``"close"`` (``handler(reason, description)``).
        Usable as a decorator."""
        return self._add(event, handler, False)

    def once(self, event: str, handler: F | None = None) -> Any:
        """As :meth:`on`, for the next time only."""
        return self._add(event, handler, True)

    def off(self, event: str, handler: Callable[..., Any] | None = None) -> None:
        """Remove a listener of ``event`` (all of them without ``handler``)."""
        if self._listeners is not None:
            self._listeners.remove(event, handler)

    def _add(self, event: str, handler: F | None, once: bool) -> Any:
        if event not in CONN_EVENTS:
            raise ValueError(f"unknown event {event!r} (one of {sorted(CONN_EVENTS)})")

        def register(func: F) -> F:
            if self._listeners is None:
                self._listeners = Listeners()
                # from now on the packet paths report to the listeners; the others pay nothing
                self.__class__ = self._observed_class()
            self._listeners.add(event, func, once)
            return func

        return register if handler is None else register(handler)

    def _emit(self, event: str, *args: Any) -> None:
        if self._listeners and event in self._listeners:
            self._listeners.emit(event, *args, where=f" of session {self.sid}", log=log)

    @classmethod
    def _observed_class(cls) -> type[EngineSocket]:
        return _ObservedEngineSocket

    @staticmethod
    def _write_ws(ws: WebSocketConnection, packets: list[str | bytes]) -> None:
        for p in packets:
            if type(p) is str:
                ws.send_text(p)
            else:
                ws.send_bytes(p)  # type: ignore[arg-type]

    def _sent(self, packets: list[str | bytes]) -> None:
        for p in packets:
            self._emit("packetCreate", _packet(p))

    # ------------------------------------------------------------------ properties
    @property
    def sid(self) -> str:
        return self.session.sid

    @property
    def transport(self) -> str:
        return self.session.transport

    @property
    def closed(self) -> bool:
        return self.session.state is State.CLOSED

    @property
    def upgrading(self) -> bool:
        return self.session.state is State.UPGRADING

    # ------------------------------------------------------------------ sending
    def send_message(self, data: str | bytes) -> None:
        """Send one Engine.IO message (text or binary)."""
        if type(data) is str:
            ws = self.ws
            if ws is not None:  # the hot path: an event, an ack
                ws.send_text("4" + data)
            else:
                self.write_text("4" + data)
        else:
            self.write_packets([data])

    def send_messages(self, messages: list[str | bytes]) -> None:
        """Send several Engine.IO messages in order (a packet and its binary attachments);
        the list is turned into packets in place."""
        self.write_packets(message_packets(messages))

    def write_text(self, packet: str) -> None:
        """Send one encoded text packet (type digit included)."""
        ws = self.ws
        if ws is not None:
            ws.send_text(packet)
            return
        if self.session.state is State.CLOSED:
            return
        self._buffer.append(packet)
        self._buffer_size += len(packet)
        self._buffered()

    def write_packets(self, packets: list[str | bytes]) -> None:
        """Send encoded packets: ``str`` text packets, ``bytes`` binary messages."""
        ws = self.ws
        if ws is not None:
            self._write_ws(ws, packets)
            return
        if self.session.state is State.CLOSED:
            return
        self._buffer.extend(packets)
        self._buffer_size += sum(len(p) for p in packets)
        self._buffered()

    def write_outgoing(self, out: Outgoing) -> bool:
        """Send packets shared with other sessions. False if dropped (volatile, busy peer)."""
        ws = self.ws
        if ws is not None:
            if out.volatile and ws.buffered_amount() > 0:
                return False
            ws.send_outgoing(out)
            return True
        if self.session.state is State.CLOSED:
            return False
        if out.volatile and not self.writable:
            return False
        self._buffer.extend(out.packets)
        self._buffer_size += out.size
        self._buffered()
        return True

    @property
    def writable(self) -> bool:
        """Whether a packet written now leaves at once: a volatile packet is dropped when not
        (Node: ``transport.writable``). WebSocket: nothing is waiting to be written.
        Long-polling: a GET is waiting and nothing is queued for it yet."""
        ws = self.ws
        if ws is not None:
            return ws.buffered_amount() == 0
        return self._poll is not None and not self._buffer and not self.closed

    def buffered_amount(self) -> int:
        """Bytes written but not yet handed to the network."""
        ws = self.ws
        if ws is not None:
            return ws.buffered_amount()
        return self._buffer_size

    def _buffered(self) -> None:
        if self._buffer_size > self.server.max_buffer_size:
            log.info("session %s: write buffer over limit, closing", self.sid)
            self._terminate(DisconnectReason.TRANSPORT_ERROR, "write buffer over limit")
            return
        if self._poll is not None and self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush_poll)

    # ------------------------------------------------------------------ long-polling
    def handle_poll(self, request: Request, responder: Responder) -> None:
        """A long-polling GET."""
        if self._poll is not None:
            self.server.respond_error(request, responder, BAD_REQUEST, 400)
            self._terminate(DisconnectReason.TRANSPORT_ERROR, "overlap from client")
            return
        self._poll = responder
        self._poll_request = request  # its answer's headers depend on it, as in Node
        if self._buffer or self._closing:
            self._flush_poll()
        elif self._upgrade is not None and self._probed is self._upgrade:
            # as the Node server: once the probe is answered, a GET gets a noop at once so
            # that the client can pause long-polling and complete the upgrade
            self._poll = None
            self._respond_poll(responder, _NOOP)

    def poll_aborted(self, responder: Responder) -> None:
        """The front door saw the client go away while its GET was pending."""
        if self._poll is responder:
            self._poll = None
            self._terminate(DisconnectReason.TRANSPORT_ERROR, "poll connection closed prematurely")

    def _flush_poll(self) -> None:
        self._flush_handle = None
        responder = self._poll
        if responder is None:
            return
        packets = self._buffer
        final = False
        if not packets:
            if not self._closing:
                return
            # the close packet goes alone, in the response after the one that carried the
            # last packets (the client handles those before it closes)
            packets = self._closing_packets()
            final = True
        self._poll = None
        self._buffer = []
        self._buffer_size = 0
        self._respond_poll(responder, packets)
        if final:
            self._finish_close()

    def _closing_packets(self) -> list[str | bytes]:
        """What the long-polling answer that closes the session carries."""
        return ["1"]

    def _encode_poll(self, packets: list[str | bytes]) -> tuple[bytes, str]:
        """The body of a long-polling answer carrying ``packets``, and its Content-Type."""
        return encode_payload(packets).encode(), POLL_HEADERS_TEXT

    def _respond_poll(self, responder: Responder, packets: list[str | bytes]) -> None:
        body, content_type = self._encode_poll(packets)
        server = self.server
        request = self._poll_request
        threshold = server.http_compression
        encoding = None
        if threshold is not None and len(body) >= threshold:
            accept = request.headers.get("accept-encoding", "")
            body, encoding = compress_body(body, accept, threshold)
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), _NO_STORE]
        if encoding:
            headers.insert(1, ("Content-Encoding", encoding))
        server.add_headers(headers, request, initial=False)
        responder.respond(200, headers, body)

    def handle_post(self, request: Request, responder: Responder) -> None:
        """A long-polling POST carrying a payload."""
        server = self.server
        if self._held is not None:  # a second POST while the first is unanswered
            server.respond_error(request, responder, BAD_REQUEST, 400)
            self._terminate(DisconnectReason.TRANSPORT_ERROR, "overlap from client")
            return
        try:
            packets = self._decode_post(request)
        except _InvalidContent:
            server.respond_error(request, responder, BAD_REQUEST, 400)
            self._terminate(DisconnectReason.TRANSPORT_ERROR, "invalid content")
            return
        except (UnicodeDecodeError, ProtocolError):
            server.respond_error(request, responder, BAD_REQUEST, 400)
            self._terminate(DisconnectReason.PARSE_ERROR, "invalid payload")
            return
        headers = [("Content-Type", "text/html"), ("Content-Length", "2"), _NO_STORE]
        server.add_headers(headers, request, initial=False)
        for kind, data in packets:
            if self.session.state is State.CLOSED:
                break
            self._receive(kind, data)
        if self._read_paused and not self.closed:
            # flow control: the answer (and so the client's next POST) waits for resume
            self._held = (responder, headers)
        else:
            responder.respond(200, headers, b"ok")

    def _decode_post(self, request: Request) -> list[Packet]:
        """The packets of a POST body. Raises ProtocolError or UnicodeDecodeError for a bad
        payload, _InvalidContent for a binary body (v4 has none)."""
        if request.headers.get("content-type", "").startswith("application/octet-stream"):
            raise _InvalidContent("binary payload")
        return decode_payload(request.body.decode())

    # ------------------------------------------------------------------ read flow control
    def pause_reading(self) -> None:
        """Stop taking messages from the peer until :meth:`resume_reading`."""
        if self._read_paused:
            return
        self._read_paused = True
        ws = self.ws
        if ws is not None:
            ws.pause_reading()

    def resume_reading(self) -> None:
        if not self._read_paused:
            return
        self._read_paused = False
        ws = self.ws
        if ws is not None:
            ws.resume_reading()
        held, self._held = self._held, None
        if held is not None:
            held[0].respond(200, held[1], b"ok")

    # ------------------------------------------------------------------ receiving
    def on_message(self, data: str | bytes) -> None:
        """A WebSocket message on the session's current transport."""
        if type(data) is str:
            if data[:1] == "4":
                handler = self.handler
                if handler is not None:
                    handler.on_message(data[1:])
                return
            try:
                kind, payload = decode_packet(data)
            except ProtocolError:
                self._terminate(DisconnectReason.PARSE_ERROR, "invalid packet")
                return
            self._receive(kind, payload)
        elif self.handler is not None:
            self.handler.on_message(data)

    def on_ws_close(self, error: bool = False) -> None:
        """The session's WebSocket closed (by the peer or the network)."""
        self.ws = None
        self._terminate(
            DisconnectReason.TRANSPORT_ERROR if error else DisconnectReason.TRANSPORT_CLOSE, None
        )

    def _receive(self, kind: int, data: str | bytes) -> None:
        # the session reads the clock for a pong only: a message (the common packet) skips it
        now = 0.0 if kind == MESSAGE else asyncio.get_running_loop().time()
        try:
            action = self.session.receive(kind, data, now)
        except ProtocolError as exc:
            self._terminate(DisconnectReason.PARSE_ERROR, str(exc))
            return
        if action is Action.MESSAGE:
            if self.handler is not None:
                self.handler.on_message(data)
        elif kind == PONG:
            # the next ping is due ping_interval after this pong: sooner than the pong
            # deadline the timer waits for when ping_timeout > ping_interval
            self.arm_timer()
        elif action is Action.CLOSE:
            # as the Node server: the pending GET of a client that closes gets a noop
            poll, self._poll = self._poll, None
            if poll is not None:
                self._respond_poll(poll, _NOOP)
            self._terminate(DisconnectReason.TRANSPORT_CLOSE, None)

    # ------------------------------------------------------------------ upgrade
    def start_upgrade(self, conn: WebSocketConnection, request: Request | None = None) -> None:
        """Probe ``conn`` (asked for by ``request``) as the session's new transport."""
        loop = asyncio.get_running_loop()
        self.session.start_upgrade(loop.time())
        self._upgrade = conn
        conn.receiver = _UpgradeReceiver(self, conn)
        self.arm_timer()

    def _upgrade_message(self, conn: WebSocketConnection, data: str | bytes) -> None:
        if conn is not self._upgrade:
            return
        try:
            kind, payload = decode_packet(data)
            action = self.session.receive_upgrading(kind, payload)
        except ProtocolError:
            self._abort_upgrade(conn)
            return
        if action is Action.PROBE:
            self._probed = conn
            conn.send_text("3probe")
            self._emit("upgrading", "websocket")
            if self._poll is not None and not self._buffer:
                responder, self._poll = self._poll, None
                self._respond_poll(responder, _NOOP)
        elif action is Action.UPGRADED:
            self._upgrade = self._probed = None
            self.ws = conn
            conn.receiver = self
            if self._read_paused:
                conn.pause_reading()
            if self._poll is not None:
                responder, self._poll = self._poll, None
                self._respond_poll(responder, _NOOP)
            packets, self._buffer, self._buffer_size = self._buffer, [], 0
            if packets:
                self._write_ws(conn, packets)  # their packetCreate was when buffered
            self._emit("upgrade", "websocket")
            if self._closing:
                self._finish_close()

    def _upgrade_closed(self, conn: WebSocketConnection) -> None:
        if conn is self._upgrade:
            self._upgrade = None
            self.session.abort_upgrade()

    def _abort_upgrade(self, conn: WebSocketConnection) -> None:
        if conn is self._upgrade:
            self._upgrade = None
            self.session.abort_upgrade()
        conn.receiver = None
        conn.close(1002)

    # ------------------------------------------------------------------ heartbeat
    def arm_timer(self) -> None:
        deadline = self.session.deadline
        if deadline == math.inf:
            return
        timer = self._timer
        if timer is not None:
            if timer.when() <= deadline:
                return
            timer.cancel()
        self._timer = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time()
        session = self.session
        while True:
            action = session.tick(now)
            if action is Action.NONE:
                break
            if action is Action.SEND_PING:
                self.write_text("2")
            elif action is Action.PING_TIMEOUT:
                self._terminate(DisconnectReason.PING_TIMEOUT, None)
                return
            elif action is Action.UPGRADE_TIMEOUT:
                conn, self._upgrade = self._upgrade, None
                if conn is not None:
                    conn.receiver = None
                    conn.close(1000)
        self.arm_timer()

    # ------------------------------------------------------------------ closing
    def close(self, reason: str = DisconnectReason.FORCED_CLOSE) -> None:
        """Close the session from the server side, after writing what is buffered."""
        if self.session.state is State.CLOSED or self._closing:
            return
        self._closing = True
        self._notify_close(reason, None)
        if self.ws is not None:
            self._finish_close()
        elif self._poll is not None and not self._buffer:
            self._flush_poll()
        else:
            if self._poll is not None:
                self._flush_poll()  # what is buffered now, the close packet with the next GET
            # wait for the next GET (it receives the close packet), but not forever
            loop = asyncio.get_running_loop()
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_later(self.server.config.ping_timeout, self._finish_close)

    def _finish_close(self) -> None:
        self._terminate(DisconnectReason.FORCED_CLOSE, None)

    def _terminate(self, reason: str, description: str | None) -> None:
        session = self.session
        if session.state is State.CLOSED and self.handler is None:
            return
        session.close()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self.server.remove(self)
        poll, self._poll = self._poll, None
        if poll is not None:
            self._respond_poll(poll, [*self._buffer, "1"])
        self._buffer = []
        self._buffer_size = 0
        held, self._held = self._held, None
        if held is not None:
            held[0].respond(200, held[1], b"ok")
        for conn in (self.ws, self._upgrade):
            if conn is not None:
                conn.receiver = None
                conn.close(None if reason == DisconnectReason.FORCED_CLOSE else 1000)
        self.ws = self._upgrade = None
        self._notify_close(reason, description)

    def _notify_close(self, reason: str, description: str | None) -> None:
        if self._listeners:
            self._emit("close", reason, description)
            self._listeners = None
        handler, self.handler = self.handler, None
        if handler is not None:
            try:
                handler.on_close(reason, description)
            except Exception:
                log.exception("error in close handler of session %s", self.sid)


class _ObservedEngineSocket(EngineSocket):
    """A session someone listens to: the same, plus its ``packet``, ``packetCreate`` and
    ``heartbeat`` events.

    Why a class swap (``self.__class__ = ...`` in ``_add``) rather than an ``if`` in each
    write: the write paths run for every packet of every session, and listeners on a session
    are rare (the admin UI, ``conn.on("packet")`` for debugging). The swap makes the common
    session pay nothing at all, and it happens once, on the first listener, never back. The
    subclass adds no slots, so the instance's layout is the same (CPython allows the swap
    only then).
    """

    __slots__ = ()

    def send_message(self, data: str | bytes) -> None:
        if type(data) is str:
            self.write_text("4" + data)  # reported there
        else:
            self.write_packets([data])

    def write_text(self, packet: str) -> None:
        self._sent([packet])
        super().write_text(packet)

    def write_packets(self, packets: list[str | bytes]) -> None:
        self._sent(packets)
        super().write_packets(packets)

    def write_outgoing(self, out: Outgoing) -> bool:
        if not super().write_outgoing(out):
            return False
        self._sent(out.packets)
        return True

    def on_message(self, data: str | bytes) -> None:
        if type(data) is not str:
            self._emit("packet", {"type": "message", "data": data})
        elif data[:1] == "4":
            self._emit("packet", {"type": "message", "data": data[1:]})
        super().on_message(data)  # other packets are reported by _receive

    def _receive(self, kind: int, data: str | bytes) -> None:
        self._emit("packet", {"type": PACKET_NAMES[kind], "data": _data(kind, data)})
        if kind == PONG:
            self._emit("heartbeat")
        super()._receive(kind, data)


class _InvalidContent(ProtocolError):
    """A POST body in a form the session's protocol does not have."""


_NO_STORE = ("Cache-Control", "no-store")  # on every polling answer, as Node
_NOOP: list[str | bytes] = [str(NOOP)]  # never changed: the encoders only read it


def _packet(encoded: str | bytes) -> dict[str, Any]:
    """An encoded packet as Node's packet events show it: ``{"type", "data"}``."""
    if type(encoded) is not str:
        return {"type": "message", "data": encoded}
    kind = int(encoded[0])
    return {"type": PACKET_NAMES[kind], "data": _data(kind, encoded[1:])}


def _data(kind: int, data: str | bytes) -> str | bytes | None:
    """A packet's data as Node shows it: none for an empty ping, pong, close..."""
    return data if data or kind == 4 else None


class _UpgradeReceiver:
    """Receives on a WebSocket while it is probed, before it becomes the session's transport."""

    __slots__ = ("conn", "esock")

    def __init__(self, esock: EngineSocket, conn: WebSocketConnection) -> None:
        self.esock = esock
        self.conn = conn

    def on_message(self, data: str | bytes) -> None:
        self.esock._upgrade_message(self.conn, data)

    def on_ws_close(self, error: bool = False) -> None:
        self.esock._upgrade_closed(self.conn)
