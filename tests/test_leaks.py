"""Nothing is left behind when clients go away, however they go.

Thousands of connect/drop cycles of each kind (clean close, TCP reset, ping timeout,
long-polling session abandoned, upgrade abandoned halfway) against one standalone server
with short heartbeats; then the server must hold no Engine.IO session, Socket.IO socket, room
entry, connection object, timer or task of theirs, and memory must stop growing from one
round to the next (tracemalloc and object counts by type).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import struct
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import aiosocketio
from aiosocketio import Server, Socket
from aiosocketio.engine.socket import EngineSocket
from aiosocketio.server.client import Client
from aiosocketio.transport.http_protocol import HttpProtocol
from aiosocketio.transport.standalone import StandaloneServer
from aiosocketio.transport.ws_protocol import WebSocketProtocol
from helpers import (
    ConnectionClosed,
    HttpConnection,
    WsConnection,
    WsRejected,
    eio_open,
    poll_url,
    ws_url,
)
from sioclient import until

SIO = "/socket.io/"
WS = f"{SIO}?EIO=4&transport=websocket"
CYCLES = int(os.environ.get("AIOSOCKETIO_LEAK_CYCLES", "2000"))
WINDOW = 200  # cycles in flight at once
# heartbeats short enough for thousands of timeouts in seconds, long enough for a loaded CI
PING = 0.5
SRC = os.path.join(os.path.dirname(aiosocketio.__file__), "*")
SERVER_CLASSES = (EngineSocket, Client, Socket, HttpProtocol, WebSocketProtocol)

Cycle = Callable[[int, int], Awaitable[None]]


class Target:
    """The server under test and what it holds."""

    def __init__(self, io: Server, port: int, standalone: StandaloneServer | None) -> None:
        self.io = io
        self.port = port
        self.standalone = standalone

    def held(self) -> dict[str, int]:
        io = self.io
        counts = {"sessions": len(io.engine.sessions)}
        if self.standalone is not None:
            counts["connections"] = len(self.standalone.connections)
        for nsp in io.namespaces.values():
            counts[f"sockets of {nsp.name}"] = len(nsp.sockets)
            counts[f"rooms of {nsp.name}"] = len(nsp.adapter.rooms)
            counts[f"sids of {nsp.name}"] = len(nsp.adapter.sids)
        return {name: n for name, n in counts.items() if n}


def make_server() -> Server:
    io = Server(
        ping_interval=PING,
        ping_timeout=PING,
        upgrade_timeout=PING,
        connect_timeout=2.0,
    )

    def on_connection(sock: Socket) -> None:
        sock.join(["lobby", f"room-{len(sock.id) % 7}"])
        sock.emit("hello", callback=lambda *args: None)  # an ack pending at every drop

    async def slow(sock: Socket, *args: Any) -> Any:
        await asyncio.sleep(0.01)
        return args

    io.on("connection", on_connection)
    io.on_event("echo", lambda sock, *args: args)
    io.on_event("slow", slow)
    return io


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    io = make_server()
    standalone = await io.start("127.0.0.1", 0)
    try:
        yield Target(io, standalone.port, standalone)
    finally:
        await io.close()


@pytest.fixture
async def asgi_target(uvicorn_server: Any) -> AsyncIterator[Target]:
    io = make_server()
    port = await uvicorn_server(io.asgi_app())
    try:
        yield Target(io, port, None)
    finally:
        await io.close()


# ---------------------------------------------------------------------------------- clients
async def _recv_until(ws: WsConnection, prefix: str, *, pong: bool = True) -> str:
    """The next text message starting with prefix (pings answered, others skipped)."""
    while True:
        message = await ws.recv()
        if message == "2" and pong:
            ws.send_text("3")
        if isinstance(message, str) and message.startswith(prefix):
            return message


async def _join(ws: WsConnection) -> None:
    await _recv_until(ws, "0{")
    ws.send_text("40")
    await _recv_until(ws, "40{")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Drop the TCP connection with a RST (SO_LINGER 0), not a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _answer_close(ws: WsConnection) -> None:
    """Wait for the server's close frame, answer it, wait for the end of TCP."""
    await ws.expect_close(timeout=30)  # generous: 200 cycles at once on a loaded machine
    ws.send_frame(8, b"")
    await ws.wait_eof(timeout=30)
    ws.abort()


