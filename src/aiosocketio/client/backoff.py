"""Exponential backoff with jitter, as socket.io-client computes reconnection delays."""

from __future__ import annotations

import math
import random

__all__ = ["Backoff"]

_RANDOM = random.Random()
"""Shared by every Backoff without its own: seeding one per connection costs a read of the
system's random source and 2.5 KiB of generator state."""


class Backoff:
    """``min * factor ** attempt``, moved by up to ``jitter * delay`` either way, capped at
    ``max``. Times are in seconds; the result is truncated to whole milliseconds, as in Node.
    """

    __slots__ = ("_random", "attempts", "factor", "jitter", "max", "min")

    def __init__(
        self,
        min: float = 1.0,
        max: float = 5.0,
        jitter: float = 0.5,
        factor: float = 2.0,
        rand: random.Random | None = None,
    ) -> None:
        self.min = min
        self.max = max
        self.factor = factor
        self.jitter = jitter if 0 < jitter <= 1 else 0.0
        self.attempts = 0
        self._random = rand or _RANDOM

    def duration(self) -> float:
        """The delay before the next attempt (and count that attempt)."""
        try:
            ms = self.min * 1000 * self.factor**self.attempts
        except OverflowError:
            ms = math.inf
        self.attempts += 1
        if not math.isfinite(ms):
            return self.max
        if self.jitter:
            rand = self._random.random()
            deviation = math.floor(rand * self.jitter * ms)
            ms = ms - deviation if math.floor(rand * 10) & 1 == 0 else ms + deviation
        ms = min(ms, self.max * 1000)
        return max(0, int(ms)) / 1000

    def reset(self) -> None:
        self.attempts = 0
