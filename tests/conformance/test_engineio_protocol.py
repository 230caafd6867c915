"""Engine.IO v4 protocol conformance: each test checks one behaviour that the official Engine.IO
protocol test suite checks (the official Socket.IO suite checks the same Engine.IO layer again).

The handshake, heartbeat, close and upgrade tests run against both reference configurations of
``examples/protocol_suite/`` (ping interval 300 ms, ping timeout 200 ms, max payload 1 MB):
the Engine.IO echo server (every message a client sends comes back to it) and the Socket.IO
server. The message tests need the echo server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from aiosocketio.engine.server import EngineServer
from conformance import (
    PING_INTERVAL,
    PING_TIMEOUT,
    WAIT,
    Reference,
    check_open_packet,
    engineio_reference,
    expect_closed,
    next_message,
    polling_session,
    socketio_reference,
    websocket_session,
)
from helpers import HttpConnection, WsConnection, WsRejected, http_request, open_packet
from sioclient import until


@dataclass
class Running(Reference):
    engine: EngineServer
    exchange: Callable[[WsConnection], Awaitable[None]]
    """Checks that the layer above Engine.IO works over a WebSocket of this server."""

    async def pending_get(self, sid: str) -> HttpConnection:
        """A long-polling GET of the session, sent and waiting at the server."""
        conn = await HttpConnection.open(self.port)
        conn.send_request("GET", self.poll_url(sid))
        await until(lambda: self.engine.sessions[sid].writable, WAIT)
        return conn


async def echo_exchange(ws: WsConnection) -> None:
    ws.send_text("4hello")
    assert await next_message(ws) == "4hello"


async def connect_exchange(ws: WsConnection) -> None:
    ws.send_text("40")
    reply = await next_message(ws)
    assert isinstance(reply, str) and reply.startswith('40{"sid":'), reply


@asynccontextmanager
async def reference(name: str) -> AsyncIterator[Running]:
    """The reference server ``name`` ("engine.io" or "socket.io"), running."""
    if name == "engine.io":
        async with engineio_reference() as (port, engine):
            yield Running(port, "/engine.io/", engine, echo_exchange)
    else:
        async with socketio_reference() as (port, io):
            yield Running(port, "/socket.io/", io.engine, connect_exchange)


@pytest.fixture
async def server() -> AsyncIterator[Running]:
    """The Engine.IO echo server."""
    async with reference("engine.io") as running:
        yield running


@pytest.fixture(params=["engine.io", "socket.io"])
async def either(request: pytest.FixtureRequest) -> AsyncIterator[Running]:
    """Each reference server in turn: the Engine.IO layer behaves the same under both."""
    async with reference(request.param) as running:
        yield running


async def upgrade(server: Running, sid: str) -> WsConnection:
    """Probe and complete the upgrade of a long-polling session to WebSocket."""
    ws = await websocket_session(server.port, server.path, sid)
    await ws.upgrade()
    return ws


# ------------------------------------------------------------------------------ handshake
async def test_polling_handshake_opens_a_session(either: Running) -> None:
    status, body = await either.get(f"{either.path}?EIO=4&transport=polling")
    assert status == 200
    check_open_packet(open_packet(body), upgrades=["websocket"])


async def test_polling_handshake_needs_protocol_version_4(either: Running) -> None:
    for query in ("transport=polling", "EIO=abc&transport=polling", "EIO=3&transport=polling"):
        response = await http_request(either.port, "GET", f"{either.path}?{query}")
        assert response.status == 400, query
        assert response.json() == {"code": 5, "message": "Unsupported protocol version"}


async def test_polling_handshake_needs_a_known_transport(either: Running) -> None:
    for query in ("EIO=4", "EIO=4&transport=abc"):
        response = await http_request(either.port, "GET", f"{either.path}?{query}")
        assert response.status == 400, query
        assert response.json() == {"code": 0, "message": "Transport unknown"}


async def test_polling_handshake_must_be_a_get(either: Running) -> None:
    for method in ("POST", "PUT"):
        response = await http_request(either.port, method, f"{either.path}?EIO=4&transport=polling")
        assert response.status == 400, method
        assert response.json() == {"code": 2, "message": "Bad handshake method"}
    await until(lambda: either.engine.clients_count == 0, WAIT)


async def test_websocket_handshake_opens_a_session(either: Running) -> None:
    ws = await WsConnection.open(either.port, f"{either.path}?EIO=4&transport=websocket")
    async with ws:
        check_open_packet(open_packet(await ws.recv()), upgrades=[])


async def test_websocket_handshake_needs_protocol_version_4(either: Running) -> None:
    for query in ("transport=websocket", "EIO=abc&transport=websocket"):
        with pytest.raises(WsRejected) as refused:
            await WsConnection.open(either.port, f"{either.path}?{query}")
        assert refused.value.response.status == 400, query
    await until(lambda: either.engine.clients_count == 0, WAIT)


async def test_websocket_handshake_needs_a_known_transport(either: Running) -> None:
    for query in ("EIO=4", "EIO=4&transport=abc"):
        with pytest.raises(WsRejected) as refused:
            await WsConnection.open(either.port, f"{either.path}?{query}")
        assert refused.value.response.status == 400, query
    await until(lambda: either.engine.clients_count == 0, WAIT)


# ------------------------------------------------------------------------------ heartbeat
async def test_polling_heartbeat(either: Running) -> None:
    sid = await polling_session(either.port, either.path)
    loop = asyncio.get_running_loop()
    for _ in range(3):
        start = loop.time()
        assert await either.get(either.poll_url(sid)) == (200, b"2")
        # the ping comes after the ping interval, not before
        assert loop.time() - start > PING_INTERVAL / 2
        assert await either.post(either.poll_url(sid), "3") == (200, b"ok")


async def test_polling_ping_timeout_closes_the_session(either: Running) -> None:
    sid = await polling_session(either.port, either.path)
    await asyncio.sleep(PING_INTERVAL + PING_TIMEOUT + 0.1)
    status, _ = await either.get(either.poll_url(sid))
    assert status == 400


async def test_websocket_heartbeat(either: Running) -> None:
    async with await websocket_session(either.port, either.path) as ws:
        for _ in range(3):
            assert await ws.recv(WAIT) == "2"
            ws.send_text("3")


async def test_websocket_ping_timeout_closes_the_session(either: Running) -> None:
    """Against the Socket.IO server also the Socket.IO suite's check that a connection without
    a CONNECT packet is closed: the client neither connects to a namespace nor answers pings."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with await websocket_session(either.port, either.path) as ws:
        # the ping goes unanswered
        await expect_closed(ws, timeout=PING_INTERVAL + PING_TIMEOUT + WAIT)
    assert loop.time() - start >= PING_INTERVAL + PING_TIMEOUT - 0.05


