"""Workers tests: the in-process ones run on both event loops (the standard one and uvloop,
the standalone server's default)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from aiosocketio.workers.slots import WorkerDir


@pytest.fixture
def run_dir() -> Iterator[WorkerDir]:
    """A run directory for in-process workers (short: Unix socket paths are limited)."""
    path = tempfile.mkdtemp(prefix="aio-w")
    yield WorkerDir(path)
    shutil.rmtree(path, ignore_errors=True)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], Any]] = {"asyncio": asyncio.new_event_loop}
    if not item.get_closest_marker("both_loops"):
        return factories
    try:
        import uvloop
    except ImportError:
        return factories
    factories["uvloop"] = uvloop.new_event_loop
    return factories
