"""aiosocketio's Python client against the official socket.io 4.8 server, run under Node.

Each test starts ``node_server/server.js`` (on a free port, or on a given one to restart it)
and talks to it with the asyncio client or the blocking facade.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aiosocketio import AckTimeout, ConnectionRefused
from aiosocketio.client import Socket, SyncClient, connect, io

pytestmark = pytest.mark.interop

MODES = {
    "websocket": ["websocket"],
    "polling": ["polling"],
    "upgrade": ["polling", "websocket"],
}

FAST = {"reconnection_delay": 0.05, "reconnection_delay_max": 0.1, "randomization_factor": 0}


# the fixture node_server of conftest.py: server = await node_server(port=0, **options)
StartNode = Callable[..., Awaitable[Any]]


async def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


class Events:
    """Arguments of each event, by name, with a wait."""

    def __init__(self, sock: Socket, *names: str) -> None:
        self.calls: dict[str, list[tuple[Any, ...]]] = {name: [] for name in names}
        for name in names:
            sock.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Callable[..., None]:
        return lambda *args: self.calls[name].append(args)

    async def wait(self, name: str, count: int = 1) -> list[tuple[Any, ...]]:
        await wait_until(lambda: len(self.calls[name]) >= count)
        return self.calls[name]


def no_other_tasks() -> bool:
    current = asyncio.current_task()
    return not [t for t in asyncio.all_tasks() if t is not current and not t.done()]


# ---------------------------------------------------------------------- events, acks, binary
@pytest.mark.parametrize("mode", MODES)
async def test_events_acks_and_binary(node_server: StartNode, mode: str) -> None:
    server = await node_server()
    sock = await connect(server.url, force_new=True, transports=MODES[mode], wait_timeout=5)
    events = Events(sock, "echo")
    sock.on("question", lambda n: n * 2)

    assert await sock.emit_with_ack("add", 2, 3) == 5
    assert await sock.emit_with_ack("echo", "a", {"b": [1, None]}) == ("a", {"b": [1, None]})
    # the server asks, the client's handler answers with its return value
    assert await sock.emit_with_ack("ask-me", 21) == {"answer": 42}
    sock.off("question")
    sock.on("question", lambda n, *, ack: None)  # never answers: the server times out
    assert await sock.emit_with_ack("ask-me", 1) == {"error": "operation has timed out"}
    # nobody answers on the server: the client times out
    with pytest.raises(AckTimeout):
        await sock.timeout(0.2).emit_with_ack("nothing")
    # binary both ways, in acknowledgements and in events
    blob = bytes(range(256)) * 200
    assert await sock.emit_with_ack("bin", b"\x01\x02\x03") == (
        b"\x03\x02\x01",
        {"nested": [b"\x01\x02\x03"]},
    )
    assert await sock.emit_with_ack("echo", {"blob": blob, "list": [b"", b"x"]}) == {
        "blob": blob,
        "list": [b"", b"x"],
    }
    sock.emit("echo", b"back", "text", {"deep": [b"\xff"]})
    assert await events.wait("echo") == [(b"back", "text", {"deep": [b"\xff"]})]

    info = await sock.emit_with_ack("info")
    assert info["id"] == sock.id and info["nsp"] == "/"
    if mode == "upgrade":
        await wait_until(lambda: sock.io.engine is not None and sock.io.engine.transport is not None
                         and sock.io.engine.transport.name == "websocket")  # fmt: skip
        info = await sock.emit_with_ack("info")
    assert info["transport"] == ("polling" if mode == "polling" else "websocket")
    await sock.disconnect()
    assert no_other_tasks()


@pytest.mark.parametrize("mode", MODES)
async def test_namespaces_auth_and_refusal(node_server: StartNode, mode: str) -> None:
    server = await node_server()
    main = io(server.url, transports=MODES[mode], query={"room": "blue"},
              extra_headers={"X-Test": "yes"})  # fmt: skip
    admin = io(server.url + "/admin", auth=lambda: {"token": "secret"})
    await main.wait_connected(5)
    await admin.wait_connected(5)
    assert main.io is admin.io  # one connection for both namespaces
    info = await admin.emit_with_ack("info")
    assert info["nsp"] == "/admin" and info["auth"] == {"token": "secret"}
    assert info["query"]["room"] == "blue" and info["header"] == "yes"

    refused = io(server.url + "/admin", force_new=True, transports=MODES[mode],
                 auth={"token": "bad"}, **FAST)  # fmt: skip
    events = Events(refused, "connect_error")
    [(error,)] = await events.wait("connect_error")
    assert isinstance(error, ConnectionRefused)
    assert error.message == "not authorized"
    assert error.data == {"code": 401, "token": "bad"}
    assert not refused.active
    with pytest.raises(ConnectionRefused, match="not authorized"):
        await connect(server.url + "/admin", force_new=True, transports=MODES[mode],
                      wait_timeout=5)  # fmt: skip
    await refused.disconnect()
    await main.disconnect()
    await admin.disconnect()
    assert no_other_tasks()


async def test_server_side_disconnect(node_server: StartNode) -> None:
    server = await node_server()
    sock = await connect(server.url, force_new=True, transports=["websocket"], **FAST)
    events = Events(sock, "disconnect")
    sock.emit("server-disconnect")
    assert await events.wait("disconnect") == [("io server disconnect",)]
    assert not sock.active
    await sock.io.wait_closed()
    assert sock.io.ready_state == "closed"


# ---------------------------------------------------------------------- reconnection
@pytest.mark.parametrize("mode", MODES)
async def test_reconnection_after_a_restart(node_server: StartNode, mode: str) -> None:
    server = await node_server()
    sock = await connect(server.url, force_new=True, transports=MODES[mode], **FAST)
    events = Events(sock, "connect", "disconnect")
    sock.emit("seq", "first")
    assert await sock.emit_with_ack("seen") == ["first"]

    # the server closes once the next long-polling GET is there, to send it the close packet
    await server.stop()
    assert await events.wait("disconnect") == [("transport close",)]
    for n in range(10):
        sock.emit("seq", n)  # buffered while the server is away
    restarted = await node_server(server.port)
    assert restarted.port == server.port
    await events.wait("connect")
    assert await sock.emit_with_ack("seen") == list(range(10))
    await sock.disconnect()
    assert no_other_tasks()


@pytest.mark.parametrize("mode", MODES)
async def test_connection_state_recovery(node_server: StartNode, mode: str) -> None:
    server = await node_server(recovery=True)
    sock = await connect(server.url, force_new=True, transports=MODES[mode], **FAST)
    assert sock.recovered is False
    events = Events(sock, "connect", "disconnect", "before", "missed")
    assert await sock.emit_with_ack("join", "r") == "r"
    await sock.emit_with_ack("plan-missed", [1, 2, 3])
    sock.emit("broadcast", "r", "before", 0)
    await events.wait("before")
    first_id = sock.id

    sock.emit("close-transport")
    assert await events.wait("disconnect") == [("transport close",)]
    await events.wait("connect")
    assert sock.recovered is True and sock.id == first_id
    missed = await events.wait("missed", 3)
    assert [args[0] for args in missed] == [1, 2, 3]
    assert all(isinstance(args[-1], str) for args in missed)  # the offsets
    info = await sock.emit_with_ack("info")
    assert info["recovered"] is True

    fresh = await connect(server.url, force_new=True, transports=MODES[mode])
    assert fresh.recovered is False
    await fresh.disconnect()
    await sock.disconnect()


@pytest.mark.parametrize("mode", ["websocket", "polling"])
async def test_retries_with_acks(node_server: StartNode, mode: str) -> None:
    server = await node_server()
    sock = io(server.url, force_new=True, transports=MODES[mode], retries=2, ack_timeout=0.2)
    answers = [asyncio.ensure_future(sock.emit_with_ack("flaky", n)) for n in range(3)]
    assert await asyncio.wait_for(asyncio.gather(*answers), 5) == [(0, 2), (1, 2), (2, 2)]
    assert await sock.emit_with_ack("seen") == [0, 0, 1, 1, 2, 2]
    with pytest.raises(AckTimeout):
        await sock.emit_with_ack("nothing")
    await sock.disconnect()


async def test_polling_when_the_server_closes_idle_connections(node_server: StartNode) -> None:
    server = await node_server(keepAliveTimeout=100)
    sock = await connect(server.url, force_new=True, transports=["polling"], wait_timeout=5)
    for n in range(3):
        await asyncio.sleep(0.3)  # the POST connection is closed by the server meanwhile
        assert await sock.emit_with_ack("add", n, 1) == n + 1
    assert sock.connected
    await sock.disconnect()
    assert no_other_tasks()


async def test_sync_facade(node_server: StartNode) -> None:
    server = await node_server()

    def blocking() -> tuple[Any, Any]:
        with SyncClient(server.url + "/admin", auth={"token": "secret"}) as client:
            return client.call("add", 20, 22), client.call("bin", b"ab")

    total, binary = await asyncio.to_thread(blocking)
    assert total == 42
    assert binary == (b"ba", {"nested": [b"\x01\x02\x03"]})
