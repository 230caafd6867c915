"""The Redis adapters and the Redis emitter against a real Redis: clusters of two or three
Python servers in this process, each with its own standalone front door and raw clients.

Most scenarios run in both modes of @socket.io/redis-adapter 8.3: ``classic`` (PUBLISH /
PSUBSCRIBE) and ``sharded`` (SPUBLISH / SSUBSCRIBE with the ClusterAdapter messages). The wire
tests read what the adapters publish with a plain Redis connection and check it field by field.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("redis")
pytest.importorskip("msgpack")

import redis as sync_redis
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from aiosocketio import AckTimeout, Server, Socket
from aiosocketio.adapters import msgpack_codec
from aiosocketio.adapters.base import ClusterError, ClusterTimeout
from aiosocketio.adapters.cluster import (
    ClusterAdapterWithHeartbeat,
    RemoteSocket,
    decode_options,
    encode_options,
)
from aiosocketio.adapters.redis import (
    RedisAdapter,
    RedisLink,
    ShardedRedisAdapter,
)
from aiosocketio.adapters.redis_link import Subscriber, dedicated_pool
from aiosocketio.emitter import RedisEmitter
from helpers import Proxy
from sioclient import SioServer, until

from .helpers import (
    StartCluster,
    acks_of_a_room_with_one_silent_client,
    acks_of_every_client,
    binary_and_volatile,
    broadcast_reaches_every_server_once,
    chat_namespace_is_separate,
    colour_rooms,
    connect,
    events,
    fetch_team,
    held_numbers_reach_both,
    held_pair,
    joined_then_left,
    keep_reports,
    nothing,
    order_is_kept,
    remote_ack,
    remote_disconnect,
    server_count_after_a_close,
    server_socket,
    sockets_join_all_but_keep_out,
    wait_for_servers,
)

MODES = ["classic", "sharded"]


@pytest.fixture(params=MODES)
def sharded(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "sharded")


# ---------------------------------------------------------------------------------- codec
def test_msgpack_round_trip_and_notepack_forms() -> None:
    value = [
        1,
        -5,
        2**40,
        1.5,
        "héllo",
        b"\x00\xff",
        None,
        True,
        {"k": [1, {"n": None}]},
        datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC),
    ]
    assert msgpack_codec.decode(msgpack_codec.encode(value)) == value
    # bytearray and memoryview travel as bin
    assert msgpack_codec.decode(msgpack_codec.encode([bytearray(b"a"), memoryview(b"b")])) == [
        b"a",
        b"b",
    ]
    # notepack's legacy forms: undefined (fixext 1, type 0), ArrayBuffer (ext 8, type 0),
    # any other extension as [type, data]; a JS Date (timestamp 32)
    assert msgpack_codec.decode(bytes([0x91, 0xD4, 0x00, 0x00])) == [None]
    assert msgpack_codec.decode(bytes([0xC7, 0x03, 0x00, 1, 2, 3])) == b"\x01\x02\x03"
    assert msgpack_codec.decode(bytes([0xD5, 0x07, 9, 8])) == [7, b"\x09\x08"]
    assert msgpack_codec.decode(bytes([0xD6, 0xFF, 0, 0, 0, 10])) == datetime.datetime(
        1970, 1, 1, 0, 0, 10, tzinfo=datetime.UTC
    )
    # a naive datetime is UTC
    naive = datetime.datetime(2020, 1, 1)
    assert msgpack_codec.decode(msgpack_codec.encode(naive)) == naive.replace(tzinfo=datetime.UTC)
    with pytest.raises(ValueError):
        msgpack_codec.decode(b"\x92\x01")
    with pytest.raises(TypeError):
        msgpack_codec.encode(object())
    with pytest.raises(TypeError):
        msgpack_codec.encode(2**70)


def test_options_wire_form() -> None:
    from aiosocketio.adapters.base import BroadcastFlags, BroadcastOptions

    opts = BroadcastOptions(
        frozenset({"a"}), frozenset({"b"}), BroadcastFlags(volatile=True, timeout=1.5)
    )
    assert encode_options(opts) == {
        "rooms": ["a"],
        "except": ["b"],
        "flags": {"volatile": True, "timeout": 1500},
    }
    back = decode_options(encode_options(opts))
    assert back.rooms == opts.rooms and back.except_ == opts.except_
    assert back.flags.volatile and back.flags.timeout == 1.5 and not back.flags.local
    # JavaScript number rooms are their text form; garbage is no option at all
    assert decode_options({"rooms": [1, 2.0, "x"], "except": None}).rooms == {"1", "2", "x"}
    assert decode_options("nonsense").rooms == frozenset()


# ---------------------------------------------------------------------------------- broadcasts
async def test_broadcast_reaches_every_server_once(cluster: StartCluster, sharded: bool) -> None:
    await broadcast_reaches_every_server_once(await cluster(3, sharded=sharded))


async def test_rooms_and_except_across_servers(cluster: StartCluster, sharded: bool) -> None:
    nodes = await cluster(3, sharded=sharded)
    a, b, c = await colour_rooms(nodes)
    everyone = a + b + c

    nodes[2].io.to("red").emit("one-room")
    red = [a[0], b[0], c[0]]
    assert await events(red) == [("one-room", [])] * 3
    assert await nothing(everyone)

    # several rooms: each socket once, even when it is in both
    nodes[0].io.to("red").to("blue").emit("two-rooms", 2)
    assert await events([a[0], b[0], b[1], c[0]]) == [("two-rooms", [2])] * 4
    assert await nothing(everyone)

    nodes[1].io.to("red").except_("blue").emit("red-not-blue")
    assert await events([b[0], c[0]]) == [("red-not-blue", [])] * 2
    assert await nothing(everyone)

    nodes[0].io.except_("red").emit("not-red")
    assert await events([a[1], b[1]]) == [("not-red", [])] * 2
    assert await nothing(everyone)

    # a room only one server has; a socket's own room from another server
    nodes[0].io.to("green").emit("green")
    assert await events([c[0]]) == [("green", [])]
    nodes[0].io.to(b[1].sids["/"]).emit("private")
    assert await events([b[1]]) == [("private", [])]
    assert await nothing(everyone)

    # socket.broadcast: everyone but the sender, on every server
    server_socket(nodes[1], b[0]).broadcast.emit("from-b0")
    assert await events([a[0], a[1], b[1], c[0]]) == [("from-b0", [])] * 4
    server_socket(nodes[1], b[0]).to("red").emit("red-from-b0")
    assert await events([a[0], c[0]]) == [("red-from-b0", [])] * 2
    assert await nothing(everyone)


async def test_local_flag_stays_on_this_server(cluster: StartCluster, sharded: bool) -> None:
    nodes = await cluster(2, sharded=sharded)
    a = await connect(nodes[0], 1)
    b = await connect(nodes[1], 1)
    nodes[0].io.local.emit("local-only")
    assert await events(a) == [("local-only", [])]
    assert await nothing(b)
    server_socket(nodes[0], a[0]).join("r")
    server_socket(nodes[1], b[0]).join("r")
    nodes[1].io.local.to("r").emit("local-room")
    assert await events(b) == [("local-room", [])]
    assert await nothing(a)


async def test_namespaces_are_separate(cluster: StartCluster, sharded: bool) -> None:
    nodes = await cluster(2, sharded=sharded)
    main = await connect(nodes[1], 1)
    chat = await chat_namespace_is_separate(nodes, main)
    nodes[0].io.emit("in-main")
    assert await events(main) == [("in-main", [])]
    assert await nothing(chat)


async def test_binary_and_volatile_across_servers(cluster: StartCluster, sharded: bool) -> None:
    await binary_and_volatile(await cluster(2, sharded=sharded))


async def test_order_is_kept(cluster: StartCluster, sharded: bool) -> None:
    nodes = await cluster(2, sharded=sharded)
    b = await connect(nodes[1], 1)
    await order_is_kept(nodes, b[0], settle=0.05)


# ---------------------------------------------------------------------------------- acks
async def test_broadcast_with_acks_across_servers(cluster: StartCluster, sharded: bool) -> None:
    nodes = await cluster(3, sharded=sharded)
    clients = await acks_of_every_client(nodes, lambda i: f"answer-{i}")
    # a room across servers, and one client that never answers: the error has the others
    await acks_of_a_room_with_one_silent_client(nodes, clients, lambda i: i, settle=0.05)


async def test_server_count(cluster: StartCluster, sharded: bool) -> None:
    await server_count_after_a_close(await cluster(3, sharded=sharded))


# ---------------------------------------------------------------------------------- sockets
async def test_fetch_sockets_across_servers(cluster: StartCluster, sharded: bool) -> None:
    nodes = await cluster(3, sharded=sharded)
    a, b, c, found, b0 = await fetch_team(nodes, {"score": 7})
    local = [s for s in found if isinstance(s, Socket)]
    remote = [s for s in found if isinstance(s, RemoteSocket)]
    assert [s.id for s in local] == [a[0].sids["/"]]
    assert len(remote) == 3
    assert b0.handshake.url.startswith("/socket.io/")
    assert b0.handshake.address == "127.0.0.1"
    assert isinstance(b0.handshake.issued, int) and b0.handshake.time

    not_team = await nodes[2].io.except_("team").fetch_sockets()
    assert {s.id for s in not_team} == {a[0].sids["/"], b[1].sids["/"]}
    assert [s.id for s in await nodes[0].io.local.fetch_sockets()] == [a[0].sids["/"]]

    # a remote socket acts through the cluster
    b0.emit("direct", 1)
    assert await events([b[0]]) == [("direct", [1])]
    assert await nothing(a + b + c)
    b0.join("vip")
    await until(lambda: "vip" in server_socket(nodes[1], b[0]).rooms)
    b0.leave("team")
    await until(lambda: "team" not in server_socket(nodes[1], b[0]).rooms)
    await remote_ack(b0, b[0])
    with pytest.raises(AckTimeout):
        await b0.emit_with_ack("ask", timeout=0.2)
    await remote_disconnect(nodes, b0, b[0])


async def test_sockets_join_leave_disconnect(cluster: StartCluster, sharded: bool) -> None:
    nodes = await cluster(3, sharded=sharded)
    a, b, joined = await sockets_join_all_but_keep_out(nodes)
    # here at once; elsewhere when the message arrived
    assert {"room1", "room2"} <= joined[0].rooms
    await joined_then_left(nodes, b, joined)
    assert all("room1" in s.rooms for s in joined)

    nodes[1].io.in_("room1").except_(a[0].sids["/"]).disconnect_sockets()
    await until(lambda: not nodes[2].io.of("/").sockets)
    await until(lambda: len(nodes[1].io.of("/").sockets) == 1)
    assert len(nodes[0].io.of("/").sockets) == 1
    # close=True ends the whole connection of the clients
    nodes[0].io.disconnect_sockets(close=True)
    assert await b[1].wait_closed(2.0)
    assert await a[0].wait_closed(2.0)


async def test_server_side_emit(cluster: StartCluster, sharded: bool) -> None:
    nodes = await cluster(3, sharded=sharded, request_timeout=0.5)
    got: list[tuple[int, tuple[Any, ...]]] = []
    for i, node in enumerate(nodes):

        def on_hello(*args: Any, i: int = i) -> str:
            got.append((i, args))
            return f"hello from {i}"

        node.io.on("hello", on_hello)

    nodes[0].io.server_side_emit("hello", 1, {"two": 2}, b"\x03")
    await until(lambda: len(got) == 2)
    assert sorted(got) == [(1, (1, {"two": 2}, b"\x03")), (2, (1, {"two": 2}, b"\x03"))]

    got.clear()
    responses = await nodes[1].io.server_side_emit_with_ack("hello", "x")
    assert sorted(responses) == ["hello from 0", "hello from 2"]
    assert sorted(i for i, _ in got) == [0, 2]

    # a handler with ack=, answering later, and one with no answer at all (the requester's
    # error keeps what came)
    async def slow(value: Any, ack: Any) -> None:
        await asyncio.sleep(0.05)
        ack(value * 2)

    nodes[0].io.on("double", slow)
    nodes[1].io.on("double", slow)
    assert await nodes[2].io.server_side_emit_with_ack("double", 21) == [42, 42]
    with pytest.raises(ClusterTimeout) as info:
        await nodes[0].io.server_side_emit_with_ack("double", 1)
    assert info.value.responses == [2] and info.value.expected == 2
    assert "1 of 2 servers answered" in str(info.value)


async def test_request_timeout_of_a_silent_server(
    cluster: StartCluster, redis_url: str, redis_key: str, sharded: bool
) -> None:
    """A server that counts (it subscribes) but never answers: a clear timeout error."""
    nodes = await cluster(2, sharded=sharded, request_timeout=0.3)
    silent = Redis.from_url(redis_url)
    pubsub = silent.pubsub()
    try:
        if sharded:
            await pubsub.ssubscribe(f"{redis_key}#/#")
        else:
            await pubsub.subscribe(f"{redis_key}-request#/#")
        await wait_for_servers(nodes, 3)
        with pytest.raises(ClusterTimeout, match="fetch_sockets"):
            await nodes[0].io.fetch_sockets()
        with pytest.raises(ClusterTimeout, match="server_side_emit"):
            nodes[1].io.on("x", lambda: "ok")
            await nodes[0].io.server_side_emit_with_ack("x")
    finally:
        await pubsub.aclose()
        await silent.aclose()


async def test_responses_on_the_specific_channel(cluster: StartCluster) -> None:
    """publishOnSpecificResponseChannel: answers go to ``<key>-response#<nsp>#<uid>#``."""
    nodes = await cluster(3, adapter_options={"publish_on_specific_response_channel": True})
    for i, node in enumerate(nodes):
        node.io.on("who", lambda i=i: i)
    await connect(nodes[1], 1)
    await connect(nodes[2], 2)
    assert len(await nodes[0].io.fetch_sockets()) == 3
    assert sorted(await nodes[0].io.server_side_emit_with_ack("who")) == [1, 2]
    assert len(await nodes[0].io.of("/").adapter.all_rooms()) == 3  # type: ignore[attr-defined]


