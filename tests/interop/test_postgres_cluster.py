"""A mixed cluster on PostgreSQL: a Node socket.io 4.8 server with the official
@socket.io/postgres-adapter 0.5 and Python servers with aiosocketio's PostgreSQL adapter share
one database; the official @socket.io/postgres-emitter 0.1 drives Python servers.

The Node scripts live in ``node_postgres/`` and take JSON commands on stdin (the line protocol
of ``node_cluster/control.js``). Clients are raw Socket.IO clients (``tests/sioclient.py``).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("psycopg")
pytest.importorskip("msgpack")

import psycopg
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
from aiosocketio.adapters.postgres import PostgresAdapter
from sioclient import SioClient, SioServer, until

pytestmark = pytest.mark.interop

INTEROP_DIR = Path(__file__).resolve().parent
SCRIPTS = INTEROP_DIR / "node_postgres"
POSTGRES_URL = os.environ.get(
    "AIOSOCKETIO_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


# ---------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def postgres_url(node: str) -> str:
    """A reachable PostgreSQL and the npm packages of these tests (else a clear skip)."""
    for package in ("@socket.io/postgres-adapter", "@socket.io/postgres-emitter", "pg"):
        if not (INTEROP_DIR / "node_modules" / package / "package.json").is_file():
            pytest.skip(f"the postgres interop tests need {package}: run `npm ci` in {INTEROP_DIR}")
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc})")
    return POSTGRES_URL


@pytest.fixture
def names(postgres_url: str) -> Any:
    """A channel prefix and an attachments table of the test's own (created here, as the Node
    adapter expects it to exist; dropped at the end)."""
    tag = uuid.uuid4().hex[:12]
    out = {"prefix": f"siotest-{tag}", "table": f"siotest_attachments_{tag}"}
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "{out["table"]}" (id bigserial PRIMARY KEY, '
            "created_at timestamptz DEFAULT NOW(), payload bytea)"
        )
    yield out
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{out["table"]}"')


StartNode = Callable[..., Awaitable[NodeProcess]]


@pytest.fixture
async def node_script(
    node: str, postgres_url: str, names: dict[str, str]
) -> AsyncIterator[StartNode]:
    """``proc = await node_script("server")``: a node_postgres script on the test's channel
    prefix and table, ready; stopped at the end of the test."""
    started: list[NodeProcess] = []

    async def start(script: str) -> NodeProcess:
        args = ["--postgres", postgres_url, "--prefix", names["prefix"], "--table", names["table"]]
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
async def python_servers(postgres_url: str, names: dict[str, str]) -> AsyncIterator[Any]:
    """``nodes = await python_servers(count)``: started Python servers with the PostgreSQL
    adapter on the test's channel prefix and table (heartbeats every 0.5 s, so that a Node
    server that starts later learns of them quickly)."""
    started: list[SioServer] = []

    async def start(count: int = 1) -> list[SioServer]:
        factory = PostgresAdapter.factory(
            postgres_url,
            channel_prefix=names["prefix"],
            table_name=names["table"],
            request_timeout=2.0,
            heartbeat_interval=0.5,
        )
        nodes = []
        for _ in range(count):
            node = SioServer(adapter=factory)
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
    deadline = loop.time() + 8.0
    for server in python:
        while await server.io.of("/").adapter.server_count() != count:
            assert loop.time() < deadline, "the Python servers do not see the cluster"
            await asyncio.sleep(0.02)
    if js is not None:
        while await js.call("serverCount") != count:
            assert loop.time() < deadline, "the Node server does not see the cluster"
            await asyncio.sleep(0.02)


async def mixed(node_script: StartNode, python_servers: Any) -> tuple[SioServer, NodeProcess]:
    [py] = await python_servers(1)
    js = await node_script("server")
    await wait_count([py], js, 2)
    return py, js


def js_port(js: NodeProcess) -> int:
    return int(js.ready["port"])


def attachment_count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        assert row is not None
        return int(row[0])


# ---------------------------------------------------------------------------------- broadcasts
async def test_broadcasts_both_ways(
    node_script: StartNode,
    python_servers: Any,
    clients: list[SioClient],
    postgres_url: str,
    names: dict[str, str],
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
    assert attachment_count(postgres_url, names["table"]) == 0

    # binary and large payloads go through the attachments table, both ways
    await js.call("emit", event="bin", args=[b"\x00\x01\xfe", {"nested": b"zz"}])
    assert await next_events(everyone) == [("bin", [b"\x00\x01\xfe", {"nested": b"zz"}])] * 4
    py.io.emit("bin", b"\xff", [b"\x01"])
    assert await next_events(everyone) == [("bin", [b"\xff", [b"\x01"]])] * 4
    large = "ü" * 6000
    await js.call("emit", event="large", args=[large])
    assert await next_events(everyone) == [("large", [large])] * 4
    py.io.emit("large", {"text": large})
    assert await next_events(everyone) == [("large", [{"text": large}])] * 4
    assert attachment_count(postgres_url, names["table"]) == 4
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
    assert await quiet(everyone)


async def test_acks_and_server_side_emit_both_ways(
    node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(node_script, python_servers)
    p1, _ = await py.connected()
    n1 = await node_client(js_port(js))
    clients.append(n1)

    task = asyncio.ensure_future(py.io.timeout(2.0).emit_with_ack("q", 1))
    for client, answer in ((p1, "p"), (n1, "n" * 9000)):
        packet = await client.next_event_packet(2.0)
        assert packet.data == ["q", 1]
        client.ack(packet.id, answer)
    assert sorted(await asyncio.wait_for(task, 3.0)) == ["n" * 9000, "p"]

    task = asyncio.ensure_future(js.call("emitWithAck", event="q2", args=[b"\x07"]))
    for client, answer in ((p1, b"\x01"), (n1, b"\x02")):
        packet = await client.next_event_packet(2.0)
        assert packet.data == ["q2", b"\x07"]
        client.ack(packet.id, answer)
    assert sorted(await asyncio.wait_for(task, 3.0)) == [b"\x01", b"\x02"]

    received: list[tuple[Any, ...]] = []

    def on_hello(*args: Any) -> Any:
        received.append(args)
        return b"\x05" if args[0] == "bin" else f"python:{args[0]}"

    py.io.on("hello", on_hello)
    await js.call("serverSideEmit", event="hello", args=[1, {"two": 2}])
    await until(lambda: received == [(1, {"two": 2})], 3.0)
    assert await js.call("serverSideEmit", event="hello", args=["x"], ack=True) == ["python:x"]
    assert await js.call("serverSideEmit", event="hello", args=["bin"], ack=True) == [b"\x05"]
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

    await js.call("join", sid=n2.sids["/"], rooms=["vip"])
    py.io.except_("vip").sockets_join(["a", "b"])
    await until_async(lambda: node_rooms(js, n1_sid), lambda r: {"a", "b"} <= set(r))
    assert "a" not in await node_rooms(js, n2.sids["/"])
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


# ---------------------------------------------------------------------------------- emitter
async def test_node_emitter_drives_python_servers(
    node_script: StartNode, python_servers: Any
) -> None:
    nodes = await python_servers(2)
    for node in nodes:
        await node.io.of("/admin").adapter.init()
    await wait_count(nodes, None, 2)
    emitter = await node_script("emitter")
    a, a_sid = await nodes[0].connected()
    b, b_sid = await nodes[1].connected()
    admin, _ = await nodes[1].connected("/admin")
    everyone = [a, b, admin]
    nodes[0].io.of("/").sockets[a_sid].join("r")
    nodes[1].io.of("/").sockets[b_sid].join(["r", "s"])
    got: list[Any] = []
    for i, node in enumerate(nodes):
        node.io.on("from-emitter", lambda *args, i=i: got.append((i, args)))

    await emitter.call("emit", event="all", args=[1, {"k": None}])
    assert await next_events([a, b]) == [("all", [1, {"k": None}])] * 2
    await emitter.call("emit", event="bin", args=[b"\x02"])  # an attachment
    assert await next_events([a, b]) == [("bin", [b"\x02"])] * 2
    await emitter.call("emit", event="large", args=["z" * 9000])
    assert await next_events([a, b]) == [("large", ["z" * 9000])] * 2
    await emitter.call("emit", rooms=["r"], **{"except": ["s"]}, event="r-not-s")
    assert await next_events([a]) == [("r-not-s", [])]
    await emitter.call("emit", rooms=["r", "s"], volatile=True, event="rs")
    assert await next_events([a, b]) == [("rs", [])] * 2
    await emitter.call("emit", nsp="/admin", event="admins", args=["x"])
    assert await next_events([admin]) == [("admins", ["x"])]
    assert await quiet(everyone)

    await emitter.call("socketsJoin", rooms=["s"], join=["t", "u"])
    await until(lambda: {"t", "u"} <= nodes[1].io.of("/").sockets[b_sid].rooms, 2.0)
    await emitter.call("socketsLeave", leave="r")
    await until(lambda: "r" not in nodes[0].io.of("/").sockets[a_sid].rooms, 2.0)
    await emitter.call("serverSideEmit", event="from-emitter", args=[{"n": 1}])
    await until(lambda: sorted(got) == [(0, ({"n": 1},)), (1, ({"n": 1},))], 2.0)
    await emitter.call("disconnectSockets", **{"except": ["t"]})
    await until(lambda: not nodes[0].io.of("/").sockets, 2.0)
    assert b_sid in nodes[1].io.of("/").sockets
    await emitter.call("disconnectSockets", close=True)
    assert await b.wait_closed(2.0)
    # an emitter is not a server
    assert [await n.io.of("/").adapter.server_count() for n in nodes] == [2, 2]


async def test_python_emitter_drives_node_and_python(
    node_script: StartNode,
    python_servers: Any,
    clients: list[SioClient],
    postgres_url: str,
    names: dict[str, str],
) -> None:
    from aiosocketio.emitter_postgres import PostgresEmitter

    py, js = await mixed(node_script, python_servers)
    p1, p1_sid = await py.connected()
    n1 = await node_client(js_port(js))
    clients.append(n1)
    await js.call("join", sid=n1.sids["/"], rooms=["room"])
    conn = await psycopg.AsyncConnection.connect(postgres_url, autocommit=True)
    try:
        emitter = PostgresEmitter(conn, channel_prefix=names["prefix"], table_name=names["table"])
        await emitter.emit("hello", {"x": 1})
        assert await next_events([p1, n1]) == [("hello", [{"x": 1}])] * 2
        await emitter.emit("bin", b"\x01", "w" * 9000)  # through the attachments table
        assert await next_events([p1, n1]) == [("bin", [b"\x01", "w" * 9000])] * 2
        await emitter.to("room").emit("room-only")
        assert await next_events([n1]) == [("room-only", [])]
        await emitter.except_("room").volatile.emit("not-room")
        assert await next_events([p1]) == [("not-room", [])]
        await emitter.server_side_emit("hello", "from-python-emitter")
        assert (await js.event("server_side", event="hello"))["args"] == ["from-python-emitter"]
        await emitter.in_("room").sockets_join("joined")
        await until_async(lambda: node_rooms(js, n1.sids["/"]), lambda r: "joined" in r)
        await emitter.sockets_leave("joined")
        await until_async(lambda: node_rooms(js, n1.sids["/"]), lambda r: "joined" not in r)
        await emitter.except_("room").sockets_join("py-room")
        await until(lambda: "py-room" in py.io.of("/").sockets[p1_sid].rooms, 2.0)
        await emitter.disconnect_sockets()
        await until_async(lambda: js.call("localSockets"), lambda s: not s)
        await until(lambda: not py.io.of("/").sockets, 2.0)
        with pytest.raises(ValueError):
            await emitter.emit("connect")
        assert repr(emitter.of("admin")).startswith("<PostgresEmitter nsp='/admin'")
    finally:
        await conn.close()
