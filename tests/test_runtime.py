"""The shared event runtime: listeners by event name, local events, acknowledgement results."""

from __future__ import annotations

import asyncio
import logging

import pytest

from aiosocketio.runtime import Listener, Listeners, ack_args, await_then_ack, spawn


def test_add_remove_and_funcs() -> None:
    def a() -> None: ...
    def b() -> None: ...

    reg = Listeners()
    reg.add("x", a)
    reg.add("x", b)
    reg.add("x", a)
    reg.add("y", b)
    assert reg.funcs("x") == [a, b, a]
    reg.remove("x", a)  # the first one added
    assert reg.funcs("x") == [b, a]
    reg.remove("x", b)
    reg.remove("x", a)
    assert "x" not in reg and reg.funcs("x") == []  # no empty list left behind
    reg.remove("y")
    assert reg == {}
    reg.add("z", a)
    reg.remove()
    assert reg == {}
    reg.remove("nothing", a)  # nothing to remove: no error


def test_emit_calls_in_order_once_listeners_once() -> None:
    calls: list[tuple[str, tuple[int, ...]]] = []
    reg = Listeners()
    reg.add("e", lambda *args: calls.append(("on", args)))
    reg.add("e", lambda *args: calls.append(("once", args)), once=True)
    reg.emit("e", 1, 2)
    reg.emit("e", 3)
    assert calls == [("on", (1, 2)), ("once", (1, 2)), ("on", (3,))]
    reg.emit("other")  # no listener: nothing happens


def test_a_listener_may_change_the_listeners_while_an_event_is_emitted() -> None:
    calls: list[str] = []
    reg = Listeners()

    def first() -> None:
        calls.append("first")
        reg.remove("e", second)  # the current emit still calls it (Node does the same)
        reg.add("e", lambda: calls.append("added"))  # the next emit calls it

    def second() -> None:
        calls.append("second")

    reg.add("e", first)
    reg.add("e", second)
    reg.emit("e")
    assert calls == ["first", "second"]
    reg.emit("e")
    assert calls == ["first", "second", "first", "added"]


def test_a_failing_listener_is_logged_and_the_others_run(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []
    reg = Listeners()
    reg.add("e", lambda: 1 / 0)
    reg.add("e", lambda: calls.append("ran"))
    with caplog.at_level(logging.ERROR):
        reg.emit("e", where=" of test")
    assert calls == ["ran"]
    assert "error in a e listener of test" in caplog.text


async def test_a_coroutine_listener_runs_as_a_task() -> None:
    done = asyncio.Event()

    async def listener(value: int) -> None:
        assert value == 7
        done.set()

    reg = Listeners()
    reg.add("e", listener)
    reg.emit("e", 7)
    await asyncio.wait_for(done.wait(), 10)


def test_listener_inspection() -> None:
    async def coro() -> None: ...
    def with_ack(x: int, ack: object = None) -> None: ...
    def keyword_ack(*, ack: object) -> None: ...
    def plain(x: int) -> None: ...

    assert Listener(coro).is_async and not Listener(plain).is_async
    assert Listener(with_ack).wants_ack and Listener(keyword_ack).wants_ack
    assert not Listener(plain).wants_ack
    assert not Listener(with_ack, by_id=True).wants_ack  # compat: an ordinary parameter
    assert Listener(print).wants_ack is False  # builtins without a signature


def test_ack_args() -> None:
    assert ack_args(None) == ()
    assert ack_args((1, 2)) == (1, 2)
    assert ack_args([1, 2]) == ([1, 2],)
    assert ack_args("x") == ("x",)


async def test_await_then_ack_and_spawn(caplog: pytest.LogCaptureFixture) -> None:
    got: list[tuple[object, ...]] = []

    async def result() -> tuple[int, int]:
        return (1, 2)

    await spawn(await_then_ack(result(), lambda *args: got.append(args)), "test")
    assert got == [(1, 2)]

    async def fails() -> None:
        raise ValueError("boom")

    task = spawn(fails(), "failing task")
    with caplog.at_level(logging.ERROR):
        await asyncio.wait((task,))
        await asyncio.sleep(0)  # the done callback runs after the task
    assert "error in failing task" in caplog.text
