"""Reconnection, offline buffering, retries and connection state recovery against
aiosocketio's own server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosocketio import AckTimeout, Server
from aiosocketio import Socket as ServerSocket
from aiosocketio.client import connect, io

from . import Recorder, other_tasks, running, wait_until

MODES = {
    "websocket": ["websocket"],
    "polling": ["polling"],
    "upgrade": ["polling", "websocket"],
}

FAST = {"reconnection_delay": 0.05, "reconnection_delay_max": 0.1, "randomization_factor": 0}


@pytest.mark.parametrize("mode", MODES)
async def test_reconnects_after_a_server_restart_and_sends_the_buffer_in_order(
    mode: str,
) -> None:
    received: list[Any] = []

    def on_connection(socket: ServerSocket) -> None:
        socket.on("seq", received.append)

    first = Server()
    first.on("connection", on_connection)
    standalone = await first.start("127.0.0.1", 0)
    port = standalone.port
    url = f"http://127.0.0.1:{port}"
    sock = await connect(url, force_new=True, transports=MODES[mode], wait_timeout=3, **FAST)
    rec = Recorder()
    for event in ("connect", "disconnect"):
        sock.on(event, rec.handler(event))
    for event in ("reconnect_attempt", "reconnect", "reconnect_error", "close"):
        sock.io.on(event, rec.handler(event))
    old_id = sock.id
    sock.emit("seq", 0)
    await wait_until(lambda: received == [0])

    await first.close()
    assert await rec.wait("disconnect") == [("transport close",)]
    assert rec["close"] == [("transport close",)]
    await rec.wait("reconnect_error")  # the port is closed for a while
    for n in range(1, 21):
        sock.emit("seq", n)  # buffered while disconnected
    assert not sock.connected

    async with running(port=port) as (second, _):
        second.on("connection", on_connection)
        await rec.wait("connect")
        [(attempt,)] = await rec.wait("reconnect")
        assert attempt >= 2
        assert [a for (a,) in rec["reconnect_attempt"]] == list(range(1, attempt + 1))
        assert sock.connected and sock.id != old_id
        await wait_until(lambda: len(received) == 21)
        assert received == list(range(21))
        await sock.disconnect()
    assert other_tasks() == []


async def test_reconnects_after_a_transport_close() -> None:
    async with running() as (server, port):
        server.on("connection", lambda s: s.on("close-transport", lambda: s.conn.close()))
        sock = await connect(
            f"http://127.0.0.1:{port}", force_new=True, transports=["websocket"], **FAST
        )
        rec = Recorder()
        sock.on("disconnect", rec.handler("disconnect"))
        sock.on("connect", rec.handler("connect"))
        sock.emit("close-transport")
        assert await rec.wait("disconnect") == [("transport close",)]
        await rec.wait("connect")
        assert sock.connected and not sock.recovered  # recovery is off on this server
        await sock.disconnect()


async def test_disconnect_while_reconnecting_stops_everything() -> None:
    async with running() as (_, port):
        pass
    sock = io(f"http://127.0.0.1:{port}", force_new=True, **FAST)
    rec = Recorder()
    sock.io.on("reconnect_attempt", rec.handler("attempt"))
    await rec.wait("attempt", 2)
    await sock.disconnect()
    count = len(rec["attempt"])
    await asyncio.sleep(0.3)
    assert len(rec["attempt"]) == count
    assert sock.io.ready_state == "closed"
    assert other_tasks() == []


@pytest.mark.parametrize("mode", ["websocket", "polling"])
async def test_retries_until_acknowledged_in_order(mode: str) -> None:
    tries: dict[Any, int] = {}
    received: list[Any] = []

    def on_connection(socket: ServerSocket) -> None:
        def flaky(n: Any, *, ack: Any) -> None:
            tries[n] = tries.get(n, 0) + 1
            received.append(n)
            if tries[n] > 1:  # the first try of each event goes unanswered
                ack(n, tries[n])

        socket.on("flaky", flaky)
        socket.on("never", lambda *args, ack: received.append(("never", *args)))

    async with running() as (server, port):
        server.on("connection", on_connection)
        sock = io(
            f"http://127.0.0.1:{port}",
            force_new=True,
            transports=MODES[mode],
            retries=2,
            ack_timeout=0.5,  # the second try is answered within it on a loaded machine
        )
        # queued before the connection, sent one at a time once connected
        answers = [asyncio.ensure_future(sock.emit_with_ack("flaky", n)) for n in range(3)]
        await asyncio.sleep(0)  # the three emits are queued
        assert not sock.connected
        callbacks: list[Any] = []
        sock.emit("flaky", 3, callback=lambda *args: callbacks.append(args))
        assert await asyncio.wait_for(asyncio.gather(*answers), 5) == [(0, 2), (1, 2), (2, 2)]
        await wait_until(lambda: callbacks == [(None, 3, 2)])
        assert received == [0, 0, 1, 1, 2, 2, 3, 3]

        received.clear()
        with pytest.raises(AckTimeout):
            await sock.emit_with_ack("never", "x")
        assert received == [("never", "x")] * 3  # the first try and two retries
        await sock.disconnect()


async def test_retried_emits_survive_a_reconnection() -> None:
    received: list[Any] = []
    gate = asyncio.Event()

    def on_connection(socket: ServerSocket) -> None:
        async def slow(n: int) -> int:
            received.append(n)
            await gate.wait()
            return n

        socket.on("slow", slow)
        socket.on("close-transport", lambda: socket.conn.close())

    async with running() as (server, port):
        server.on("connection", on_connection)
        sock = await connect(
            f"http://127.0.0.1:{port}", force_new=True, transports=["websocket"], retries=3,
            **FAST,
        )  # fmt: skip
        answer = asyncio.ensure_future(sock.emit_with_ack("slow", 7))
        await wait_until(lambda: received == [7])
        sock.volatile.emit("close-transport")  # volatile: not queued behind "slow"
        rec = Recorder()
        sock.on("connect", rec.handler("connect"))
        await rec.wait("connect")
        gate.set()
        assert await asyncio.wait_for(answer, 3) == 7
        assert received == [7, 7]  # sent again on the new connection
        await sock.disconnect()


@pytest.mark.parametrize("mode", ["websocket", "polling"])
async def test_connection_state_recovery(mode: str) -> None:
    def on_connection(socket: ServerSocket) -> None:
        def join(room: str) -> str:
            socket.join(room)
            return room

        def on_disconnect(reason: str) -> None:
            for n in (1, 2, 3):
                server.to("r").emit("missed", n)

        socket.on("join", join)
        socket.on("close-transport", lambda: socket.conn.close())
        socket.on("disconnect", on_disconnect)

    async with running(connection_state_recovery=True) as (server, port):
        server.on("connection", on_connection)
        url = f"http://127.0.0.1:{port}"
        sock = await connect(url, force_new=True, transports=MODES[mode], **FAST)
        assert not sock.recovered
        rec = Recorder()
        for event in ("connect", "disconnect", "missed", "before"):
            sock.on(event, rec.handler(event))
        assert await sock.emit_with_ack("join", "r") == "r"
        server.to("r").emit("before", 0)
        await rec.wait("before")
        first_id = sock.id
        sock.emit("close-transport")
        assert await rec.wait("disconnect") == [("transport close",)]
        await rec.wait("connect")
        assert sock.recovered is True
        assert sock.id == first_id
        assert [n for (n, *_) in await rec.wait("missed", 3)] == [1, 2, 3]
        # the events carry their offsets; the last one is kept for the next recovery
        assert all(isinstance(args[-1], str) for args in rec["missed"])
        assert sock._last_offset == rec["missed"][-1][-1]

        fresh = await connect(url, force_new=True, transports=MODES[mode])
        assert fresh.recovered is False and fresh.id != first_id
        await fresh.disconnect()
        await sock.disconnect()
    assert other_tasks() == []
