"""The adapter seam (adapters/seam.py, decision 0009): an adapter works on any Host, with no
server behind it, and the server's namespace is a Host."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aiosocketio import Server
from aiosocketio.adapters.memory import MemoryAdapter
from aiosocketio.adapters.seam import BroadcastFlags, BroadcastOptions, Host, SocketDetails
from aiosocketio.socketio.packets import EVENT, Packet


class _NoServer:
    recovery = None


class FakeHost:
    """A namespace of plain sids that records what the adapter asks of it."""

    def __init__(self, sids: Iterable[str]) -> None:
        self.name = "/fake"
        self.server = _NoServer()
        self.sockets: dict[str, object] = {sid: object() for sid in sids}
        self.calls: list[tuple[Any, ...]] = []

    def send_packet(
        self, packet: Packet, sids: Iterable[str] | None, volatile: bool, compress: bool
    ) -> None:
        chosen = None if sids is None else sorted(sids)
        self.calls.append(("send", packet.data, chosen, volatile, compress))

    def send_packet_with_ack(self, packet: Packet, sids: Iterable[str], *ack_and_flags: Any) -> int:
        chosen = [sid for sid in sids if sid in self.sockets]
        self.calls.append(("send_with_ack", packet.data, sorted(chosen)))
        return len(chosen)

    def socket_details(self, sid: str) -> SocketDetails | None:
        if sid not in self.sockets:
            return None
        return {"id": sid, "handshake": {}, "rooms": [sid], "data": None}

    def join_socket(self, sid: str, rooms: str | Iterable[str]) -> bool:
        self.calls.append(("join", sid, rooms))
        return sid in self.sockets

    def leave_socket(self, sid: str, room: str) -> bool:
        self.calls.append(("leave", sid, room))
        return sid in self.sockets

    def disconnect_socket(self, sid: str, close: bool) -> bool:
        self.calls.append(("disconnect", sid, close))
        return sid in self.sockets

    def receive_server_side_emit(self, args: list[Any], ack: Callable[..., None] | None) -> None:
        self.calls.append(("server_side_emit", args))

    def to(self, *rooms: str | Iterable[str]) -> Any:
        raise NotImplementedError


def fake_adapter() -> tuple[FakeHost, MemoryAdapter]:
    host = FakeHost(["s1", "s2", "s3"])
    adapter = MemoryAdapter(host)
    for sid in host.sockets:
        adapter.add_all(sid, [sid])
    adapter.add_all("s1", ["r"])
    adapter.add_all("s2", ["r"])
    adapter.add_all("gone", ["r"])  # in a room, no longer among the sockets
    return host, adapter


def test_the_namespace_is_a_host():
    io = Server()
    assert isinstance(io.of("/"), Host)
    assert isinstance(FakeHost([]), Host)


def test_broadcast_sends_one_packet_to_the_chosen_sids():
    host, adapter = fake_adapter()
    adapter.broadcast(Packet(EVENT, "/fake", ["all"]), BroadcastOptions())
    adapter.broadcast(
        Packet(EVENT, "/fake", ["room"]),
        BroadcastOptions(frozenset({"r"}), frozenset({"s2"}), BroadcastFlags(volatile=True)),
    )
    adapter.broadcast(
        Packet(EVENT, "/fake", ["but"]),
        BroadcastOptions(except_=frozenset({"r"}), flags=BroadcastFlags(compress=False)),
    )
    assert host.calls == [
        ("send", ["all"], None, False, True),  # every socket: no list of sids at all
        ("send", ["room"], ["gone", "s1"], True, True),  # the sink skips "gone"
        ("send", ["but"], ["s3"], False, False),
    ]


def test_broadcast_with_ack_counts_what_the_sink_sent():
    host, adapter = fake_adapter()
    counts: list[int] = []
    sent = adapter.broadcast_with_ack(
        Packet(EVENT, "/fake", ["q"]), BroadcastOptions(frozenset({"r"})), counts.append, print
    )
    assert sent is None and counts == [2]
    assert host.calls == [("send_with_ack", ["q"], ["s1", "s2"])]


async def test_socket_operations_go_by_sid():
    host, adapter = fake_adapter()
    room = BroadcastOptions(frozenset({"r"}))
    adapter.add_sockets(room, ["x"])
    adapter.del_sockets(BroadcastOptions(frozenset({"s3"})), ["y", "z"])
    adapter.disconnect_sockets(BroadcastOptions(frozenset({"s1"})), True)
    assert sorted(host.calls[:3]) == [
        ("join", "gone", ["x"]),
        ("join", "s1", ["x"]),
        ("join", "s2", ["x"]),
    ]
    assert host.calls[3:] == [
        ("leave", "s3", "y"),
        ("leave", "s3", "z"),
        ("disconnect", "s1", True),
    ]
    assert sorted(adapter.sockets(["r"])) == ["s1", "s2"]
    fetched = await adapter.fetch_sockets(room)
    assert sorted(map(id, fetched)) == sorted(id(host.sockets[s]) for s in ("s1", "s2"))
    assert sorted(d["id"] for d in adapter.local_details(room)) == ["s1", "s2"]
