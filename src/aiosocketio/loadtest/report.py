"""The report of a run: a JSON-ready summary (fields in docs/bench.md), a table for
people, the exit code, and the progress line."""

from __future__ import annotations

from typing import Any

from .settings import Settings
from .stats import Stats

__all__ = ["EXIT_FAILED", "EXIT_OK", "exit_code", "progress_line", "summary", "table"]

EXIT_OK = 0
"""No errors, no losses."""
EXIT_FAILED = 1
"""The run had errors (of any kind) or losses."""


BUSY = 0.9
"""Above this share of one core, the report warns that the bench may be what limits."""


def summary(settings: Settings, stats: Stats, version: str) -> dict[str, Any]:
    """Everything the run measured, as JSON values."""
    window = stats.window()
    elapsed = stats.elapsed()
    cpu = stats.cpu()

    def per_second(count: int) -> float:
        return round(count / window, 1) if window else 0.0

    errors = dict(stats.errors.most_common())
    result: dict[str, Any] = {
        "tool": "aiosocketio bench",
        "version": version,
        "settings": {
            "url": settings.url,
            "namespace": settings.namespace,
            "scenario": settings.scenario,
            "transports": list(settings.transports),
            "clients": settings.clients,
            "rate": settings.rate,
            "duration_s": settings.duration,
            "messages": settings.messages,
            "cycles": settings.cycles,
            "event": settings.event,
            "size": settings.size,
            "binary": settings.binary,
            "window": settings.window,
            "ack_timeout_s": settings.ack_timeout,
        },
        "interrupted": stats.interrupted,
        "elapsed_s": round(elapsed, 3),
        "window_s": round(window, 3),
        "bench_cpu_s": round(cpu, 3),
        "bench_busy": round(cpu / elapsed, 3) if elapsed > 0 else 0.0,
        "connections": {
            "connected": stats.connects,
            "failed": stats.connect_failures,
            "time_ms": stats.connect_time.summary_ms(),
        },
        "messages": {
            "sent": stats.sent,
            "acked": stats.acked,
            "received": stats.received,
            "lost": stats.lost,
            "duplicates": stats.duplicates,
            "out_of_order": stats.out_of_order,
        },
        "cycles": stats.cycles,
        "throughput_per_s": {
            "sent": per_second(stats.sent),
            "acked": per_second(stats.acked),
            "received": per_second(stats.received),
            "cycles": per_second(stats.cycles),
        },
        "latency_ms": stats.latency.summary_ms(),
        "errors": {"total": stats.error_count, "by_kind": errors},
    }
    result["exit_code"] = exit_code(result)
    return result


def exit_code(result: dict[str, Any]) -> int:
    failed = result["errors"]["total"] or result["messages"]["lost"]
    return EXIT_FAILED if failed else EXIT_OK


def _times(values: dict[str, Any] | None) -> str:
    if values is None:
        return "-"
    parts = [f"{name} {_short(values[name])}" for name in ("p50", "p90", "p99", "max")]
    return "  ".join(parts) + f"  (mean {_short(values['mean'])}, n={values['count']})"


def _short(value: float) -> str:
    """Three or four significant digits: 0.123, 1.23, 12.3, 123."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def table(result: dict[str, Any]) -> list[str]:
    """The summary as lines of text."""
    settings = result["settings"]
    connections = result["connections"]
    messages = result["messages"]
    rates = result["throughput_per_s"]
    lines = [
        f"aiosocketio bench {settings['scenario']}: {settings['clients']} clients, "
        f"{','.join(settings['transports'])}, {settings['url']} (namespace "
        f"{settings['namespace']})",
        f"  elapsed        {result['elapsed_s']:.2f} s "
        f"(messages during {result['window_s']:.2f} s)",
        f"  connections    {connections['connected']} connected, {connections['failed']} failed",
        f"  connect ms     {_times(connections['time_ms'])}",
    ]
    scenario = settings["scenario"]
    if scenario == "echo":
        lines.append(f"  messages       sent {messages['sent']}  acked {messages['acked']}")
        lines.append(f"  throughput     {rates['acked']:g} acks/s")
        lines.append(f"  ack latency ms {_times(result['latency_ms'])}")
    elif scenario == "listen":
        lines.append(
            f"  messages       received {messages['received']}  lost {messages['lost']}  "
            f"duplicates {messages['duplicates']}  out of order {messages['out_of_order']}"
        )
        lines.append(f"  throughput     {rates['received']:g} deliveries/s")
        if result["latency_ms"] is not None:
            lines.append(f"  delivery ms    {_times(result['latency_ms'])}")
    else:
        lines.append(f"  cycles         {result['cycles']}  ({rates['cycles']:g}/s)")
    busy = result["bench_busy"]
    note = ": the bench may be what limits (run more bench processes)" if busy > BUSY else ""
    lines.append(
        f"  bench cpu      {result['bench_cpu_s']:.2f} s ({busy * 100:.0f} % of one core){note}"
    )
    errors = result["errors"]
    lines.append(f"  errors         {errors['total']}")
    lines.extend(f"    {count:>8}  {kind}" for kind, count in errors["by_kind"].items())
    verdict = "ok" if result["exit_code"] == EXIT_OK else "FAILED (errors or losses)"
    if result["interrupted"]:
        verdict += ", interrupted"
    lines.append(f"  result         {verdict}")
    return lines


class _Rate:
    """Change of a counter between two progress lines."""

    def __init__(self) -> None:
        self.last = 0
        self.at = 0.0

    def update(self, value: int, now: float) -> float:
        rate = (value - self.last) / (now - self.at) if now > self.at else 0.0
        self.last, self.at = value, now
        return rate


def progress_line(settings: Settings) -> Any:
    """A function of the Stats that renders the progress line (rates since its last call)."""
    rate = _Rate()

    def render(stats: Stats) -> str:
        now = stats.elapsed()
        if settings.scenario == "echo":
            work = f"sent {stats.sent}  acked {stats.acked}"
            count = stats.acked
        elif settings.scenario == "listen":
            work = f"received {stats.received}  lost {stats.lost}"
            count = stats.received
        else:
            work = f"cycles {stats.cycles}"
            count = stats.cycles
        return (
            f"{now:6.1f}s  connected {stats.connected}/{settings.clients}  {work}  "
            f"errors {stats.error_count}  {rate.update(count, now):.0f}/s"
        )

    return render
