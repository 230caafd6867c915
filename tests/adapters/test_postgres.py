"""The PostgreSQL adapter against a real PostgreSQL: clusters of two or three Python servers in
this process, each with its own standalone front door and raw clients.

PostgreSQL is taken from ``AIOSOCKETIO_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Every test has its own channel prefix and
attachments table.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("psycopg")
pytest.importorskip("msgpack")

import psycopg

from aiosocketio.adapters import msgpack_codec
from aiosocketio.adapters.base import ClusterError
from aiosocketio.adapters.postgres import (
    PostgresAdapter,
    PostgresAdapterFactory,
    PostgresLink,
    encode_notification,
)
from sioclient import SioClient, SioServer, until

from .helpers import (
    StartCluster,
    acks_of_every_client,
    broadcast_reaches_every_server_once,
    connect,
    events,
    fetch_team,
    held_numbers_reach_both,
    held_pair,
    hello_reaches_the_other_servers,
    keep_reports,
    nothing,
    remote_ack,
    remote_disconnect,
    remote_emit_and_join,
    rooms_except_local_and_namespaces,
    sockets_join_leave_disconnect,
    start_nodes,
    wait_for_servers,
)

POSTGRES_URL = os.environ.get(
    "AIOSOCKETIO_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def postgres_unreachable_reason(url: str) -> str | None:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL is not reachable at {url} ({exc}); set AIOSOCKETIO_POSTGRES_URL"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    reason = postgres_unreachable_reason(POSTGRES_URL)
    if reason is not None:
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture
def names(postgres_url: str) -> Any:
    """A channel prefix and an attachments table of the test's own (dropped at its end)."""
    tag = uuid.uuid4().hex[:12]
    out = {"channel_prefix": f"siotest-{tag}", "table_name": f"siotest_attachments_{tag}"}
    yield out
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{out["table_name"]}"')


@pytest.fixture
async def cluster(postgres_url: str, names: dict[str, str]) -> AsyncIterator[StartCluster]:
    """``nodes = await cluster(count, postgres=None, adapter_options=None, expect=None,
    **server_options)``: started servers with the PostgreSQL adapter, each seeing the others."""
    started: list[SioServer] = []

    async def start(
        count: int = 2,
        *,
        postgres: Any = None,
        adapter_options: dict[str, Any] | None = None,
        expect: int | None = None,
        **server_options: Any,
    ) -> list[SioServer]:
        options: dict[str, Any] = {**names, "request_timeout": 1.0, **(adapter_options or {})}
        factory = PostgresAdapter.factory(postgres or postgres_url, **options)
        return await start_nodes(started, factory, count, expect, **server_options)

    yield start
    for node in reversed(started):
        await node.close()


def link_of(node: SioServer) -> PostgresLink:
    adapter = node.io.of("/").adapter
    assert isinstance(adapter, PostgresAdapter)
    return adapter.link