async def test_adapter_closed_fails_pending_requests(cluster: StartCluster) -> None:
    nodes = await cluster(2, request_timeout=2.0)
    nodes[1].io.on("never", lambda *args, ack: None)  # takes ack, never calls it
    task = asyncio.ensure_future(nodes[0].io.server_side_emit_with_ack("never"))
    await asyncio.sleep(0.1)
    await nodes[0].io.of("/").adapter.close()
    with pytest.raises(ClusterError, match="closed"):
        await asyncio.wait_for(task, 1.0)


# ---------------------------------------------------------------------------------- wire format
@contextlib.asynccontextmanager
async def listen(
    redis_url: str, *channels: str, pattern: bool = False, shard: bool = False
) -> AsyncIterator[Any]:
    client = Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    if pattern:
        await pubsub.psubscribe(*channels)
    elif shard:
        await pubsub.ssubscribe(*channels)
    else:
        await pubsub.subscribe(*channels)

    async def next_message(timeout: float = 1.0) -> tuple[str, bytes]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            message = await pubsub.get_message(timeout=0.05)
            if message is not None:
                return message["channel"].decode(), message["data"]
        raise TimeoutError("no message")

    try:
        yield next_message
    finally:
        await pubsub.aclose()
        await client.aclose()


async def test_classic_wire_format(cluster: StartCluster, redis_url: str, redis_key: str) -> None:
    nodes = await cluster(1)
    adapter = nodes[0].io.of("/").adapter
    assert isinstance(adapter, RedisAdapter)
    uid = adapter.uid
    async with listen(redis_url, f"{redis_key}#/#*", pattern=True) as next_message:
        nodes[0].io.to("r1").emit("ev", 1, b"\x02")
        channel, data = await next_message()
        assert channel == f"{redis_key}#/#r1#"
        assert msgpack_codec.decode(data) == [
            uid,
            {"type": 2, "data": ["ev", 1, b"\x02"], "nsp": "/"},
            {"rooms": ["r1"], "except": [], "flags": {}},
        ]
        nodes[0].io.to("a").to("b").except_("c").volatile.emit("ev2")
        channel, data = await next_message()
        assert channel == f"{redis_key}#/#"
        message = msgpack_codec.decode(data)
        assert sorted(message[2]["rooms"]) == ["a", "b"]
        assert message[2]["except"] == ["c"] and message[2]["flags"] == {"volatile": True}

    async with listen(redis_url, f"{redis_key}-request#/#") as next_message:
        nodes[0].io.in_("r").sockets_join("j")
        assert json.loads((await next_message())[1]) == {
            "uid": uid,
            "type": 2,
            "opts": {"rooms": ["r"], "except": []},
            "rooms": ["j"],
        }
        nodes[0].io.disconnect_sockets(True)
        assert json.loads((await next_message())[1]) == {
            "uid": uid,
            "type": 4,
            "opts": {"rooms": [], "except": []},
            "close": True,
        }
        nodes[0].io.server_side_emit("sse", [1])
        assert json.loads((await next_message())[1]) == {
            "uid": uid,
            "type": 6,
            "data": ["sse", [1]],
        }
        # with binary: MessagePack, which the Node adapter reads too
        nodes[0].io.server_side_emit("sse", b"\x01")
        assert msgpack_codec.decode((await next_message())[1]) == {
            "uid": uid,
            "type": 6,
            "data": ["sse", b"\x01"],
        }
        with pytest.raises(BaseException):  # noqa: B017 - the ack broadcast times out
            await nodes[0].io.timeout(0.05).emit_with_ack("q", 1)
        request = msgpack_codec.decode((await next_message())[1])
        assert request == {
            "uid": uid,
            "requestId": request["requestId"],
            "type": 7,
            "packet": {"type": 2, "data": ["q", 1], "nsp": "/"},
            "opts": {"rooms": [], "except": [], "flags": {"timeout": 50}},
        }


