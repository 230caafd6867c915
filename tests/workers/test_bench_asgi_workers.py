"""``benchmarks/bench_server.py --asgi --workers 2``: the benchmark's ASGI app under uvicorn's own
workers, in workers mode (a run directory of its own): it answers handshakes, each client's
requests reach the worker of its session (long-polling clients too), and a broadcast reaches
the clients of both workers (the inter-worker adapter).

The worker of a session is the slot named by the first two characters of its id."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import ClientSocket, connect
from helpers import http_request, open_packet
from servers import free_port

from .procs import Served

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_server.py"
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def handshake(port: int) -> str | None:
    """A new session's id, or None while nothing answers."""
    try:
        response = await http_request(port, "GET", HANDSHAKE)
    except OSError:
        return None
    assert response.status == 200, response.text
    sid: str = open_packet(response.text)["sid"]
    return sid


@pytest.fixture
async def bench_asgi_workers() -> AsyncIterator[Served]:
    port = free_port()
    served = await Served.start_command(
        sys.executable,
        str(BENCH),
        "--asgi",
        "--workers",
        "2",
        env={"PORT": str(port)},
        ready=False,
    )
    served.port = port
    try:
        await served.wait_line(served.stdout, r"asgi/uvicorn, 2 workers on 127\.0\.0\.1:")
        sids: set[str] = set()

        async def answered_by_both() -> bool:
            assert served.proc.returncode is None, served.log
            sid = await handshake(port)
            if sid is not None:
                sids.add(sid[:2])
            return len(sids) == 2

        deadline = asyncio.get_running_loop().time() + 60
        while not await answered_by_both():  # each worker answers once it has started
            assert asyncio.get_running_loop().time() < deadline, (sids, served.log)
            await asyncio.sleep(0.05)
        yield served
    finally:
        if served.proc.returncode is None:
            code = await served.stop()
            assert code == 0, served.log
        else:
            await served.kill()
    assert "Traceback" not in served.log, served.log


async def test_a_broadcast_reaches_the_clients_of_both_workers(
    bench_asgi_workers: Served,
) -> None:
    url = bench_asgi_workers.url
    received: list[list[Any]] = []
    clients: list[ClientSocket] = []
    try:
        # clients until both workers hold some (new sessions go to either worker)
        for i in range(40):
            transports = ["polling"] if i % 2 else ["websocket"]
            sock = await connect(url, transports=transports, wait_timeout=20)
            got: list[Any] = []
            sock.on("bcast", got.append)
            clients.append(sock)
            received.append(got)
            assert await sock.timeout(10).emit_with_ack("echo", i) == i
            if i >= 3 and len({slot(c) for c in clients}) == 2:
                break
        assert len({slot(c) for c in clients}) == 2, [slot(c) for c in clients]
        # long-polling requests spread over the workers: each reaches its session's worker
        for sock in clients:
            assert await sock.timeout(10).emit_with_ack("echo", "again") == "again"

        # a worker counts for the others' broadcasts once they met: a new broadcast until one
        # reaches everyone
        async def everyone_got_one() -> bool:
            nonce = uuid.uuid4().hex
            clients[0].emit("broadcast", nonce)
            for _ in range(100):  # 2 s
                if all(nonce in got for got in received):
                    return True
                await asyncio.sleep(0.02)
            return False

        deadline = asyncio.get_running_loop().time() + 30
        while not await everyone_got_one():
            assert asyncio.get_running_loop().time() < deadline, received
    finally:
        for sock in clients:
            await sock.disconnect()


def slot(sock: ClientSocket) -> str:
    engine = sock.io.engine
    assert engine is not None and engine.id is not None
    return engine.id[:2]
