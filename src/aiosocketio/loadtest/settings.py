"""The settings of a load test, and how a client of it connects."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..cli.common import new_manager
from ..client import Socket, TransportError
from ..errors import AckTimeout, AioSocketIOError, ConnectionRefused, NotConnected
from .stats import Stats

__all__ = ["SCENARIOS", "ConnectFailed", "Settings", "error_kind", "new_socket", "open_socket"]

SCENARIOS = ("echo", "listen", "churn")


@dataclass(slots=True)
class Settings:
    """What ``aiosocketio bench`` was asked to do (see docs/bench.md)."""

    url: str
    scenario: str = "echo"
    clients: int = 1
    rate: float = 100.0  # connections started per second
    duration: float | None = None  # seconds after the last client was started
    messages: int | None = None  # per client: echo sends, listen expects
    cycles: int | None = None  # per client: churn's connect/disconnect cycles
    transports: list[str] = field(default_factory=lambda: ["websocket"])
    namespace: str = "/"
    path: str = "/socket.io"
    auth: dict[str, Any] | None = None
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    insecure: bool = False
    event: str = "echo"
    size: int = 32
    binary: bool = False
    window: int = 1
    ack_timeout: float = 10.0
    connect_timeout: float = 10.0
    start_event: str | None = None
    start_args: list[Any] = field(default_factory=list)
    count_only: bool = False
    hold: float = 0.0  # churn: seconds each connection is kept

    def payload(self) -> Any:
        """What echo sends: ``size`` bytes, as a string (or bytes with ``binary``)."""
        return bytes(self.size) if self.binary else "x" * self.size


class ConnectFailed(Exception):
    """A client could not connect; ``kind`` is its error kind, the message says why."""

    def __init__(self, kind: str, message: str, refused: bool) -> None:
        super().__init__(message)
        self.kind = kind
        self.refused = refused


def error_kind(error: BaseException) -> str:
    """A short, bounded name for an error, the key of the report's error counts."""
    if isinstance(error, AckTimeout):
        return "ack timeout"
    if isinstance(error, NotConnected):
        return "ack lost: disconnected"
    if isinstance(error, ConnectionRefused):
        return _cut(f"connect refused: {error.message}")
    if isinstance(error, TimeoutError):
        return "connect timeout"
    if isinstance(error, TransportError):
        return _cut(f"connect failed: {error}")
    return _cut(f"{type(error).__name__}: {error}")


def _cut(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def new_socket(settings: Settings) -> Socket:
    """A socket of a connection of its own, not connected yet, without reconnection."""
    manager = new_manager(
        settings.url,
        path=settings.path,
        query=settings.query,
        headers=settings.headers,
        transports=settings.transports,
        timeout=settings.connect_timeout,
        insecure=settings.insecure,
    )
    return manager.socket(settings.namespace, auth=settings.auth, ack_timeout=settings.ack_timeout)


async def open_socket(sock: Socket, settings: Settings, stats: Stats) -> None:
    """Connect the socket and count it; raises ConnectFailed (counted as an error)."""
    start = time.perf_counter_ns()
    sock.connect()
    try:
        await sock.wait_connected(settings.connect_timeout)
    except (TimeoutError, AioSocketIOError, TransportError, OSError) as exc:
        sock.disconnect()
        kind = error_kind(exc)
        stats.connect_failures += 1
        stats.error(kind)
        if isinstance(exc, ConnectionRefused):
            message = f"refused by the server: {exc.message}"
        elif isinstance(exc, TimeoutError):
            message = f"timed out after {settings.connect_timeout:g}s"
        else:
            message = str(exc)
        raise ConnectFailed(kind, message, isinstance(exc, ConnectionRefused)) from exc
    stats.connect_time.record_us((time.perf_counter_ns() - start) // 1000)
    stats.connects += 1
    stats.connected += 1
