"""The mesh between the workers of a run directory: joining, leaving, framing, limits."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import AsyncIterator, Iterator

import pytest

from aiosocketio.workers.mesh import DATA, HELLO, Mesh, frame
from aiosocketio.workers.slots import WorkerDir
from sioclient import until

from .helpers import Recorder, close_all, short_run_dir, start_recorders


@pytest.fixture
def wdir() -> Iterator[WorkerDir]:
    yield from short_run_dir()


@pytest.fixture
async def nodes() -> AsyncIterator[list[Recorder]]:
    started: list[Recorder] = []
    yield started
    await close_all(started)


async def test_three_workers_join_and_exchange(wdir: WorkerDir, nodes: list[Recorder]) -> None:
    nodes += await start_recorders(wdir, 3)
    a, b, c = nodes
    assert [len(n.mesh._connections) for n in nodes] == [2, 2, 2]
    assert {p.uid for p in a.joined} == {b.mesh.uid, c.mesh.uid}

    assert a.mesh.publish(b"to all") == 2
    await until(lambda: b.messages and c.messages)
    assert b.messages == c.messages == [(0, b"to all")]
    assert a.mesh.send(a.mesh.peers[2], b"to c")
    await until(lambda: len(c.messages) == 2)
    assert c.messages[1] == (0, b"to c") and len(b.messages) == 1

    # order kept, and frames split or merged by the stream read back whole
    payloads = [str(i).encode() * (i % 7 + 1) for i in range(2000)]
    payloads.append(b"x" * 1_000_000)
    for payload in payloads:
        b.mesh.publish(payload)
    await until(lambda: len(a.messages) == len(payloads), timeout=5.0)
    assert [m for _, m in a.messages] == payloads


async def test_workers_that_start_together_keep_one_connection_per_pair(
    wdir: WorkerDir, nodes: list[Recorder]
) -> None:
    nodes += [Recorder(wdir.claim()) for _ in range(4)]
    await asyncio.gather(*(n.mesh.start() for n in nodes))
    await until(lambda: all(len(n.peer_slots) == 3 for n in nodes))
    await asyncio.sleep(0.05)  # refused duplicates close
    assert [len(n.mesh._connections) for n in nodes] == [3, 3, 3, 3]
    assert all(len(n.joined) == 3 and not n.left for n in nodes)


async def test_a_closed_worker_leaves_at_once(wdir: WorkerDir, nodes: list[Recorder]) -> None:
    nodes += await start_recorders(wdir, 3, rescan_interval=60.0)  # no rescan: the close
    a, b, c = nodes
    await c.close()
    await until(lambda: a.left and b.left, timeout=5.0)
    assert [(p.slot, p.uid) for p, _ in a.left] == [(2, c.mesh.uid)]
    assert a.peer_slots == [1] and b.peer_slots == [0]
    assert a.mesh.publish(b"still") == 1


async def test_a_killed_connection_is_noticed_then_mended(
    wdir: WorkerDir, nodes: list[Recorder]
) -> None:
    nodes += await start_recorders(wdir, 2, rescan_interval=0.2)
    a, b = nodes
    transport = a.mesh.peers[1]._conn.transport
    assert transport is not None
    transport.abort()
    await until(lambda: a.left and b.left, timeout=5.0)
    assert a.peer_slots == [] or len(a.joined) == 2  # may already be back
    # both workers are alive: the next scan connects them again
    await until(lambda: a.peer_slots == [1] and b.peer_slots == [0], timeout=10.0)
    assert a.mesh.peers[1].uid == b.mesh.uid
    a.mesh.publish(b"again")
    await until(lambda: b.messages == [(0, b"again")])


async def test_a_worker_restarting_in_its_slot_rejoins(
    wdir: WorkerDir, nodes: list[Recorder]
) -> None:
    nodes += await start_recorders(wdir, 3)
    a, b, c = nodes
    old_uid = b.mesh.uid
    await b.close()
    again = Recorder(wdir.claim(1))
    nodes.append(again)
    await again.mesh.start()
    assert again.peer_slots == [0, 2]
    await until(lambda: a.peer_slots == [1, 2] and c.peer_slots == [0, 1])
    assert a.mesh.peers[1].uid == again.mesh.uid != old_uid
    assert [p.uid for p, _ in a.left] == [old_uid]
    a.mesh.publish(b"hi")
    await until(lambda: again.messages == [(0, b"hi")])
    assert b.messages == []


async def test_a_stale_socket_file_is_ignored(wdir: WorkerDir, nodes: list[Recorder]) -> None:
    held = wdir.claim()  # a live slot whose mesh socket is a dead worker's file
    try:
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(held.path("mesh"))
        stale.close()
        nodes += await start_recorders(wdir, 2)
        assert [n.peer_slots for n in nodes] == [[2], [1]]
    finally:
        held.release()


async def test_a_peer_that_stops_reading_is_dropped(wdir: WorkerDir, nodes: list[Recorder]) -> None:
    limits = {"max_buffer": 256 * 1024, "max_frame": 64 * 1024}
    nodes += await start_recorders(wdir, 3, **limits)
    a, b, c = nodes
    transport = b.mesh.peers[0]._conn.transport
    assert transport is not None
    transport.pause_reading()  # b stops reading what a sends
    chunk = b"z" * 60_000
    for _ in range(200):  # 12 MB: far more than the socket buffers and max_buffer
        a.mesh.publish(chunk)
        await asyncio.sleep(0)
        if a.mesh.dropped:
            break
    await until(lambda: a.left)
    assert a.mesh.dropped == 1
    peer, reason = a.left[0]
    assert peer.slot == 1 and reason.startswith("dropped: it stopped reading")
    assert a.peer_slots == [2]
    assert transport.get_write_buffer_size() == 0
    # c was not slowed down
    await until(lambda: len(c.messages) >= 1)
    assert all(m == chunk for _, m in c.messages)


async def test_bad_input_closes_that_connection_only(
    wdir: WorkerDir, nodes: list[Recorder]
) -> None:
    nodes += await start_recorders(wdir, 2, max_frame=1024, max_buffer=4096, hello_timeout=0.3)
    a, b = nodes
    path = a.slot.path("mesh")
    hello = b'{"v":1,"slot":9,"uid":"x","pid":1}'
    bad = [
        struct.pack(">I", 5000) + b"\x04",  # larger than max_frame
        frame(DATA, b"data before hello"),
        frame(HELLO, b"not json"),
        frame(HELLO, b'{"v":2,"slot":9,"uid":"x"}'),
        frame(HELLO, b'{"v":1,"slot":99999,"uid":"x"}'),
        frame(HELLO, b'{"v":1,"slot":0,"uid":"x"}'),  # a's own slot
        frame(HELLO, hello),  # slot 9 is not held by anyone
        frame(77, b""),
        struct.pack(">I", 0),
        b"",  # says nothing: closed after hello_timeout
    ]
    for data in bad:
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(data)
        assert await asyncio.wait_for(reader.read(), 2.0) is not None  # closed by a
        writer.close()
    assert a.peer_slots == [1] and b.peer_slots == [0] and not a.left
    # a worker of a held slot that breaks the protocol once joined: it leaves
    nine = wdir.claim(9)
    try:
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(frame(HELLO, hello) + frame(HELLO, hello))
        await asyncio.wait_for(reader.read(), 2.0)
        writer.close()
    finally:
        nine.release()
    await until(lambda: [p.slot for p, _ in a.left] == [9])
    assert a.peer_slots == [1]
    a.mesh.publish(b"fine")
    await until(lambda: b.messages == [(0, b"fine")])
    with pytest.raises(ValueError, match="larger than max_frame"):
        a.mesh.publish(b"x" * 1025)


async def test_closing_twice_and_options(wdir: WorkerDir) -> None:
    slot = wdir.claim()
    with pytest.raises(ValueError, match="max_frame"):
        Mesh(slot, max_frame=10, max_buffer=5)
    slot.release()
    node = Recorder(wdir.claim())
    await node.mesh.start()
    await node.close()
    await node.mesh.close()
    assert node.mesh.publish(b"nobody") == 0


def test_under_uvloop(wdir: WorkerDir) -> None:
    """The standalone server runs uvloop: its transports are not asyncio's classes."""
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> None:
        nodes = await start_recorders(wdir, 2, max_buffer=256 * 1024, max_frame=64 * 1024)
        try:
            a, b = nodes
            a.mesh.publish(b"hi")
            await until(lambda: b.messages == [(0, b"hi")])
            transport = b.mesh.peers[0]._conn.transport
            assert transport is not None
            transport.pause_reading()
            for _ in range(200):  # 12 MB
                a.mesh.publish(b"z" * 60_000)
                await asyncio.sleep(0)
                if a.mesh.dropped:
                    break
            await until(lambda: a.left)
            assert a.left[0][1].startswith("dropped")
        finally:
            await close_all(nodes)

    uvloop.run(scenario())


async def test_giving_the_slot_back_stops_the_mesh(wdir: WorkerDir, nodes: list[Recorder]) -> None:
    nodes += await start_recorders(wdir, 2, rescan_interval=60.0)  # no rescan: the close
    a, b = nodes
    b.slot.release()  # what a worker that leaves does, whoever owns the mesh
    assert b.mesh.closed and not os.path.exists(b.slot.path("mesh"))
    await until(lambda: a.left, timeout=5.0)
    assert a.peer_slots == [] and [p.slot for p, _ in b.left] == [0]
    await b.mesh.close()