# ------------------------------------------------------------------------------ close
async def test_polling_close_packet_ends_the_session(either: Running) -> None:
    sid = await polling_session(either.port, either.path)
    async with await either.pending_get(sid) as pending:
        assert await either.post(either.poll_url(sid), "1") == (200, b"ok")
        response = await pending.read_response()
        assert (response.status, response.body) == (200, b"6")  # released with a noop
    status, _ = await either.get(either.poll_url(sid))
    assert status == 400


async def test_websocket_close_packet_ends_the_session(either: Running) -> None:
    async with await websocket_session(either.port, either.path) as ws:
        ws.send_text("1")
        await expect_closed(ws)
    await until(lambda: either.engine.clients_count == 0, WAIT)


# ------------------------------------------------------------------------------ upgrade
async def test_upgrade_from_polling_to_websocket(either: Running) -> None:
    sid = await polling_session(either.port, either.path)
    async with await websocket_session(either.port, either.path, sid) as ws:
        ws.send_text("2probe")
        assert await ws.recv() == "3probe"
        # once probed, a GET is answered at once with a noop, so the client can pause polling
        assert await either.get(either.poll_url(sid)) == (200, b"6")
        ws.send_text("5")
        await either.exchange(ws)


async def test_upgraded_session_refuses_long_polling(either: Running) -> None:
    sid = await polling_session(either.port, either.path)
    async with await upgrade(either, sid) as ws:
        status, _ = await either.get(either.poll_url(sid))
        assert status == 400
        await either.exchange(ws)