async def clean_close(port: int, n: int) -> None:
    ws = await WsConnection.open(port, WS)
    try:
        await _join(ws)
        ws.send_text(f'42{n}["echo",{n}]')
        await _recv_until(ws, f"43{n}[")
        if n % 2:
            ws.send_text('42["slow"]')  # a handler still running when the client leaves
        await ws.close()
    finally:
        ws.abort()


async def tcp_reset(port: int, n: int) -> None:
    ws = await WsConnection.open(port, WS)
    if n % 3:
        await _join(ws)
        if n % 2:
            ws.send_text('42["slow"]')
    _reset(ws.writer)


async def ping_timeout(port: int, n: int) -> None:
    ws = await WsConnection.open(port, WS)
    try:
        await _join(ws)
        await _answer_close(ws)  # never answers a ping: closed after the heartbeat
    finally:
        ws.abort()


class Gone(Exception):
    """The server dropped the session before the cycle got where it wanted (a slow
    machine and short heartbeats): the cycle is cut short, which is fine a few times."""


async def _post_connect(conn: HttpConnection, sid: str) -> None:
    if (await conn.request("POST", poll_url(sid, SIO), body="40")).body != b"ok":
        raise Gone


async def polling_abandoned(port: int, n: int) -> None:
    conn = await HttpConnection.open(port)
    try:
        sid = (await eio_open(conn, SIO))["sid"]
        await _post_connect(conn, sid)
        if not (await conn.request("GET", poll_url(sid, SIO))).text.startswith("40{"):
            raise Gone
        if n % 2:
            conn.send_request("GET", poll_url(sid, SIO))  # left pending: the GET goes away
            await asyncio.sleep(0)
            _reset(conn.writer)
    finally:
        await conn.close()


async def upgrade_abandoned(port: int, n: int) -> None:
    conn = await HttpConnection.open(port)
    ws = None
    try:
        sid = (await eio_open(conn, SIO))["sid"]
        await _post_connect(conn, sid)
        ws = await WsConnection.open(port, ws_url(sid, SIO))
        ws.send_text("2probe")
        await _recv_until(ws, "3probe", pong=False)
        if n % 2:
            ws.abort()  # gone after the probe
        else:
            await _answer_close(ws)  # never sends "5": closed at the upgrade timeout
    finally:
        if ws is not None:
            ws.abort()
        await conn.close()


KINDS: dict[str, Cycle] = {
    "clean close": clean_close,
    "tcp reset": tcp_reset,
    "ping timeout": ping_timeout,
    "polling abandoned": polling_abandoned,
    "upgrade abandoned": upgrade_abandoned,
}


# on a loaded machine a session can die of its 1 s heartbeat before its upgrade request
# arrives (WsRejected: unknown sid): a drop as well, which must leave nothing behind
CUT_SHORT = (Gone, ConnectionClosed, EOFError, ConnectionError, WsRejected)


async def run_cycles(
    port: int, cycle: Cycle, count: int, start: int = 0, window: int = WINDOW
) -> None:
    """``count`` cycles, ``window`` of them in flight at once. Some may be cut short by
    the server's short heartbeats (more on a loaded machine); at least half must go as
    planned."""
    pending: set[asyncio.Task[None]] = set()
    results: list[BaseException | None] = []
    for n in range(start, start + count):
        if len(pending) >= window:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            results.extend(task.exception() for task in done)
        pending.add(asyncio.ensure_future(cycle(port, n)))
    for result in await asyncio.gather(*pending, return_exceptions=True):
        results.append(result if isinstance(result, BaseException) else None)
    for error in results:
        if error is not None and not isinstance(error, CUT_SHORT):
            raise error
    cut_short = sum(error is not None for error in results)
    assert cut_short <= count // 2, f"{cut_short} of {count} cycles cut short"