async def test_classic_answers_every_request_type(
    cluster: StartCluster, redis_url: str, redis_key: str
) -> None:
    """Requests as a Node server sends them, answered as a Node server answers them."""
    nodes = await cluster(1)
    a = await connect(nodes[0], 2, token="t")
    server_socket(nodes[0], a[0]).join("room")
    server_socket(nodes[0], a[0]).data = {"d": 1}
    nodes[0].io.on("sse", lambda x: x + 1)
    request_channel = f"{redis_key}-request#/#"
    publisher = Redis.from_url(redis_url)

    async def ask(request: Any, binary: bool = False) -> None:
        data = msgpack_codec.encode(request) if binary else json.dumps(request)
        await publisher.publish(request_channel, data)

    try:
        async with listen(redis_url, f"{redis_key}-response#/#") as next_message:
            await ask({"uid": "node1", "requestId": "r0", "type": 0, "rooms": ["room"]})
            assert json.loads((await next_message())[1]) == {
                "requestId": "r0",
                "sockets": [a[0].sids["/"]],
            }
            await ask({"uid": "node1", "requestId": "r1", "type": 1})
            rooms = json.loads((await next_message())[1])
            assert rooms["requestId"] == "r1"
            assert sorted(rooms["rooms"]) == sorted(["room", a[0].sids["/"], a[1].sids["/"]])

            await ask({"uid": "node1", "requestId": "r5", "type": 5, "opts": {"rooms": ["room"]}})
            fetched = json.loads((await next_message())[1])
            assert fetched["requestId"] == "r5"
            [entry] = fetched["sockets"]
            assert entry["id"] == a[0].sids["/"] and entry["data"] == {"d": 1}
            assert sorted(entry["rooms"]) == sorted(["room", a[0].sids["/"]])
            assert entry["handshake"]["auth"] == {"token": "t"}
            assert set(entry["handshake"]) >= {
                "headers",
                "time",
                "address",
                "xdomain",
                "secure",
                "issued",
                "url",
                "query",
                "auth",
            }

            await ask({"uid": "node1", "requestId": "r6", "type": 6, "data": ["sse", 41]})
            assert json.loads((await next_message())[1]) == {
                "type": 6,
                "requestId": "r6",
                "data": 42,
            }

            # the older single-socket forms are answered with the request id
            await ask(
                {"uid": "n", "requestId": "j1", "type": 2, "sid": a[1].sids["/"], "room": "x"}
            )
            assert json.loads((await next_message())[1]) == {"requestId": "j1"}
            assert "x" in server_socket(nodes[0], a[1]).rooms
            await ask(
                {"uid": "n", "requestId": "l1", "type": 3, "sid": a[1].sids["/"], "room": "x"}
            )
            assert json.loads((await next_message())[1]) == {"requestId": "l1"}
            assert "x" not in server_socket(nodes[0], a[1]).rooms

            # broadcast with ack: the client count (JSON), then each ack (MessagePack)
            await ask(
                {
                    "uid": "node1",
                    "requestId": "b7",
                    "type": 7,
                    "packet": {"type": 2, "data": ["q", b"\x01"], "nsp": "/"},
                    "opts": {"rooms": ["room"], "except": [], "flags": {"timeout": 1000}},
                },
                binary=True,
            )
            assert json.loads((await next_message())[1]) == {
                "type": 8,
                "requestId": "b7",
                "clientCount": 1,
            }
            packet = await a[0].next_event_packet()
            assert packet.data == ["q", b"\x01"]
            a[0].ack(packet.id, "ok", 2)
            assert msgpack_codec.decode((await next_message())[1]) == {
                "type": 9,
                "requestId": "b7",
                "packet": ["ok", 2],
            }

            await ask(
                {
                    "uid": "n",
                    "requestId": "d4",
                    "type": 4,
                    "sid": a[1].sids["/"],
                    "close": False,
                }
            )
            assert json.loads((await next_message())[1]) == {"requestId": "d4"}
            await until(lambda: len(nodes[0].io.of("/").sockets) == 1)
            # garbage is ignored
            await publisher.publish(request_channel, b"\xc1 nonsense")
            await publisher.publish(request_channel, b"{not json")
            await publisher.publish(f"{redis_key}#/#", b"\xc1")
            await ask({"uid": "node1", "requestId": "r1b", "type": 1})
            assert json.loads((await next_message())[1])["requestId"] == "r1b"
    finally:
        await publisher.aclose()


