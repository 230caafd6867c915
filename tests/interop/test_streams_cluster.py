"""A mixed cluster on Redis Streams: a Node socket.io 4.8 server with the official
@socket.io/redis-streams-adapter 0.3 and Python servers with aiosocketio's streams adapter
share one stream; the official socket.io-client recovers its session across servers of
either language.

The Node scripts live in ``node_streams/`` and take JSON commands on stdin (the line protocol
of ``node_cluster/control.js``). Other clients are raw Socket.IO clients (``tests/sioclient.py``).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

pytest.importorskip("redis")
pytest.importorskip("msgpack")

from cluster_common import (
    REDIS_URL,
    NodeProcess,
    StartNode,
    StartPython,
    acks_both_ways,
    four_clients,
    js_port,
    need_npm,
    next_events,
    node_rooms,
    node_scripts,
    quiet,
    redis_major_version,
    room_broadcasts,
    server_side_emit_both_ways,
    sio_servers,
    sockets_both_ways,
    three_servers,
    until_async,
    wait_count,
)

from aiosocketio.adapters.cluster import MessageType
from aiosocketio.adapters.redis_streams import RedisStreamsAdapter, decode_entry
from sioclient import SioClient, SioServer

pytestmark = pytest.mark.interop


# ---------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def redis_url(node: str) -> str:
    """A reachable Redis and the npm packages of these tests (else a clear skip)."""
    need_npm("streams", "@socket.io/redis-streams-adapter", "redis", "socket.io-client")
    redis_major_version(REDIS_URL)  # skips when Redis is not reachable
    return REDIS_URL


@pytest.fixture
def names(redis_url: str) -> AsyncIterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:12]
    out = {
        "stream": f"siotest-stream-{tag}",
        "prefix": f"siotest-{tag}",
        "session_prefix": f"siotest-session-{tag}:",
    }
    yield out  # type: ignore[misc]
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(out["stream"], *client.keys(out["session_prefix"] + "*"))
    finally:
        client.close()


@pytest.fixture
async def node_script(node: str, redis_url: str, names: dict[str, str]) -> AsyncIterator[StartNode]:
    """``proc = await node_script("server", recovery=1)``: a node_streams script on the test's
    stream, ready; stopped at the end of the test."""
    args = ["--redis", redis_url, "--stream", names["stream"], "--prefix", names["prefix"]]
    args += ["--session-prefix", names["session_prefix"]]
    async with node_scripts(node, "node_streams", *args) as start:
        yield start


@pytest.fixture
async def python_servers(redis_url: str, names: dict[str, str]) -> AsyncIterator[StartPython]:
    """``nodes = await python_servers(count, **server_options)``: started Python servers with
    the streams adapter on the test's stream."""
    async with sio_servers() as start_servers:

        async def start(count: int = 1, **server_options: Any) -> list[SioServer]:
            factory = RedisStreamsAdapter.factory(
                redis_url,
                stream_name=names["stream"],
                channel_prefix=names["prefix"],
                session_key_prefix=names["session_prefix"],
                request_timeout=2.0,
                block_time=1.0,
            )
            return await start_servers(count, factory, **server_options)

        yield start


async def mixed(
    node_script: StartNode, python_servers: Any, recovery: bool = False
) -> tuple[SioServer, NodeProcess]:
    [py] = await python_servers(1, connection_state_recovery=recovery)
    js = await node_script("server", recovery=int(recovery))
    await wait_count([py], js, 2)
    return py, js


