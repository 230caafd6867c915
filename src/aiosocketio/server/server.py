"""The Socket.IO server (Node: ``Server``)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..adapters.base import Adapter
from ..adapters.memory import MemoryAdapter
from ..engine.http import CorsPolicy, Headers, OriginCheck, Request
from ..engine.server import AllowRequest, EngineServer
from ..engine.socket import EngineSocket
from ..reasons import DisconnectReason
from ..runtime import spawn
from ..socketio.parser import JSON_PARSER, Parser
from ..static import find_static, serve_static
from ..workers import WORKERS_DIR_ENV
from ..workers.detect import SiblingCheck
from .broadcast import BroadcastOperator
from .client import Client
from .client_v3 import ClientV3
from .namespace import Namespace, NamespaceCheck, ParentNamespace

if TYPE_CHECKING:
    from ..asgi import ASGIApp
    from ..static import StaticFile
    from ..transport.standalone import Fallback, StandaloneServer
    from ..workers.slots import Slot
    from ..workers.worker import Worker

AdapterFactory = Callable[[Namespace], Adapter]

__all__ = ["RecoveryOptions", "Server"]

log = logging.getLogger("aiosocketio.server")
packet_log = logging.getLogger("aiosocketio.packets")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(slots=True)
class RecoveryOptions:
    """Connection state recovery (Node: ``connectionStateRecovery``)."""

    max_disconnection_duration: float = 120.0
    skip_middlewares: bool = True
    max_packets: int = 10_000


class Server:
    """A Socket.IO server. Serve it with :meth:`serve` (standalone, fastest) or mount
    :meth:`asgi_app` in any ASGI server.

    Engine options keep the Node defaults; times are in seconds.

    ``static_files`` maps URL paths to files served as they are on GET and HEAD, by both
    front doors: a file name, or ``{"filename": ..., "content_type": ...}`` (for example
    ``{"/": "static/index.html"}``; like Node's ``serveClient``, but for any file). A key
    that ends with ``/`` maps a URL prefix to a directory: ``{"/static/": "public/"}``.

    ``log_packets``: log every Engine.IO packet received and sent, at DEBUG level, to the
    ``aiosocketio.packets`` logger (or to the logger given). Only the sessions opened
    while it is on pay for it.

    ``workers_dir`` (default: the environment variable ``AIOSOCKETIO_WORKERS_DIR``) turns
    *workers mode* on, for several processes of this server on one machine (``uvicorn
    --workers N``, gunicorn, hypercorn, or our own server's workers): the workers share that
    directory. Each claims a slot there when it starts (:meth:`start`, or :meth:`startup`
    under an ASGI server); its session ids start with the slot's two characters (with a
    ``generate_id`` of yours, they are put before your id), and a request for another
    worker's session is passed on to that worker. See "Deploying on all cores"
    (docs/deploying.md).

    ``allow_eio3`` (Node: ``allowEIO3``) also serves the clients of the previous protocol,
    Engine.IO v3 with Socket.IO v4 (socket.io-client 2.x and the native clients of that
    era) beside the current ones. See "Legacy clients" (docs/legacy-clients.md).
    """

    def __init__(
        self,
        *,
        path: str = "/socket.io",
        adapter: AdapterFactory | None = None,
        parser: Parser = JSON_PARSER,
        connect_timeout: float = 45.0,
        connection_state_recovery: RecoveryOptions | bool | None = None,
        cleanup_empty_child_namespaces: bool = False,
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        upgrade_timeout: float = 10.0,
        max_http_buffer_size: int = 1_000_000,
        transports: Sequence[str] = ("polling", "websocket"),
        allow_upgrades: bool = True,
        cors: CorsPolicy | str | Sequence[str] | OriginCheck | None = None,
        cors_credentials: bool = False,
        cookie: bool | dict[str, Any] = False,
        allow_request: AllowRequest | None = None,
        per_message_deflate: bool | dict[str, Any] = False,
        http_compression: bool | int = True,
        max_buffer_size: int = 8 * 1024 * 1024,
        max_pending_handlers: int = 256,
        max_pending_acks: int | None = 1000,
        max_namespaces: int | None = 10_000,
        max_connections: int | None = None,
        static_files: Mapping[str, StaticFile] | None = None,
        log_packets: bool | logging.Logger = False,
        workers_dir: str | os.PathLike[str] | None = None,
        allow_eio3: bool = False,
    ) -> None:
        if not isinstance(cors, CorsPolicy) and cors is not None:
            cors = CorsPolicy(cors, credentials=cors_credentials)
        self.engine = EngineServer(
            self._on_engine_connection,
            path=path,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            upgrade_timeout=upgrade_timeout,
            max_http_buffer_size=max_http_buffer_size,
            transports=transports,
            allow_upgrades=allow_upgrades,
            cors=cors,
            cookie=cookie,
            allow_request=allow_request,
            per_message_deflate=per_message_deflate,
            http_compression=http_compression,
            max_buffer_size=max_buffer_size,
            max_connections=max_connections,
            allow_eio3=allow_eio3,
        )
        for name, value in (
            ("max_pending_acks", max_pending_acks),
            ("max_namespaces", max_namespaces),
        ):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (or None: no limit)")
        self.max_pending_acks = max_pending_acks
        self.max_namespaces = max_namespaces
        self._namespaces_full_logged_at = -math.inf
        self._default_adapter = adapter is None
        self.adapter_factory: AdapterFactory = adapter or MemoryAdapter
        if workers_dir is None:
            workers_dir = os.environ.get(WORKERS_DIR_ENV) or None
        self.workers_dir: str | None = None if workers_dir is None else os.fspath(workers_dir)
        """The run directory of the workers (workers mode), or None."""
        self.worker: Worker | None = None
        """This process's share of the run directory, once started in workers mode."""
        self._joining: asyncio.Future[None] | None = None
        if self.workers_dir is None:
            self.engine.router = SiblingCheck()
        self.parser = parser
        self.connect_timeout = connect_timeout
        self.max_pending_handlers = max_pending_handlers
        self.static_files: dict[str, StaticFile] = dict(static_files or {})
        self.packet_log: logging.Logger | None = None
        if log_packets:
            self.packet_log = log_packets if isinstance(log_packets, logging.Logger) else packet_log
        if connection_state_recovery is True:
            connection_state_recovery = RecoveryOptions()
        self.recovery: RecoveryOptions | None = connection_state_recovery or None
        self.cleanup_empty_child_namespaces = cleanup_empty_child_namespaces
        self._nsps: dict[str, Namespace] = {}
        self._parents: list[ParentNamespace] = []
        self._standalone: StandaloneServer | None = None
        self.sockets = self.of("/")

    # ------------------------------------------------------------------ namespaces
    def of(self, name: str | re.Pattern[str] | NamespaceCheck) -> Namespace:
        """The namespace of that name (created when new), or a parent namespace for a
        regular expression or a function ``check(name, auth) -> bool`` (dynamic namespaces)."""
        if isinstance(name, str):
            if not name.startswith("/"):
                name = "/" + name
            nsp = self._nsps.get(name)
            if nsp is None:
                for parent in self._parents:  # as in Node: a name a regex matches is its child
                    if isinstance(parent.check, re.Pattern) and parent.check.search(name):
                        return self._create_child(parent, name)
                nsp = self._nsps[name] = Namespace(self, name)
                self._adapter_init(nsp)
                if name != "/":
                    self._announce(nsp)
            return nsp
        parent = ParentNamespace(self, name)
        self._parents.append(parent)
        return parent

    def _adapter_init(self, nsp: Namespace) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: adapters are initialised when the server starts

        spawn(nsp.adapter.init(), f"adapter init of {nsp.name}")

    async def _init_adapters(self) -> None:
        for nsp in list(self._nsps.values()):
            await nsp.adapter.init()

    def _match_parent(self, name: str, auth: dict[str, Any]) -> Any:
        """True/False when decided now, else an awaitable giving the namespace or None."""
        if self._parents and self._namespaces_full():
            return False
        pending: list[tuple[ParentNamespace, Awaitable[bool]]] = []
        for parent in self._parents:
            try:
                result = parent.matches(name, auth)
            except Exception:
                log.exception("error in dynamic namespace check")
                continue
            if inspect.isawaitable(result):
                pending.append((parent, result))
            elif result:
                self._create_child(parent, name)
                return True
        if not pending:
            return False
        return self._match_later(name, pending)

    async def _match_later(
        self, name: str, pending: list[tuple[ParentNamespace, Awaitable[bool]]]
    ) -> Namespace | None:
        for parent, result in pending:
            try:
                if await result:
                    nsp = self._nsps.get(name)
                    if nsp is None and self._namespaces_full():
                        return None
                    return nsp or self._create_child(parent, name)
            except Exception:
                log.exception("error in dynamic namespace check")
        return None

    def _namespaces_full(self) -> bool:
        """Whether ``max_namespaces`` children of dynamic namespaces exist (a client that
        asks for one more gets "Invalid namespace"; a warning is logged once a minute)."""
        limit = self.max_namespaces
        if limit is None or sum(len(p.children) for p in self._parents) < limit:
            return False
        now = time.monotonic()
        if now - self._namespaces_full_logged_at >= 60.0:
            self._namespaces_full_logged_at = now
            log.warning("max_namespaces (%d) reached: refusing new dynamic namespaces", limit)
        return True

    def _create_child(self, parent: ParentNamespace, name: str) -> Namespace:
        nsp = self._nsps.get(name)
        if nsp is None:
            nsp = self._nsps[name] = parent.create_child(name)
            self._adapter_init(nsp)
            self._announce(nsp)
        return nsp

    def _announce(self, nsp: Namespace) -> None:
        """The ``new_namespace`` event of the main namespace (Node: for every namespace but /)."""
        for listener in self.sockets._server_side_handlers.get("new_namespace", ()):
            listener.func(nsp)

    def _forget_namespace(self, nsp: Namespace) -> None:
        if self._nsps.get(nsp.name) is nsp:
            del self._nsps[nsp.name]

            spawn(nsp.adapter.close(), f"adapter close of {nsp.name}")

    @property
    def namespaces(self) -> dict[str, Namespace]:
        return dict(self._nsps)

    # ------------------------------------------------------------------ main namespace shortcuts
    @overload
    def on(self, event: str) -> Callable[[F], F]: ...
    @overload
    def on(self, event: str, handler: F) -> F: ...
    def on(self, event: str, handler: F | None = None) -> Any:
        if handler is None:
            return self.sockets.on(event)
        return self.sockets.on(event, handler)

    @overload
    def on_event(self, event: str) -> Callable[[F], F]: ...
    @overload
    def on_event(self, event: str, handler: F) -> F: ...
    def on_event(self, event: str, handler: F | None = None) -> Any:
        if handler is None:
            return self.sockets.on_event(event)
        return self.sockets.on_event(event, handler)

    def use(self, middleware: F) -> F:
        return self.sockets.use(middleware)

    def on_unhandled(self, handler: F) -> F:
        """``handler(socket, event, *args)`` for the events of ``/`` that no handler took."""
        return self.sockets.on_unhandled(handler)

    def on_any_outgoing(self, handler: F) -> F:
        """Called as handler(event, *args) for every event sent to a socket of ``/``."""
        return self.sockets.on_any_outgoing(handler)

    def emit(self, event: str, *args: Any, callback: Any = None) -> bool:
        return self.sockets.emit(event, *args, callback=callback)

    def send(self, *args: Any) -> bool:
        return self.sockets.send(*args)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        return await self.sockets.emit_with_ack(event, *args)

    def to(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        return self.sockets.to(*rooms)

    in_ = to

    def except_(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        return self.sockets.except_(*rooms)

    @property
    def volatile(self) -> BroadcastOperator:
        return self.sockets.volatile

    @property
    def local(self) -> BroadcastOperator:
        return self.sockets.local

    def compress(self, value: bool) -> BroadcastOperator:
        return self.sockets.compress(value)

    def timeout(self, seconds: float) -> BroadcastOperator:
        return self.sockets.timeout(seconds)

    async def fetch_sockets(self) -> list[Any]:
        return await self.sockets.fetch_sockets()

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        self.sockets.sockets_join(rooms)

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        self.sockets.sockets_leave(rooms)

    def disconnect_sockets(self, close: bool = False) -> None:
        self.sockets.disconnect_sockets(close)

    def server_side_emit(self, event: str, *args: Any, callback: Any = None) -> bool:
        return self.sockets.server_side_emit(event, *args, callback=callback)

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        return await self.sockets.server_side_emit_with_ack(event, *args)

    # ------------------------------------------------------------------ engine
    def _on_engine_connection(self, conn: EngineSocket) -> None:
        if conn.protocol == 4:
            Client(self, conn)
        else:
            ClientV3(self, conn)
        if self.packet_log is not None:
            _log_packets(conn, self.packet_log)

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(15)

    def on_connection_error(self, hook: Callable[[Request, int, str, dict[str, Any]], None]) -> Any:
        """Engine hook (Node: ``io.engine.on("connection_error")``)."""
        self.engine.connection_error_hooks.append(hook)
        return hook

    def on_initial_headers(self, hook: Callable[[list[tuple[str, str]], Request], None]) -> Any:
        """Engine hook (Node: ``io.engine.on("initial_headers")``): edit the handshake's headers."""
        self.engine.initial_headers_hooks.append(hook)
        return hook

    def on_headers(self, hook: Callable[[list[tuple[str, str]], Request], None]) -> Any:
        """Engine hook (Node: ``io.engine.on("headers")``): edit every response's headers."""
        self.engine.headers_hooks.append(hook)
        return hook

    # ------------------------------------------------------------------ workers mode
    async def startup(self) -> None:
        """Get ready to serve from another server's front door (the ASGI app calls this at
        the lifespan startup, or at its first request when the server runs no lifespan): in
        workers mode, join the workers; start the adapters of the namespaces made before the
        event loop ran (a server made at import time). Safe to call again."""
        await asyncio.shield(self._join_workers())
        await self._init_adapters()

    async def shutdown(self) -> None:
        """Leave the workers (the ASGI app calls this at the lifespan shutdown)."""
        joining, self._joining = self._joining, None
        worker, self.worker = self.worker, None
        if joining is not None and not joining.done():
            joining.cancel()
        if worker is not None:
            await worker.close()

    def _join_workers(self) -> asyncio.Future[None]:
        """Claim a slot, once (workers mode)."""
        joining = self._joining
        if joining is None:
            joining = self._joining = asyncio.ensure_future(self._join())
        return joining

    async def _join(self) -> None:
        if self.workers_dir is None:
            return
        from ..workers.worker import Worker

        worker = Worker(self.workers_dir)
        slot = await worker.start(self.engine)
        self.worker = worker
        log.info("worker slot %d of %s", slot.number, worker.dir.path)
        factory = self._workers_adapter_factory(slot) if self._default_adapter else None
        if factory is not None:
            for adapter in await self._replace_adapters(factory):
                await adapter.init()

    def _workers_adapter_factory(self, slot: Slot) -> AdapterFactory | None:
        """The default adapter in workers mode, for the worker of ``slot`` (None: keep the
        in-memory one): the inter-worker adapter."""
        from ..adapters.workers import workers_adapter

        return workers_adapter(slot)

    async def _replace_adapters(self, factory: AdapterFactory) -> list[Adapter]:
        """Give the namespaces made so far (before the start) adapters from ``factory``,
        keeping the room listeners added to the old ones."""
        self.adapter_factory = factory
        replaced: list[Adapter] = []
        for nsp in list(self._nsps.values()):
            old = nsp.adapter
            new = factory(nsp)
            new._room_listeners = old._room_listeners
            nsp.adapter = new
            replaced.append(new)
            await old.close()
        return replaced

    # ------------------------------------------------------------------ front doors
    def asgi_app(
        self,
        other_app: Any = None,
        *,
        on_startup: Iterable[Callable[[], Any]] = (),
        on_shutdown: Iterable[Callable[[], Any]] = (),
    ) -> ASGIApp:
        """An ASGI application serving this server; other paths go to ``other_app``.
        ``on_startup`` / ``on_shutdown``: functions (plain or async) called when the ASGI
        server starts and stops (its lifespan), e.g. to start background tasks."""
        from ..asgi import ASGIApp

        return ASGIApp(
            self,
            other_app,
            static_files=self.static_files,
            on_startup=on_startup,
            on_shutdown=on_shutdown,
        )

    async def start(
        self, host: str = "127.0.0.1", port: int = 3000, **options: Any
    ) -> StandaloneServer:
        """Start the standalone server and return it (``.port`` has the bound port).

        ``server_options`` (a dict) goes to :class:`StandaloneServer`; its ``fallback``
        answers the paths that are neither the engine's nor in :attr:`static_files`.
        An address it cannot listen on raises an OSError (its ``errno`` tells why) whose
        text is one line: ``cannot listen on HOST port PORT: address already in use``.

        In workers mode every worker listens on the same port (``SO_REUSEPORT``) and, over
        plain TCP, passes a connection whose request belongs to another worker's session to
        that worker; ``listen=False``: no TCP socket at all, the connections come from the
        supervisor of ``aiosocketio serve --workers`` (and from the other workers)."""
        from ..transport.standalone import StandaloneServer
        from .running import ListenError

        await asyncio.shield(self._join_workers())
        await self._init_adapters()
        server_options = dict(options.pop("server_options", {}))
        if self.worker is not None and self.worker.slot is not None:
            server_options.setdefault("workers", self.worker.slot)
        if self.static_files:
            server_options["fallback"] = self._static_fallback(server_options.get("fallback"))
        standalone = StandaloneServer([self.engine], **server_options)
        try:
            await standalone.start(host, port, **options)
        except OSError as exc:
            await self.shutdown()
            raise ListenError(host, port, exc) from exc
        except BaseException:
            await self.shutdown()
            raise
        self._standalone = standalone
        return standalone

    def _static_fallback(self, other: Fallback | None) -> Fallback:
        """The standalone server's fallback: :attr:`static_files`, then ``other`` (or 404)."""

        async def fallback(request: Request) -> tuple[int, Headers, bytes]:
            found = None
            if request.method in ("GET", "HEAD"):
                found = find_static(request.path, self.static_files)
            if found is None:
                if other is not None:
                    result = other(request)
                    return await result if inspect.isawaitable(result) else result
                return 404, [("Content-Type", "text/plain; charset=utf-8")], b"Not Found"
            return await serve_static(request.method, found)

        return fallback

    async def serve(
        self, host: str = "127.0.0.1", port: int = 3000, *, quiet: bool = False, **options: Any
    ) -> None:
        """Run the standalone server until Ctrl-C (SIGINT), SIGTERM or cancellation: the
        main coroutine of a program, ``asyncio.run(io.serve("127.0.0.1", 3000))``.

        It prints where it listens and where clients connect on stderr (``quiet=True``:
        nothing). SIGINT and SIGTERM close the server, and ``serve`` returns, unless the
        program handles or ignores them itself. An address it cannot listen on ends the
        program with a one-line message (SystemExit); :meth:`start` raises the OSError
        instead. Options are :meth:`start`'s."""
        import sys

        from .running import ListenError, listening_lines, stop_on_signals

        signalled = asyncio.Event()
        with stop_on_signals(signalled.set):  # from the start: a signal never comes too early
            try:
                standalone = await self.start(host, port, **options)
            except ListenError as exc:
                raise SystemExit(str(exc)) from None
            try:
                if not quiet:
                    page = "/" in self.static_files
                    secure = options.get("ssl") is not None
                    for line in listening_lines(
                        host, standalone.port, self.engine.path, page=page, secure=secure
                    ):
                        print(line, file=sys.stderr, flush=True)
                waiters = [
                    asyncio.ensure_future(standalone.serve_forever()),
                    asyncio.ensure_future(signalled.wait()),
                ]
                try:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
                    await asyncio.gather(*waiters, return_exceptions=True)
            finally:
                await self.close()

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 3000,
        *,
        workers: int | str | None = None,
        grace: float = 10.0,
        log_level: str = "info",
    ) -> None:
        """Serve until SIGINT or SIGTERM (blocking), in this process or, with ``workers``
        (a number or ``"auto"``), in worker processes under a supervisor, as
        ``aiosocketio serve --workers N``: see :func:`aiosocketio.run`."""
        from ..runner import run

        run(self, host, port, workers=workers, grace=grace, log_level=log_level)

    async def close(self) -> None:
        """Disconnect every socket ("server shutting down") and stop serving."""
        for nsp in list(self._nsps.values()):
            for socket in list(nsp.sockets.values()):
                socket._on_close(DisconnectReason.SERVER_SHUTTING_DOWN, None)
        self.engine.close_all()
        if self._standalone is not None:
            standalone, self._standalone = self._standalone, None
            await standalone.close()
        await self.shutdown()
        for nsp in list(self._nsps.values()):
            await nsp.adapter.close()


def _log_packets(conn: EngineSocket, logger: logging.Logger) -> None:
    """Log each packet of a session (``log_packets``): ``<sid> received message 2["hi"]``."""
    sid = conn.sid

    def received(packet: dict[str, Any]) -> None:
        logger.debug("%s received %s %s", sid, packet["type"], _shown(packet["data"]))

    def sent(packet: dict[str, Any]) -> None:
        logger.debug("%s sent %s %s", sid, packet["type"], _shown(packet["data"]))

    conn.on("packet", received)
    conn.on("packetCreate", sent)


def _shown(data: Any) -> str:
    if data is None:
        return ""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return f"<{len(data)} bytes>"
    text = str(data)
    return text if len(text) <= 200 else text[:200] + "..."
