"""Every limit of docs/limits.md at its boundary, and the secure defaults.

Limits already covered elsewhere are only checked here at their exact boundary (one byte
under is served, one byte over is refused); the slow-consumer and handler-flood policies are
in tests/server/test_flow_control.py, bad packets in tests/server/test_bad_input.py.
"""

from __future__ import annotations

import asyncio
import inspect
import io as _io
import json
import logging
import re
import secrets
import time
import tokenize
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import Server
from aiosocketio.engine.http import CorsPolicy, Request
from aiosocketio.engine.server import EngineServer
from aiosocketio.errors import AckTimeout
from aiosocketio.socketio.packets import EVENT, MAX_DEPTH
from aiosocketio.socketio.parser import JSONParser
from aiosocketio.transport.standalone import StandaloneServer
from helpers import (
    EIO,
    HttpConnection,
    WsConnection,
    WsRejected,
    eio_open,
    http_request,
    open_packet,
    poll_url,
    ws_url,
)
from servers import FrontDoor
from sioclient import ConnectRefused, SioServer, settle, until

ROOT = Path(__file__).resolve().parents[1]
SIO = "/socket.io/"
HANDSHAKE = f"{SIO}?EIO=4&transport=polling"
WS_HANDSHAKE = f"{SIO}?EIO=4&transport=websocket"
EVIL = "http://evil.example"
SID = re.compile(r"[A-Za-z0-9_-]{20}")


# ====================================================================== limits already there
async def test_http_body_limit_is_exact(serve: Any, echo: Any) -> None:
    app = echo(max_http_buffer_size=100)
    port = await serve(app)
    body = "4" + "x" * 99
    async with await HttpConnection.open(port) as conn:
        opened = await eio_open(conn)
        assert opened["maxPayload"] == 100  # the client is told
        sid = opened["sid"]
        assert (await conn.request("POST", poll_url(sid), body=body)).body == b"ok"
    async with await HttpConnection.open(port) as conn:
        assert (await conn.request("POST", poll_url(sid), body=body + "y")).status == 413
    # the session survives a body that is too large (as in Node)
    assert sid in app.engine.sessions
    async with await HttpConnection.open(port) as conn:
        assert (await conn.request("GET", poll_url(sid))).text == body


async def test_websocket_message_limit_is_exact_and_counts_bytes(serve: Any, echo: Any) -> None:
    app = echo(max_http_buffer_size=100)
    port = await serve(app)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        fits = "4" + "\u00e9" * 49 + "x"  # 51 characters, 100 bytes of UTF-8
        ws.send_text(fits)
        assert await ws.recv() == fits
        ws.send_bytes(b"\x00" * 100)
        assert await ws.recv() == b"\x00" * 100
        ws.send_text("4" + "\u00e9" * 50)  # 51 characters, 101 bytes
        code, reason = await ws.expect_close()
        assert code == 1009
        if serve.name == "uvicorn":
            assert reason == "message too big"
    assert await app.wait_closed(sid) == "transport error"
    assert app.messages == [fits[1:], b"\x00" * 100]  # not the one over the limit


async def test_header_count_limit_is_exact(standalone: Any, echo: Any) -> None:
    port = await standalone(echo(), max_headers=10)
    target = f"{EIO}?EIO=4&transport=polling"
    nine = [(f"X-H{i}", "v") for i in range(9)]  # and Host: 10 headers
    assert (await http_request(port, "GET", target, headers=nine)).status == 200
    ten = [*nine, ("X-H9", "v")]
    assert (await http_request(port, "GET", target, headers=ten)).status == 431


async def test_attachment_limit_is_configurable() -> None:
    io = Server(parser=JSONParser(max_attachments=2))
    io.on_event("echo", lambda socket, *args: args)
    async with SioServer(io) as srv:
        client, _ = await srv.connected()
        assert await client.emit_with_ack("echo", b"1", b"2") == [b"1", b"2"]
        client.send_packet(EVENT, "/", ["echo", b"1", b"2", b"3"])
        assert await client.wait_closed() in (1000, 1005)
        # the next client is served
        other, _ = await srv.connected()
        assert await other.emit_with_ack("echo", 1) == [1]


