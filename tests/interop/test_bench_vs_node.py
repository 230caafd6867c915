"""``python -m aiosocketio bench`` against the official socket.io 4.8 server, run under
Node (``node_server/bench_server.js``): the command works with any Socket.IO server.
Counts and the report are checked, never speed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from benchcli import (
    assert_ack_timeouts,
    assert_churn,
    assert_echo,
    assert_listen,
    bench,
)

pytestmark = pytest.mark.interop

# the fixture node_server of conftest.py: server = await node_server(script=...)
StartNode = Callable[..., Awaitable[Any]]
BENCH_SERVER = Path(__file__).resolve().parent / "node_server" / "bench_server.js"


@pytest.mark.parametrize("transports", ["websocket", "polling", "polling,websocket"])
async def test_echo(node_server: StartNode, transports: str) -> None:
    server = await node_server(script=BENCH_SERVER)
    result = await bench(server.url, "-c", "3", "-n", "20", "-w", "4", "--transports", transports)
    assert_echo(result, 3, 20)


async def test_echo_binary_in_a_namespace(node_server: StartNode) -> None:
    server = await node_server(script=BENCH_SERVER)
    result = await bench(server.url + "/bench", "-c", "2", "-n", "5", "--binary", "--size", "4096")
    assert_echo(result, 2, 5)


@pytest.mark.parametrize("transports", ["websocket", "polling"])
async def test_listen(node_server: StartNode, transports: str) -> None:
    server = await node_server(script=BENCH_SERVER)
    args = ("-s", "listen", "-c", "4", "-e", "tick", "--start", "go", "--start-data", "50")
    result = await bench(server.url, *args, "-n", "50", "--transports", transports)
    report = assert_listen(result, 4, 50)
    assert report["latency_ms"]["count"] == 200  # Node's Date.now() in "ts"


async def test_listen_count_only(node_server: StartNode) -> None:
    server = await node_server(script=BENCH_SERVER)
    args = ("-s", "listen", "-c", "2", "-e", "tick", "--start", "go", "--start-data", "30")
    result = await bench(server.url, *args, "--start-data", "true", "-n", "30", "--count-only")
    assert_listen(result, 2, 30)


async def test_churn(node_server: StartNode) -> None:
    server = await node_server(script=BENCH_SERVER)
    result = await bench(server.url, "-s", "churn", "-c", "3", "--cycles", "4")
    assert_churn(result, 3, 4)


async def test_a_server_that_never_acks_shows_timeouts(node_server: StartNode) -> None:
    server = await node_server(script=BENCH_SERVER)
    args = ("-c", "2", "-n", "2", "-w", "2", "-e", "silent", "--ack-timeout", "0.3")
    result = await bench(server.url, *args)
    assert_ack_timeouts(result, 2, 2)
