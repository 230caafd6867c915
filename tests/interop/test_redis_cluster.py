"""A mixed cluster: a Node socket.io 4.8 server with the official @socket.io/redis-adapter 8.3
and Python servers with aiosocketio's Redis adapter share one Redis; the official
@socket.io/redis-emitter 5.1 drives Python servers.

The Node scripts live in ``node_cluster/``: ``server.js`` and ``emitter.js`` run for the whole
test and take JSON commands on stdin (``control.js``). Clients are raw Socket.IO clients
(``tests/sioclient.py``) connected to either server.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("redis")
pytest.importorskip("msgpack")

from cluster_common import (
    REDIS_URL,
    NodeProcess,
    StartNode,
    StartPython,
    answered_by_index,
    emitter_cluster,
    emitter_drives_sockets,
    four_clients,
    held_until_node_is_back,
    js_port,
    need_npm,
    next_events,
    node_client,
    node_rooms,
    node_scripts,
    quiet,
    redis_major_version,
    remote_socket_works,
    server_side_emit_both_ways,
    sio_servers,
    three_servers,
    until_async,
    wait_count,
)

from aiosocketio import Socket
from aiosocketio.adapters.cluster import RemoteSocket
from aiosocketio.adapters.redis import RedisAdapter
from aiosocketio.emitter import RedisEmitter
from helpers import Proxy
from sioclient import SioClient, SioServer, until

pytestmark = pytest.mark.interop

MODES = ["classic", "sharded"]


# ---------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def redis_url(node: str) -> str:
    """A reachable Redis 7 and the npm packages of the cluster tests (else a clear skip)."""
    need_npm("cluster", "@socket.io/redis-adapter", "@socket.io/redis-emitter", "redis")
    if redis_major_version(REDIS_URL) < 7:
        pytest.skip(f"the cluster interop tests need Redis 7 (sharded Pub/Sub) at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def redis_key() -> str:
    return f"siotest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def node_script(node: str, redis_url: str, redis_key: str) -> AsyncIterator[StartNode]:
    """``proc = await node_script("server", mode="classic")``: a node_cluster script on the
    test's Redis key, ready; stopped at the end of the test."""
    async with node_scripts(
        node, "node_cluster", "--redis", redis_url, "--key", redis_key
    ) as start:
        yield start


@pytest.fixture
async def python_servers(redis_url: str, redis_key: str) -> AsyncIterator[StartPython]:
    """``nodes = await python_servers(count, sharded=False)``: started Python servers with the
    Redis adapter on the test's key."""
    async with sio_servers() as start_servers:

        async def start(count: int = 1, *, sharded: bool = False) -> list[SioServer]:
            factory = RedisAdapter.factory(
                redis_url, key=redis_key, sharded=sharded, request_timeout=2.0
            )
            return await start_servers(count, factory)

        yield start


async def mixed(
    mode: str, node_script: StartNode, python_servers: Any
) -> tuple[SioServer, NodeProcess]:
    [py] = await python_servers(1, sharded=mode == "sharded")
    js = await node_script("server", mode=mode)
    await wait_count([py], js, 2)
    return py, js


