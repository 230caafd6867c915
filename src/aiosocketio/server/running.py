"""A server as a program: the lines that say where it listens, a one-line error for an
address it cannot listen on, and a clean stop on SIGINT (Ctrl-C) and SIGTERM.

Shared by :meth:`Server.serve <aiosocketio.Server.serve>` and ``aiosocketio serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["ListenError", "listening_lines", "stop_on_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# what a browser or a client on this machine uses for an address that means "every interface"
_LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


class ListenError(OSError):
    """The server cannot listen on the address (``errno`` says why): its text is one line,
    ``cannot listen on HOST port PORT: REASON``."""

    def __init__(self, host: str | None, port: int, cause: OSError) -> None:
        if cause.errno is not None and cause.errno > 0:
            reason = os.strerror(cause.errno).lower()  # not asyncio's longer text
        else:  # a host name that does not resolve (negative codes), or no code
            reason = str(cause.strerror or cause)
        super().__init__(cause.errno, f"cannot listen on {host or '*'} port {port}: {reason}")

    def __str__(self) -> str:
        return str(self.strerror)


def _base_url(host: str, port: int, secure: bool) -> str:
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if secure else 'http'}://{host}:{port}/"


def listening_lines(
    host: str | None, port: int, path: str, *, page: bool, secure: bool = False
) -> list[str]:
    """Where the server listens, the page to open (when ``page``: a file is served at /),
    and the URL clients connect to. The URL's path is the namespace, so the Socket.IO path
    is shown apart, never as a URL to paste."""
    host = host or "0.0.0.0"
    engine_path = "/" + path.strip("/")
    local = _base_url(_LOOPBACK.get(host, host), port, secure)
    shown = engine_path.rstrip("/") + "/"
    lines = [f"listening on {_base_url(host, port, secure)} (Socket.IO path: {shown})"]
    if page:
        lines.append(f"open {local} in a browser")
    option = "" if engine_path == "/socket.io" else f' with path="{engine_path}"'
    lines.append(f"clients connect to {local}{option} (the path after the host is the namespace)")
    return lines


def _default_action(sig: signal.Signals) -> bool:
    """Whether ``sig`` does what it does by default: end the process, raise
    KeyboardInterrupt, or (asyncio.run()'s handler) cancel the main task and then raise it."""
    current: Any = signal.getsignal(sig)
    if current in (signal.SIG_DFL, signal.default_int_handler):
        return True
    owner = getattr(getattr(current, "func", None), "__self__", None)
    return isinstance(owner, asyncio.Runner)


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[], None], *, always: bool = False) -> Iterator[None]:
    """In the block, SIGINT and SIGTERM call ``stop()`` on the running loop instead of their
    default action. A signal the program handles or ignores keeps its handler, unless
    ``always`` (the command line, which owns the process); off the main thread, or where
    the loop cannot watch signals, nothing changes. The handlers in place come back at the
    end of the block, or at the first signal (a second Ctrl-C then interrupts as usual)."""
    loop = asyncio.get_running_loop()
    taken: dict[signal.Signals, Any] = {}

    def give_back() -> None:
        for sig, previous in taken.items():
            loop.remove_signal_handler(sig)
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, previous)
        taken.clear()

    def on_signal() -> None:
        give_back()
        stop()

    for sig in STOP_SIGNALS:
        if not always and not _default_action(sig):
            continue
        previous = signal.getsignal(sig)
        try:
            loop.add_signal_handler(sig, on_signal)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        taken[sig] = previous
    try:
        yield
    finally:
        give_back()
