"""Acknowledgement timeouts on one timer per connection.

A client that emits with a timeout (``sock.timeout(5).emit(...)``, ``emit_with_ack(...,
timeout=...)``, ``ack_timeout``) needs one deadline per emit, and nearly every one of them
is cancelled by its acknowledgement. ``loop.call_later`` per emit costs a timer handle
created, pushed into the loop's scheduler and cancelled again; here a deadline is an entry
in one heap, cancelled by clearing its callback, with a single loop timer set for the
earliest deadline. Cancelled entries are dropped when they reach the top of the heap, and
the heap is rebuilt without them once they outnumber the live ones, so it holds at most
about twice as many entries as there are deadlines pending.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections.abc import Callable
from typing import Any

from .events import log

__all__ = ["Deadline", "Deadlines"]

_COMPACT_FROM = 64
"""Below this many entries the heap is never rebuilt (cancelled entries just wait)."""


class Deadline:
    """One pending deadline; :meth:`cancel` it as an ``asyncio.TimerHandle``."""

    __slots__ = ("_owner", "args", "callback")

    def __init__(self, owner: Deadlines, callback: Callable[..., Any], args: tuple[Any, ...]):
        self._owner = owner
        self.callback: Callable[..., Any] | None = callback
        self.args = args

    def cancel(self) -> None:
        if self.callback is not None:
            self.callback = None
            self.args = ()
            owner = self._owner
            owner._live -= 1
            heap = owner._heap
            if not owner._live:
                heap.clear()  # the timer stays set: it finds nothing and is not set again
            elif len(heap) > _COMPACT_FROM and len(heap) > 2 * owner._live:
                owner._compact()

    def cancelled(self) -> bool:
        """True once cancelled or called."""
        return self.callback is None


class Deadlines:
    """Deadlines of one event loop, on one timer of that loop."""

    __slots__ = ("_heap", "_live", "_seq", "_timer", "_timer_at", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._heap: list[tuple[float, int, Deadline]] = []
        self._live = 0
        self._seq = 0  # ties break in the order of the calls
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def __len__(self) -> int:
        """Deadlines pending (neither cancelled nor called)."""
        return self._live

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Deadline:
        """Call ``callback(*args)`` in ``delay`` seconds unless the deadline is cancelled."""
        when = self.loop.time() + delay
        entry = Deadline(self, callback, args)
        seq = self._seq
        self._seq = seq + 1
        heapq.heappush(self._heap, (when, seq, entry))
        self._live += 1
        if when < self._timer_at:
            self._arm(when)
        return entry

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self.loop.call_at(when, self._fire)

    def _compact(self) -> None:
        """Rebuild the heap without its cancelled entries."""
        heap = self._heap
        heap[:] = [item for item in heap if item[2].callback is not None]
        heapq.heapify(heap)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        heap = self._heap
        now = self.loop.time()
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)[2]
            callback = entry.callback
            if callback is None:
                continue
            args = entry.args
            entry.callback = None
            entry.args = ()
            self._live -= 1
            try:
                callback(*args)
            except Exception:
                log.exception("error in a deadline callback")
        while heap and heap[0][2].callback is None:
            heapq.heappop(heap)
        if heap:
            self._arm(heap[0][0])
