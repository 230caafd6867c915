"""The blocking facade: the asyncio client on a loop thread of its own.

The server runs in the test's event loop; the blocking code runs in a worker thread
(``asyncio.to_thread``) so that the server keeps serving.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from aiosocketio import AckTimeout, ConnectionRefused
from aiosocketio import Socket as ServerSocket
from aiosocketio.client import SyncClient, TransportError

from . import running


def client_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "aiosocketio-client"]


@pytest.mark.parametrize("transports", [["websocket"], ["polling", "websocket"]])
async def test_sync_client_events_and_acks(transports: list[str]) -> None:
    received: list[Any] = []

    def on_connection(socket: ServerSocket) -> None:
        socket.on("add", lambda a, b: a + b)
        socket.on("hello", lambda name: socket.emit("welcome", f"hi {name}", b"\x00\x01"))
        socket.on("never", lambda *, ack: None)
        socket.on("note", received.append)

        async def ask() -> None:
            received.append(await socket.emit_with_ack("double", 21, timeout=2))

        socket.on("ask", lambda: asyncio.ensure_future(ask()))

    async with running() as (server, port):
        server.on("connection", on_connection)

        def blocking() -> dict[str, Any]:
            out: dict[str, Any] = {}
            welcome = threading.Event()
            client = SyncClient(f"http://127.0.0.1:{port}", transports=transports)

            @client.on("welcome")
            def on_welcome(text: str, data: bytes) -> None:
                out["welcome"] = (text, data, threading.current_thread().name)
                welcome.set()

            client.on("double", lambda n: n * 2)
            with client:
                out["connected"] = client.connected
                out["id"] = client.id
                out["sum"] = client.call("add", 1, 2)
                client.emit("hello", "bob")
                out["waited"] = welcome.wait(3)
                acks: list[Any] = []
                got_ack = threading.Event()
                client.emit("add", 5, 5, callback=lambda v: (acks.append(v), got_ack.set()))
                got_ack.wait(3)
                out["callback"] = acks
                client.send("a message")
                client.emit("note", "last")
                client.emit("ask")
                try:
                    client.call("never", timeout=0.2)
                except AckTimeout as exc:
                    out["timeout"] = exc
            out["after"] = client.connected
            out["threads"] = client_threads()
            return out

        out = await asyncio.to_thread(blocking)
        assert out["connected"] is True and out["id"]
        assert out["sum"] == 3
        assert out["waited"] is True
        assert out["welcome"] == ("hi bob", b"\x00\x01", "aiosocketio-client")
        assert out["callback"] == [10]
        assert isinstance(out["timeout"], AckTimeout)
        assert out["after"] is False
        assert out["threads"] == []
        assert "last" in received and 42 in received


async def test_sync_client_connect_errors() -> None:
    def refuse(socket: ServerSocket) -> None:
        raise ConnectionRefused("go away", {"code": 7})

    async with running() as (server, port):
        server.use(refuse)

        def blocking() -> tuple[BaseException | None, BaseException | None]:
            refused = unreachable = None
            try:
                SyncClient(f"http://127.0.0.1:{port}").connect(timeout=3)
            except ConnectionRefused as exc:
                refused = exc
            try:
                SyncClient("http://127.0.0.1:9", reconnection=False).connect(timeout=3)
            except TransportError as exc:
                unreachable = exc
            return refused, unreachable

        refused, unreachable = await asyncio.to_thread(blocking)
        assert isinstance(refused, ConnectionRefused) and refused.data == {"code": 7}
        assert isinstance(unreachable, TransportError)
        assert client_threads() == []


def test_sync_client_needs_a_connection() -> None:
    client = SyncClient("http://127.0.0.1:9")
    with pytest.raises(RuntimeError, match="not connected"):
        client.call("x")
    with pytest.raises(RuntimeError, match="not connected"):
        client.emit("x")
    client.disconnect()  # nothing to do


async def test_sync_client_wait_and_disconnect_from_a_handler() -> None:
    def on_connection(socket: ServerSocket) -> None:
        socket.on("kick", lambda: socket.disconnect())
        socket.emit("bye")

    async with running() as (server, port):
        server.on("connection", on_connection)

        def blocking() -> tuple[bool, bool, bool, list[Any]]:
            kicked = SyncClient(f"http://127.0.0.1:{port}", transports=["websocket"])
            kicked.connect()
            kicked.emit("kick")
            by_server = kicked.wait(3)  # "io server disconnect": no reconnection
            kicked.disconnect()

            client = SyncClient(f"http://127.0.0.1:{port}", transports=["websocket"])
            client.on("bye", lambda: client.disconnect())  # on the client's own thread
            client.connect()
            by_handler = client.wait(3)
            for thread in client_threads():
                thread.join(3)
            return by_server, by_handler, client.connected, client_threads()

        by_server, by_handler, connected, threads = await asyncio.to_thread(blocking)
        assert by_server and by_handler
        assert not connected
        assert threads == []


async def test_sync_client_refuses_a_running_event_loop() -> None:
    """Blocking calls on a thread that runs an event loop would block that loop (and the
    server on it, as here): refused at once, pointing to the asyncio client."""
    async with running() as (_server, port):
        client = SyncClient(f"http://127.0.0.1:{port}", reconnection=False)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(RuntimeError, match=r"running event loop.*aiosocketio\.connect"):
            client.connect(timeout=5)
        with pytest.raises(RuntimeError, match=r"aiosocketio\.connect"), client:
            pass
        assert loop.time() - started < 10  # at once, not after the 20 s transport timeout
        assert not client.connected
        assert client_threads() == []
        with pytest.raises(RuntimeError, match=r"aiosocketio\.connect"):
            client.wait(0.1)

        def connected_elsewhere() -> SyncClient:  # connected on a thread without a loop
            other = SyncClient(f"http://127.0.0.1:{port}", transports=["websocket"])
            other.connect(timeout=5)
            return other

        other = await asyncio.to_thread(connected_elsewhere)
        try:
            with pytest.raises(RuntimeError, match=r"aiosocketio\.connect"):
                other.call("anything", timeout=5)
        finally:
            await asyncio.to_thread(other.disconnect)
