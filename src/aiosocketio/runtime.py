"""The event runtime that the server, the engine, the adapters and the client share.

* :class:`Listener`: a registered function, inspected once (coroutine function or not, does
  it take the ``ack`` keyword).
* :class:`Listeners`: listeners by event name (``on`` / ``once`` / ``off`` for every object
  that has them). It is a ``dict``, so the hot paths look an event up at C speed.
* :func:`run_handler`: call a handler, plain functions inline, coroutine functions as tasks
  started in order; a handler that declares a keyword parameter named ``ack`` receives the
  acknowledgement callback, any other acknowledges with its return value.
* :class:`TaskSet`, :func:`spawn`: background tasks kept referenced, their failures logged.
* :func:`ack_args`, :func:`no_ack`, :func:`await_then_ack`: what a handler's result means
  for an acknowledgement.

Below the server and the client, above the sans-I/O core (the import contract's layers).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

__all__ = [
    "Listener",
    "Listeners",
    "TaskSet",
    "ack_args",
    "await_then_ack",
    "no_ack",
    "run_handler",
    "spawn",
]

log = logging.getLogger("aiosocketio.server")


# ----------------------------------------------------------------------------------- tasks
class TaskSet:
    """Background tasks kept referenced until they end, their failures logged; the tasks of
    one object (a client's connection, to cancel or wait for when it closes), or of the
    process (:func:`spawn`)."""

    __slots__ = ("_log", "_tasks")

    def __init__(self, log: logging.Logger = log) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._log = log

    def spawn(self, coro: Any, what: str) -> asyncio.Task[Any]:
        """Run a coroutine (or any awaitable) as a task named ``what``."""
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(what)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            exc = task.exception()
            if exc is not None:
                self._log.error("error in %s", task.get_name(), exc_info=exc)

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


_background = TaskSet()
spawn = _background.spawn
"""Run a coroutine in the background, keeping a reference and logging its failure."""


# ------------------------------------------------------------------------------- listeners
class Listener:
    """A registered handler, inspected once."""

    __slots__ = ("by_id", "func", "is_async", "once", "wants_ack")

    def __init__(self, func: Callable[..., Any], once: bool = False, by_id: bool = False) -> None:
        self.func = func
        self.once = once
        self.by_id = by_id  # a namespace's event handler given the socket's id, not the socket
        self.is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            getattr(func, "__call__", None)  # noqa: B004
        )
        try:
            params = inspect.signature(func).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        ack = params.get("ack")
        self.wants_ack = (
            not by_id
            and ack is not None
            and ack.kind
            in (
                inspect.Parameter.KEYWORD_ONLY,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
            )
        )


class Listeners(dict[str, list[Listener]]):
    """Listeners by event name, in the order they were added."""

    __slots__ = ()

    def add(self, event: str, func: Callable[..., Any], once: bool = False) -> None:
        self.setdefault(event, []).append(Listener(func, once))

    def remove(self, event: str | None = None, func: Callable[..., Any] | None = None) -> None:
        """Remove one listener (the first added for ``func``), every listener of an event, or
        every listener."""
        if event is None:
            self.clear()
        elif func is None:
            self.pop(event, None)
        else:
            listeners = self.get(event)
            if listeners:
                for i, listener in enumerate(listeners):
                    if listener.func is func:
                        del listeners[i]
                        break
                if not listeners:
                    del self[event]

    def funcs(self, event: str) -> list[Callable[..., Any]]:
        return [listener.func for listener in self.get(event, ())]

    def take(self, event: str) -> list[Listener]:
        """The listeners to call for one emit of ``event``: a copy, so that listeners may add
        or remove others meanwhile; the ``once`` ones are removed now."""
        listeners = self.get(event)
        if not listeners:
            return []
        called = list(listeners)
        if any(listener.once for listener in called):
            listeners[:] = [listener for listener in listeners if not listener.once]
            if not listeners:
                del self[event]
        return called

    def emit(self, event: str, *args: Any, where: str = "", log: logging.Logger = log) -> None:
        """Call the listeners of a local event with ``args``: errors are logged (``where``
        says whose listener it was), a coroutine a listener returns runs as a task."""
        for listener in self.take(event):
            try:
                result = listener.func(*args)
            except Exception:
                log.exception("error in a %s listener%s", event, where)
                continue
            if result is not None and inspect.isawaitable(result):
                spawn(result, f"{event} listener{where}")


# -------------------------------------------------------------------------------- handlers
# results that cannot be awaitable, checked before the slower inspect.isawaitable
_PLAIN_RESULTS = frozenset((type(None), tuple, list, dict, str, int, float, bool, bytes))


def run_handler(
    listener: Listener,
    args: list[Any],
    ack: Callable[..., None] | None,
    what: str,
    event: Any = None,
    spawn: Callable[[Any, str], asyncio.Task[Any]] = spawn,  # not keyword-only: cheaper to call
    log: logging.Logger = log,
) -> asyncio.Task[Any] | None:
    """Call a handler with args. When ack is given, the handler's result (or its own call of
    ``ack``) acknowledges the event. Returns the task running it, if it needed one.

    ``what`` (and ``event``, when given) name the handler in logs; they are formatted only
    when something is logged, never on the hot path. ``spawn`` starts the tasks (the
    client's own task set, say) and ``log`` gets the errors (the server's logger unless
    given)."""
    func = listener.func
    if listener.wants_ack:
        if ack is None:
            ack = no_ack
        if listener.is_async:
            return spawn(func(*args, ack=ack), _name(what, event))
        try:
            func(*args, ack=ack)
        except Exception:
            log.exception("error in %s", _name(what, event))
        return None
    if listener.is_async:
        return spawn(await_then_ack(func(*args), ack), _name(what, event))
    try:
        result = func(*args)
    except Exception:
        log.exception("error in %s", _name(what, event))
        return None
    if type(result) not in _PLAIN_RESULTS and inspect.isawaitable(result):
        return spawn(await_then_ack(result, ack), _name(what, event))
    if ack is not None:
        try:
            ack(*ack_args(result))
        except Exception:  # a value the parser refuses (docs/json.md)
            log.exception("error in %s", _name(what, event))
    return None


def _name(what: str, event: Any) -> str:
    return what if event is None else f"{what} {event!r}"


# ------------------------------------------------------------------------ acknowledgements
def ack_args(result: Any) -> tuple[Any, ...]:
    """The acknowledgement arguments a handler's return value stands for."""
    if result is None:
        return ()
    if type(result) is tuple:
        return result
    return (result,)


def no_ack(*args: Any) -> None:
    """Given to handlers that take ``ack`` when the peer asked for no acknowledgement."""


async def await_then_ack(awaitable: Any, ack: Callable[..., None] | None) -> None:
    """Await a handler's result, then acknowledge with it."""
    result = await awaitable
    if ack is not None:
        ack(*ack_args(result))