async def test_nesting_limit_closes_the_connection_without_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = Server()
    io.on_event("echo", lambda socket, *args: args)
    async with SioServer(io) as srv:
        client, _ = await srv.connected()
        deepest = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)  # in the event's array
        await client.send_raw(f'420["echo",{deepest}]')
        packet = await client.next_packet(types=(3,))
        assert packet.id == 0  # echoed: what the limit lets in can be written back
        await client.send_raw(f'421["echo",[{deepest}]]')
        assert await client.wait_closed() in (1000, 1005)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# ====================================================================== pending acks
async def test_pending_acks_beyond_the_limit_drop_the_oldest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = Server(max_pending_acks=3)
    async with SioServer(io) as srv:
        client, sid = await srv.connected()
        socket = io.sockets.sockets[sid]
        waiting = asyncio.ensure_future(socket.emit_with_ack("e", 0))
        await settle()
        errors: list[Any] = []
        socket.timeout(0.3).emit("e", 1, callback=lambda err, *args: errors.append((err, args)))
        plain: list[Any] = []
        socket.emit("e", 2, callback=lambda *args: plain.append(args))
        answers: list[Any] = []
        # three pending: each new one drops the oldest
        socket.emit("e", 3, callback=lambda *args: answers.append(args))
        with pytest.raises(AckTimeout, match="acknowledgement dropped: over 3 pending"):
            await asyncio.wait_for(waiting, 1)
        socket.emit("e", 4, callback=lambda *args: answers.append(args))
        assert len(errors) == 1 and isinstance(errors[0][0], AckTimeout)
        socket.emit("e", 5, callback=lambda *args: answers.append(args))
        packets = [await client.next_event_packet() for _ in range(6)]
        assert len({p.id for p in packets}) == 6
        for packet in packets:  # the client answers all of them, the dropped ones too
            assert packet.id is not None
            client.ack(packet.id, packet.data[1])
        await until(lambda: len(answers) == 3)
        await asyncio.sleep(0.4)  # past the dropped .timeout(): its timer was cancelled
        assert sorted(answers) == [(3,), (4,), (5,)]
        assert plain == []  # a dropped plain callback is never called (as a lost ack)
        assert len(errors) == 1
    warnings = [r for r in caplog.records if "acknowledgements pending" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


async def test_ack_ids_are_shared_with_broadcasts() -> None:
    """One id counter per namespace (as in Node): before, a broadcast with an ack could take
    the id of a pending ``socket.emit`` ack and steal its answer."""
    io = Server()
    async with SioServer(io) as srv:
        client, sid = await srv.connected()
        direct: list[Any] = []
        io.sockets.sockets[sid].emit("direct", callback=lambda *args: direct.append(args))
        broadcast: list[Any] = []
        io.timeout(2).emit("all", callback=lambda err, res: broadcast.append((err, res)))
        first = await client.next_event_packet()
        second = await client.next_event_packet()
        assert (first.data[0], second.data[0]) == ("direct", "all")
        assert first.id is not None and second.id is not None and first.id != second.id
        client.ack(first.id, "for the socket")
        client.ack(second.id, "for the broadcast")
        await until(lambda: direct and broadcast)
        assert direct == [("for the socket",)]
        assert broadcast == [(None, ["for the broadcast"])]


def test_pending_ack_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Server(max_pending_acks=0)
    assert Server(max_pending_acks=None).max_pending_acks is None


# ====================================================================== dynamic namespaces
async def test_dynamic_namespaces_beyond_the_limit_are_invalid(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = Server(max_namespaces=2)
    io.of(re.compile(r"^/room-\d+$"))
    async with SioServer(io) as srv:
        client = await srv.client()
        await client.connect("/room-1")
        await client.connect("/room-2")
        for _ in range(3):
            with pytest.raises(ConnectRefused) as refused:
                await client.connect("/room-3")
            assert refused.value.data == {"message": "Invalid namespace"}
        assert not client.is_closed  # as for an unknown namespace: the connection stays
        assert "/room-3" not in io.namespaces
        other = await srv.client()  # the existing ones still take sockets
        await other.connect("/room-1")
        # the application may still create namespaces itself
        io.of("/room-9")
        await other.connect("/room-9")
    warnings = [r for r in caplog.records if "max_namespaces (2) reached" in r.getMessage()]
    assert len(warnings) == 1  # at most once a minute, not once per refusal


async def test_dynamic_namespace_limit_with_async_checks_and_cleanup() -> None:
    io = Server(max_namespaces=1, cleanup_empty_child_namespaces=True)

    async def check(name: str, auth: dict[str, Any]) -> bool:
        await asyncio.sleep(0)
        return name.startswith("/dyn-")

    io.of(check)
    async with SioServer(io) as srv:
        client = await srv.client()
        await client.connect("/dyn-1")
        with pytest.raises(ConnectRefused):
            await client.connect("/dyn-2")
        # an emptied child is removed (cleanup_empty_child_namespaces), which makes room
        await client.disconnect("/dyn-1")
        await until(lambda: "/dyn-1" not in io.namespaces)
        await client.connect("/dyn-2")


# ====================================================================== connections
async def test_max_connections_refuses_new_handshakes_with_503(serve_io: FrontDoor) -> None:
    io = Server(max_connections=2)
    errors: list[Any] = []
    io.on_connection_error(lambda request, code, message, context: errors.append((code, context)))
    port = await serve_io(io)
    full = {"code": 6, "message": "Too many connections"}
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn, SIO))["sid"]
    ws = await WsConnection.open(port, WS_HANDSHAKE)
    open_packet(await ws.recv())
    response = await http_request(port, "GET", HANDSHAKE)
    assert response.status == 503
    assert response.json() == full
    with pytest.raises(WsRejected) as rejected:
        await WsConnection.open(port, WS_HANDSHAKE)
    assert rejected.value.response.status == 503
    assert rejected.value.response.json() == full
    assert errors == [(6, {"max_connections": 2})] * 2
    # the sessions that exist are served as usual, upgrades included
    async with await HttpConnection.open(port) as conn:
        assert (await conn.request("POST", poll_url(sid, SIO), body="40")).body == b"ok"
    async with await WsConnection.open(port, ws_url(sid, SIO)) as upgrade:
        upgrade.send_text("2probe")
        assert await upgrade.recv() == "3probe"
    # one leaves: a new one may come
    ws.abort()
    await until(lambda: len(io.engine.sessions) == 1, timeout=10.0)
    assert (await http_request(port, "GET", HANDSHAKE)).status == 200