async def test_sharded_wire_format(cluster: StartCluster, redis_url: str, redis_key: str) -> None:
    nodes = await cluster(1, sharded=True)
    adapter = nodes[0].io.of("/").adapter
    assert isinstance(adapter, ShardedRedisAdapter)
    uid = adapter.uid
    main = f"{redis_key}#/#"
    async with listen(redis_url, main, f"{main}public#", shard=True) as next_message:
        nodes[0].io.to("public").emit("ev", 1)  # one public room: its own channel
        channel, data = await next_message()
        assert channel == f"{main}public#"
        assert json.loads(data) == {
            "type": 3,
            "data": {
                "packet": {"type": 2, "data": ["ev", 1], "nsp": "/"},
                "opts": {"rooms": ["public"], "except": [], "flags": {}},
            },
            "uid": uid,
            "nsp": "/",
        }
        sid_like = "x" * 20  # looks like a socket id: the main channel
        nodes[0].io.to(sid_like).emit("ev", b"\x01")
        channel, data = await next_message()
        assert channel == main
        assert msgpack_codec.decode(data)["data"]["packet"]["data"] == ["ev", b"\x01"]
        nodes[0].io.in_("r").sockets_leave("s")
        channel, data = await next_message()
        assert json.loads(data) == {
            "type": 5,
            "data": {"opts": {"rooms": ["r"], "except": [], "flags": {}}, "rooms": ["s"]},
            "uid": uid,
            "nsp": "/",
        }


