"""The mesh of the workers: what one broadcast costs through it, for the scaling model.

    python benchmarks/bench_workers_mesh.py [--peers 0,1,3,7] [--messages 20000] [--loop asyncio]

1. In this process, no sockets (nanoseconds per operation, best of 5 rounds): encoding and
   decoding a broadcast's mesh message, and what a receiving worker does with one (decode,
   hand it to the namespace's adapter, encode it once for its clients; it has none).
2. Real processes: this process's Server publishes ``io.emit("tick", i, "hello world")`` to
   K other workers (one process each: a Server with the workers adapter, no clients; K = 0 is
   the publisher alone, the baseline). CPU time (``time.process_time``) per broadcast of the
   publisher and of each receiver, in two regimes: one broadcast per event-loop turn (each one
   is its own write to every peer) and bursts of 100 per turn (one write per peer per turn
   carries them all). uvloop by default, as the standalone server runs.

The machine's other load makes the process figures vary by +-20 %; CPU time, not wall time,
is measured, so the receivers may share cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosocketio import Server
from aiosocketio.adapters.base import BroadcastOptions
from aiosocketio.adapters.cluster import MessageType, encode_options, encode_packet
from aiosocketio.adapters.memory import MemoryAdapter
from aiosocketio.adapters.workers import (
    WorkersAdapter,
    decode_message,
    encode_message,
    encode_with_attachments,
    workers_adapter,
)
from aiosocketio.socketio.packets import EVENT, Packet
from aiosocketio.workers.slots import WorkerDir


def bench(name: str, func: Callable[[], object], number: int = 50_000, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            func()
        best = min(best, (time.perf_counter() - start) / number)
    print(f"  {name:<58} {best * 1e9:8.0f} ns")
    return best


def broadcast_message(data: list[Any]) -> dict[str, Any]:
    return {
        "type": MessageType.BROADCAST,
        "data": {
            "packet": encode_packet(Packet(EVENT, "/", data)),
            "opts": encode_options(BroadcastOptions()),
        },
        "uid": "0123456789abcdef",
        "nsp": "/",
    }


async def in_process() -> None:
    print("# in this process (no sockets)")
    message = broadcast_message(["tick", 12345, "hello world"])
    data = encode_message(message)
    print(f"  (a broadcast's mesh message: {len(data)} bytes + 5 of framing)")
    bench("encode a broadcast message (orjson)", lambda: encode_message(message))
    bench("decode it", lambda: decode_message(data))
    for size in (1024, 65536):
        binary_codecs(size)

    # a receiving worker: the adapter's whole path for one message, no clients
    directory = tempfile.mkdtemp(prefix="sio-bench-", dir="/tmp")
    try:
        slot = WorkerDir(Path(directory) / "run").claim()
        io = Server(adapter=workers_adapter(slot))
        adapter = io.of("/").adapter
        assert isinstance(adapter, WorkersAdapter)
        peer = _FakePeer()
        link = adapter.link
        link.adapters["/"] = adapter

        def receive() -> None:
            link._on_message(peer, data)  # type: ignore[arg-type]

        bench("a receiving worker: decode, dispatch, encode for its clients", receive)
        everyone = BroadcastOptions()

        def local() -> None:
            MemoryAdapter.broadcast(
                adapter, Packet(EVENT, "/", ["tick", 12345, "hello world"]), everyone
            )

        bench("for comparison: a local broadcast to no client", local)
        await io.close()
        slot.release()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def binary_codecs(size: int) -> None:
    message = broadcast_message(["file", {"name": "x", "blob": b"\x01" * size}])
    packed = encode_message(message)
    attached = encode_with_attachments(message)
    bench(f"encode with {size} bytes of binary (MessagePack)", lambda: encode_message(message))
    bench("  without msgpack (JSON + attachments)", lambda: encode_with_attachments(message))
    bench(f"decode with {size} bytes of binary (MessagePack)", lambda: decode_message(packed))
    bench("  without msgpack (JSON + attachments)", lambda: decode_message(attached))


class _FakePeer:
    closed = False
    slot = 1
    pid = 0


# ---------------------------------------------------------------------------------- processes
REGIMES = (("one per loop turn", 1), ("bursts of 100", 100))


async def receiver(run_dir: str) -> None:
    """A worker that reports its CPU time for each batch of broadcasts it is told to expect."""
    slot = WorkerDir(run_dir).claim()
    io = Server(adapter=workers_adapter(slot))
    adapter = io.of("/").adapter
    assert isinstance(adapter, WorkersAdapter)
    await adapter.init()
    mesh = adapter.link.mesh
    assert mesh is not None and mesh.on_message is not None
    target = [0]
    reached = asyncio.Event()
    handle = mesh.on_message

    def counting(peer: Any, payload: bytes | bytearray) -> None:
        handle(peer, payload)
        if mesh.frames_in >= target[0]:
            reached.set()

    mesh.on_message = counting
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        reached.clear()
        target[0] = mesh.frames_in + int(line)
        start = time.process_time()
        print("go", flush=True)
        await reached.wait()
        print(json.dumps({"cpu": time.process_time() - start}), flush=True)
    await io.close()
    slot.release()


async def publish(io: Server, messages: int, burst: int) -> None:
    for i in range(messages // burst):
        for j in range(burst):
            io.emit("tick", i * burst + j, "hello world")
        await asyncio.sleep(0)


async def across_processes(peers: int, messages: int, loop_name: str) -> None:
    directory = tempfile.mkdtemp(prefix="sio-bench-", dir="/tmp")
    run_dir = str(Path(directory) / "run")
    slot = WorkerDir(run_dir).claim()
    io = Server(adapter=workers_adapter(slot))
    adapter = io.of("/").adapter
    assert isinstance(adapter, WorkersAdapter)
    await adapter.init()
    children = []
    try:
        for _ in range(peers):
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--loop",
                loop_name,
                "--receiver",
                run_dir,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            assert child.stdout is not None
            assert (await child.stdout.readline()).strip() == b"ready"
            children.append(child)
        while await adapter.server_count() != peers + 1:
            await asyncio.sleep(0.01)
        print(f"# {peers} receiving workers, {messages} broadcasts ({loop_name})")
        for regime, burst in REGIMES:
            for child in children:
                assert child.stdin is not None
                child.stdin.write(f"{messages}\n".encode())
                await child.stdin.drain()
            for child in children:
                assert child.stdout is not None
                assert (await child.stdout.readline()).strip() == b"go"
            start = time.process_time()
            await publish(io, messages, burst)
            reports = []
            for child in children:
                assert child.stdout is not None
                reports.append(json.loads(await child.stdout.readline())["cpu"])
            sender = (time.process_time() - start) / messages
            received = sum(reports) / len(reports) / messages if reports else 0.0
            total = sender + received * peers
            print(
                f"  {regime:<18} publisher {sender * 1e6:6.2f} us, each receiver "
                f"{received * 1e6:6.2f} us, all {total * 1e6:6.2f} us per broadcast"
            )
    finally:
        for child in children:
            assert child.stdin is not None
            child.stdin.close()
            await child.wait()
        await io.close()
        slot.release()
        shutil.rmtree(directory, ignore_errors=True)


def run(coro: Any, loop_name: str) -> None:
    if loop_name == "uvloop":
        import uvloop

        uvloop.run(coro)
    else:
        asyncio.run(coro)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--peers", default="0,1,3,7", help="numbers of receiving workers (0: the publisher alone)"
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--receiver", metavar="RUN_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        run(receiver(args.receiver), args.loop)
        return
    run(in_process(), args.loop)
    for peers in map(int, args.peers.split(",")):
        run(across_processes(peers, args.messages, args.loop), args.loop)


if __name__ == "__main__":
    main()
