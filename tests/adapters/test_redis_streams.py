"""The Redis Streams adapter against a real Redis: clusters of two or three Python servers in
this process, each with its own standalone front door and raw clients.

Every test has its own stream, channel prefix and session key prefix. The wire tests read what
the adapter writes with a plain Redis connection and check it field by field.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import ANY

import pytest

pytest.importorskip("redis")
pytest.importorskip("msgpack")

import redis as sync_redis

from aiosocketio.adapters import msgpack_codec
from aiosocketio.adapters.base import ClusterError, PersistedSession
from aiosocketio.adapters.redis_streams import (
    RedisStreamsAdapter,
    RedisStreamsAdapterFactory,
    StreamsLink,
    decode_entry,
    decode_session,
    encode_entry,
    encode_session,
    stream_for_namespace,
)
from helpers import Proxy
from sioclient import SioServer, until

from .helpers import (
    StartCluster,
    acks_across_servers,
    binary_volatile_and_order,
    broadcast_reaches_every_server_once,
    connect,
    events,
    fetch_and_remote_sockets,
    nothing,
    rooms_except_local_and_namespaces,
    server_count_after_a_close,
    server_side_emit_with_answers,
    sockets_join_leave_disconnect,
    start_nodes,
    wait_for_servers,
)
from .test_redis import kill_clients, subscriber_ids


# ---------------------------------------------------------------------------------- fixtures
@pytest.fixture
def names() -> dict[str, str]:
    """A stream, channel prefix and session prefix of the test's own."""
    tag = uuid.uuid4().hex[:12]
    return {
        "stream_name": f"siotest-stream-{tag}",
        "channel_prefix": f"siotest-{tag}",
        "session_key_prefix": f"siotest-session-{tag}:",
    }


@pytest.fixture
async def cluster(redis_url: str, names: dict[str, str]) -> AsyncIterator[StartCluster]:
    """``nodes = await cluster(count, redis=None, adapter_options=None, expect=None,
    **server_options)``: started servers with the streams adapter on the test's stream, each
    seeing the others."""
    started: list[SioServer] = []

    async def start(
        count: int = 2,
        *,
        redis: Any = None,
        adapter_options: dict[str, Any] | None = None,
        expect: int | None = None,
        **server_options: Any,
    ) -> list[SioServer]:
        options: dict[str, Any] = {**names, "request_timeout": 1.0, **(adapter_options or {})}
        factory = RedisStreamsAdapter.factory(redis if redis is not None else redis_url, **options)
        return await start_nodes(started, factory, count, expect, **server_options)

    yield start
    for node in reversed(started):
        await node.close()
    client = sync_redis.from_url(redis_url)
    try:
        keys = [names["stream_name"], *client.keys(names["session_key_prefix"] + "*")]
        client.delete(*keys)
    finally:
        client.close()


def link_of(node: SioServer, nsp: str = "/") -> StreamsLink:
    adapter = node.io.of(nsp).adapter
    assert isinstance(adapter, RedisStreamsAdapter)
    return adapter.link


# ---------------------------------------------------------------------------------- wire forms
def test_entry_codec() -> None:
    message = {
        "uid": "abc",
        "nsp": "/",
        "type": 3,
        "data": {"packet": {"type": 2, "data": ["e", 1], "nsp": "/"}, "opts": {"rooms": []}},
    }
    fields = encode_entry(message)
    assert fields == {
        "uid": "abc",
        "nsp": "/",
        "type": "3",
        "data": '{"packet":{"type":2,"data":["e",1],"nsp":"/"},"opts":{"rooms":[]}}',
    }
    assert decode_entry({k.encode(): v.encode() for k, v in fields.items()}) == message
    # binary: base64 MessagePack of the data
    binary = {**message, "data": {"packet": {"type": 2, "data": ["e", b"\x00\xff"], "nsp": "/"}}}
    fields = encode_entry(binary)
    assert msgpack_codec.decode(base64.b64decode(fields["data"])) == binary["data"]
    assert decode_entry(fields) == binary
    # no data: no field (as Node leaves out a falsy data)
    assert encode_entry({"uid": "u", "nsp": "/", "type": 1}) == {
        "uid": "u",
        "nsp": "/",
        "type": "1",
    }
    for bad in ({"type": "x"}, {"type": "3", "data": "not base64!"}):
        with pytest.raises(ValueError):
            decode_entry(bad)


