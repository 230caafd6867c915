"""Forwarding: a request for another worker's session is passed on to that worker.

Every worker of a run directory serves forwarded requests on its internal Unix socket
(``slot.path("http")``: our own HTTP/1.1 server over the same engine). When a request carries
the id of a session this worker does not have, and the id names another worker's slot
(:func:`~aiosocketio.workers.slots.slot_of`), the :class:`Forwarder` (the engine's
:attr:`~aiosocketio.engine.server.EngineServer.router`) passes it on:

- long-polling GET and POST go to the owner over keep-alive connections (pooled per owner,
  at most ``max_idle`` idle ones each), and the owner's answer is relayed as it is: status,
  headers (CORS, Set-Cookie, Content-Encoding...) and body. A GET is held by the owner as
  any long poll is; a client that goes away closes the owner's connection too, so the
  owner sees the poll aborted as it would have directly.
- a WebSocket (the upgrade of a polling session that lives elsewhere) becomes a WebSocket to
  the owner over its socket; the client's is accepted with the owner's answer headers, and
  messages are relayed both ways, text and binary, until either side closes (its close code
  goes across).

A forwarded request is marked when it comes in on the owner's internal socket
(:attr:`~aiosocketio.engine.http.Request.forwarded`) and is never passed on again. When the
owner is not running (no socket file, nobody listening, the connection lost before the
answer), the client gets the usual 400 "Session ID unknown" at once: the session died with
its worker.

Frames to the owner carry an all-zero mask: masking protects browsers' intermediaries, and
both ends here are processes of the same server on the same machine.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import httptools

from ..engine.http import UNKNOWN_SID, Headers, Request, Responder
from ..errors import ProtocolError
from ..ws.frames import (
    BINARY,
    CLOSE,
    PING,
    TEXT,
    FrameParser,
    close_frame,
    encode_frame,
    parse_close,
    pong_frame,
)
from ..ws.handshake import check_response, client_request_headers
from .slots import WorkerDir, slot_of

if TYPE_CHECKING:
    from ..engine.server import EngineServer, WebSocketUpgrade
    from ..engine.socket import WebSocketConnection

__all__ = ["Forwarder"]

log = logging.getLogger("aiosocketio.workers")

# request headers that belong to one connection (the front door's), not to the request
_HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "http2-settings",
        "content-length",
        "expect",
    )
)
_WS_OWN = frozenset(
    (
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
    )
)
_NOT_RELAYED = frozenset(("connection", "keep-alive", "proxy-connection", "transfer-encoding"))
_NOT_RELAYED_101 = _NOT_RELAYED | {
    "upgrade",
    "content-length",
    "sec-websocket-accept",
    "sec-websocket-extensions",
}
_ZERO_MASK = b"\x00\x00\x00\x00"
_OWNER_MESSAGE_LIMIT = 1 << 32  # the owner is this server: its messages are not limited here


def _head(method: str, request: Request, skip: frozenset[str] = _HOP_BY_HOP) -> list[str] | None:
    """The request line and the headers passed on; None when the request cannot be."""
    url = request.url
    if any(c <= " " or c == "\x7f" for c in url):
        return None
    lines = [f"{method} {url} HTTP/1.1"]
    headers = request.headers
    for name, value in headers.items():
        if name in skip or "\r" in value or "\n" in value or "\x00" in value:
            continue
        lines.append(f"{name}: {value}")
    return lines


def _encode(lines: list[str]) -> bytes:
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1", "replace")


class _Call:
    """One request sent to an owner, and its answer (the response parser's callbacks)."""

    reuse = True  # the connection may serve another request after a keep-alive answer

    __slots__ = (
        "body",
        "chunks",
        "complete",
        "done",
        "forwarder",
        "head",
        "headers",
        "keep_alive",
        "link",
        "owner",
        "parser",
        "received",
        "request",
        "retried",
        "status",
    )

    def __init__(
        self, forwarder: Forwarder, owner: int, request: Request, head: bytes, body: bytes
    ) -> None:
        self.forwarder = forwarder
        self.owner = owner
        self.request = request
        self.head = head
        self.body = body
        self.link: _Link | None = None
        self.done = False  # answered, failed or aborted: nothing more reaches the client
        self.retried = False
        self.reset()

    def reset(self) -> None:
        self.parser: Any = None
        self.status = 0
        self.headers: Headers = []
        self.chunks: list[bytes] = []
        self.complete = False
        self.keep_alive = False
        self.received = False

    # ------------------------------------------------------------------ httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = bool(self.parser.should_keep_alive())

    # ------------------------------------------------------------------ outcomes
    def answered(self) -> None:
        raise NotImplementedError

    def upgraded(self, link: _Link, rest: bytes) -> None:
        link.transport.close()  # an upgrade nobody asked for
        self.failed()

    def failed(self) -> None:
        raise NotImplementedError

    def finish(self) -> bool:
        """Mark the call done; False when it already was (aborted by the client)."""
        if self.done:
            return False
        self.done = True
        self.forwarder.calls.pop(self.key(), None)
        return True

    def key(self) -> object:
        return self


class _HttpCall(_Call):
    """A long-polling GET or POST."""

    __slots__ = ("responder",)

    def __init__(
        self,
        forwarder: Forwarder,
        owner: int,
        request: Request,
        responder: Responder,
        head: bytes,
    ) -> None:
        super().__init__(
            forwarder, owner, request, head, request.body if request.method == "POST" else b""
        )
        self.responder = responder

    def key(self) -> object:
        return self.responder

    def answered(self) -> None:
        if not self.finish():
            return
        headers = [(n, v) for n, v in self.headers if n.lower() not in _NOT_RELAYED]
        body = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        self.responder.respond(self.status, headers, body)

    def failed(self) -> None:
        if self.finish():
            self.forwarder.unreachable += 1
            self.forwarder.engine.respond_error(self.request, self.responder, UNKNOWN_SID)


class _WebSocketCall(_Call):
    """The opening handshake of a WebSocket to the owner."""

    reuse = False

    __slots__ = ("key_sent", "upgrade")

    def __init__(
        self,
        forwarder: Forwarder,
        owner: int,
        request: Request,
        upgrade: WebSocketUpgrade,
        lines: list[str],
    ) -> None:
        key, own = client_request_headers()
        lines.extend(f"{name}: {value}" for name, value in own)
        super().__init__(forwarder, owner, request, _encode(lines), b"")
        self.upgrade = upgrade
        self.key_sent = key

    def answered(self) -> None:
        # the owner refused (an error answer): the client gets the same
        if self.finish():
            body = b"".join(self.chunks)
            headers = [(n, v) for n, v in self.headers if n.lower() not in _NOT_RELAYED]
            self.upgrade.reject(self.status, headers, body)

    def upgraded(self, link: _Link, rest: bytes) -> None:
        if self.done:
            link.transport.close()
            return
        try:
            check_response(101, {n.lower(): v for n, v in self.headers}, self.key_sent)
        except ProtocolError as exc:
            log.warning("a worker answered a forwarded WebSocket wrongly: %s", exc)
            link.transport.close()
            self.failed()
            return
        self.finish()
        extra = [(n, v) for n, v in self.headers if n.lower() not in _NOT_RELAYED_101]
        conn = self.upgrade.accept(extra)
        relay = _Relay(self.forwarder, link.transport, conn)
        conn.receiver = relay
        link.transport.set_protocol(relay)
        if rest:
            relay.data_received(rest)

    def failed(self) -> None:
        if self.finish():
            self.forwarder.unreachable += 1
            self.forwarder.engine.reject_websocket(self.request, self.upgrade, UNKNOWN_SID)


class _Link(asyncio.Protocol):
    """One connection to an owner's internal socket: requests one at a time, kept alive."""

    __slots__ = ("_idle_handle", "call", "closed", "forwarder", "owner", "transport")

    def __init__(self, forwarder: Forwarder, owner: int) -> None:
        self.forwarder = forwarder
        self.owner = owner
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.call: _Call | None = None
        self.closed = False
        self._idle_handle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, call: _Call) -> None:
        self.cancel_idle()
        self.call = call
        call.link = self
        call.reset()
        call.parser = httptools.HttpResponseParser(call)
        body = call.body
        if len(body) < 16384:
            self.transport.write(call.head + body)
        else:
            self.transport.writelines((call.head, body))

    def data_received(self, data: bytes) -> None:
        call = self.call
        if call is None:
            self.close()  # an answer to nothing
            return
        call.received = True
        try:
            call.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self.call = None
            self.closed = True  # the connection is the WebSocket's from now on
            self.forwarder.forget(self)
            call.upgraded(self, data[exc.args[0] :])
            return
        except httptools.HttpParserError as exc:
            log.warning("a worker answered a forwarded request wrongly: %s", exc)
            self.call = None
            self.close()
            call.failed()
            return
        if call.complete:
            self.call = None
            call.link = None
            call.answered()
            if call.keep_alive and call.reuse and not self.closed:
                self.forwarder.release(self)
            else:
                self.close()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.cancel_idle()
        self.forwarder.forget(self)
        call, self.call = self.call, None
        if call is None or call.done:
            return
        call.link = None
        if not call.received and not call.retried:
            # nothing answered: a kept-alive connection the owner closed as it was reused, or
            # a connection that never was (a Unix socket's full backlog): once more, anew
            call.retried = True
            self.forwarder.connect(call)
        else:
            call.failed()

    def idle(self, timeout: float) -> None:
        self._idle_handle = asyncio.get_running_loop().call_later(timeout, self.close)

    def cancel_idle(self) -> None:
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.close()


