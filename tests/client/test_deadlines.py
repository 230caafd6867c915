"""Acknowledgement timeouts on one timer: the deadline heap, alone and behind the socket."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from aiosocketio import AckTimeout
from aiosocketio import Socket as ServerSocket
from aiosocketio.client import connect
from aiosocketio.client.deadlines import Deadline, Deadlines

from . import running, wait_until


async def test_deadlines_fire_in_deadline_order_ties_in_call_order() -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    fired: list[Any] = []
    for delay, name in [(0.06, "c"), (0.02, "a"), (0.04, "b1"), (0.04, "b2"), (0.02, "a2")]:
        deadlines.call_later(delay, fired.append, name)
    assert len(deadlines) == 5
    await wait_until(lambda: len(fired) == 5)
    assert fired == ["a", "a2", "b1", "b2", "c"]
    assert len(deadlines) == 0


async def test_cancelled_deadlines_never_fire() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    fired: list[int] = []
    entries = [deadlines.call_later(0.01 + i / 10000, fired.append, i) for i in range(200)]
    for entry in entries[::2]:
        entry.cancel()
        entry.cancel()  # twice: counted once
    assert len(deadlines) == 100
    assert all(entry.cancelled() for entry in entries[::2])
    await wait_until(lambda: len(fired) == 100)
    assert fired == list(range(1, 200, 2))
    assert all(entry.cancelled() for entry in entries)  # called ones count as done
    entries[1].cancel()  # cancelling after the call changes nothing
    assert len(deadlines) == 0


async def test_cancelled_entries_do_not_pile_up() -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    keep = [deadlines.call_later(60, lambda: None) for _ in range(10)]
    for _ in range(10_000):  # an emit acknowledged at once, 10,000 times
        deadlines.call_later(30, lambda: None).cancel()
    assert len(deadlines) == 10
    assert len(deadlines._heap) <= 2 * 10 + 64 + 1
    for entry in keep:
        entry.cancel()
    assert len(deadlines) == 0 and not deadlines._heap


async def test_an_earlier_deadline_moves_the_timer_forward() -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    fired: list[str] = []
    deadlines.call_later(30, fired.append, "late")
    deadlines.call_later(0.01, fired.append, "early")
    await wait_until(lambda: fired == ["early"])
    assert len(deadlines) == 1


async def test_a_deadline_after_all_were_cancelled_still_fires() -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    fired: list[str] = []
    deadlines.call_later(0.01, fired.append, "gone").cancel()  # the timer stays set
    deadlines.call_later(0.05, fired.append, "kept")
    await wait_until(lambda: fired == ["kept"])


async def test_a_failing_callback_is_logged_and_the_others_still_fire(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    fired: list[str] = []

    def boom() -> None:
        raise RuntimeError("boom")

    deadlines.call_later(0.01, boom)
    deadlines.call_later(0.01, fired.append, "after")
    with caplog.at_level(logging.ERROR, logger="aiosocketio.client"):
        await wait_until(lambda: fired == ["after"])
    assert "error in a deadline callback" in caplog.text


async def test_many_acks_with_timeouts_some_answered_some_not() -> None:
    def on_connection(socket: ServerSocket) -> None:
        socket.on("echo", lambda n: n)
        socket.on("never", lambda *args, ack: None)

    async with running() as (server, port):
        server.on("connection", on_connection)
        sock = await connect(
            f"http://127.0.0.1:{port}",
            transports=["websocket"],
            force_new=True,
            reconnection=False,
            wait_timeout=3,
        )
        answered = [sock.emit_with_ack("echo", n, timeout=30) for n in range(300)]
        silent = [sock.emit_with_ack("never", n, timeout=0.2) for n in range(50)]
        results = await asyncio.gather(*answered, *silent, return_exceptions=True)
        assert results[:300] == list(range(300))
        assert all(isinstance(r, AckTimeout) for r in results[300:])
        deadlines = sock.io._deadlines
        assert deadlines is not None and len(deadlines) == 0
        # callbacks with a timeout, error first; the socket's ack_timeout alike
        answers: list[Any] = []
        for n in range(20):
            sock.timeout(30).emit("echo", n, callback=lambda *a: answers.append(a))
        sock.timeout(0.1).emit("never", 1, callback=lambda *a: answers.append(a))
        await wait_until(lambda: len(answers) == 21)
        assert answers[:20] == [(None, n) for n in range(20)]
        assert isinstance(answers[20][0], AckTimeout)
        await sock.disconnect()


async def test_an_entry_of_its_own_class_fires_or_is_cancelled() -> None:
    fired: list[int] = []

    class Job(Deadline):
        __slots__ = ("n",)

        def __init__(self, n: int) -> None:
            self.n = n

        def fire(self) -> None:
            fired.append(self.n)

    deadlines = Deadlines(asyncio.get_running_loop())
    jobs = [Job(n) for n in range(5)]
    for job in jobs:
        deadlines.add(job, 0.01 * (5 - job.n))  # the last one is due first
    jobs[2].cancel()
    await wait_until(lambda: len(fired) == 4)
    assert fired == [4, 3, 1, 0]
    assert all(job.cancelled() for job in jobs)
