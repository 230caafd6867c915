"""The inter-worker adapter: clusters of two or three Python servers in this process, each in
its own slot of one run directory, with raw clients on each. The scenarios are those of the
broker adapters (tests/adapters/helpers.py); then what is the mesh's own: workers that leave
(closed, or their connection cut) are not waited for, a worker restarting in its slot rejoins,
and connection state recovery across workers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from adapters.helpers import (
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
    server_socket,
    sockets_join_leave_disconnect,
    wait_for_servers,
)
from aiosocketio import Server, Socket
from aiosocketio.adapters.base import ClusterTimeout
from aiosocketio.adapters.cluster import RemoteSocket
from aiosocketio.adapters.workers import (
    WorkersAdapter,
    WorkersLink,
    decode_message,
    encode_message,
    workers_adapter,
)
from aiosocketio.workers.mesh import Mesh
from aiosocketio.workers.slots import Slot, WorkerDir
from sioclient import SioServer, until


def link_of(node: SioServer) -> WorkersLink:
    adapter = node.io.of("/").adapter
    assert isinstance(adapter, WorkersAdapter)
    return adapter.link


def mesh_of(node: SioServer) -> Mesh:
    mesh = link_of(node).mesh
    assert mesh is not None
    return mesh


# ---------------------------------------------------------------------------------- codec
def test_message_codec() -> None:
    plain = {"type": 3, "data": {"packet": {"data": ["e", 1, "é", None]}}, "nsp": "/"}
    assert encode_message(plain)[:1] == b"{"
    assert decode_message(encode_message(plain)) == plain
    binary = {"data": [b"\x00\x01", {"n": [bytearray(b"ab"), memoryview(b"")]}, 2]}
    decoded = {"data": [b"\x00\x01", {"n": [b"ab", b""]}, 2]}
    assert encode_message(binary)[0] == 0x81  # MessagePack
    assert decode_message(encode_message(binary)) == decoded
    # what MessagePack refuses (integers beyond 64 bits): JSON with attachments
    binary["data"][2] = decoded["data"][2] = 2**70
    data = encode_message(binary)
    assert data[0] == 0
    assert decode_message(data) == decoded
    assert decode_message(bytearray(data)) == decode_message(data)
    assert decode_message(encode_message({1: "non-string key"})) == {"1": "non-string key"}
    with pytest.raises(TypeError):
        encode_message({"x": object()})
    for bad in (b"", b"\x00", b"\x00\x00\x00\x00\x05", data[:-1], b"{", b"\xff", b"\x82\x01"):
        with pytest.raises(ValueError):
            decode_message(bad)
    with pytest.raises(ValueError, match="attachments"):
        decode_message(b'\x00\x00\x00\x00\x00{"_placeholder":true,"num":0}')


def test_no_msgpack_needed() -> None:
    """The workers adapter is the default of workers mode: it must not need msgpack."""
    code = (
        "import sys; sys.modules['msgpack'] = None\n"
        "from aiosocketio.adapters.workers import decode_message, encode_message\n"
        "data = encode_message({'b': b'x'})\n"
        "assert data[0] == 0 and decode_message(data) == {'b': b'x'}\n"
        "try:\n"
        "    decode_message(bytes([0x81, 0xA1, 0x62, 0x01]))\n"
        "except ValueError as exc:\n"
        "    assert 'msgpack is not installed' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('decoded MessagePack without msgpack')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_factory_options() -> None:
    with pytest.raises(ValueError, match="max_frame"):
        workers_adapter(lambda: None, max_frame=10, max_buffer=5)
    with pytest.raises(ValueError, match="request_timeout"):
        workers_adapter(lambda: None, request_timeout=0)


# ---------------------------------------------------------------------------------- broadcasts
async def test_broadcast_reaches_every_worker_once(cluster: StartCluster) -> None:
    await broadcast_reaches_every_server_once(await cluster(3))


async def test_rooms_except_local_and_namespaces(cluster: StartCluster) -> None:
    nodes = await cluster(3)
    everyone = await rooms_except_local_and_namespaces(nodes)
    b = everyone[2:4]  # the clients of nodes[1]; b[0] is in "red"
    nodes[1].io.local.to("red").emit("local-room")
    assert await events([b[0]]) == [("local-room", [])]
    assert await nothing(everyone)


async def test_one_local_socket_is_not_published(cluster: StartCluster) -> None:
    """``io.to(sid)`` for a socket of this worker, and a socket's own emits with recovery on
    (they go through the adapter), stay on this worker."""
    nodes = await cluster(2, connection_state_recovery=True)
    [a] = await connect(nodes[0], 1)
    before = mesh_of(nodes[1]).frames_in
    nodes[0].io.to(a.sids["/"]).emit("to-a", 1)
    server_socket(nodes[0], a).emit("direct", 2)
    assert [(n, args[:-1]) for n, args in await events([a, a])] == [("to-a", [1]), ("direct", [2])]
    nodes[0].io.emit("to-all")  # and this one is published: it is the marker
    await until(lambda: mesh_of(nodes[1]).frames_in > before)
    assert mesh_of(nodes[1]).frames_in == before + 1


async def test_binary_volatile_and_order(cluster: StartCluster) -> None:
    await binary_volatile_and_order(await cluster(2))


# ---------------------------------------------------------------------------------- acks
async def test_broadcast_with_acks(cluster: StartCluster) -> None:
    await acks_across_servers(await cluster(3))


async def test_server_count(cluster: StartCluster) -> None:
    await server_count_after_a_close(await cluster(3))


# ---------------------------------------------------------------------------------- sockets
async def test_fetch_sockets_and_remote_sockets(cluster: StartCluster) -> None:
    nodes = await cluster(3)
    found, b0 = await fetch_and_remote_sockets(nodes)
    [local] = [s for s in found if isinstance(s, Socket)]
    assert [s.id for s in await nodes[0].io.local.fetch_sockets()] == [local.id]
    assert b0.handshake.address == "127.0.0.1"


async def test_socket_data_that_cannot_travel_is_null(cluster: StartCluster) -> None:
    nodes = await cluster(2)
    [b] = await connect(nodes[1], 1)
    server_socket(nodes[1], b).data = {"lock": asyncio.Lock()}
    [remote] = [s for s in await nodes[0].io.fetch_sockets() if isinstance(s, RemoteSocket)]
    assert remote.id == b.sids["/"] and remote.data is None


async def test_sockets_join_leave_disconnect(cluster: StartCluster) -> None:
    await sockets_join_leave_disconnect(await cluster(3))


async def test_server_side_emit(cluster: StartCluster) -> None:
    nodes = await cluster(3)
    await server_side_emit_with_answers(nodes)
    nodes[2].io.on("silent", lambda *args, ack: None)  # takes ack, never calls it
    nodes[1].io.on("silent", lambda ack: ack("one"))
    with pytest.raises(ClusterTimeout, match="1 of 2 servers answered"):
        await nodes[0].io.server_side_emit_with_ack("silent")


# ---------------------------------------------------------------------------------- membership
async def test_a_worker_that_leaves_is_not_waited_for(cluster: StartCluster) -> None:
    """Its connection closes: the others count it out at once, and the broadcasts and
    requests that wait for its answers stop waiting (long before their deadlines)."""
    # no rescan: the connection that closes is what counts it out
    nodes = await cluster(3, request_timeout=10.0, adapter_options={"rescan_interval": 60.0})
    clients = [await connect(node, 1) for node in nodes]
    asked = asyncio.ensure_future(nodes[0].io.timeout(10.0).emit_with_ack("q"))
    for i, [client] in enumerate(clients):
        packet = await client.next_event_packet()
        if i != 2:
            client.ack(packet.id, i)
    reached = asyncio.Event()
    nodes[2].io.on("never", lambda *args, ack: reached.set())
    nodes[1].io.on("never", lambda ack: ack("one"))
    pending = asyncio.ensure_future(nodes[0].io.server_side_emit_with_ack("never"))
    await asyncio.wait_for(reached.wait(), 1.0)

    await nodes[2].close()  # (a generous 5 s: well before the 10 s deadlines)
    assert sorted(await asyncio.wait_for(asked, 5.0)) == [0, 1]
    assert await asyncio.wait_for(pending, 5.0) == ["one"]
    await wait_for_servers(nodes[:2], 2, timeout=5.0)
    # the next ones do not count it either
    assert await nodes[0].io.server_side_emit_with_ack("never") == ["one"]


async def test_a_cut_mesh_connection_is_noticed_at_once(cluster: StartCluster) -> None:
    nodes = await cluster(3, adapter_options={"rescan_interval": 60.0})
    a, b, c = nodes
    [client_b] = await connect(b, 1)
    [client_c] = await connect(c, 1)
    asked = asyncio.ensure_future(a.io.timeout(10.0).emit_with_ack("q"))
    await client_b.next_event_packet()  # b's client got it and does not answer
    first = await client_c.next_event_packet()
    client_c.ack(first.id, "c-first")
    transport = mesh_of(a).peers[b.slot.number]._conn.transport
    assert transport is not None
    transport.abort()
    # a broadcast in the same step as the cut: the servers it waits for are those it was
    # sent to, whatever the count is when its server count would be asked
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    a.io.timeout(10.0).emit("q2", callback=lambda err, responses: done.set_result(responses))
    packet = await client_c.next_event_packet()
    client_c.ack(packet.id, "c")
    assert await asyncio.wait_for(done, 5.0) == ["c"]  # well before the 10 s deadlines
    assert await asyncio.wait_for(asked, 5.0) == ["c-first"]
    await wait_for_servers([a, b], 2, timeout=5.0)
    await wait_for_servers([c], 3)
    # the next scan mends it (every rescan_interval; here at once)
    await mesh_of(a).scan()
    await wait_for_servers(nodes, 3, timeout=5.0)  # well before the next rescan (60 s)
    await broadcast_reaches_every_server_once(nodes)


async def test_a_worker_restarting_in_its_slot_rejoins(cluster: StartCluster) -> None:
    nodes = await cluster(3, adapter_options={"rescan_interval": 60.0})  # no rescan helps
    a, b, c = nodes
    old_uid = b.io.of("/").adapter.uid  # type: ignore[attr-defined]
    await b.close()
    b.slot.release()
    await wait_for_servers([a, c], 2, timeout=5.0)
    [again] = await cluster(1, slot=b.slot.number)
    assert mesh_of(again).slot.number == b.slot.number
    assert old_uid not in a.io.of("/").adapter.nodes  # type: ignore[attr-defined]
    await broadcast_reaches_every_server_once([a, again, c])


async def test_the_slot_may_come_after_the_adapter(wdir: WorkerDir) -> None:
    """A server in workers mode claims its slot when it starts: adapters made before wait."""
    claimed: list[Any] = []
    node = SioServer(adapter=workers_adapter(lambda: claimed[0] if claimed else None))
    adapter = node.io.of("/").adapter
    assert isinstance(adapter, WorkersAdapter)
    await adapter.init()
    assert adapter.link.mesh is None
    claimed.append(wdir.claim())
    other_slot = wdir.claim()
    other = SioServer(adapter=workers_adapter(other_slot))
    try:
        async with other, node:
            await wait_for_servers([node, other], 2)
            assert mesh_of(node).slot is claimed[0]
        assert not (wdir.path / "w0.mesh").exists()
    finally:
        claimed[0].release()
        other_slot.release()


class _MeshServer(Server):
    """Workers mode with this adapter as its default, through the server's seam."""

    def _workers_adapter_factory(self, slot: Slot) -> Any:
        return workers_adapter(slot, request_timeout=1.0, rescan_interval=60.0)