class _Relay(asyncio.Protocol):
    """A forwarded WebSocket: the owner's side is this protocol, the client's is ``conn``
    (whose receiver this is)."""

    __slots__ = ("_done", "_parser", "conn", "forwarder", "transport")

    def __init__(
        self, forwarder: Forwarder, transport: asyncio.Transport, conn: WebSocketConnection
    ) -> None:
        self.forwarder = forwarder
        self.transport = transport
        self.conn = conn
        forwarder.relays.add(self)
        self._parser = FrameParser(client_side=True, max_message_size=_OWNER_MESSAGE_LIMIT)
        self._done = False  # a close went one way or the other

    # ------------------------------------------------------------------ owner -> client
    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        conn = self.conn
        try:
            for opcode, payload in self._parser.feed(data):
                if opcode == TEXT:
                    conn.send_text(payload)  # type: ignore[arg-type]
                elif opcode == BINARY:
                    conn.send_bytes(payload)  # type: ignore[arg-type]
                elif opcode == PING:
                    self.transport.write(pong_frame(payload, mask=_ZERO_MASK))  # type: ignore[arg-type]
                elif opcode == CLOSE:
                    code, reason = parse_close(payload)  # type: ignore[arg-type]
                    self._done = True
                    self.transport.write(close_frame(code, reason, mask=_ZERO_MASK))
                    self.transport.close()
                    conn.close(None if code == 1005 else code, reason)
                    return
        except ProtocolError as exc:
            log.warning("a worker sent a wrong WebSocket frame: %s", exc)
            self._done = True
            self.transport.close()
            conn.close(1011)

    def connection_lost(self, exc: Exception | None) -> None:
        self.forwarder.relays.discard(self)
        if not self._done:
            # the owner went away without a closing handshake (it died): so does the client
            self._done = True
            self.conn.close(1011)

    def shutdown(self) -> None:
        """This worker is closing: the client is told to go away (and reconnects)."""
        if not self._done:
            self._done = True
            self.transport.close()
            self.conn.close(1001)

    def pause_writing(self) -> None:
        self.conn.pause_reading()

    def resume_writing(self) -> None:
        self.conn.resume_reading()

    # ------------------------------------------------------------------ client -> owner
    def on_message(self, data: str | bytes) -> None:
        if self._done:
            return
        if type(data) is str:
            frame = encode_frame(TEXT, data.encode(), mask=_ZERO_MASK)
        else:
            frame = encode_frame(BINARY, data, mask=_ZERO_MASK)  # type: ignore[arg-type]
        self.transport.write(frame)

    def on_ws_close(self, error: bool) -> None:
        if self._done:
            return
        self._done = True
        code = getattr(self.conn, "close_code", None)
        if code is not None:
            try:
                self.transport.write(close_frame(code, mask=_ZERO_MASK))
            except ValueError:
                pass  # 1006 and the like: the connection just ends, as the client's did
        self.transport.close()


