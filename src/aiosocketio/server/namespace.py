"""Namespaces: a group of sockets with its own handlers, middleware and adapter."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..adapters.base import Adapter
from ..adapters.seam import BroadcastOptions, PersistedSession
from ..errors import ConnectionRefused
from ..runtime import Listener, Listeners, run_handler, spawn
from ..socketio.packets import CONNECT_ERROR, RESERVED_EVENTS, Packet
from .broadcast import BroadcastOperator
from .sink import AdapterSeam
from .socket import Socket

if TYPE_CHECKING:
    from .client import Client
    from .server import Server

__all__ = ["Namespace", "ParentNamespace"]

log = logging.getLogger("aiosocketio.server")

F = TypeVar("F", bound=Callable[..., Any])

NamespaceCheck = Callable[[str, dict[str, Any]], "bool | Awaitable[bool]"]


class Namespace(AdapterSeam):
    """A namespace (Node: ``Namespace``). Broadcast operators start here.

    It is also what its adapter sees of the server (:class:`~aiosocketio.adapters.seam.Host`,
    implemented by :class:`~aiosocketio.server.sink.AdapterSeam`)."""

    def __init__(self, server: Server, name: str) -> None:
        self.name = name
        self.server = server
        self.sockets: dict[str, Socket] = {}
        self._middlewares: list[Listener] = []
        self._connection_handlers: list[Listener] = []
        self._event_handlers = Listeners()
        self._server_side_handlers = Listeners()
        self._unhandled_handlers: list[Listener] = []
        self._any_outgoing: list[Listener] | None = None
        self._ack_ids = 0
        self.encode = server.parser.encode  # the parser's encoder, looked up once
        self.adapter: Adapter = server.adapter_factory(self)
        self.parent: ParentNamespace | None = None

    def __repr__(self) -> str:
        return f"<Namespace {self.name!r} sockets={len(self.sockets)}>"

    def next_ack_id(self) -> int:
        self._ack_ids += 1
        return self._ack_ids - 1

    # ------------------------------------------------------------------ registration
    @overload
    def on(self, event: str) -> Callable[[F], F]: ...
    @overload
    def on(self, event: str, handler: F) -> F: ...
    def on(self, event: str, handler: F | None = None) -> Any:
        """``"connection"`` (or ``"connect"``) handlers get each new socket; any other event
        name registers a listener for events sent by other servers with server_side_emit."""

        def register(func: F) -> F:
            listener = Listener(func)
            if event in ("connection", "connect"):
                self._connection_handlers.append(listener)
            else:
                self._server_side_handlers.setdefault(event, []).append(listener)
            return func

        return register if handler is None else register(handler)

    @overload
    def on_event(self, event: str) -> Callable[[F], F]: ...
    @overload
    def on_event(self, event: str, handler: F) -> F: ...
    def on_event(self, event: str, handler: F | None = None) -> Any:
        """Handle an event from any socket of the namespace: ``handler(socket, *args)``.

        The same as ``socket.on(event, ...)`` in every connection handler, without a listener
        per socket. Runs after the socket's own handlers.
        """

        def register(func: F) -> F:
            self._event_handlers.add(event, func)
            return func

        return register if handler is None else register(handler)

    def _on_event_by_id(self, event: str, handler: Callable[..., Any]) -> Listener:
        """As :meth:`on_event`, the handler called with the socket's id in place of the
        socket (python-socketio's ``handler(sid, *args)``, for :mod:`aiosocketio.compat`; a
        parameter named ``ack`` is an ordinary one there). Returns the Listener."""
        listener = Listener(handler, by_id=True)
        self._event_handlers.setdefault(event, []).append(listener)
        return listener

    def on_unhandled(self, handler: F) -> F:
        """Handle the events of any socket of the namespace that no handler took (neither
        the socket's own nor ``on_event``): ``handler(socket, event, *args)``; its return
        value acknowledges the event. python-socketio's ``@sio.on("*")``; ``on_any`` of a
        socket sees every event instead."""
        self._unhandled_handlers.append(Listener(handler))
        return handler

    def use(self, middleware: F) -> F:
        """Connection middleware: ``middleware(socket)``, plain or async. Return None to let
        the socket in; raise ConnectionRefused(message, data), or return False (the client
        gets "Connection rejected by server"), to refuse the connection. Any other return
        value refuses it too, with a TypeError logged that says so."""
        self._middlewares.append(Listener(middleware))
        return middleware

    def on_any_outgoing(self, handler: F) -> F:
        self._any_outgoing = [*(self._any_outgoing or []), Listener(handler)]
        return handler

    # ------------------------------------------------------------------ broadcasting
    @property
    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self.adapter)

    def to(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        return self._operator.to(*rooms)

    in_ = to

    def except_(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        return self._operator.except_(*rooms)

    @property
    def volatile(self) -> BroadcastOperator:
        return self._operator.volatile

    @property
    def local(self) -> BroadcastOperator:
        return self._operator.local

    def compress(self, value: bool) -> BroadcastOperator:
        return self._operator.compress(value)

    def timeout(self, seconds: float) -> BroadcastOperator:
        return self._operator.timeout(seconds)

    def emit(self, event: str, *args: Any, callback: Any = None) -> bool:
        """Emit to every socket of the namespace."""
        if callback is None:  # the hot path: no operator object
            if event in RESERVED_EVENTS:
                raise ValueError(f"{event!r} is a reserved event name")
            self.adapter.broadcast(Packet(2, self.name, [event, *args]), _ALL)
            return True
        return self._operator.emit(event, *args, callback=callback)

    def send(self, *args: Any) -> bool:
        return self.emit("message", *args)

    write = send

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        return await self._operator.emit_with_ack(event, *args)

    async def fetch_sockets(self) -> list[Any]:
        return await self._operator.fetch_sockets()

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        self._operator.sockets_join(rooms)

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        self._operator.sockets_leave(rooms)

    def disconnect_sockets(self, close: bool = False) -> None:
        self._operator.disconnect_sockets(close)

    def server_side_emit(self, event: str, *args: Any, callback: Any = None) -> bool:
        """Emit to the other servers of the cluster (their ``nsp.on(event)`` listeners)."""
        if event in RESERVED_EVENTS or event in ("connection", "new_namespace"):
            raise ValueError(f"{event!r} is a reserved event name")
        self.adapter.server_side_emit([event, *args], callback)
        return True

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

        def done(err: BaseException | None, responses: list[Any]) -> None:
            if not future.done():
                if err is not None:
                    future.set_exception(err)
                else:
                    future.set_result(responses)

        self.server_side_emit(event, *args, callback=done)
        return await future

    def receive_server_side_emit(self, args: list[Any], ack: Callable[..., None] | None) -> None:
        """Called by cluster adapters for an event from another server."""
        if not args:
            return
        for listener in self._server_side_handlers.get(args[0], ()):
            run_handler(listener, list(args[1:]), ack, "server-side handler of", args[0])
            ack = None

    _on_server_side_emit = receive_server_side_emit

    # ------------------------------------------------------------------ connecting
    def _add(self, client: Client, auth: dict[str, Any]) -> None:
        recovery = self.server.recovery
        pid = auth.get("pid")
        offset = auth.get("offset")
        if recovery is not None and isinstance(pid, str) and isinstance(offset, str):
            spawn(self._recover(client, auth, pid, offset), "session recovery")
            return
        self._run_middlewares(Socket(self, client, auth), client)

    async def _recover(self, client: Client, auth: dict[str, Any], pid: str, offset: str) -> None:
        session = await self.adapter.restore_session(pid, offset)
        if client.conn.closed:  # gone while the session was looked up
            return
        socket = Socket(self, client, auth, session)
        recovery = self.server.recovery
        if session is not None and recovery is not None and recovery.skip_middlewares:
            self._do_connect(socket, client, session)
            return
        self._run_middlewares(socket, client, session)

    def _run_middlewares(
        self, socket: Socket, client: Client, session: PersistedSession | None = None
    ) -> None:
        middlewares = self._middlewares
        for i, mw in enumerate(middlewares):
            try:
                result = mw.func(socket)
                if inspect.isawaitable(result):
                    client.connecting.add(self.name)
                    finish = self._finish_middlewares(result, i, socket, client, session)
                    spawn(finish, "middleware")
                    return
                _check_verdict(mw, result)
            except Exception as exc:
                self._refuse(socket, client, exc)
                return
        self._do_connect(socket, client, session)

    async def _finish_middlewares(
        self,
        pending: Awaitable[Any],
        index: int,
        socket: Socket,
        client: Client,
        session: PersistedSession | None,
    ) -> None:
        middlewares = self._middlewares
        try:
            _check_verdict(middlewares[index], await pending)
            for mw in middlewares[index + 1 :]:
                result = mw.func(socket)
                if inspect.isawaitable(result):
                    result = await result
                _check_verdict(mw, result)
        except Exception as exc:
            client.connecting.discard(self.name)
            self._refuse(socket, client, exc)
            return
        client.connecting.discard(self.name)
        if client.conn.closed:
            return
        self._do_connect(socket, client, session)

    def _refuse(self, socket: Socket, client: Client, exc: Exception) -> None:
        if isinstance(exc, ConnectionRefused):
            payload = exc.to_payload()
        else:
            log.exception("error in middleware of namespace %s", self.name, exc_info=exc)
            payload = {"message": str(exc) or type(exc).__name__}
        socket._send(CONNECT_ERROR, client.refusal(payload))

    def _do_connect(
        self, socket: Socket, client: Client, session: PersistedSession | None = None
    ) -> None:
        if socket.nsp.name in client.nsps:
            return
        self.sockets[socket.id] = socket
        client._add(socket)
        if session is not None:
            socket.join(session.rooms)
            for data in session.missed_packets:
                socket._send(2, data)
        socket._on_connect()
        for listener in self._connection_handlers:
            verdict = _ConnectionHandlerResult(listener, socket)
            run_handler(listener, [socket], verdict, "connection handler of", self.name)

    def _remove(self, socket: Socket) -> None:
        self.sockets.pop(socket.id, None)
        parent = self.parent
        if parent is not None and not self.sockets and self.server.cleanup_empty_child_namespaces:
            parent._drop_child(self)


_ALL = BroadcastOptions()

REJECTED = "Connection rejected by server"  # what python-socketio sends for a False


def _check_verdict(middleware: Listener, result: Any) -> None:
    """A middleware's return value: None lets the socket in, False refuses it (as the connect
    handler of python-socketio does); anything else is a mistake, refused as well."""
    if result is None:
        return
    if result is False:
        raise ConnectionRefused(REJECTED)
    name = getattr(middleware.func, "__qualname__", repr(middleware.func))
    raise TypeError(
        f"middleware {name} returned {result!r}: return None to let the socket in, "
        f"False or raise ConnectionRefused(message, data) to refuse it"
    )


class _ConnectionHandlerResult:
    """What a connection handler returned (given as its acknowledgement callback). A
    connection handler cannot refuse: the socket is connected when it runs. False, what
    python-socketio's connect handler returns to refuse, disconnects the socket at once
    (never letting in a client the code meant to refuse) and logs what to do instead."""

    __slots__ = ("listener", "socket")

    def __init__(self, listener: Listener, socket: Socket) -> None:
        self.listener = listener
        self.socket = socket

    def __call__(self, *result: Any) -> None:
        if result != (False,):
            return
        name = getattr(self.listener.func, "__qualname__", repr(self.listener.func))
        log.error(
            "connection handler %s returned False: socket %s is disconnected. A connection "
            "handler runs once the socket is connected; to refuse a connection, use a "
            "middleware (io.use) that returns False or raises ConnectionRefused",
            name,
            self.socket.id,
        )
        self.socket.disconnect()


class ParentNamespace(Namespace):
    """A pattern (regular expression or function) that creates namespaces on demand."""

    _count = 0

    def __init__(self, server: Server, check: re.Pattern[str] | NamespaceCheck) -> None:
        ParentNamespace._count += 1
        super().__init__(server, f"/_{ParentNamespace._count}")
        self.check = check
        self.children: set[Namespace] = set()
        self.adapter = _ParentAdapter(self)

    def matches(self, name: str, auth: dict[str, Any]) -> bool | Awaitable[bool]:
        if isinstance(self.check, re.Pattern):
            return self.check.search(name) is not None
        return self.check(name, auth)

    def create_child(self, name: str) -> Namespace:
        child = Namespace(self.server, name)
        child.parent = self
        # shared lists: handlers added to the parent later apply to existing children too
        child._middlewares = self._middlewares
        child._connection_handlers = self._connection_handlers
        child._event_handlers = self._event_handlers
        child._server_side_handlers = self._server_side_handlers
        child._unhandled_handlers = self._unhandled_handlers
        child._any_outgoing = self._any_outgoing
        self.children.add(child)
        return child

    def _drop_child(self, child: Namespace) -> None:
        self.children.discard(child)
        self.server._forget_namespace(child)


class _ParentAdapter(Adapter):
    """Broadcasts of a parent namespace go to all its children."""

    nsp: ParentNamespace

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        for child in list(self.nsp.children):
            data = list(packet.data)
            child.adapter.broadcast(Packet(packet.type, child.name, data, packet.id), opts)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count: Callable[[int], None],
        ack: Callable[[Any], None],
    ) -> None:
        counts: list[int] = []
        for child in list(self.nsp.children):
            child.adapter.broadcast_with_ack(
                Packet(packet.type, child.name, list(packet.data)), opts, counts.append, ack
            )
        client_count(sum(counts))

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[Any]:
        out: list[Any] = []
        for child in list(self.nsp.children):
            out.extend(await child.adapter.fetch_sockets(opts))
        return out
