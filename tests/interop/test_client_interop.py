"""The official socket.io-client (Node) against aiosocketio's server.

Each test starts a Server in its own event loop, runs one script of ``scenarios/`` under Node
(the script prints one JSON object per observation) and checks both sides.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest

from aiosocketio import AckTimeout, BroadcastAckError, ConnectionRefused, Server, Socket

# the fixtures of conftest.py
RunNode = Callable[..., Awaitable[list[dict[str, Any]]]]
ServerFactory = Callable[..., Awaitable[tuple[Server, int]]]

pytestmark = pytest.mark.interop

MODES = ["websocket", "polling", "upgrade"]


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


_tasks: set[asyncio.Task[Any]] = set()


def background(coro: Coroutine[Any, Any, Any]) -> None:
    """Run a coroutine of a server handler in the background (keeping a reference)."""
    task = asyncio.get_running_loop().create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def pick(lines: list[dict[str, Any]], ev: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("ev") == ev]


def one(lines: list[dict[str, Any]], ev: str) -> dict[str, Any]:
    found = pick(lines, ev)
    assert len(found) == 1, (ev, lines)
    return found[0]


def pattern(size: int, seed: int = 0) -> bytes:
    """The same bytes as ``pattern(size, seed)`` in scenarios/common.js."""
    return bytes((i * 7 + seed) & 0xFF for i in range(size))


# ---------------------------------------------------------------------- 1. events and acks
@pytest.mark.parametrize("mode", MODES)
async def test_events_and_acks(serve: ServerFactory, run_node: RunNode, mode: str) -> None:
    io, port = await serve()
    hello: list[tuple[Any, ...]] = []
    results: dict[str, Any] = {}

    def on_connection(socket: Socket) -> None:
        socket.on("hello", lambda *args: hello.append(args))
        socket.on("add", lambda a, b: a + b)
        socket.on("no-result", lambda: None)
        socket.on("many", lambda x: (x, 2, [3], {"four": 4}))

        def never(*args: Any, ack: Any) -> None:
            results["never-ack-given"] = callable(ack)  # and never called

        socket.on("never", never)

        async def ask() -> None:
            results["ask"] = await socket.emit_with_ack("server-ask", 21, timeout=3)
            results["multi"] = await socket.emit_with_ack("server-multi", timeout=3)
            started = asyncio.get_running_loop().time()
            try:
                await socket.emit_with_ack("server-ignored", timeout=0.2)
            except AckTimeout as exc:
                results["ignored"] = exc
            results["ignored-elapsed"] = asyncio.get_running_loop().time() - started
            socket.emit("finished", {"ask": results["ask"]})

        background(ask())

    io.on("connection", on_connection)
    lines = await run_node("events_acks", port, mode)

    assert hello == [("world", 1, {"a": [1, 2], "b": None, "c": True})]
    assert one(lines, "add-ack")["sum"] == 5
    assert one(lines, "no-result-ack")["value"] == "undefined"
    assert one(lines, "many-ack")["args"] == ["x", 2, [3], {"four": 4}]
    never_ack = one(lines, "never-ack")
    assert never_ack["error"] == "operation has timed out"
    assert 150 <= never_ack["elapsed"] < 10000  # generous: a loaded machine is slow
    assert results["never-ack-given"] is True

    assert one(lines, "server-ask") == {"ev": "server-ask", "n": 21, "ackIsFunction": True}
    assert results["ask"] == 42
    assert results["multi"] == (1, "two", {"three": [3]})
    assert one(lines, "server-ignored")["ackIsFunction"] is True
    assert isinstance(results["ignored"], AckTimeout)
    assert 0.15 <= results["ignored-elapsed"] < 10
    assert one(lines, "finished")["summary"] == {"ask": 42}
    expected = "polling" if mode == "polling" else "websocket"
    assert one(lines, "transport")["name"] == expected


# ---------------------------------------------------------------------- 2. binary
def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("mode", MODES)
async def test_binary(serve: ServerFactory, run_node: RunNode, mode: str) -> None:
    io, port = await serve()
    uploads: list[tuple[Any, ...]] = []
    replies: list[Any] = []
    ack_blob = pattern(32, 4)
    ack_bin = [ack_blob, {"x": pattern(5000, 8)}]
    to_node = [{"name": "n", "data": bytes(range(256))}, [b"\x00\x01", b""]]
    big_to_node = pattern(100 * 1024, 11)

    def on_connection(socket: Socket) -> None:
        def upload(*args: Any) -> Any:
            uploads.append(args)
            return {"meta": "ok", "bin": ack_bin}

        socket.on("upload", upload)
        socket.on("echo", lambda *args: args)

        async def send() -> None:
            replies.append(
                await socket.emit_with_ack("from-server", to_node, big_to_node, timeout=3)
            )
            socket.emit("done")

        background(send())

    io.on("connection", on_connection)
    lines = await run_node("binary", port, mode)

    # Node -> Python: bytes objects, byte for byte, wherever they were nested
    assert len(uploads) == 1
    nested, big, tail = uploads[0]
    assert nested == [{"blob": pattern(16, 1), "inner": {"deep": [pattern(3, 2), "text"]}}, 7]
    assert type(nested[0]["blob"]) is bytes
    assert type(nested[0]["inner"]["deep"][0]) is bytes
    assert type(big) is bytes and big == pattern(100 * 1024, 3)
    assert tail == "tail"

    # Python -> Node (ack): Buffers at the same places
    upload_ack = one(lines, "upload-ack")
    assert upload_ack["plain"] == "ok"
    assert upload_ack["buffers"] == [
        {"where": "$.bin[0]", "len": 32, "sha256": sha(ack_blob)},
        {"where": "$.bin[1].x", "len": 5000, "sha256": sha(pattern(5000, 8))},
    ]
    assert one(lines, "echo-ack") == {"ev": "echo-ack", "same": True, "emptyIsBuffer": True}

    # Python -> Node (event) and Node -> Python (ack)
    from_server = one(lines, "from-server")
    assert from_server["text"] == "n"
    assert from_server["buffers"] == [
        {"where": "$[0][0].data", "len": 256, "sha256": sha(bytes(range(256)))},
        {"where": "$[0][1][0]", "len": 2, "sha256": sha(b"\x00\x01")},
        {"where": "$[0][1][1]", "len": 0, "sha256": sha(b"")},
        {"where": "$[1]", "len": 100 * 1024, "sha256": sha(big_to_node)},
    ]
    assert len(replies) == 1
    reply, blob = replies[0]
    assert reply == {"reply": pattern(64, 5)} and type(reply["reply"]) is bytes
    assert type(blob) is bytes and blob == pattern(100 * 1024, 6)


# ---------------------------------------------------------------------- 3. namespaces
@pytest.mark.parametrize("mode", MODES)
async def test_namespaces(serve: ServerFactory, run_node: RunNode, mode: str) -> None:
    io, port = await serve()
    seen_auth: list[Any] = []
    refused: list[str] = []
    dyn_nsps: list[str] = []

    def on_custom(socket: Socket) -> None:
        seen_auth.append(socket.handshake.auth)
        socket.emit("auth", socket.handshake.auth)
        socket.on("ping", lambda: "pong-custom")

    def refuse(socket: Socket) -> None:
        refused.append(socket.nsp.name)
        raise ConnectionRefused("not authorized", {"code": 42})

    def on_dyn(socket: Socket) -> None:
        dyn_nsps.append(socket.nsp.name)
        socket.emit("hello", socket.nsp.name)
        socket.on("ping", lambda: "pong-" + socket.nsp.name)

    io.of("/custom").on("connection", on_custom)
    io.of("/private").use(refuse)
    io.of("/private").on("connection", lambda socket: pytest.fail("refused socket connected"))
    io.of(re.compile(r"^/dyn-\d+$")).on("connection", on_dyn)
    lines = await run_node("namespaces", port, mode)

    outcomes = {line["name"]: line for line in pick(lines, "outcome")}
    assert outcomes["main"]["connected"] is True
    assert outcomes["custom"]["connected"] is True
    assert outcomes["unknown"] == {
        "ev": "outcome",
        "name": "unknown",
        "connected": False,
        "message": "Invalid namespace",
        "data": "undefined",
    }
    assert outcomes["private"] == {
        "ev": "outcome",
        "name": "private",
        "connected": False,
        "message": "not authorized",
        "data": {"code": 42},
    }
    assert outcomes["dyn"]["connected"] is True
    assert outcomes["notDyn"]["connected"] is False
    assert outcomes["notDyn"]["message"] == "Invalid namespace"

    assert seen_auth == [{"token": "t", "n": [1, 2]}]
    assert one(lines, "auth")["auth"] == {"token": "t", "n": [1, 2]}
    assert refused == ["/private"]
    assert dyn_nsps == ["/dyn-1"]
    assert "/dyn-1" in io.namespaces and "/dyn-x" not in io.namespaces
    assert one(lines, "dyn-hello")["nsp"] == "/dyn-1"
    assert one(lines, "custom-ping")["value"] == "pong-custom"
    assert one(lines, "dyn-ping")["value"] == "pong-/dyn-1"
    assert one(lines, "engines")["shared"] is True


# ---------------------------------------------------------------------- 4. rooms
@pytest.mark.parametrize("mode", MODES)
async def test_rooms_and_broadcast_exclusion(
    serve: ServerFactory, run_node: RunNode, mode: str
) -> None:
    io, port = await serve()
    rooms: dict[str, set[str]] = {}

    def on_connection(socket: Socket) -> None:
        name = socket.handshake.auth["name"]

        def join(room: str) -> list[str]:
            socket.join(room)
            rooms[name] = socket.rooms
            return sorted(r for r in socket.rooms if r != socket.id)

        def fire() -> str:
            io.to("r").emit("to-r", name)
            socket.broadcast.emit("broadcast", name)
            io.except_("r").emit("except-r", name)
            socket.to("r").emit("socket-to-r", name)
            io.to("r").except_("r").emit("never", name)
            io.emit("all", name)
            io.emit("end")
            return "fired"

        socket.on("join", join)
        socket.on("fire", fire)

    io.on("connection", on_connection)
    lines = await run_node("rooms", port, mode)

    assert one(lines, "joined")["ack"] == ["r"]
    assert one(lines, "fired")["ack"] == "fired"
    assert "r" in rooms["A"] and len(rooms["A"]) == 2  # its own id and "r"
    received = {line["name"]: line["events"] for line in pick(lines, "received")}
    assert received["A"] == [
        ["to-r", "B"],
        ["broadcast", "B"],
        ["socket-to-r", "B"],
        ["all", "B"],
        ["end"],
    ]
    assert received["B"] == [["except-r", "B"], ["all", "B"], ["end"]]
    assert received["C"] == [["broadcast", "B"], ["except-r", "B"], ["all", "B"], ["end"]]


# ---------------------------------------------------------------------- 5. broadcast with acks
@pytest.mark.parametrize("mode", MODES)
async def test_broadcast_with_acks(serve: ServerFactory, run_node: RunNode, mode: str) -> None:
    io, port = await serve()
    node = asyncio.ensure_future(run_node("broadcast_acks", port, mode))
    try:
        await wait_until(lambda: len(io.sockets.sockets) == 3 or node.done(), timeout=5)
        assert not node.done()

        responses = await io.timeout(1).emit_with_ack("q", 7)
        assert sorted(responses) == ["A:7", "B:7", "C:7"]

        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(BroadcastAckError) as info:
            await io.timeout(0.3).emit_with_ack("q2")
        assert 0.25 <= loop.time() - started < 10
        assert sorted(info.value.responses, key=lambda r: r["name"]) == [
            {"name": "A", "bin": b"A"},
            {"name": "B", "bin": b"B"},
        ]

        assert await io.to("nobody").timeout(0.5).emit_with_ack("q", 1) == []
        io.emit("done")
        lines = await node
    finally:
        if not node.done():
            node.cancel()
    assert one(lines, "connected")["count"] == 3
    assert one(lines, "done") == {"ev": "done"}


# ---------------------------------------------------------------------- 6. disconnect reasons
@pytest.mark.parametrize("mode", MODES)
async def test_disconnect_reasons(serve: ServerFactory, run_node: RunNode, mode: str) -> None:
    io, port = await serve()
    seen: dict[str, list[tuple[str, str, bool]]] = {}

    def on_connection(socket: Socket) -> None:
        name = socket.handshake.auth["name"]
        if name == "observer":
            socket.join("observers")
            return
        events = seen[name] = []

        def disconnecting(reason: str) -> None:
            events.append(("disconnecting", reason, bool(socket.rooms)))

        def disconnect(reason: str) -> None:
            events.append(("disconnect", reason, bool(socket.rooms)))
            io.to("observers").emit("reason", name, reason)

        socket.on("disconnecting", disconnecting)
        socket.on("disconnect", disconnect)
        socket.on("kick", lambda: socket.disconnect())
        socket.on("kick-close", lambda: socket.disconnect(True))
        socket.on("close-transport", lambda: socket.conn.close())

    io.on("connection", on_connection)
    lines = await run_node("disconnects", port, mode)

    expected = {
        "client": ("client namespace disconnect", "io client disconnect"),
        "server": ("server namespace disconnect", "io server disconnect"),
        "server-close": ("server namespace disconnect", "io server disconnect"),
        "server-transport": ("forced close", "transport close"),
        "engine": ("transport close", "forced close"),
    }
    reports = {line["name"]: line for line in pick(lines, "disconnect")}
    assert list(reports) == list(expected)
    for name, (server_reason, client_reason) in expected.items():
        assert seen[name] == [
            ("disconnecting", server_reason, True),  # still in its rooms
            ("disconnect", server_reason, False),  # out of every room
        ], name
        assert reports[name]["reason"] == client_reason, name
        assert reports[name]["reportedName"] == name
        assert reports[name]["serverReason"] == server_reason, name
    await wait_until(lambda: not io.sockets.sockets)


@pytest.mark.parametrize("mode", MODES)
async def test_ping_timeout(serve: ServerFactory, run_node: RunNode, mode: str) -> None:
    io, port = await serve(ping_interval=0.2, ping_timeout=0.2)
    reasons: list[str] = []
    io.on("connection", lambda socket: socket.on("disconnect", reasons.append))
    lines = await run_node("ping_timeout", port, mode)
    await wait_until(lambda: bool(reasons))
    assert reasons == ["ping timeout"]
    result = one(lines, "disconnect")
    assert result["pings"] >= 1
    assert result["reason"] == "transport close"
    assert result["elapsed"] < 10000  # the short ping timeout, not the default 20 s + 25 s


# ---------------------------------------------------------------------- 7. state recovery
@pytest.mark.parametrize("mode", MODES)
async def test_connection_state_recovery(
    serve: ServerFactory, run_node: RunNode, mode: str
) -> None:
    io, port = await serve(connection_state_recovery=True)
    connections: list[tuple[str, bool, set[str]]] = []
    reasons: list[str] = []

    def on_connection(socket: Socket) -> None:
        connections.append((socket.id, socket.recovered, socket.rooms))

        def join(room: str) -> str:
            socket.join(room)
            io.emit("e", 0)  # the client's first offset
            return "ok"

        def disconnect(reason: str) -> None:
            reasons.append(reason)
            if reason == "transport close":  # while the client is away
                io.emit("e", 1)
                io.to("r").emit("e", 2)
                io.except_("r").emit("e", "not for r")
                io.to("elsewhere").emit("e", "not for r either")
                io.emit("e", 3)

        socket.on("join", join)
        socket.on("rooms", lambda: sorted(r for r in socket.rooms if r != socket.id))
        socket.on("disconnect", disconnect)

    io.on("connection", on_connection)
    lines = await run_node("recovery", port, mode)

    assert one(lines, "first")["recovered"] is False
    assert one(lines, "joined")["ack"] == "ok"
    assert one(lines, "before") == {"ev": "before", "values": [0], "offset": "string"}
    after = one(lines, "after")
    assert after["reason"] == "forced close"  # the client closed its own transport
    assert after["values"] == [0, 1, 2, 3]
    assert after["offsets"] == ["string"] * 4
    assert after["recovered"] is True
    assert after["sameId"] is True
    assert one(lines, "rooms")["rooms"] == ["r"]
    assert one(lines, "fresh") == {"ev": "fresh", "recovered": False, "sameId": False}
    assert one(lines, "bogus") == {"ev": "bogus", "recovered": False, "sameId": False}

    # server side: the same socket id again, recovered, already back in its room
    assert len(connections) == 4
    (first_id, first_rec, _), (again_id, again_rec, again_rooms) = connections[:2]
    assert (first_rec, again_rec) == (False, True)
    assert again_id == first_id
    assert again_rooms == {first_id, "r"}
    assert [rec for _, rec, _ in connections[2:]] == [False, False]
    await wait_until(lambda: len(reasons) == 4)
    assert reasons == ["transport close"] + ["client namespace disconnect"] * 3


# ---------------------------------------------------------------------- 8. many clients
@pytest.mark.timeout(240)
async def test_thousand_concurrent_clients(serve: ServerFactory, run_node: RunNode) -> None:
    count = 1000
    io, port = await serve()
    connected: set[int] = set()
    peak = 0
    reasons: list[str] = []

    def on_connection(socket: Socket) -> None:
        nonlocal peak
        connected.add(socket.handshake.auth["i"])
        peak = max(peak, len(io.sockets.sockets))
        socket.on("inc", lambda i: i + 1)
        socket.on("disconnect", reasons.append)

    io.on("connection", on_connection)
    lines = await run_node("many_clients", port, "websocket", count, timeout=180)

    assert one(lines, "connected")["count"] == count
    assert one(lines, "connected")["errors"] == []
    acks = one(lines, "acks")
    assert (acks["count"], acks["wrong"], acks["distinctIds"]) == (count, 0, count)
    assert connected == set(range(count))
    assert peak == count  # all connected at the same time
    await wait_until(lambda: len(reasons) == count, timeout=30)
    assert set(reasons) == {"client namespace disconnect"}
    assert not io.sockets.sockets


# ---------------------------------------------------------------------- 9. catch-all
@pytest.mark.parametrize("mode", MODES)
async def test_catch_all_listeners(serve: ServerFactory, run_node: RunNode, mode: str) -> None:
    io, port = await serve()
    server_in: list[list[Any]] = []
    server_out: list[list[Any]] = []
    s2_ack: list[Any] = []

    def on_connection(socket: Socket) -> None:
        socket.on_any(lambda event, *args: server_in.append([event, *args]))
        socket.on_any_outgoing(lambda event, *args: server_out.append([event, *args]))

        def c(n: int) -> str:
            socket.emit("s1", "x", n)

            def got(value: Any) -> None:
                s2_ack.append(value)
                socket.emit("s3")

            socket.emit("s2", [1, 2], callback=got)
            return "c-ack"

        socket.on("c", c)

    io.on("connection", on_connection)
    lines = await run_node("catch_all", port, mode)

    assert server_in == [["a", 1], ["b", {"x": [1, 2]}, "y"], ["c", 3]]
    assert server_out == [["s1", "x", 3], ["s2", [1, 2]], ["s3"]]
    assert s2_ack == ["s2-ack"]
    assert one(lines, "c-ack")["ack"] == "c-ack"
    assert one(lines, "incoming")["events"] == [["s1", "x", 3], ["s2", [1, 2], "<fn>"], ["s3"]]
    assert one(lines, "outgoing")["events"] == [["a", 1], ["b", {"x": [1, 2]}, "y"], ["c", 3]]


# ---------------------------------------------------------------------- 10. order
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_event_order(serve: ServerFactory, run_node: RunNode, mode: str, kind: str) -> None:
    count = 500
    io, port = await serve()
    started: list[int] = []
    finished: list[int] = []

    def on_connection(socket: Socket) -> None:
        if kind == "plain":

            def record(n: int) -> None:
                started.append(n)
                finished.append(n)

            socket.on("n", record)
        else:

            async def record_async(n: int) -> None:
                started.append(n)
                await asyncio.sleep(0)
                finished.append(n)

            socket.on("n", record_async)
        socket.on("done", lambda total: [total, len(started)])

    io.on("connection", on_connection)
    lines = await run_node("order", port, mode, count)

    total, seen_by_done = one(lines, "done-ack")["ack"]
    assert total == count
    if kind == "plain":
        # handled inline: all of them before the later "done", in the order sent
        assert seen_by_done == count
        assert started == finished == list(range(count))
    else:
        # each runs as a task; the tasks start in the order the events came
        await wait_until(lambda: len(finished) == count)
        assert started == list(range(count))
        assert sorted(finished) == list(range(count))