async def test_max_connections_holds_while_allow_request_waits() -> None:
    async def slow(request: Request) -> bool:
        await asyncio.sleep(0.05)
        return True

    io = Server(max_connections=1, allow_request=slow)
    port = (await io.start("127.0.0.1", 0)).port
    try:
        responses = await asyncio.gather(*(http_request(port, "GET", HANDSHAKE) for _ in range(3)))
        assert sorted(r.status for r in responses) == [200, 503, 503]
        assert len(io.engine.sessions) == 1
    finally:
        await io.close()


def test_max_connections_is_off_by_default() -> None:
    assert Server().engine.max_connections is None
    with pytest.raises(ValueError):
        EngineServer(lambda esock: None, max_connections=-1)


# ====================================================================== handshake rate limit
def handshake_rate_limit(
    limit: int = 10, window: float = 1.0, max_addresses: int = 100_000
) -> Callable[[Request], bool | str]:
    """allow_request hook: at most `limit` new sessions per client address per `window` s."""
    counts: dict[str, int] = {}
    started = time.monotonic()

    def allow_request(request: Request) -> bool | str:
        nonlocal started
        now = time.monotonic()
        if now - started >= window:  # a new window: every address starts again
            counts.clear()
            started = now
        address = request.remote[0] if request.remote else ""
        count = counts.get(address, 0)
        if count >= limit or (count == 0 and len(counts) >= max_addresses):
            return "Too many handshakes, retry later"
        counts[address] = count + 1
        return True

    return allow_request


def test_rate_limit_example_is_the_documented_one() -> None:
    """docs/limits.md shows handshake_rate_limit exactly as written above."""
    documented = (ROOT / "docs" / "limits.md").read_text()
    assert inspect.getsource(handshake_rate_limit) in documented


