"""A log-linear histogram of durations (HDR-like): fixed memory, under 1 % error.

Values are recorded in microseconds. Below 128 each value has a bucket of its own; above,
each power of two is split into 128 buckets, so a bucket spans less than 1/128 of its
values. Quantiles report the highest value of their bucket (never above the true maximum).
"""

from __future__ import annotations

import math

__all__ = ["Histogram"]

SUB_BITS = 7
SUB = 1 << SUB_BITS  # buckets per power of two


def _index(value: int) -> int:
    if value < SUB:
        return value
    shift = value.bit_length() - SUB_BITS - 1
    return SUB * (shift + 1) + (value >> shift) - SUB


def _highest(index: int) -> int:
    """The highest value that falls in the bucket."""
    if index < SUB:
        return index
    shift = index // SUB - 1
    low = (index % SUB + SUB) << shift
    return low + (1 << shift) - 1


class Histogram:
    """Counts of durations; ``record_us`` is cheap, memory grows with the log of the range."""

    __slots__ = ("count", "counts", "max", "min", "total")

    def __init__(self) -> None:
        self.counts: list[int] = []
        self.count = 0
        self.total = 0
        self.min = 0
        self.max = 0

    def record_us(self, value: int) -> None:
        """Record one duration in microseconds (negative values count as 0)."""
        if value < 0:
            value = 0
        index = _index(value)
        counts = self.counts
        if index >= len(counts):
            counts.extend([0] * (index + 1 - len(counts)))
        counts[index] += 1
        if self.count == 0 or value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        self.count += 1
        self.total += value

    def merge(self, other: Histogram) -> None:
        """Add the counts of another histogram."""
        if other.count == 0:
            return
        if len(other.counts) > len(self.counts):
            self.counts.extend([0] * (len(other.counts) - len(self.counts)))
        for index, n in enumerate(other.counts):
            self.counts[index] += n
        self.min = other.min if self.count == 0 else min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.count += other.count
        self.total += other.total

    def quantile_us(self, fraction: float) -> int:
        """The value below or at which ``fraction`` (0..1) of the recorded values lie."""
        if self.count == 0:
            return 0
        rank = min(self.count, max(1, math.ceil(fraction * self.count)))
        seen = 0
        for index, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                return min(_highest(index), self.max)
        return self.max

    def summary_ms(self) -> dict[str, float | int] | None:
        """count, min, mean, p50, p90, p99, max (milliseconds); None when empty."""
        if self.count == 0:
            return None
        summary: dict[str, float | int] = {"count": self.count}
        summary["min"] = _ms(self.min)
        summary["mean"] = _ms(self.total / self.count)
        for name, fraction in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            summary[name] = _ms(self.quantile_us(fraction))
        summary["max"] = _ms(self.max)
        return summary


def _ms(microseconds: float) -> float:
    return round(microseconds / 1000, 3)
