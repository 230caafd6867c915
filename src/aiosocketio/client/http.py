"""A small HTTP/1.1 client over asyncio streams: keep-alive requests for long-polling and
the WebSocket opening handshake, plain or over TLS.

Responses are parsed by httptools; the 101 answer to a WebSocket upgrade is read by hand
(its head only), so the bytes after it stay in the stream for the frame parser.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httptools

from ..errors import PayloadTooLarge, ProtocolError

__all__ = [
    "HttpConnection",
    "Response",
    "StaleConnection",
    "Target",
    "open_stream",
    "parse_head",
]

Headers = list[tuple[str, str]]

MAX_HEAD = 64 * 1024
READ_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Target:
    """Where the Engine.IO server is: ``secure``, ``host``, ``port`` and ``path``."""

    secure: bool
    host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.secure else 80
        return host if self.port == default else f"{host}:{self.port}"

    def url(self, query: dict[str, str]) -> str:
        """The request target: path and query string."""
        return f"{self.path}?{urlencode(query)}" if query else self.path


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    keep_alive: bool
    set_cookies: list[str]


async def open_stream(
    target: Target, ssl: _ssl.SSLContext | None, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to the target (TLS when it is secure)."""
    context: _ssl.SSLContext | None = None
    if target.secure:
        context = ssl if ssl is not None else _ssl.create_default_context()
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(
            target.host,
            target.port,
            ssl=context,
            server_hostname=target.host if context is not None else None,
            limit=MAX_HEAD,
        ),
        timeout,
    )
    return reader, writer


class StaleConnection(ConnectionError):
    """A reused keep-alive connection was closed by the server before it answered anything:
    the request was not processed and may be sent again on a new connection."""


class _ResponseState:
    """httptools callbacks of one response."""

    __slots__ = (
        "body",
        "complete",
        "headers",
        "headers_done",
        "keep_alive",
        "max_size",
        "parser",
        "set_cookies",
        "size",
    )

    def __init__(self, max_size: int) -> None:
        self.parser: Any = None
        self.keep_alive = False
        self.headers: dict[str, str] = {}
        self.set_cookies: list[str] = []  # not joined with ", ": an Expires has one
        self.body: list[bytes] = []
        self.size = 0
        self.max_size = max_size
        self.complete = False
        self.headers_done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1").strip()
        if key == "set-cookie":
            self.set_cookies.append(text)
        old = self.headers.get(key)
        self.headers[key] = text if old is None else f"{old}, {text}"

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.max_size:
            raise PayloadTooLarge(f"response body exceeds {self.max_size} bytes")
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        # read it now: the parser forgets it once the message is over
        self.keep_alive = bool(self.parser.should_keep_alive())


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; requests are sent one at a time."""

    __slots__ = ("_reader", "_writer", "closed", "requests", "target")

    def __init__(
        self, target: Target, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.target = target
        self._reader = reader
        self._writer = writer
        self.closed = False
        self.requests = 0

    @property
    def usable(self) -> bool:
        """Not closed by either side (an idle connection the server closed is not)."""
        return not self.closed and not self._reader.at_eof() and not self._writer.is_closing()

    @classmethod
    async def open(
        cls, target: Target, ssl: _ssl.SSLContext | None, timeout: float
    ) -> HttpConnection:
        reader, writer = await open_stream(target, ssl, timeout)
        return cls(target, reader, writer)

    async def request(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes | None = None,
        *,
        max_size: int = 100 * 1024 * 1024,
    ) -> Response:
        """Send a request and read the whole response. Raises OSError, ConnectionError or
        ProtocolError; the connection is closed after any error or a non keep-alive answer."""
        if self.closed:
            raise ConnectionError("the connection is closed")
        lines = [f"{method} {url} HTTP/1.1", f"Host: {self.target.host_header}"]
        for name, value in headers:
            if any(c in name or c in value for c in "\r\n\x00"):
                raise ValueError(f"invalid header {name!r}")
            lines.append(f"{name}: {value}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self._writer.write(head + body if body else head)
            state = _ResponseState(max_size)
            parser = state.parser = httptools.HttpResponseParser(state)
            reader = self._reader
            reused = self.requests > 0
            self.requests += 1
            received = False
            while not state.complete:
                try:
                    data = await reader.read(READ_SIZE)
                except ConnectionResetError:
                    if reused and not received:
                        raise StaleConnection("the server closed the connection") from None
                    raise
                if not data:
                    if state.headers_done and _ends_at_eof(state.headers):
                        break
                    if reused and not received:
                        raise StaleConnection("the server closed the connection")
                    raise ConnectionError("the server closed the connection")
                received = True
                try:
                    parser.feed_data(data)
                except httptools.HttpParserError as exc:
                    if isinstance(exc.__context__, ProtocolError):
                        raise exc.__context__ from None
                    raise ProtocolError(f"invalid HTTP response: {exc}") from None
            keep_alive = state.keep_alive
            status = parser.get_status_code()
        except BaseException:
            self.close()
            raise
        if not keep_alive:
            self.close()
        return Response(status, state.headers, b"".join(state.body), keep_alive, state.set_cookies)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._writer.close()

    async def aclose(self) -> None:
        self.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)
        except (OSError, TimeoutError):
            pass


def _ends_at_eof(headers: dict[str, str]) -> bool:
    """A body without Content-Length nor chunked coding ends when the connection does."""
    return "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", "")


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"invalid HTTP status line {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"invalid HTTP header line {line!r}")
        key = name.strip().lower()
        old = headers.get(key)
        headers[key] = value.strip() if old is None else f"{old}, {value.strip()}"
    return int(parts[1]), headers