async def test_handshake_rate_limit_example(serve_io: FrontDoor) -> None:
    window = 2.0  # long enough for what follows on a loaded machine
    started = time.monotonic()
    io = Server(allow_request=handshake_rate_limit(limit=3, window=window))
    port = await serve_io(io)
    sids = []
    for _ in range(3):
        response = await http_request(port, "GET", HANDSHAKE)
        assert response.status == 200
        sids.append(open_packet(response.body)["sid"])
    refused = await http_request(port, "GET", HANDSHAKE)
    assert refused.status == 403
    assert refused.json() == {"code": 4, "message": "Too many handshakes, retry later"}
    with pytest.raises(WsRejected) as rejected:
        await WsConnection.open(port, WS_HANDSHAKE)
    assert rejected.value.response.status == 403
    # the sessions that exist are not limited
    async with await HttpConnection.open(port) as conn:
        for _ in range(5):
            assert (await conn.request("POST", poll_url(sids[0], SIO), body="6")).body == b"ok"
    await asyncio.sleep(started + window + 0.05 - time.monotonic())  # a new window
    assert (await http_request(port, "GET", HANDSHAKE)).status == 200


def test_handshake_rate_limit_example_has_bounded_memory() -> None:
    allow = handshake_rate_limit(limit=2, window=60.0, max_addresses=100)

    def request(address: str) -> Request:
        return Request("GET", SIO, "EIO=4&transport=polling", {}, remote=(address, 5000))

    addresses = [f"10.0.{i // 256}.{i % 256}" for i in range(1000)]
    results = [allow(request(a)) for a in addresses]
    assert results[:100] == [True] * 100
    assert all(isinstance(r, str) for r in results[100:])  # new addresses wait for the window
    assert allow(request(addresses[0])) is True  # a known address keeps its own count
    assert isinstance(allow(request(addresses[0])), str)


# ====================================================================== secure defaults
async def test_cors_is_off_unless_configured(serve_io: FrontDoor) -> None:
    io = Server()
    assert not io.engine.cors.enabled
    port = await serve_io(io)
    response = await http_request(port, "GET", HANDSHAKE, headers={"Origin": EVIL})
    assert response.status == 200
    assert [n for n in response.headers if n.startswith("access-control-")] == []
    preflight = await http_request(
        port, "OPTIONS", HANDSHAKE, headers={"Origin": EVIL, "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status == 400
    assert [n for n in preflight.headers if n.startswith("access-control-")] == []


async def test_cross_site_websocket_is_refused(serve_io: FrontDoor) -> None:
    io = Server()
    port = await serve_io(io)
    forbidden = {"code": 4, "message": "Forbidden"}
    own = f"http://127.0.0.1:{port}"
    for origin in (EVIL, "null", f"{own}.evil.example", f"http://127.0.0.1:{port + 1}"):
        with pytest.raises(WsRejected) as rejected:
            await WsConnection.open(port, WS_HANDSHAKE, headers=[("Origin", origin)])
        assert rejected.value.response.status == 403, origin
        assert rejected.value.response.json() == forbidden
    # the upgrade of a long-polling session too; the session itself goes on
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn, SIO))["sid"]
        with pytest.raises(WsRejected) as rejected:
            await WsConnection.open(port, ws_url(sid, SIO), headers=[("Origin", EVIL)])
        assert rejected.value.response.status == 403
        assert (await conn.request("POST", poll_url(sid, SIO), body="40")).body == b"ok"
        assert (await conn.request("GET", poll_url(sid, SIO))).text.startswith("40{")
    # the server's own origin, or no Origin at all (not a browser), are accepted
    for headers in ([("Origin", own)], []):
        async with await WsConnection.open(port, WS_HANDSHAKE, headers=headers) as ws:
            open_packet(await ws.recv())


async def test_websocket_origin_follows_the_cors_policy() -> None:
    allowed = "http://app.example"
    io = Server(cors=CorsPolicy([allowed]))
    async with SioServer(io) as srv:
        async with await WsConnection.open(
            srv.port, WS_HANDSHAKE, headers=[("Origin", allowed)]
        ) as ws:
            open_packet(await ws.recv())
        with pytest.raises(WsRejected):
            await WsConnection.open(srv.port, WS_HANDSHAKE, headers=[("Origin", EVIL)])


