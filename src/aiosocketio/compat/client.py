"""python-socketio's ``AsyncClient`` over aiosocketio's client: one connection
(:class:`~aiosocketio.client.Manager`) with a socket per namespace."""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..client.manager import Manager
from ..client.socket import Socket
from ..client.transports import TransportError
from ..errors import AckTimeout, ConnectionRefused, NotConnected
from ..runtime import ack_args
from . import exceptions
from ._calls import as_args, background, call_callback, call_handler, reason

if TYPE_CHECKING:
    from .namespace import AsyncClientNamespace

__all__ = ["AsyncClient"]

F = TypeVar("F", bound=Callable[..., Any])

_LOCAL = frozenset(("connect", "connect_error", "disconnect"))


class AsyncClient:
    """A Socket.IO client with python-socketio 5's asyncio API (``socketio.AsyncClient``).

    Options: ``reconnection``, ``reconnection_attempts`` (0: no limit),
    ``reconnection_delay``, ``reconnection_delay_max``, ``randomization_factor``,
    ``serializer`` (``"default"``, ``"msgpack"``), ``request_timeout`` (bounds each attempt
    to open the connection), ``ssl_verify``, ``timestamp_requests``. ``logger``,
    ``engineio_logger`` and ``handle_sigint`` are accepted and have no effect.
    """

    class reason:
        """Disconnect reasons, as python-socketio names them."""

        CLIENT_DISCONNECT = "client disconnect"
        SERVER_DISCONNECT = "server disconnect"
        PING_TIMEOUT = "ping timeout"
        TRANSPORT_CLOSE = "transport close"
        TRANSPORT_ERROR = "transport error"

    def __init__(
        self,
        reconnection: bool = True,
        reconnection_attempts: int = 0,
        reconnection_delay: float = 1,
        reconnection_delay_max: float = 5,
        randomization_factor: float = 0.5,
        logger: Any = False,
        serializer: str = "default",
        json: Any = None,
        handle_sigint: bool = True,
        **kwargs: Any,
    ) -> None:
        options: dict[str, Any] = {
            "reconnection": reconnection,
            "reconnection_attempts": reconnection_attempts or math.inf,
            "reconnection_delay": reconnection_delay,
            "reconnection_delay_max": reconnection_delay_max,
            "randomization_factor": randomization_factor,
            "timeout": float(kwargs.pop("request_timeout", 5)),
            "timestamp_requests": bool(kwargs.pop("timestamp_requests", True)),
        }
        if serializer == "msgpack":
            from ..socketio.msgpack_parser import MsgpackParser

            options["parser"] = MsgpackParser()
        elif serializer != "default":
            raise ValueError(
                f"serializer={serializer!r} is not supported: use 'default' (JSON) or 'msgpack'"
            )
        if not kwargs.pop("ssl_verify", True):
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            options["ssl"] = context
        kwargs.pop("engineio_logger", None)
        for name in ("http_session", "websocket_extra_options"):
            if kwargs.pop(name, None) is not None:
                raise ValueError(f"{name} is not supported by aiosocketio's client")
        if kwargs:
            raise TypeError("unknown or unsupported AsyncClient options: " + ", ".join(kwargs))
        self.options = options
        self.reconnection = reconnection
        self.handlers: dict[str, dict[str, Callable[..., Any]]] = {}
        self.namespace_handlers: dict[str, AsyncClientNamespace] = {}
        self.manager: Manager | None = None
        self.sockets: dict[str, Socket] = {}
        self.connection_namespaces: list[str] = []
        self.failed_namespaces: list[str] = []
        self._keep_unheard = False  # AsyncSimpleClient's: events kept for receive()

    # ------------------------------------------------------------------ registration
    def on(
        self, event: str, handler: Callable[..., Any] | None = None, namespace: str | None = None
    ) -> Any:
        """Register a handler (or, without ``handler``, a decorator)."""

        def register(func: F) -> F:
            self.handlers.setdefault(namespace or "/", {})[event] = func
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

    def register_namespace(self, namespace_handler: AsyncClientNamespace) -> None:
        from .namespace import AsyncClientNamespace

        if not isinstance(namespace_handler, AsyncClientNamespace):
            raise ValueError("Not a namespace instance")
        namespace_handler._set_client(self)
        self.namespace_handlers[namespace_handler.namespace] = namespace_handler

    # ------------------------------------------------------------------ connecting
    async def connect(
        self,
        url: str | Callable[[], Any],
        headers: dict[str, str] | Callable[[], Any] | None = None,
        auth: Any = None,
        transports: list[str] | str | None = None,
        namespaces: list[str] | str | None = None,
        socketio_path: str = "socket.io",
        wait: bool = True,
        wait_timeout: float = 1,
        retry: bool = False,
    ) -> None:
        """Connect to the server and to ``namespaces`` (default: those with handlers, or
        ``/``). Raises ConnectionError when the server or a namespace refuses."""
        if self.connected:
            raise exceptions.ConnectionError("Already connected")
        if namespaces is None:
            names = {*self.handlers, *self.namespace_handlers} - {"*"}
            namespaces = sorted(names) or ["/"]
        elif isinstance(namespaces, str):
            namespaces = [namespaces]
        if isinstance(transports, str):
            transports = [transports]
        self.connection_namespaces = list(namespaces)
        self.failed_namespaces = []
        manager = Manager(
            await _value(url),
            path="/" + socketio_path.strip("/"),
            extra_headers=await _value(headers) or {},
            transports=tuple(transports or ("polling", "websocket")),
            auto_connect=False,
            **self.options,
        )
        self.manager = manager
        self.sockets = {}
        for name in namespaces:
            socket = _Socket(self, manager, name, auth)
            manager.nsps[socket.nsp] = socket
            self.sockets[socket.nsp] = socket
            if self._keep_unheard:
                socket.keep_unheard()
        for one in self.sockets.values():
            one.connect()
        if not wait and not retry:
            return
        try:
            await self._wait_connected(wait_timeout, retry)
        except BaseException:
            await manager.disconnect()
            raise

    async def _wait_connected(self, wait_timeout: float, retry: bool) -> None:
        budget = None if retry else wait_timeout + (self.options["timeout"] or 0)
        for name, socket in self.sockets.items():
            while True:
                try:
                    await socket.wait_connected(budget)
                    break
                except ConnectionRefused:
                    self.failed_namespaces.append(name)
                    break
                except TransportError as exc:
                    if not retry or socket._done_for_good():
                        raise exceptions.ConnectionError(str(exc)) from None
                except TimeoutError:
                    break
        if self.failed_namespaces or not all(s.connected for s in self.sockets.values()):
            failed = self.failed_namespaces or [
                n for n, s in self.sockets.items() if not s.connected
            ]
            raise exceptions.ConnectionError(
                "One or more namespaces failed to connect: " + ", ".join(failed)
            )

    async def wait(self) -> None:
        """Wait until the connection ends for good (reconnections included)."""
        await asyncio.gather(*(socket.wait() for socket in self.sockets.values()))
        if self.manager is not None:
            await self.manager._tasks.wait()  # the handlers of the end (disconnect) are done

    async def disconnect(self) -> None:
        """Leave every namespace and close the connection."""
        for socket in list(self.sockets.values()):
            socket.disconnect()
        if self.manager is not None:
            await self.manager.disconnect()

    async def shutdown(self) -> None:
        """Disconnect, or stop reconnecting."""
        await self.disconnect()

    # ------------------------------------------------------------------ state
    @property
    def connected(self) -> bool:
        return any(socket.connected for socket in self.sockets.values())

    @property
    def namespaces(self) -> dict[str, str | None]:
        """The connected namespaces and their ``sid``."""
        return {name: s.id for name, s in self.sockets.items() if s.connected}

    @property
    def sid(self) -> str | None:
        """The id of the Engine.IO connection."""
        engine = self.manager.engine if self.manager is not None else None
        return None if engine is None else engine.id

    def get_sid(self, namespace: str | None = None) -> str | None:
        return self.namespaces.get(namespace or "/")

    def transport(self) -> str:
        engine = self.manager.engine if self.manager is not None else None
        if engine is None or engine.transport is None:
            return ""
        return str(engine.transport.name)

    # ------------------------------------------------------------------ emitting
    def _socket(self, namespace: str | None) -> Socket:
        socket = self.sockets.get(namespace or "/")
        if socket is None or not socket.connected:
            raise exceptions.BadNamespaceError(f"{namespace or '/'} is not a connected namespace.")
        return socket

    async def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        """Send an event (``data``: a tuple for several arguments); ``callback`` gets the
        server's acknowledgement arguments."""
        socket = self._socket(namespace)
        socket.emit(
            event, *as_args(data), callback=None if callback is None else call_callback(callback)
        )

    async def send(
        self, data: Any, namespace: str | None = None, callback: Callable[..., Any] | None = None
    ) -> None:
        await self.emit("message", data, namespace, callback)

    async def call(
        self, event: str, data: Any = None, namespace: str | None = None, timeout: float = 60
    ) -> Any:
        """Send an event and return the acknowledgement: None, the argument, or a tuple."""
        socket = self._socket(namespace)
        try:
            return await socket.emit_with_ack(event, *as_args(data), timeout=timeout)
        except (AckTimeout, NotConnected):
            raise exceptions.TimeoutError() from None

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        return background(target, *args, **kwargs)

    async def sleep(self, seconds: float = 0) -> None:
        await asyncio.sleep(seconds)

    # ------------------------------------------------------------------ dispatch
    def _handler(self, event: str, name: str, args: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
        table = self.handlers.get(name)
        if table is not None:
            if event in table:
                return table[event], args
            if "*" in table and event not in _LOCAL:
                return table["*"], (event, *args)
        table = self.handlers.get("*")
        if table is not None:
            if event in table:
                return table[event], (name, *args)
            if "*" in table and event not in _LOCAL:
                return table["*"], (event, name, *args)
        namespace = self.namespace_handlers.get(name) or self.namespace_handlers.get("*")
        if namespace is not None:
            return namespace.trigger_event, (event, *args)
        return None, args

    async def _run(self, name: str, event: str, args: tuple[Any, ...], ack: Any) -> None:
        handler, full = self._handler(event, name, args)
        result = None
        if handler is not None:
            result = await call_handler(handler, full, 1 if event == "disconnect" else 0)
        if ack is not None:
            ack(*ack_args(result))


class _Socket(Socket):
    """A native client socket whose events go to the compat client's handlers."""

    __slots__ = ("_compat",)

    def __init__(self, compat: AsyncClient, manager: Manager, nsp: str, auth: Any) -> None:
        super().__init__(manager, nsp if nsp.startswith("/") else "/" + nsp, auth=auth)
        self._compat = compat

    def _dispatch(self, event: str, args: list[Any], ack: Callable[..., None] | None) -> None:
        super()._dispatch(event, args, None)  # native listeners (wait(), receive())
        if event == "connect_error":
            values: tuple[Any, ...] = (_error_data(args[0]),)
        elif event == "disconnect":
            values = (reason(args[0]),)
        else:
            values = tuple(args)
        self.io._tasks.spawn(self._compat._run(self.nsp, event, values, ack), f"{event!r} handler")


def _error_data(error: Any) -> Any:
    """What python-socketio gives ``connect_error`` handlers."""
    if isinstance(error, ConnectionRefused):
        data: dict[str, Any] = {"message": error.message}
        if error.data is not None:
            data["data"] = error.data
        return data
    return str(error)


async def _value(value: Any) -> Any:
    """A value, or what a function (plain or async) given instead returns."""
    if callable(value):
        value = value()
        if asyncio.iscoroutine(value):
            value = await value
    return value