class Forwarder:
    """The router of a worker's engine: requests for other workers' sessions go to them.

    ``directory`` is the run directory, ``slot`` this worker's slot number. Counters for
    tests and metrics: :attr:`forwarded` (requests and WebSockets passed on) and
    :attr:`unreachable` (owners that did not answer: the client got a 400).
    """

    def __init__(
        self,
        engine: EngineServer,
        directory: WorkerDir,
        slot: int,
        *,
        max_idle: int = 32,
        idle_timeout: float = 20.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.engine = engine
        self.dir = directory
        self.slot = slot
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout  # below the owner's keep-alive timeout (60 s)
        self.connect_timeout = connect_timeout
        self.forwarded = 0
        self.unreachable = 0
        self.calls: dict[object, _Call] = {}  # HTTP calls by responder, WebSocket ones by self
        self._idle: dict[int, list[_Link]] = {}
        self._links: set[_Link] = set()
        self.relays: set[_Relay] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def owner(self, request: Request) -> int | None:
        """The other worker that owns the request's session, if its id names one."""
        sid = request.query.get("sid")
        slot = slot_of(sid) if sid else None
        return None if slot == self.slot else slot

    # ------------------------------------------------------------------ Router
    def route_request(self, request: Request, responder: Responder) -> bool:
        if self._closed or request.method not in ("GET", "POST"):
            return False
        owner = self.owner(request)
        if owner is None:
            return False
        method = request.method
        lines = _head(method, request)
        if lines is None:
            return False
        if method == "POST":
            lines.append(f"Content-Length: {len(request.body)}")
        call = _HttpCall(self, owner, request, responder, _encode(lines))
        self.calls[responder] = call
        self._send(call)
        return True

    def route_websocket(self, request: Request, upgrade: WebSocketUpgrade) -> bool:
        if self._closed:
            return False
        owner = self.owner(request)
        if owner is None:
            return False
        lines = _head("GET", request, _HOP_BY_HOP | _WS_OWN)
        if lines is None:
            return False
        call = _WebSocketCall(self, owner, request, upgrade, lines)
        self.calls[call] = call
        self._send(call)
        return True

    def request_aborted(self, request: Request, responder: Responder) -> None:
        call = self.calls.pop(responder, None)
        if call is None or call.done:
            return
        call.done = True
        link = call.link
        if link is not None:
            link.call = None
            link.close()  # the owner sees its client go away

    # ------------------------------------------------------------------ connections
    def _send(self, call: _Call) -> None:
        self.forwarded += 1
        idle = self._idle.get(call.owner)
        while idle:
            link = idle.pop()
            if not link.closed and not link.transport.is_closing():
                link.send(call)
                return
        self.connect(call)

    def connect(self, call: _Call) -> None:
        """Send ``call`` over a new connection to its owner."""
        task = asyncio.ensure_future(self._connect(call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, call: _Call) -> None:
        loop = asyncio.get_running_loop()
        path = self.dir.socket_path(call.owner, "http")
        owner = call.owner
        try:
            _, link = await asyncio.wait_for(
                loop.create_unix_connection(lambda: _Link(self, owner), path),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            log.debug("worker %d is unreachable: %r", owner, exc)
            call.failed()
            return
        except asyncio.CancelledError:
            call.failed()
            raise
        if self._closed:
            link.close()
            call.failed()
            return
        self._links.add(link)
        if call.done:  # the client went away meanwhile
            self.release(link)
            return
        link.send(call)

    def release(self, link: _Link) -> None:
        """A connection is free again: keep it for the next request to its owner."""
        idle = self._idle.setdefault(link.owner, [])
        if self._closed or link.closed or len(idle) >= self.max_idle:
            link.close()
            return
        idle.append(link)
        link.idle(self.idle_timeout)

    def forget(self, link: _Link) -> None:
        self._links.discard(link)
        idle = self._idle.get(link.owner)
        if idle and link in idle:
            idle.remove(link)

    def idle_connections(self, owner: int) -> int:
        return len(self._idle.get(owner, ()))

    async def close(self) -> None:
        """Close every connection to the other workers (answers still awaited fail)."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for link in list(self._links):
            link.close()
        for relay in list(self.relays):
            relay.shutdown()
        self._idle.clear()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