async def test_session_cookie_is_http_only_and_same_site() -> None:
    for cookie, expected in ((False, None), (True, "HttpOnly; SameSite=Lax")):
        io = Server(cookie=cookie)
        async with SioServer(io) as srv:
            response = await http_request(srv.port, "GET", HANDSHAKE)
            set_cookie = response.headers.get("set-cookie")
            if expected is None:
                assert set_cookie is None
            else:
                assert set_cookie is not None and set_cookie.endswith(expected)


class _Answer:
    body = b""

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.body = body


async def test_session_ids_are_random_unique_and_never_reused() -> None:
    engine = EngineServer(lambda esock: None, path=SIO, ping_timeout=0.01)
    issued: set[str] = set()
    for _ in range(2):
        sids = []
        for _ in range(10_000):
            answer = _Answer()
            engine.handle_request(Request("GET", SIO, "EIO=4&transport=polling", {}), answer)
            sids.append(json.loads(answer.body[1:])["sid"])
        assert all(SID.fullmatch(sid) for sid in sids)
        assert len(set(sids)) == len(sids)
        assert issued.isdisjoint(sids)  # never one of a closed session
        issued.update(sids)
        engine.close_all()  # long-polling sessions wait ping_timeout for a last GET
        await until(lambda: not engine.sessions, timeout=10.0)
    ids = [Server.new_id() for _ in range(10_000)]
    assert all(SID.fullmatch(i) for i in ids) and len(set(ids)) == len(ids)


async def test_session_ids_come_from_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def token_urlsafe(nbytes: int) -> str:
        calls.append(nbytes)
        return f"{len(calls):020d}"

    monkeypatch.setattr(secrets, "token_urlsafe", token_urlsafe)  # the module the engine uses
    engine = EngineServer(lambda esock: None, path=SIO)
    answer = _Answer()
    engine.handle_request(Request("GET", SIO, "EIO=4&transport=polling", {}), answer)
    assert json.loads(answer.body[1:])["sid"] == f"{1:020d}"
    assert calls == [15]  # 120 bits
    engine.close_all()
    for esock in list(engine.sessions.values()):
        esock._finish_close()


UNSAFE = frozenset(
    ("pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle", "eval", "exec")
)


def test_no_code_from_data_in_src() -> None:
    """No name of a deserialiser that runs code, nor eval/exec, in the package's code
    (comments and strings aside)."""
    found = []
    for path in sorted((ROOT / "src" / "aiosocketio").rglob("*.py*")):
        if path.suffix not in (".py", ".pyi"):
            continue
        source = path.read_text()
        for token in tokenize.generate_tokens(_io.StringIO(source).readline):
            if token.type == tokenize.NAME and token.string in UNSAFE:
                found.append(f"{path.relative_to(ROOT)}:{token.start[0]}: {token.string}")
    assert found == []


# ====================================================================== the documentation
DEFAULTS = {
    "max_http_buffer_size": 1_000_000,
    "max_buffer_size": 8 * 1024 * 1024,
    "max_pending_handlers": 256,
    "max_pending_acks": 1000,
    "max_namespaces": 10_000,
    "max_connections": None,
    "connect_timeout": 45.0,
    "ping_interval": 25.0,
    "ping_timeout": 20.0,
    "upgrade_timeout": 10.0,
}
STANDALONE_DEFAULTS = {
    "max_header_size": 16384,
    "max_headers": 100,
    "max_body_size": 1_000_000,
    "keep_alive_timeout": 60.0,
    "ws_close_timeout": 1.0,
    "backlog": 1024,
}


def test_documented_defaults_are_the_code_defaults() -> None:
    text = (ROOT / "docs" / "limits.md").read_text()
    for cls, defaults in ((Server, DEFAULTS), (StandaloneServer, STANDALONE_DEFAULTS)):
        parameters = inspect.signature(cls.__init__).parameters
        for name, value in defaults.items():
            assert parameters[name].default == value, name
            assert f"`{name}`" in text or f'"{name}"' in text, name
    assert JSONParser().max_attachments == 10
