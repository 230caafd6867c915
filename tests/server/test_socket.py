"""Server-side Socket: handlers, acknowledgements, listeners, rooms, lifecycle."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from aiosocketio.engine.socket import EngineSocket
from aiosocketio.errors import AckTimeout, NotConnected
from aiosocketio.server.socket import Socket
from aiosocketio.socketio.packets import ACK, DISCONNECT, EVENT, RESERVED_EVENTS
from sioclient import SioServer, settle, until


@pytest.fixture
async def srv():
    async with SioServer() as server:
        yield server


def capture(srv: SioServer, nsp: str = "/") -> list[Socket]:
    """Collect the server-side sockets of a namespace as they connect."""
    sockets: list[Socket] = []
    srv.io.of(nsp).on("connection", sockets.append)
    return sockets


# ---------------------------------------------------------------------- handlers and acks
async def test_plain_and_async_handlers(srv):
    got: list[Any] = []

    def plain(a, b):
        got.append(("plain", a, b))

    async def coro(a, b):
        await asyncio.sleep(0.01)
        got.append(("async", a, b))

    @srv.io.on("connection")
    def on_connection(socket):
        socket.on("plain", plain)
        socket.on("coro", coro)

    client, _ = await srv.connected()
    await client.emit("plain", 1, {"x": [2]})
    await client.emit("coro", "a", None)
    await until(lambda: len(got) == 2)
    assert got == [("plain", 1, {"x": [2]}), ("async", "a", None)]


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (None, []),
        ((1, "two"), [1, "two"]),
        ((), []),
        ("one", ["one"]),
        ([1, 2], [[1, 2]]),
        ({"a": 1}, [{"a": 1}]),
        (b"\x00\x01", [b"\x00\x01"]),
    ],
)
async def test_return_value_is_the_ack(srv, result, expected):
    @srv.io.on("connection")
    def on_connection(socket):
        socket.on("sync", lambda: result)

        @socket.on("async")
        async def handler():
            await asyncio.sleep(0)
            return result

    client, _ = await srv.connected()
    assert await client.emit_with_ack("sync") == expected
    assert await client.emit_with_ack("async") == expected


async def test_keyword_ack_callback_later_and_only_once(srv):
    @srv.io.on("connection")
    def on_connection(socket):
        @socket.on("later")
        async def later(value, ack):
            await asyncio.sleep(0.01)
            ack(value + 1, "done")
            ack("again")  # ignored: an acknowledgement is sent once

        @socket.on("twice")
        def twice(ack=None):
            ack(1)
            ack(2)
            return 3

    client, _ = await srv.connected()
    assert await client.emit_with_ack("later", 41) == [42, "done"]
    assert await client.emit_with_ack("twice") == [1]
    await asyncio.sleep(0.05)
    assert [p for p in client.packets.items if p.type == ACK] == []


async def test_event_without_ack_id_sends_no_ack(srv):
    called = asyncio.Event()

    @srv.io.on("connection")
    def on_connection(socket):
        socket.on("x", lambda: (called.set(), "value")[1])

    client, _ = await srv.connected()
    await client.emit("x")
    await asyncio.wait_for(called.wait(), 1)
    await asyncio.sleep(0.05)
    assert client.packets.items == []


async def test_several_handlers_ack_once(srv):
    calls: list[str] = []

    @srv.io.on("connection")
    def on_connection(socket):
        socket.on("x", lambda: (calls.append("first"), "first")[1])
        socket.on("x", lambda: (calls.append("second"), "second")[1])

    srv.io.on_event("x", lambda socket: (calls.append("shared"), "shared")[1])
    client, _ = await srv.connected()
    assert await client.emit_with_ack("x") == ["first"]
    await asyncio.sleep(0.05)
    assert calls == ["first", "second", "shared"]
    assert [p for p in client.packets.items if p.type == ACK] == []


async def test_failing_handler_does_not_break_the_socket(srv):
    @srv.io.on("connection")
    def on_connection(socket):
        socket.on("boom", lambda: 1 / 0)
        socket.on("echo", lambda *a: a)

    client, _ = await srv.connected()
    await client.emit("boom")
    assert await client.emit_with_ack("echo", 1) == [1]


async def test_once(srv):
    calls: list[int] = []

    @srv.io.on("connection")
    def on_connection(socket):
        socket.once("x", calls.append)
        socket.on("echo", lambda *a: a)

    client, _ = await srv.connected()
    for i in range(3):
        await client.emit("x", i)
    await client.emit_with_ack("echo")
    assert calls == [0]


async def test_off(srv):
    calls: list[str] = []
    sockets = capture(srv)

    def a():
        calls.append("a")

    def b():
        calls.append("b")

    client, _ = await srv.connected()
    socket = sockets[0]
    socket.on("echo", lambda *args: args)
    socket.on("x", a)
    socket.on("x", b)
    socket.on("y", a)
    socket.off("x", a)
    assert socket.listeners("x") == [b]
    await client.emit("x")
    await client.emit_with_ack("echo")
    assert calls == ["b"]
    socket.off("x")
    await client.emit("x")
    await client.emit("y")
    await client.emit_with_ack("echo")
    assert calls == ["b", "a"]
    socket.off()
    await client.emit("y")
    with pytest.raises(TimeoutError):
        await client.emit_with_ack("echo", timeout=0.1)
    assert calls == ["b", "a"]


async def test_on_any_prepend_any_off_any(srv):
    calls: list[Any] = []
    sockets = capture(srv)
    client, _ = await srv.connected()
    socket = sockets[0]

    def first(event, *args):
        calls.append(("first", event, *args))

    def second(event, *args):
        calls.append(("second", event, *args))

    socket.on_any(second)
    socket.prepend_any(first)
    socket.on("x", lambda *args: calls.append(("handler", *args)))
    assert socket.listeners_any() == [first, second]
    await client.emit("x", 1, 2)
    await until(lambda: len(calls) == 3)
    assert calls == [("first", "x", 1, 2), ("second", "x", 1, 2), ("handler", 1, 2)]
    calls.clear()
    socket.off_any(first)
    await client.emit("y", 3)
    await until(lambda: len(calls) == 1)
    assert calls == [("second", "y", 3)]
    socket.off_any()
    assert socket.listeners_any() == []
    calls.clear()
    await client.emit("x", 4)
    await until(lambda: len(calls) == 1)
    assert calls == [("handler", 4)]


@pytest.mark.parametrize("dynamic", [False, True], ids=["namespace", "dynamic namespace"])
async def test_on_unhandled_sees_only_the_events_no_handler_took(srv, dynamic):
    # python-socketio's @sio.on("*"), with the official-protocol acknowledgement
    seen: list[tuple[Any, ...]] = []
    nsp = srv.io.of(re.compile(r"^/dyn")) if dynamic else srv.io.of("/chat")
    name = "/dyn1" if dynamic else "/chat"

    @nsp.on("connection")
    def on_connection(socket):
        socket.on("mine", lambda: "socket handler")
        socket.once("first-only", lambda: "once")
        socket.on_any(lambda event, *args: seen.append(("any", event)))

        @socket.on_unhandled
        def socket_level(event, *args):  # runs first: its value is the acknowledgement
            seen.append(("socket", event, *args))
            return f"unhandled {event}"

    nsp.on_event("shared", lambda socket: "on_event handler")

    @nsp.on_unhandled
    async def namespace_level(socket, event, *args):
        seen.append(("namespace", event, *args))

    client = await srv.client()
    await client.connect(name)
    assert await client.emit_with_ack("mine", nsp=name) == ["socket handler"]
    assert await client.emit_with_ack("shared", nsp=name) == ["on_event handler"]
    assert await client.emit_with_ack("first-only", nsp=name) == ["once"]
    assert await client.emit_with_ack("first-only", 1, nsp=name) == ["unhandled first-only"]
    assert await client.emit_with_ack("other", 2, {"a": 3}, nsp=name) == ["unhandled other"]
    assert [entry for entry in seen if entry[0] != "any"] == [
        ("socket", "first-only", 1),
        ("namespace", "first-only", 1),
        ("socket", "other", 2, {"a": 3}),
        ("namespace", "other", 2, {"a": 3}),
    ]
    # on_any saw every event
    assert [entry[1] for entry in seen if entry[0] == "any"] == [
        "mine", "shared", "first-only", "first-only", "other",
    ]  # fmt: skip


async def test_off_unhandled(srv):
    seen: list[str] = []

    @srv.io.on("connection")
    def on_connection(socket):
        def record(event, *args):
            seen.append(event)

        socket.on_unhandled(record)
        socket.on("off", lambda: socket.off_unhandled(record))

    client, _ = await srv.connected()
    await client.emit("x")
    await client.emit_with_ack("off")
    await client.emit("y")
    await client.emit_with_ack("off")  # handled: the events before it were dispatched
    assert seen == ["x"]


async def test_on_any_outgoing(srv):
    seen: list[Any] = []
    sockets = capture(srv)
    client, _ = await srv.connected()
    socket = sockets[0]
    socket.on_any_outgoing(lambda event, *args: seen.append((event, *args)))
    socket.emit("direct", 1)
    srv.io.emit("broadcast", 2)
    srv.io.to(socket.id).emit("room", 3)
    for _ in range(3):
        await client.next_event()
    assert seen == [("direct", 1), ("broadcast", 2), ("room", 3)]
    socket.off_any_outgoing()
    socket.emit("after")
    await client.next_event()
    assert len(seen) == 3


# ---------------------------------------------------------------------- server to client acks
async def test_emit_with_ack_values(srv):
    sockets = capture(srv)
    client, _ = await srv.connected()
    socket = sockets[0]
    for answer, expected in (([], None), ([7], 7), ([1, "b"], (1, "b"))):
        task = asyncio.ensure_future(socket.emit_with_ack("ask", "q"))
        packet = await client.next_event_packet()
        assert packet.data == ["ask", "q"]
        assert packet.id is not None
        client.ack(packet.id, *answer)
        assert await asyncio.wait_for(task, 1) == expected


async def test_emit_with_ack_binary_answer(srv):
    sockets = capture(srv)
    client, _ = await srv.connected()
    task = asyncio.ensure_future(sockets[0].emit_with_ack("ask", b"\x01"))
    packet = await client.next_event_packet()
    assert packet.data == ["ask", b"\x01"]
    client.ack(packet.id, {"file": b"\x02\x03"})
    assert await asyncio.wait_for(task, 1) == {"file": b"\x02\x03"}


async def test_emit_with_ack_timeout(srv):
    sockets = capture(srv)
    client, _ = await srv.connected()
    started = time.monotonic()
    with pytest.raises(AckTimeout):
        await sockets[0].emit_with_ack("ask", timeout=0.05)
    assert time.monotonic() - started < 0.5
    packet = await client.next_event_packet()
    client.ack(packet.id, "late")  # a late answer is ignored
    with pytest.raises(AckTimeout):
        await sockets[0].timeout(0.05).emit_with_ack("ask")


async def test_emit_with_ack_disconnect_while_waiting(srv):
    sockets = capture(srv)
    client, _ = await srv.connected()
    task = asyncio.ensure_future(sockets[0].emit_with_ack("ask"))
    await client.next_event_packet()
    await client.disconnect()
    with pytest.raises(NotConnected):
        await asyncio.wait_for(task, 1)


async def test_timeout_emit_callback_gets_error_first(srv):
    sockets = capture(srv)
    client, _ = await srv.connected()
    results: list[Any] = []
    sockets[0].timeout(1).emit("ask", 1, callback=lambda *args: results.append(args))
    packet = await client.next_event_packet()
    client.ack(packet.id, "a", 2)
    await until(lambda: results)
    assert results == [(None, "a", 2)]

    results.clear()
    sockets[0].timeout(0.05).emit("ask", callback=lambda *args: results.append(args))
    await until(lambda: results)
    assert len(results) == 1
    assert len(results[0]) == 1
    assert isinstance(results[0][0], AckTimeout)


async def test_plain_emit_callback(srv):
    sockets = capture(srv)
    client, _ = await srv.connected()
    results: list[Any] = []
    sockets[0].emit("ask", callback=lambda *args: results.append(args))
    packet = await client.next_event_packet()
    client.ack(packet.id, "x", None)
    await until(lambda: results)
    assert results == [("x", None)]


@pytest.mark.parametrize("event", sorted(RESERVED_EVENTS))
async def test_reserved_event_names_refused(srv, event):
    sockets = capture(srv)
    await srv.connected()
    socket = sockets[0]
    with pytest.raises(ValueError):
        socket.emit(event)
    with pytest.raises(ValueError):
        socket.timeout(1).emit(event)
    with pytest.raises(ValueError):
        srv.io.emit(event)
    with pytest.raises(ValueError):
        srv.io.to("room").emit(event)
    with pytest.raises(ValueError):
        socket.broadcast.emit(event)


async def test_send_is_a_message_event(srv):
    sockets = capture(srv)
    client, _ = await srv.connected()
    sockets[0].send("hi", 1)
    assert await client.next_event() == ("/", "message", ["hi", 1])


# ---------------------------------------------------------------------- attributes
async def test_socket_data(srv):
    sockets = capture(srv)

    @srv.io.use
    def middleware(socket):
        socket.data["user"] = "ann"

    await srv.connected()
    socket = sockets[0]
    assert socket.data == {"user": "ann"}
    socket.data = {"other": 1}
    assert socket.data == {"other": 1}


async def test_handshake(srv):
    sockets = capture(srv)
    before = time.time()
    client = await srv.client(
        query="foo=bar&n=1",
        headers=[("X-Custom", "yes"), ("Origin", f"http://127.0.0.1:{srv.port}")],
    )
    await client.connect(auth={"token": "abc"})
    handshake = sockets[0].handshake
    assert handshake.headers["x-custom"] == "yes"
    assert handshake.query["foo"] == "bar"
    assert handshake.query["n"] == "1"
    assert handshake.query["EIO"] == "4"
    assert handshake.query["transport"] == "websocket"
    assert handshake.auth == {"token": "abc"}
    assert handshake.address == "127.0.0.1"
    assert handshake.secure is False
    assert handshake.xdomain is True
    assert handshake.url.startswith("/socket.io/?EIO=4&transport=websocket")
    assert "foo=bar" in handshake.url
    assert isinstance(handshake.issued, int)
    assert before * 1000 - 1 <= handshake.issued <= time.time() * 1000 + 1
    # as JavaScript's new Date().toString(): "Sun Dec 06 2026 11:44:47 GMT+0000 (...)"
    when = datetime.strptime(handshake.time.split(" (")[0], "%a %b %d %Y %H:%M:%S GMT%z")
    assert abs(when.timestamp() - before) < 2
    assert list(handshake.to_dict()) == HANDSHAKE_KEYS

    plain = await srv.client()
    await plain.connect()
    handshake = sockets[1].handshake
    assert handshake.xdomain is False
    assert handshake.auth == {}


@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_an_ack_value_the_parser_refuses_is_logged_and_the_connection_stays(
    srv, caplog, kind
):
    async def coro():
        return Decimal(1)

    @srv.io.on("connection")
    def on_connection(socket):
        socket.on("refused", (lambda: Decimal(1)) if kind == "plain" else coro)
        socket.on("fine", lambda: "ok")

    client, _ = await srv.connected()
    client.send_packet(EVENT, "/", ["refused"], 99)
    await until(lambda: "error in handler of 'refused'" in caplog.text)
    assert "a Decimal is not sent" in caplog.text
    assert await client.emit_with_ack("fine") == ["ok"]


# Node's socket.handshake, key by key, in its order
# fmt: off
HANDSHAKE_KEYS = ["headers", "time", "address", "xdomain", "secure", "issued", "url", "query",
                  "auth"]
# fmt: on


@pytest.mark.parametrize("how", ["emit", "ack"])
async def test_handshake_is_sent_as_nodes_object(srv, how):
    @srv.io.on("connection")
    def on_connection(socket):
        socket.on("handshake", lambda: socket.handshake)
        if how == "emit":
            socket.emit("handshake", socket.handshake)

    client = await srv.client(query="foo=bar")
    await client.connect(auth={"token": "abc"})
    if how == "emit":
        _, event, args = await client.next_event()
        assert event == "handshake"
    else:
        args = await client.emit_with_ack("handshake")
    (sent,) = args
    assert list(sent) == HANDSHAKE_KEYS
    assert sent["auth"] == {"token": "abc"}
    assert sent["query"]["foo"] == "bar"
    assert isinstance(sent["issued"], int)
    assert isinstance(sent["time"], str) and " GMT" in sent["time"]
    assert sent["xdomain"] is False and sent["secure"] is False


async def test_rooms_join_leave(srv):
    sockets = capture(srv)
    await srv.connected()
    socket = sockets[0]
    assert socket.rooms == {socket.id}
    socket.join("a")
    socket.join(["b", "c"])
    assert socket.rooms == {socket.id, "a", "b", "c"}
    assert srv.io.sockets.adapter.rooms["a"] == {socket.id}
    socket.leave("b")
    socket.leave("never-joined")
    assert socket.rooms == {socket.id, "a", "c"}
    assert "b" not in srv.io.sockets.adapter.rooms


# ---------------------------------------------------------------------- disconnection
async def test_disconnect_sends_disconnect_packet(srv):
    reasons: list[str] = []
    sockets = capture(srv)
    sockets_chat = capture(srv, "/chat")
    client, _ = await srv.connected()
    await client.connect("/chat")
    sockets[0].on("disconnect", reasons.append)
    sockets_chat[0].on("disconnect", reasons.append)

    sockets_chat[0].disconnect()
    assert await client.next_raw() == "41/chat,"
    assert reasons == ["server namespace disconnect"]
    assert sockets_chat[0].connected is False
    assert sockets_chat[0].id not in srv.io.of("/chat").sockets
    sockets_chat[0].disconnect()  # twice is harmless

    # the connection stays open: the main namespace still works, and /chat can come back
    sockets[0].emit("still")
    assert await client.next_event() == ("/", "still", [])
    await client.connect("/chat")
    assert len(srv.io.of("/chat").sockets) == 1

    sockets[0].disconnect()
    assert await client.next_raw() == "41"
    assert not client.is_closed


async def test_disconnect_with_close(srv):
    reasons: list[Any] = []
    sockets = capture(srv)
    sockets_chat = capture(srv, "/chat")
    client, _ = await srv.connected()
    await client.connect("/chat")
    sockets[0].on("disconnect", lambda reason: reasons.append(("/", reason)))
    sockets_chat[0].on("disconnect", lambda reason: reasons.append(("/chat", reason)))
    sockets[0].disconnect(True)
    messages = {await client.next_raw(), await client.next_raw()}
    assert messages == {"41", "41/chat,"}
    await client.wait_closed()
    assert sorted(reasons) == [
        ("/", "server namespace disconnect"),
        ("/chat", "server namespace disconnect"),
    ]
    assert srv.io.engine.clients_count == 0


async def test_disconnecting_sees_rooms(srv):
    seen: list[Any] = []
    sockets = capture(srv)
    client, _ = await srv.connected()
    socket = sockets[0]
    socket.join("room")
    socket.on("disconnecting", lambda reason: seen.append(("disconnecting", set(socket.rooms))))
    socket.on("disconnect", lambda reason: seen.append(("disconnect", set(socket.rooms))))
    await client.disconnect()
    await until(lambda: len(seen) == 2)
    assert seen == [("disconnecting", {socket.id, "room"}), ("disconnect", set())]
    assert "room" not in srv.io.sockets.adapter.rooms
    assert socket.id not in srv.io.sockets.sockets


async def disconnect_reason(srv: SioServer, action) -> str:
    reasons: list[str] = []
    sockets = capture(srv)
    client, _ = await srv.connected()
    sockets[-1].on("disconnect", reasons.append)
    await action(client, sockets[-1])
    await until(lambda: reasons, timeout=10)
    return reasons[0]


async def test_reason_client_namespace_disconnect(srv):
    async def action(client, socket):
        await client.disconnect()

    assert await disconnect_reason(srv, action) == "client namespace disconnect"


async def test_reason_server_namespace_disconnect(srv):
    async def action(client, socket):
        socket.disconnect()

    assert await disconnect_reason(srv, action) == "server namespace disconnect"


async def test_reason_transport_close(srv):
    async def action(client, socket):
        await client.close()

    assert await disconnect_reason(srv, action) == "transport close"


async def test_reason_ping_timeout():
    async with SioServer(ping_interval=0.05, ping_timeout=0.05) as srv:

        async def action(client, socket):
            client.auto_pong = False

        assert await disconnect_reason(srv, action) == "ping timeout"


async def test_pings_answered_keep_the_connection():
    # 0.3 s for each pong (a loaded machine may stall a process); past interval + timeout
    async with SioServer(ping_interval=0.02, ping_timeout=0.3) as srv:
        client, _ = await srv.connected()
        await asyncio.sleep(0.5)
        await until(lambda: client.pings >= 3)
        assert not client.is_closed
        assert len(srv.io.sockets.sockets) == 1


async def test_reason_server_shutting_down():
    reasons: list[str] = []
    async with SioServer() as srv:
        sockets = capture(srv)
        client, _ = await srv.connected()
        sockets[0].on("disconnect", reasons.append)
        await srv.io.close()
        assert reasons == ["server shutting down"]
        await client.wait_closed()


async def test_disconnect_event_then_handlers_stop(srv):
    calls: list[Any] = []
    sockets = capture(srv)
    client, _ = await srv.connected()
    sockets[0].on("x", calls.append)
    await client.disconnect()
    await until(lambda: not sockets[0].connected)
    assert sockets[0].disconnected
    sockets[0].emit("ignored")  # writes nothing, raises nothing
    await client.emit("x", 1)  # no longer joined: closes the connection
    await client.wait_closed()
    assert calls == []


# ---------------------------------------------------------------------- ordering
async def test_client_events_in_order(srv):
    got: list[int] = []
    srv.io.on_event("n", lambda socket, i: got.append(i))
    client, _ = await srv.connected()
    for i in range(1000):
        client.send_packet(EVENT, "/", ["n", i])
    assert await client.emit_with_ack("n", 1000) == []
    assert got == list(range(1001))


async def test_async_handlers_start_in_order(srv):
    got: list[int] = []

    async def handler(socket, i):
        got.append(i)
        await asyncio.sleep(0)

    srv.io.on_event("n", handler)
    client, _ = await srv.connected()
    for i in range(200):
        client.send_packet(EVENT, "/", ["n", i])
    await until(lambda: len(got) == 200)
    assert got == list(range(200))


async def test_server_events_in_order(srv):
    sockets = capture(srv)
    client, _ = await srv.connected()
    for i in range(1000):
        sockets[0].emit("n", i, b"x" if i % 100 == 0 else i)
    for i in range(1000):
        assert await client.next_event() == ("/", "n", [i, b"x" if i % 100 == 0 else i])


# ---------------------------------------------------------------------- volatile
async def test_volatile_dropped_when_busy(srv, monkeypatch):
    sockets = capture(srv)
    client, _ = await srv.connected()
    socket = sockets[0]
    assert socket.volatile.emit("free", 1) is True
    assert await client.next_event() == ("/", "free", [1])

    monkeypatch.setattr(EngineSocket, "writable", property(lambda self: False))
    assert socket.volatile.emit("dropped") is False
    socket.emit("kept")
    assert await client.next_event() == ("/", "kept", [])
    monkeypatch.undo()
    socket.volatile.emit("free", 2)
    assert await client.next_event() == ("/", "free", [2])
    assert await client.no_event()


async def test_disconnect_packet_on_the_wire_for_namespace(srv):
    sockets = capture(srv, "/x")
    client = await srv.client()
    await client.connect("/x")
    sockets[0].disconnect()
    packet = await client.next_packet(types=(DISCONNECT,))
    assert packet.nsp == "/x"
    await settle()
    assert not client.is_closed