# ---------------------------------------------------------------------------------- emitter
@pytest.mark.parametrize("client_kind", ["async", "sync"])
async def test_python_emitter_drives_the_servers(
    cluster: StartCluster, redis_url: str, redis_key: str, client_kind: str
) -> None:
    nodes = await cluster(2)
    for node in nodes:
        await node.io.of("/admin").adapter.init()
    a = await connect(nodes[0], 2)
    b = await connect(nodes[1], 1)
    admin = await connect(nodes[1], 1, nsp="/admin")
    everyone = a + b + admin
    server_socket(nodes[0], a[0]).join("r")
    server_socket(nodes[1], b[0]).join(["r", "s"])
    got: list[Any] = []
    nodes[1].io.on("from-emitter", lambda *args: got.append(args))

    client: Any = (
        Redis.from_url(redis_url) if client_kind == "async" else sync_redis.from_url(redis_url)
    )

    async def run(result: Any) -> None:
        if client_kind == "async":
            await result

    emitter = RedisEmitter(client, key=redis_key)
    try:
        await run(emitter.emit("all", 1, b"\x01"))
        assert await events(a + b) == [("all", [1, b"\x01"])] * 3
        await run(emitter.to("r").except_("s").emit("r-not-s"))
        assert await events([a[0]]) == [("r-not-s", [])]
        await run(emitter.to("r").to("s").volatile.compress(False).emit("two"))
        assert await events([a[0], b[0]]) == [("two", [])] * 2
        await run(emitter.of("admin").emit("admins", {"k": "v"}))
        assert await events(admin) == [("admins", [{"k": "v"}])]
        assert await nothing(everyone)

        await run(emitter.in_("s").sockets_join("joined"))
        await until(lambda: "joined" in server_socket(nodes[1], b[0]).rooms)
        await run(emitter.sockets_leave("r"))
        await until(lambda: "r" not in server_socket(nodes[0], a[0]).rooms)
        await run(emitter.server_side_emit("from-emitter", 5))
        await until(lambda: got == [(5,)])
        with pytest.raises(ValueError, match="acknowledgements"):
            emitter.server_side_emit("x", lambda: None)
        with pytest.raises(ValueError, match="reserved"):
            emitter.emit("connect")
        await run(emitter.except_("joined").disconnect_sockets())
        await until(lambda: not nodes[0].io.of("/").sockets)
        assert len(nodes[1].io.of("/").sockets) == 1
    finally:
        if client_kind == "async":
            await client.aclose()
        else:
            client.close()


