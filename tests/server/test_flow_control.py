"""Bounded buffers both ways: a client that does not read is dropped, a client that floods
async handlers is read more slowly."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from aiosocketio import Server, Socket
from helpers import HttpConnection, open_packet
from sioclient import SioServer, until

BIG = "x" * 100_000


async def test_websocket_client_that_stops_reading_is_dropped() -> None:
    io = Server(max_buffer_size=1_000_000)
    reasons: list[str] = []
    io.on("connection", lambda s: s.on("disconnect", reasons.append))
    async with SioServer(io) as srv:
        slow, slow_sid = await srv.connected()
        other, _ = await srv.connected()
        # stop reading: the read loop of the raw client is cancelled, the kernel buffers fill
        assert slow._task is not None
        slow._task.cancel()
        sock = slow.ws.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        target = io.sockets.sockets[slow_sid]
        for _ in range(400):  # 40 MB, far more than the kernel buffers and the limit
            if not target.connected:
                break
            target.emit("big", BIG)
            await asyncio.sleep(0)
        await until(lambda: reasons, timeout=5)
        assert reasons == ["transport error"]
        assert slow_sid not in io.sockets.sockets
        # the other client is still served
        io.emit("hello", 1)
        assert await other.next_event() == ("/", "hello", [1])


async def test_polling_client_that_never_polls_is_dropped() -> None:
    io = Server(max_buffer_size=1_000_000)
    reasons: list[str] = []
    io.on("connection", lambda s: s.on("disconnect", reasons.append))
    async with SioServer(io) as srv:
        http = await HttpConnection.open(srv.port)
        try:
            response = await http.request("GET", "/socket.io/?EIO=4&transport=polling")
            sid = open_packet(response.text)["sid"]
            url = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
            assert (await http.request("POST", url, body=b"40")).status == 200
            await until(lambda: io.sockets.sockets, timeout=10)
            (target,) = io.sockets.sockets.values()
            for _ in range(20):  # 2 MB buffered, never polled
                target.emit("big", BIG)
            assert reasons == ["transport error"]
            assert (await http.request("GET", url)).status == 400
        finally:
            await http.close()


async def test_flood_of_async_handlers_is_read_with_backpressure() -> None:
    io = Server(max_pending_handlers=10)
    release = asyncio.Event()
    running = 0
    most = 0
    seen: list[int] = []

    async def slow(socket: Socket, n: int) -> None:
        nonlocal running, most
        seen.append(n)
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1

    io.on_event("work", slow)
    async with SioServer(io) as srv:
        client, _ = await srv.connected()
        for n in range(200):
            await client.emit("work", n)
        await until(lambda: len(seen) >= 10, timeout=10)
        await asyncio.sleep(0.2)
        # reading stopped at the limit: the other 190 events wait in the kernel buffers
        assert most == 10
        assert len(seen) == 10
        release.set()
        await until(lambda: len(seen) == 200, timeout=5)
        assert seen == list(range(200))  # nothing lost, order kept
        assert most <= 10 + 10  # resumed at half the limit, never far above it
        await client.emit_with_ack("work", 200)  # still alive and answering


async def test_flow_control_resumes_polling_posts() -> None:
    io = Server(max_pending_handlers=2)
    release = asyncio.Event()
    seen: list[Any] = []

    async def slow(socket: Socket, n: int) -> None:
        seen.append(n)
        await release.wait()

    io.on_event("work", slow)
    async with SioServer(io) as srv:
        http = await HttpConnection.open(srv.port)
        try:
            response = await http.request("GET", "/socket.io/?EIO=4&transport=polling")
            sid = open_packet(response.text)["sid"]
            url = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
            assert (await http.request("POST", url, body=b"40")).status == 200
            await until(lambda: io.sockets.sockets, timeout=10)
            body = "\x1e".join(f'42["work",{n}]' for n in range(3)).encode()
            post = asyncio.ensure_future(http.request("POST", url, body=body))
            await asyncio.sleep(0.2)
            assert not post.done()  # held while the handlers run
            release.set()
            assert (await asyncio.wait_for(post, 2)).status == 200
            assert seen == [0, 1, 2]
        finally:
            await http.close()