def test_stream_of_a_namespace() -> None:
    assert stream_for_namespace("/any", "s", 1) == "s"
    # JavaScript: hashCode("/") = 47; hashCode of a long name overflows to a negative number,
    # and JavaScript's % keeps the sign
    assert stream_for_namespace("/", "s", 4) == "s-3"
    assert stream_for_namespace("/chat", "s", 3) == "s-1"
    assert stream_for_namespace("/a-rather-long-namespace", "s", 7) == "s-0"  # -0 in JS
    assert stream_for_namespace("/a-rather-long-namespace", "s", 11) == "s--5"
    assert stream_for_namespace("/\u00e9\U0001f600", "s", 5) == "s-4"  # UTF-16 code units


def test_session_codec() -> None:
    session = PersistedSession("sid1", "pid1", ["sid1", "room"], {"n": b"\x01"})
    text = encode_session(session)
    assert msgpack_codec.decode(base64.b64decode(text)) == {
        "sid": "sid1",
        "pid": "pid1",
        "rooms": ["sid1", "room"],
        "data": {"n": b"\x01"},
    }
    back = decode_session(text)
    assert back is not None and (back.sid, back.pid, back.rooms, back.data) == (
        "sid1",
        "pid1",
        ["sid1", "room"],
        {"n": b"\x01"},
    )
    # no data is {} (as a Node socket's data); data that cannot travel is null
    empty = msgpack_codec.decode(
        base64.b64decode(encode_session(PersistedSession("s", "p", [], None)))
    )
    assert empty["data"] == {}
    bad = encode_session(PersistedSession("s", "p", [], {"x": object()}))
    assert msgpack_codec.decode(base64.b64decode(bad))["data"] is None
    assert decode_session("!!") is None and decode_session(base64.b64encode(b"\x01")) is None


# ---------------------------------------------------------------------------------- broadcasts
async def test_broadcast_reaches_every_server_once(cluster: StartCluster) -> None:
    await broadcast_reaches_every_server_once(await cluster(3))


async def test_rooms_except_local_and_namespaces(cluster: StartCluster) -> None:
    await rooms_except_local_and_namespaces(await cluster(3))


async def test_binary_volatile_and_order(cluster: StartCluster) -> None:
    await binary_volatile_and_order(await cluster(2))


async def test_broadcast_with_acks(cluster: StartCluster) -> None:
    await acks_across_servers(await cluster(3))


async def test_server_count(cluster: StartCluster) -> None:
    await server_count_after_a_close(await cluster(3))


# ---------------------------------------------------------------------------------- sockets
async def test_fetch_sockets_and_remote_sockets(cluster: StartCluster) -> None:
    await fetch_and_remote_sockets(await cluster(3))


async def test_sockets_join_leave_disconnect(cluster: StartCluster) -> None:
    await sockets_join_leave_disconnect(await cluster(3))


async def test_server_side_emit(cluster: StartCluster) -> None:
    await server_side_emit_with_answers(await cluster(3))


async def test_request_timeout_of_a_silent_server(cluster: StartCluster, redis_url: str) -> None:
    nodes = await cluster(2)
    client = sync_redis.from_url(redis_url)
    pubsub = client.pubsub()
    adapter = nodes[0].io.of("/").adapter
    assert isinstance(adapter, RedisStreamsAdapter)
    pubsub.subscribe(adapter.public_channel)  # a third "server" that never answers
    try:
        await wait_for_servers(nodes, 3)
        with pytest.raises(ClusterError, match="1 of 2"):
            await nodes[0].io.fetch_sockets()
    finally:
        pubsub.close()
        client.close()


# ---------------------------------------------------------------------------------- wire
async def test_wire_format(cluster: StartCluster, redis_url: str, names: dict[str, str]) -> None:
    nodes = await cluster(2)
    adapter = nodes[0].io.of("/").adapter
    assert isinstance(adapter, RedisStreamsAdapter)
    client = sync_redis.from_url(redis_url)
    pubsub = client.pubsub()
    pubsub.subscribe(adapter.public_channel)
    try:
        nodes[0].io.to("r").except_("x").emit("hi", 1)
        nodes[0].io.in_("r").sockets_join("j")
        nodes[0].io.emit("bin", b"\x01")
        await until(lambda: client.xlen(names["stream_name"]) >= 3)
        entries = client.xrange(names["stream_name"])
        fields = [{k.decode(): v.decode() for k, v in f.items()} for _id, f in entries]
        assert fields[0] == {
            "uid": adapter.uid,
            "nsp": "/",
            "type": "3",
            "data": json.dumps(
                {
                    "packet": {"type": 2, "data": ["hi", 1], "nsp": "/"},
                    "opts": {"rooms": ["r"], "except": ["x"], "flags": {}},
                },
                separators=(",", ":"),
            ),
        }
        assert fields[1]["type"] == "4"
        assert json.loads(fields[1]["data"]) == {
            "opts": {"rooms": ["r"], "except": [], "flags": {}},
            "rooms": ["j"],
        }
        assert msgpack_codec.decode(base64.b64decode(fields[2]["data"]))["packet"]["data"] == [
            "bin",
            b"\x01",
        ]
        # MAXLEN ~ 10000 (approximate trimming keeps the stream bounded)
        info = client.xinfo_stream(names["stream_name"])
        assert info["length"] == 3

        # requests are published as MessagePack on the public channel
        nodes[0].io.server_side_emit("ping", 1)
        message = None
        for _ in range(100):
            message = pubsub.get_message(timeout=0.05)
            if message and message["type"] == "message":
                break
            await asyncio.sleep(0)
        assert message is not None and message["type"] == "message"
        assert msgpack_codec.decode(message["data"]) == {
            "type": 9,
            "data": {"packet": ["ping", 1]},
            "uid": adapter.uid,
            "nsp": "/",
        }
    finally:
        pubsub.close()
        client.close()