async def test_workers_mode_with_the_adapter(wdir: WorkerDir) -> None:
    """Servers in workers mode on one directory, the adapter made by the seam once each
    claimed its slot (namespaces made before the start included)."""
    nodes = [SioServer(_MeshServer(workers_dir=wdir.path)) for _ in range(3)]
    for node in nodes:
        node.io.of("/chat")
    try:
        for node in nodes:
            await node.__aenter__()
        await wait_for_servers(nodes, 3)
        await wait_for_servers(nodes, 3, "/chat")
        assert sorted(mesh_of(n).slot.number for n in nodes) == [0, 1, 2]
        await broadcast_reaches_every_server_once(nodes)
        await nodes[2].close()
        await wait_for_servers(nodes[:2], 2, timeout=5.0)  # at once: no rescan for 60 s
    finally:
        for node in nodes:
            await node.close()
    assert sorted(p.name for p in wdir.path.iterdir()) == ["w0.lock", "w1.lock", "w2.lock"]


# ---------------------------------------------------------------------------------- recovery
async def test_recovery_across_workers(cluster: StartCluster) -> None:
    nodes = await cluster(3, connection_state_recovery=True)
    client, sid = await nodes[0].connected()
    pid = client.last_connect["pid"]
    socket = nodes[0].io.of("/").sockets[sid]
    socket.join("room")
    socket.data = {"user": "ann", "blob": b"\x01"}
    nodes[1].io.emit("before", 0)
    offset = (await client.next_event())[2][-1]
    assert isinstance(offset, str)

    await client.abort()  # transport close: nodes[0] keeps the session
    await until(lambda: sid not in nodes[0].io.of("/").sockets)
    kept = nodes[0].io.of("/").adapter._packets  # type: ignore[attr-defined]
    logged = len(kept)
    nodes[1].io.emit("missed", 1)
    nodes[2].io.to("room").emit("missed-room", b"\x02")
    nodes[1].io.to("elsewhere").emit("not-for-me", 3)
    nodes[2].io.except_("room").emit("not-for-me", 4)
    nodes[0].io.volatile.emit("volatile", 5)
    await until(lambda: len(kept) == logged + 4)  # what nodes[0] would have sent

    back = await nodes[1].client()  # the client comes back on another worker
    assert await back.connect("/", {"pid": pid, "offset": offset}) == sid
    assert back.last_connect == {"sid": sid, "pid": pid}
    restored = nodes[1].io.of("/").sockets[sid]
    assert restored.recovered and restored.data == {"user": "ann", "blob": b"\x01"}
    assert "room" in restored.rooms
    got = [await back.next_event() for _ in range(2)]
    assert [(name, args[:-1]) for _nsp, name, args in got] == [
        ("missed", [1]),
        ("missed-room", [b"\x02"]),
    ]
    assert await back.no_event(0.2)

    # restored once only: the same pid again is a new session
    again = await nodes[2].client()
    await again.connect("/", {"pid": pid, "offset": offset})
    assert again.last_connect["sid"] != sid
    # a second move: the session is now kept by nodes[1], not by the worker that made the pid
    nodes[2].io.to("room").emit("live")
    _nsp, name, args = await back.next_event()
    assert name == "live"
    await back.abort()
    await until(lambda: sid not in nodes[1].io.of("/").sockets)
    nodes[0].io.emit("missed-again", 6)
    kept = nodes[1].io.of("/").adapter._packets  # type: ignore[attr-defined]
    await until(lambda: kept and kept[-1].data[:2] == ["missed-again", 6])
    last = await nodes[2].client()
    assert await last.connect("/", {"pid": pid, "offset": args[-1]}) == sid
    assert (await last.next_event())[1:] == ("missed-again", [6, kept[-1].id])


async def test_recovery_of_an_unknown_session(cluster: StartCluster) -> None:
    nodes = await cluster(2, connection_state_recovery=True)
    fresh = await nodes[1].client()
    await fresh.connect("/", {"pid": "nope", "offset": "x-1"})
    assert not nodes[1].io.of("/").sockets[fresh.sids["/"]].recovered
