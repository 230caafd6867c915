"""The load test's counters (the latency histogram, the sequence-number bookkeeping) and
its report."""

from __future__ import annotations

import random

from aiosocketio.loadtest.histogram import Histogram
from aiosocketio.loadtest.report import progress_line, summary, table
from aiosocketio.loadtest.settings import Settings
from aiosocketio.loadtest.stats import Sequence, Stats, sequence_of


def test_small_values_are_exact() -> None:
    histogram = Histogram()
    for value in range(1, 101):
        histogram.record_us(value)
    assert histogram.quantile_us(0.5) == 50
    assert histogram.quantile_us(0.9) == 90
    assert histogram.quantile_us(0.99) == 99
    assert histogram.quantile_us(1.0) == 100
    assert (histogram.min, histogram.max, histogram.count) == (1, 100, 100)


def test_large_values_within_one_percent() -> None:
    rng = random.Random(7)
    values = sorted(rng.randrange(1, 50_000_000) for _ in range(5000))
    histogram = Histogram()
    for value in values:
        histogram.record_us(value)
    for fraction in (0.5, 0.9, 0.99):
        exact = values[int(fraction * len(values)) - 1]
        assert abs(histogram.quantile_us(fraction) - exact) <= exact / 100
    assert histogram.quantile_us(1.0) == values[-1]
    assert len(histogram.counts) < 4000  # memory grows with the log of the range


def test_merge_and_summary() -> None:
    one, two = Histogram(), Histogram()
    one.record_us(1000)
    two.record_us(3000)
    two.record_us(-5)  # a clock step: counted as 0
    one.merge(two)
    one.merge(Histogram())
    assert (one.count, one.min, one.max) == (3, 0, 3000)
    summary = one.summary_ms()
    assert summary == {
        "count": 3,
        "min": 0.0,
        "mean": 1.333,
        "p50": 1.003,  # the highest value of its bucket (1000 to 1003)
        "p90": 3.0,
        "p99": 3.0,
        "max": 3.0,
    }
    assert Histogram().summary_ms() is None


def test_sequence_convention() -> None:
    assert sequence_of((7,)) == (7, None)
    assert sequence_of(({"seq": 3, "ts": 1700000000000},)) == (3, 1700000000000.0)
    assert sequence_of(({"seq": "3"},)) == (None, None)
    assert sequence_of((True,)) == (None, None)  # a bool is not a sequence number
    assert sequence_of(("text", 1)) == (None, None)
    assert sequence_of(()) == (None, None)


def test_gaps_late_arrivals_and_duplicates() -> None:
    stats = Stats(1)
    sequence = Sequence()
    for seq in (0, 1, 4, 2, 2, 6):  # 3 and 5 never come; 2 comes late, then again
        sequence.add(seq, stats)
    assert (stats.lost, stats.out_of_order, stats.duplicates) == (2, 1, 1)
    assert sequence.shortfall(10) == 3  # 7, 8, 9 (the gaps are counted already)
    assert sequence.shortfall(5) == 0


def test_a_stream_joined_late_is_not_a_loss() -> None:
    stats = Stats(1)
    sequence = Sequence()
    for seq in range(100, 110):
        sequence.add(seq, stats)
    assert stats.lost == 0


def test_progress_line_and_table() -> None:
    settings = Settings("http://127.0.0.1:1/", scenario="listen", clients=3)
    stats = Stats(3)
    render = progress_line(settings)
    stats.connected, stats.received, stats.lost = 3, 40, 2
    stats.error("disconnected: transport close")
    line = render(stats)
    assert "connected 3/3  received 40  lost 2  errors 1" in line
    assert "\n" not in line
    result = summary(settings, stats, "0")
    assert result["exit_code"] == 1
    lines = table(result)
    assert lines[0].startswith("aiosocketio bench listen: 3 clients, websocket,")
    assert "1  disconnected: transport close" in [line.strip() for line in lines]
    assert lines[-1] == "  result         FAILED (errors or losses)"


def test_churn_table() -> None:
    settings = Settings("http://127.0.0.1:1/", scenario="churn", clients=1)
    stats = Stats(1)
    stats.cycles = stats.connects = 5
    for value in (1000, 2000, 3000, 4000, 5000):
        stats.connect_time.record_us(value)
    stats.message()
    lines = table(summary(settings, stats, "0"))
    assert any(line.startswith("  cycles         5  (") for line in lines)
    assert any("p50 3.01  p90 5.00  p99 5.00  max 5.00  (mean 3.00, n=5)" in x for x in lines)
    assert lines[-1] == "  result         ok"
