"""python-socketio's ``AsyncServer`` over an aiosocketio :class:`~aiosocketio.Server`.

Handlers take the client's ``sid`` first; everything addresses clients by ``sid`` and
rooms by name. The native server is :attr:`AsyncServer.server` (its namespaces, adapter,
``serve()``...); each ``sid`` is the id of a native :class:`~aiosocketio.Socket`.
"""

from __future__ import annotations

import asyncio
import json as _stdlib_json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConnectionRefused
from ..runtime import Listener, ack_args, spawn
from ..server.namespace import Namespace
from ..server.server import Server
from ..server.socket import Socket
from . import exceptions
from ._calls import background, call_handler, compat_logger, reason
from ._environ import environ_of
from ._operations import SidOperations
from ._options import server_options
from .managers import AsyncManager

if TYPE_CHECKING:
    from ..admin import AdminUI
    from .namespace import AsyncNamespace

__all__ = ["AsyncServer"]

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("aiosocketio.compat")

_NOT_HANDLED = object()
_RESERVED = frozenset(("connect", "disconnect"))


class AsyncServer(SidOperations):
    """A Socket.IO server with python-socketio 5's asyncio API (``socketio.AsyncServer``).

    Options are python-socketio's: ``client_manager`` (:class:`AsyncManager`,
    :class:`AsyncRedisManager`), ``logger`` (events received and emitted, at INFO, to
    ``socketio.server``), ``engineio_logger`` (every packet, at DEBUG), ``serializer``
    (``"default"`` or ``"msgpack"``), ``always_connect``, ``namespaces`` (a list, or ``"*"``)
    and the engine options (``async_mode="asgi"``, ``ping_interval``, ``ping_timeout``,
    ``max_http_buffer_size``, ``allow_upgrades``, ``http_compression``,
    ``compression_threshold``, ``cookie``, ``cors_allowed_origins``, ``cors_credentials``,
    ``transports``, ``monitor_clients``). An option aiosocketio cannot honour raises an error
    that says so.
    """

    class reason:
        """Disconnect reasons, as python-socketio names them."""

        SERVER_DISCONNECT = "server disconnect"
        CLIENT_DISCONNECT = "client disconnect"
        PING_TIMEOUT = "ping timeout"
        TRANSPORT_CLOSE = "transport close"
        TRANSPORT_ERROR = "transport error"

    def __init__(
        self,
        client_manager: AsyncManager | None = None,
        logger: bool | logging.Logger = False,
        json: Any = None,
        async_handlers: bool = True,
        namespaces: list[str] | str | None = None,
        *,
        serializer: str = "default",
        always_connect: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs["async_handlers"] = async_handlers
        options = server_options(kwargs)
        if json is not None and json is not _stdlib_json:
            raise ValueError(
                "json= is not supported: aiosocketio encodes JSON with its own codec (orjson); "
                "leave it out (values the standard json module can encode are sent the same)"
            )
        if serializer == "msgpack":
            from ..socketio.msgpack_parser import MsgpackParser

            options["parser"] = MsgpackParser()
        elif serializer != "default":
            raise ValueError(
                f"serializer={serializer!r} is not supported: use 'default' (JSON) or 'msgpack'"
            )
        manager = client_manager if client_manager is not None else AsyncManager()
        if not isinstance(manager, AsyncManager):
            raise TypeError("client_manager must be an AsyncManager or AsyncRedisManager")
        if manager.write_only:
            raise ValueError("a write_only manager emits from outside a server: not a server's")
        options["adapter"] = manager.adapter_factory()
        self.manager = manager
        self.server = Server(**options)
        self.logger = compat_logger(logger, "socketio.server", logging.INFO)
        self.always_connect = always_connect
        self.namespaces: list[str] | str = namespaces or ["/"]
        self.async_mode = "asgi"
        self.handlers: dict[str, dict[str, Callable[..., Any]]] = {}
        self.namespace_handlers: dict[str, AsyncNamespace] = {}
        self._sockets: dict[str, Socket] = {}
        self._ready: set[Namespace] = set()
        self._listeners: dict[tuple[Namespace, str], Listener] = {}
        self._setup(self.server.sockets)
        if self.namespaces == "*":
            self._setup(self.server.of(lambda name, auth: True))
        else:
            for name in self.namespaces:
                self._setup(self.server.of(name))

    # ------------------------------------------------------------------ registration
    def on(
        self, event: str, handler: Callable[..., Any] | None = None, namespace: str | None = None
    ) -> Any:
        """Register a handler (or, without ``handler``, a decorator): ``handler(sid, *args)``;
        ``connect(sid, environ, auth)``, ``disconnect(sid, reason)``; ``"*"`` for the events
        that have no handler (``handler(event, sid, *args)``); ``namespace="*"`` for every
        namespace (the namespace comes first)."""
        name = namespace or "/"

        def register(func: F) -> F:
            self.handlers.setdefault(name, {})[event] = func
            if name != "*":
                nsp = self._namespace(name)
                if event not in _RESERVED and event != "*":
                    self._register_event(nsp, event, func)
            return func

        if handler is None:
            return register
        register(handler)
        return None

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """``@sio.event`` (the function's name is the event) or ``@sio.event(namespace=...)``."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def register(func: F) -> F:
            return self.on(func.__name__, *args, **kwargs)(func)  # type: ignore[no-any-return]

        return register

    def register_namespace(self, namespace_handler: AsyncNamespace) -> None:
        """Register an :class:`AsyncNamespace` object (its ``on_<event>`` methods)."""
        from .namespace import AsyncNamespace

        if not isinstance(namespace_handler, AsyncNamespace):
            raise ValueError("Not a namespace instance")
        namespace_handler._set_server(self)
        name = namespace_handler.namespace
        self.namespace_handlers[name] = namespace_handler
        if name != "*":
            self._namespace(name)

    def _register_event(self, nsp: Namespace, event: str, func: Callable[..., Any]) -> None:
        """The native handler of an event: ``func(sid, *args)`` itself, called as the native
        API calls its own (one registration per event: a new handler replaces the old)."""
        listener = self._listeners.get((nsp, event))
        if listener is None:
            self._listeners[(nsp, event)] = nsp._on_event_by_id(event, func)
        else:
            new = self._listeners[(nsp, event)] = Listener(func, by_id=True)
            handlers = nsp._event_handlers[event]
            handlers[handlers.index(listener)] = new

    def _namespace(self, name: str) -> Namespace:
        nsp = self.server.of(name)
        self._setup(nsp)
        return nsp

    def _setup(self, nsp: Namespace) -> None:
        if nsp in self._ready:
            return
        self._ready.add(nsp)
        nsp.use(self._on_connect)
        nsp.on("connection", self._on_connection)
        nsp.on_unhandled(self._on_unhandled)

    def _accepts(self, name: str) -> bool:
        if self.namespaces == "*" or name in self.namespaces:
            return True
        return name in self.handlers or name in self.namespace_handlers

    def _handler(
        self, event: str, name: str, args: tuple[Any, ...]
    ) -> tuple[Any, tuple[Any, ...], bool]:
        """The handler of an event and its arguments, in python-socketio's order: the
        namespace's handler, its ``"*"``, the ``"*"`` namespace's (then given the namespace),
        the namespace object, the ``"*"`` namespace object (True: a namespace object's
        ``trigger_event``)."""
        table = self.handlers.get(name)
        if table is not None:
            if event in table:
                return table[event], args, False
            if "*" in table and event not in _RESERVED:
                return table["*"], (event, *args), False
        table = self.handlers.get("*")
        if table is not None:
            if event in table:
                return table[event], (name, *args), False
            if "*" in table and event not in _RESERVED:
                return table["*"], (event, name, *args), False
        namespace = self.namespace_handlers.get(name)
        if namespace is not None:
            return namespace.trigger_event, (event, *args), True
        namespace = self.namespace_handlers.get("*")
        if namespace is not None:
            return namespace.trigger_event, (event, name, *args), True
        return None, args, False

    async def _trigger(self, event: str, name: str, *args: Any, optional: int = 0) -> Any:
        handler, full, trigger = self._handler(event, name, args)
        if handler is None:
            return _NOT_HANDLED
        if trigger:  # a namespace object's method: it drops the arguments the method lacks
            return await handler(*full)
        return await call_handler(handler, full, optional)

    # ------------------------------------------------------------------ native hooks
    async def _on_connect(self, socket: Socket) -> None:
        """Middleware of every namespace: the ``connect`` handler decides."""
        name = socket.nsp.name
        if not self._accepts(name):
            raise ConnectionRefused("Unable to connect")
        self._sockets[socket.id] = socket
        if self.always_connect:
            return
        refusal = await self._run_connect(socket)
        if refusal is not None:
            self._forget(socket)
            raise refusal

    def _on_connection(self, socket: Socket) -> None:
        socket.on("disconnect", lambda why: self._on_disconnect(socket, why))
        if self.logger is not None:
            socket.on_any(lambda event, *args: self._log_received(socket, event))
        if self.always_connect:
            spawn(self._connect_after(socket), "connect handler")

    async def _connect_after(self, socket: Socket) -> None:
        refusal = await self._run_connect(socket)
        if refusal is not None and socket.connected:
            socket.disconnect()

    async def _run_connect(self, socket: Socket) -> ConnectionRefused | None:
        auth = socket.handshake.auth or None
        try:
            result = await self._trigger(
                "connect", socket.nsp.name, socket.id, environ_of(socket), auth, optional=1
            )
        except exceptions.ConnectionRefusedError as exc:
            return exc.to_native()
        except ConnectionRefusedError:
            return ConnectionRefused("Connection refused by server")
        except Exception as exc:
            log.exception("error in the connect handler of %s", socket.nsp.name)
            return ConnectionRefused(str(exc) or type(exc).__name__)
        if result is False:
            return ConnectionRefused("Connection rejected by server")
        return None

    def _on_disconnect(self, socket: Socket, why: str) -> None:
        spawn(self._disconnected(socket, reason(why)), "disconnect handler")

    async def _disconnected(self, socket: Socket, why: str) -> None:
        try:
            await self._trigger("disconnect", socket.nsp.name, socket.id, why, optional=1)
        finally:
            self._forget(socket)

    def _forget(self, socket: Socket) -> None:
        if self._sockets.get(socket.id) is socket:
            del self._sockets[socket.id]
        socket.nsp.adapter.delete_all(socket.id)

    async def _on_unhandled(
        self, socket: Socket, event: str, *args: Any, ack: Callable[..., None]
    ) -> None:
        result = await self._trigger(event, socket.nsp.name, socket.id, *args)
        if result is not _NOT_HANDLED:
            ack(*ack_args(result))

    def _log_received(self, socket: Socket, event: str) -> None:
        if self.logger is not None:
            self.logger.info('received event "%s" from %s [%s]', event, socket.id, socket.nsp.name)

    # ------------------------------------------------------------------ tasks and the rest
    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """Run ``target(*args, **kwargs)`` (a coroutine function) as a task."""
        return background(target, *args, **kwargs)

    async def sleep(self, seconds: float = 0) -> None:
        await asyncio.sleep(seconds)

    def instrument(
        self,
        auth: Any = None,
        mode: str = "development",
        read_only: bool = False,
        server_id: str | None = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
    ) -> AdminUI:
        """Serve the Socket.IO Admin UI (``auth``: a dict of the expected login, a list of
        them, a function of the login, or False for none)."""
        from ._admin import instrument

        return instrument(self, auth, mode, read_only, server_id, namespace, server_stats_interval)

    async def shutdown(self) -> None:
        """Disconnect every client and stop the server's background work."""
        await self.server.close()

    def attach(self, app: Any, socketio_path: str = "socket.io") -> None:
        raise NotImplementedError(
            "attach() (aiohttp, sanic, tornado) is not supported: serve "
            "socketio.ASGIApp(sio) with an ASGI server"
        )

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("serve socketio.ASGIApp(sio) instead of handle_request()")
