"""The client side of one namespace (socket.io-client's ``Socket``)."""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..engineio.client_session import State
from ..engineio.packets import MESSAGE
from ..errors import AckTimeout, ConnectionRefused, NotConnected, ProtocolError
from ..reasons import DisconnectReason
from ..socketio.packets import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    RESERVED_EVENTS,
    Packet,
)
from .deadlines import Deadline, Deadlines
from .events import Emitter, Listener, TaskSet, log, run_handler

if TYPE_CHECKING:
    from .manager import Manager

__all__ = ["Emit", "Socket"]

F = TypeVar("F", bound=Callable[..., Any])

Auth = dict[str, Any] | Callable[[], "dict[str, Any] | Awaitable[dict[str, Any]] | None"] | None


class _Flags:
    """Flags of one emit: ``timeout``, ``volatile``, ``compress``."""

    __slots__ = ("compress", "from_queue", "timeout", "volatile")

    def __init__(
        self,
        timeout: float | None = None,
        volatile: bool = False,
        compress: bool = True,
        from_queue: bool = False,
    ) -> None:
        self.timeout = timeout
        self.volatile = volatile
        self.compress = compress
        self.from_queue = from_queue

    def copy(self, **changes: Any) -> _Flags:
        flags = _Flags(self.timeout, self.volatile, self.compress, self.from_queue)
        for name, value in changes.items():
            setattr(flags, name, value)
        return flags


_NO_FLAGS = _Flags()
_TIMEOUT_FLAGS: dict[float | None, _Flags] = {None: _NO_FLAGS}


def _timeout_flags(timeout: float | None) -> _Flags:
    """Flags with only a timeout: shared (flags are never changed, only copied)."""
    flags = _TIMEOUT_FLAGS.get(timeout)
    if flags is None:
        flags = _Flags(timeout=timeout)
        if len(_TIMEOUT_FLAGS) < 64:
            _TIMEOUT_FLAGS[timeout] = flags
    return flags


class _Ack(Deadline):
    """A pending acknowledgement: a callback, or the future of ``emit_with_ack``; with a
    timeout, it is its own deadline."""

    __slots__ = ("callback", "future", "id", "socket", "with_error")

    def __init__(
        self,
        socket: Socket,
        id: int,
        callback: Callable[..., Any] | None,
        with_error: bool,
        future: asyncio.Future[Any] | None = None,
    ) -> None:
        self._owner = None
        self._armed = False
        self.socket = socket
        self.id = id
        self.callback = callback
        self.with_error = with_error
        self.future = future

    def fire(self) -> None:
        self.socket._ack_timed_out(self.id)

    def fail(self, error: BaseException, tasks: TaskSet) -> None:
        """Settle with an error (timeout, disconnection)."""
        future = self.future
        if future is not None:
            if not future.done():
                future.set_exception(error)
        elif self.callback is not None:
            _call(self.callback, (error,), tasks)


class _Queued:
    """An emit of a socket with ``retries``: sent again until acknowledged."""

    __slots__ = ("args", "callback", "event", "flags", "id", "pending", "tries")

    def __init__(self, id: int, event: str, args: tuple[Any, ...], flags: _Flags) -> None:
        self.id = id
        self.event = event
        self.args = args
        self.flags = flags
        self.tries = 0
        self.pending = False
        self.callback: Callable[..., Any] | None = None


