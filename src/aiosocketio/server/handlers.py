"""Calling user handlers: plain functions inline, coroutine functions as tasks started in order.

A handler that declares a keyword parameter named ``ack`` receives the acknowledgement
callback and acknowledges when it likes; any other handler acknowledges with its return
value (None -> no arguments, a tuple -> several arguments, anything else -> one argument).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

from ..runtime import Listener, ack_args, await_then_ack, no_ack, spawn

__all__ = ["Listener", "ack_args", "run_handler", "spawn"]

log = logging.getLogger("aiosocketio.server")

# results that cannot be awaitable, checked before the slower inspect.isawaitable
_PLAIN_RESULTS = frozenset((type(None), tuple, list, dict, str, int, float, bool, bytes))


def run_handler(
    listener: Listener,
    args: list[Any],
    ack: Callable[..., None] | None,
    what: str,
    event: Any = None,
) -> asyncio.Task[Any] | None:
    """Call a handler with args. When ack is given, the handler's result (or its own call of
    ``ack``) acknowledges the event. Returns the task running it, if it needed one.

    ``what`` (and ``event``, when given) name the handler in logs; they are formatted only
    when something is logged, never on the hot path."""
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
