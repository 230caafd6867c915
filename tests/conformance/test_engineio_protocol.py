"""Engine.IO v4 protocol conformance, against the echo server of
``examples/protocol_suite/engineio_server.py`` (ping interval 300 ms, ping timeout 200 ms,
max payload 1 MB): every message a client sends comes back to it.

Each test checks one behaviour that the official Engine.IO protocol test suite checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from aiosocketio.engine.server import EngineServer
from aiosocketio.transport import StandaloneServer
from conformance import (
    PING_INTERVAL,
    PING_TIMEOUT,
    WAIT,
    check_open_packet,
    expect_closed,
    load_example,
    polling_session,
    websocket_session,
)
from helpers import HttpConnection, WsConnection, WsRejected, http_request, open_packet

PATH = "/engine.io/"


@dataclass
class Running:
    port: int
    engine: EngineServer

    def poll_url(self, sid: str) -> str:
        return f"{PATH}?EIO=4&transport=polling&sid={sid}"

    async def get(self, target: str) -> tuple[int, bytes]:
        response = await http_request(self.port, "GET", target)
        return response.status, response.body

    async def post(self, target: str, body: str | bytes) -> tuple[int, bytes]:
        response = await http_request(
            self.port,
            "POST",
            target,
            headers={"Content-Type": "text/plain;charset=UTF-8"},
            body=body,
        )
        return response.status, response.body


@pytest.fixture
async def server() -> AsyncIterator[Running]:
    engine = load_example("engineio_server").make_engine()
    standalone = StandaloneServer([engine])
    await standalone.start("127.0.0.1", 0)
    try:
        yield Running(standalone.port, engine)
    finally:
        await standalone.close(timeout=1.0)


async def upgrade(server: Running, sid: str) -> WsConnection:
    """Probe and complete the upgrade of a long-polling session to WebSocket."""
    ws = await websocket_session(server.port, PATH, sid)
    ws.send_text("2probe")
    assert await ws.recv() == "3probe"
    ws.send_text("5")
    return ws


# ------------------------------------------------------------------------------ handshake
async def test_polling_handshake_opens_a_session(server: Running) -> None:
    status, body = await server.get(f"{PATH}?EIO=4&transport=polling")
    assert status == 200
    check_open_packet(open_packet(body), upgrades=["websocket"])


async def test_polling_handshake_needs_protocol_version_4(server: Running) -> None:
    for query in ("transport=polling", "EIO=abc&transport=polling", "EIO=3&transport=polling"):
        response = await http_request(server.port, "GET", f"{PATH}?{query}")
        assert response.status == 400, query
        assert response.json() == {"code": 5, "message": "Unsupported protocol version"}


async def test_polling_handshake_needs_a_known_transport(server: Running) -> None:
    for query in ("EIO=4", "EIO=4&transport=abc"):
        response = await http_request(server.port, "GET", f"{PATH}?{query}")
        assert response.status == 400, query
        assert response.json() == {"code": 0, "message": "Transport unknown"}


async def test_polling_handshake_must_be_a_get(server: Running) -> None:
    for method in ("POST", "PUT"):
        response = await http_request(server.port, method, f"{PATH}?EIO=4&transport=polling")
        assert response.status == 400, method
        assert response.json() == {"code": 2, "message": "Bad handshake method"}
    assert server.engine.clients_count == 0


async def test_websocket_handshake_opens_a_session(server: Running) -> None:
    ws = await WsConnection.open(server.port, f"{PATH}?EIO=4&transport=websocket")
    async with ws:
        check_open_packet(open_packet(await ws.recv()), upgrades=[])


async def test_websocket_handshake_needs_protocol_version_4(server: Running) -> None:
    for query in ("transport=websocket", "EIO=abc&transport=websocket"):
        with pytest.raises(WsRejected) as refused:
            await WsConnection.open(server.port, f"{PATH}?{query}")
        assert refused.value.response.status == 400, query
    assert server.engine.clients_count == 0


async def test_websocket_handshake_needs_a_known_transport(server: Running) -> None:
    for query in ("EIO=4", "EIO=4&transport=abc"):
        with pytest.raises(WsRejected) as refused:
            await WsConnection.open(server.port, f"{PATH}?{query}")
        assert refused.value.response.status == 400, query
    assert server.engine.clients_count == 0


# ------------------------------------------------------------------------------ messages
async def test_polling_round_trip_of_one_text_packet(server: Running) -> None:
    sid = await polling_session(server.port, PATH)
    assert await server.post(server.poll_url(sid), "4hello") == (200, b"ok")
    assert await server.get(server.poll_url(sid)) == (200, b"4hello")


async def test_polling_round_trip_of_several_text_packets(server: Running) -> None:
    sid = await polling_session(server.port, PATH)
    payload = "\x1e".join(["4test1", "4test2", "4test3"])
    assert await server.post(server.poll_url(sid), payload) == (200, b"ok")
    assert await server.get(server.poll_url(sid)) == (200, payload.encode())


async def test_polling_round_trip_of_text_and_base64_binary(server: Running) -> None:
    sid = await polling_session(server.port, PATH)
    payload = "4hello\x1ebAQIDBA=="  # "b" + base64 of bytes 1, 2, 3, 4
    assert await server.post(server.poll_url(sid), payload) == (200, b"ok")
    assert await server.get(server.poll_url(sid)) == (200, payload.encode())


async def test_polling_invalid_payload_closes_the_session(server: Running) -> None:
    sid = await polling_session(server.port, PATH)
    status, _ = await server.post(server.poll_url(sid), "abc")
    assert status == 400
    status, _ = await server.get(server.poll_url(sid))
    assert status == 400


async def test_polling_overlapping_gets_close_the_session(server: Running) -> None:
    sid = await polling_session(server.port, PATH)
    async with await HttpConnection.open(server.port) as first:
        first.send_request("GET", server.poll_url(sid))
        await asyncio.sleep(0.05)  # the first GET is now pending
        status, _ = await server.get(server.poll_url(sid) + "&t=burst")
        assert status in (400, 500)  # Node answers 500; the suite accepts both
        response = await first.read_response()
        assert (response.status, response.body) == (200, b"1")  # a close packet
    status, _ = await server.get(server.poll_url(sid))
    assert status == 400


async def test_polling_cancelled_get_closes_the_session(server: Running) -> None:
    sid = await polling_session(server.port, PATH)
    conn = await HttpConnection.open(server.port)
    conn.send_request("GET", server.poll_url(sid))
    await asyncio.sleep(0.05)  # the GET is now pending
    conn.abort()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while sid in server.engine.sessions and loop.time() < deadline:
        await asyncio.sleep(0.005)
    assert sid not in server.engine.sessions
    status, _ = await server.get(server.poll_url(sid))
    assert status == 400


async def test_websocket_round_trip_of_a_text_packet(server: Running) -> None:
    async with await websocket_session(server.port, PATH) as ws:
        ws.send_text("4hello")
        assert await ws.recv() == "4hello"


async def test_websocket_round_trip_of_a_binary_packet(server: Running) -> None:
    async with await websocket_session(server.port, PATH) as ws:
        ws.send_bytes(bytes([1, 2, 3, 4]))
        assert await ws.recv() == bytes([1, 2, 3, 4])


async def test_websocket_invalid_packet_closes_the_session(server: Running) -> None:
    async with await websocket_session(server.port, PATH) as ws:
        ws.send_text("abc")
        await expect_closed(ws)
    assert server.engine.clients_count == 0


# ------------------------------------------------------------------------------ heartbeat
async def test_polling_heartbeat(server: Running) -> None:
    sid = await polling_session(server.port, PATH)
    loop = asyncio.get_running_loop()
    for _ in range(3):
        start = loop.time()
        assert await server.get(server.poll_url(sid)) == (200, b"2")
        # the ping comes after the ping interval, not before
        assert loop.time() - start > PING_INTERVAL / 2
        assert await server.post(server.poll_url(sid), "3") == (200, b"ok")


async def test_polling_ping_timeout_closes_the_session(server: Running) -> None:
    sid = await polling_session(server.port, PATH)
    await asyncio.sleep(PING_INTERVAL + PING_TIMEOUT + 0.1)
    status, _ = await server.get(server.poll_url(sid))
    assert status == 400


async def test_websocket_heartbeat(server: Running) -> None:
    async with await websocket_session(server.port, PATH) as ws:
        for _ in range(3):
            assert await ws.recv(WAIT) == "2"
            ws.send_text("3")


async def test_websocket_ping_timeout_closes_the_session(server: Running) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with await websocket_session(server.port, PATH) as ws:
        # the ping goes unanswered
        await expect_closed(ws, timeout=PING_INTERVAL + PING_TIMEOUT + WAIT)
    assert loop.time() - start >= PING_INTERVAL + PING_TIMEOUT - 0.05


# ------------------------------------------------------------------------------ close
async def test_polling_close_packet_ends_the_session(server: Running) -> None:
    sid = await polling_session(server.port, PATH)
    async with await HttpConnection.open(server.port) as pending:
        pending.send_request("GET", server.poll_url(sid))
        await asyncio.sleep(0.05)  # the GET is now pending
        assert await server.post(server.poll_url(sid), "1") == (200, b"ok")
        response = await pending.read_response()
        assert (response.status, response.body) == (200, b"6")  # released with a noop
    status, _ = await server.get(server.poll_url(sid))
    assert status == 400


async def test_websocket_close_packet_ends_the_session(server: Running) -> None:
    async with await websocket_session(server.port, PATH) as ws:
        ws.send_text("1")
        await expect_closed(ws)
    assert server.engine.clients_count == 0


# ------------------------------------------------------------------------------ upgrade
async def test_upgrade_from_polling_to_websocket(server: Running) -> None:
    sid = await polling_session(server.port, PATH)
    async with await websocket_session(server.port, PATH, sid) as ws:
        ws.send_text("2probe")
        assert await ws.recv() == "3probe"
        # once probed, a GET is answered at once with a noop, so the client can pause polling
        assert await server.get(server.poll_url(sid)) == (200, b"6")
        ws.send_text("5")
        ws.send_text("4hello")
        assert await ws.recv() == "4hello"


async def test_upgraded_session_refuses_long_polling(server: Running) -> None:
    sid = await polling_session(server.port, PATH)
    async with await upgrade(server, sid) as ws:
        status, _ = await server.get(server.poll_url(sid))
        assert status == 400
        ws.send_text("4hello")
        assert await ws.recv() == "4hello"


async def test_upgraded_session_refuses_a_second_websocket(server: Running) -> None:
    sid = await polling_session(server.port, PATH)
    async with await upgrade(server, sid) as ws:
        # as Node: the WebSocket handshake succeeds, then the server closes it at once
        async with await websocket_session(server.port, PATH, sid) as second:
            await expect_closed(second)
        ws.send_text("4hello")
        assert await ws.recv() == "4hello"
