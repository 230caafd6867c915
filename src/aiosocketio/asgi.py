"""The ASGI front door: serve an Engine.IO (or Socket.IO) server from uvicorn, hypercorn,
granian, or inside another ASGI application.

    app = ASGIApp(sio_server, other_app=starlette_app)

Requests under the engine's path go to the engine; everything else goes to ``other_app``
(404 without one). ``static_files`` maps URL paths to files served as they are.

A server with ``startup()`` and ``shutdown()`` coroutines (the Socket.IO server: workers mode)
has them awaited at the lifespan's startup and shutdown; without a lifespan (a server that
runs none, or an app mounted in another), ``startup()`` is awaited before the first request.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from .engine.http import HEADER_NAMES, Headers, Request, header_name
from .engine.server import EngineServer
from .engine.socket import notify_closed
from .static import StaticFile, find_static, serve_static

if TYPE_CHECKING:
    from .engineio.outgoing import Outgoing

__all__ = ["ASGIApp"]

log = logging.getLogger("aiosocketio.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApplication = Callable[[Scope, Receive, Send], Awaitable[None]]
Hook = Callable[[], Any]


async def _run_hooks(hooks: list[Hook]) -> None:
    for hook in list(hooks):
        result = hook()
        if inspect.isawaitable(result):
            await result


_ENCODED: dict[tuple[tuple[str, str], ...], tuple[tuple[bytes, bytes], ...]] = {}
"""Answers' headers encoded lately: a session's polling answers repeat theirs (most differ
only in their length)."""
_ENCODED_KEPT = 512


def _encode_headers(headers: Headers) -> list[tuple[bytes, bytes]]:
    """The headers as ASGI sends them: lower-case names, bytes (a new list each time: a
    middleware may change it)."""
    try:
        key = tuple(headers)
        encoded = _ENCODED.get(key)
    except TypeError:  # pairs given as lists (a fallback's): not remembered
        key, encoded = None, None
    if encoded is None:
        encoded = tuple(
            (n.lower().encode("latin-1"), v.encode("latin-1", "replace")) for n, v in headers
        )
        if key is not None:
            if len(_ENCODED) >= _ENCODED_KEPT:
                _ENCODED.clear()
            _ENCODED[key] = encoded
    return list(encoded)


def _retrieve(task: asyncio.Future[Any]) -> None:
    """A cancelled task's outcome, read so that a failure is not reported as unread."""
    if not task.cancelled():
        task.exception()


def _request_headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    names = HEADER_NAMES
    for raw_name, raw_value in scope.get("headers", ()):
        name = names.get(raw_name) or header_name(raw_name)
        if name in headers:
            headers[name] = f"{headers[name]}, {raw_value.decode('latin-1')}"
        else:
            headers[name] = raw_value.decode("latin-1")
    return headers


def _make_request(scope: Scope, method: str, body: bytes = b"") -> Request:
    client = scope.get("client")
    remote = (str(client[0]), int(client[1])) if client else None
    query = scope.get("query_string", b"")
    return Request(
        method,
        scope["path"],
        query.decode("latin-1") if isinstance(query, bytes) else str(query),
        _request_headers(scope),
        body=body,
        remote=remote,
        secure=scope.get("scheme") in ("https", "wss"),
    )


class _FutureResponder:
    """Resolves a future with the engine's answer."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[tuple[int, Headers, bytes]]) -> None:
        self.future = future

    def respond(self, status: int, headers: Headers, body: bytes) -> None:
        if not self.future.done():
            self.future.set_result((status, headers, body))


class _Upgrade:
    """The engine's decision on a WebSocket request, as a future."""

    __slots__ = ("connection", "decision", "max_buffer_size")

    def __init__(self, loop: asyncio.AbstractEventLoop, max_buffer_size: int) -> None:
        self.decision: asyncio.Future[tuple[int, Headers, bytes]] = loop.create_future()
        self.connection: ASGIWebSocket | None = None
        self.max_buffer_size = max_buffer_size

    def accept(self, headers: Headers) -> ASGIWebSocket:
        if self.decision.done():
            raise RuntimeError("this upgrade was already answered")
        conn = self.connection = ASGIWebSocket(self.max_buffer_size)
        self.decision.set_result((101, headers, b""))
        return conn

    def reject(self, status: int, headers: Headers, body: bytes) -> None:
        if not self.decision.done():
            self.decision.set_result((status, headers, body))


