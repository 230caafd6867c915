"""HTTP/1.1 connections of the standalone server, parsed with httptools.

One :class:`HttpProtocol` per TCP connection. Requests are answered strictly in order: a
request parsed while an earlier one is unanswered (a pending long-poll GET) waits in a short
queue, and reading pauses when the queue is full. A WebSocket upgrade hands the transport to
a :class:`~aiosocketio.transport.ws_protocol.WebSocketProtocol` and this object is dropped.

Refusals: 413 for a body over the limit (checked on Content-Length, then on the running
total), 431 for a header section that is too large or has too many headers, 400 for
malformed HTTP. Each of them closes the connection after the answer.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, NoReturn

import httptools

from ..engine.http import HEADER_NAMES, Headers, Request, header_name
from ..errors import ProtocolError
from ..ws.deflate import Deflate, negotiate_server
from ..ws.handshake import build_response, check_request
from .ws_protocol import WebSocketProtocol

if TYPE_CHECKING:
    from ..engine.server import EngineServer
    from ..engine.socket import WebSocketConnection
    from .standalone import StandaloneServer

__all__ = ["Exchange", "HttpProtocol"]

log = logging.getLogger("aiosocketio.transport")

# kinds of exchanges
_HTTP = 0
_WS = 1
_ERROR = 2

_MAX_QUEUED = 8  # parsed requests waiting behind an unanswered one before reading pauses
_LINGER = 2.0  # seconds to drain unread input after an error answer before closing
_DISCARD_LIMIT = 1 << 20  # unread input tolerated after parsing stopped

_STATUS_LINES: dict[int, str] = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in HTTPStatus}
_KEEP_ALIVE = "Connection: keep-alive\r\n\r\n"
_CLOSE = "Connection: close\r\n\r\n"
_METHODS = {m.encode(): m for m in ("GET", "POST", "OPTIONS", "HEAD", "PUT", "DELETE", "PATCH")}


def _has_token(value: str, token: str) -> bool:
    return any(part.strip().lower() == token for part in value.split(","))


_NAMES = HEADER_NAMES  # shared with the ASGI app (engine.http.header_name)

_HEADS: dict[tuple[Any, ...], bytes] = {}
"""Answer heads written lately, by status, keep-alive, body length and headers: a session's
polling answers repeat theirs (most differ only in their length)."""
_HEADS_KEPT = 512


def _head(status: int, headers: Headers, keep_alive: bool, length: int) -> bytes:
    parts = [_STATUS_LINES.get(status) or f"HTTP/1.1 {status} Unknown\r\n"]
    has_length = status < 200 or status in (204, 304)
    for name, value in headers:
        if not has_length and len(name) == 14 and name.lower() == "content-length":
            has_length = True
        parts.append(f"{name}: {value}\r\n")
    if not has_length:
        parts.append(f"Content-Length: {length}\r\n")
    parts.append(_KEEP_ALIVE if keep_alive else _CLOSE)
    return "".join(parts).encode("latin-1", "replace")


class _Refuse(Exception):
    """Raised inside a parser callback to refuse the request with an HTTP status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Exchange:
    """One request on a connection and its answer; the engine's Responder for it."""

    __slots__ = ("done", "engine", "keep_alive", "kind", "leftover", "proto", "request", "status")

    def __init__(
        self,
        proto: HttpProtocol,
        kind: int,
        request: Request | None,
        engine: EngineServer | None,
        keep_alive: bool,
        status: int = 0,
    ) -> None:
        self.proto = proto
        self.kind = kind
        self.request = request
        self.engine = engine
        self.keep_alive = keep_alive
        self.status = status
        self.leftover: bytes | None = None
        self.done = False

    def respond(self, status: int, headers: Headers, body: bytes) -> None:
        """Write the answer (once; it waits for the connection's earlier answers)."""
        if self.done:
            return
        self.done = True
        proto = self.proto
        if proto._current is not self or proto._closed:
            return
        proto._current = None
        keep_alive = self.keep_alive and not proto._closing
        length = len(body)
        key = (status, keep_alive, length, *headers)
        try:
            head = _HEADS[key]
        except KeyError:
            head = _HEADS[key] = _head(status, headers, keep_alive, length)
            if len(_HEADS) > _HEADS_KEPT:
                _HEADS.clear()
        except TypeError:  # headers given as lists (a fallback's): not remembered
            head = _head(status, headers, keep_alive, length)
        request = self.request
        if request is not None and request.method == "HEAD":
            body = b""  # the headers of the GET answer, never its body (RFC 9110 9.3.2)
        transport = proto.transport
        if length < 16384:
            transport.write(head + body)
        else:
            transport.writelines((head, body))
        if not keep_alive:
            proto._finish(linger=self.kind != _HTTP)
        elif not proto._dispatching and (proto._queue or proto._paused or proto._parser is None):
            proto._dispatch()  # the next request, or reading again, or the end


