"""Tests of the Python client, and helpers they share.

The helpers are plain functions and async context managers (no fixtures), so the test
modules import them explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiosocketio import Server

TIMEOUT = 10.0  # a generous deadline: the CI machine is loaded


async def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll ``condition`` (every 10 ms) until it holds; AssertionError after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


def other_tasks() -> list[asyncio.Task[Any]]:
    """The tasks of the loop that are not done, the current one excepted."""
    current = asyncio.current_task()
    return [t for t in asyncio.all_tasks() if t is not current and not t.done()]


@contextlib.asynccontextmanager
async def running(io: Server | None = None, port: int = 0, **options: Any) -> AsyncIterator[Any]:
    """Start a Server (``io`` or a new one with ``options``) on 127.0.0.1; yields
    ``(io, port)`` and closes it afterwards."""
    if io is None:
        io = Server(**options)
    standalone = await io.start("127.0.0.1", port)
    try:
        yield io, standalone.port
    finally:
        await io.close()


class Recorder:
    """Records calls by name: ``sock.on("x", rec.handler("x"))``; ``await rec.wait("x", 2)``."""

    def __init__(self) -> None:
        self.calls: dict[str, list[tuple[Any, ...]]] = {}
        self._changed = asyncio.Event()

    def handler(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.calls.setdefault(name, []).append(args)
            self._changed.set()

        return record

    def __getitem__(self, name: str) -> list[tuple[Any, ...]]:
        return self.calls.get(name, [])

    async def wait(self, name: str, count: int = 1, timeout: float = TIMEOUT) -> list[Any]:
        """Wait until ``name`` was recorded ``count`` times; return its calls."""
        async with asyncio.timeout(timeout):
            while len(self[name]) < count:
                self._changed.clear()
                await self._changed.wait()
        return self[name]
