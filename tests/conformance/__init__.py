"""Protocol conformance tests: the behaviours that the official Engine.IO v4 and Socket.IO v5
protocol test suites check, written as our own pytest tests.

They run against the configurations of ``examples/protocol_suite/`` (the servers that the
official suites are run against by ``scripts/protocol-suites``), started in-process on a free
port, and talk to them with the raw HTTP and WebSocket clients of ``tests/helpers.py``.

This module holds what both test modules share.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from aiosocketio.engine.server import EngineServer
from aiosocketio.transport import StandaloneServer
from helpers import (
    CLOSE,
    PING,
    TEXT,
    HttpConnection,
    WsConnection,
    http_request,
    open_packet,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "protocol_suite"

# the reference configuration of both official suites
PING_INTERVAL = 0.3
PING_TIMEOUT = 0.2
MAX_PAYLOAD = 1_000_000
OPEN_KEYS = {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}

WAIT = 2.0  # generous upper bound for anything the server must do "soon"


def load_example(name: str) -> ModuleType:
    """Import ``examples/protocol_suite/<name>.py`` (the folder is not a package)."""
    module_name = f"_protocol_suite_{name}"
    module = sys.modules.get(module_name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@asynccontextmanager
async def engineio_reference() -> AsyncIterator[tuple[int, EngineServer]]:
    """The Engine.IO echo server of ``examples/protocol_suite/``, running: (port, engine)."""
    engine = load_example("engineio_server").make_engine()
    standalone = StandaloneServer([engine])
    await standalone.start("127.0.0.1", 0)
    try:
        yield standalone.port, engine
    finally:
        await standalone.close(timeout=1.0)


@asynccontextmanager
async def socketio_reference() -> AsyncIterator[tuple[int, Any]]:
    """The Socket.IO server of ``examples/protocol_suite/``, running: (port, server)."""
    io = load_example("socketio_server").create_server()
    started = await io.start("127.0.0.1", 0)
    try:
        yield started.port, io
    finally:
        await io.close()


@dataclass
class Reference:
    """A running reference server, at ``path`` on ``port``, and plain HTTP requests to it."""

    port: int
    path: str

    def poll_url(self, sid: str) -> str:
        return f"{self.path}?EIO=4&transport=polling&sid={sid}"

    async def get(self, target: str) -> tuple[int, bytes]:
        response = await http_request(self.port, "GET", target)
        return response.status, response.body

    async def post(self, target: str, body: str | bytes) -> tuple[int, bytes]:
        response = await http_request(
            self.port,
            "POST",
            target,
            headers={"Content-Type": "text/plain;charset=UTF-8"},
            body=body,
        )
        return response.status, response.body


def check_open_packet(packet: dict[str, Any], upgrades: list[str]) -> str:
    """The handshake data of the reference configuration; returns the sid."""
    assert set(packet) == OPEN_KEYS
    assert isinstance(packet["sid"], str) and packet["sid"]
    assert packet["upgrades"] == upgrades
    assert packet["pingInterval"] == round(PING_INTERVAL * 1000)
    assert packet["pingTimeout"] == round(PING_TIMEOUT * 1000)
    assert packet["maxPayload"] == MAX_PAYLOAD
    return str(packet["sid"])


async def polling_session(port: int, path: str) -> str:
    """Open a long-polling session; return its sid."""
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", f"{path}?EIO=4&transport=polling")
    assert response.status == 200
    return check_open_packet(open_packet(response.body), ["websocket"])


async def websocket_session(port: int, path: str, sid: str | None = None) -> WsConnection:
    """Open a WebSocket; without ``sid`` also read the open packet."""
    target = f"{path}?EIO=4&transport=websocket" + ("" if sid is None else f"&sid={sid}")
    ws = await WsConnection.open(port, target)
    if sid is None:
        check_open_packet(open_packet(await ws.recv()), [])
    return ws


async def next_message(ws: WsConnection, timeout: float = WAIT) -> str | bytes:
    """The next message that is not an Engine.IO ping (pings are answered)."""
    while True:
        data = await ws.recv(timeout)
        if data != "2":
            return data
        ws.send_text("3")


async def expect_closed(ws: WsConnection, timeout: float = WAIT) -> None:
    """The server ends the connection (close frame or TCP close) with no message but pings."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            opcode, payload = await ws.recv_frame(max(deadline - loop.time(), 0.01))
        except (EOFError, ConnectionError):
            return
        if opcode == CLOSE:
            return
        if opcode == PING:
            continue
        assert (opcode, payload) == (TEXT, "2"), f"unexpected message {payload!r}"
