"""How python-socketio calls handlers and what it sends: the helpers the compat classes share."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

from ..reasons import DisconnectReason
from ..runtime import spawn

__all__ = [
    "REASONS",
    "accepts",
    "as_args",
    "call_callback",
    "call_handler",
    "compat_logger",
    "reason",
    "value_of",
]

# Node's disconnect reasons (aiosocketio's) -> python-socketio's
REASONS: dict[str, str] = {
    DisconnectReason.CLIENT_NAMESPACE_DISCONNECT: "client disconnect",
    DisconnectReason.IO_CLIENT_DISCONNECT: "client disconnect",
    DisconnectReason.SERVER_NAMESPACE_DISCONNECT: "server disconnect",
    DisconnectReason.IO_SERVER_DISCONNECT: "server disconnect",
    DisconnectReason.FORCED_CLOSE: "server disconnect",
    DisconnectReason.SERVER_SHUTTING_DOWN: "server disconnect",
    DisconnectReason.FORCED_SERVER_CLOSE: "server disconnect",
    DisconnectReason.PARSE_ERROR: "transport error",  # python-socketio's name
}


def reason(native: str) -> str:
    """python-socketio's name for a disconnect reason."""
    return REASONS.get(native, str(native))


def as_args(data: Any) -> tuple[Any, ...]:
    """python-socketio's ``data``: None -> no argument, a tuple -> several, else one."""
    if data is None:
        return ()
    if type(data) is tuple:
        return data
    return (data,)


def value_of(args: tuple[Any, ...] | list[Any]) -> Any:
    """What ``call()`` returns for acknowledgement arguments: None, one, or a tuple."""
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


def accepts(func: Callable[..., Any], count: int) -> bool:
    """Whether ``func`` can be called with ``count`` positional arguments."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


async def call_handler(
    handler: Callable[..., Any], args: tuple[Any, ...], optional: int = 0
) -> Any:
    """Call a handler (plain or async) with ``args``; the last ``optional`` arguments are
    left out when it does not take them (``disconnect(sid)`` without the reason, ``connect``
    without ``auth``), as python-socketio does."""
    while optional and not accepts(handler, len(args)):
        args = args[:-1]
        optional -= 1
    result = handler(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def call_callback(callback: Callable[..., Any]) -> Callable[..., None]:
    """An acknowledgement callback (plain or async) as the native code calls it."""

    def call(*args: Any) -> None:
        result = callback(*args)
        if inspect.isawaitable(result):
            spawn(result, "acknowledgement callback")

    return call


def compat_logger(value: bool | logging.Logger, name: str, level: int) -> logging.Logger | None:
    """python-socketio's ``logger`` option: True -> its named logger, at ``level`` and with a
    handler to stderr when the program configured neither; a Logger as it is."""
    if isinstance(value, logging.Logger):
        return value
    if not value:
        return None
    logger = logging.getLogger(name)
    if logger.level == logging.NOTSET:
        logger.setLevel(level)
        if not logger.handlers:
            logger.addHandler(logging.StreamHandler())
    return logger


def background(target: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
    """``start_background_task``: a task kept until it ends, its failure logged."""
    return spawn(target(*args, **kwargs), getattr(target, "__name__", "background task"))