# ---------------------------------------------------------------------------------- broadcasts
@pytest.mark.parametrize("mode", MODES)
async def test_broadcasts_both_ways(
    mode: str,
    node_script: StartNode,
    python_servers: Any,
    clients: list[SioClient],
    redis_key: str,
) -> None:
    py, js = await mixed(mode, node_script, python_servers)
    # Node -> everyone, Python -> everyone (each client once)
    everyone = await four_clients(py, js, clients)
    p1, p2, n1, n2 = everyone
    assert await quiet(everyone)

    # binary both ways
    await js.call("emit", event="bin", args=[b"\x00\x01\xfe", {"nested": b"zz"}])
    assert await next_events(everyone) == [("bin", [b"\x00\x01\xfe", {"nested": b"zz"}])] * 4
    py.io.emit("bin", b"\xff", [b"\x01"])
    assert await next_events(everyone) == [("bin", [b"\xff", [b"\x01"]])] * 4

    # rooms and except, from either side
    py.io.of("/").sockets[p1.sids["/"]].join(["red", "blue"])
    await js.call("join", sid=n1.sids["/"], rooms=["red"])
    await js.call("join", sid=n2.sids["/"], rooms=["blue"])
    if mode == "sharded":  # both servers subscribe to the room channels, in the background
        link = py.io.of("/").adapter.link  # type: ignore[attr-defined]
        for room in ("red", "blue"):
            channel = f"{redis_key}#/#{room}#"
            await until_async(
                lambda c=channel: link.numsub(c, sharded=True), lambda n: n == 2, 10.0
            )
    await js.call("emit", rooms=["red"], event="red")
    assert await next_events([p1, n1]) == [("red", [])] * 2
    py.io.to("blue").emit("blue")
    assert await next_events([p1, n2]) == [("blue", [])] * 2
    py.io.to("red").to("blue").except_(n2.sids["/"]).emit("red-blue-but-n2")
    assert await next_events([p1, n1]) == [("red-blue-but-n2", [])] * 2
    await js.call("emit", rooms=["red", "blue"], event="two")
    assert await next_events([p1, n1, n2]) == [("two", [])] * 3
    await js.call("emit", **{"except": ["red"]}, event="not-red")
    assert await next_events([p2, n2]) == [("not-red", [])] * 2
    await js.call("emit", rooms=[p2.sids["/"]], event="private")
    assert await next_events([p2]) == [("private", [])]
    py.io.to(n2.sids["/"]).emit("private")
    assert await next_events([n2]) == [("private", [])]
    # local stays local
    await js.call("emit", local=True, event="node-local")
    assert await next_events([n1, n2]) == [("node-local", [])] * 2
    py.io.local.emit("python-local")
    assert await next_events([p1, p2]) == [("python-local", [])] * 2
    assert await quiet(everyone)