# ---------------------------------------------------------------------------------- heartbeat
class HeartbeatShardedAdapter(ClusterAdapterWithHeartbeat, ShardedRedisAdapter):
    """The heartbeat variant of the ClusterAdapter (Redis Streams, PostgreSQL) over the sharded
    Redis transport: the server count comes from the heartbeats, not from Redis."""

    def __init__(self, nsp: Any, link: RedisLink, key: str) -> None:
        ShardedRedisAdapter.__init__(self, nsp, link, key=key, request_timeout=5.0)
        # a loaded machine may stall a process: a timeout well above the interval
        self.init_heartbeat(interval=0.1, timeout=3.0)


async def test_cluster_adapter_with_heartbeat(redis_url: str, redis_key: str) -> None:
    from aiosocketio.adapters.redis import RedisAdapterFactory

    class Factory(RedisAdapterFactory):
        def __call__(self, nsp: Any) -> Any:
            return HeartbeatShardedAdapter(nsp, self.link(nsp.server), key=self.key)

    factory = Factory(redis_url, key=redis_key, sharded=True)
    nodes = [SioServer(adapter=factory) for _ in range(3)]
    try:
        for node in nodes:
            await node.__aenter__()
        adapters = [n.io.of("/").adapter for n in nodes]
        await until(lambda: all(len(a.nodes) == 2 for a in adapters))
        assert [await a.server_count() for a in adapters] == [3, 3, 3]
        for i, node in enumerate(nodes):
            node.io.on("who", lambda i=i: i)
        assert sorted(await nodes[0].io.server_side_emit_with_ack("who")) == [1, 2]
        b = await connect(nodes[1], 1)
        assert {s.id for s in await nodes[0].io.fetch_sockets()} == {b[0].sids["/"]}
        # heartbeats keep idle servers known, past the timeout
        await asyncio.sleep(3.5)
        assert all(len(a.nodes) == 2 for a in adapters)
        # a server that closes says so
        await nodes[2].close()
        await until(lambda: all(len(a.nodes) == 1 for a in adapters[:2]), 2.0)  # not 3 s
        assert sorted(await nodes[1].io.server_side_emit_with_ack("who")) == [0]
    finally:
        for node in nodes:
            await node.close()


# ---------------------------------------------------------------------------------- outages
def subscriber_ids(redis_url: str, name: str) -> list[str]:
    client = sync_redis.from_url(redis_url)
    try:
        return [str(c["id"]) for c in client.client_list() if c.get("name") == name]
    finally:
        client.close()


def kill_clients(redis_url: str, ids: list[str]) -> None:
    client = sync_redis.from_url(redis_url)
    try:
        for client_id in ids:
            client.execute_command("CLIENT", "KILL", "ID", client_id)
    finally:
        client.close()


