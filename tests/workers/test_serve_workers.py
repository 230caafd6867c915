"""``serve --workers N`` with real processes and the official client (socket.io-client in
Node): sticky sessions for every transport, restarts, the SIGTERM drain."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from helpers import HttpConnection, eio_open, poll_url
from test_docs import DOCS, blocks

from .procs import Clients, Served, alive, node_or_skip, unix_sockets_under, until
from .test_workers_processes import RUNS, check_clients, run_clients

pytestmark = [pytest.mark.interop, pytest.mark.slow, pytest.mark.timeout(120)]

Serve = Callable[..., Awaitable[Served]]
StartClients = Callable[..., Awaitable[Clients]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    started: list[Served] = []

    async def start(*args: str, **kwargs: Any) -> Served:
        served = await Served.start("--app", "serve_app:io", *args, **kwargs)
        started.append(served)
        return served

    yield start
    for served in started:
        if served.proc.returncode is None:
            await served.kill()


@pytest.fixture
async def clients() -> AsyncIterator[StartClients]:
    node = node_or_skip()
    started: list[Clients] = []

    async def start(**config: Any) -> Clients:
        made = await Clients.start(node, **config)
        started.append(made)
        return made

    yield start
    for made in started:
        await made.quit()


def assert_gone(served: Served, pids: list[int], run_dir: str) -> None:
    assert pids and not [pid for pid in pids if alive(pid)], pids
    assert not os.path.exists(run_dir)
    assert unix_sockets_under(run_dir) == []
    with socket.socket() as sock:  # the port is free again (for a server: SO_REUSEADDR)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", served.port))
        sock.listen()


@pytest.mark.parametrize("workers", [2, 4])
async def test_every_transport_sticks_to_its_worker(serve, clients, workers):
    served = await serve("--workers", str(workers))
    pids = served.workers()
    assert len(pids) == workers
    run = await clients(url=served.url, count=48, rounds=5)
    rounds = await run.event("rounds", timeout=60)
    assert rounds["failed"] == 0, [c["errors"] for c in rounds["clients"] if c["errors"]]
    for client in rounds["clients"]:
        assert client["errors"] == [] and client["disconnects"] == [], client
        assert len(client["pids"]) == 1, client  # every request reached the session's owner
        assert client["pid"] in pids
        assert client["transport"] == ("polling" if client["mode"] == "polling" else "websocket")
    assert len({c["pid"] for c in rounds["clients"]}) > 1  # spread over the workers
    await run.quit()
    assert await served.stop() == 0
    # every poll of the Node client is a new connection: the router sent it to its owner
    assert served.routed_to_owner() > 0, served.log


async def test_a_kept_alive_connection_moves_to_the_worker_of_each_request(serve):
    served = await serve("--workers", "2")
    sids: dict[str, int] = {}  # sid -> the pid that answers for it
    for _ in range(20):
        async with await HttpConnection.open(served.port) as conn:
            sid = (await eio_open(conn, "/socket.io/"))["sid"]
            await conn.request("POST", poll_url(sid, "/socket.io/"), body="40")
            response = await conn.request("GET", poll_url(sid, "/socket.io/"))
            assert response.text.startswith("40")
            ack = await conn.request("POST", poll_url(sid, "/socket.io/"), body='421["whoami"]')
            assert ack.body == b"ok"
            sids[sid] = json.loads(
                (await conn.request("GET", poll_url(sid, "/socket.io/"))).text[3:]
            )[0]
        if len(set(sids.values())) == 2:
            break
    assert len(set(sids.values())) == 2
    async with await HttpConnection.open(served.port) as conn:  # one connection, every session
        for _ in range(3):
            for sid, pid in sids.items():
                body = '422["whoami"]'
                assert (
                    await conn.request("POST", poll_url(sid, "/socket.io/"), body=body)
                ).body == b"ok"
                answer = await conn.request("GET", poll_url(sid, "/socket.io/"))
                assert answer.text == f"432[{pid}]"
    assert await served.stop() == 0
    assert served.handed_off() > 0, served.log


async def test_a_killed_worker_is_restarted_and_only_its_clients_reconnect(serve, clients):
    served = await serve("--workers", "2")
    run = await clients(url=served.url, count=30, rounds=1, reconnection=True, load=True)
    rounds = await run.event("rounds", timeout=60)
    assert rounds["failed"] == 0
    by_pid: dict[int, list[int]] = {}
    for client in rounds["clients"]:
        by_pid.setdefault(client["pid"], []).append(client["i"])
    assert len(by_pid) == 2, by_pid
    victim, survivor = sorted(by_pid, key=lambda pid: -len(by_pid[pid]))
    sender = by_pid[survivor][0]
    await asyncio.sleep(0.5)  # under load
    os.kill(victim, signal.SIGKILL)
    down = [f"down-{k}" for k in range(5)]  # broadcast while the worker is down
    for id_ in down:
        run.send(f"bc {sender} {id_}")
    await served.wait_line(served.stderr, r"worker \d stopped \(killed by SIGKILL\)")
    await until(lambda: victim not in served.workers() and len(served.workers()) == 2)
    victims = set(by_pid[victim])

    def reconnected() -> bool:
        done = {e["i"] for e in run.events if e["ev"] == "reconnect"}
        return victims <= done

    await until(reconnected, what="the victim's clients to reconnect")
    await run.summary_when(  # an ack after the reconnection: the socket is there again
        lambda summary: all(c["ok_after_reconnect"] for c in summary if c["i"] in victims),
        "the victim's clients to connect again",
    )
    after = [f"after-{k}" for k in range(5)]
    for id_ in after:
        run.send(f"bc {sender} {id_}")
    await until(lambda: run.count("bc") == len(down + after), what="the broadcasts' acks")
    assert [e for e in run.events if e["ev"] == "bc" and "error" in e] == []

    def arrived(summary: list[dict[str, Any]]) -> bool:
        wanted = {c["i"]: after if c["i"] in victims else down + after for c in summary}
        return all(set(wanted[c["i"]]) <= set(c["received"]) for c in summary)

    await asyncio.sleep(0.5)  # traffic after the reconnection
    summary = await run.summary_when(arrived, "every broadcast")
    for client in summary:
        received = client["received"]
        if client["i"] in victims:
            assert client["disconnects"] in (["transport close"], ["transport error"]), client
            assert client["reconnects"] == 1, client
            assert client["ok_after_reconnect"] > 0 and client["failed_after_reconnect"] == 0
            assert victim not in client["pids"][1:], client
            assert {id_: received.get(id_) for id_ in after} == dict.fromkeys(after, 1)
            assert all(received.get(id_, 0) <= 1 for id_ in down), client
        else:
            assert client["pid"] == survivor
            assert client["disconnects"] == [] and client["failed"] == 0, client
            assert client["ok"] > 0
            assert received == dict.fromkeys(down + after, 1), client
    await run.quit()
    assert await served.stop() == 0


async def test_sigterm_drains_and_leaves_nothing_behind(serve, clients):
    served = await serve("--workers", "2", "--grace", "5")
    pids = [served.proc.pid, *served.workers()]
    run_dir = await served.run_dir()
    assert os.path.isdir(run_dir)
    run = await clients(url=served.url, count=24, rounds=1, reconnection=True, attempts=3)
    assert (await run.event("rounds", timeout=60))["failed"] == 0
    assert await served.stop(signal.SIGTERM) == 0
    await until(lambda: run.count("reconnect_failed") == 24, what="every client to give up")
    summary = await run.summary()
    for client in summary:
        # the transport closed (the official client reconnects), no Socket.IO DISCONNECT
        assert client["disconnects"] == ["transport close"], client
        assert client["gave_up"] and client["reconnects"] == 0
    assert_gone(served, pids, run_dir)
    assert "draining" in served.log


async def test_an_app_that_cannot_load_stops_at_once(serve):
    served = await serve("--workers", "4", env={"WORKERS_APP_FAIL": "import"}, ready=False)
    assert await served.stop(None, timeout=30) == 1
    # one worker tried, not four
    assert served.log.count("RuntimeError: the app cannot load") == 1, served.log
    assert "the worker could not start" in served.log
    assert served.stdout == []


async def test_a_worker_that_keeps_failing_at_start_stops_everything(serve, tmp_path: Path):
    marker = tmp_path / "broken"
    served = await serve("--workers", "2", env={"WORKERS_APP_FAIL": f"file:{marker}"})
    pids = [served.proc.pid, *served.workers()]
    run_dir = await served.run_dir()
    marker.touch()
    os.kill(pids[1], signal.SIGKILL)
    assert await served.stop(None, timeout=30) == 1
    assert "failed 5 times in a row before listening" in served.log
    assert_gone(served, pids, run_dir)


async def test_the_port_in_use_is_one_error_line(serve):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        served = await Served.start(
            "--app", "serve_app:io", "--workers", "2", "--port", str(port), ready=False
        )
        assert await served.stop(None) == 1
    assert served.stderr == [f"cannot listen on 127.0.0.1 port {port}: address already in use"]


async def test_a_sharing_listener_on_the_port_is_refused_too(serve):
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        served = await Served.start(
            "--app", "serve_app:io", "--workers", "2", "--port", str(port), ready=False
        )
        assert await served.stop(None) == 1
    assert "address already in use" in served.log


async def test_the_guides_command_with_every_transport_and_broadcasts(tmp_path: Path):
    """docs/deploying.md's `serve --workers` command, with the clients and checks of the
    ASGI servers' test (test_workers_processes.py): every transport, polling with and without
    kept-alive connections, broadcasts across the workers (the inter-worker adapter)."""
    node = node_or_skip()
    found = [b for b in blocks(DOCS / "deploying.md") if b.annotation == "command: serve"]
    assert len(found) == 1
    argv = shlex.split(found[0].text)
    assert argv[:2] == ["aiosocketio", "serve"] and "chat:io" in argv and "8000" in argv
    args = ["workers_app:io" if a == "chat:io" else "0" if a == "8000" else a for a in argv[2:]]
    workers = int(args[args.index("--workers") + 1])
    served = await Served.start_command(sys.executable, "-m", "aiosocketio", "serve", *args)
    try:
        assert len(served.workers()) == workers
        results = await asyncio.gather(*(run_clients(node, served.url, *run) for run in RUNS))
        pids: set[int] = set()
        for result in results:
            pids |= check_clients(result)
        assert len(pids) >= 2
    finally:
        code = await served.stop()
    assert code == 0
    assert "CONNECTION_ERROR" not in served.log and "Traceback" not in served.log
    stats = re.findall(r"STATS pid=\d+ slot=\d+ forwarded=(\d+) unreachable=(\d+)", served.log)
    assert len(stats) == workers, served.log
    assert all(unreachable == "0" for _, unreachable in stats)
    assert served.routed_to_owner() > 0