# ---------------------------------------------------------------------------------- recovery
async def test_recovery_across_servers(
    cluster: StartCluster, redis_url: str, names: dict[str, str]
) -> None:
    nodes = await cluster(3, connection_state_recovery=True)
    client, sid = await nodes[0].connected()
    pid = client.last_connect["pid"]
    socket = nodes[0].io.of("/").sockets[sid]
    socket.join("room")
    socket.data = {"user": "ann"}
    other = await connect(nodes[2], 1)

    nodes[1].io.emit("before", 0)
    _nsp, _name, args = await client.next_event()
    offset = args[-1]
    assert args[:-1] == [0] and isinstance(offset, str) and "-" in offset
    # the same offset on every server: it is the stream entry id
    assert (await other[0].next_event())[2] == [0, offset]

    await client.abort()  # transport close: the session is kept in Redis
    await until(lambda: sid not in nodes[0].io.of("/").sockets)
    nodes[1].io.emit("missed", 1)
    nodes[2].io.to("room").emit("missed-room", 2)
    nodes[1].io.to("elsewhere").emit("not-for-me", 3)
    nodes[2].io.except_("room").emit("not-for-me", 4)
    nodes[0].io.volatile.emit("volatile", 5)
    key = names["session_key_prefix"] + pid
    probe = sync_redis.from_url(redis_url)
    try:
        await until(lambda: probe.exists(key) == 1)
        assert 0 < probe.pttl(key) <= 120_000
        stored = msgpack_codec.decode(base64.b64decode(probe.get(key)))
        assert stored == {
            "sid": sid,
            "pid": pid,
            "rooms": sorted([sid, "room"]),
            "data": {"user": "ann"},
        }
        await until(lambda: probe.xlen(names["stream_name"]) >= 6)
    finally:
        probe.close()

    back = await nodes[1].client()
    new_sid = await back.connect("/", {"pid": pid, "offset": offset})
    assert new_sid == sid and back.last_connect == {"sid": sid, "pid": pid}
    restored = nodes[1].io.of("/").sockets[sid]
    assert restored.recovered and restored.data == {"user": "ann"}
    assert "room" in restored.rooms
    got = [await back.next_event() for _ in range(2)]
    assert [(name, args[:-1]) for _nsp, name, args in got] == [
        ("missed", [1]),
        ("missed-room", [2]),
    ]
    assert all(isinstance(args[-1], str) for _nsp, _name, args in got)
    assert await back.no_event(0.2)

    # the session is gone once restored; an unknown offset or pid is a new session
    again = await nodes[2].client()
    await again.connect("/", {"pid": pid, "offset": offset})
    assert again.last_connect["sid"] != sid
    fresh = await nodes[2].client()
    await fresh.connect("/", {"pid": "nope", "offset": "1-0"})
    assert not nodes[2].io.of("/").sockets[fresh.sids["/"]].recovered
    # live broadcasts after the recovery carry offsets from which it can recover again
    nodes[2].io.to("room").emit("live")
    _nsp, name, args = await back.next_event()
    assert name == "live" and isinstance(args[-1], str)


