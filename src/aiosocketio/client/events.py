"""Listeners and background tasks of the client.

:class:`Emitter` keeps listeners by event name and calls them as the server side does
(:mod:`aiosocketio.runtime`): plain functions inline, coroutine functions as tasks;
a handler answers an acknowledgement request with its return value or by calling its
keyword ``ack`` parameter. Every task is kept in a :class:`TaskSet`, so closing a client can
wait for (or cancel) what it started.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar, overload

from ..runtime import Listener, Listeners, TaskSet, run_handler

__all__ = ["Emitter", "Listener", "ListenerApi", "TaskSet", "log", "run_handler"]

log = logging.getLogger("aiosocketio.client")

F = TypeVar("F", bound=Callable[..., Any])


class ListenerApi:
    """``on`` and ``once``, as decorators or calls; a subclass keeps the listeners
    (:meth:`_register`)."""

    __slots__ = ()

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
            self._register(event, func, once)
            return func

        return register if handler is None else register(handler)

    def _register(self, event: str, func: Callable[..., Any], once: bool) -> None:
        raise NotImplementedError


class Emitter(ListenerApi):
    """Listeners by event name. Subclasses give the TaskSet that async listeners run in."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        self._listeners = Listeners()

    def _task_set(self) -> TaskSet:
        raise NotImplementedError

    def _register(self, event: str, func: Callable[..., Any], once: bool) -> None:
        self._listeners.add(event, func, once)

    def off(self, event: str | None = None, handler: Callable[..., Any] | None = None) -> None:
        """Remove one listener, every listener of an event, or every listener."""
        self._listeners.remove(event, handler)

    def listeners(self, event: str) -> list[Callable[..., Any]]:
        return self._listeners.funcs(event)

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
            run_handler(listener, args, ack, "listener", event, tasks.spawn, log)
            ack = None  # only the first listener answers