class _Upgrade:
    """The engine's handle on a WebSocket upgrade request waiting for its decision."""

    __slots__ = ("_done", "_ex", "_key")

    def __init__(self, ex: Exchange, key: str) -> None:
        self._ex = ex
        self._key = key
        self._done = False

    def accept(self, headers: Headers) -> WebSocketConnection:
        if self._done:
            raise RuntimeError("this upgrade was already answered")
        self._done = True
        return self._ex.proto.accept_upgrade(self._ex, self._key, headers)

    def reject(self, status: int, headers: Headers, body: bytes) -> None:
        if self._done:
            return
        self._done = True
        ex = self._ex
        ex.keep_alive = False
        ex.respond(status, headers, body)


class HttpProtocol(asyncio.Protocol):
    """An HTTP/1.1 connection of the standalone server."""

    __slots__ = (
        "_active",
        "_body",
        "_body_limit",
        "_body_size",
        "_closed",
        "_closing",
        "_current",
        "_discarded",
        "_dispatching",
        "_engine",
        "_header_chunks",
        "_header_count",
        "_header_size",
        "_headers",
        "_idle_handle",
        "_in_headers",
        "_linger_handle",
        "_max_header_size",
        "_max_headers",
        "_mid",
        "_parser",
        "_path",
        "_paused",
        "_query",
        "_queue",
        "_refused",
        "_remote",
        "_server",
        "_url",
        "transport",
    )

    def __init__(self, server: StandaloneServer) -> None:
        self._server = server
        self._parser: Any = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self._remote: tuple[str, int] | None = None
        self._queue: deque[Exchange] = deque()
        self._current: Exchange | None = None
        self._dispatching = False
        self._paused = False
        self._closed = False
        self._closing = False
        self._active = False
        self._idle_handle: asyncio.TimerHandle | None = None
        self._linger_handle: asyncio.TimerHandle | None = None
        self._discarded = 0
        self._refused = 0
        self._max_headers = server.max_headers
        self._max_header_size = server.max_header_size
        self._url = b""
        self._headers: dict[str, str] = {}
        self._header_count = 0
        self._header_size = 0
        self._header_chunks = 0
        self._in_headers = False
        self._body: list[bytes] = []
        self._body_size = 0
        self._body_limit = 0
        self._engine: EngineServer | None = None
        self._path = ""
        self._query = ""
        self._mid = False  # between the first byte of a request and its end

    # ------------------------------------------------------------------ asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._remote = (str(peer[0]), int(peer[1]))
        server = self._server
        server.connections.add(self)
        timeout = server.keep_alive_timeout
        if timeout:
            self._idle_handle = asyncio.get_running_loop().call_later(timeout, self._idle_check)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None:
            self._discard(data)
            return
        self._active = True
        in_headers = self._in_headers
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._parser = None
            self._upgraded(data[exc.args[0] :])
        except httptools.HttpParserError as exc:
            self._parser = None
            status = self._refused or 400
            log.debug("refusing an HTTP request (%d): %s", status, exc)
            self._queue.append(Exchange(self, _ERROR, None, self._engine, False, status))
        else:
            if self._in_headers and in_headers:
                # the header section spans several reads: bound what httptools accumulates
                self._header_chunks += len(data)
                if self._header_chunks > self._max_header_size:
                    self._parser = None
                    self._queue.append(Exchange(self, _ERROR, None, None, False, 431))
        self._dispatch()

    def eof_received(self) -> bool | None:
        return None  # close: a client that half-closes has given up on its requests

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._server.forget(self)
        self._cancel_timers()
        self._parser = None
        self._queue.clear()
        ex, self._current = self._current, None
        if ex is None or ex.done or ex.kind != _HTTP:
            return
        engine = ex.engine
        request = ex.request
        if engine is not None and request is not None:
            engine.request_aborted(request, ex)

    # ------------------------------------------------------------------ httptools callbacks
    def on_message_begin(self) -> None:
        # what the previous request gathered is dropped (its Request object holds it)
        self._url = b""
        self._headers = {}
        self._header_count = 0
        self._header_size = 0
        self._header_chunks = 0
        self._body = []
        self._body_size = 0
        self._engine = None
        self._in_headers = True
        self._mid = True

    def on_url(self, url: bytes) -> None:
        self._url += url
        size = self._header_size = self._header_size + len(url)
        if size > self._max_header_size:
            self._refuse(431)

    def on_header(self, name: bytes, value: bytes) -> None:
        count = self._header_count = self._header_count + 1
        size = self._header_size = self._header_size + len(name) + len(value) + 4
        if count > self._max_headers or size > self._max_header_size:
            self._refuse(431)
        key = _NAMES.get(name)
        if key is None:
            key = header_name(name)
        headers = self._headers
        if key in headers:
            headers[key] = f"{headers[key]}, {value.decode('latin-1')}"
        else:
            headers[key] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._in_headers = False
        headers = self._headers
        url = self._url
        path, _, query = url.decode("latin-1").partition("?")
        if path[:1] != "/":
            path, query = self._absolute_url(url)
        if "#" in query:
            query = query[: query.index("#")]
        self._path = path
        self._query = query
        server = self._server
        engine = self._engine = server.route(path)
        limit = self._body_limit = (
            engine.config.max_payload if engine is not None else server.max_body_size
        )
        length = headers.get("content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                self._refuse(400)
            if size > limit:
                self._refuse(413)
        expect = headers.get("expect")
        if expect is not None:
            if expect.lower() != "100-continue":
                self._refuse(417)
            if self._current is None and not self._queue and not self._closing:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self._body_limit:
            self._refuse(413)
        self._body.append(body)

    def on_message_complete(self) -> None:
        parser = self._parser
        headers = self._headers
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method) or raw_method.decode("latin-1")
        chunks = self._body
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        request = Request(
            method,
            self._path,
            self._query,
            headers,
            body=body,
            remote=self._remote,
            secure=self._server.secure,
            forwarded=self._server.forwarded,
        )
        keep_alive = bool(parser.should_keep_alive())
        kind = _HTTP
        upgrade = headers.get("upgrade")
        if upgrade is not None and _has_token(upgrade, "websocket"):
            kind = _WS
        elif parser.should_upgrade():
            # another protocol (h2c...): answer over HTTP/1.1, then close, since the parser
            # stops here; a body would be left unread, so such a request is refused
            keep_alive = False
            if body or "content-length" in headers or "transfer-encoding" in headers:
                kind = _ERROR
        ex = Exchange(self, kind, request, self._engine, keep_alive, 400)
        self._queue.append(ex)
        self._body = []  # not kept until the next request
        self._mid = False

    def _refuse(self, status: int) -> NoReturn:
        self._refused = status
        raise _Refuse(status)

    def _absolute_url(self, url: bytes) -> tuple[str, str]:
        try:
            parsed = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            self._refuse(400)
        path = (parsed.path or b"/").decode("latin-1")
        query = (parsed.query or b"").decode("latin-1")
        return path, query

    # ------------------------------------------------------------------ dispatching
    def _upgraded(self, rest: bytes) -> None:
        """httptools stopped after an upgrade request; ``rest`` are the bytes after it."""
        ex = self._queue[-1] if self._queue else None
        if ex is not None and ex.kind == _WS:
            ex.leftover = rest
            self._pause()
        else:
            self._discard(rest)

    def _dispatch(self) -> None:
        if self._dispatching or self._closed:
            return
        self._dispatching = True
        queue = self._queue
        try:
            while self._current is None and queue and not self._closing and not self._closed:
                ex = queue.popleft()
                self._current = ex
                self._run(ex)
        finally:
            self._dispatching = False
        if self._closed or self._closing:
            return
        if self._parser is None:
            if self._current is None and not queue:
                self._finish(linger=False)
        elif len(queue) >= _MAX_QUEUED:
            self._pause()
        elif self._paused:
            self._resume()

    def _run(self, ex: Exchange) -> None:
        try:
            if ex.kind == _HTTP:
                engine = ex.engine
                if engine is not None:
                    engine.handle_request(ex.request, ex)  # type: ignore[arg-type]
                else:
                    self._fallback(ex)
            elif ex.kind == _WS:
                self._websocket(ex)
            else:
                self._send_error(ex, ex.status)
        except Exception:
            log.exception("error while answering an HTTP request")
            if not ex.done:
                ex.keep_alive = False
                self._send_error(ex, 500)

    def _send_error(self, ex: Exchange, status: int, extra: Headers | None = None) -> None:
        body = b"" if status == 413 else HTTPStatus(status).phrase.encode()
        headers: Headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ]
        if extra:
            headers.extend(extra)
        engine = ex.engine
        if engine is not None:
            request_headers = self._headers if ex.request is None else ex.request.headers
            headers.extend(engine.cors.headers(request_headers.get("origin")))
        if ex.kind == _ERROR or ex.leftover is not None:
            ex.keep_alive = False
        self.respond(ex, status, headers, body)

    def _fallback(self, ex: Exchange) -> None:
        fallback = self._server.fallback
        if fallback is None:
            self._send_error(ex, 404)
            return
        assert ex.request is not None
        result = fallback(ex.request)
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            task.add_done_callback(lambda t: self._fallback_done(ex, t))
            return
        status, headers, body = result
        self.respond(ex, status, list(headers), body)

    def _fallback_done(self, ex: Exchange, task: asyncio.Future[Any]) -> None:
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                log.error("error in the fallback handler", exc_info=task.exception())
            ex.keep_alive = False
            self._send_error(ex, 500)
            return
        status, headers, body = task.result()
        self.respond(ex, status, list(headers), body)

    def respond(self, ex: Exchange, status: int, headers: Headers, body: bytes) -> None:
        """Write the answer of ``ex`` (:meth:`Exchange.respond`)."""
        ex.respond(status, headers, body)

    # ------------------------------------------------------------------ WebSocket upgrade
    def _websocket(self, ex: Exchange) -> None:
        request = ex.request
        engine = ex.engine
        assert request is not None
        if engine is None:
            ex.keep_alive = ex.keep_alive and ex.leftover is None
            self._send_error(ex, 404)
            return
        try:
            key = check_request(request.method, request.headers)
        except ProtocolError as exc:
            status = exc.close_code if exc.close_code in (400, 426) else 400
            extra = [("Sec-WebSocket-Version", "13")] if status == 426 else None
            self._send_error(ex, status, extra)
            return
        if ex.leftover is None:  # httptools did not see an upgrade: refuse it
            self._send_error(ex, 400)
            return
        engine.handle_websocket(request, _Upgrade(ex, key))

    def accept_upgrade(self, ex: Exchange, key: str, headers: Headers) -> WebSocketProtocol:
        """Answer 101 and switch the connection to a WebSocket protocol object."""
        engine = ex.engine
        request = ex.request
        assert engine is not None and request is not None
        server = self._server
        pmd = engine.per_message_deflate
        extension, params = negotiate_server(
            request.headers.get("sec-websocket-extensions"), enabled=bool(pmd)
        )
        deflate = Deflate(params, client_side=False) if params is not None else None
        threshold = 1024
        if isinstance(pmd, dict):
            threshold = int(pmd.get("threshold", 1024))
        ws = WebSocketProtocol(
            self.transport,
            max_message_size=engine.max_payload,
            deflate=deflate,
            compress_threshold=threshold,
            close_timeout=server.ws_close_timeout,
            on_lost=server.forget,
            max_buffer_size=engine.max_buffer_size,
        )
        ex.done = True
        if self._closed or self._current is not ex:
            ws.lost_before_start()
            return ws
        try:
            response = build_response(key, extension, headers)
        except ValueError:
            log.warning("invalid header in a WebSocket upgrade answer: %r", headers)
            response = build_response(key, extension)
        transport = self.transport
        transport.write(response)
        transport.set_protocol(ws)
        # this object is done: the WebSocket protocol owns the transport from now on
        self._closed = True
        self._current = None
        self._parser = None
        self._queue.clear()
        self._cancel_timers()
        server.forget(self)
        server.connections.add(ws)
        asyncio.get_running_loop().call_soon(ws.start, ex.leftover or b"")
        return ws

    # ------------------------------------------------------------------ closing
    def shutdown(self) -> None:
        """Close the connection (the server is closing), after the answer of the request
        being served, if any (later requests on it are not read)."""
        if self._closed:
            return
        self._parser = None
        self._queue.clear()
        ex = self._current
        if ex is not None and not ex.done:
            ex.keep_alive = False  # answered with "Connection: close", then closed
            return
        self._closing = True
        self.transport.close()

    def abort(self) -> None:
        if not self._closed:
            self.transport.abort()

    def _finish(self, *, linger: bool) -> None:
        """Close after the answers written so far (draining unread input when ``linger``)."""
        if self._closing or self._closed:
            return
        self._closing = True
        self._parser = None
        self._queue.clear()
        transport = self.transport
        if linger and transport.can_write_eof():
            transport.write_eof()
            self._resume()
            self._linger_handle = asyncio.get_running_loop().call_later(_LINGER, transport.close)
        else:
            transport.close()

    def _discard(self, data: bytes) -> None:
        """Bytes that arrive after parsing stopped."""
        if self._closed:
            return
        ex = self._current
        pending = ex if ex is not None and ex.leftover is not None else None
        if pending is None and self._queue and self._queue[-1].leftover is not None:
            pending = self._queue[-1]
        if pending is not None and not self._closing:
            # an upgrade waits for its answer: keep what follows it for the WebSocket
            pending.leftover = (pending.leftover or b"") + data
            self._pause()
            if len(pending.leftover) <= _DISCARD_LIMIT:
                return
        self._discarded += len(data)
        if self._discarded > _DISCARD_LIMIT:
            self.transport.abort()

    def _pause(self) -> None:
        if not self._paused and not self._closed:
            self._paused = True
            self.transport.pause_reading()

    def _resume(self) -> None:
        if self._paused and not self._closed:
            self._paused = False
            self.transport.resume_reading()

    def _idle_check(self) -> None:
        self._idle_handle = None
        if self._closed or self._closing:
            return
        if self._active or self._current is not None or self._queue:
            self._active = False
            timeout = self._server.keep_alive_timeout
            self._idle_handle = asyncio.get_running_loop().call_later(timeout, self._idle_check)
            return
        self._closing = True
        self.transport.close()

    def _cancel_timers(self) -> None:
        for handle in (self._idle_handle, self._linger_handle):
            if handle is not None:
                handle.cancel()
        self._idle_handle = self._linger_handle = None
