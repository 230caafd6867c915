"""What a load test counts: connections, messages, latencies, errors by kind, losses.

All clients of a run share one :class:`Stats` (they run on one event loop, so plain
counters do). :class:`Sequence` follows the sequence numbers of one client's broadcasts.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from .histogram import Histogram

__all__ = ["MISSING_LIMIT", "Sequence", "Stats", "sequence_of"]

MISSING_LIMIT = 100_000
"""How many missing sequence numbers a client remembers (to tell late arrivals from
duplicates); beyond it, late arrivals count as duplicates."""


class Stats:
    """The counters of one run, read by the progress line and the report."""

    def __init__(self, clients: int) -> None:
        self.clients = clients
        self.started = time.monotonic()
        self.cpu_started = time.process_time()
        self.first_message: float | None = None  # when the first message was sent or received
        self.last_message: float | None = None
        self.connected = 0  # now
        self.connects = 0  # successful connections (every cycle of churn)
        self.connect_failures = 0
        self.disconnects = 0  # by the bench
        self.sent = 0
        self.acked = 0
        self.received = 0
        self.lost = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.cycles = 0
        self.interrupted = False  # by SIGINT or SIGTERM, before its end
        self.errors: Counter[str] = Counter()
        self.latency = Histogram()
        self.connect_time = Histogram()

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def error(self, kind: str) -> None:
        self.errors[kind] += 1

    def message(self) -> None:
        """Note the time of a message (sent or received), for the throughput window."""
        now = time.monotonic()
        if self.first_message is None:
            self.first_message = now
        self.last_message = now

    def window(self) -> float:
        """Seconds from the first message to the last one (at least a millisecond)."""
        if self.first_message is None or self.last_message is None:
            return 0.0
        return max(self.last_message - self.first_message, 0.001)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def cpu(self) -> float:
        """CPU seconds this process spent since the start (the bench's own cost)."""
        return time.process_time() - self.cpu_started


def sequence_of(args: tuple[Any, ...]) -> tuple[int | None, float | None]:
    """The sequence number and the send time (ms since the epoch) an event carries.

    The convention: the first argument is the sequence number (an integer), or an object
    with a ``seq`` integer and optionally ``ts``, the sender's clock in milliseconds since
    the epoch (``Date.now()``).
    """
    if not args:
        return None, None
    first = args[0]
    if type(first) is int:
        return first, None
    if isinstance(first, dict):
        seq = first.get("seq")
        ts = first.get("ts")
        sent = float(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else None
        return (seq if type(seq) is int else None), sent
    return None, None


class Sequence:
    """The sequence numbers one client received: gaps, late arrivals, duplicates."""

    __slots__ = ("distinct", "gaps", "missing", "next")

    def __init__(self) -> None:
        self.next: int | None = None  # the number expected next
        self.missing: set[int] = set()
        self.distinct = 0
        self.gaps = 0  # numbers skipped and not arrived since

    def add(self, seq: int, stats: Stats) -> None:
        expected = self.next
        if expected is None or seq == expected:
            self.next = seq + 1
            self.distinct += 1
            return
        if seq > expected:
            gap = seq - expected
            stats.lost += gap
            self.gaps += gap
            if len(self.missing) + gap <= MISSING_LIMIT:
                self.missing.update(range(expected, seq))
            self.next = seq + 1
            self.distinct += 1
        elif seq in self.missing:  # late, but here: not lost after all
            self.missing.discard(seq)
            stats.lost -= 1
            self.gaps -= 1
            stats.out_of_order += 1
            self.distinct += 1
        else:
            stats.duplicates += 1

    def shortfall(self, expected: int) -> int:
        """How many of ``expected`` messages never came, beyond the gaps already counted."""
        return max(0, expected - self.distinct - self.gaps)
