"""A mixed cluster on PostgreSQL: a Node socket.io 4.8 server with the official
@socket.io/postgres-adapter 0.5 and Python servers with aiosocketio's PostgreSQL adapter share
one database; the official @socket.io/postgres-emitter 0.1 drives Python servers.

The Node scripts live in ``node_postgres/`` and take JSON commands on stdin (the line protocol
of ``node_cluster/control.js``). Clients are raw Socket.IO clients (``tests/sioclient.py``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("psycopg")
pytest.importorskip("msgpack")

import psycopg
from cluster_common import (
    NodeProcess,
    StartNode,
    StartPython,
    acks_both_ways,
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
    room_broadcasts,
    server_side_emit_both_ways,
    sio_servers,
    sockets_both_ways,
    three_servers,
    until_async,
    wait_count,
)

from aiosocketio.adapters.postgres import PostgresAdapter
from helpers import Proxy
from sioclient import SioClient, SioServer, until

pytestmark = pytest.mark.interop

POSTGRES_URL = os.environ.get(
    "AIOSOCKETIO_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
WAIT_COUNT = 8.0  # seconds for every server to count the cluster (5 s in cluster_common)


# ---------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def postgres_url(node: str) -> str:
    """A reachable PostgreSQL and the npm packages of these tests (else a clear skip)."""
    need_npm("postgres", "@socket.io/postgres-adapter", "@socket.io/postgres-emitter", "pg")
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


@pytest.fixture
async def node_script(
    node: str, postgres_url: str, names: dict[str, str]
) -> AsyncIterator[StartNode]:
    """``proc = await node_script("server")``: a node_postgres script on the test's channel
    prefix and table, ready; stopped at the end of the test."""
    args = ["--postgres", postgres_url, "--prefix", names["prefix"], "--table", names["table"]]
    async with node_scripts(node, "node_postgres", *args) as start:
        yield start


@pytest.fixture
async def python_servers(postgres_url: str, names: dict[str, str]) -> AsyncIterator[StartPython]:
    """``nodes = await python_servers(count)``: started Python servers with the PostgreSQL
    adapter on the test's channel prefix and table (heartbeats every 0.5 s, so that a Node
    server that starts later learns of them quickly)."""
    async with sio_servers() as start_servers:

        async def start(count: int = 1) -> list[SioServer]:
            factory = PostgresAdapter.factory(
                postgres_url,
                channel_prefix=names["prefix"],
                table_name=names["table"],
                request_timeout=2.0,
                heartbeat_interval=0.5,
            )
            return await start_servers(count, factory)

        yield start


async def mixed(node_script: StartNode, python_servers: Any) -> tuple[SioServer, NodeProcess]:
    [py] = await python_servers(1)
    js = await node_script("server")
    await wait_count([py], js, 2, WAIT_COUNT)
    return py, js


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
    everyone = await four_clients(py, js, clients)
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

    await room_broadcasts(py, js, everyone)
    assert await quiet(everyone)


async def test_acks_and_server_side_emit_both_ways(
    node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(node_script, python_servers)
    # an answer larger than a NOTIFY payload (8000 bytes)
    await acks_both_ways(py, js, clients, node_answer="n" * 9000)
    await server_side_emit_both_ways(py, js)
    assert await js.call("serverSideEmit", event="hello", args=["bin"], ack=True) == [b"\x05"]


# ---------------------------------------------------------------------------------- sockets
async def test_sockets_both_ways(
    node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    py, js = await mixed(node_script, python_servers)
    await sockets_both_ways(py, js, clients)


async def test_three_servers_two_python_one_node(
    node_script: StartNode, python_servers: Any, clients: list[SioClient]
) -> None:
    pys = await python_servers(2)
    js = await node_script("server")
    await wait_count(pys, js, 3, WAIT_COUNT)
    everyone = await three_servers(pys, js, clients)
    pys[0].io.emit("all")
    await js.call("emit", event="all")
    assert await next_events(everyone + everyone) == [("all", [])] * 6
    assert await quiet(everyone)


# ---------------------------------------------------------------------------------- emitter
async def test_node_emitter_drives_python_servers(
    node_script: StartNode, python_servers: Any
) -> None:
    nodes, emitter, everyone, got = await emitter_cluster(python_servers, node_script, WAIT_COUNT)
    a, b, admin = everyone

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

    await emitter_drives_sockets(emitter, nodes, a, b, got)
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
        await until(lambda: "py-room" in py.io.of("/").sockets[p1_sid].rooms, 10.0)
        await emitter.disconnect_sockets()
        await until_async(lambda: js.call("localSockets"), lambda s: not s)
        await until(lambda: not py.io.of("/").sockets, 10.0)
        with pytest.raises(ValueError):
            await emitter.emit("connect")
        with pytest.raises(ValueError, match="acknowledgements"):  # as the Redis emitter
            await emitter.server_side_emit("x", lambda: None)
        assert repr(emitter.of("admin")).startswith("<PostgresEmitter nsp='/admin'")
    finally:
        await conn.close()


# ---------------------------------------------------------------------------------- outages
async def test_python_holds_its_broadcasts_until_node_listens_again(
    node: str, postgres_url: str, names: dict[str, str]
) -> None:
    """PostgreSQL unreachable for both servers (each through a proxy taken down): the Python
    server listens again first and holds what it sends until the Node server is heard from
    again (its next heartbeat, after its LISTEN client is back: the Node adapter reconnects
    1 to 3 s after losing it); the Node server's client misses nothing."""
    port = int(postgres_url.split("@", 1)[1].split("/")[0].split(":")[1])
    py_proxy, js_proxy = Proxy(port), Proxy(port)
    await py_proxy.start()
    await js_proxy.start()

    def through(proxy: Proxy) -> str:
        return postgres_url.replace(f":{port}/", f":{proxy.port}/")

    factory = PostgresAdapter.factory(
        through(py_proxy),
        channel_prefix=names["prefix"],
        table_name=names["table"],
        request_timeout=2.0,
        heartbeat_interval=0.5,
        reconnect_delay=(0.02, 0.1),
    )
    args = ["--postgres", through(js_proxy), "--prefix", names["prefix"], "--table", names["table"]]
    try:
        async with (
            sio_servers() as start_python,
            node_scripts(node, "node_postgres", *args) as start_node,
        ):
            [py] = await start_python(1, factory)
            js = await start_node("server")
            await wait_count([py], js, 2, WAIT_COUNT)
            await held_until_node_is_back(py, js, py_proxy, js_proxy, 10.0)
    finally:
        await py_proxy.close()
        await js_proxy.close()
