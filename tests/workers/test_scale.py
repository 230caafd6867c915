"""Hundreds of clients on 2 and 4 workers, under our server (``serve --workers``), uvicorn
and gunicorn (workers mode): the official socket.io-client in Node (polling only, WebSocket
only, upgrading, in turn) and a Chromium page (one client per mode), all driven by
node/scale.js against tests/workers/workers_app.py.

Every client connects and stays connected; every broadcast (from one worker, then from every
worker at once, and one to a room that fetch_sockets filled) reaches every client exactly
once, counted by id; broadcasts with acks collect the answer of every client, whatever its
worker; fetch_sockets sees every client, and its remote sockets join rooms, get events and
answer acks. No worker refuses a request or finds an owner unreachable."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from browser.conftest import browser_requirement_missing

from .procs import HERE, Served, node_or_skip, run_node
from .test_workers_processes import asgi_workers, check_stats, wait_ready

pytestmark = [pytest.mark.interop, pytest.mark.slow, pytest.mark.timeout(240)]

SCALE = HERE / "node" / "scale.js"
CLIENTS = 300
BROWSER_MODES = ["polling", "websocket", "upgrade"]


async def run_scale(node: str, url: str, profile: Path | None) -> dict[str, Any]:
    config = {"url": url, "count": CLIENTS, "browser": str(profile) if profile else None}
    return await run_node(node, SCALE, config, 200)


def check_scale(result: dict[str, Any], workers: int, browser: bool) -> None:
    """What every client saw, and what the server answered."""
    clients = result["clients"]
    unready = [c for c in clients if c["pid"] is None or c["errors"]]
    assert result["failures"] == [], f"{result['failures']}: {json.dumps(unready[:5])}"
    assert len(clients) == CLIENTS + (len(BROWSER_MODES) if browser else 0)
    if browser:
        page = [c for c in clients if c["kind"] == "browser"]
        assert [c["mode"] for c in page] == BROWSER_MODES
    numbers = sorted(c["i"] for c in clients)
    wrong = [c for c in clients if c["errors"] or c["disconnects"] or not c["connected"]]
    assert not wrong, f"{len(wrong)} clients failed: {wrong[:3]}"
    for client in clients:
        assert client["transport"] == ("polling" if client["mode"] == "polling" else "websocket")
    ids = result["ids"]
    assert len(set(ids)) == len(ids)
    expected = dict.fromkeys(ids, 1)
    bad = [(c["i"], c["received"]) for c in clients if c["received"] != expected]
    assert not bad, f"{len(bad)} clients missed or doubled broadcasts: {bad[:3]}"
    assert all(c["direct"] == 1 for c in clients)
    pids = {c["pid"] for c in clients}
    assert len(pids) >= 2 and len(pids) <= workers, pids
    # every worker of a Node client broadcast
    assert set(result["origins"]) == {c["pid"] for c in clients if c["kind"] == "node"}
    for answers in result["acks"]:  # one broadcast with acks from every worker
        assert sorted(answers) == numbers
    fetched = result["fetched"]
    assert sorted(fetched["data"]) == numbers
    assert 0 < fetched["remote"] < len(numbers)
    assert fetched["acks"] and all(ack == 1 + i for i, _, ack in fetched["acks"])
    assert any(remote for _, remote, _ in fetched["acks"])


@pytest.fixture
def node() -> str:
    return node_or_skip()


@pytest.fixture
def profile(tmp_path: Path) -> Path | None:
    """A Chromium profile for the page's clients; None (Node clients only) without
    Chromium."""
    missing = browser_requirement_missing()
    if missing is not None:
        print(f"no Chromium page: {missing}")
        return None
    return tmp_path / "chromium-profile"


@pytest.fixture
async def served() -> AsyncIterator[list[Served]]:
    started: list[Served] = []
    yield started
    for one in started:
        if one.proc.returncode is None:
            await one.kill()


@pytest.mark.parametrize("workers", [2, 4])
async def test_serve_workers(workers, node, profile, served):
    server = await Served.start("--app", "workers_app:io", "--workers", str(workers))
    served.append(server)
    result = await run_scale(node, server.url, profile)
    assert await server.stop() == 0
    check_scale(result, workers, profile is not None)
    assert len({c["pid"] for c in result["clients"]}) == workers  # the router spreads them
    assert "CONNECTION_ERROR" not in server.log and "Traceback" not in server.log
    stats = re.findall(r"STATS pid=\d+ slot=\d+ forwarded=\d+ unreachable=(\d+)", server.log)
    assert len(stats) == workers and set(stats) == {"0"}, server.log


@pytest.mark.parametrize("workers", [2, 4])
@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn"])
async def test_asgi_workers(kind, workers, node, profile, tmp_path):
    with asgi_workers(kind, tmp_path, workers=workers) as running:
        assert running.workers == workers
        await wait_ready(running)
        result = await run_scale(node, f"http://127.0.0.1:{running.port}", profile)
    check_scale(result, workers, profile is not None)
    check_stats(running)
