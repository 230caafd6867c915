"""``python -m aiosocketio bench`` against our server (started in the test's event loop):
echo over WebSocket and long-polling, listen, churn, and the errors. Counts and the JSON
report are checked, never speed."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from aiosocketio import ConnectionRefused, Server, Socket
from aiosocketio.cli import main
from benchcli import (
    assert_ack_timeouts,
    assert_churn,
    assert_echo,
    assert_listen,
    bench,
)
from servers import free_port


def load_example() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "examples" / "bench_server.py"
    spec = importlib.util.spec_from_file_location("bench_server_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_app = load_example().bench_app


def refuse(socket: Socket) -> None:
    raise ConnectionRefused("not authorized")


@pytest.fixture
async def served() -> AsyncIterator[tuple[Server, str]]:
    io = Server()
    bench_app(io)  # examples/bench_server.py
    io.of("/secret").use(refuse)
    standalone = await io.start("127.0.0.1", 0)
    try:
        yield io, f"http://127.0.0.1:{standalone.port}"
    finally:
        await io.close()


@pytest.fixture
def url(served: tuple[Server, str]) -> str:
    return served[1]


REPORT_KEYS = {
    "tool",
    "version",
    "settings",
    "interrupted",
    "elapsed_s",
    "window_s",
    "bench_cpu_s",
    "bench_busy",
    "connections",
    "messages",
    "cycles",
    "throughput_per_s",
    "latency_ms",
    "errors",
    "exit_code",
}
SUMMARY_KEYS = {"count", "min", "mean", "p50", "p90", "p99", "max"}


@pytest.mark.parametrize("transports", ["websocket", "polling", "polling,websocket"])
async def test_echo(url: str, transports: str) -> None:
    result = await bench(url, "-c", "3", "-n", "20", "-w", "4", "--transports", transports)
    report = assert_echo(result, 3, 20)
    assert set(report) == REPORT_KEYS
    assert report["settings"]["transports"] == transports.split(",")
    assert set(report["latency_ms"]) == SUMMARY_KEYS
    assert set(report["connections"]["time_ms"]) == SUMMARY_KEYS
    assert set(report["throughput_per_s"]) == {"sent", "acked", "received", "cycles"}
    latency = report["latency_ms"]
    assert latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert report["interrupted"] is False
    assert "acked 60" in result.err  # the table goes to stderr with --json -


async def test_echo_binary_payload_in_a_namespace_with_auth(url: str) -> None:
    result = await bench(
        url + "/bench", "-c", "2", "-n", "5", "--binary", "--size", "1000", "--auth", '{"a":1}'
    )
    report = assert_echo(result, 2, 5)
    assert report["settings"]["namespace"] == "/bench"
    assert report["settings"]["binary"] is True


@pytest.mark.parametrize("transports", ["websocket", "polling"])
async def test_listen_follows_sequence_numbers(url: str, transports: str) -> None:
    args = ("-s", "listen", "-c", "4", "-e", "tick", "--start", "go", "--start-data", "50")
    result = await bench(url, *args, "-n", "50", "--transports", transports)
    report = assert_listen(result, 4, 50)
    assert report["latency_ms"]["count"] == 200  # the broadcasts carry "ts"


async def test_listen_count_only(url: str) -> None:
    args = ("-s", "listen", "-c", "3", "-e", "tick", "--start", "go", "--start-data", "20")
    result = await bench(url, *args, "--start-data", "true", "-n", "20", "--count-only")
    report = assert_listen(result, 3, 20)
    assert report["latency_ms"] is None


async def test_listen_counts_what_never_came_as_lost(url: str) -> None:
    args = ("-s", "listen", "-c", "2", "-e", "tick", "--start", "go", "--start-data", "10")
    result = await bench(url, *args, "-n", "15", "-d", "2")
    assert result.code == 1, result.err
    report = result.report
    messages = report["messages"]
    # 10 of the 15 each client waits for exist: at least 5 a client are lost (more if some
    # of the 10 were still on their way at the end, on a very busy machine)
    assert messages["received"] + messages["lost"] == 30
    assert messages["lost"] >= 10
    assert report["errors"]["total"] == 0


async def test_churn(url: str) -> None:
    result = await bench(url, "-s", "churn", "-c", "3", "--cycles", "4", "--transports", "polling")
    assert_churn(result, 3, 4)


async def test_a_server_that_never_acks_shows_timeouts(url: str) -> None:
    args = ("-c", "2", "-n", "2", "-w", "2", "-e", "silent", "--ack-timeout", "0.3")
    result = await bench(url, *args)
    assert_ack_timeouts(result, 2, 2)
    assert "ack timeout" in result.err


async def test_an_unreachable_server_is_one_line_and_exit_3() -> None:
    result = await bench(f"http://127.0.0.1:{free_port()}", "-c", "5")
    assert result.code == 3
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("could not connect to http://127.0.0.1:")


async def test_a_refused_namespace_is_one_line_and_exit_1(url: str) -> None:
    result = await bench(url + "/secret", "-c", "5")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "refused by the server: not authorized" in lines[0]


async def test_json_to_a_file_and_the_table_to_stdout(url: str, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    result = await bench(url, "-c", "1", "-n", "3", json_to=str(path))
    assert result.code == 0, result.err
    assert "acked 3" in result.out
    assert json.loads(path.read_text())["messages"]["acked"] == 3


async def test_sigint_ends_the_run_with_its_report(served: tuple[Server, str]) -> None:
    server, url = served
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "aiosocketio", "bench", url, "-c", "2", "-d", "120"),
        *("--json", "-"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while sum(len(n.sockets) for n in server.namespaces.values()) < 2:
            assert asyncio.get_running_loop().time() < deadline, "the clients did not connect"
            await asyncio.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["interrupted"] is True
    assert report["messages"]["acked"] == report["messages"]["sent"]
    assert "ok, interrupted" in err.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cycles", "2"], "--cycles is for the churn scenario"),
        (["-s", "echo", "--start", "go"], "--start is for the listen scenario"),
        (["-s", "listen", "--start-data", "1"], "--start-data needs --start"),
        (["-c", "0"], "must be 1 or more"),
        (["-w", "x"], "not an integer"),
        (["--rate", "-1"], "must be 0 (all at once) or more"),
        (["--transports", "carrier-pigeon"], "unknown transport"),
        (["-s", "nope"], "invalid choice"),
        (["--auth", "[1]"], "expected a JSON object"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "http://127.0.0.1:1/", *args]) == 2
    assert message in capsys.readouterr().err
