"""Forwarding between two workers of one run directory, in one process.

Worker B owns the sessions; the client talks to worker A's front door (standalone or uvicorn),
which passes the requests on to B over B's internal socket and relays the answers.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aiosocketio.engine.http import CorsPolicy, Headers, Request
from aiosocketio.transport import StandaloneServer
from aiosocketio.workers.slots import slot_code
from aiosocketio.workers.worker import Worker
from aiosocketio.ws.frames import BINARY, CLOSE, TEXT, parse_close
from helpers import (
    ConnectionClosed,
    HttpConnection,
    WsConnection,
    WsRejected,
    eio_open,
    http_request,
    poll_url,
    ws_url,
)
from servers import EchoEngine

SEP = "\x1e"


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@dataclass
class Pair:
    """Worker A (the front the client talks to) and worker B (the owner of the sessions)."""

    a: EchoEngine
    b: EchoEngine
    worker_a: Worker
    worker_b: Worker
    port_a: int
    port_b: int

    async def open_on_b(self) -> str:
        async with await HttpConnection.open(self.port_b) as conn:
            sid = str((await eio_open(conn))["sid"])
        assert sid.startswith(slot_code(self.worker_b.slot.number))  # type: ignore[union-attr]
        return sid

    @property
    def forwarder(self) -> Any:
        return self.worker_a.forwarder


def _add_owner_header(headers: Headers, request: Request) -> None:
    headers.append(("X-Owner", "B"))
    headers.append(("Set-Cookie", "owner=B; Path=/"))


@pytest.fixture
async def pair(
    tmp_path: Path, serve: Callable[[EchoEngine], Awaitable[int]]
) -> AsyncIterator[Callable[..., Awaitable[Pair]]]:
    """``await pair(a_options, b_options)``: A behind each front door in turn, B standalone."""
    workers: list[Worker] = []
    servers: list[StandaloneServer] = []

    async def make(a_options: dict[str, Any] | None = None, **b_options: Any) -> Pair:
        a = EchoEngine(**(a_options or {}))
        b = EchoEngine(**b_options)
        b.engine.headers_hooks.append(_add_owner_header)
        worker_a, worker_b = Worker(tmp_path / "run"), Worker(tmp_path / "run")
        workers.extend((worker_a, worker_b))
        await worker_a.start(a.engine)
        await worker_b.start(b.engine)
        front_b = StandaloneServer(b.engine)
        await front_b.start("127.0.0.1", 0)
        servers.append(front_b)
        return Pair(a, b, worker_a, worker_b, await serve(a), front_b.port)

    yield make
    for server in servers:
        await server.close(timeout=1.0)
    for worker in workers:
        await worker.close()


async def test_a_held_poll_is_answered_by_the_owner(pair: Callable[..., Awaitable[Pair]]) -> None:
    p = await pair()
    sid = await p.open_on_b()
    async with await HttpConnection.open(p.port_a) as conn:
        poll = asyncio.ensure_future(conn.request("GET", poll_url(sid), timeout=5))
        await until(lambda: p.b.sockets[sid]._poll is not None)  # held by the owner
        assert not poll.done()
        answer = await http_request(p.port_b, "POST", poll_url(sid), body="4hello")
        assert (answer.status, answer.text) == (200, "ok")
        response = await poll
    assert response.status == 200
    assert response.packets == ["4hello"]
    assert response.headers["x-owner"] == "B"
    assert p.forwarder.forwarded == 1


async def test_a_post_body_is_relayed(pair: Callable[..., Awaitable[Pair]]) -> None:
    p = await pair()
    sid = await p.open_on_b()
    body = SEP.join(["4one", "4" + "x" * 50_000, "bAQID"])
    response = await http_request(p.port_a, "POST", poll_url(sid), body=body)
    assert (response.status, response.text) == (200, "ok")
    assert p.b.messages == ["one", "x" * 50_000, b"\x01\x02\x03"]
    async with await HttpConnection.open(p.port_b) as conn:
        echoed = await conn.request("GET", poll_url(sid))
    assert echoed.packets == ["4one", "4" + "x" * 50_000, "bAQID"]


async def test_the_answer_is_relayed_exactly(pair: Callable[..., Awaitable[Pair]]) -> None:
    cors = {"cors": CorsPolicy(["https://site.example"], credentials=True)}
    p = await pair(cors, **cors, http_compression=10)
    sid = await p.open_on_b()
    await http_request(p.port_b, "POST", poll_url(sid), body="4" + "compress me " * 20)
    headers = {"Origin": "https://site.example", "Accept-Encoding": "gzip"}
    response = await http_request(p.port_a, "GET", poll_url(sid), headers=headers)
    assert response.status == 200
    names = [name.lower() for name, _ in response.raw_headers]
    assert response.headers["access-control-allow-origin"] == "https://site.example"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["x-owner"] == "B"
    assert response.headers["set-cookie"] == "owner=B; Path=/"
    assert names.count("content-length") == 1
    assert int(response.headers["content-length"]) == len(response.body)


async def test_413_from_the_owner_is_relayed(pair: Callable[..., Awaitable[Pair]]) -> None:
    p = await pair({"max_http_buffer_size": 1000}, max_http_buffer_size=100)
    sid = await p.open_on_b()
    async with await HttpConnection.open(p.port_a) as conn:
        response = await conn.request("POST", poll_url(sid), body="4" + "y" * 500)
        assert response.status == 413
        # the owner closed that connection; the next request takes a new one
        response = await conn.request("POST", poll_url(sid), body="4small")
        assert (response.status, response.text) == (200, "ok")
    assert p.b.messages == ["small"]


async def test_connections_to_the_owner_are_kept_and_bounded(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    p = await pair()
    sids = [await p.open_on_b() for _ in range(40)]
    other = await p.open_on_b()
    forwarder = p.forwarder
    owner = p.worker_b.slot.number  # type: ignore[union-attr]
    for _ in range(3):
        response = await http_request(p.port_a, "POST", poll_url(other), body="4a")
        assert response.status == 200
    assert forwarder.idle_connections(owner) == 1  # one connection, reused
    conns = [await HttpConnection.open(p.port_a) for _ in sids]
    try:
        polls = [
            asyncio.ensure_future(c.request("GET", poll_url(sid), timeout=5))
            for c, sid in zip(conns, sids, strict=True)
        ]
        await until(lambda: all(p.b.sockets[sid]._poll is not None for sid in sids))
        for sid in sids:
            await http_request(p.port_b, "POST", poll_url(sid), body="4b")
        for poll in polls:
            assert (await poll).packets[-1] == "4b"
    finally:
        for conn in conns:
            await conn.close()
    assert forwarder.idle_connections(owner) == forwarder.max_idle == 32


async def test_an_owner_that_is_not_running_gives_400_at_once(
    pair: Callable[..., Awaitable[Pair]], tmp_path: Path
) -> None:
    p = await pair()
    run = tmp_path / "run"
    # slot 7: never claimed (no socket file); slot 8: a dead process's socket file
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(run / "w8.http"))
    stale.close()
    for slot in (7, 8):
        sid = slot_code(slot) + "x" * 18
        started = time.monotonic()
        response = await http_request(p.port_a, "GET", poll_url(sid))
        assert response.status == 400
        assert response.json() == {"code": 1, "message": "Session ID unknown"}
        with pytest.raises(WsRejected) as refused:
            await WsConnection.open(p.port_a, ws_url(sid))
        assert refused.value.response.status == 400
        assert refused.value.response.json()["code"] == 1
        assert time.monotonic() - started < 1.0
    assert p.forwarder.unreachable == 4


async def test_an_owner_lost_during_a_poll_gives_400(pair: Callable[..., Awaitable[Pair]]) -> None:
    p = await pair()
    sid = await p.open_on_b()
    async with await HttpConnection.open(p.port_a) as conn:
        poll = asyncio.ensure_future(conn.request("GET", poll_url(sid), timeout=5))
        await until(lambda: p.b.sockets[sid]._poll is not None)
        endpoint = p.worker_b.endpoint
        assert endpoint is not None
        for connection in list(endpoint.connections):
            connection.abort()
        response = await poll
    assert response.status == 400
    assert response.json()["code"] == 1


async def test_a_client_gone_during_a_poll_aborts_it_at_the_owner(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    p = await pair()
    sid = await p.open_on_b()
    conn = await HttpConnection.open(p.port_a)
    conn.send_request("GET", poll_url(sid))
    await until(lambda: p.b.sockets[sid]._poll is not None)
    conn.abort()
    assert await p.b.wait_closed(sid, timeout=5) == "transport error"


async def test_unknown_sids_of_this_worker_are_not_forwarded(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    p = await pair()
    own = slot_code(p.worker_a.slot.number) + "z" * 18  # type: ignore[union-attr]
    response = await http_request(p.port_a, "GET", poll_url(own))
    assert response.status == 400
    assert p.forwarder.forwarded == 0


async def test_a_forwarded_request_is_never_forwarded_again(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    p = await pair()
    sid = await p.open_on_b()
    # straight to A's internal socket, as B would forward it: A does not have the session
    # and must answer itself instead of passing it back to B
    reader, writer = await asyncio.open_unix_connection(p.worker_a.slot.path("http"))  # type: ignore[union-attr]
    try:
        conn = HttpConnection(reader, writer)
        response = await conn.request("GET", poll_url(sid))
    finally:
        writer.close()
    assert response.status == 400
    assert p.forwarder.forwarded == 0
    assert p.worker_b.forwarder.forwarded == 0  # type: ignore[union-attr]


async def _upgrade(port: int, sid: str) -> WsConnection:
    ws = await WsConnection.open(port, ws_url(sid))
    await ws.upgrade()
    return ws


async def _upgraded_through_a(p: Pair) -> tuple[str, WsConnection]:
    """A session of B, upgraded to WebSocket through A."""
    sid = await p.open_on_b()
    ws = await _upgrade(p.port_a, sid)
    await until(lambda: p.b.sockets[sid].transport == "websocket")
    return sid, ws


async def test_an_upgrade_is_relayed_both_ways(pair: Callable[..., Awaitable[Pair]]) -> None:
    p = await pair()
    sid = await p.open_on_b()
    ws = await _upgrade(p.port_a, sid)
    try:
        assert ws.response is not None and ws.response.headers["x-owner"] == "B"
        await until(lambda: p.b.sockets[sid].transport == "websocket")
        ws.send_text("4text é")
        assert await ws.recv() == "4text é"
        ws.send_bytes(b"\x00\xff" * 40_000)
        assert await ws.recv() == b"\x00\xff" * 40_000
        assert p.b.messages == ["text é", b"\x00\xff" * 40_000]
        assert len(p.forwarder.relays) == 1
        assert not p.forwarder._links  # the upgraded connection is the relay's alone
    finally:
        ws.abort()
    await until(lambda: not p.forwarder.relays)


async def test_close_codes_are_relayed(pair: Callable[..., Awaitable[Pair]]) -> None:
    p = await pair()
    # the owner closes: the client gets its code and reason
    sid, ws = await _upgraded_through_a(p)
    p.b.sockets[sid].ws.close(4321, "owner says bye")
    opcode, payload = await ws.recv_frame()
    while opcode != CLOSE:
        opcode, payload = await ws.recv_frame()
    assert parse_close(payload) == (4321, "owner says bye")  # type: ignore[arg-type]
    ws.abort()
    # the client closes: the owner gets its code
    sid, ws = await _upgraded_through_a(p)
    owner_side = p.b.sockets[sid].ws
    await ws.close(4001)
    await until(lambda: getattr(owner_side, "close_code", None) == 4001)
    assert await p.b.wait_closed(sid) == "transport close"


async def test_an_owner_that_dies_under_a_websocket_closes_it(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    p = await pair()
    sid, ws = await _upgraded_through_a(p)
    p.b.sockets[sid].ws.abort()  # no closing handshake: as a killed process
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await ws.recv()
    assert closed.value.code == 1011
    ws.abort()


async def test_binary_and_text_frames_keep_their_kind(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    p = await pair()
    sid, ws = await _upgraded_through_a(p)
    try:
        p.b.sockets[sid].send_message(b"\x01")
        p.b.sockets[sid].send_message("\x01")
        assert await ws.recv_frame() == (BINARY, b"\x01")
        assert await ws.recv_frame() == (TEXT, "4\x01")
    finally:
        ws.abort()


class _Answer:
    """A responder that keeps the answer."""

    def __init__(self) -> None:
        self.future: asyncio.Future[tuple[int, Headers, bytes]] = (
            asyncio.get_running_loop().create_future()
        )

    def respond(self, status: int, headers: Headers, body: bytes) -> None:
        self.future.set_result((status, headers, body))


async def test_a_kept_connection_closed_by_the_owner_is_replaced(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    p = await pair()
    sid = await p.open_on_b()
    forwarder = p.forwarder
    owner = p.worker_b.slot.number  # type: ignore[union-attr]
    assert (await http_request(p.port_a, "POST", poll_url(sid), body="4one")).status == 200
    assert forwarder.idle_connections(owner) == 1
    # the owner closes its side (idle timeout, restart...) just as the connection is reused:
    # this side has not heard of it yet when it sends the next request
    endpoint = p.worker_b.endpoint
    assert endpoint is not None
    for connection in list(endpoint.connections):
        connection.shutdown()
    answer = _Answer()
    request = Request("POST", "/engine.io/", poll_url(sid).split("?")[1], {}, body=b"4two")
    assert forwarder.route_request(request, answer)
    status, _, body = await asyncio.wait_for(answer.future, 5)
    assert (status, body) == (200, b"ok")
    assert p.b.messages == ["one", "two"]


async def test_a_worker_that_stops_tells_its_relayed_clients_to_go(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    p = await pair()
    sid, ws = await _upgraded_through_a(p)
    await p.worker_a.close()
    assert await ws.expect_close() == (1001, "")
    ws.abort()
    assert await p.b.wait_closed(sid) == "transport close"  # the owner's session ends too


@pytest.mark.parametrize(
    "answer",
    [
        b"not HTTP at all\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    ],
    ids=["garbage", "unasked-upgrade"],
)
async def test_a_wrong_answer_from_an_owner_gives_400(
    pair: Callable[..., Awaitable[Pair]], tmp_path: Path, answer: bytes
) -> None:
    p = await pair()
    hung_up = asyncio.Event()

    async def wrong_owner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await reader.read()  # until the forwarder hangs up
        hung_up.set()
        writer.close()

    owner = await asyncio.start_unix_server(wrong_owner, str(tmp_path / "run" / "w9.http"))
    try:
        sid = slot_code(9) + "w" * 18
        response = await http_request(p.port_a, "GET", poll_url(sid))
        assert response.status == 400
        assert response.json()["code"] == 1
        assert p.forwarder.idle_connections(9) == 0
        await asyncio.wait_for(hung_up.wait(), 5)
    finally:
        owner.close()
        await owner.wait_closed()
