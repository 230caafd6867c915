"""Every emit operator of the Python client (``timeout``, ``volatile``, ``compress``) with
every emit method (``emit``, ``emit_with_ack``, ``send``), seen on the wire.

A tap between the client and the server reads the client's WebSocket frames: the messages
it sent compressed are the ones the tap had to inflate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from aiosocketio import AckTimeout
from aiosocketio import Socket as ServerSocket
from aiosocketio.client import connect, io
from aiosocketio.ws.frames import FrameParser
from helpers import EMIT_FLAGS, Proxy, RecordingDeflate

from . import running, wait_until

BIG = "compressible " * 200  # over the 1024-byte threshold of permessage-deflate
METHODS = ["emit", "emit_with_ack", "send"]
FAST = {"force_new": True, "reconnection": False, "transports": ["websocket"]}


class Tap(Proxy):
    """A Proxy that reads the client's WebSocket frames on the way: ``messages``, and
    ``inflated`` (those that came compressed)."""

    def __init__(self, target: int) -> None:
        super().__init__(target, tap=self._client_bytes)
        self.messages: list[str | bytes] = []
        self.inflated: list[bytes] = []

    async def __aenter__(self) -> Tap:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _client_bytes(self) -> Callable[[bytes], None]:
        head = b""
        parser: FrameParser | None = None

        def feed(data: bytes) -> None:
            nonlocal head, parser
            if parser is None:  # the HTTP upgrade request comes first
                head += data
                if b"\r\n\r\n" not in head:
                    return
                head, _, data = head.partition(b"\r\n\r\n")
                deflate = RecordingDeflate(self.inflated, client_side=False)
                parser = FrameParser(client_side=False, max_message_size=1 << 24, deflate=deflate)
            for _opcode, payload in parser.feed(data):
                self.messages.append(payload)  # type: ignore[arg-type]

        return feed


async def send(target: Any, method: str, *args: Any) -> Any:
    """Emit "big" (``send``: a message) with ``method`` of ``target``; what it gives."""
    if method == "emit_with_ack":
        return await target.emit_with_ack("big", *args)
    if method == "send":
        return target.send(*args)
    return target.emit("big", *args)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("flags", EMIT_FLAGS)
async def test_compress(method: str, flags: str) -> None:
    received: list[str] = []

    def on_connection(socket: ServerSocket) -> None:
        for event in ("big", "message"):
            socket.on(event, lambda text: (received.append(text), "ok")[1])

    async with running(per_message_deflate=True) as (server, port), Tap(port) as tap:
        server.on("connection", on_connection)
        sock = await connect(f"http://127.0.0.1:{tap.port}", **FAST)
        apply, plain = EMIT_FLAGS[flags]
        result = await send(apply(sock), method, BIG)
        await wait_until(lambda: received == [BIG])
        if method == "emit_with_ack":
            assert result == "ok"
        sent = [m for m in tap.messages if isinstance(m, str) and "compressible" in m]
        assert len(sent) == 1
        assert (sent[0].encode() in tap.inflated) is not plain
        await sock.disconnect()


@pytest.mark.parametrize("method", METHODS)
async def test_volatile(method: str) -> None:
    received: list[Any] = []

    def on_connection(socket: ServerSocket) -> None:
        for event in ("big", "message"):
            socket.on(event, lambda n: (received.append(n), "ok")[1])

    async with running() as (server, port):
        server.on("connection", on_connection)
        sock = io(f"http://127.0.0.1:{port}", **FAST)
        # not connected yet, so not writable: dropped (a plain emit would be buffered)
        target = sock.volatile.timeout(0.2) if method == "emit_with_ack" else sock.volatile
        if method == "emit_with_ack":
            with pytest.raises(AckTimeout):
                await send(target, method, 1)
        else:
            await send(target, method, 1)
        sock.emit("big", 2)
        await sock.wait_connected(3)
        await wait_until(lambda: received == [2])
        # connected and idle: writable, so sent
        target = sock.volatile.timeout(3) if method == "emit_with_ack" else sock.volatile
        assert await send(target, method, 3) in (None, "ok")
        await wait_until(lambda: len(received) == 2)
        assert received == [2, 3]
        await sock.disconnect()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("answered", [True, False], ids=["answered", "silent"])
async def test_timeout(method: str, answered: bool) -> None:
    def on_connection(socket: ServerSocket) -> None:
        def handler(n: int, ack: Any) -> None:
            if answered:
                ack("ok")

        for event in ("big", "message"):
            socket.on(event, handler)

    async with running() as (server, port):
        server.on("connection", on_connection)
        sock = await connect(f"http://127.0.0.1:{port}", **FAST)
        target = sock.timeout(1.0)  # an answer within it on a loaded machine
        if method == "emit_with_ack":
            if answered:
                assert await target.emit_with_ack("big", 1) == "ok"
            else:
                with pytest.raises(AckTimeout):
                    await target.emit_with_ack("big", 1)
        else:
            results: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
            emit = target.send if method == "send" else lambda *a, **k: target.emit("big", *a, **k)
            emit(1, callback=lambda *args: results.put_nowait(args))
            err, *args = await results.get()
            if answered:
                assert (err, args) == (None, ["ok"])
            else:
                assert isinstance(err, AckTimeout) and args == []
        await sock.disconnect()
