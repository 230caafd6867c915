"""The inter-worker adapter across real processes: three workers (tests/workers/mesh_worker.py)
in one run directory, each with a client of the project on its own port."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from aiosocketio import connect
from aiosocketio.client.socket import Socket as ClientSocket
from aiosocketio.workers.slots import WorkerDir

WORKER = Path(__file__).with_name("mesh_worker.py")


class Worker:
    def __init__(self, process: asyncio.subprocess.Process, info: dict[str, Any]) -> None:
        self.process = process
        self.port: int = info["port"]
        self.slot: int = info["slot"]

    @classmethod
    async def start(cls, wdir: WorkerDir) -> Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            str(wdir.path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20.0)
        return cls(process, json.loads(line))

    async def client(self, answer: str) -> ClientSocket:
        sock = await connect(
            f"http://127.0.0.1:{self.port}", transports=["websocket"], reconnection=False
        )
        sock.on("question", lambda: answer)
        return sock

    async def stop(self) -> None:
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 5.0)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def counts(clients: list[ClientSocket], expected: int, timeout: float) -> None:
    """Wait until the worker of each client counts ``expected`` servers."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for sock in clients:
        while (found := await sock.emit_with_ack("count", timeout=2.0)) != expected:
            assert loop.time() < deadline, f"{found} servers instead of {expected}"
            await asyncio.sleep(0.01)


async def test_workers_in_separate_processes(wdir: WorkerDir) -> None:
    workers: list[Worker] = []
    clients: list[ClientSocket] = []
    try:
        started = await asyncio.gather(*(Worker.start(wdir) for _ in range(3)))
        workers += sorted(started, key=lambda w: w.slot)
        assert [w.slot for w in workers] == [0, 1, 2]
        clients += [await w.client(f"yes-{w.slot}") for w in workers]
        await counts(clients, 3, 5.0)

        heard: list[asyncio.Queue[tuple[int, str]]] = []
        for sock in clients:
            queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
            sock.on("heard", lambda slot, text, queue=queue: queue.put_nowait((slot, text)))
            heard.append(queue)
        clients[0].emit("shout", "hi")
        for queue in heard:
            assert await asyncio.wait_for(queue.get(), 2.0) == (workers[0].slot, "hi")
        assert await clients[1].emit_with_ack("poll") == ["yes-0", "yes-1", "yes-2"]
        ids = sorted(str(sock.id) for sock in clients)
        assert await clients[2].emit_with_ack("fetch") == ids

        # a worker killed: the others count it out at once and do not wait for its client
        workers[2].process.kill()
        await workers[2].process.wait()
        await counts(clients[:2], 2, 1.0)
        assert await asyncio.wait_for(clients[0].emit_with_ack("poll"), 1.0) == ["yes-0", "yes-1"]
        await clients[2].disconnect()

        # a new worker takes the free slot and joins
        workers.append(await Worker.start(wdir))
        assert workers[-1].slot == 2
        clients.append(await workers[-1].client("yes-new"))
        await counts([clients[0], clients[1], clients[3]], 3, 5.0)
        assert await clients[3].emit_with_ack("poll") == ["yes-0", "yes-1", "yes-new"]
    finally:
        for sock in clients:
            await sock.disconnect()
        for worker in workers:
            await worker.stop()
    assert all(w.process.returncode is not None for w in workers)
    # the killed worker's socket file went with the next owner of its slot; the others' with them
    assert sorted(p.name for p in wdir.path.iterdir() if p.suffix != ".lock") == []
