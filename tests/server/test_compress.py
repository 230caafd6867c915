"""``compress(False)``: with permessage-deflate negotiated, such emits leave uncompressed."""

from __future__ import annotations

import asyncio
from typing import Any

from aiosocketio import Server, Socket
from aiosocketio.ws.deflate import Deflate, DeflateParams
from aiosocketio.ws.frames import FrameParser
from helpers import WsConnection, open_packet

OFFER = "permessage-deflate; client_max_window_bits"
BIG = "compressible " * 1000


class Spy(Deflate):
    """Client-side deflate that records which messages came compressed."""

    def __init__(self) -> None:
        super().__init__(DeflateParams(), client_side=True)
        self.inflated: list[int] = []

    def decompress(self, data: bytes, max_size: int) -> bytes:
        out = super().decompress(data, max_size)
        self.inflated.append(len(out))
        return out


async def connected(port: int) -> tuple[WsConnection, Spy]:
    ws = await WsConnection.open(port, "/socket.io/?EIO=4&transport=websocket", extensions=OFFER)
    spy = Spy()
    ws.parser = FrameParser(client_side=True, max_message_size=1 << 24, deflate=spy)
    open_packet(await ws.recv())
    ws.send_text("40")
    assert str(await ws.recv()).startswith("40")
    return ws, spy


async def test_compress_false_skips_per_message_deflate() -> None:
    io = Server(per_message_deflate=True)
    sockets: list[Socket] = []
    io.on("connection", sockets.append)
    standalone = await io.start("127.0.0.1", 0)
    try:
        ws, spy = await connected(standalone.port)
        async with ws:
            while not sockets:
                await asyncio.sleep(0.01)
            socket = sockets[0]
            expected: list[Any] = []
            socket.emit("a", BIG)  # compressed (over the 1024-byte threshold)
            socket.compress(False).emit("b", BIG)  # plain
            io.emit("c", BIG)  # broadcast: compressed
            io.compress(False).emit("d", BIG)  # broadcast: plain
            socket.timeout(5).compress(False).emit("e", BIG)  # flags combine
            for name in "abcde":
                text = await ws.recv()
                assert isinstance(text, str) and text.startswith(f'42["{name}"')
                expected.append(len(text.encode()))
            # only a and c were inflated
            assert spy.inflated == [expected[0], expected[2]]
    finally:
        await io.close()
