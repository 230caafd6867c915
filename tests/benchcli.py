"""Running ``python -m aiosocketio bench`` in a subprocess, for the tests of the command
against our server (tests/test_bench_command.py) and Node's (tests/interop)."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Any

LIMIT = 60.0  # seconds a bench run may take in a test (runs take well under one)


@dataclass
class BenchResult:
    code: int
    out: str
    err: str

    @property
    def report(self) -> dict[str, Any]:
        """The JSON report (the command ran with ``--json -``)."""
        value: dict[str, Any] = json.loads(self.out)
        return value


async def bench(url: str, *args: str, json_to: str = "-") -> BenchResult:
    """``python -m aiosocketio bench URL ARGS --json -`` (or ``--json JSON_TO``) to its end."""
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "aiosocketio", "bench", url),
        *args,
        *("--json", json_to),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), LIMIT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return BenchResult(proc.returncode, out.decode(), err.decode())


def assert_clean(result: BenchResult) -> dict[str, Any]:
    """The run ended with exit code 0, no errors, no losses; returns its report."""
    assert result.code == 0, result.err
    report = result.report
    assert report["errors"] == {"total": 0, "by_kind": {}}
    assert report["messages"]["lost"] == 0
    assert report["exit_code"] == 0
    return report


def assert_echo(result: BenchResult, clients: int, messages: int) -> dict[str, Any]:
    """Every client sent its messages and got every ack."""
    report = assert_clean(result)
    total = clients * messages
    assert report["messages"]["sent"] == total
    assert report["messages"]["acked"] == total
    assert report["latency_ms"]["count"] == total
    assert report["connections"]["connected"] == clients
    return report


def assert_listen(result: BenchResult, clients: int, messages: int) -> dict[str, Any]:
    """Every client got every broadcast, each once, in order."""
    report = assert_clean(result)
    assert report["messages"]["received"] == clients * messages
    assert report["messages"]["duplicates"] == 0
    assert report["messages"]["out_of_order"] == 0
    return report


def assert_churn(result: BenchResult, clients: int, cycles: int) -> dict[str, Any]:
    report = assert_clean(result)
    assert report["cycles"] == clients * cycles
    assert report["connections"]["connected"] == clients * cycles
    assert report["connections"]["time_ms"]["count"] == clients * cycles
    return report


def assert_ack_timeouts(result: BenchResult, clients: int, messages: int) -> None:
    """A server that never acknowledges: every emit is an ack timeout, exit code 1."""
    assert result.code == 1, result.err
    report = result.report
    assert report["messages"]["sent"] == clients * messages
    assert report["messages"]["acked"] == 0
    assert report["errors"] == {
        "total": clients * messages,
        "by_kind": {"ack timeout": clients * messages},
    }
    assert report["exit_code"] == 1