class Socket(Emitter):
    """One namespace of a :class:`~aiosocketio.client.Manager`.

    Local events: ``connect``, ``connect_error`` (an exception: ConnectionRefused with the
    server's ``message`` and ``data``, or a TransportError), ``disconnect`` (the reason).
    Every other event comes from the server. Handlers may be plain or coroutine functions;
    when the server asks for an acknowledgement, the first handler's return value answers
    it (None: no argument, a tuple: several), or the handler calls its keyword ``ack``.
    """

    __slots__ = (
        "_acks",
        "_active",
        "_any",
        "_any_out",
        "_held",
        "_ids",
        "_inbox",
        "_inbox_limit",
        "_inbox_waiter",
        "_last_offset",
        "_pid",
        "_queue",
        "_queue_seq",
        "_receive_buffer",
        "_send_buffer",
        "_waiters",
        "ack_timeout",
        "auth",
        "connected",
        "id",
        "io",
        "nsp",
        "recovered",
        "retries",
    )

    def __init__(
        self,
        io: Manager,
        nsp: str,
        *,
        auth: Auth = None,
        retries: int | None = None,
        ack_timeout: float | None = None,
    ) -> None:
        super().__init__()
        self.io = io
        self.nsp = nsp
        self.auth = auth
        self.retries = retries
        self.ack_timeout = ack_timeout
        self.id: str | None = None
        self.connected = False
        self.recovered = False
        self._pid: str | None = None
        self._last_offset: str | None = None
        self._receive_buffer: list[tuple[list[Any], Callable[..., None] | None]] = []
        self._held: list[tuple[list[Any], Callable[..., None] | None]] | None = None
        self._send_buffer: list[tuple[Packet, bool]] = []
        self._queue: deque[_Queued] = deque()
        self._queue_seq = 0
        self._ids = 0
        self._acks: dict[int, _Ack] = {}
        self._any: list[Listener] = []
        self._any_out: list[Listener] = []
        self._active = False
        self._waiters: list[asyncio.Future[None]] = []
        self._inbox: deque[list[Any]] | None = None
        self._inbox_limit = 0
        self._inbox_waiter: asyncio.Future[None] | None = None
        if io.auto_connect:
            self.connect()

    def __repr__(self) -> str:
        return f"<client Socket nsp={self.nsp!r} id={self.id!r} connected={self.connected}>"

    def _task_set(self) -> TaskSet:
        return self.io._tasks

    # ------------------------------------------------------------------ state
    @property
    def disconnected(self) -> bool:
        return not self.connected

    @property
    def active(self) -> bool:
        """True while the socket wants to be connected (it reconnects by itself)."""
        return self._active

    # ------------------------------------------------------------------ connecting
    def connect(self) -> Socket:
        """Start connecting (does nothing when connected); see :meth:`wait_connected`."""
        if self.connected:
            return self
        self._active = True
        io = self.io
        if not io._reconnecting:
            io.open()
        if io.state is State.OPEN:
            self._on_open()
        return self

    open = connect

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait for the ``connect`` event; raise what ``connect_error`` reports instead, or
        TimeoutError after ``timeout`` seconds."""
        if self.connected:
            return
        if not self._active:
            raise NotConnected("the socket is not connecting (call connect() first)")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            if not waiter.done():
                waiter.cancel()

    def _done_for_good(self) -> bool:
        """Disconnected with no reconnection to come."""
        if self.connected:
            return False
        io = self.io
        return (
            not self._active
            or not io.reconnection
            or (io.skip_reconnect or (io.state is State.CLOSED and not io._reconnecting))
        )

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until the socket is disconnected for good: by :meth:`disconnect`, by the
        server, or when the reconnection gives up (a drop followed by a reconnection does
        not end it). False after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while not self._done_for_good():
                    await self._next_change()
        except TimeoutError:
            return False
        return True

    async def _next_change(self) -> None:
        """Wait for a disconnection, an event kept for :meth:`receive`, or the end of the
        reconnection attempts."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake(*args: Any) -> None:
            if not future.done():
                future.set_result(None)

        self.on("disconnect", wake)
        self.io.on("reconnect_failed", wake)
        self._inbox_waiter = future
        try:
            await future
        finally:
            self.off("disconnect", wake)
            self.io.off("reconnect_failed", wake)
            if self._inbox_waiter is future:
                self._inbox_waiter = None

    # ------------------------------------------------------------------ receiving by pulling
    def keep_unheard(self, limit: int = 1000) -> None:
        """From now on, keep the events that no listener takes, for :meth:`receive` (at
        most ``limit``: past it the oldest are dropped). An event kept that asked for an
        acknowledgement is acknowledged at once, without arguments."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._inbox_limit = limit
        if self._inbox is None:
            self._inbox = deque()

    async def receive(self, timeout: float | None = None) -> list[Any]:
        """The next event no listener took, as ``[event, *args]``, waiting for it (the
        first call starts keeping them: see :meth:`keep_unheard`). Raises TimeoutError
        after ``timeout`` seconds, NotConnected once the socket is disconnected for good
        and nothing is left."""
        if self._inbox is None:
            self.keep_unheard()
        inbox = self._inbox
        assert inbox is not None
        async with asyncio.timeout(timeout):
            while not inbox:
                if self._done_for_good():
                    raise NotConnected("the socket is disconnected")
                await self._next_change()
        return inbox.popleft()

    def _keep(self, event: str, args: list[Any], ack: Callable[..., None] | None) -> None:
        inbox = self._inbox
        assert inbox is not None
        if len(inbox) >= self._inbox_limit:
            inbox.popleft()
            log.warning(
                "socket %s: more than %d events kept, dropping the oldest",
                self.id,
                self._inbox_limit,
            )
        inbox.append([event, *args])
        if ack is not None:
            ack()
        waiter = self._inbox_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _settle_waiters(self, error: BaseException | None) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)

    def disconnect(self) -> asyncio.Future[None]:
        """Leave the namespace; the connection closes when no namespace uses it any more.

        The returned future (awaiting it is optional) is done once that connection and its
        tasks are gone.
        """
        if self.connected:
            self._packet(Packet(DISCONNECT, self.nsp))
        self._destroy()
        if self.connected:
            self._on_close(DisconnectReason.IO_CLIENT_DISCONNECT)
        self._settle_waiters(NotConnected("the socket was disconnected"))
        return self.io._when_closed()

    close = disconnect

    async def __aenter__(self) -> Socket:
        if not self.connected:
            if not self._active:
                self.connect()
            await self.wait_connected()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    def _destroy(self) -> None:
        if self._active:
            self._active = False
            self.io._destroy(self)

    # ------------------------------------------------------------------ catch-all listeners
    def on_any(self, handler: F) -> F:
        """Called as ``handler(event, *args)`` for every event from the server."""
        self._any.append(Listener(handler))
        return handler

    def prepend_any(self, handler: F) -> F:
        self._any.insert(0, Listener(handler))
        return handler

    def off_any(self, handler: Callable[..., Any] | None = None) -> None:
        self._any = _without(self._any, handler)

    def listeners_any(self) -> list[Callable[..., Any]]:
        return [listener.func for listener in self._any]

    def on_any_outgoing(self, handler: F) -> F:
        """Called as ``handler(event, *args)`` for every event sent to the server."""
        self._any_out.append(Listener(handler))
        return handler

    def prepend_any_outgoing(self, handler: F) -> F:
        self._any_out.insert(0, Listener(handler))
        return handler

    def off_any_outgoing(self, handler: Callable[..., Any] | None = None) -> None:
        self._any_out = _without(self._any_out, handler)

    def listeners_any_outgoing(self) -> list[Callable[..., Any]]:
        return [listener.func for listener in self._any_out]

    # ------------------------------------------------------------------ emitting
    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Send an event. Sent in order once connected when the socket is not connected yet.

        ``callback`` receives the server's acknowledgement arguments; with a timeout (from
        :meth:`timeout` or ``ack_timeout``) or ``retries``, it is called error first:
        ``callback(None, *args)``, or ``callback(error)``.
        """
        self._emit(event, args, callback, _NO_FLAGS)

    def send(self, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Emit a ``message`` event."""
        self._emit("message", args, callback, _NO_FLAGS)

    async def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Send an event and wait for the acknowledgement: None (no argument), the argument,
        or a tuple of them. Raises AckTimeout, or NotConnected when the socket disconnects
        before the answer."""
        flags = _TIMEOUT_FLAGS.get(timeout) or _timeout_flags(timeout)
        return await self._ack_future(event, args, flags)

    def _ack_future(self, event: str, args: tuple[Any, ...], flags: _Flags) -> asyncio.Future[Any]:
        """Emit; the future gets the acknowledgement (one coroutine less per emit than an
        ``async def`` helper)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.retries and not flags.volatile:
            # the retry queue calls back: settle the future from there
            self._emit(event, args, _settler(future), flags, with_error=True)
        else:
            # the acknowledgement settles the future itself: no callback in between
            self._emit(event, args, None, flags, future=future)
        return future

    def timeout(self, seconds: float) -> Emit:
        """Emit with an acknowledgement deadline: ``sock.timeout(5).emit("x", callback=cb)``
        calls ``cb(None, *args)`` or ``cb(AckTimeout)``."""
        return Emit(self, _Flags(timeout=seconds))

    @property
    def volatile(self) -> Emit:
        """Emit that is dropped when it cannot be written at once."""
        return Emit(self, _Flags(volatile=True))

    def compress(self, value: bool) -> Emit:
        """Emit with (or without) WebSocket compression."""
        return Emit(self, _Flags(compress=value))

    def _emit(
        self,
        event: str,
        args: tuple[Any, ...],
        callback: Callable[..., Any] | None,
        flags: _Flags,
        *,
        with_error: bool = False,
        future: asyncio.Future[Any] | None = None,
    ) -> None:
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        if self.retries and not flags.from_queue and not flags.volatile:
            self._add_to_queue(event, args, callback, flags)
            return
        data = [event, *args]
        id = None
        if callback is not None or future is not None:
            id = self._ids
            self._ids = id + 1
            self._register_ack(id, callback, flags.timeout, with_error, future)
        io = self.io
        engine = io.engine
        if flags.volatile and not (engine is not None and engine.writable):
            log.debug("volatile event %r dropped", event)
        elif self.connected and not (engine is not None and engine.has_ping_expired()):
            if self._any_out:
                self._notify_outgoing(data)
            if engine is not None:  # what Manager._packet does, one call less
                for message in io._parser.encode(EVENT, self.nsp, data, id):
                    engine._send_packet(MESSAGE, message, flags.compress)
        else:
            self._send_buffer.append((Packet(EVENT, self.nsp, data, id), flags.compress))

    def _packet(self, packet: Packet, compress: bool = True) -> None:
        self.io._packet(packet, compress)

    def _notify_outgoing(self, data: list[Any]) -> None:
        if self._any_out:
            tasks = self.io._tasks
            for listener in list(self._any_out):
                run_handler(listener, list(data), None, "outgoing listener", None, tasks.spawn, log)

    # ------------------------------------------------------------------ retries
    def _add_to_queue(
        self,
        event: str,
        args: tuple[Any, ...],
        callback: Callable[..., Any] | None,
        flags: _Flags,
    ) -> None:
        item = _Queued(self._queue_seq, event, args, flags.copy(from_queue=True))
        self._queue_seq += 1

        def on_response(error: BaseException | None, *response: Any) -> None:
            queue = self._queue
            if error is not None:
                if item.tries > (self.retries or 0):
                    _remove(queue, item)
                    if callback is not None:
                        _call(callback, (error,), self.io._tasks)
            else:
                _remove(queue, item)
                if callback is not None:
                    _call(callback, (None, *response), self.io._tasks)
            item.pending = False
            self._drain_queue()

        item.callback = on_response
        self._queue.append(item)
        self._drain_queue()

    def _drain_queue(self, force: bool = False) -> None:
        if not self.connected or not self._queue:
            return
        item = self._queue[0]
        if item.pending and not force:
            return
        item.pending = True
        item.tries += 1
        self._emit(item.event, item.args, item.callback, item.flags, with_error=True)

    # ------------------------------------------------------------------ acknowledgements
    def _register_ack(
        self,
        id: int,
        callback: Callable[..., Any] | None,
        timeout: float | None,
        with_error: bool,
        future: asyncio.Future[Any] | None = None,
    ) -> None:
        if timeout is None:
            timeout = self.ack_timeout
        if timeout is None:
            self._acks[id] = _Ack(self, id, callback, with_error or future is not None, future)
            return
        loop = future.get_loop() if future is not None else asyncio.get_running_loop()
        deadlines = self.io._deadlines
        if deadlines is None or deadlines.loop is not loop:
            deadlines = self._deadlines(loop)
        ack = self._acks[id] = _Ack(self, id, callback, True, future)
        deadlines.add(ack, timeout)

    def _deadlines(self, loop: asyncio.AbstractEventLoop) -> Deadlines:
        """The manager's deadlines (one timer for the ack timeouts of its sockets)."""
        io = self.io
        deadlines = io._deadlines
        if deadlines is None or deadlines.loop is not loop:
            deadlines = io._deadlines = Deadlines(loop)
        return deadlines

    def _ack_timed_out(self, id: int) -> None:
        ack = self._acks.pop(id, None)
        if ack is None:
            return
        self._send_buffer = [item for item in self._send_buffer if item[0].id != id]
        ack.fail(AckTimeout("operation has timed out"), self.io._tasks)

    def _on_ack(self, packet: Packet) -> None:
        ack = self._acks.pop(packet.id, None) if packet.id is not None else None
        if ack is None:
            return
        ack.cancel()  # its deadline, if it has one
        args = packet.data if type(packet.data) is list else []
        future = ack.future
        if future is not None:
            if not future.done():
                future.set_result(args[0] if len(args) == 1 else _value(tuple(args)))
            return
        callback = ack.callback
        assert callback is not None  # an ack has a future or a callback
        if ack.with_error:
            _call(callback, (None, *args), self.io._tasks)
        else:
            _call(callback, tuple(args), self.io._tasks)

    def _clear_acks(self) -> None:
        buffered = {packet.id for packet, _ in self._send_buffer}
        for id in list(self._acks):
            if id in buffered:
                continue
            ack = self._acks.pop(id)
            ack.cancel()
            if ack.with_error:
                ack.fail(NotConnected("socket has been disconnected"), self.io._tasks)

    def _make_ack(self, id: int) -> Callable[..., None]:
        sent = False

        def ack(*args: Any) -> None:
            nonlocal sent
            if sent:
                return
            sent = True
            self._packet(Packet(ACK, self.nsp, list(args), id))

        return ack

    # ------------------------------------------------------------------ from the manager
    def _on_open(self) -> None:
        auth = self.auth
        if callable(auth):
            try:
                result = auth()
            except Exception as exc:
                log.exception("error in the auth callable")
                self._report_connect_error(exc)
                return
            if inspect.isawaitable(result):
                self.io._tasks.spawn(self._send_connect_later(result), "auth")
                return
            self._send_connect(result)
        else:
            self._send_connect(auth)

    async def _send_connect_later(self, pending: Awaitable[dict[str, Any] | None]) -> None:
        engine = self.io.engine
        try:
            data = await pending
        except Exception as exc:
            log.exception("error in the auth callable")
            self._report_connect_error(exc)
            return
        if self._active and self.io.state is State.OPEN and self.io.engine is engine:
            self._send_connect(data)

    def _send_connect(self, data: dict[str, Any] | None) -> None:
        if self._pid:
            data = {"pid": self._pid, "offset": self._last_offset, **(data or {})}
        self._packet(Packet(CONNECT, self.nsp, data))

    def _on_error(self, error: Exception) -> None:
        if not self.connected:
            self._report_connect_error(error)

    def _report_connect_error(self, error: Exception) -> None:
        self._emit_reserved("connect_error", error)
        self._settle_waiters(error)

    def _on_close(self, reason: str, description: Any = None) -> None:
        log.debug("socket %s of %s disconnected: %s", self.id, self.nsp, reason)
        self.connected = False
        self.id = None
        self._emit_reserved("disconnect", reason)
        self._clear_acks()

    def _on_packet(self, packet: Packet) -> None:
        kind = packet.type
        if kind in (EVENT, BINARY_EVENT):
            data = packet.data
            id = packet.id
            ack = self._make_ack(id) if id is not None else None
            if self.connected:
                self._emit_event(data, ack)
            else:
                self._receive_buffer.append((data, ack))
        elif kind in (ACK, BINARY_ACK):
            self._on_ack(packet)
        elif kind == CONNECT:
            data = packet.data
            if isinstance(data, dict) and isinstance(data.get("sid"), str) and data["sid"]:
                pid = data.get("pid")
                self._on_connect(data["sid"], pid if isinstance(pid, str) else None)
            else:
                self._report_connect_error(
                    ProtocolError(
                        "It seems you are trying to reach a Socket.IO server in v2.x with a "
                        "v3.x client, but they are not compatible"
                    )
                )
        elif kind == DISCONNECT:
            self._destroy()
            self._on_close(DisconnectReason.IO_SERVER_DISCONNECT)
        elif kind == CONNECT_ERROR:
            self._destroy()
            data = packet.data
            if isinstance(data, dict):
                error = ConnectionRefused(str(data.get("message", "")), data.get("data"))
            else:
                error = ConnectionRefused(str(data))
            hint = self.io.namespace_hint(self.nsp)
            if hint is not None:
                error.add_note(hint)
            self._report_connect_error(error)

    def _emit_event(self, data: list[Any], ack: Callable[..., None] | None) -> None:
        event = data[0]
        name = event if type(event) is str else _event_name(event)
        held = self._held
        if held is not None and (held or not (self._any or self.has_listeners(name))):
            held.append((data, ack))  # connect() has not returned: no listener yet
            return
        if self._any:
            tasks = self.io._tasks
            for listener in list(self._any):
                run_handler(
                    listener, [name, *data[1:]], None, "catch-all listener", None, tasks.spawn, log
                )
        if self._inbox is not None and not self.has_listeners(name):
            self._keep(name, data[1:], ack)
        else:
            self._dispatch(name, data[1:], ack)
        if self._pid and ack is None and type(data[-1]) is str:
            self._last_offset = data[-1]

    def _on_connect(self, sid: str, pid: str | None) -> None:
        self.id = sid
        self.recovered = bool(pid) and self._pid == pid
        self._pid = pid
        self.connected = True
        log.debug("socket %s of %s connected (recovered: %s)", sid, self.nsp, self.recovered)
        self._emit_buffered()
        self._drain_queue(True)
        self._emit_reserved("connect")
        self._settle_waiters(None)

    def _hold_unheard(self) -> None:
        """Keep the events that have no listener (and all after the first one) until
        :meth:`_release_unheard`: what ``connect()`` does while it waits, so the listeners
        added right after it returns get the events the server sent on connection."""
        if self._held is None:
            self._held = []

    def _release_unheard(self) -> None:
        """Dispatch the events kept by :meth:`_hold_unheard` on the next turn of the loop
        (listeners added before then get them; without one, an event is lost as usual)."""
        held, self._held = self._held, None
        if held:
            asyncio.get_running_loop().call_soon(self._replay, held)

    def _replay(self, held: list[tuple[list[Any], Callable[..., None] | None]]) -> None:
        for data, ack in held:
            self._emit_event(data, ack)

    def _emit_buffered(self) -> None:
        received, self._receive_buffer = self._receive_buffer, []
        for data, ack in received:
            self._emit_event(data, ack)
        buffered, self._send_buffer = self._send_buffer, []
        for packet, compress in buffered:
            self._notify_outgoing(packet.data)
            self._packet(packet, compress)


class Emit:
    """One emit with flags: ``sock.timeout(2)``, ``sock.volatile``, ``sock.compress(False)``;
    chainable (``sock.volatile.timeout(1).emit(...)``)."""

    __slots__ = ("_flags", "_socket")

    def __init__(self, socket: Socket, flags: _Flags) -> None:
        self._socket = socket
        self._flags = flags

    def timeout(self, seconds: float) -> Emit:
        return Emit(self._socket, self._flags.copy(timeout=seconds))

    @property
    def volatile(self) -> Emit:
        return Emit(self._socket, self._flags.copy(volatile=True))

    def compress(self, value: bool) -> Emit:
        return Emit(self._socket, self._flags.copy(compress=value))

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        self._socket._emit(event, args, callback, self._flags)

    def send(self, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        self._socket._emit("message", args, callback, self._flags)

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        return await self._socket._ack_future(event, args, self._flags)


def _settler(future: asyncio.Future[Any]) -> Callable[..., None]:
    """An error-first acknowledgement callback that settles ``future``."""

    def settle(error: BaseException | None, *values: Any) -> None:
        if not future.done():
            if error is None:
                future.set_result(_value(values))
            else:
                future.set_exception(error)

    return settle


def _value(args: tuple[Any, ...]) -> Any:
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return args


def _event_name(event: Any) -> str:
    """The name JavaScript gives a non-string event (a number)."""
    if isinstance(event, float) and event.is_integer():
        return str(int(event))
    return str(event)


def _call(callback: Callable[..., Any], args: tuple[Any, ...], tasks: TaskSet) -> None:
    try:
        result = callback(*args)
    except Exception:
        log.exception("error in an acknowledgement callback")
        return
    if result is not None and inspect.isawaitable(result):
        tasks.spawn(_wait(result), "acknowledgement callback")


async def _wait(awaitable: Awaitable[Any]) -> None:
    await awaitable


def _remove(queue: deque[_Queued], item: _Queued) -> None:
    if queue and queue[0] is item:
        queue.popleft()
    else:
        try:
            queue.remove(item)
        except ValueError:
            pass


def _without(listeners: list[Listener], handler: Callable[..., Any] | None) -> list[Listener]:
    if handler is None:
        return []
    for i, listener in enumerate(listeners):
        if listener.func is handler:
            return listeners[:i] + listeners[i + 1 :]
    return listeners
