"""Engine.IO client transports: what they share, and HTTP long-polling (the WebSocket
transport is in :mod:`.websocket`).

A transport moves Engine.IO packets and reports to its ``handler`` (the engine, or the
probe of an upgrade): ``on_transport_open``, ``on_transport_packet``, ``on_transport_error``,
``on_transport_close`` and ``on_transport_drain``, as the ``open``, ``packet``, ``error``,
``close`` and ``drain`` events of engine.io-client's transports. A transport whose handler
was taken away (``handler = None``) reports nothing more.

States follow engine.io-client: ``opening``, ``open``, ``pausing``/``paused`` (polling,
during an upgrade) and ``closed``.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl as _ssl
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from ..engineio.packets import CLOSE, OPEN, decode_payload, encode_packet
from ..engineio.packets import encode_payload as _encode_payload
from ..errors import AioSocketIOError, ProtocolError, TransportError
from .cookies import CookieJar
from .events import TaskSet, log
from .http import HttpConnection, StaleConnection, Target

_TEXT_PLAIN = ("Content-Type", "text/plain;charset=UTF-8")

__all__ = [
    "OutPacket",
    "PollingTransport",
    "Transport",
    "TransportError",
    "TransportHandler",
    "TransportOptions",
]

OutPacket = tuple[int, str | bytes, bool]
"""A packet to send: ``(type, data, compress)``."""

PROTOCOL = "4"
CLOSE_TIMEOUT = 3.0


@dataclass(slots=True)
class TransportOptions:
    """What the transports of one engine share."""

    target: Target
    query: dict[str, str] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)
    ssl: _ssl.SSLContext | None = None
    connect_timeout: float = 20.0
    timestamp_requests: bool = True
    per_message_deflate: bool = True
    compress_threshold: int = 1024
    max_message_size: int = 100 * 1024 * 1024
    cookies: CookieJar | None = None

    def request_headers(self, *extra: tuple[str, str]) -> list[tuple[str, str]]:
        """The headers of a request: the configured ones, the cookies kept, ``extra``."""
        headers = [*self.headers, *extra]
        cookie = self.cookies.header() if self.cookies is not None else None
        if cookie is not None:
            headers.append(("Cookie", cookie))
        return headers


class TransportHandler(Protocol):
    def on_transport_open(self, transport: Transport) -> None: ...
    def on_transport_packet(self, transport: Transport, kind: int, data: str | bytes) -> None: ...
    def on_transport_error(self, transport: Transport, error: TransportError) -> None: ...
    def on_transport_close(self, transport: Transport, description: str) -> None: ...
    def on_transport_drain(self, transport: Transport) -> None: ...


class Transport:
    """What the two transports have in common."""

    name: ClassVar[str] = ""

    __slots__ = ("handler", "options", "query", "state", "tasks", "writable")

    def __init__(self, options: TransportOptions, query: dict[str, str], tasks: TaskSet) -> None:
        self.options = options
        self.query = {**options.query, **query, "EIO": PROTOCOL, "transport": self.name}
        self.tasks = tasks
        self.handler: TransportHandler | None = None
        self.state = "closed"
        self.writable = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.state}>"

    def open(self) -> None:
        raise NotImplementedError

    def send(self, packets: list[OutPacket]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Close (telling the server when the transport allows it); reports nothing more."""
        raise NotImplementedError

    def discard(self) -> None:
        """Drop the transport without a word to the server (after an upgrade)."""
        self.close()

    async def pause(self) -> None:
        """Stop receiving and sending (before an upgrade); returns when nothing is in flight."""
        self.state = "paused"

    def resume(self) -> None:
        """Go on after a pause (the upgrade failed)."""
        if self.state in ("pausing", "paused"):
            self.state = "open"

    # ------------------------------------------------------------------ reporting
    def _opened(self) -> None:
        self.state = "open"
        self.writable = True
        if self.handler is not None:
            self.handler.on_transport_open(self)

    def _packet(self, kind: int, data: str | bytes) -> None:
        if self.handler is not None:
            self.handler.on_transport_packet(self, kind, data)

    def _fail(self, message: str, exc: BaseException | None) -> None:
        if self.state == "closed":
            return
        error = exc if isinstance(exc, TransportError) else TransportError(message, exc)
        log.debug("%s transport failed: %s", self.name, error)
        if self.handler is not None:
            self.handler.on_transport_error(self, error)
        self.close()

    def _closed(self, description: str) -> None:
        if self.state == "closed":
            return
        self.state = "closed"
        self.writable = False
        handler, self.handler = self.handler, None
        self._release()
        if handler is not None:
            handler.on_transport_close(self, description)

    def _release(self) -> None:
        """Free the connections (the transport is closed)."""

    def _mark_closed(self) -> bool:
        """Take the closed state without reporting it; False when it was closed already."""
        if self.state == "closed":
            return False
        self.state = "closed"
        self.writable = False
        self.handler = None
        return True


# ---------------------------------------------------------------------- long-polling


