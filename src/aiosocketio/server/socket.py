"""A client's connection to one namespace (Node: ``Socket``)."""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..adapters.seam import NO_FLAGS, BroadcastFlags, BroadcastOptions, PersistedSession
from ..engine.socket import Outgoing
from ..errors import AckTimeout, NotConnected
from ..reasons import RECOVERABLE, DisconnectReason
from ..runtime import Listener, Listeners, run_handler, spawn
from ..socketio.packets import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    DISCONNECT,
    EVENT,
    RESERVED_EVENTS,
    Packet,
)
from .broadcast import BroadcastOperator

if TYPE_CHECKING:
    from ..engine.http import Request
    from ..engine.socket import EngineSocket
    from .client import Client
    from .namespace import Namespace

__all__ = ["Handshake", "Socket", "SocketEmitter"]

log = logging.getLogger("aiosocketio.server")

F = TypeVar("F", bound=Callable[..., Any])


# how a pending acknowledgement delivers its arguments
_PLAIN = 0  # callback(*args)
_ERR_FIRST = 1  # callback(err, *args), after .timeout()
_VALUE = 2  # callback(value): None, the one argument, or a tuple of them
_BROADCAST = 3  # as _VALUE, but silent when the socket goes away (the broadcast times out)


@dataclass(init=False, slots=True, eq=False)
class Handshake:
    """What the client sent when it connected (Node: ``socket.handshake``).

    Sent (emitted, returned as an acknowledgement) it is the object Node sends, with the same
    keys in the same order: ``time`` a string as JavaScript's ``new Date().toString()``
    writes it, ``issued`` milliseconds since the epoch."""

    headers: dict[str, str]
    time: str
    address: str
    xdomain: bool
    secure: bool
    issued: int
    url: str
    query: dict[str, str]
    auth: dict[str, Any]

    def __init__(self, request: Request, auth: dict[str, Any], issued: float) -> None:
        self.headers = request.headers
        self.time = _js_date_string(issued)
        self.address = request.remote[0] if request.remote else ""
        self.xdomain = "origin" in request.headers
        self.secure = request.secure
        self.issued = int(issued * 1000)
        self.url = request.url
        self.query = request.query
        self.auth = auth

    def to_dict(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _js_date_string(seconds: float) -> str:
    """JavaScript's ``Date.prototype.toString()`` in the local time zone, such as
    ``Sun Dec 06 2026 11:44:47 GMT+0100 (CET)``; the zone's name is the system's (V8 writes
    its long name, which ``Date.parse`` ignores as well)."""
    local = _dt.datetime.fromtimestamp(seconds).astimezone()
    name = local.tzname() or ""
    if name == "UTC":
        name = "Coordinated Universal Time"  # as V8 names it
    return (
        f"{_DAYS[local.weekday()]} {_MONTHS[local.month - 1]} {local.day:02d} "
        f"{local.year:04d} {local:%H:%M:%S} GMT{local:%z} ({name})"
    )


class _PendingAck:
    __slots__ = ("callback", "mode", "timer")

    def __init__(self, callback: Callable[..., Any], mode: int, timer: Any) -> None:
        self.callback = callback
        self.mode = mode
        self.timer = timer


class Socket:
    """One client connected to one namespace."""

    __slots__ = (
        "_acks",
        "_acks_dropped",
        "_any",
        "_any_out",
        "_auth",
        "_data",
        "_handlers",
        "_issued",
        "_middlewares",
        "_queue",
        "_unhandled",
        "client",
        "conn",
        "connected",
        "id",
        "nsp",
        "pid",
        "recovered",
    )

    def __init__(
        self,
        nsp: Namespace,
        client: Client,
        auth: dict[str, Any],
        previous: PersistedSession | None = None,
    ) -> None:
        self.nsp = nsp
        self.client = client
        self.conn: EngineSocket = client.conn
        self._auth = auth
        self._issued = time.time()
        self._handlers: Listeners | None = None
        self._any: list[Listener] | None = None
        self._any_out: list[Listener] | None = None
        self._unhandled: list[Listener] | None = None
        self._acks: dict[int, _PendingAck] | None = None
        self._acks_dropped = 0
        self._middlewares: list[Listener] | None = None
        self._queue: list[tuple[list[Any], Any]] | None = None
        self._data: Any = None
        self.connected = False
        self.recovered = False
        if previous is not None:
            self.id = previous.sid
            self.pid: str | None = previous.pid
            self._data = previous.data
            self.recovered = True
        else:
            self.id = client.socket_id(nsp)
            self.pid = nsp.server.new_id() if nsp.server.recovery is not None else None

    def __repr__(self) -> str:
        return f"<Socket id={self.id!r} nsp={self.nsp.name!r} connected={self.connected}>"

    # ------------------------------------------------------------------ attributes
    @property
    def data(self) -> Any:
        """Free-form data attached to the socket (shared with the cluster by fetch_sockets)."""
        if self._data is None:
            self._data = {}
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = value

    @property
    def handshake(self) -> Handshake:
        return Handshake(self.conn.request, self._auth, self._issued)

    @property
    def request(self) -> Request:
        return self.conn.request

    @property
    def rooms(self) -> set[str]:
        rooms = self.nsp.adapter.socket_rooms(self.id)
        return set(rooms) if rooms else set()

    @property
    def disconnected(self) -> bool:
        return not self.connected

    # ------------------------------------------------------------------ listeners
    @overload
    def on(self, event: str) -> Callable[[F], F]: ...
    @overload
    def on(self, event: str, handler: F) -> F: ...
    def on(self, event: str, handler: F | None = None) -> Any:
        """Register a handler for an event from the client (usable as a decorator)."""
        return self._add(event, handler, once=False)

    @overload
    def once(self, event: str) -> Callable[[F], F]: ...
    @overload
    def once(self, event: str, handler: F) -> F: ...
    def once(self, event: str, handler: F | None = None) -> Any:
        return self._add(event, handler, once=True)

    def _add(self, event: str, handler: F | None, once: bool) -> Any:
        def register(func: F) -> F:
            if self._handlers is None:
                self._handlers = Listeners()
            self._handlers.add(event, func, once)
            return func

        return register if handler is None else register(handler)

    def off(self, event: str | None = None, handler: Callable[..., Any] | None = None) -> None:
        """Remove one handler, every handler of an event, or every handler."""
        if self._handlers is not None:
            self._handlers.remove(event, handler)

    def listeners(self, event: str) -> list[Callable[..., Any]]:
        return self._handlers.funcs(event) if self._handlers is not None else []

    def on_any(self, handler: F) -> F:
        """Called as handler(event, *args) for every event received, before its handlers."""
        self._any = [*(self._any or []), Listener(handler)]
        return handler

    def prepend_any(self, handler: F) -> F:
        self._any = [Listener(handler), *(self._any or [])]
        return handler

    def off_any(self, handler: Callable[..., Any] | None = None) -> None:
        self._any = _without(self._any, handler)

    def listeners_any(self) -> list[Callable[..., Any]]:
        return [lst.func for lst in self._any or ()]

    def on_unhandled(self, handler: F) -> F:
        """Called as handler(event, *args) for each event received that no handler took
        (neither this socket's nor the namespace's ``on_event``), after the catch-all
        listeners; its return value (or its ``ack`` parameter) acknowledges the event.
        python-socketio's ``@sio.on("*")``."""
        self._unhandled = [*(self._unhandled or []), Listener(handler)]
        return handler

    def off_unhandled(self, handler: Callable[..., Any] | None = None) -> None:
        self._unhandled = _without(self._unhandled, handler)

    def on_any_outgoing(self, handler: F) -> F:
        """Called as handler(event, *args) for every event sent to this client."""
        self._any_out = [*(self._any_out or []), Listener(handler)]
        return handler

    def prepend_any_outgoing(self, handler: F) -> F:
        self._any_out = [Listener(handler), *(self._any_out or [])]
        return handler

    def off_any_outgoing(self, handler: Callable[..., Any] | None = None) -> None:
        self._any_out = _without(self._any_out, handler)

    def listeners_any_outgoing(self) -> list[Callable[..., Any]]:
        return [lst.func for lst in self._any_out or ()]

    def use(self, middleware: F) -> F:
        """Packet middleware: called as middleware(packet) with the event as a list
        ``[event, *args]`` (it may change it) before any handler. Raising an exception stops
        the event and emits a local ``error`` event with it. May be a coroutine function."""
        if self._middlewares is None:
            self._middlewares = []
        self._middlewares.append(Listener(middleware))
        return middleware

    # ------------------------------------------------------------------ emitting
    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> bool:
        """Send an event to this client. With ``callback``, it is called with the client's
        acknowledgement arguments."""
        return self._emit(event, args, callback, None, False)

    def send(self, *args: Any, callback: Callable[..., Any] | None = None) -> bool:
        """Emit a ``message`` event."""
        return self._emit("message", args, callback, None, False)

    async def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Send an event and wait for the acknowledgement: returns None (no arguments), the
        argument, or a tuple of arguments. Raises AckTimeout after ``timeout`` seconds."""
        return await self._emit_with_ack(event, args, timeout, False, True)

    async def _emit_with_ack(
        self,
        event: str,
        args: tuple[Any, ...],
        timeout: float | None,
        volatile: bool,
        compress: bool,
    ) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._emit(event, args, _settle(future), timeout, volatile, future=True, compress=compress)
        return await future

    def timeout(self, seconds: float) -> SocketEmitter:
        """Emit with an acknowledgement deadline: ``callback(err, *args)``, as in Node."""
        return SocketEmitter(self, timeout=seconds)

    @property
    def volatile(self) -> SocketEmitter:
        """Emit that may be dropped when the client is not ready to receive."""
        return SocketEmitter(self, volatile=True)

    def compress(self, value: bool) -> SocketEmitter:
        """``compress(False)``: this emit is never per-message deflated."""
        return SocketEmitter(self, compress=value)

    def _emit(
        self,
        event: str,
        args: tuple[Any, ...],
        callback: Callable[..., Any] | None,
        timeout: float | None,
        volatile: bool,
        *,
        future: bool = False,
        compress: bool = True,
    ) -> bool:
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        data = [event, *args]
        id = None
        if callback is not None:
            # one counter per namespace, as in Node: broadcasts with an ack take their ids
            # from it too, so that a socket never has two pending acks with the same id
            id = self.nsp.next_ack_id()
            mode = _VALUE if future else (_ERR_FIRST if timeout is not None else _PLAIN)
            self._register_ack(id, callback, timeout, mode=mode)
        elif not volatile and self.nsp.server.recovery is not None:
            # as socket.io 4.8: through the adapter, which keeps the event for a recovery and
            # appends its offset (the official client takes any trailing string as one)
            flags = NO_FLAGS if compress else BroadcastFlags(compress=False)
            self.nsp.adapter.broadcast(
                Packet(EVENT, self.nsp.name, data),
                BroadcastOptions(frozenset((self.id,)), flags=flags),
            )
            return True
        if self._any_out is not None or self.nsp._any_outgoing:
            self._notify_outgoing(data)
        if volatile and not self.conn.writable:
            return False
        if not compress:
            messages = self.nsp.encode(EVENT, self.nsp.name, data, id)
            self.conn.write_outgoing(Outgoing.of_messages(messages, compress=False))
            return True
        self._send(EVENT, data, id)
        return True

    def _send(self, kind: int, data: Any, id: int | None = None) -> None:
        messages = self.nsp.encode(kind, self.nsp.name, data, id)
        if len(messages) == 1 and type(messages[0]) is str:
            self.conn.send_message(messages[0])
        else:
            self.conn.send_messages(messages)

    def _notify_outgoing(self, data: list[Any]) -> None:
        for listeners in (self.nsp._any_outgoing, self._any_out):
            for listener in listeners or ():
                run_handler(listener, list(data), None, "outgoing listener")

    # ------------------------------------------------------------------ acknowledgements
    def _register_ack(
        self,
        id: int,
        callback: Callable[..., Any],
        timeout: float | None,
        *,
        mode: int = _PLAIN,
        single: bool = False,
    ) -> None:
        if single:
            mode = _BROADCAST
        acks = self._acks
        if acks is None:
            acks = self._acks = {}
        limit = self.nsp.server.max_pending_acks
        if limit is not None and len(acks) >= limit:
            self._drop_oldest_ack(limit)
        timer = None
        if timeout is not None:
            timer = asyncio.get_running_loop().call_later(timeout, self._ack_timeout, id)
        acks[id] = _PendingAck(callback, mode, timer)

    def _drop_oldest_ack(self, limit: int) -> None:
        """Bounded pending acks (``max_pending_acks``): the oldest one is given up, as if it
        had timed out, to make room for the new one."""
        acks = self._acks
        if not acks:
            return
        pending = acks.pop(next(iter(acks)))  # dicts keep the order of registration
        if pending.timer is not None:
            pending.timer.cancel()
        if not self._acks_dropped:  # once per socket: a flood must not flood the log
            log.warning(
                "socket %s: more than %d acknowledgements pending, dropping the oldest",
                self.id,
                limit,
            )
        self._acks_dropped += 1
        _fail(pending, AckTimeout(f"acknowledgement dropped: over {limit} pending"))

    def _ack_timeout(self, id: int) -> None:
        pending = self._acks.pop(id, None) if self._acks else None
        if pending is not None:
            _fail(pending, AckTimeout("operation has timed out"))

    def _on_ack(self, packet: Packet) -> None:
        pending = self._acks.pop(packet.id, None) if self._acks else None  # type: ignore[arg-type]
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        args = packet.data
        try:
            if pending.mode == _PLAIN:
                pending.callback(*args)
            elif pending.mode == _ERR_FIRST:
                pending.callback(None, *args)
            else:
                pending.callback(_value(args))  # _VALUE and _BROADCAST
        except Exception:
            log.exception("error in acknowledgement callback")

    def _make_ack(self, id: int) -> Callable[..., None]:
        sent = False

        def ack(*args: Any) -> None:
            nonlocal sent
            if sent:
                return
            sent = True
            self._send(ACK, args, id)

        return ack

    # ------------------------------------------------------------------ receiving
    def _on_packet(self, packet: Packet) -> None:
        kind = packet.type
        if kind in (EVENT, BINARY_EVENT):
            id = packet.id
            ack = self._make_ack(id) if id is not None else None
            if self._middlewares is not None:
                self._through_middlewares(packet.data, ack)
            else:
                self._dispatch(packet.data, ack)
        elif kind in (ACK, BINARY_ACK):
            self._on_ack(packet)
        elif kind == DISCONNECT:
            self._on_close(DisconnectReason.CLIENT_NAMESPACE_DISCONNECT, None)
        else:  # CONNECT_ERROR or CONNECT from a client: not allowed
            self.client.close_with_error()

    def _dispatch(self, data: list[Any], ack: Callable[..., None] | None) -> None:
        event = data[0]
        if self._any is not None:
            for listener in self._any:
                run_handler(listener, data, None, "catch-all listener")
        handlers = self._handlers
        listeners = handlers.get(event) if handlers is not None else None
        handled = bool(listeners)
        if listeners:
            args = data[1:]
            for listener in tuple(listeners):
                if listener.once:
                    listeners.remove(listener)
                task = run_handler(listener, args, ack, "handler of", event)
                if task is not None:
                    self.client.track(task)
                ack = None
        shared = self.nsp._event_handlers.get(event)
        if shared:
            # the event list becomes (socket, *args): the name is not needed any more
            args = data
            for listener in shared:
                args[0] = self.id if listener.by_id else self
                task = run_handler(listener, args, ack, "handler of", event)
                if task is not None:
                    self.client.track(task)
                ack = None
        elif not handled and (self._unhandled is not None or self.nsp._unhandled_handlers):
            self._dispatch_unhandled(data, ack)

    def _dispatch_unhandled(self, data: list[Any], ack: Callable[..., None] | None) -> None:
        """No handler took the event: the socket's ``on_unhandled`` listeners get
        ``(event, *args)``, then the namespace's get ``(socket, event, *args)``."""
        for listeners, args in (
            (self._unhandled, data),
            (self.nsp._unhandled_handlers, [self, *data]),
        ):
            for listener in listeners or ():
                task = run_handler(listener, list(args), ack, "unhandled-event listener")
                if task is not None:
                    self.client.track(task)
                ack = None

    def _through_middlewares(self, data: list[Any], ack: Callable[..., None] | None) -> None:
        if self._queue is not None:  # an asynchronous middleware is running: keep the order
            self._queue.append((data, ack))
            return
        middlewares = self._middlewares or []
        for i, mw in enumerate(middlewares):
            try:
                result = mw.func(data)
            except Exception as exc:
                self._emit_local("error", exc)
                return
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                self._queue = [(data, ack)]
                spawn(self._drain(result, i), "packet middleware")
                return
        self._dispatch(data, ack)

    async def _drain(self, first: Any, index: int) -> None:
        queue = self._queue or []
        middlewares = self._middlewares or []
        pending: Any = first
        while queue:
            data, ack = queue[0]
            try:
                if pending is not None:
                    await pending
                    pending = None
                for mw in middlewares[index + 1 :]:
                    result = mw.func(data)
                    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                        await result
            except Exception as exc:
                self._emit_local("error", exc)
            else:
                if self.connected:
                    self._dispatch(data, ack)
            queue.pop(0)
            index = -1
        self._queue = None

    def _emit_local(self, event: str, *args: Any) -> None:
        listeners = self._handlers.get(event) if self._handlers is not None else None
        for listener in list(listeners or ()):
            if listener.once and listeners is not None:
                listeners.remove(listener)
            run_handler(listener, list(args), None, "local handler of", event)

    # ------------------------------------------------------------------ rooms
    def join(self, rooms: str | Iterable[str]) -> None:
        self.nsp.adapter.add_all(self.id, [rooms] if isinstance(rooms, str) else rooms)

    def leave(self, room: str) -> None:
        self.nsp.adapter.delete(self.id, room)

    # ------------------------------------------------------------------ broadcasting from here
    def to(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        """Broadcast to rooms, this socket excluded (Node: ``socket.to``)."""
        return self.broadcast.to(*rooms)

    in_ = to

    def except_(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        return self.broadcast.except_(*rooms)

    @property
    def broadcast(self) -> BroadcastOperator:
        """Every socket of the namespace but this one."""
        return BroadcastOperator(self.nsp.adapter, except_=frozenset((self.id,)))

    @property
    def local(self) -> BroadcastOperator:
        return BroadcastOperator(self.nsp.adapter, except_=frozenset((self.id,))).local

    # ------------------------------------------------------------------ lifecycle
    def _on_connect(self) -> None:
        self.connected = True
        self.join(self.id)
        self._send(0, self.client.connect_payload(self))

    def disconnect(self, close: bool = False) -> None:
        """Disconnect from this namespace; with ``close``, close the whole connection."""
        if not self.connected:
            return
        if close:
            self.client.disconnect_all()
        else:
            self._send(DISCONNECT, None)
            self._on_close(DisconnectReason.SERVER_NAMESPACE_DISCONNECT, None)

    def _on_close(self, reason: str, description: str | None) -> None:
        if not self.connected:
            return
        self._emit_local("disconnecting", reason)
        nsp = self.nsp
        if nsp.server.recovery is not None and reason in RECOVERABLE and self.pid:
            nsp.adapter.persist_session(
                PersistedSession(self.id, self.pid, sorted(self.rooms), self._data)
            )
        nsp.adapter.delete_all(self.id)
        nsp._remove(self)
        self.client._remove(self)
        self.connected = False
        acks, self._acks = self._acks, None
        for pending in (acks or {}).values():
            if pending.timer is not None:
                pending.timer.cancel()
            _fail(pending, NotConnected(f"socket disconnected ({reason})"))
        self._emit_local("disconnect", reason)


class SocketEmitter:
    """``socket.timeout(s)``, ``socket.volatile``, ``socket.compress(False)``: one emit with
    flags (chainable); ``emit``, ``send`` and ``emit_with_ack`` all honour them."""

    __slots__ = ("_compress", "_socket", "_timeout", "_volatile")

    def __init__(
        self,
        socket: Socket,
        *,
        timeout: float | None = None,
        volatile: bool = False,
        compress: bool = True,
    ):
        self._socket = socket
        self._timeout = timeout
        self._volatile = volatile
        self._compress = compress

    def timeout(self, seconds: float) -> SocketEmitter:
        return SocketEmitter(
            self._socket, timeout=seconds, volatile=self._volatile, compress=self._compress
        )

    @property
    def volatile(self) -> SocketEmitter:
        return SocketEmitter(
            self._socket, timeout=self._timeout, volatile=True, compress=self._compress
        )

    def compress(self, value: bool) -> SocketEmitter:
        return SocketEmitter(
            self._socket, timeout=self._timeout, volatile=self._volatile, compress=value
        )

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> bool:
        return self._socket._emit(
            event, args, callback, self._timeout, self._volatile, compress=self._compress
        )

    def send(self, *args: Any, callback: Callable[..., Any] | None = None) -> bool:
        """Emit a ``message`` event with these flags."""
        return self.emit("message", *args, callback=callback)

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        return await self._socket._emit_with_ack(
            event, args, self._timeout, self._volatile, self._compress
        )


def _value(args: list[Any]) -> Any:
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


def _settle(future: asyncio.Future[Any]) -> Callable[..., None]:
    def settle(value: Any) -> None:
        if future.done():
            return
        if isinstance(value, BaseException):
            future.set_exception(value)
        else:
            future.set_result(value)

    return settle


def _fail(pending: _PendingAck, exc: BaseException) -> None:
    """Tell a waiting caller its acknowledgement will not come (plain callbacks are dropped,
    as in Node)."""
    try:
        if pending.mode == _ERR_FIRST or pending.mode == _VALUE:
            pending.callback(exc)
    except Exception:
        log.exception("error in acknowledgement callback")


def _without(listeners: list[Listener] | None, handler: Callable[..., Any] | None) -> Any:
    if handler is None or not listeners:
        return None
    kept = [lst for lst in listeners if lst.func is not handler]
    return kept or None
