"""socket.io-client 2.5.0 (Engine.IO v3, Socket.IO protocol v4), run under Node, against
aiosocketio's server with ``allow_eio3``: long-polling only, WebSocket only and the upgrade;
events and acks both ways, binary included; namespaces with a query and middleware refusals;
rooms and broadcasts shared with socket.io-client 4.8; reconnection after a restart of the
server; ping timeouts both ways. The scenarios are ``scenarios/v2_*.js``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import v2_app
from aiosocketio import Server, Socket
from sioclient import until

pytestmark = pytest.mark.interop

RunNode = Callable[..., Awaitable[list[dict[str, Any]]]]
ServerFactory = Callable[..., Awaitable[tuple[Server, int]]]


@pytest.fixture(params=["polling", "websocket", "upgrade"])
def mode(request: pytest.FixtureRequest) -> str:
    """How the client connects: long-polling only, WebSocket only, or the upgrade."""
    return str(request.param)


@pytest.fixture
async def v3_server(serve: ServerFactory) -> Callable[..., Awaitable[tuple[Server, int]]]:
    """``io, port = await v3_server(**options)``: a server with ``allow_eio3``."""

    async def start(**options: Any) -> tuple[Server, int]:
        return await serve(allow_eio3=True, **options)

    return start


def by_event(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for line in lines:
        out[line.pop("ev")] = line
    return out


async def test_events_acks_namespaces_refusals(
    v3_server: ServerFactory, run_node: RunNode, mode: str
) -> None:
    io, port = await v3_server()
    seen: dict[str, Any] = {}
    v2_app.serve_events(io, seen)
    lines = by_event(await run_node("v2_events", port, mode))
    engine_id = lines["connect"]["engineId"]
    assert lines["connect"]["id"] == engine_id  # protocol v4: the session's id
    assert lines["hello"] == {"text": "world", "bytes": {"hex": "0102"}}
    assert lines["echo"] == {"answer": ["é😀", 2, {"a": [None]}]}
    assert lines["bin"] == {"reversed": {"hex": "fa030201"}, "nested": {"hex": "010203"}}
    assert lines["asked"] == {"result": [["answer to why", "07"]]}
    chat = lines["chat"]
    assert chat["id"] == chat["info"]["id"] and chat["id"].startswith("/chat#")
    assert chat["info"]["auth"] == {"token": "abc", "n": "1"}
    assert chat["info"]["protocol"] == 3
    assert lines["admin-refused"] == {"event": "error", "data": {"code": 401}}
    assert lines["plain-refused"] == {"event": "error", "data": "no entry"}
    assert lines["admin"]["info"]["auth"] == {"token": "secret"}
    assert lines["transport"] == {"name": "polling" if mode == "polling" else "websocket"}
    assert lines["disconnect"] == {"reason": "io server disconnect"}
    assert seen["main"][0]["q"] == "main" and seen["main"][0]["id"] == engine_id
    await until(lambda: "server namespace disconnect" in seen.get("reasons", []))


async def test_rooms_and_broadcasts_with_v4_clients(
    v3_server: ServerFactory, run_node: RunNode, mode: str
) -> None:
    io, port = await v3_server()
    protocols = v2_app.serve_rooms(io)
    lines = await run_node("v2_rooms", port, mode)
    got = {line["name"]: line["got"] for line in lines}
    expected = [
        ["from v2", {"hex": "0102"}],
        [{"from": "v4"}, {"bytes": {"type": "Buffer", "data": [3]}}],
    ]
    assert got == v2_app.room_deliveries(expected)
    assert sorted(protocols.values()) == [3, 3, 3, 4, 4, 4]


async def test_reconnection_after_a_server_restart(
    v3_server: ServerFactory, run_node: RunNode, mode: str
) -> None:
    connections: list[tuple[str, Any]] = []
    ready = asyncio.Event()

    def setup(io: Server) -> None:
        def on_connection(socket: Socket) -> None:
            connections.append((socket.nsp.name, socket.handshake.auth))
            socket.on("echo", lambda *args: args)
            socket.on("ready", ready.set)

        io.on("connection", on_connection)
        io.of("/chat").on("connection", on_connection)

    first, port = await v3_server()
    setup(first)
    scenario = asyncio.ensure_future(run_node("v2_reconnect", port, mode, timeout=25))
    await asyncio.wait_for(ready.wait(), 10)
    await first.close()
    second = Server(allow_eio3=True)
    setup(second)
    await second.start("127.0.0.1", port)
    try:
        lines = by_event(await scenario)
    finally:
        await second.close()
    # the close packet, or (a long-polling client between two requests) a failed request
    assert lines["disconnect"]["reason"] in ("transport close", "transport error")
    assert lines["reconnected"]["newId"] is True, lines
    assert lines["acks"] == {"main": [1], "chat": ["c"]}
    # each of the two clients is a connection of its own (forceNew), with the main namespace
    assert sorted(connections, key=str) == sorted(
        [("/", {})] * 4 + [("/chat", {"token": "t"})] * 2, key=str
    )


@pytest.mark.parametrize(
    ("who", "server_reason", "client_reason"),
    [("server", "ping timeout", "transport close"), ("client", "transport close", "ping timeout")],
)
async def test_ping_timeouts_both_ways(
    v3_server: ServerFactory,
    run_node: RunNode,
    mode: str,
    who: str,
    server_reason: str,
    client_reason: str,
) -> None:
    """``who`` times out: the server when the client stops pinging, the client when the
    server's pongs do not reach it."""
    io, port = await v3_server(ping_interval=0.3, ping_timeout=0.2)
    reasons: list[str] = []
    io.on("connection", lambda socket: socket.on("disconnect", reasons.append))
    (result,) = await run_node("v2_ping_timeout", port, mode, who)
    await until(lambda: bool(reasons))
    if who == "client" and mode == "polling":
        # the client posts its close packet and drops its pending GET: whichever the
        # server sees first ends the session (socket.io 4.8 is no different)
        assert reasons in (["transport close"], ["transport error"])
    else:
        assert reasons == [server_reason]
    assert result["reason"] == client_reason
    assert result["pongs"] >= 1
    assert result["elapsed"] < 10000  # the short ping timeout, not the default (45 s)