async def test_upgraded_session_refuses_a_second_websocket(either: Running) -> None:
    sid = await polling_session(either.port, either.path)
    async with await upgrade(either, sid) as ws:
        # as Node: the WebSocket handshake succeeds, then the server closes it at once
        async with await websocket_session(either.port, either.path, sid) as second:
            await expect_closed(second)
        await either.exchange(ws)


# ------------------------------------------------------------------------------ messages
async def test_polling_round_trip_of_one_text_packet(server: Running) -> None:
    sid = await polling_session(server.port, server.path)
    assert await server.post(server.poll_url(sid), "4hello") == (200, b"ok")
    assert await server.get(server.poll_url(sid)) == (200, b"4hello")


async def test_polling_round_trip_of_several_text_packets(server: Running) -> None:
    sid = await polling_session(server.port, server.path)
    payload = "\x1e".join(["4test1", "4test2", "4test3"])
    assert await server.post(server.poll_url(sid), payload) == (200, b"ok")
    assert await server.get(server.poll_url(sid)) == (200, payload.encode())


async def test_polling_round_trip_of_text_and_base64_binary(server: Running) -> None:
    sid = await polling_session(server.port, server.path)
    payload = "4hello\x1ebAQIDBA=="  # "b" + base64 of bytes 1, 2, 3, 4
    assert await server.post(server.poll_url(sid), payload) == (200, b"ok")
    assert await server.get(server.poll_url(sid)) == (200, payload.encode())


async def test_polling_invalid_payload_closes_the_session(server: Running) -> None:
    sid = await polling_session(server.port, server.path)
    status, _ = await server.post(server.poll_url(sid), "abc")
    assert status == 400
    status, _ = await server.get(server.poll_url(sid))
    assert status == 400


async def test_polling_overlapping_gets_close_the_session(server: Running) -> None:
    sid = await polling_session(server.port, server.path)
    async with await server.pending_get(sid) as first:
        status, _ = await server.get(server.poll_url(sid) + "&t=burst")
        assert status in (400, 500)  # Node answers 500; the suite accepts both
        response = await first.read_response()
        assert (response.status, response.body) == (200, b"1")  # a close packet
    status, _ = await server.get(server.poll_url(sid))
    assert status == 400


async def test_polling_cancelled_get_closes_the_session(server: Running) -> None:
    sid = await polling_session(server.port, server.path)
    conn = await server.pending_get(sid)
    conn.abort()
    await until(lambda: sid not in server.engine.sessions, WAIT)
    status, _ = await server.get(server.poll_url(sid))
    assert status == 400


async def test_websocket_round_trip_of_a_text_packet(server: Running) -> None:
    async with await websocket_session(server.port, server.path) as ws:
        ws.send_text("4hello")
        assert await next_message(ws) == "4hello"


async def test_websocket_round_trip_of_a_binary_packet(server: Running) -> None:
    async with await websocket_session(server.port, server.path) as ws:
        ws.send_bytes(bytes([1, 2, 3, 4]))
        assert await next_message(ws) == bytes([1, 2, 3, 4])


async def test_websocket_invalid_packet_closes_the_session(server: Running) -> None:
    async with await websocket_session(server.port, server.path) as ws:
        ws.send_text("abc")
        await expect_closed(ws)
    await until(lambda: server.engine.clients_count == 0, WAIT)