# ---------------------------------------------------------------------------------- checks
def _timers() -> list[asyncio.TimerHandle]:
    loop = asyncio.get_running_loop()
    return [h for h in getattr(loop, "_scheduled", ()) if not h.cancelled()]


def _owner(handle: asyncio.TimerHandle) -> Any:
    """The object whose method a timer calls, if any."""
    return getattr(getattr(handle, "_callback", None), "__self__", None)


def _server_objects() -> Counter[str]:
    gc.collect()
    return Counter(
        type(obj).__name__ for obj in gc.get_objects() if isinstance(obj, SERVER_CLASSES)
    )


async def _drained(target: Target, tasks_before: set[asyncio.Task[Any]]) -> None:
    """Wait until the server let go of every client, then check it holds nothing."""
    await until(lambda: not target.held(), timeout=30)
    await until(lambda: not (asyncio.all_tasks() - tasks_before), timeout=15)
    await asyncio.sleep(0)
    assert target.held() == {}
    leftover = [h for h in _timers() if isinstance(_owner(h), SERVER_CLASSES)]
    assert leftover == []
    assert _server_objects() == Counter()


@pytest.mark.parametrize("kind", list(KINDS))
async def test_nothing_is_left_behind_uvicorn(
    asgi_target: Target, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The same through the ASGI front door, fewer times: uvicorn is slower, and what is
    checked here is aiosocketio's side (the ASGI server's own timers are its business)."""
    caplog.set_level(logging.WARNING, logger="aiosocketio")
    tasks_before = asyncio.all_tasks()
    await run_cycles(asgi_target.port, KINDS[kind], max(CYCLES // 10, 50), window=50)
    await _drained(asgi_target, tasks_before)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("kind", list(KINDS))
async def test_nothing_is_left_after_many_drops(
    target: Target, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aiosocketio")
    tasks_before = asyncio.all_tasks()
    timers_before = len(_timers())
    await run_cycles(target.port, KINDS[kind], CYCLES)
    await _drained(target, tasks_before)
    assert len(_timers()) <= timers_before
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_memory_stops_growing(target: Target) -> None:
    """Rounds of every kind of cycle: after a first round (caches, interned strings, free
    lists), another round adds no memory and no object to what the process holds."""
    per_round = max(CYCLES // 20, 50)
    tasks_before = asyncio.all_tasks()

    async def one_round(start: int) -> tuple[int, int, Counter[str]]:
        for cycle in KINDS.values():
            # fewer at once: tracemalloc slows everything, heartbeats are short
            await run_cycles(target.port, cycle, per_round, start, window=40)
        await _drained(target, tasks_before)
        gc.collect()
        counts = Counter(type(obj).__name__ for obj in gc.get_objects())
        # what the package's own lines allocated and still hold, and the process as a whole
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, SRC)])
        own = sum(stat.size for stat in snapshot.statistics("filename"))
        return own, tracemalloc.get_traced_memory()[0], counts

    tracemalloc.start()
    try:
        await one_round(0)
        own_first, first, counts_first = await one_round(per_round)
        own_second, second, counts_second = await one_round(2 * per_round)
    finally:
        tracemalloc.stop()
    # a leak of one small object per cycle would be 5 * per_round objects at least
    grown = {
        name: counts_second[name] - counts_first[name]
        for name in counts_second
        if counts_second[name] - counts_first[name] >= per_round // 2
    }
    assert grown == {}
    # tables keep the size of their busiest moment (a dict never shrinks): some slack
    assert own_second - own_first < 32 * 1024, (own_first, own_second)
    # everything else (asyncio, the test's clients...) with some noise: under 100 bytes a cycle
    assert second - first < 100 * 5 * per_round, (first, second)