async def test_a_killed_subscriber_does_not_come_back_on_its_own(
    redis_url: str, redis_key: str
) -> None:
    """redis-py 8 connects a PubSub again (and subscribes again) before it raises the error of
    a lost connection; the link's subscriber stays lost, so the link's view (unsubscribed,
    held) is Redis's view."""
    client = Redis.from_url(redis_url)
    name = f"{redis_key}-sub"
    pool = dedicated_pool(client, name, connections=2)
    subscriber = Subscriber(pool, ignore_subscribe_messages=False)
    channel = f"{redis_key}-channel"
    try:
        await subscriber.subscribe(channel)
        assert (await subscriber.get_message(timeout=5.0) or {}).get("type") == "subscribe"
        kill_clients(redis_url, subscriber_ids(redis_url, name))
        with pytest.raises(RedisConnectionError):
            await subscriber.get_message(timeout=5.0)
        assert subscriber_ids(redis_url, name) == []
        assert await client.pubsub_numsub(channel) == [(channel.encode(), 0)]
    finally:
        await subscriber.aclose()
        await pool.aclose()
        await client.aclose()


async def test_subscriber_killed_recovers(
    cluster: StartCluster, redis_url: str, sharded: bool
) -> None:
    nodes = await cluster(2, sharded=sharded)
    a = await connect(nodes[0], 1)
    b = await connect(nodes[1], 1)
    server_socket(nodes[1], b[0]).join("room")
    await asyncio.sleep(0.05)
    adapter = nodes[1].io.of("/").adapter
    link: RedisLink = adapter.link  # type: ignore[attr-defined]
    [client_id] = subscriber_ids(redis_url, link.subscriber_name)
    kill_clients(redis_url, [client_id])
    # local delivery never stops (and publishing has its own connection)
    nodes[1].io.emit("still-works")
    assert await events(a + b) == [("still-works", [])] * 2
    await until(lambda: link.reconnects == 1 and link.connected, 3.0)
    assert subscriber_ids(redis_url, link.subscriber_name) != [client_id]
    await wait_for_servers(nodes, 2)
    nodes[0].io.to("room").emit("after")  # the dynamic room channel too (sharded)
    assert await events(b) == [("after", [])]
    nodes[1].io.emit("back")
    assert await events(a + b) == [("back", [])] * 2
    assert len(await nodes[0].io.fetch_sockets()) == 2


async def test_broker_outage_and_recovery(
    cluster: StartCluster, redis_url: str, sharded: bool
) -> None:
    """Redis unreachable for a while: local delivery goes on, cluster requests fail clearly,
    broadcasts wait in the queue; then everything resumes without restarting the server."""
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = Proxy(port)
    await proxy.start()
    proxied = f"redis://127.0.0.1:{proxy.port}"
    try:
        healthy = await cluster(1, sharded=sharded)
        [flaky] = await cluster(
            1,
            sharded=sharded,
            redis=proxied,
            adapter_options={"reconnect_delay": (0.02, 0.1), "health_check_interval": 0.5},
            expect=2,
        )
        nodes = [*healthy, flaky]
        await wait_for_servers(nodes, 2)
        a = await connect(healthy[0], 1)
        f = await connect(flaky, 1)
        link: RedisLink = flaky.io.of("/").adapter.link  # type: ignore[attr-defined]

        await proxy.down()
        await until(lambda: not link.connected, 10.0)
        flaky.io.emit("during", 1)  # local at once; published after the outage
        assert await events(f) == [("during", [1])]
        with pytest.raises(ClusterError):
            await flaky.io.fetch_sockets()
        await asyncio.sleep(0.2)  # a few failed reconnections

        await proxy.start()
        await until(lambda: link.connected, 3.0)
        assert link.reconnects == 1
        assert await events(a) == [("during", [1])]  # the queued broadcast went out
        await wait_for_servers(nodes, 2)
        healthy[0].io.emit("after")
        assert await events(a + f) == [("after", [])] * 2
        assert len(await flaky.io.fetch_sockets()) == 2
    finally:
        await proxy.close()


# ---------------------------------------------------------------------------------- resync
def links(nodes: list[SioServer]) -> list[RedisLink]:
    return [node.io.of("/").adapter.link for node in nodes]  # type: ignore[attr-defined]


async def test_message_to_fewer_servers_is_reported(
    cluster: StartCluster, redis_url: str, sharded: bool
) -> None:
    """Only B's subscriber goes away: A does not know, but Redis answers each PUBLISH with
    the number of receivers, so every broadcast B misses is reported by A, one by one."""
    nodes, b_back = await held_pair(cluster, sharded=sharded)
    a, b = await connect(nodes[0], 1), await connect(nodes[1], 1)
    link_a, link_b = links(nodes)
    reports = keep_reports(link_a)
    kill_clients(redis_url, subscriber_ids(redis_url, link_b.subscriber_name))
    await until(lambda: not link_b.connected, 10.0)
    for i in range(5):
        nodes[0].io.emit("n", i)
    assert [args for _, args in await events(a * 5)] == [[i] for i in range(5)]
    await until(lambda: link_a.resync.reported["short"] == 5, 10.0)
    assert await nothing(b)  # B missed them all, and A said so
    assert [(r.kind, r.messages) for r in reports] == [("short", 1)] * 5
    assert "1 of 2 servers" in reports[0].detail
    assert not link_a.resync.held  # A saw no outage of its own: it never held anything
    b_back.set()
    await until(lambda: link_b.connected, 10.0)
    await wait_for_servers(nodes, 2)
    nodes[0].io.emit("after")
    assert await events(a + b) == [("after", [])] * 2
    assert link_a.resync.reported["short"] == 5
    assert link_b.resync.reported["deaf"] == 1


