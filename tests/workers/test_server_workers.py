"""Workers mode of the Socket.IO server: the option, the slot's life, session ids, the
adapter seam, the ASGI lifespan (and its absence)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from aiosocketio import Server, connect
from aiosocketio.adapters.memory import MemoryAdapter
from aiosocketio.workers import WORKERS_DIR_ENV
from aiosocketio.workers.detect import SiblingCheck
from aiosocketio.workers.forward import Forwarder
from aiosocketio.workers.slots import WorkerDir, slot_code, slot_of
from helpers import HttpConnection, eio_open
from servers import free_socket


async def test_start_claims_a_slot_and_close_gives_it_back(tmp_path: Path) -> None:
    run = WorkerDir(tmp_path / "run")
    first = run.claim()  # another worker holds slot 0
    io = Server(workers_dir=run.path)
    io.on("connection", lambda socket: socket.on("add", lambda a, b: a + b))
    server = await io.start("127.0.0.1", 0)
    try:
        assert io.worker is not None and io.worker.slot is not None
        slot = io.worker.slot
        assert slot.number == 1
        assert run.live_slots() == [0, 1]
        assert os.path.exists(slot.path("http"))
        assert isinstance(io.engine.router, Forwarder)
        sock = await connect(f"http://127.0.0.1:{server.port}", transports=["polling"])
        assert await sock.emit_with_ack("add", 1, 2) == 3
        assert [slot_of(sid) for sid in io.engine.sessions] == [1]
        await sock.disconnect()
    finally:
        await io.close()
    assert run.live_slots() == [0]
    assert not os.path.exists(slot.path("http"))
    assert io.worker is None
    first.release()


def test_the_environment_variable_turns_workers_mode_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WORKERS_DIR_ENV, str(tmp_path))
    assert Server().workers_dir == str(tmp_path)
    assert Server(workers_dir=tmp_path / "other").workers_dir == str(tmp_path / "other")
    monkeypatch.setenv(WORKERS_DIR_ENV, "")
    io = Server()
    assert io.workers_dir is None
    assert isinstance(io.engine.router, SiblingCheck)


async def test_session_ids_name_the_slot_even_with_generate_id(tmp_path: Path) -> None:
    io = Server(workers_dir=tmp_path)
    io.engine.generate_id = lambda request: "mine-" + str(len(io.engine.sessions))
    server = await io.start("127.0.0.1", 0)
    try:
        assert io.worker is not None and io.worker.slot is not None
        async with await HttpConnection.open(server.port) as conn:
            sid = (await eio_open(conn, "/socket.io/"))["sid"]
        assert sid == slot_code(io.worker.slot.number) + "mine-0"
    finally:
        await io.close()


async def test_a_start_that_fails_gives_the_slot_back(tmp_path: Path) -> None:
    io = Server(workers_dir=tmp_path)
    with free_socket() as taken:
        taken.listen()
        with pytest.raises(OSError):
            await io.start("127.0.0.1", taken.getsockname()[1])
    assert WorkerDir(tmp_path).live_slots() == []


class _WorkersAdapter(MemoryAdapter):
    slot: int = -1


class _WorkersServer(Server):
    """A server whose workers-mode adapter is a marked memory adapter (the seam's test)."""

    def _workers_adapter_factory(self, slot: Any) -> Any:
        def factory(nsp: Any) -> MemoryAdapter:
            adapter = _WorkersAdapter(nsp)
            adapter.slot = slot.number
            return adapter

        return factory


async def test_workers_mode_chooses_the_default_adapter_at_start(tmp_path: Path) -> None:
    io = _WorkersServer(workers_dir=tmp_path)
    joined: list[str] = []
    io.of("/").adapter.on("join-room", lambda room, sid: joined.append(room))
    io.of("/news")
    assert not isinstance(io.of("/").adapter, _WorkersAdapter)
    io.on("connection", lambda socket: socket.join("lobby"))
    server = await io.start("127.0.0.1", 0)
    try:
        for name in ("/", "/news", "/later"):
            adapter = io.of(name).adapter
            assert isinstance(adapter, _WorkersAdapter) and adapter.slot == 0
        sock = await connect(f"http://127.0.0.1:{server.port}")
        assert "lobby" in joined  # a listener added before the start still hears
        await sock.disconnect()
    finally:
        await io.close()


async def test_an_adapter_of_the_user_is_kept_in_workers_mode(tmp_path: Path) -> None:
    io = _WorkersServer(workers_dir=tmp_path, adapter=MemoryAdapter)
    await io.start("127.0.0.1", 0)
    try:
        assert type(io.of("/").adapter) is MemoryAdapter
    finally:
        await io.close()


async def _uvicorn(app: Any, lifespan: str) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    sock = free_socket()
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, ws="wsproto")
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), task.result()
        await asyncio.sleep(0.01)
    return server, task, int(sock.getsockname()[1])


async def test_the_asgi_lifespan_joins_and_leaves(tmp_path: Path) -> None:
    io = Server(workers_dir=tmp_path)
    server, task, port = await _uvicorn(io.asgi_app(), "on")
    assert WorkerDir(tmp_path).live_slots() == [0]
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn, "/socket.io/"))["sid"]
    assert slot_of(sid) == 0
    server.should_exit = True
    await asyncio.wait_for(task, 5)
    assert WorkerDir(tmp_path).live_slots() == []


async def test_without_a_lifespan_the_first_request_joins(tmp_path: Path) -> None:
    io = Server(workers_dir=tmp_path)
    server, task, port = await _uvicorn(io.asgi_app(), "off")
    try:
        assert WorkerDir(tmp_path).live_slots() == []
        async with await HttpConnection.open(port) as conn:
            first = asyncio.ensure_future(eio_open(conn, "/socket.io/"))
            async with await HttpConnection.open(port) as other:
                second = (await eio_open(other, "/socket.io/"))["sid"]
            sids = [(await first)["sid"], second]
        assert [slot_of(sid) for sid in sids] == [0, 0]
        assert WorkerDir(tmp_path).live_slots() == [0]  # one slot for both requests
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 5)
        await io.shutdown()
    assert WorkerDir(tmp_path).live_slots() == []


async def test_a_lifespan_startup_that_fails_says_why(tmp_path: Path) -> None:
    long = tmp_path / ("x" * 100)  # too long for Unix socket names
    app = Server(workers_dir=long).asgi_app()
    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "lifespan.startup"}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "too long" in sent[0]["message"]
