"""What the worker tests share: a short run directory (Unix socket paths are limited) and
meshes that record what happens to them."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiosocketio.workers.mesh import Mesh, Peer
from aiosocketio.workers.slots import Slot, WorkerDir


def short_run_dir() -> Iterator[WorkerDir]:
    """A fresh run directory under /tmp (pytest's tmp_path may be too long for socket names),
    removed afterwards."""
    path = tempfile.mkdtemp(prefix="sio-w-", dir="/tmp")
    try:
        yield WorkerDir(Path(path) / "run")
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Recorder:
    """A mesh of one slot, with its joins, leaves and messages in order."""

    def __init__(self, slot: Slot, **options: Any) -> None:
        self.slot = slot
        self.joined: list[Peer] = []
        self.left: list[tuple[Peer, str]] = []
        self.messages: list[tuple[int, bytes]] = []
        self.mesh = Mesh(
            slot,
            on_join=self.joined.append,
            on_leave=lambda peer, reason: self.left.append((peer, reason)),
            on_message=lambda peer, payload: self.messages.append((peer.slot, bytes(payload))),
            **options,
        )

    @property
    def peer_slots(self) -> list[int]:
        return sorted(self.mesh.peers)

    async def close(self) -> None:
        await self.mesh.close()
        self.slot.release()


async def start_recorders(wdir: WorkerDir, count: int, **options: Any) -> list[Recorder]:
    """``count`` meshes started one after the other, once each sees all the others."""
    from sioclient import until

    nodes = []
    for _ in range(count):
        node = Recorder(wdir.claim(), **options)
        await node.mesh.start()
        nodes.append(node)
    slots = [n.slot.number for n in nodes]
    await until(lambda: all(n.peer_slots == sorted(set(slots) - {n.slot.number}) for n in nodes))
    return nodes


async def close_all(nodes: list[Recorder]) -> None:
    for node in nodes:
        if not node.mesh.closed:
            await node.close()
    await asyncio.sleep(0)
