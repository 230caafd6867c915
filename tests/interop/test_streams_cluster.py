"""A mixed cluster on Redis Streams: a Node socket.io 4.8 server with the official
@socket.io/redis-streams-adapter 0.3 and Python servers with aiosocketio's streams adapter
share one stream; the official socket.io-client recovers its session across servers of
either language.

The Node scripts live in ``node_streams/`` and take JSON commands on stdin (the line protocol
of ``node_cluster/control.js``). Other clients are raw Socket.IO clients (``tests/sioclient.py``).
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("redis")
pytest.importorskip("msgpack")

from test_redis_cluster import (
    NodeProcess,
    next_events,
    node_client,
    node_rooms,
    quiet,
    until_async,
)

from aiosocketio import Socket
from aiosocketio.adapters.cluster import RemoteSocket
from aiosocketio.adapters.redis_streams import RedisStreamsAdapter
from sioclient import SioClient, SioServer, until

pytestmark = pytest.mark.interop

INTEROP_DIR = Path(__file__).resolve().parent
SCRIPTS = INTEROP_DIR / "node_streams"
REDIS_URL = os.environ.get("AIOSOCKETIO_REDIS_URL", "redis://127.0.0.1:6379")


# ---------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def redis_url(node: str) -> str:
    """A reachable Redis and the npm packages of these tests (else a clear skip)."""
    for package in ("@socket.io/redis-streams-adapter", "redis", "socket.io-client"):
        if not (INTEROP_DIR / "node_modules" / package / "package.json").is_file():
            pytest.skip(f"the streams interop tests need {package}: run `npm ci` in {INTEROP_DIR}")
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({exc}); set AIOSOCKETIO_REDIS_URL")
    finally:
        client.close()
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


StartNode = Callable[..., Awaitable[NodeProcess]]


@pytest.fixture
async def node_script(node: str, redis_url: str, names: dict[str, str]) -> AsyncIterator[StartNode]:
    """``proc = await node_script("server", recovery=1)``: a node_streams script on the test's
    stream, ready; stopped at the end of the test."""
    started: list[NodeProcess] = []

    async def start(script: str, **options: Any) -> NodeProcess:
        args = [
            "--redis",
            redis_url,
            "--stream",
            names["stream"],
            "--prefix",
            names["prefix"],
            "--session-prefix",
            names["session_prefix"],
        ]
        for name, value in options.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        proc = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPTS / f"{script}.js"),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(INTEROP_DIR),
        )
        process = NodeProcess(proc, f"{script}.js")
        started.append(process)
        process.ready = await process.event("ready", timeout=10.0)
        return process

    yield start
    for process in started:
        await process.close()


@pytest.fixture
async def python_servers(redis_url: str, names: dict[str, str]) -> AsyncIterator[Any]:
    """``nodes = await python_servers(count, **server_options)``: started Python servers with
    the streams adapter on the test's stream."""
    started: list[SioServer] = []

    async def start(count: int = 1, **server_options: Any) -> list[SioServer]:
        factory = RedisStreamsAdapter.factory(
            redis_url,
            stream_name=names["stream"],
            channel_prefix=names["prefix"],
            session_key_prefix=names["session_prefix"],
            request_timeout=2.0,
            block_time=1.0,
        )
        nodes = []
        for _ in range(count):
            node = SioServer(adapter=factory, **server_options)
            await node.__aenter__()
            started.append(node)
            nodes.append(node)
        return nodes

    yield start
    for node in reversed(started):
        await node.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[SioClient]]:
    made: list[SioClient] = []
    yield made
    for client in made:
        await client.abort()


