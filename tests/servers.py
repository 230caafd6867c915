"""Test servers shared by several test modules: an echoing Engine.IO server, free ports."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiosocketio.engine.server import EngineServer
from aiosocketio.engine.socket import EngineSocket


class EchoHandler:
    """Echoes every message; records what happens to the session."""

    def __init__(self, app: EchoEngine, esock: EngineSocket) -> None:
        self.app = app
        self.esock = esock

    def on_message(self, data: str | bytes) -> None:
        self.app.messages.append(data)
        self.esock.send_message(data)

    def on_close(self, reason: str, description: str | None) -> None:
        self.app.closed.append((self.esock.sid, reason))
        event = self.app.close_events.get(self.esock.sid)
        if event is not None:
            event.set()


class EchoEngine:
    """An EngineServer whose sessions echo, with a record of sessions and closes."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("ping_interval", 5.0)
        options.setdefault("ping_timeout", 5.0)
        self.sockets: dict[str, EngineSocket] = {}
        self.messages: list[str | bytes] = []
        self.closed: list[tuple[str, str]] = []
        self.close_events: dict[str, asyncio.Event] = {}
        self.engine = EngineServer(self._on_connection, **options)

    def _on_connection(self, esock: EngineSocket) -> None:
        self.sockets[esock.sid] = esock
        self.close_events[esock.sid] = asyncio.Event()
        esock.handler = EchoHandler(self, esock)

    async def wait_closed(self, sid: str, timeout: float = 2.0) -> str:
        """Wait for the close of session ``sid``; return its reason."""
        await asyncio.wait_for(self.close_events[sid].wait(), timeout)
        return next(reason for s, reason in self.closed if s == sid)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    with free_socket() as sock:
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class FrontDoor:
    """A way in to the server under test: ``port = await door(app)``; ``door.name`` says which
    (for what differs between front doors: mark it with ``if door.name == ...``)."""

    name: str
    start: Callable[[Any], Awaitable[int]]

    async def __call__(self, app: Any) -> int:
        return await self.start(app)
