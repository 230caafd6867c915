"""Acknowledgement timeouts on one timer per connection.

A client that emits with a timeout (``sock.timeout(5).emit(...)``, ``emit_with_ack(...,
timeout=...)``, ``ack_timeout``) needs one deadline per emit, and nearly every one of them
is cancelled by its acknowledgement. ``loop.call_later`` per emit costs a timer handle
created, pushed into the loop's scheduler and cancelled again; here a deadline is an entry
in one heap, cancelled by a flag, with a single loop timer set for the
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
    """One deadline; :meth:`cancel` it as an ``asyncio.TimerHandle``. :meth:`Deadlines.add`
    takes any subclass that says what to do in :meth:`fire` (an acknowledgement waiting for
    its answer is its own deadline: no timer object, callback or arguments per emit)."""

    __slots__ = ("_armed", "_owner")

    _owner: Deadlines | None
    _armed: bool

    def fire(self) -> None:
        """Called once, when the deadline passes (not after :meth:`cancel`)."""
        raise NotImplementedError

    def cancel(self) -> None:
        if not self._armed:
            return
        self._armed = False
        owner = self._owner
        assert owner is not None
        owner._live -= 1
        heap = owner._heap
        if not owner._live:
            heap.clear()  # the timer stays set: it finds nothing and is not set again
        elif len(heap) > _COMPACT_FROM and len(heap) > 2 * owner._live:
            owner._compact()

    def cancelled(self) -> bool:
        """True once cancelled or fired (or never added)."""
        return not self._armed


class _Call(Deadline):
    __slots__ = ("_args", "_callback")

    def __init__(self, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._callback = callback
        self._args = args

    def fire(self) -> None:
        self._callback(*self._args)


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
        entry = _Call(callback, args)
        self.add(entry, delay)
        return entry

    def add(self, entry: Deadline, delay: float) -> None:
        """Fire ``entry`` in ``delay`` seconds unless it is cancelled first (an entry is
        added once)."""
        when = self.loop.time() + delay
        entry._owner = self
        entry._armed = True
        seq = self._seq
        self._seq = seq + 1
        heapq.heappush(self._heap, (when, seq, entry))
        self._live += 1
        if when < self._timer_at:
            self._arm(when)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self.loop.call_at(when, self._fire)

    def _compact(self) -> None:
        """Rebuild the heap without its cancelled entries."""
        heap = self._heap
        heap[:] = [item for item in heap if item[2]._armed]
        heapq.heapify(heap)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        heap = self._heap
        now = self.loop.time()
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)[2]
            if not entry._armed:
                continue
            entry._armed = False
            self._live -= 1
            try:
                entry.fire()
            except Exception:
                log.exception("error in a deadline callback")
        while heap and not heap[0][2]._armed:
            heapq.heappop(heap)
        if heap:
            self._arm(heap[0][0])
