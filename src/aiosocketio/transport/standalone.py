"""The standalone server: Engine.IO over raw asyncio protocols, without an ASGI server.

Every connection is an asyncio protocol object driven by loop callbacks (no task per
connection or per message); HTTP/1.1 is parsed by httptools and WebSocket frames by
:mod:`aiosocketio.ws`. Install uvloop's event loop before starting it for the best speed.

    engine = EngineServer(on_connection, path="/engine.io")
    server = StandaloneServer([engine])
    await server.start("127.0.0.1", 3000)
    await server.serve_forever()
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl as _ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from ..engine.http import Headers, Request
from ..engine.server import EngineServer
from ..workers.handoff import Handoff
from ..workers.slots import Slot
from .http_protocol import HttpProtocol
from .worker_http import WorkerHttpProtocol

__all__ = ["Fallback", "StandaloneServer"]

log = logging.getLogger("aiosocketio.transport")

Response = tuple[int, Headers, bytes]

_ROUTED_PATHS = 64
"""Paths whose route is remembered (a client's requests all have one path; the bound keeps a
client that sends many paths from growing the table)."""
Fallback = Callable[[Request], "Response | Awaitable[Response]"]


class _Connection(Protocol):
    def shutdown(self) -> None: ...
    def abort(self) -> None: ...


class StandaloneServer:
    """An HTTP/1.1 + WebSocket server for one or more Engine.IO servers.

    ``routes`` are :class:`EngineServer` objects (or objects with an ``engine`` attribute,
    like the Socket.IO server); a request goes to the first whose path matches. Other paths
    get ``fallback(request) -> (status, headers, body)`` (sync or async) or a 404.

    Limits: ``max_header_size`` bytes of request line and headers and ``max_headers``
    headers (431 beyond either), request bodies up to the engine's ``max_payload`` (413
    beyond) or ``max_body_size`` for other paths. Idle keep-alive connections close after
    ``keep_alive_timeout`` seconds; a WebSocket closed by this side waits
    ``ws_close_timeout`` seconds for the peer's close frame.

    ``workers``: the slot of this process when it is one of several workers of one server
    on one machine (:mod:`aiosocketio.workers`). Every worker then listens on the same port
    (``SO_REUSEPORT``) and, over plain TCP, passes a connection whose request belongs to a
    session of another worker to that worker (:attr:`handoff`).
    """

    def __init__(
        self,
        routes: Sequence[EngineServer | Any] | EngineServer,
        *,
        fallback: Fallback | None = None,
        max_header_size: int = 16384,
        max_headers: int = 100,
        max_body_size: int = 1_000_000,
        keep_alive_timeout: float = 60.0,
        ws_close_timeout: float = 1.0,
        backlog: int = 1024,
        workers: Slot | None = None,
    ) -> None:
        items: Iterable[Any] = [routes] if isinstance(routes, EngineServer) else routes
        self.routes: list[EngineServer] = [_engine_of(r) for r in items]
        self.fallback = fallback
        self.max_header_size = max_header_size
        self.max_headers = max_headers
        self.max_body_size = max_body_size
        self.keep_alive_timeout = keep_alive_timeout
        self.ws_close_timeout = ws_close_timeout
        self.backlog = backlog
        self.secure = False
        self.forwarded = False
        """Whether requests come from other workers of the same server (see :meth:`start_unix`)."""
        self.workers = workers
        self.handoff: Handoff | None = None
        self._routed: dict[str, EngineServer | None] = {}  # path -> route, see route()
        self._adopting: set[asyncio.Task[Any]] = set()
        self.connections: set[_Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._closing = False
        self._drained: asyncio.Future[None] | None = None
        self._stopped: asyncio.Future[None] | None = None

    # ------------------------------------------------------------------ routing
    def route(self, path: str) -> EngineServer | None:
        cache = self._routed
        if path in cache:  # every request of a client has the same path
            return cache[path]
        found = None
        for engine in self.routes:
            if engine.matches(path):
                found = engine
                break
        if len(cache) < _ROUTED_PATHS:
            cache[path] = found
        return found

    def forget(self, conn: Any) -> None:
        """A connection is gone (called by the protocol objects)."""
        self.connections.discard(conn)
        drained = self._drained
        if drained is not None and not self.connections and not drained.done():
            drained.set_result(None)

    # ------------------------------------------------------------------ lifecycle
    async def start(
        self,
        host: str | None = "127.0.0.1",
        port: int = 3000,
        *,
        ssl: _ssl.SSLContext | None = None,
        reuse_port: bool = False,
        listen: bool = True,
    ) -> None:
        """Listen on ``host:port`` (port 0 picks a free port, see :attr:`port`).

        In workers mode ``reuse_port`` is implied and, without ``ssl``, this worker starts
        receiving the connections other workers hand over. ``listen=False`` (workers mode
        only): no TCP socket of its own; every connection comes from the router of
        ``serve --workers`` or from the other workers."""
        if not listen and (self.workers is None or ssl is not None):
            raise ValueError("listen=False is for workers mode over plain TCP")
        loop = self._starting()
        self.secure = ssl is not None
        factory: Callable[[], asyncio.Protocol] = lambda: HttpProtocol(self)  # noqa: E731
        try:
            if self.workers is not None:
                reuse_port = True
                if ssl is None:
                    handoff = self.handoff = Handoff(self.workers, self._adopt)
                    handoff.start()
                    factory = lambda: WorkerHttpProtocol(self, handoff)  # noqa: E731
            if listen:
                self._server = await loop.create_server(
                    factory,
                    host,
                    port,
                    ssl=ssl,
                    reuse_port=reuse_port or None,
                    backlog=self.backlog,
                )
        except BaseException:
            self._close_handoff()
            self._stopped = None
            raise

    def _adopt(self, sock: socket.socket, data: bytes) -> None:
        """Serve a connection another worker handed over, with the bytes it read."""
        handoff = self.handoff
        if handoff is None or self._closing:
            sock.close()
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(
            loop.connect_accepted_socket(lambda: WorkerHttpProtocol(self, handoff, data), sock)
        )
        self._adopting.add(task)
        task.add_done_callback(lambda t: self._adopted(t, sock))

    def _adopted(self, task: asyncio.Task[Any], sock: socket.socket) -> None:
        self._adopting.discard(task)
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                log.warning("cannot serve a handed-over connection: %s", task.exception())
            sock.close()
        elif self._closing:
            task.result()[1].shutdown()

    def _close_handoff(self) -> None:
        handoff, self.handoff = self.handoff, None
        if handoff is not None:
            handoff.close()

    async def start_unix(self, path: str, *, forwarded: bool = False) -> None:
        """Listen on the Unix socket ``path`` (an existing socket file there is replaced).

        With ``forwarded``, this is a worker's internal socket: its requests were passed on
        by another worker of the same server (they are marked, and never passed on again)."""
        loop = self._starting()
        self.forwarded = forwarded
        try:
            self._server = await loop.create_unix_server(
                lambda: HttpProtocol(self), path, backlog=self.backlog
            )
        except BaseException:
            self._stopped = None
            raise

    def _starting(self) -> asyncio.AbstractEventLoop:
        if self._stopped is not None:
            raise RuntimeError("the server is already started")
        loop = asyncio.get_running_loop()
        self._closing = False
        self._stopped = loop.create_future()
        return loop

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        server = self._server
        return tuple(server.sockets) if server is not None and server.sockets else ()  # type: ignore[attr-defined]

    @property
    def port(self) -> int:
        """The port of the first listening TCP socket."""
        for sock in self.sockets:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                return int(sock.getsockname()[1])
        raise RuntimeError("the server is not listening")

    async def serve_forever(self) -> None:
        """Wait until :meth:`close` is called."""
        if self._stopped is None:
            raise RuntimeError("the server is not started")
        await asyncio.shield(self._stopped)

    async def close(self, timeout: float = 2.0) -> None:
        """Stop listening, close every session, let the requests being served get their
        answer, and close every connection (aborting those still open after ``timeout``)."""
        server = self._server
        if self._stopped is None or self._closing:
            return
        self._closing = True
        loop = asyncio.get_running_loop()
        if server is not None:
            server.close()
        self._close_handoff()
        for engine in self.routes:
            try:
                engine.close_all()
            except Exception:
                log.exception("error while closing the sessions of %s", engine.path)
        conns = list(self.connections)
        for conn in conns:
            conn.shutdown()
        if self.connections:
            self._drained = loop.create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._drained), timeout)
            except TimeoutError:
                for conn in list(self.connections):
                    conn.abort()
            self._drained = None
        if server is not None:
            await server.wait_closed()
        self._server = None
        stopped, self._stopped = self._stopped, None
        if stopped is not None and not stopped.done():
            stopped.set_result(None)

    async def __aenter__(self) -> StandaloneServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _engine_of(route: Any) -> EngineServer:
    if isinstance(route, EngineServer):
        return route
    engine = getattr(route, "engine", None)
    if isinstance(engine, EngineServer):
        return engine
    raise TypeError(f"not an EngineServer (nor an object with one as .engine): {route!r}")
