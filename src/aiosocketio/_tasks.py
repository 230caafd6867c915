"""Background tasks: one set that keeps them referenced and logs how each one failed.

Used by the server, the compatibility layer and the adapters (which must not import the
server: docs/decisions/0009-adapter-seam.md).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["spawn"]

log = logging.getLogger("aiosocketio.server")

_background: set[asyncio.Task[Any]] = set()


def spawn(coro: Any, what: str) -> asyncio.Task[Any]:
    """Run a coroutine in the background, keeping a reference and logging its failure."""
    task: asyncio.Task[Any] = asyncio.ensure_future(coro)
    _background.add(task)
    task.add_done_callback(_done)
    task.set_name(what)
    return task


def _done(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        log.error("error in %s", task.get_name(), exc_info=exc)