class ASGIWebSocket:
    """An accepted WebSocket: the engine's WebSocketConnection on an ASGI server.

    Writes are queued and sent in order by one writer coroutine.
    """

    __slots__ = (
        "_close",
        "_closed",
        "_max_buffer",
        "_queue",
        "_queued",
        "_reading",
        "_wakeup",
        "close_code",
        "receiver",
    )

    def __init__(self, max_buffer_size: int = 8 * 1024 * 1024) -> None:
        self.receiver: Any = None
        self.close_code: int | None = None  # of the client's close, once received
        self._queue: deque[str | bytes] = deque()
        self._queued = 0
        self._max_buffer = max_buffer_size
        self._reading: asyncio.Event | None = None  # set while reading is paused
        self._close: tuple[int, str] | None = None
        self._closed = False
        self._wakeup: asyncio.Future[None] | None = None

    # ------------------------------------------------------------------ WebSocketConnection
    def send_text(self, data: str) -> None:
        self._push(data)

    def send_bytes(self, data: bytes) -> None:
        self._push(data)

    def send_outgoing(self, out: Outgoing) -> None:
        for packet in out.packets:
            self._push(packet)

    def buffered_amount(self) -> int:
        return self._queued

    def close(self, code: int | None = 1000, reason: str = "") -> None:
        if self._closed or self._close is not None:
            return
        self._close = (1000 if code is None else code, reason)
        self._wake()

    # ------------------------------------------------------------------ internals
    @property
    def closed(self) -> bool:
        return self._closed

    def _push(self, data: str | bytes) -> None:
        if self._closed or self._close is not None:
            return
        self._queue.append(data)
        self._queued += len(data)
        if self._queued > self._max_buffer:
            # slow-consumer policy: the peer is not reading; drop it
            log.info("WebSocket peer not reading (over %d bytes queued), closing", self._max_buffer)
            self._queue.clear()
            self._queued = 0
            self._close = (1008, "slow consumer")
            self._wake()
            self.notify_closed(True)
            return
        self._wake()

    # ------------------------------------------------------------------ read flow control
    def pause_reading(self) -> None:
        if self._reading is None:
            self._reading = asyncio.Event()

    def resume_reading(self) -> None:
        gate, self._reading = self._reading, None
        if gate is not None:
            gate.set()

    async def wait_readable(self) -> None:
        gate = self._reading
        if gate is not None:
            await gate.wait()

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    async def writer(self, send: Send, accept: Message) -> None:
        """Send the accept message, then everything queued, until closed."""
        loop = asyncio.get_running_loop()
        queue = self._queue
        try:
            await send(accept)
            while True:
                while queue:
                    data = queue.popleft()
                    self._queued -= len(data)
                    if type(data) is str:
                        await send({"type": "websocket.send", "text": data})
                    else:
                        await send({"type": "websocket.send", "bytes": data})
                close = self._close
                if close is not None:
                    await send({"type": "websocket.close", "code": close[0], "reason": close[1]})
                    return
                self._wakeup = loop.create_future()
                await self._wakeup
                self._wakeup = None
        except Exception as exc:
            # the peer is gone (each server raises its own error): the receive loop ends
            log.debug("WebSocket send failed: %r", exc)
        finally:
            self._closed = True
            queue.clear()
            self._queued = 0

    def notify_closed(self, error: bool) -> None:
        self._closed = True
        notify_closed(self, error)