def attachments(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        assert row is not None
        return int(row[0])


def terminate(url: str, pids: list[int | None]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def backend_pids(url: str, application_name: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name LIKE %s",
            (application_name + "%",),
        ).fetchall()
    return [int(r[0]) for r in rows]


# ---------------------------------------------------------------------------------- wire forms
def test_notification_codec() -> None:
    message = {"type": 3, "data": {"packet": {"type": 2, "data": ["e"]}}, "uid": "u", "nsp": "/"}
    small = encode_notification(message, "p")
    assert small.channel == "p#/" and small.attachment is None
    assert (
        small.payload == '{"type":3,"data":{"packet":{"type":2,"data":["e"]}},"uid":"u","nsp":"/"}'
    )
    big = encode_notification({**message, "data": "x" * 8000}, "p")
    assert big.attachment is not None and big.header == {"uid": "u", "type": 3}
    assert msgpack_codec.decode(big.attachment)["data"] == "x" * 8000
    # exactly at the threshold: still a notification
    base = len(json.dumps({**message, "data": ""}, separators=(",", ":")))
    edge = encode_notification({**message, "data": "y" * (8000 - base)}, "p")
    assert edge.attachment is None
    binary = encode_notification({**message, "data": b"\x00"}, "p")
    assert binary.attachment is not None
    with pytest.raises(TypeError):
        encode_notification({**message, "data": object()}, "p")


# ---------------------------------------------------------------------------------- broadcasts
async def test_broadcast_reaches_every_server_once(cluster: StartCluster) -> None:
    await broadcast_reaches_every_server_once(await cluster(3))


async def test_rooms_except_local_and_namespaces(cluster: StartCluster) -> None:
    await rooms_except_local_and_namespaces(await cluster(3))


async def test_binary_and_large_payloads_through_attachments(
    cluster: StartCluster, postgres_url: str, names: dict[str, str]
) -> None:
    nodes = await cluster(2)
    b = await connect(nodes[1], 1)
    nodes[0].io.emit("bin", b"\x00\x01\xff", {"nested": [b"ab"]})
    assert await events(b) == [("bin", [b"\x00\x01\xff", {"nested": [b"ab"]}])]
    large = "é" * 5000  # 10000 bytes of JSON
    nodes[0].io.emit("large", large)
    assert await events(b) == [("large", [large])]
    assert attachments(postgres_url, names["table_name"]) == 2
    # order is kept, attachments or not
    for i in range(50):
        nodes[0].io.emit("n", i, b"\x01" if i % 3 == 0 else "x" * (9000 if i % 3 == 1 else 1))
    got = [(await b[0].next_event())[2][0] for _ in range(50)]
    assert got == list(range(50))


async def test_broadcast_with_acks(cluster: StartCluster) -> None:
    await acks_of_every_client(await cluster(3), lambda i: f"answer-{i}" if i % 2 else bytes([i]))


async def test_server_count_with_heartbeats(cluster: StartCluster) -> None:
    # a loaded machine may starve a process for a while: a timeout well above the interval
    nodes = await cluster(3, adapter_options={"heartbeat_interval": 0.1, "heartbeat_timeout": 1.5})
    assert [await n.io.of("/").adapter.server_count() for n in nodes] == [3, 3, 3]
    await asyncio.sleep(2.0)  # past the timeout: idle servers stay known through their heartbeats
    assert [await n.io.of("/").adapter.server_count() for n in nodes] == [3, 3, 3]
    await nodes[2].close()  # says so (ADAPTER_CLOSE): known at once, not after the timeout
    await wait_for_servers(nodes[:2], 2, timeout=1.0)


async def test_fetch_sockets_and_remote_sockets(cluster: StartCluster) -> None:
    nodes = await cluster(3)
    a, b, c, _found, b0 = await fetch_team(nodes, {"score": 7, "blob": b"\x01"})
    await remote_emit_and_join(nodes, b0, b[0])
    await remote_ack(b0, b[0])
    await remote_disconnect(nodes, b0, b[0])
    assert await nothing(a + c)


async def test_sockets_join_leave_disconnect(cluster: StartCluster) -> None:
    await sockets_join_leave_disconnect(await cluster(3))


async def test_server_side_emit(cluster: StartCluster) -> None:
    nodes = await cluster(3)
    for i, node in enumerate(nodes):
        node.io.on("ask", lambda x, i=i: f"{i}:{x}" if i else b"\x00")
    await hello_reaches_the_other_servers(nodes)
    assert sorted(map(repr, await nodes[1].io.server_side_emit_with_ack("ask", "x"))) == [
        repr("2:x"),
        repr(b"\x00"),
    ]


async def test_wire_format(cluster: StartCluster, postgres_url: str, names: dict[str, str]) -> None:
    nodes = await cluster(2)
    adapter = nodes[0].io.of("/").adapter
    assert isinstance(adapter, PostgresAdapter)
    conn = await psycopg.AsyncConnection.connect(postgres_url, autocommit=True)
    try:
        await conn.execute(f'LISTEN "{names["channel_prefix"]}#/"')
        nodes[0].io.to("r").emit("hi", 1)
        nodes[0].io.emit("bin", b"\x01")
        got = []
        async for notify in conn.notifies(timeout=2.0):
            message = json.loads(notify.payload)
            if message.get("type") == 3:
                got.append(message)
            if len(got) == 2:
                break
        assert got[0] == {
            "type": 3,
            "data": {
                "packet": {"type": 2, "data": ["hi", 1], "nsp": "/"},
                "opts": {"rooms": ["r"], "except": [], "flags": {}},
            },
            "uid": adapter.uid,
            "nsp": "/",
        }
        assert set(got[1]) == {"uid", "type", "attachmentId"}
        assert isinstance(got[1]["attachmentId"], str)  # a bigint, as node-postgres reads it
        cursor = await conn.execute(
            f'SELECT payload FROM "{names["table_name"]}" WHERE id = %s',
            (int(got[1]["attachmentId"]),),
        )
        row = await cursor.fetchone()
        assert row is not None
        assert msgpack_codec.decode(row[0])["data"]["packet"]["data"] == ["bin", b"\x01"]
    finally:
        await conn.close()


async def test_old_attachments_are_removed(
    cluster: StartCluster, postgres_url: str, names: dict[str, str]
) -> None:
    nodes = await cluster(2, adapter_options={"cleanup_interval": 0.3})
    b = await connect(nodes[1], 1)
    nodes[0].io.emit("bin", b"\x01")
    assert await events(b) == [("bin", [b"\x01"])]
    assert attachments(postgres_url, names["table_name"]) == 1
    await until(lambda: attachments(postgres_url, names["table_name"]) == 0, 10.0)


# ---------------------------------------------------------------------------------- outages
async def test_listener_terminated_during_traffic(cluster: StartCluster, postgres_url: str) -> None:
    """pg_terminate_backend on every connection of one server while broadcasts flow: it
    reconnects, LISTENs again and delivers again, without a restart."""
    nodes = await cluster(2, adapter_options={"reconnect_delay": (0.05, 0.2)})
    a = await connect(nodes[0], 1)
    b = await connect(nodes[1], 1)
    link = link_of(nodes[1])

    async def traffic() -> None:
        for i in range(100):
            nodes[0].io.emit("n", i)
            nodes[1].io.emit("m", i)
            await asyncio.sleep(0.003)

    sender = asyncio.ensure_future(traffic())
    await asyncio.sleep(0.05)
    pids = backend_pids(postgres_url, link.application_name)
    assert link.listener_pid in pids and len(pids) >= 2
    terminate(postgres_url, list(pids))
    await sender
    await until(lambda: link.connected and link.reconnects == 1, 3.0)
    got_a, got_b = await drain(a[0]), await drain(b[0])
    # local delivery never stopped
    assert got_b["m"] == list(range(100)) and got_a["n"] == list(range(100))
    # what b sent while its connection was down went out later, in order
    assert sorted(set(got_a["m"])) == list(range(100)) and got_a["m"] == sorted(got_a["m"])
    # b missed what was notified while it was not listening (LISTEN/NOTIFY keeps nothing)
    # and a, which saw no outage, did not hold it back: b reported the window it missed
    assert got_b["n"] == sorted(set(got_b["n"]))
    assert link.resync.reported["deaf"] == 1
    await wait_for_servers(nodes, 2)
    nodes[0].io.emit("after", 0)
    nodes[1].io.emit("after", 1)
    assert sorted(args[0] for _name, args in await events(a + a + b + b)) == [0, 0, 1, 1]
    assert len(await nodes[1].io.fetch_sockets()) == 2


# ---------------------------------------------------------------------------------- resync
async def test_outage_holds_the_queue_until_the_servers_listen_again(
    cluster: StartCluster, postgres_url: str
) -> None:
    """Both listeners terminated (what a restart does): A listens again first, announces
    itself and holds what it sends until B is heard from; B misses nothing."""
    nodes, b_back = await held_pair(cluster)
    a, b = await connect(nodes[0], 1), await connect(nodes[1], 1)
    link_a, link_b = link_of(nodes[0]), link_of(nodes[1])
    reports_b = keep_reports(link_b)
    terminate(postgres_url, [link_a.listener_pid, link_b.listener_pid])
    await until(lambda: link_a.reconnects >= 1 and link_a.connected, 10.0)
    assert not link_b.connected and link_a.resync.held
    await held_numbers_reach_both(nodes[0], a, b, b_back)
    await until(lambda: not link_a.resync.held and not link_b.resync.held, 10.0)
    for link in (link_a, link_b):
        assert link.resync.reported == {"short": 0, "unconfirmed": 0, "dropped": 0, "deaf": 1}
    [deaf] = reports_b
    assert deaf.kind == "deaf" and deaf.messages == 0 and deaf.since < deaf.until
    nodes[1].io.emit("back")
    assert await events(a + b) == [("back", [])] * 2


async def test_deaf_window_starts_at_the_last_sign_of_life(
    cluster: StartCluster, postgres_url: str
) -> None:
    """A busy server notices a lost listener late: its deaf window starts at the listener's
    last sign of life, so what was notified before it noticed falls inside."""
    [node] = await cluster(1)
    link = link_of(node)
    reports = keep_reports(link)
    cut = time.time()
    terminate(postgres_url, [link.listener_pid])
    time.sleep(0.5)  # the server is busy: it notices the loss late
    await until(lambda: bool(reports), 10.0)
    [deaf] = reports
    assert deaf.kind == "deaf" and deaf.since <= cut < deaf.until


async def test_server_not_back_in_time_is_reported(
    cluster: StartCluster, postgres_url: str
) -> None:
    """A server not heard from within ``resync_timeout`` after the outage: what waited goes
    out, reported as unconfirmed with the server's uid."""
    nodes, _never = await held_pair(cluster, {"resync_timeout": 0.5})
    a = await connect(nodes[0], 1)
    link_a, link_b = link_of(nodes[0]), link_of(nodes[1])
    reports = keep_reports(link_a)
    terminate(postgres_url, [link_a.listener_pid, link_b.listener_pid])
    await until(lambda: link_a.reconnects == 1 and link_a.connected, 3.0)
    for i in range(3):
        nodes[0].io.emit("n", i)
    await events(a * 3)
    await until(lambda: not link_a.resync.held, 3.0)
    [report] = [r for r in reports if r.kind == "unconfirmed"]
    assert report.messages == 3
    assert nodes[1].io.of("/").adapter.uid in report.detail  # type: ignore[attr-defined]


async def drain(client: SioClient) -> dict[str, list[Any]]:
    """The events a client receives until it is quiet for 0.3 s, by name."""
    out: dict[str, list[Any]] = {}
    while True:
        try:
            _nsp, name, args = await client.next_event(0.3)
        except TimeoutError:
            return out
        out.setdefault(name, []).append(args[0])


async def test_nothing_reachable(names: dict[str, str]) -> None:
    factory = PostgresAdapterFactory(
        "postgresql://postgres@127.0.0.1:9/test",
        **names,
        max_queue=5,
        reconnect_delay=(0.02, 0.05),
        connect_timeout=0.3,
    )
    node = SioServer(adapter=factory)
    async with node:
        link = factory.link(node.io)
        a = await connect(node, 1)
        for i in range(8):
            node.io.emit("n", i)
        assert [(await events(a))[0][1] for _ in range(8)] == [[i] for i in range(8)]
        assert link.dropped >= 3 and len(link._queue) <= 5
        assert not link.connected
        assert await node.io.of("/").adapter.server_count() == 1


async def test_factory_options_and_closed_link() -> None:
    with pytest.raises(TypeError):
        PostgresAdapter.factory("postgresql://x", no_such_option=1)
    link = PostgresLink("postgresql://x")
    await link.close()
    with pytest.raises(ClusterError, match="closed"):
        await link.query("SELECT 1")
    with pytest.raises(ClusterError, match="closed"):
        await link.acquire()