async def test_recovery_of_socket_emits_and_on_the_same_server(cluster: StartCluster) -> None:
    nodes = await cluster(2, connection_state_recovery=True)
    client, sid = await nodes[0].connected()
    pid = client.last_connect["pid"]
    nodes[0].io.of("/").sockets[sid].emit("direct", 1)
    offset = (await client.next_event())[2][-1]
    await client.abort()
    await until(lambda: sid not in nodes[0].io.of("/").sockets)
    nodes[1].io.to(sid).emit("to-my-room", 2)
    assert await nodes[1].io.of("/").adapter.link.flush(5.0)  # type: ignore[attr-defined]
    back = await nodes[0].client()
    assert await back.connect("/", {"pid": pid, "offset": offset}) == sid
    assert nodes[0].io.of("/").sockets[sid].recovered
    _nsp, name, args = await back.next_event()
    assert (name, args[:-1]) == ("to-my-room", [2])


async def test_recovery_disabled_has_no_offsets(cluster: StartCluster) -> None:
    nodes = await cluster(2)
    b = await connect(nodes[1], 1)
    nodes[0].io.emit("plain", 1)
    assert await events(b) == [("plain", [1])]
    assert "pid" not in b[0].last_connect


# ---------------------------------------------------------------------------------- outages
async def test_reader_killed_reads_on_from_the_last_entry(
    cluster: StartCluster, redis_url: str
) -> None:
    nodes = await cluster(2, adapter_options={"reconnect_delay": (0.2, 0.5)})
    a = await connect(nodes[0], 1)
    b = await connect(nodes[1], 1)
    link = link_of(nodes[1])
    [reader_id] = subscriber_ids(redis_url, link.reader_name)
    [sub_id] = subscriber_ids(redis_url, link.pubsub.subscriber_name)
    kill_clients(redis_url, [reader_id, sub_id])
    await until(lambda: not link.reading)
    # written while the reader is away: read once it is back
    nodes[0].io.emit("while-away", 1)
    nodes[1].io.emit("local-goes-on", 2)
    assert await events(b) == [("local-goes-on", [2])]
    await until(lambda: link.reading and link.reconnects == 1, 3.0)
    assert await events(b) == [("while-away", [1])]
    assert await events(a + a) == [("while-away", [1]), ("local-goes-on", [2])]
    await wait_for_servers(nodes, 2)
    nodes[0].io.emit("after")
    assert (await events(b)) == [("after", [])]
    assert len(await nodes[1].io.fetch_sockets()) == 2


async def test_broker_outage_and_recovery(cluster: StartCluster, redis_url: str) -> None:
    """Redis unreachable: local delivery goes on (without offsets), writes wait, cluster
    requests fail clearly; then everything resumes without restarting the server."""
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = Proxy(port)
    await proxy.start()
    try:
        healthy = await cluster(1, connection_state_recovery=True)
        [flaky] = await cluster(
            1,
            redis=f"redis://127.0.0.1:{proxy.port}",
            adapter_options={
                "reconnect_delay": (0.02, 0.1),
                "health_check_interval": 0.5,
                "command_timeout": 0.5,
            },
            expect=2,
            connection_state_recovery=True,
        )
        nodes = [*healthy, flaky]
        a = await connect(healthy[0], 1)
        f = await connect(flaky, 1)
        link = link_of(flaky)

        await proxy.down()
        await until(lambda: not link.reading, 10.0)
        flaky.io.emit("during", 1)
        _nsp, name, args = await f[0].next_event()
        assert (name, args) == ("during", [1])  # no offset: the stream is out of reach
        with pytest.raises(ClusterError):
            await flaky.io.fetch_sockets()
        await asyncio.sleep(0.2)

        await proxy.start()
        await until(lambda: link.connected, 5.0)
        # the queued entry went out (with its entry id as offset on the healthy server)
        [(name, args)] = await events(a)
        assert name == "during" and args[0] == 1 and isinstance(args[1], str)
        await wait_for_servers(nodes, 2)
        healthy[0].io.emit("after")
        got = await events(a + f)
        assert [name for name, _ in got] == ["after", "after"]
        assert len(await flaky.io.fetch_sockets()) == 2
    finally:
        await proxy.close()


async def test_nothing_reachable(names: dict[str, str]) -> None:
    """The server starts and serves its own clients with no Redis at all; the queue is
    bounded; recovery finds nothing and connects as new."""
    factory = RedisStreamsAdapterFactory(
        "redis://127.0.0.1:9",
        **names,
        max_queue=5,
        reconnect_delay=(0.02, 0.05),
        connect_timeout=0.3,
    )
    node = SioServer(adapter=factory, connection_state_recovery=True)
    async with node:
        link = factory.link(node.io)
        a = await connect(node, 1)
        for i in range(8):
            node.io.emit("n", i)
        assert [(await events(a))[0][1] for _ in range(8)] == [[i] for i in range(8)]
        assert link.dropped >= 3 and len(link._queue) <= 5
        with pytest.raises(ClusterError):
            await node.io.of("/").adapter.server_count()
        client = await node.client()
        await client.connect("/", {"pid": "p", "offset": "1-0"})
        assert not node.io.of("/").sockets[client.sids["/"]].recovered