class PollingTransport(Transport):
    """HTTP long-polling: one GET waiting for packets, POSTs carrying them to the server;
    each on its own keep-alive connection."""

    name = "polling"

    __slots__ = ("_get_conn", "_poll_task", "_post_conn", "_post_task")

    def __init__(self, options: TransportOptions, query: dict[str, str], tasks: TaskSet) -> None:
        super().__init__(options, query, tasks)
        self._get_conn: HttpConnection | None = None
        self._post_conn: HttpConnection | None = None
        self._poll_task: asyncio.Task[Any] | None = None
        self._post_task: asyncio.Task[Any] | None = None

    def open(self) -> None:
        self.state = "opening"
        self._poll_task = self.tasks.spawn(self._poll_loop(), "polling GET")

    async def _request(self, method: str, body: bytes | None = None) -> bytes:
        opts = self.options
        query = dict(self.query)
        if opts.timestamp_requests:
            query["t"] = secrets.token_urlsafe(6)
        url = opts.target.url(query)
        headers = opts.request_headers(*(() if body is None else (_TEXT_PLAIN,)))
        for attempt in (1, 2):
            conn = self._get_conn if method == "GET" else self._post_conn
            if conn is None or not conn.usable:
                if conn is not None:
                    conn.close()
                conn = await HttpConnection.open(opts.target, opts.ssl, opts.connect_timeout)
                if self.state == "closed":
                    conn.close()
                    raise ConnectionError("transport closed")
                if method == "GET":
                    self._get_conn = conn
                else:
                    self._post_conn = conn
            try:
                response = await conn.request(method, url, headers, body)
            except StaleConnection:
                if attempt == 2:
                    raise
                continue
            if opts.cookies is not None and response.set_cookies:
                opts.cookies.update(response.set_cookies)
            if response.status != 200:
                message = response.body.decode(errors="replace")[:200]
                raise TransportError(
                    f"xhr {'poll' if method == 'GET' else 'post'} error",
                    f"HTTP {response.status}: {message}" if message else response.status,
                )
            return response.body
        raise AssertionError("unreachable")

    async def _poll_loop(self) -> None:
        try:
            while True:
                body = await self._request("GET")
                if self.state == "closed":
                    return
                try:
                    packets = decode_payload(body.decode())
                except (UnicodeDecodeError, ProtocolError) as exc:
                    raise TransportError("xhr poll error", exc) from None
                for kind, data in packets:
                    if self.state == "opening" and kind == OPEN:
                        self._opened()
                    if kind == CLOSE:
                        self._closed("transport closed by the server")
                        return
                    self._packet(kind, data)
                    if self.state == "closed":
                        return
                if self.state != "open":
                    return  # pausing for an upgrade (or opening without an open packet)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail("xhr poll error", exc)

    def send(self, packets: list[OutPacket]) -> None:
        if self.state != "open":
            return
        payload = _encode_payload(encode_packet(kind, data) for kind, data, _ in packets)
        self.writable = False
        self._post_task = self.tasks.spawn(self._post(payload.encode()), "polling POST")

    async def _post(self, body: bytes) -> None:
        try:
            await self._request("POST", body)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail("xhr post error", exc)
            return
        if self.state == "closed":
            return
        self.writable = True
        if self.handler is not None:
            self.handler.on_transport_drain(self)

    async def pause(self) -> None:
        self.state = "pausing"
        busy = [t for t in (self._poll_task, self._post_task) if t is not None and not t.done()]
        if busy:
            await asyncio.wait(busy)
        if self.state == "pausing":
            self.state = "paused"

    def resume(self) -> None:
        if self.state not in ("pausing", "paused"):
            return
        self.state = "open"
        if self._poll_task is None or self._poll_task.done():
            self._poll_task = self.tasks.spawn(self._poll_loop(), "polling GET")
        if self._post_task is None or self._post_task.done():
            self.writable = True

    def close(self) -> None:
        if self.state == "closed":
            return
        send_close = self.state in ("open", "pausing", "paused")
        self.state = "closed"
        self.writable = False
        self.handler = None
        self.tasks.spawn(self._shutdown(send_close), "polling close")

    def discard(self) -> None:
        if self._mark_closed():
            self._release()

    async def _shutdown(self, send_close: bool) -> None:
        poll = self._poll_task
        if poll is not None and poll is not asyncio.current_task():
            poll.cancel()
        if send_close:
            post = self._post_task
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    if post is not None and post is not asyncio.current_task():
                        await asyncio.wait([post])
                    # the state is closed already: send the close packet the long way round
                    conn = self._post_conn
                    if conn is None or not conn.usable:
                        if conn is not None:
                            conn.close()
                        conn = await HttpConnection.open(
                            self.options.target, self.options.ssl, self.options.connect_timeout
                        )
                        self._post_conn = conn
                    query = dict(self.query)
                    if self.options.timestamp_requests:
                        query["t"] = secrets.token_urlsafe(6)
                    await conn.request(
                        "POST",
                        self.options.target.url(query),
                        self.options.request_headers(_TEXT_PLAIN),
                        b"1",
                    )
            except (OSError, TimeoutError, AioSocketIOError) as exc:
                log.debug("could not send the close packet: %r", exc)
        self._release()
        for conn in (self._get_conn, self._post_conn):
            if conn is not None:
                await conn.aclose()

    def _release(self) -> None:
        current = asyncio.current_task()
        for task in (self._poll_task, self._post_task):
            if task is not None and task is not current:
                task.cancel()
        for conn in (self._get_conn, self._post_conn):
            if conn is not None:
                conn.close()
