"""The supervisor and the Python entry point (``aiosocketio.run``, ``Server.run``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import aiosocketio
from aiosocketio import Server
from aiosocketio.cli import main
from aiosocketio.runner import app_spec
from aiosocketio.workers import supervisor
from aiosocketio.workers.supervisor import Supervisor, cpu_count, workers_arg
from helpers import HttpConnection, eio_open

from . import serve_app
from .procs import (
    HERE,
    Clients,
    Served,
    alive,
    children,
    node_or_skip,
    unix_sockets_under,
    until,
)

io = Server()  # a module attribute: app_spec finds it


def factory() -> Server:
    return Server()


def test_workers_auto_is_one_per_usable_cpu() -> None:
    assert cpu_count() == len(os.sched_getaffinity(0))
    assert workers_arg("auto") == workers_arg("AUTO") == cpu_count()
    assert workers_arg("3") == 3


@pytest.mark.parametrize("text", ["0", "-2", "many", ""])
def test_bad_worker_counts(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        workers_arg(text)


@pytest.mark.parametrize("args", [["--workers", "0"], ["--workers", "x"], ["--grace", "-1"]])
def test_bad_worker_options_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", *args]) == 2
    assert "usage: aiosocketio" in capsys.readouterr().err


def test_the_import_path_of_an_app() -> None:
    assert app_spec(io) == (f"{__name__}:io", [])
    assert app_spec(factory) == (f"{__name__}:factory", [])
    assert app_spec(serve_app.io) == (f"{serve_app.__name__}:io", [])
    with pytest.raises(ValueError, match="not a module attribute"):
        app_spec(Server())
    with pytest.raises(ValueError, match="cannot be imported by name"):
        app_spec(lambda: Server())


@contextlib.asynccontextmanager
async def supervising(workers: int = 2) -> AsyncIterator[tuple[Supervisor, asyncio.Future[int]]]:
    """A supervisor of ``serve_app:io`` in this process, running (its workers ready); and
    the future of its exit code."""
    settings = {
        "app": "serve_app:io",
        "host": "127.0.0.1",
        "port": 0,
        "log_level": "warning",
        "quiet": True,
    }
    sup = Supervisor(settings, workers, grace=2.0, import_path=[str(HERE)])
    running = asyncio.ensure_future(sup.run())
    try:
        await until(
            lambda: (sup.router is not None and len(sup.router.live) == workers) or running.done()
        )
        yield sup, running
    finally:
        if not running.done():
            sup._request_stop()
            await asyncio.wait_for(running, 30)


async def test_in_process_it_leaves_no_descriptor_behind(capsys: pytest.CaptureFixture[str]):
    before = sorted(os.listdir("/proc/self/fd"))
    async with supervising() as (sup, running):
        pids = children(os.getpid())
        assert len(pids) == 2
        async with await HttpConnection.open(sup.port) as conn:
            assert (await eio_open(conn, "/socket.io/"))["sid"]
        run_dir = sup.run_dir
        assert os.path.isdir(run_dir)
        sup._request_stop()
        assert await asyncio.wait_for(running, 30) == 0
    assert not [pid for pid in pids if alive(pid)]
    assert not os.path.exists(run_dir)
    assert unix_sockets_under(run_dir) == []
    assert sorted(os.listdir("/proc/self/fd")) == before
    assert f"listening on http://127.0.0.1:{sup.port}/ (Socket.IO path: /socket.io/)" in (
        capsys.readouterr().out
    )


@pytest.mark.interop
@pytest.mark.slow
async def test_a_drain_under_load_leaves_nothing_behind():
    """SIGTERM's drain (the same stop) while official clients of every transport keep an
    echo in flight: each loses its transport (so it reconnects; no Socket.IO DISCONNECT),
    once; no process, descriptor or Unix socket is left."""
    node = node_or_skip()
    before = sorted(os.listdir("/proc/self/fd"))
    async with supervising() as (sup, running):
        pids = children(os.getpid())
        run_dir = sup.run_dir
        url = f"http://127.0.0.1:{sup.port}"
        run = await Clients.start(
            node, url=url, count=30, rounds=1, load=True, reconnection=True, attempts=2
        )
        try:
            assert (await run.event("rounds", timeout=60))["failed"] == 0
            await run.summary_when(lambda summary: all(c["ok"] for c in summary), "load")
            assert unix_sockets_under(run_dir) != []
            sup._request_stop()
            assert await asyncio.wait_for(running, 30) == 0
            await until(lambda: run.count("reconnect_failed") == 30, what="every client to give up")
            summary = await run.summary()
        finally:
            await run.quit()
    for client in summary:
        if client["mode"] == "polling":
            # or a request sent as the listener closed fails first ("transport error":
            # refused); the official client reconnects after either
            assert client["disconnects"] in (["transport close"], ["transport error"]), client
        else:
            assert client["disconnects"] == ["transport close"], client
    assert not [pid for pid in pids if alive(pid)]
    assert not os.path.exists(run_dir)
    assert unix_sockets_under(run_dir) == []
    assert sorted(os.listdir("/proc/self/fd")) == before


SCRIPT = """\
import os
import sys

from aiosocketio import Server

io = Server()


@io.on_event("whoami")
def whoami(socket):
    return os.getpid()


if __name__ == "__main__":
    workers = int(sys.argv[1]) or None
    io.run(port=0, workers=workers, grace=2)
"""


@pytest.mark.parametrize("workers", [0, 2])
async def test_run_from_a_script_finds_its_import_path(tmp_path: Path, workers: int):
    script = tmp_path / "chat_app.py"
    script.write_text(SCRIPT)
    served = await Served.start_command(sys.executable, str(script), str(workers))
    try:
        async with await HttpConnection.open(served.port) as conn:
            assert (await eio_open(conn, "/socket.io/"))["sid"]
        assert len(served.workers()) == workers
    finally:
        code = await served.stop(signal.SIGTERM)
    assert code == 0, served.log


async def test_run_in_a_worker_is_refused(tmp_path: Path):
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from aiosocketio import Server\n\nio = Server()\nio.run(port=0, workers=2)\n"
    )
    served = await Served.start_command(sys.executable, str(script), ready=False)
    assert await served.stop(None) == 1
    assert "call it under `if __name__ == '__main__':`" in served.log


def test_run_is_exported() -> None:
    assert aiosocketio.run is not None
    assert not supervisor.in_worker