async def test_factory_options() -> None:
    with pytest.raises(ValueError, match="stream_count"):
        RedisStreamsAdapter.factory("redis://x", stream_count=0)


async def reconnected(redis_url: str, name: str, killed: set[str]) -> None:
    """Wait until a connection named ``name`` is up that is none of the ``killed`` ones."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while not set(subscriber_ids(redis_url, name)) - killed:
        assert loop.time() < deadline, f"no new connection {name}"
        await asyncio.sleep(0.05)


async def test_connections_killed_during_traffic(cluster: StartCluster, redis_url: str) -> None:
    """Readers and subscribers of both servers killed while broadcasts flow: each client gets
    every broadcast once, in the order of each sender (the readers go on from their last
    entry), and every link is back on new connections. Whether a kill is seen as a lost
    connection depends on when it lands: the reader's idle connection is replaced without a
    word by the next XREAD."""
    nodes = await cluster(
        2, adapter_options={"reconnect_delay": (0.05, 0.2)}, connection_state_recovery=True
    )
    a = await connect(nodes[0], 1)
    b = await connect(nodes[1], 1)

    async def traffic() -> None:
        for i in range(300):
            nodes[i % 2].io.emit("n", i)
            await asyncio.sleep(0.002)

    sender = asyncio.ensure_future(traffic())
    await asyncio.sleep(0.1)
    killed: list[set[str]] = []
    for node in nodes:
        link = link_of(node)
        ids = subscriber_ids(redis_url, link.reader_name)
        ids += subscriber_ids(redis_url, link.pubsub.subscriber_name)
        assert len(ids) == 2, ids
        kill_clients(redis_url, ids)
        killed.append(set(ids))
        await asyncio.sleep(0.1)
    await sender
    for client in a + b:
        got = [(await client.next_event(10.0))[2] for _ in range(300)]
        values = [args[0] for args in got]
        assert sorted(values) == list(range(300))  # all, once
        for parity in (0, 1):  # in the order of each sender
            mine = [v for v in values if v % 2 == parity]
            assert mine == sorted(mine)
        offsets = [args[1] for args in got]
        assert len(set(offsets)) == 300  # each its own stream entry
    assert await nothing(a + b)
    for node, ids in zip(nodes, killed, strict=True):  # every link recovered
        link = link_of(node)
        await reconnected(redis_url, link.reader_name, ids)
        await reconnected(redis_url, link.pubsub.subscriber_name, ids)
        await until(lambda link=link: link.connected, 10.0)
    await wait_for_servers(nodes, 2)
    for i, node in enumerate(nodes):  # and carries new broadcasts
        node.io.emit("after", i)
        assert await events(a + b) == [("after", [i, ANY]), ("after", [i, ANY])]


async def test_sharded_pubsub_and_several_streams(
    cluster: StartCluster, redis_url: str, names: dict[str, str]
) -> None:
    """``use_sharded_pubsub`` (SPUBLISH / SSUBSCRIBE, SHARDNUMSUB) and ``stream_count`` (each
    namespace on the stream its name hashes to, as Node computes it)."""
    nodes = await cluster(2, adapter_options={"use_sharded_pubsub": True, "stream_count": 3})
    for node in nodes:
        await node.io.of("/chat").adapter.init()
    await wait_for_servers(nodes, 2, nsp="/chat")
    main = await connect(nodes[1], 1)
    chat = await connect(nodes[1], 1, nsp="/chat")
    nodes[0].io.emit("m", 1)
    nodes[0].io.of("/chat").emit("c", 2)
    assert await events(main + chat) == [("m", [1]), ("c", [2])]
    nodes[1].io.on("ask", lambda x: x * 2)
    assert await nodes[0].io.server_side_emit_with_ack("ask", 21) == [42]
    assert len(await nodes[0].io.of("/chat").fetch_sockets()) == 1
    probe = sync_redis.from_url(redis_url)
    try:
        stream = names["stream_name"]
        assert stream_for_namespace("/", stream, 3) == f"{stream}-2"  # 47 % 3
        assert probe.xlen(f"{stream}-2") == 1
        assert probe.xlen(stream_for_namespace("/chat", stream, 3)) == 1
        assert probe.exists(stream) == 0
        probe.delete(*(f"{stream}-{i}" for i in range(3)))
    finally:
        probe.close()
