"""The in-memory adapter: room bookkeeping, room hooks, socket selection, recovery storage."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from aiosocketio.adapters.base import Adapter, BroadcastFlags, BroadcastOptions, PersistedSession
from aiosocketio.adapters.memory import MemoryAdapter
from aiosocketio.server.server import RecoveryOptions, Server
from aiosocketio.socketio.packets import EVENT, Packet
from sioclient import SioServer

SIDS = ["s1", "s2", "s3", "s4", "s5"]
ROOMS = ["r1", "r2", "r3", "s1", "s2"]  # a socket's own id is a room too


class RecordingAdapter(MemoryAdapter):
    """Records the room hooks."""

    def __init__(self, nsp: Any) -> None:
        super().__init__(nsp)
        self.events: list[tuple[str, ...]] = []

    def on_create_room(self, room: str) -> None:
        self.events.append(("create", room))

    def on_delete_room(self, room: str) -> None:
        self.events.append(("delete", room))

    def on_join_room(self, room: str, sid: str) -> None:
        self.events.append(("join", room, sid))

    def on_leave_room(self, room: str, sid: str) -> None:
        self.events.append(("leave", room, sid))


def make_adapter(
    recovery: RecoveryOptions | bool | None = None, sockets: list[str] = ()
) -> RecordingAdapter:
    io = Server(adapter=RecordingAdapter, connection_state_recovery=recovery)
    nsp = io.of("/test")
    for sid in sockets:
        nsp.sockets[sid] = SimpleNamespace(id=sid)  # type: ignore[assignment]
    adapter = nsp.adapter
    assert isinstance(adapter, RecordingAdapter)
    return adapter


# ---------------------------------------------------------------------- rooms
def test_add_delete_delete_all():
    adapter = make_adapter()
    adapter.add_all("s1", ["a", "b"])
    adapter.add_all("s2", ["b"])
    assert adapter.rooms == {"a": {"s1"}, "b": {"s1", "s2"}}
    assert adapter.sids == {"s1": {"a", "b"}, "s2": {"b"}}
    adapter.delete("s1", "b")
    assert adapter.rooms == {"a": {"s1"}, "b": {"s2"}}
    adapter.delete("s1", "not-joined")
    adapter.delete("unknown", "a")
    adapter.delete_all("s1")
    assert adapter.rooms == {"b": {"s2"}}
    assert adapter.sids == {"s2": {"b"}}
    adapter.delete_all("s1")
    adapter.delete("s2", "b")
    assert adapter.rooms == {}
    assert adapter.sids == {"s2": set()}
    assert adapter.socket_rooms("s2") == set()
    assert adapter.socket_rooms("nobody") is None


def test_room_hooks():
    adapter = make_adapter()
    adapter.add_all("s1", ["a", "b"])
    adapter.add_all("s2", ["a", "a"])
    adapter.add_all("s1", ["a"])  # already in: no hook
    adapter.delete("s1", "a")
    adapter.delete("s1", "a")  # no longer in: no hook
    adapter.delete_all("s2")
    adapter.delete_all("s1")
    assert adapter.events == [
        ("create", "a"),
        ("join", "a", "s1"),
        ("create", "b"),
        ("join", "b", "s1"),
        ("join", "a", "s2"),
        ("leave", "a", "s1"),
        ("leave", "a", "s2"),
        ("delete", "a"),
        ("leave", "b", "s1"),
        ("delete", "b"),
    ]


class RoomMachine(RuleBasedStateMachine):
    """Random add_all / delete / delete_all compared with a plain model."""

    def __init__(self) -> None:
        super().__init__()
        self.adapter = make_adapter(sockets=SIDS[:4])
        self.model: dict[str, set[str]] = {}
        self.created: set[str] = set()

    @rule(sid=st.sampled_from(SIDS), rooms=st.lists(st.sampled_from(ROOMS), max_size=4))
    def add_all(self, sid: str, rooms: list[str]) -> None:
        self.adapter.add_all(sid, rooms)
        self.model.setdefault(sid, set()).update(rooms)

    @rule(sid=st.sampled_from(SIDS), room=st.sampled_from(ROOMS))
    def delete(self, sid: str, room: str) -> None:
        self.adapter.delete(sid, room)
        if sid in self.model:
            self.model[sid].discard(room)

    @rule(sid=st.sampled_from(SIDS))
    def delete_all(self, sid: str) -> None:
        self.adapter.delete_all(sid)
        self.model.pop(sid, None)

    @rule(
        rooms=st.frozensets(st.sampled_from(ROOMS)),
        except_=st.frozensets(st.sampled_from(ROOMS)),
    )
    def local_sockets(self, rooms: frozenset[str], except_: frozenset[str]) -> None:
        opts = BroadcastOptions(rooms, except_)
        got = [s.id for s in self.adapter.local_sockets(opts)]
        assert len(got) == len(set(got)), "a socket selected twice"
        expected = set()
        for sid in self.adapter.nsp.sockets:
            joined = self.model.get(sid, set())
            if rooms and not joined & rooms:
                continue
            if joined & except_:
                continue
            expected.add(sid)
        assert set(got) == expected
        if not except_:
            assert self.adapter.sockets(rooms) == expected

    @invariant()
    def consistent(self) -> None:
        adapter = self.adapter
        assert adapter.sids == self.model
        rooms: dict[str, set[str]] = {}
        for sid, joined in self.model.items():
            for room in joined:
                rooms.setdefault(room, set()).add(sid)
        assert adapter.rooms == rooms

    @invariant()
    def hooks_match(self) -> None:
        live: set[str] = set()
        members: set[tuple[str, str]] = set()
        for event in self.adapter.events:
            if event[0] == "create":
                assert event[1] not in live
                live.add(event[1])
            elif event[0] == "delete":
                live.remove(event[1])
            elif event[0] == "join":
                assert (event[1], event[2]) not in members
                members.add((event[1], event[2]))
            else:
                members.remove((event[1], event[2]))
        assert live == set(self.adapter.rooms)
        assert members == {(room, sid) for room, sids in self.adapter.rooms.items() for sid in sids}


RoomMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestRooms = RoomMachine.TestCase


def test_local_sockets_skips_unknown_sockets():
    adapter = make_adapter(sockets=["s1"])
    adapter.add_all("s1", ["r"])
    adapter.add_all("remote", ["r"])  # in a room but not a socket of this namespace
    assert [s.id for s in adapter.local_sockets(BroadcastOptions(frozenset({"r"})))] == ["s1"]
    assert adapter.sockets() == {"s1"}


# ---------------------------------------------------------------------- cluster operations
def test_server_side_emit_without_cluster():
    adapter = make_adapter()
    results: list[Any] = []
    adapter.server_side_emit(["event", 1], lambda err, responses: results.append((err, responses)))
    adapter.server_side_emit(["event", 1], None)
    assert results == [(None, [])]


async def test_server_count_and_base_adapter():
    adapter = make_adapter()
    assert await adapter.server_count() == 1
    base = Adapter(adapter.nsp)
    with pytest.raises(NotImplementedError):
        base.broadcast(Packet(EVENT, "/", ["x"]), BroadcastOptions())
    assert await base.restore_session("pid", "offset") is None


# ---------------------------------------------------------------------- recovery storage
def broadcast(adapter: MemoryAdapter, *data: Any, **opts: Any) -> Packet:
    packet = Packet(EVENT, adapter.nsp.name, list(data))
    adapter.broadcast(packet, BroadcastOptions(**opts))
    return packet


def session(pid: str = "pid", rooms: tuple[str, ...] = ("sid",)) -> PersistedSession:
    return PersistedSession("sid", pid, list(rooms), {"k": 1})


def test_no_offsets_without_recovery():
    adapter = make_adapter()
    assert broadcast(adapter, "x", 1).data == ["x", 1]


def test_offsets_are_unique_and_only_on_plain_events():
    adapter = make_adapter(recovery=True)
    offsets = [broadcast(adapter, "x").data[-1] for _ in range(50)]
    assert all(isinstance(o, str) for o in offsets)
    assert len(set(offsets)) == 50
    assert broadcast(adapter, "x", flags=BroadcastFlags(volatile=True)).data == ["x"]
    with_ack = Packet(EVENT, "/test", ["x"], 3)
    adapter.broadcast(with_ack, BroadcastOptions())
    assert with_ack.data == ["x"]


async def test_restore_session_missed_packets():
    adapter = make_adapter(recovery=True)
    offset = broadcast(adapter, "before").data[-1]
    adapter.persist_session(session(rooms=("sid", "room")))
    broadcast(adapter, "all")
    broadcast(adapter, "room", rooms=frozenset({"room"}))
    broadcast(adapter, "other", rooms=frozenset({"other"}))
    broadcast(adapter, "excluded", except_=frozenset({"room"}))
    broadcast(adapter, "direct", rooms=frozenset({"sid"}))
    broadcast(adapter, "volatile", flags=BroadcastFlags(volatile=True))
    restored = await adapter.restore_session("pid", offset)
    assert restored is not None
    assert restored.sid == "sid"
    assert restored.rooms == ["sid", "room"]
    assert restored.data == {"k": 1}
    assert [p[0] for p in restored.missed_packets] == ["all", "room", "direct"]
    # a session is restored once
    assert await adapter.restore_session("pid", offset) is None


async def test_restore_session_unknown():
    adapter = make_adapter(recovery=True)
    offset = broadcast(adapter, "x").data[-1]
    assert await adapter.restore_session("nobody", offset) is None
    adapter.persist_session(session())
    assert await adapter.restore_session("pid", "unknown-offset") is None


async def test_restore_session_expired(monkeypatch):
    adapter = make_adapter(recovery=RecoveryOptions(max_disconnection_duration=10))
    offset = broadcast(adapter, "x").data[-1]
    adapter.persist_session(session())
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + 11)
    assert await adapter.restore_session("pid", offset) is None


async def test_old_packets_are_forgotten(monkeypatch):
    adapter = make_adapter(recovery=RecoveryOptions(max_disconnection_duration=10))
    old = broadcast(adapter, "old").data[-1]
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + 5)
    recent = broadcast(adapter, "recent").data[-1]
    adapter.persist_session(session())
    monkeypatch.setattr(time, "monotonic", lambda: now + 12)
    broadcast(adapter, "new")
    assert await adapter.restore_session("pid", old) is None  # the offset is gone
    adapter.persist_session(session())
    restored = await adapter.restore_session("pid", recent)
    assert restored is not None
    assert [p[0] for p in restored.missed_packets] == ["new"]


async def test_max_packets():
    adapter = make_adapter(recovery=RecoveryOptions(max_packets=3))
    offsets = [broadcast(adapter, "x", i).data[-1] for i in range(5)]
    adapter.persist_session(session())
    assert await adapter.restore_session("pid", offsets[0]) is None
    adapter.persist_session(session())
    restored = await adapter.restore_session("pid", offsets[2])
    assert restored is not None
    assert [p[1] for p in restored.missed_packets] == [3, 4]


# ---------------------------------------------------------------------------------- room events
def test_room_events_in_nodes_order() -> None:
    adapter = make_adapter()
    seen: list[tuple[str, ...]] = []
    adapter.on("create-room", lambda room: seen.append(("create-room", room)))
    adapter.on("join-room", lambda room, sid: seen.append(("join-room", room, sid)))

    @adapter.on("leave-room")
    def left(room: str, sid: str) -> None:
        seen.append(("leave-room", room, sid))

    adapter.on("delete-room", lambda room: seen.append(("delete-room", room)))
    adapter.add_all("s1", ["s1", "r1"])
    adapter.add_all("s2", ["r1"])
    adapter.delete("s1", "r1")
    adapter.delete_all("s2")
    assert seen == [
        ("create-room", "s1"),
        ("join-room", "s1", "s1"),
        ("create-room", "r1"),
        ("join-room", "r1", "s1"),
        ("join-room", "r1", "s2"),
        ("leave-room", "r1", "s1"),
        ("leave-room", "r1", "s2"),
        ("delete-room", "r1"),
    ]
    # the subclass hooks still run, first
    assert adapter.events[:2] == [("create", "s1"), ("join", "s1", "s1")]
    seen.clear()
    adapter.off("leave-room", left)
    adapter.off("create-room")
    adapter.off("join-room", lambda room, sid: None)  # not a listener: nothing happens
    adapter.add_all("s3", ["r2"])
    adapter.delete_all("s3")
    assert seen == [("join-room", "r2", "s3"), ("delete-room", "r2")]


def test_room_event_names_and_failing_listeners(caplog: pytest.LogCaptureFixture) -> None:
    adapter = make_adapter()
    with pytest.raises(ValueError, match="unknown adapter event 'room-created'"):
        adapter.on("room-created", print)
    calls: list[str] = []

    def broken(room: str) -> None:
        raise RuntimeError("boom")

    adapter.on("create-room", broken)
    adapter.on("create-room", calls.append)
    adapter.add_all("s1", ["r1"])
    assert calls == ["r1"]  # the next listener still runs, the room exists
    assert "r1" in adapter.rooms
    assert "error in a create-room listener of /test" in caplog.text


async def test_room_events_of_a_real_server_with_a_coroutine_listener() -> None:
    seen: list[tuple[str, ...]] = []
    done = asyncio.Event()
    node = SioServer()
    adapter = node.io.of("/").adapter

    @adapter.on("join-room")
    async def joined(room: str, sid: str) -> None:
        await asyncio.sleep(0)
        seen.append(("join-room", room, sid))
        if room == "lobby":
            done.set()

    node.io.on("connection", lambda socket: socket.join("lobby"))
    async with node:
        _client, sid = await node.connected("/")
        await asyncio.wait_for(done.wait(), 2.0)
        assert seen == [("join-room", sid, sid), ("join-room", "lobby", sid)]