class ASGIApp:
    """An ASGI application serving an Engine.IO server (or a Socket.IO server's engine).

    ``server`` is an :class:`EngineServer` or any object whose ``engine`` attribute is one.
    ``static_files`` maps URL paths to a file name, or to ``{"filename": ...,
    "content_type": ...}``.
    """

    def __init__(
        self,
        server: EngineServer | Any,
        other_app: ASGIApplication | None = None,
        *,
        static_files: Mapping[str, StaticFile] | None = None,
        on_startup: Iterable[Hook] = (),
        on_shutdown: Iterable[Hook] = (),
    ) -> None:
        engine = server if isinstance(server, EngineServer) else getattr(server, "engine", None)
        if not isinstance(engine, EngineServer):
            raise TypeError("server must be an EngineServer or have one as .engine")
        self.server = server
        self.engine: EngineServer = engine
        self.other_app = other_app
        self.static_files: dict[str, StaticFile] = dict(static_files or {})
        self.on_startup: list[Hook] = list(on_startup)
        """Called (plain or async, in order) when the ASGI server starts (lifespan startup):
        the place to start background tasks. A hook that raises fails the startup."""
        self.on_shutdown: list[Hook] = list(on_shutdown)
        """Called when the ASGI server stops, before the sessions are closed."""
        startup = getattr(server, "startup", None) if engine is not server else None
        self._startup: Callable[[], Awaitable[None]] | None = startup
        self._shutdown: Callable[[], Awaitable[None]] | None = (
            getattr(server, "shutdown", None) if startup is not None else None
        )
        self._ready = startup is None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            if self.engine.matches(path):
                if not self._ready:
                    await self._get_ready()
                await self._http(scope, receive, send)
            elif (
                self.static_files
                and scope["method"] in ("GET", "HEAD")
                and (found := find_static(path, self.static_files))
            ):
                await self._static(scope, send, found)
            elif self.other_app is not None:
                await self.other_app(scope, receive, send)
            else:
                await self._plain(send, 404, b"Not Found")
        elif kind == "websocket":
            if self.engine.matches(scope["path"]):
                if not self._ready:
                    await self._get_ready()
                await self._websocket(scope, receive, send)
            elif self.other_app is not None:
                await self.other_app(scope, receive, send)
            else:
                await receive()
                await send({"type": "websocket.close", "code": 1000})
        elif kind == "lifespan":
            await self._lifespan(scope, receive, send)
        elif self.other_app is not None:
            await self.other_app(scope, receive, send)

    # ------------------------------------------------------------------ lifespan
    async def _get_ready(self) -> None:
        if self._startup is not None:
            await self._startup()
        self._ready = True

    async def _stop(self) -> None:
        self.engine.close_all()
        if self._shutdown is not None:
            await self._shutdown()

    async def _start_lifespan(self) -> None:
        """The lifespan startup: the server gets ready, then the ``on_startup`` hooks run."""
        await self._get_ready()
        await _run_hooks(self.on_startup)

    async def _stop_lifespan(self) -> None:
        """The lifespan shutdown: the ``on_shutdown`` hooks, then the sessions are closed."""
        try:
            await _run_hooks(self.on_shutdown)
        except Exception:
            log.exception("error in a shutdown hook")
        await self._stop()

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        other = self.other_app
        if other is not None:
            received = False

            async def receive_and_close() -> Message:
                nonlocal received
                received = True
                message = await receive()
                kind = message.get("type")
                if kind == "lifespan.startup":
                    await self._start_lifespan()  # an error fails the other app's startup
                elif kind == "lifespan.shutdown":
                    await self._stop_lifespan()
                return message

            try:
                await other(scope, receive_and_close, send)
            except Exception:
                if received:
                    raise
            if not received:  # the other app has no lifespan: the hooks run all the same
                await self._lifespan_alone(receive, send)
            return
        await self._lifespan_alone(receive, send)

    async def _lifespan_alone(self, receive: Receive, send: Send) -> None:
        """The lifespan protocol without another app (or beside one that has none)."""
        while True:
            message = await receive()
            kind = message.get("type")
            if kind == "lifespan.startup":
                try:
                    await self._start_lifespan()
                except Exception as exc:
                    log.exception("error while starting")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif kind == "lifespan.shutdown":
                await self._stop_lifespan()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ------------------------------------------------------------------ HTTP
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = self.engine
        limit = engine.max_payload
        request = _make_request(scope, scope["method"])
        length = request.headers.get("content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                await self._plain(send, 400, b"Bad Request")
                return
            if too_big:
                await self._too_large(send, request)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            kind = message.get("type")
            if kind == "http.disconnect":
                return
            if kind != "http.request":
                continue
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    await self._too_large(send, request)
                    return
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        if chunks:
            request.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, Headers, bytes]] = loop.create_future()
        responder = _FutureResponder(future)
        engine.handle_request(request, responder)
        if not future.done() and not await self._wait_answer(future, receive):
            engine.request_aborted(request, responder)
            return
        status, headers, body = future.result()
        await send(
            {"type": "http.response.start", "status": status, "headers": _encode_headers(headers)}
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _wait_answer(future: asyncio.Future[Any], receive: Receive) -> bool:
        """Wait for the engine's answer; False if the client went away first. The answer
        and the client's next message wake one waiter (lighter than ``asyncio.wait``), and
        the listening task is cancelled without waiting for it: a pending GET costs one task."""
        loop = asyncio.get_running_loop()
        while True:
            wake: asyncio.Future[None] = loop.create_future()

            def on_done(_: Any, wake: asyncio.Future[None] = wake) -> None:
                if not wake.done():
                    wake.set_result(None)

            listen = asyncio.ensure_future(receive())  # any awaitable, as ASGI allows
            listen.add_done_callback(on_done)
            future.add_done_callback(on_done)
            try:
                await wake
            finally:
                future.remove_done_callback(on_done)
                if not listen.done():
                    listen.cancel()
                    listen.add_done_callback(_retrieve)
            if future.done():
                return True
            if listen.result().get("type") == "http.disconnect":
                return False

    async def _too_large(self, send: Send, request: Request) -> None:
        headers: Headers = [("Content-Length", "0"), ("Connection", "close")]
        headers.extend(self.engine.cors.headers(request.headers.get("origin")))
        await send(
            {"type": "http.response.start", "status": 413, "headers": _encode_headers(headers)}
        )
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    async def _plain(send: Send, status: int, body: bytes) -> None:
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _static(self, scope: Scope, send: Send, found: tuple[str, str]) -> None:
        status, headers, body = await serve_static(scope["method"], found)
        raw = _encode_headers([(name.lower(), value) for name, value in headers])  # ASGI's case
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    # ------------------------------------------------------------------ WebSocket
    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message.get("type") != "websocket.connect":
            return
        engine = self.engine
        request = _make_request(scope, "GET")
        upgrade = _Upgrade(asyncio.get_running_loop(), engine.max_buffer_size)
        engine.handle_websocket(request, upgrade)
        status, headers, body = await upgrade.decision
        conn = upgrade.connection
        if status != 101 or conn is None:
            await self._reject(scope, send, status, headers, body)
            return
        accept: Message = {"type": "websocket.accept", "headers": _encode_headers(headers)}
        writer = asyncio.ensure_future(conn.writer(send, accept))
        error = True
        try:
            error = await self._receive_loop(conn, receive, engine.max_payload)
        finally:
            conn.notify_closed(error)
            writer.cancel()
            await asyncio.wait((writer,))

    @staticmethod
    async def _receive_loop(conn: ASGIWebSocket, receive: Receive, limit: int) -> bool:
        """Deliver messages to the receiver until the disconnect; True if abnormal."""
        while True:
            if conn._reading is not None:
                await conn.wait_readable()
            message = await receive()
            kind = message.get("type")
            if kind == "websocket.disconnect":
                code = conn.close_code = int(message.get("code", 1005))
                return code not in (1000, 1001, 1005)
            if kind != "websocket.receive":
                continue
            text = message.get("text")
            data: str | bytes
            if isinstance(text, str):
                data = text
                too_big = len(text) > limit or (
                    len(text) * 4 > limit and len(text.encode()) > limit
                )
            else:
                raw = message.get("bytes")
                if raw is None:
                    continue
                data = bytes(raw)
                too_big = len(data) > limit
            if too_big:
                conn.close(1009, "message too big")
                conn.notify_closed(True)
                continue
            receiver = conn.receiver
            if receiver is not None:
                try:
                    receiver.on_message(data)
                except Exception:
                    log.exception("error while handling a WebSocket message")
                    conn.close(1011)
                    conn.notify_closed(True)

    @staticmethod
    async def _reject(scope: Scope, send: Send, status: int, headers: Headers, body: bytes) -> None:
        extensions = scope.get("extensions") or {}
        if "websocket.http.response" in extensions:
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": status,
                    "headers": _encode_headers(headers),
                }
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})
