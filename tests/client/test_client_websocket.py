"""The client's WebSocket transport against a scripted raw server: frames as the bytes
arrive (several per read, the handshake answer and the first frames in one read), the
one-frame fast path and its edges, close codes, handshake failures."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from aiosocketio.client import Engine, TransportError
from aiosocketio.client.http import Target
from aiosocketio.ws.frames import CLOSE, TEXT, FrameParser, parse_close
from aiosocketio.ws.handshake import build_response

from . import wait_until

HANDSHAKE = {"sid": "ws", "upgrades": [], "pingInterval": 25000, "pingTimeout": 20000}


def frame(text: str | bytes, *, opcode: int = TEXT, extended: bool = False) -> bytes:
    """An unmasked final frame; ``extended``: the 16-bit length form even when short."""
    payload = text.encode() if isinstance(text, str) else text
    n = len(payload)
    if n < 126 and not extended:
        return bytes((0x80 | opcode, n)) + payload
    if n < 0x10000:
        return bytes((0x80 | opcode, 126)) + struct.pack("!H", n) + payload
    return bytes((0x80 | opcode, 127)) + struct.pack("!Q", n) + payload


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Any]


class RawServer:
    """Answers the upgrade (101 and the Engine.IO open packet, in one write), then runs
    ``script``; keeps the frames the client sends in ``received``."""

    def __init__(self, script: Script, answer: bool = True) -> None:
        self.script = script
        self.answer = answer
        self.received: list[tuple[int, bytes | str]] = []
        self.tasks: list[asyncio.Task[Any]] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.append(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if not self.answer:
                await self.script(reader, writer, b"")
                return
            headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if line)
            response = build_response(headers["Sec-WebSocket-Key"])
            await self.script(reader, writer, response + frame("0" + json.dumps(HANDSHAKE)))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def read_frames(self, reader: asyncio.StreamReader) -> None:
        parser = FrameParser()  # server side: the client's frames are masked
        while True:
            data = await reader.read(65536)
            if not data:
                return
            self.received.extend(parser.feed(data))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Target]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            yield Target(False, "127.0.0.1", port, "/socket.io/")
        finally:
            server.close()
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)


def engine_for(target: Target, **options: Any) -> tuple[Engine, list[Any], list[Any]]:
    engine = Engine(target, transports=["websocket"], **options)
    messages: list[Any] = []
    errors: list[Any] = []
    engine.on("message", messages.append)
    engine.on("error", errors.append)
    return engine, messages, errors


async def open_until_closed(engine: Engine) -> list[Any]:
    """Open the engine; return the arguments of its close event once it closes."""
    closes: list[Any] = []
    engine.on("close", lambda *args: closes.append(args))
    engine.open()
    await wait_until(lambda: bool(closes))
    return closes


async def close_code_sent(raw: RawServer) -> int:
    """The code of the close frame the client sent (waiting for it)."""
    await wait_until(lambda: any(op == CLOSE for op, _ in raw.received))
    [payload] = [p for op, p in raw.received if op == CLOSE]
    assert isinstance(payload, bytes)
    return parse_close(payload)[0]


async def test_frames_in_the_handshake_read_and_many_per_read() -> None:
    sizes = [1, 20, 120, 121, 122, 123, 124, 125, 126, 127, 300, 70000]
    texts = ["x" * n for n in sizes]

    async def script(reader: Any, writer: asyncio.StreamWriter, opening: bytes) -> None:
        # the answer, the open packet and a first message in one write
        writer.write(opening + frame("4first"))
        await writer.drain()
        writer.write(b"".join(frame("4" + text) for text in texts))  # many in one write
        for text in texts:  # one per write (the fast path for the short ones)
            writer.write(frame("4" + text))
            await writer.drain()
        # the 16-bit length form of a short frame (128 bytes): the parser reads it
        writer.write(frame("4" + "y" * 123, extended=True))
        writer.write(frame(b"\x01\x02", opcode=2))  # binary message
        await writer.drain()
        await raw.read_frames(reader)

    raw = RawServer(script)
    async with raw.running() as target:
        engine, messages, errors = engine_for(target)
        engine.open()
        expected = ["first", *texts, *texts, "y" * 123, b"\x01\x02"]
        await wait_until(lambda: len(messages) >= len(expected))
        assert messages == expected
        assert not errors
        engine.send("answer")
        await wait_until(lambda: (TEXT, "4answer") in raw.received)
        engine.close()
        await wait_until(lambda: any(op == CLOSE for op, _ in raw.received))
        await engine.wait_closed()


@pytest.mark.parametrize("split", [False, True])
async def test_invalid_utf8_is_refused_with_1007(split: bool) -> None:
    async def script(reader: Any, writer: asyncio.StreamWriter, opening: bytes) -> None:
        writer.write(opening)
        await writer.drain()
        bad = frame(b"4\xff\xfe")
        if split:  # through the parser rather than the one-frame path
            writer.write(bad[:2])
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(bad[2:])
        else:
            writer.write(bad)
        await writer.drain()
        await raw.read_frames(reader)

    raw = RawServer(script)
    async with raw.running() as target:
        engine, messages, errors = engine_for(target)
        closes = await open_until_closed(engine)
        assert not messages and closes
        assert errors and isinstance(errors[0], TransportError)
        assert await close_code_sent(raw) == 1007
        await engine.wait_closed()


async def test_the_server_closing_is_answered_and_reported() -> None:
    async def script(reader: Any, writer: asyncio.StreamWriter, opening: bytes) -> None:
        writer.write(opening + frame("4bye") + frame(struct.pack("!H", 1001), opcode=CLOSE))
        await writer.drain()
        await raw.read_frames(reader)

    raw = RawServer(script)
    async with raw.running() as target:
        engine, messages, _ = engine_for(target)
        closes = await open_until_closed(engine)
        assert messages == ["bye"]
        assert closes[0][0] == "transport close"
        assert await close_code_sent(raw) == 1001
        await engine.wait_closed()


@pytest.mark.parametrize("how", ["silent", "hang-up", "refused"])
async def test_a_failed_handshake_is_a_transport_error(how: str) -> None:
    async def script(reader: Any, writer: asyncio.StreamWriter, opening: bytes) -> None:
        if how == "silent":
            await asyncio.sleep(30)
        elif how == "refused":
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(30)
        # hang-up: return, the connection closes

    raw = RawServer(script, answer=False)
    async with raw.running() as target:
        engine, _, errors = engine_for(target, connect_timeout=0.3)
        engine.open()
        await wait_until(lambda: bool(errors))
        assert isinstance(errors[0], TransportError)
        if how == "refused":
            assert "403" in str(errors[0])
        await engine.wait_closed()


async def test_a_reset_connection_is_a_close_not_an_error() -> None:
    async def script(reader: Any, writer: asyncio.StreamWriter, opening: bytes) -> None:
        writer.write(opening + frame("4hi"))
        await writer.drain()
        await asyncio.sleep(0.1)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # linger 0: the peer gets a reset

    raw = RawServer(script)
    async with raw.running() as target:
        engine, messages, errors = engine_for(target)
        closes = await open_until_closed(engine)
        assert messages == ["hi"]
        assert closes[0][0] == "transport close"  # as Node's ws: "close" (1006), no "error"
        assert not errors
        await engine.wait_closed()