async def wait_count(python: list[SioServer], js: NodeProcess | None, count: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    for server in python:
        while await server.io.of("/").adapter.server_count() != count:
            assert loop.time() < deadline, "the Python servers do not see the cluster"
            await asyncio.sleep(0.02)
    if js is not None:
        while await js.call("serverCount") != count:
            assert loop.time() < deadline, "the Node server does not see the cluster"
            await asyncio.sleep(0.02)


async def mixed(
    node_script: StartNode, python_servers: Any, recovery: bool = False
) -> tuple[SioServer, NodeProcess]:
    [py] = await python_servers(1, connection_state_recovery=recovery)
    js = await node_script("server", recovery=int(recovery))
    await wait_count([py], js, 2)
    return py, js


def js_port(js: NodeProcess) -> int:
    return int(js.ready["port"])


# ---------------------------------------------------------------------------------- broadcasts
async def test_broadcasts_both_ways(
    node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(node_script, python_servers)
    p1, p1_sid = await py.connected()
    p2, _ = await py.connected()
    n1 = await node_client(js_port(js))
    n2 = await node_client(js_port(js))
    clients += [n1, n2]
    everyone = [p1, p2, n1, n2]

    await js.call("emit", event="from-node", args=[1, {"a": [True, None]}])
    assert await next_events(everyone) == [("from-node", [1, {"a": [True, None]}])] * 4
    py.io.emit("from-python", "x", 2.5)
    assert await next_events(everyone) == [("from-python", ["x", 2.5])] * 4
    await js.call("emit", event="bin", args=[b"\x00\x01\xfe", {"nested": b"zz"}])
    assert await next_events(everyone) == [("bin", [b"\x00\x01\xfe", {"nested": b"zz"}])] * 4
    py.io.emit("bin", b"\xff", [b"\x01"])
    assert await next_events(everyone) == [("bin", [b"\xff", [b"\x01"]])] * 4
    assert await quiet(everyone)

    py.io.of("/").sockets[p1_sid].join(["red", "blue"])
    await js.call("join", sid=n1.sids["/"], rooms=["red"])
    await js.call("join", sid=n2.sids["/"], rooms=["blue"])
    await js.call("emit", rooms=["red"], event="red")
    assert await next_events([p1, n1]) == [("red", [])] * 2
    py.io.to("blue").emit("blue")
    assert await next_events([p1, n2]) == [("blue", [])] * 2
    py.io.to("red").to("blue").except_(n2.sids["/"]).emit("red-blue-but-n2")
    assert await next_events([p1, n1]) == [("red-blue-but-n2", [])] * 2
    await js.call("emit", **{"except": ["red"]}, event="not-red")
    assert await next_events([p2, n2]) == [("not-red", [])] * 2
    await js.call("emit", rooms=[p2.sids["/"]], event="private")
    assert await next_events([p2]) == [("private", [])]
    await js.call("emit", local=True, event="node-local")
    assert await next_events([n1, n2]) == [("node-local", [])] * 2
    py.io.local.emit("python-local")
    assert await next_events([p1, p2]) == [("python-local", [])] * 2
    await js.call("emit", volatile=True, event="volatile")
    assert await next_events(everyone) == [("volatile", [])] * 4
    assert await quiet(everyone)


async def test_acks_and_server_side_emit_both_ways(
    node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(node_script, python_servers)
    p1, _ = await py.connected()
    n1 = await node_client(js_port(js))
    clients.append(n1)

    task = asyncio.ensure_future(py.io.timeout(2.0).emit_with_ack("q", 1))
    for client, answer in ((p1, "p"), (n1, "n")):
        packet = await client.next_event_packet(2.0)
        assert packet.data == ["q", 1]
        client.ack(packet.id, answer)
    assert sorted(await asyncio.wait_for(task, 3.0)) == ["n", "p"]

    task = asyncio.ensure_future(js.call("emitWithAck", event="q2", args=[b"\x07"]))
    for client, answer in ((p1, b"\x01"), (n1, b"\x02")):
        packet = await client.next_event_packet(2.0)
        assert packet.data == ["q2", b"\x07"]
        client.ack(packet.id, answer)
    assert sorted(await asyncio.wait_for(task, 3.0)) == [b"\x01", b"\x02"]

    received: list[tuple[Any, ...]] = []

    def on_hello(*args: Any) -> str:
        received.append(args)
        return f"python:{args[0]}"

    py.io.on("hello", on_hello)
    await js.call("serverSideEmit", event="hello", args=[1, {"two": 2}])
    await until(lambda: received == [(1, {"two": 2})], 3.0)
    assert await js.call("serverSideEmit", event="hello", args=["x"], ack=True) == ["python:x"]
    py.io.server_side_emit("hello", "from-py", [3])
    assert (await js.event("server_side", event="hello"))["args"] == ["from-py", [3]]
    assert await py.io.server_side_emit_with_ack("ask", 7) == ["node:7"]
    py.io.server_side_emit("binary", b"\x01\x02")
    assert (await js.event("server_side", event="binary"))["args"] == [b"\x01\x02"]


# ---------------------------------------------------------------------------------- sockets
async def test_sockets_both_ways(
    node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(node_script, python_servers)
    p1, p1_sid = await py.connected("/", {"who": "p1"})
    n1 = await node_client(js_port(js), auth={"who": "n1"})
    n2 = await node_client(js_port(js))
    clients += [n1, n2]
    n1_sid = n1.sids["/"]
    py.io.of("/").sockets[p1_sid].data = {"lang": "python", "n": [1]}
    py.io.of("/").sockets[p1_sid].join("team")
    await js.call("join", sid=n1_sid, rooms=["team", "node-only"])

    found = await py.io.fetch_sockets()
    assert {s.id for s in found} == {p1_sid, n1_sid, n2.sids["/"]}
    remote = next(s for s in found if s.id == n1_sid)
    assert isinstance(remote, RemoteSocket)
    assert isinstance(next(s for s in found if s.id == p1_sid), Socket)
    assert remote.data == {"lang": "node"} and remote.handshake.auth == {"who": "n1"}
    assert remote.rooms == {n1_sid, "team", "node-only"}
    remote.emit("hi", 1)
    assert await next_events([n1]) == [("hi", [1])]
    task = asyncio.ensure_future(remote.emit_with_ack("ask", timeout=2.0))
    packet = await n1.next_event_packet(2.0)
    n1.ack(packet.id, "yes")
    assert await task == "yes"
    remote.join("from-python")
    await until_async(lambda: node_rooms(js, n1_sid), lambda r: "from-python" in r)

    seen = await js.call("fetchSockets")
    by_id = {s["id"]: s for s in seen}
    assert by_id[p1_sid]["remote"] and by_id[p1_sid]["data"] == {"lang": "python", "n": [1]}
    assert by_id[p1_sid]["rooms"] == sorted([p1_sid, "team"])
    assert {s["id"] for s in await js.call("fetchSockets", rooms=["team"])} == {p1_sid, n1_sid}
    await js.call("remoteEmit", sid=p1_sid, event="hello-from-node", args=[b"\x09"])
    assert await next_events([p1]) == [("hello-from-node", [b"\x09"])]
    task = asyncio.ensure_future(js.call("remoteEmitWithAck", sid=p1_sid, event="ask"))
    packet = await p1.next_event_packet(2.0)
    p1.ack(packet.id, "python-yes")
    assert await task == "python-yes"

    # sockets_join / leave / disconnect, each side
    await js.call("join", sid=n2.sids["/"], rooms=["vip"])
    py.io.except_("vip").sockets_join(["a", "b"])
    await until_async(lambda: node_rooms(js, n1_sid), lambda r: {"a", "b"} <= set(r))
    assert "a" not in await node_rooms(js, n2.sids["/"])
    assert {"a", "b"} <= py.io.of("/").sockets[p1_sid].rooms
    await js.call("socketsLeave", rooms=["a"], leave="b")
    await until(lambda: "b" not in py.io.of("/").sockets[p1_sid].rooms, 2.0)
    await js.call("remoteDisconnect", sid=p1_sid)
    await until(lambda: p1_sid not in py.io.of("/").sockets, 2.0)
    py.io.disconnect_sockets(close=True)
    assert await n2.wait_closed(2.0)


async def test_three_servers_two_python_one_node(
    node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    pys = await python_servers(2)
    js = await node_script("server")
    await wait_count(pys, js, 3)
    p = [(await py.connected())[0] for py in pys]
    n1 = await node_client(js_port(js))
    clients.append(n1)
    everyone = [*p, n1]
    for i, py in enumerate(pys):
        py.io.on("ask", lambda x, i=i: f"py{i}:{x}")
    assert sorted(await js.call("serverSideEmit", event="ask", args=[1], ack=True)) == [
        "py0:1",
        "py1:1",
    ]
    assert sorted(await pys[0].io.server_side_emit_with_ack("ask", 2)) == ["node:2", "py1:2"]
    assert len(await js.call("fetchSockets")) == 3
    assert len(await pys[1].io.fetch_sockets()) == 3
    task = asyncio.ensure_future(js.call("emitWithAck", event="q"))
    for i, client in enumerate(everyone):
        packet = await client.next_event_packet(2.0)
        client.ack(packet.id, i)
    assert sorted(await asyncio.wait_for(task, 3.0)) == [0, 1, 2]
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


@pytest.mark.parametrize("route", ["node-to-python", "python-to-node", "python-to-python"])
async def test_recovery_across_servers(
    route: str, node_script: StartNode, python_servers: Any, names: dict[str, str]
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
    await asyncio.sleep(0.2)  # the session is persisted in Redis
    pys[1].io.emit("missed", 1)
    # the XADD leaves in the background: wait for it, so the stream order is the test's order
    assert await pys[1].io.of("/").adapter.link.flush(5.0)
    await js.call("emit", rooms=["room"], event="missed-room", args=[b"\x02"])
    pys[1].io.to("elsewhere").emit("not-for-me")
    await js.call("emit", **{"except": ["room"]}, event="not-for-me")
    py_sid_emit = pys[0] if first != js_port(js) else pys[1]
    py_sid_emit.io.to(sid).emit("to-my-id", 3)
    await asyncio.sleep(0.2)

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
