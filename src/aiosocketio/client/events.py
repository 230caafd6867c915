"""Listeners and background tasks of the client.

:class:`Emitter` keeps listeners by event name and calls them as the server side does
(:mod:`aiosocketio.runtime`): plain functions inline, coroutine functions as tasks;
a handler answers an acknowledgement request with its return value or by calling its
keyword ``ack`` parameter. Every task is kept in a :class:`TaskSet`, so closing a client can
wait for (or cancel) what it started.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, overload

from ..runtime import Listener, ack_args

__all__ = ["Emitter", "Listener", "TaskSet", "log", "run_listener"]

log = logging.getLogger("aiosocketio.client")

F = TypeVar("F", bound=Callable[..., Any])


class TaskSet:
    """Background tasks that belong to one object; failures are logged."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            exc = task.exception()
            if exc is not None:
                log.error("error in %s", task.get_name(), exc_info=exc)

    def __len__(self) -> int:
        return len(self._tasks)

    def _others(self) -> list[asyncio.Task[Any]]:
        try:
            current = asyncio.current_task()
        except RuntimeError:
            current = None
        return [t for t in self._tasks if t is not current and not t.done()]

    def cancel(self) -> None:
        """Cancel every task but the current one."""
        for task in self._others():
            task.cancel()

    async def wait(self) -> None:
        """Wait until every task (but the current one) has finished."""
        while True:
            others = self._others()
            if not others:
                return
            await asyncio.wait(others)


def run_listener(
    listener: Listener,
    args: list[Any],
    ack: Callable[..., None] | None,
    what: str,
    tasks: TaskSet,
    event: str | None = None,
) -> None:
    """Call a listener with args; with ``ack``, its result (or its own call of the ``ack``
    keyword argument) answers the acknowledgement request. ``what`` names the listener in
    logs and task names (after ``event``'s name when given)."""
    func = listener.func
    try:
        if listener.wants_ack:
            result = func(*args, ack=ack if ack is not None else _no_ack)
            ack = None
        else:
            result = func(*args)
    except Exception:
        log.exception("error in %s", what if event is None else f"{event!r} {what}")
        return
    if result is not None and inspect.isawaitable(result):
        tasks.spawn(_await_then_ack(result, ack), what if event is None else f"{event!r} {what}")
    elif ack is not None:
        ack(*ack_args(result))


def _no_ack(*args: Any) -> None:
    """Given to handlers that take ``ack`` when the server asked for no acknowledgement."""


async def _await_then_ack(awaitable: Any, ack: Callable[..., None] | None) -> None:
    result = await awaitable
    if ack is not None:
        ack(*ack_args(result))


class Emitter:
    """Listeners by event name. Subclasses give the TaskSet that async listeners run in."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}

    def _task_set(self) -> TaskSet:
        raise NotImplementedError

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...
    @overload
    def on(self, event: str, handler: F) -> F: ...
    def on(self, event: str, handler: F | None = None) -> Any:
        """Add a listener (usable as a decorator: ``@sock.on("news")``)."""
        return self._add(event, handler, False)

    @overload
    def once(self, event: str) -> Callable[[F], F]: ...
    @overload
    def once(self, event: str, handler: F) -> F: ...
    def once(self, event: str, handler: F | None = None) -> Any:
        """Add a listener called at most once."""
        return self._add(event, handler, True)

    def _add(self, event: str, handler: F | None, once: bool) -> Any:
        def register(func: F) -> F:
            self._listeners.setdefault(event, []).append(Listener(func, once))
            return func

        return register if handler is None else register(handler)

    def off(self, event: str | None = None, handler: Callable[..., Any] | None = None) -> None:
        """Remove one listener, every listener of an event, or every listener."""
        if event is None:
            self._listeners.clear()
        elif handler is None:
            self._listeners.pop(event, None)
        else:
            listeners = self._listeners.get(event)
            if listeners:
                for i, listener in enumerate(listeners):
                    if listener.func is handler:
                        del listeners[i]
                        break

    def listeners(self, event: str) -> list[Callable[..., Any]]:
        return [listener.func for listener in self._listeners.get(event, ())]

    def has_listeners(self, event: str) -> bool:
        return bool(self._listeners.get(event))

    def _emit_reserved(self, event: str, *args: Any) -> None:
        """Call the listeners of a local event (no acknowledgement). Always through
        ``_dispatch``: a subclass may route events elsewhere (the compat client does)."""
        self._dispatch(event, list(args), None)

    def _dispatch(self, event: str, args: list[Any], ack: Callable[..., None] | None) -> None:
        listeners = self._listeners.get(event)
        if not listeners:
            return
        tasks = self._task_set()
        for listener in list(listeners):
            if listener.once:
                try:
                    listeners.remove(listener)
                except ValueError:
                    continue
            run_listener(listener, args, ack, "listener", tasks, event)
            ack = None  # only the first listener answers
