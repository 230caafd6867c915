"""Fixtures of the worker tests: a short run directory, and clusters of Python servers in this
process, each in its own slot of that directory with the inter-worker adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from adapters.helpers import StartCluster, wait_for_servers
from aiosocketio.adapters.workers import workers_adapter
from aiosocketio.workers.slots import Slot, WorkerDir
from sioclient import SioServer

from .helpers import short_run_dir


@pytest.fixture
def wdir() -> Iterator[WorkerDir]:
    yield from short_run_dir()


@pytest.fixture
async def cluster(wdir: WorkerDir) -> AsyncIterator[StartCluster]:
    """``nodes = await cluster(count, request_timeout=1.0, slot=None, adapter_options=None,
    **server_options)``: that many started servers (``tests/sioclient.SioServer``), each with
    a slot of ``wdir`` (``slot``: that one, for one server; ``node.slot``) and the workers
    adapter; each sees every running one before this returns. Every node is closed, and its
    slot given back, at the end of the test."""
    started: list[tuple[SioServer, Slot]] = []

    async def start(
        count: int = 2,
        *,
        request_timeout: float = 1.0,
        slot: int | None = None,
        adapter_options: dict[str, Any] | None = None,
        **server_options: Any,
    ) -> list[SioServer]:
        nodes = []
        for _ in range(count):
            claimed = wdir.claim(slot)
            factory = workers_adapter(
                claimed, request_timeout=request_timeout, **(adapter_options or {})
            )
            node = SioServer(adapter=factory, **server_options)
            node.slot = claimed  # type: ignore[attr-defined]
            await node.__aenter__()
            started.append((node, claimed))
            nodes.append(node)
        running = [node for node, _ in started if not node._closed]
        await wait_for_servers(running, len(running))
        return nodes

    yield start
    for node, claimed in reversed(started):
        await node.close()
        claimed.release()
