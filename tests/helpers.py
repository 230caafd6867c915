"""Tiny raw clients for tests: HTTP/1.1 and WebSocket over asyncio streams.

They speak bytes on purpose, so tests can send malformed input and see exactly what the
server writes back.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aiosocketio.ws.deflate import Deflate, DeflateParams
from aiosocketio.ws.frames import (
    BINARY,
    CLOSE,
    PING,
    TEXT,
    FrameParser,
    encode_frame,
    parse_close,
)
from aiosocketio.ws.handshake import build_request, check_response

TIMEOUT = 10.0  # a generous deadline: the CI machine is loaded
EIO = "/engine.io/"
SEP = "\x1e"
INTEROP = Path(__file__).resolve().parent / "interop"


def node_or_skip() -> str:
    """The ``node`` executable that runs the official JavaScript packages of
    tests/interop/node_modules; the test is skipped when either is missing."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("this test runs the official client under Node.js: `node` is not on PATH")
    if not (INTEROP / "node_modules" / "socket.io-client" / "package.json").is_file():
        pytest.skip(f"this test needs the npm packages: `npm ci` in {INTEROP}")
    return node


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    raw_headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def packets(self) -> list[str]:
        """An Engine.IO polling payload split into packets."""
        return self.text.split(SEP)


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str], list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    version, status, *reason = lines[0].split(" ", 2)
    assert version.startswith("HTTP/1."), lines[0]
    headers: dict[str, str] = {}
    raw: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        raw.append((name, value.strip()))
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return int(status), reason[0] if reason else "", headers, raw


class HttpConnection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, host: str = "127.0.0.1") -> HttpConnection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), TIMEOUT)
        return cls(reader, writer)

    async def __aenter__(self) -> HttpConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    def send_request(
        self,
        method: str,
        target: str,
        *,
        headers: list[tuple[str, str]] | dict[str, str] | None = None,
        body: bytes | str = b"",
    ) -> None:
        if isinstance(body, str):
            body = body.encode()
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        names = {n.lower() for n, _ in items}
        if "host" not in names:
            items.insert(0, ("Host", "127.0.0.1"))
        if (
            "content-length" not in names
            and "transfer-encoding" not in names
            and (body or method in ("POST", "PUT"))
        ):
            items.append(("Content-Length", str(len(body))))
        head = f"{method} {target} HTTP/1.1\r\n"
        head += "".join(f"{n}: {v}\r\n" for n, v in items) + "\r\n"
        self.writer.write(head.encode("latin-1") + body)

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: list[tuple[str, str]] | dict[str, str] | None = None,
        body: bytes | str = b"",
        timeout: float = TIMEOUT,
    ) -> Response:
        self.send_request(method, target, headers=headers, body=body)
        return await self.read_response(timeout)

    async def read_response(self, timeout: float = TIMEOUT) -> Response:
        return await asyncio.wait_for(self._read_response(), timeout)

    async def _read_response(self) -> Response:
        while True:
            head = await self.reader.readuntil(b"\r\n\r\n")
            status, reason, headers, raw = _parse_head(head)
            if status >= 200 or status == 101:
                break
        if status in (101, 204, 304):
            body = b""
        elif "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked()
        else:
            body = await self.reader.read()
        return Response(status, reason, headers, body, raw)

    async def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    async def at_eof(self, timeout: float = TIMEOUT) -> bool:
        """True when the server closed the connection (reads and drops what is left)."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except (ConnectionError, TimeoutError):
            return isinstance(self.writer.transport, asyncio.Transport) and (
                self.writer.transport.is_closing()
            )
        while data:
            try:
                data = await asyncio.wait_for(self.reader.read(65536), timeout)
            except ConnectionError:
                return True
        return True

    def abort(self) -> None:
        self.writer.transport.abort()

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def http_request(
    port: int,
    method: str,
    target: str,
    *,
    headers: list[tuple[str, str]] | dict[str, str] | None = None,
    body: bytes | str = b"",
    timeout: float = TIMEOUT,
) -> Response:
    """One request on a fresh connection."""
    async with await HttpConnection.open(port) as conn:
        return await conn.request(method, target, headers=headers, body=body, timeout=timeout)


class WsRejected(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(f"upgrade refused with HTTP {response.status}")
        self.response = response


class WsConnection:
    """A client WebSocket: masked frames out, parsed frames in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = FrameParser(client_side=True, max_message_size=1 << 30)
        self.pending: deque[tuple[int, bytes | str]] = deque()
        self.response: Response | None = None

    @classmethod
    async def open(
        cls,
        port: int,
        target: str,
        *,
        headers: list[tuple[str, str]] | None = None,
        extensions: str | None = None,
    ) -> WsConnection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
        conn = cls(reader, writer)
        key, request = build_request(
            f"127.0.0.1:{port}", target, extensions=extensions, extra_headers=headers or ()
        )
        writer.write(request)
        http = HttpConnection(reader, writer)
        response = await http.read_response()
        conn.response = response
        if response.status != 101:
            await http.close()
            raise WsRejected(response)
        check_response(response.status, response.headers, key)
        return conn

    async def __aenter__(self) -> WsConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.abort()

    def send_frame(
        self, opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False
    ) -> None:
        self.writer.write(encode_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=os.urandom(4)))

    def send_text(self, text: str) -> None:
        self.send_frame(TEXT, text.encode())

    def send_bytes(self, data: bytes) -> None:
        self.send_frame(BINARY, data)

    async def upgrade(self) -> None:
        """Probe, then complete the upgrade of this WebSocket's long-polling session."""
        self.send_text("2probe")
        assert await self.recv() == "3probe"
        self.send_text("5")

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def recv_frame(self, timeout: float = TIMEOUT) -> tuple[int, bytes | str]:
        """The next message or control frame; raises EOFError when the server closed TCP."""
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise EOFError("connection closed")
            self.pending.extend(self.parser.feed(data))
        return self.pending.popleft()

    async def recv(self, timeout: float = TIMEOUT) -> bytes | str:
        """The next TEXT or BINARY message (pings answered, a close frame raises)."""
        while True:
            opcode, payload = await self.recv_frame(timeout)
            if opcode in (TEXT, BINARY):
                return payload
            if opcode == CLOSE:
                assert isinstance(payload, bytes)
                raise ConnectionClosed(*parse_close(payload))
            if opcode == PING:
                assert isinstance(payload, bytes)
                self.send_frame(10, payload)

    async def expect_close(self, timeout: float = TIMEOUT) -> tuple[int, str]:
        """Skip messages until the server's close frame; return its (code, reason)."""
        while True:
            opcode, payload = await self.recv_frame(timeout)
            if opcode == CLOSE:
                assert isinstance(payload, bytes)
                return parse_close(payload)

    async def wait_eof(self, timeout: float = TIMEOUT) -> None:
        """Wait until the server closes the TCP connection."""
        while True:
            try:
                data = await asyncio.wait_for(self.reader.read(65536), timeout)
            except ConnectionError:
                return
            if not data:
                return

    async def close(self, code: int = 1000) -> tuple[int, str]:
        """Closing handshake from the client side; returns the server's answer."""
        self.send_frame(CLOSE, code.to_bytes(2, "big"))
        answer = await self.expect_close()
        await self.wait_eof()
        self.abort()
        return answer

    def abort(self) -> None:
        self.writer.transport.abort()