async def test_deaf_window_starts_at_the_last_sign_of_life(
    cluster: StartCluster, redis_url: str, sharded: bool
) -> None:
    """A busy server notices a lost subscriber late: its deaf window starts at the
    subscriber's last sign of life, so what went by before it noticed falls inside."""
    [node] = await cluster(1, sharded=sharded)
    link = links([node])[0]
    reports = keep_reports(link)
    cut = time.time()
    kill_clients(redis_url, subscriber_ids(redis_url, link.subscriber_name))
    time.sleep(0.5)  # the server is busy: it notices the loss late
    await until(lambda: bool(reports), 10.0)
    [deaf] = reports
    assert deaf.kind == "deaf" and deaf.since <= cut < deaf.until


async def test_outage_holds_the_queue_until_the_servers_are_back(
    cluster: StartCluster, redis_url: str, sharded: bool
) -> None:
    """Every subscriber goes away (what a Redis restart does): A is back first and holds what
    it publishes until B is subscribed again, so B misses nothing and nothing is reported."""
    nodes, b_back = await held_pair(cluster, sharded=sharded)
    a, b = await connect(nodes[0], 1), await connect(nodes[1], 1)
    link_a, link_b = links(nodes)
    ids = [i for link in (link_a, link_b) for i in subscriber_ids(redis_url, link.subscriber_name)]
    kill_clients(redis_url, ids)
    await until(lambda: link_a.reconnects >= 1 and link_a.connected, 10.0)
    assert not link_b.connected and link_a.resync.held
    # while held, the server count includes the servers expected back
    assert await nodes[0].io.of("/").adapter.server_count() == 2
    await held_numbers_reach_both(nodes[0], a, b, b_back)
    await until(lambda: not link_a.resync.held, 10.0)
    assert link_a.resync.holds == 1
    assert link_a.resync.reported == {"short": 0, "unconfirmed": 0, "dropped": 0, "deaf": 1}


async def test_server_not_back_in_time_is_reported(
    cluster: StartCluster, redis_url: str, sharded: bool
) -> None:
    """A server that does not subscribe again within ``resync_timeout``: the held messages
    go out, reported as unconfirmed, and the lower count is the new normal."""
    nodes, _never = await held_pair(cluster, {"resync_timeout": 0.5}, sharded=sharded)
    a = await connect(nodes[0], 1)
    link_a, link_b = links(nodes)
    reports = keep_reports(link_a)
    ids = [i for link in (link_a, link_b) for i in subscriber_ids(redis_url, link.subscriber_name)]
    kill_clients(redis_url, ids)
    await until(lambda: link_a.reconnects == 1 and link_a.connected, 10.0)
    for i in range(3):
        nodes[0].io.emit("n", i)
    await events(a * 3)
    await until(lambda: not link_a.resync.held, 10.0)
    unconfirmed = [r for r in reports if r.kind == "unconfirmed"]
    assert [r.messages for r in unconfirmed] == [3]
    assert "1 of 2 servers" in unconfirmed[0].detail
    assert unconfirmed[0].since <= unconfirmed[0].until
    nodes[0].io.emit("later")  # reaches the one server now expected: nothing more to report
    await events(a)
    await asyncio.sleep(0.1)
    assert link_a.resync.reported["short"] == 0 and not link_a.resync.held


async def test_publish_queue_is_bounded(redis_key: str) -> None:
    """Nothing reachable at all: the server starts, serves its own clients, keeps at most
    ``max_queue`` messages and says how many it dropped."""
    factory = RedisAdapter.factory(
        "redis://127.0.0.1:9", key=redis_key, max_queue=5, reconnect_delay=(0.02, 0.05)
    )
    node = SioServer(adapter=factory)
    async with node:
        link = factory.link(node.io)
        a = await connect(node, 1)
        for i in range(8):
            node.io.emit("n", i)
        assert [(await events(a))[0][1][0] for _ in range(8)] == list(range(8))
        assert link.dropped >= 3 and len(link._queue) <= 5
        assert link.resync.reported["dropped"] == link.dropped  # each one reported
        assert not link.connected
        with pytest.raises(ClusterError):
            await node.io.of("/").adapter.server_count()


async def test_factory_options_and_errors() -> None:
    with pytest.raises(ValueError, match="subscription mode"):
        RedisAdapter.factory("redis://x", subscription_mode="sometimes")  # type: ignore[arg-type]
    io = Server(adapter=RedisAdapter.factory(lambda: "not a client"))  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match=r"not a redis\.asyncio\.Redis"):
        await io.of("/").adapter.init()