# ---------------------------------------------------------------------------------- broadcasts
async def test_broadcasts_both_ways(
    node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(node_script, python_servers)
    everyone = await four_clients(py, js, clients)
    await js.call("emit", event="bin", args=[b"\x00\x01\xfe", {"nested": b"zz"}])
    assert await next_events(everyone) == [("bin", [b"\x00\x01\xfe", {"nested": b"zz"}])] * 4
    py.io.emit("bin", b"\xff", [b"\x01"])
    assert await next_events(everyone) == [("bin", [b"\xff", [b"\x01"]])] * 4
    assert await quiet(everyone)

    await room_broadcasts(py, js, everyone)
    await js.call("emit", volatile=True, event="volatile")
    assert await next_events(everyone) == [("volatile", [])] * 4
    assert await quiet(everyone)


async def test_acks_and_server_side_emit_both_ways(
    node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(node_script, python_servers)
    await acks_both_ways(py, js, clients, node_answer="n")
    await server_side_emit_both_ways(py, js)


# ---------------------------------------------------------------------------------- sockets
async def test_sockets_both_ways(
    node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(node_script, python_servers)
    await sockets_both_ways(py, js, clients, python_rooms=True)


async def test_three_servers_two_python_one_node(
    node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    pys = await python_servers(2)
    js = await node_script("server")
    await wait_count(pys, js, 3)
    everyone = await three_servers(pys, js, clients)
    pys[0].io.emit("all")
    await js.call("emit", event="all")
    assert await next_events(everyone + everyone) == [("all", [])] * 6
    assert await quiet(everyone)


# ---------------------------------------------------------------------------------- recovery
async def received(client: NodeProcess, count: int, timeout: float = 2.0) -> list[list[Any]]:
    """The next ``count`` events of the official client (``[name, *args]``, each with its
    offset checked and removed); with ``count`` 0, what came within 0.2 s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (timeout if count else 0.2)
    got: list[list[Any]] = []
    while len(got) < count or not count:
        got += await client.call("events")
        if loop.time() > deadline:
            break
        await asyncio.sleep(0.02)
    assert len(got) == count, got
    for event in got:
        offset = event.pop()
        assert isinstance(offset, str) and re.fullmatch(r"[0-9]+-[0-9]+", offset), event
    return got


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def broadcasts_after(redis: Redis, stream: str, offset: str) -> int:
    """How many broadcasts the stream holds after ``offset``."""
    entries = await redis.xrange(stream, min="(" + offset)
    return sum(decode_entry(fields)["type"] == MessageType.BROADCAST for _, fields in entries)


@pytest.mark.parametrize("route", ["node-to-python", "python-to-node", "python-to-python"])
async def test_recovery_across_servers(
    route: str,
    node_script: StartNode,
    python_servers: Any,
    names: dict[str, str],
    redis: Redis,
) -> None:
    """The official client connects to one server, misses broadcasts while its transport is
    closed, and offers its session to another server: missed packets (rooms and except
    respected), same id, ``recovered`` true."""
    pys = await python_servers(2, connection_state_recovery=True)
    js = await node_script("server", recovery=1)
    await wait_count(pys, js, 3)
    client = await node_script("client")
    first, second = {
        "node-to-python": (js_port(js), pys[0].port),
        "python-to-node": (pys[0].port, js_port(js)),
        "python-to-python": (pys[0].port, pys[1].port),
    }[route]

    connected = await client.call("connect", port=first)
    sid = connected["id"]
    assert connected["recovered"] is False
    if first == js_port(js):
        await js.call("join", sid=sid, rooms=["room"])
    else:
        pys[0].io.of("/").sockets[sid].join("room")
    pys[1].io.emit("before", 0)
    assert await received(client, 1) == [["before", 0]]
    session = await client.call("session")
    assert session["offset"] and "-" in session["offset"]

    # the client closes its WebSocket: "transport close" for the server, a recoverable reason
    assert await client.call("drop") == "forced close"
    # the first server saw the transport close: the session is in Redis
    await until_async(lambda: redis.exists(names["session_prefix"] + session["pid"]), bool, 10.0)
    pys[1].io.emit("missed", 1)
    # the XADD leaves in the background: wait for it, so the stream order is the test's order
    assert await pys[1].io.of("/").adapter.link.flush(5.0)
    await js.call("emit", rooms=["room"], event="missed-room", args=[b"\x02"])
    pys[1].io.to("elsewhere").emit("not-for-me")
    await js.call("emit", **{"except": ["room"]}, event="not-for-me")
    py_sid_emit = pys[0] if first != js_port(js) else pys[1]
    py_sid_emit.io.to(sid).emit("to-my-id", 3)
    # the five broadcasts are in the stream (Node's and Python's appends leave in the background)
    offset = session["offset"]
    await until_async(
        lambda: broadcasts_after(redis, names["stream"], offset), lambda n: n >= 5, 10.0
    )

    reconnected = await client.call("reconnect", port=second)
    assert reconnected == {"id": sid, "recovered": True}
    got = await received(client, 3)
    assert got == [["missed", 1], ["missed-room", b"\x02"], ["to-my-id", 3]]
    assert await received(client, 0) == []
    # the restored socket is in its room again, on the new server
    if second == js_port(js):
        assert "room" in await node_rooms(js, sid)
        recovered_event = await js.event("connection", id=sid)
        assert recovered_event["recovered"] is True
    else:
        server = pys[0] if second == pys[0].port else pys[1]
        assert server.io.of("/").sockets[sid].recovered
        assert "room" in server.io.of("/").sockets[sid].rooms
