"""Broadcasting: rooms, exclusions, volatile, acknowledgements, cluster-wide operations."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosocketio.engine.socket import EngineSocket, Outgoing
from aiosocketio.errors import BroadcastAckError
from aiosocketio.server.socket import Socket
from aiosocketio.socketio.packets import DISCONNECT
from aiosocketio.transport.ws_protocol import WebSocketProtocol
from sioclient import SioClient, SioServer, until

ROOMS = {"a": ["r1"], "b": ["r1", "r2"], "c": ["r2"], "d": []}


class Group:
    """Four clients a, b, c, d in rooms r1 = {a, b}, r2 = {b, c}."""

    def __init__(self, srv: SioServer) -> None:
        self.srv = srv
        self.clients: dict[str, SioClient] = {}
        self.sockets: dict[str, Socket] = {}

    async def start(self) -> Group:
        for name, rooms in ROOMS.items():
            client, sid = await self.srv.connected()
            socket = self.srv.io.sockets.sockets[sid]
            socket.join(rooms)
            self.clients[name] = client
            self.sockets[name] = socket
        return self

    async def received(self, event: str = "x") -> list[str]:
        """Who got ``event`` (each name once per delivery), read up to an ``end`` marker."""
        self.srv.io.emit("end")
        got: list[str] = []
        for name, client in self.clients.items():
            while True:
                _, received, _ = await client.next_event()
                if received == "end":
                    break
                if received == event:
                    got.append(name)
        return got


@pytest.fixture
async def group():
    async with SioServer() as srv:
        yield await Group(srv).start()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (lambda io: io, ["a", "b", "c", "d"]),
        (lambda io: io.to("r1"), ["a", "b"]),
        (lambda io: io.in_("r2"), ["b", "c"]),
        (lambda io: io.to("r1", "r2"), ["a", "b", "c"]),
        (lambda io: io.to(["r1", "r2"]), ["a", "b", "c"]),
        (lambda io: io.to("r1").to("r2"), ["a", "b", "c"]),
        (lambda io: io.to("nobody"), []),
        (lambda io: io.except_("r2"), ["a", "d"]),
        (lambda io: io.except_("r1", "r2"), ["d"]),
        (lambda io: io.to("r1").except_("r2"), ["a"]),
        (lambda io: io.to("r1").except_("r1"), []),
        (lambda io: io.of("/").to("r2").except_("r1"), ["c"]),
        (lambda io: io.local.to("r1"), ["a", "b"]),
        (lambda io: io.compress(False).to("r1"), ["a", "b"]),
    ],
)
async def test_rooms_and_exclusions(group, target, expected):
    assert target(group.srv.io).emit("x", 1) is True
    assert await group.received() == expected


async def test_payload_delivered_intact(group):
    group.srv.io.to("r1").emit("x", {"k": [1, None]}, b"\x00\xff")
    for name in ("a", "b"):
        assert await group.clients[name].next_event() == ("/", "x", [{"k": [1, None]}, b"\x00\xff"])


async def test_socket_broadcast_excludes_sender(group):
    group.sockets["a"].broadcast.emit("x")
    assert await group.received() == ["b", "c", "d"]


async def test_socket_to_room_excludes_sender(group):
    group.sockets["a"].to("r1").emit("x")
    assert await group.received() == ["b"]
    group.sockets["b"].in_("r1", "r2").emit("x")
    assert await group.received() == ["a", "c"]
    group.sockets["a"].except_("r2").emit("x")
    assert await group.received() == ["d"]
    group.sockets["a"].broadcast.to(group.sockets["a"].id).emit("x")
    assert await group.received() == []


async def test_to_socket_id(group):
    group.srv.io.to(group.sockets["c"].id).emit("x")
    assert await group.received() == ["c"]


async def test_volatile_broadcast(group, monkeypatch):
    io = group.srv.io
    io.volatile.emit("x")
    assert await group.received() == ["a", "b", "c", "d"]
    monkeypatch.setattr(WebSocketProtocol, "buffered_amount", lambda self: 1)
    io.volatile.emit("x")
    io.volatile.to("r1").emit("x")
    monkeypatch.undo()
    assert await group.received() == []
    io.emit("x")
    assert await group.received() == ["a", "b", "c", "d"]


# ---------------------------------------------------------------------- acknowledgements
async def answer_all(group: Group, names: list[str], event: str = "q") -> None:
    for name in names:
        client = group.clients[name]
        packet = await client.next_event_packet()
        assert packet.data[0] == event
        client.ack(packet.id, name)


async def test_broadcast_with_ack_collects_every_response(group):
    io = group.srv.io
    task = asyncio.ensure_future(io.timeout(1).emit_with_ack("q"))
    await answer_all(group, ["a", "b", "c", "d"])
    assert sorted(await asyncio.wait_for(task, 1)) == ["a", "b", "c", "d"]

    task = asyncio.ensure_future(io.to("r2").timeout(1).emit_with_ack("q"))
    await answer_all(group, ["b", "c"])
    assert sorted(await asyncio.wait_for(task, 1)) == ["b", "c"]


async def test_broadcast_with_ack_callback(group):
    results: list[Any] = []
    group.srv.io.to("r1").timeout(1).emit("q", callback=lambda err, rs: results.append((err, rs)))
    await answer_all(group, ["a", "b"])
    await until(lambda: results)
    assert results[0][0] is None
    assert sorted(results[0][1]) == ["a", "b"]


async def test_broadcast_with_ack_from_a_socket(group):
    task = asyncio.ensure_future(group.sockets["a"].broadcast.timeout(1).emit_with_ack("q"))
    await answer_all(group, ["b", "c", "d"])
    assert sorted(await asyncio.wait_for(task, 1)) == ["b", "c", "d"]
    assert await group.clients["a"].no_event()


async def test_broadcast_with_ack_to_nobody(group):
    assert await group.srv.io.to("empty").timeout(1).emit_with_ack("q") == []


async def test_broadcast_with_ack_timeout_keeps_partial_responses(group):
    io = group.srv.io
    task = asyncio.ensure_future(io.to("r1").timeout(1.0).emit_with_ack("q"))
    await answer_all(group, ["a"])
    packet = await group.clients["b"].next_event_packet()  # b never answers
    with pytest.raises(BroadcastAckError) as info:
        await asyncio.wait_for(task, 5)
    assert info.value.responses == ["a"]
    group.clients["b"].ack(packet.id, "late")  # ignored


async def test_broadcast_with_ack_needs_a_timeout(group):
    with pytest.raises(ValueError):
        group.srv.io.emit("q", callback=lambda err, responses: None)
    with pytest.raises(ValueError):
        await group.srv.io.to("r1").emit_with_ack("q")


async def test_broadcast_with_ack_not_counting_a_departed_client(group):
    io = group.srv.io
    task = asyncio.ensure_future(io.to("r1").timeout(1.0).emit_with_ack("q"))
    await answer_all(group, ["a"])
    await group.clients["b"].next_event_packet()
    await group.clients["b"].close()
    with pytest.raises(BroadcastAckError) as info:
        await asyncio.wait_for(task, 5)
    assert info.value.responses == ["a"]


async def test_namespace_outgoing_listener_sees_broadcasts(group):
    seen: list[Any] = []
    group.srv.io.sockets.on_any_outgoing(lambda *args: seen.append(args))
    group.srv.io.to("r1").emit("x", 1)
    for name in ("a", "b"):
        assert await group.clients[name].next_event() == ("/", "x", [1])
    task = asyncio.ensure_future(group.srv.io.to("r2").timeout(1).emit_with_ack("q", 2))
    await answer_all(group, ["b", "c"])
    assert sorted(await asyncio.wait_for(task, 1)) == ["b", "c"]
    assert seen.count(("x", 1)) == 2
    assert seen.count(("q", 2)) == 2


# ---------------------------------------------------------------------- sockets operations
async def test_fetch_sockets(group):
    io = group.srv.io
    sockets = await io.fetch_sockets()
    assert {s.id for s in sockets} == {s.id for s in group.sockets.values()}
    in_r1 = await io.in_("r1").fetch_sockets()
    assert {s.id for s in in_r1} == {group.sockets["a"].id, group.sockets["b"].id}
    assert {"r1"} <= in_r1[0].rooms
    assert await io.in_("r1").except_("r2").fetch_sockets() == [group.sockets["a"]]
    assert await io.in_("nobody").fetch_sockets() == []


async def test_sockets_join_and_leave(group):
    io = group.srv.io
    io.in_("r1").sockets_join("r3")
    assert group.sockets["a"].rooms >= {"r3"}
    assert group.sockets["b"].rooms >= {"r3"}
    assert "r3" not in group.sockets["c"].rooms
    io.in_("r3").except_("r2").sockets_join(["r4", "r5"])
    assert io.sockets.adapter.rooms["r4"] == {group.sockets["a"].id}
    io.sockets_leave("r1")
    assert "r1" not in io.sockets.adapter.rooms
    io.to("r3").sockets_leave(["r3", "r4"])
    assert "r3" not in io.sockets.adapter.rooms
    assert "r4" not in io.sockets.adapter.rooms
    io.sockets_join("all")
    assert len(io.sockets.adapter.rooms["all"]) == 4


async def test_disconnect_sockets(group):
    io = group.srv.io
    io.in_("r2").disconnect_sockets()
    for name in ("b", "c"):
        packet = await group.clients[name].next_packet(types=(DISCONNECT,))
        assert packet.nsp == "/"
    await until(lambda: len(io.sockets.sockets) == 2)
    assert set(io.sockets.sockets) == {group.sockets["a"].id, group.sockets["d"].id}
    assert not group.clients["b"].is_closed  # the engine connection stays
    await group.clients["b"].connect()


async def test_disconnect_sockets_with_close(group):
    io = group.srv.io
    io.except_("r1").disconnect_sockets(close=True)
    for name in ("c", "d"):
        await group.clients[name].wait_closed()
    assert not group.clients["a"].is_closed
    assert set(io.sockets.sockets) == {group.sockets["a"].id, group.sockets["b"].id}


async def test_server_side_emit_in_memory(group):
    io = group.srv.io
    results: list[Any] = []
    assert io.server_side_emit("ping", 1, callback=lambda *args: results.append(args)) is True
    assert results == [(None, [])]
    assert io.server_side_emit("ping", 1) is True
    assert await io.server_side_emit_with_ack("ping") == []
    with pytest.raises(ValueError):
        io.server_side_emit("connect")
    with pytest.raises(ValueError):
        io.server_side_emit("new_namespace")
    for client in group.clients.values():
        assert await client.no_event(0.02)


async def test_server_side_listener_gets_events_from_the_adapter(group):
    got: list[Any] = []
    io = group.srv.io
    io.on("hello", lambda *args: got.append(args))
    io.sockets._on_server_side_emit(["hello", 1, "two"], None)
    assert got == [(1, "two")]


# ---------------------------------------------------------------------- encode once
@pytest.fixture
def outgoing(monkeypatch):
    calls: list[tuple[EngineSocket, Outgoing]] = []
    original = EngineSocket.write_outgoing

    def spy(self: EngineSocket, out: Outgoing) -> bool:
        calls.append((self, out))
        return original(self, out)

    monkeypatch.setattr(EngineSocket, "write_outgoing", spy)
    return calls


@pytest.mark.parametrize(
    ("target", "count"),
    [
        (lambda io: io, 4),
        (lambda io: io.to("r1", "r2"), 3),
        (lambda io: io.except_("r1"), 2),
    ],
)
@pytest.mark.parametrize(("args", "messages"), [((1, "text"), 1), ((b"\x01", {"b": b"\x02"}), 3)])
async def test_broadcast_encoded_once(group, outgoing, target, count, args, messages):
    target(group.srv.io).emit("x", *args)
    assert len(outgoing) == count
    assert len({id(out) for _, out in outgoing}) == 1
    assert len({id(esock) for esock, _ in outgoing}) == count
    packets = outgoing[0][1].packets
    assert len(packets) == messages
    assert isinstance(packets[0], str) and packets[0].startswith("4")
    assert len(await group.received()) == count


async def test_broadcast_with_ack_encoded_once(group, outgoing):
    task = asyncio.ensure_future(group.srv.io.timeout(1).emit_with_ack("q"))
    await answer_all(group, ["a", "b", "c", "d"])
    await asyncio.wait_for(task, 1)
    assert len(outgoing) == 4
    assert len({id(out) for _, out in outgoing}) == 1