class ConnectionClosed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


# ---------------------------------------------------------------------- Engine.IO helpers
def open_packet(text: str | bytes) -> dict[str, Any]:
    if isinstance(text, bytes):
        text = text.decode()
    assert text[:1] == "0", text
    value = json.loads(text[1:])
    assert isinstance(value, dict)
    return value


async def eio_open(conn: HttpConnection, path: str = EIO) -> dict[str, Any]:
    """Long-polling handshake; returns the open packet's JSON."""
    response = await conn.request("GET", f"{path}?EIO=4&transport=polling")
    assert response.status == 200, (response.status, response.body)
    return open_packet(response.body)


def poll_url(sid: str, path: str = EIO) -> str:
    return f"{path}?EIO=4&transport=polling&sid={sid}"


def ws_url(sid: str | None = None, path: str = EIO) -> str:
    url = f"{path}?EIO=4&transport=websocket"
    return url if sid is None else f"{url}&sid={sid}"


async def assert_serves(port: int, *, polling: bool = True) -> None:
    """The echo server on ``port`` still serves a brand-new client: a long-polling session
    (unless ``polling=False``: a WebSocket-only server) and a WebSocket session each get their
    message echoed."""
    if polling:
        async with await HttpConnection.open(port) as conn:
            sid = (await eio_open(conn))["sid"]
            assert (await conn.request("POST", poll_url(sid), body="4alive")).body == b"ok"
            assert (await conn.request("GET", poll_url(sid))).text == "4alive"
    async with await WsConnection.open(port, ws_url()) as ws:
        open_packet(await ws.recv())
        ws.send_text("4ws alive")
        assert await ws.recv() == "4ws alive"


class Proxy:
    """A TCP forwarder (to Redis, PostgreSQL...) that can be taken down (connections cut, new
    ones refused) and brought back on the same port: a broker outage without touching the
    shared broker."""

    def __init__(self, target_port: int, tap: Callable[[], Callable[[bytes], None]] | None = None):
        """``tap``, when given, makes for each connection a function that sees every byte
        the client sends."""
        self.target_port = target_port
        self.tap = tap
        self.port = 0
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.pipes.update((writer, up_writer))

        async def pipe(
            src: asyncio.StreamReader,
            dst: asyncio.StreamWriter,
            tap: Callable[[bytes], None] | None = None,
        ) -> None:
            try:
                while data := await src.read(65536):
                    if tap is not None:
                        tap(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        for task in (
            asyncio.ensure_future(pipe(reader, up_writer, self.tap() if self.tap else None)),
            asyncio.ensure_future(pipe(up_reader, writer)),
        ):
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        for writer in list(self.pipes):
            writer.transport.abort()
        self.pipes.clear()
        self.server = None

    async def close(self) -> None:
        if self.server is not None:
            await self.down()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class RecordingDeflate(Deflate):
    """permessage-deflate (default parameters) that records every message it inflates: the
    messages that came compressed."""

    def __init__(self, out: list[bytes], *, client_side: bool) -> None:
        super().__init__(DeflateParams(), client_side=client_side)
        self._out = out

    def decompress(self, data: bytes, max_size: int) -> bytes:
        message = super().decompress(data, max_size)
        self._out.append(message)
        return message


# flags of one emit (a server's Socket or the client's) -> sent without compression
EMIT_FLAGS: dict[str, tuple[Callable[[Any], Any], bool]] = {
    "none": (lambda s: s, False),
    "compress": (lambda s: s.compress(True), False),
    "plain": (lambda s: s.compress(False), True),
    "timeout-plain": (lambda s: s.timeout(5).compress(False), True),
    "plain-timeout": (lambda s: s.compress(False).timeout(5), True),
    "volatile-plain": (lambda s: s.volatile.compress(False), True),
    "plain-volatile": (lambda s: s.compress(False).volatile, True),
}