# ---------------------------------------------------------------------------------- acks
@pytest.mark.parametrize("mode", MODES)
async def test_broadcast_acks_both_ways(
    mode: str, node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(mode, node_script, python_servers)
    p1, _ = await py.connected()
    n1 = await node_client(js_port(js))
    clients.append(n1)

    # Python asks every client of the cluster
    task = asyncio.ensure_future(py.io.timeout(2.0).emit_with_ack("q", 1))
    for client, answer in ((p1, "p"), (n1, "n")):
        packet = await client.next_event_packet(2.0)
        assert packet.data == ["q", 1]
        client.ack(packet.id, answer)
    assert sorted(await asyncio.wait_for(task, 3.0)) == ["n", "p"]

    # Node asks every client of the cluster
    task = asyncio.ensure_future(js.call("emitWithAck", event="q2", args=[b"\x07"]))
    for client, answer in ((p1, {"from": "p"}), (n1, {"from": "n"})):
        packet = await client.next_event_packet(2.0)
        assert packet.data == ["q2", b"\x07"]
        client.ack(packet.id, answer)
    responses = await asyncio.wait_for(task, 3.0)
    assert sorted(r["from"] for r in responses) == ["n", "p"]

    # binary acknowledgements travel back (MessagePack responses)
    task = asyncio.ensure_future(js.call("emitWithAck", event="q3"))
    packet = await p1.next_event_packet(2.0)
    p1.ack(packet.id, b"\x01\x02")
    packet = await n1.next_event_packet(2.0)
    n1.ack(packet.id, b"\x03")
    assert sorted(await asyncio.wait_for(task, 3.0)) == [b"\x01\x02", b"\x03"]


@pytest.mark.parametrize("mode", MODES)
async def test_server_side_emit_both_ways(
    mode: str, node_script: StartNode, python_servers: Any
) -> None:
    py, js = await mixed(mode, node_script, python_servers)
    await server_side_emit_both_ways(py, js)
    # the Node server saw the request it answered
    assert (await js.event("server_side", event="ask"))["args"] == [7]


# ---------------------------------------------------------------------------------- sockets
@pytest.mark.parametrize("mode", MODES)
async def test_fetch_sockets_and_remote_sockets_both_ways(
    mode: str, node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(mode, node_script, python_servers)
    p1, p1_sid = await py.connected("/", {"who": "p1"})
    n1 = await node_client(js_port(js), auth={"who": "n1"})
    clients.append(n1)
    n1_sid = n1.sids["/"]
    py.io.of("/").sockets[p1_sid].data = {"lang": "python", "n": [1]}
    py.io.of("/").sockets[p1_sid].join("team")
    await js.call("join", sid=n1_sid, rooms=["team", "node-only"])

    # from Python
    found = await py.io.fetch_sockets()
    assert {s.id for s in found} == {p1_sid, n1_sid}
    remote = next(s for s in found if s.id == n1_sid)
    assert isinstance(remote, RemoteSocket)
    assert isinstance(next(s for s in found if s.id == p1_sid), Socket)
    assert remote.data == {"lang": "node"}
    assert remote.rooms == {n1_sid, "team", "node-only"}
    assert remote.handshake.auth == {"who": "n1"}
    assert remote.handshake.address and remote.handshake.url.startswith("/socket.io/")
    assert {s.id for s in await py.io.in_("node-only").fetch_sockets()} == {n1_sid}
    assert {s.id for s in await py.io.except_("node-only").fetch_sockets()} == {p1_sid}

    await remote_socket_works(js, remote, n1)
    remote.leave("team")
    await until_async(lambda: node_rooms(js, n1_sid), lambda r: "team" not in r)

    # from Node
    seen = await js.call("fetchSockets")
    by_id = {s["id"]: s for s in seen}
    assert set(by_id) == {p1_sid, n1_sid}
    assert by_id[p1_sid]["remote"] and not by_id[n1_sid]["remote"]
    assert by_id[p1_sid]["data"] == {"lang": "python", "n": [1]}
    assert by_id[p1_sid]["auth"] == {"who": "p1"}
    assert by_id[p1_sid]["rooms"] == sorted([p1_sid, "team"])
    assert [s["id"] for s in await js.call("fetchSockets", rooms=["team"])] == [p1_sid]

    await js.call("remoteEmit", sid=p1_sid, event="hello-from-node", args=[b"\x09"])
    assert await next_events([p1]) == [("hello-from-node", [b"\x09"])]
    task = asyncio.ensure_future(js.call("remoteEmitWithAck", sid=p1_sid, event="ask"))
    packet = await p1.next_event_packet(2.0)
    p1.ack(packet.id, "python-yes")
    assert await task == "python-yes"
    await js.call("remoteJoin", sid=p1_sid, rooms=["from-node"])
    await until(lambda: "from-node" in py.io.of("/").sockets[p1_sid].rooms, 10.0)
    await js.call("remoteLeave", sid=p1_sid, room="team")
    await until(lambda: "team" not in py.io.of("/").sockets[p1_sid].rooms, 10.0)

    # disconnect remotely, each side
    await js.call("remoteDisconnect", sid=p1_sid)
    await until(lambda: p1_sid not in py.io.of("/").sockets, 10.0)
    remote.disconnect(close=True)
    assert await n1.wait_closed(2.0)


@pytest.mark.parametrize("mode", MODES)
async def test_sockets_join_leave_disconnect_both_ways(
    mode: str, node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(mode, node_script, python_servers)
    p1, p1_sid = await py.connected()
    n1 = await node_client(js_port(js))
    n2 = await node_client(js_port(js))
    clients += [n1, n2]
    await js.call("join", sid=n2.sids["/"], rooms=["vip"])

    py.io.except_("vip").sockets_join(["a", "b"])
    await until_async(lambda: node_rooms(js, n1.sids["/"]), lambda r: {"a", "b"} <= set(r))
    assert "a" not in await node_rooms(js, n2.sids["/"])
    assert {"a", "b"} <= py.io.of("/").sockets[p1_sid].rooms

    await js.call("socketsLeave", rooms=["a"], leave="b")
    await until(lambda: "b" not in py.io.of("/").sockets[p1_sid].rooms, 10.0)
    await js.call("socketsJoin", rooms=["vip"], join="vip2")
    await until_async(lambda: node_rooms(js, n2.sids["/"]), lambda r: "vip2" in r)

    await js.call("disconnectSockets", rooms=["a"])
    await until(lambda: not py.io.of("/").sockets, 10.0)
    await until_async(lambda: js.call("localSockets"), lambda s: len(s) == 1)
    py.io.disconnect_sockets(close=True)
    assert await n2.wait_closed(2.0)
    del p1


# ---------------------------------------------------------------------------------- emitters
async def test_node_emitter_drives_python_servers(
    node_script: StartNode, python_servers: Any
) -> None:
    nodes, emitter, everyone, got = await emitter_cluster(python_servers, node_script)
    a, b, admin = everyone

    await emitter.call("emit", event="all", args=[1, b"\x02", {"k": None}])
    assert await next_events([a, b]) == [("all", [1, b"\x02", {"k": None}])] * 2
    await emitter.call("emit", rooms=["r"], event="r")
    assert await next_events([a, b]) == [("r", [])] * 2
    await emitter.call("emit", rooms=["r"], **{"except": ["s"]}, event="r-not-s")
    assert await next_events([a]) == [("r-not-s", [])]
    await emitter.call("emit", rooms=["r", "s"], volatile=True, event="rs")
    assert await next_events([a, b]) == [("rs", [])] * 2
    await emitter.call("emit", nsp="/admin", event="admins", args=["x"])
    assert await next_events([admin]) == [("admins", ["x"])]
    assert await quiet(everyone)

    await emitter_drives_sockets(emitter, nodes, a, b, got, b_leaves_too=True)


async def test_python_emitter_drives_node_and_python(
    node_script: StartNode,
    python_servers: Any,
    redis_url: str,
    redis_key: str,
    clients: list[SioClient],
) -> None:
    from redis.asyncio import Redis

    py, js = await mixed("classic", node_script, python_servers)
    p1, _ = await py.connected()
    n1 = await node_client(js_port(js))
    clients.append(n1)
    await js.call("join", sid=n1.sids["/"], rooms=["room"])
    client = Redis.from_url(redis_url)
    try:
        emitter = RedisEmitter(client, key=redis_key)
        await emitter.emit("hello", b"\x01", {"x": 1})
        assert await next_events([p1, n1]) == [("hello", [b"\x01", {"x": 1}])] * 2
        await emitter.to("room").emit("room-only")
        assert await next_events([n1]) == [("room-only", [])]
        await emitter.server_side_emit("hello", "from-python-emitter")
        assert (await js.event("server_side", event="hello"))["args"] == ["from-python-emitter"]
        await emitter.in_("room").sockets_join("joined")
        await until_async(lambda: node_rooms(js, n1.sids["/"]), lambda r: "joined" in r)
        await emitter.disconnect_sockets()
        await until_async(lambda: js.call("localSockets"), lambda s: not s)
        await until(lambda: not py.io.of("/").sockets, 10.0)
        assert await quiet([p1])
    finally:
        await client.aclose()


@pytest.mark.parametrize("mode", MODES)
async def test_three_servers_two_python_one_node(
    mode: str, node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    """Counting servers with more than one answer per request, from either language."""
    pys = await python_servers(2, sharded=mode == "sharded")
    js = await node_script("server", mode=mode)
    await wait_count(pys, js, 3)
    everyone = await three_servers(pys, js, clients)
    await answered_by_index(pys[1].io.timeout(2.0).emit_with_ack("q"), everyone)
    pys[0].io.emit("all")
    assert await next_events(everyone) == [("all", [])] * 3
    assert await quiet(everyone)


# ---------------------------------------------------------------------------------- outages
@pytest.mark.parametrize("mode", MODES)
async def test_python_holds_its_broadcasts_until_node_is_back(
    mode: str, node: str, redis_url: str, redis_key: str, python_servers: Any
) -> None:
    """Redis unreachable for both servers (each through a proxy taken down): the Python
    server is back first and holds what it publishes until the Node server (its own
    node-redis reconnection) is subscribed again; the Node server's client misses nothing."""
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    py_proxy, js_proxy = Proxy(port), Proxy(port)
    await py_proxy.start()
    await js_proxy.start()
    factory = RedisAdapter.factory(
        f"redis://127.0.0.1:{py_proxy.port}",
        key=redis_key,
        sharded=mode == "sharded",
        request_timeout=2.0,
        reconnect_delay=(0.02, 0.1),
    )
    try:
        async with (
            sio_servers() as start_python,
            node_scripts(
                node, "node_cluster", "--redis", f"redis://127.0.0.1:{js_proxy.port}",
                "--key", redis_key,
            ) as start_node,
        ):  # fmt: skip
            [py] = await start_python(1, factory)
            js = await start_node("server", mode=mode)
            await wait_count([py], js, 2)
            await held_until_node_is_back(py, js, py_proxy, js_proxy, 5.0)
    finally:
        await py_proxy.close()
        await js_proxy.close()
