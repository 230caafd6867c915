"""python-socketio's ``AsyncServer(...)`` options as aiosocketio ``Server`` options: each one
is mapped, or refused with a message that says what to do instead."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ._calls import compat_logger

__all__ = ["server_options"]

# python-engineio options aiosocketio does the same way without being told
_ACCEPTED = ("monitor_clients",)

_REFUSED = {
    "async_handlers": (
        "async_handlers=False is not supported: aiosocketio runs plain-function handlers "
        "inline, in order (use them for strict ordering); coroutine handlers start in order"
    ),
    "ping_interval_grace_period": "ping_interval_grace_period is not supported",
}


def server_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The native options for python-socketio's engine options (``kwargs`` is emptied)."""
    options: dict[str, Any] = {}
    mode = kwargs.pop("async_mode", None)
    if mode not in (None, "asgi"):
        raise ValueError(
            f"async_mode={mode!r} is not supported: aiosocketio.compat serves ASGI only "
            "(async_mode='asgi', with ASGIApp under uvicorn, hypercorn, ...)"
        )
    if kwargs.get("async_handlers", True) is True:
        kwargs.pop("async_handlers", None)
    for name in _ACCEPTED:
        kwargs.pop(name, None)
    interval = kwargs.pop("ping_interval", 25)
    timeout = kwargs.pop("ping_timeout", 20)
    if isinstance(interval, tuple):  # (interval, grace period): the grace goes to the timeout
        interval, grace = interval
        timeout += grace
    options["ping_interval"] = float(interval)
    options["ping_timeout"] = float(timeout)
    _copy(kwargs, options, "max_http_buffer_size", "max_http_buffer_size", int)
    _copy(kwargs, options, "allow_upgrades", "allow_upgrades", bool)
    _copy(kwargs, options, "transports", "transports", _transports)
    compression = kwargs.pop("http_compression", True)
    threshold = kwargs.pop("compression_threshold", 1024)
    options["http_compression"] = int(threshold) if compression else False
    cookie = kwargs.pop("cookie", None)
    if cookie:
        options["cookie"] = {"name": cookie} if isinstance(cookie, str) else dict(cookie)
    origins = kwargs.pop("cors_allowed_origins", None)
    if origins is not None and origins != []:
        options["cors"] = origins
    options["cors_credentials"] = bool(kwargs.pop("cors_credentials", True))
    engine_logger = kwargs.pop("engineio_logger", None)
    packet_log = compat_logger(engine_logger, "aiosocketio.packets", logging.DEBUG)
    if packet_log is not None:
        options["log_packets"] = packet_log
    for name, why in _REFUSED.items():
        if name in kwargs:
            raise ValueError(why)
    if kwargs:
        raise TypeError("unknown or unsupported AsyncServer options: " + ", ".join(sorted(kwargs)))
    return options


def _copy(
    source: dict[str, Any],
    target: dict[str, Any],
    name: str,
    native: str,
    convert: Callable[[Any], Any],
) -> None:
    if name in source:
        target[native] = convert(source.pop(name))


def _transports(value: Any) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else list(value)
    valid = tuple(t for t in names if t in ("polling", "websocket"))
    if not valid:
        raise ValueError("No valid transports provided")
    return valid
