"""Connection middleware (namespace ``use``) and packet middleware (``socket.use``)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from aiosocketio.client import connect, io
from aiosocketio.errors import ConnectionRefused
from aiosocketio.socketio.packets import ACK, EVENT
from sioclient import ConnectRefused, SioServer, until


@pytest.fixture
async def srv():
    async with SioServer() as server:
        yield server


# ---------------------------------------------------------------------- connection middleware
async def test_sync_and_async_middlewares_run_in_order(srv):
    order: list[str] = []

    @srv.io.use
    def first(socket):
        order.append("first")
        socket.data["first"] = True

    @srv.io.use
    async def second(socket):
        await asyncio.sleep(0.01)
        order.append("second")

    @srv.io.use
    def third(socket):
        order.append("third")

    srv.io.on("connection", lambda socket: order.append("connection"))
    _, sid = await srv.connected()
    assert order == ["first", "second", "third", "connection"]
    assert srv.io.sockets.sockets[sid].data == {"first": True}


async def test_refusal_with_data_and_retry(srv):
    @srv.io.use
    def check(socket):
        if socket.handshake.auth.get("token") != "good":
            raise ConnectionRefused("not authorized", {"retry": True, "code": 401})

    connections: list[str] = []
    srv.io.on("connection", lambda socket: connections.append(socket.id))
    client = await srv.client()
    client.send_packet(0, "/", {"token": "bad"})
    assert await client.next_raw() == (
        '44{"message":"not authorized","data":{"retry":true,"code":401}}'
    )
    assert connections == []
    assert srv.io.sockets.sockets == {}
    # the Engine.IO connection stays open: the client may try again with other credentials
    with pytest.raises(ConnectRefused) as info:
        await client.connect(auth={"token": "worse"})
    assert info.value.data == {"message": "not authorized", "data": {"retry": True, "code": 401}}
    sid = await client.connect(auth={"token": "good"})
    assert connections == [sid]
    assert not client.is_closed


async def test_refusal_without_data(srv):
    @srv.io.use
    def refuse(socket):
        raise ConnectionRefused("no")

    client = await srv.client()
    client.send_packet(0, "/", None)
    assert await client.next_raw() == '44{"message":"no"}'


async def test_async_refusal(srv):
    @srv.io.use
    async def refuse(socket):
        await asyncio.sleep(0)
        raise ConnectionRefused("later", [1])

    client = await srv.client()
    client.send_packet(0, "/", None)
    assert await client.next_raw() == '44{"message":"later","data":[1]}'
    assert not client.is_closed


def middleware_returning(value: Any, is_async: bool, first: bool) -> list[Any]:
    """The middlewares of a server whose only decision is ``value`` (returned by the first
    one, or by the second after one that lets the socket in)."""

    def allow(socket):
        return None

    if is_async:

        async def decide(socket):
            await asyncio.sleep(0)
            return value

    else:

        def decide(socket):
            return value

    return [decide] if first else [allow, decide]


@pytest.mark.parametrize("first", [True, False], ids=["first", "after another"])
@pytest.mark.parametrize("is_async", [False, True], ids=["plain", "async"])
async def test_a_middleware_returning_false_refuses_the_client(srv, is_async, first):
    # python-socketio refuses a connection whose connect handler returns False: a literal
    # port must not let the client in
    for middleware in middleware_returning(False, is_async, first):
        srv.io.use(middleware)
    url = f"http://127.0.0.1:{srv.port}"
    with pytest.raises(ConnectionRefused) as info:
        await connect(url, transports=["websocket"], reconnection=False, wait_timeout=3)
    assert info.value.message == "Connection rejected by server"
    assert srv.io.sockets.sockets == {}


@pytest.mark.parametrize("value", [True, "yes", 0, {"ok": 1}])
@pytest.mark.parametrize("is_async", [False, True], ids=["plain", "async"])
async def test_a_middleware_returning_anything_else_refuses_and_says_what_to_do(
    srv, caplog, is_async, value
):
    for middleware in middleware_returning(value, is_async, first=False):
        srv.io.use(middleware)
    url = f"http://127.0.0.1:{srv.port}"
    with pytest.raises(ConnectionRefused) as info:
        await connect(url, transports=["websocket"], reconnection=False, wait_timeout=3)
    advice = "return None to let the socket in, False or raise ConnectionRefused"
    assert f"returned {value!r}: {advice}" in info.value.message
    assert advice in caplog.text and "TypeError" in caplog.text
    assert srv.io.sockets.sockets == {}


@pytest.mark.parametrize("is_async", [False, True], ids=["plain", "async"])
async def test_a_connection_handler_returning_false_disconnects_the_socket(srv, caplog, is_async):
    if is_async:

        async def on_connection(socket):
            return False

    else:

        def on_connection(socket):
            return False

    srv.io.on("connection", on_connection)
    srv.io.on("connection", lambda socket: socket.emit("fine"))  # any other value: ignored
    url = f"http://127.0.0.1:{srv.port}"
    sock = io(url, transports=["websocket"], reconnection=False)
    reasons: asyncio.Queue[str] = asyncio.Queue()
    sock.on("disconnect", reasons.put_nowait)
    assert await asyncio.wait_for(reasons.get(), 3) == "io server disconnect"
    assert srv.io.sockets.sockets == {}
    assert "returned False" in caplog.text and "use a middleware (io.use)" in caplog.text


@pytest.mark.parametrize("is_async", [False, True])
async def test_other_exception_refuses_with_its_message(srv, is_async):
    if is_async:

        async def broken(socket):
            raise RuntimeError("database down")

    else:

        def broken(socket):
            raise RuntimeError("database down")

    srv.io.use(broken)
    client = await srv.client()
    client.send_packet(0, "/", None)
    assert await client.next_raw() == '44{"message":"database down"}'
    assert not client.is_closed


async def test_middleware_stops_at_the_first_refusal(srv):
    calls: list[str] = []

    @srv.io.use
    async def refuse(socket):
        calls.append("refuse")
        raise ConnectionRefused("stop")

    @srv.io.use
    def never(socket):
        calls.append("never")

    client = await srv.client()
    with pytest.raises(ConnectRefused):
        await client.connect()
    assert calls == ["refuse"]


async def test_per_namespace_middleware(srv):
    @srv.io.of("/admin").use
    def admin_only(socket):
        if socket.handshake.auth.get("role") != "admin":
            raise ConnectionRefused("admins only")

    client = await srv.client()
    await client.connect("/")
    client.send_packet(0, "/admin", {"role": "user"})
    assert await client.next_raw() == '44/admin,{"message":"admins only"}'
    await client.connect("/admin", {"role": "admin"})
    other = await srv.client()
    await other.connect("/")


async def test_client_leaving_during_async_middleware(srv):
    release = asyncio.Event()
    connections: list[str] = []

    @srv.io.use
    async def slow(socket):
        await release.wait()

    srv.io.on("connection", lambda socket: connections.append(socket.id))
    client = await srv.client()
    client.send_packet(0, "/", None)
    await asyncio.sleep(0.01)
    await client.close()
    release.set()
    await asyncio.sleep(0.02)
    assert connections == []
    assert srv.io.sockets.sockets == {}


# ---------------------------------------------------------------------- packet middleware
async def test_packet_middleware_modifies_the_event(srv):
    seen: list[Any] = []

    @srv.io.on("connection")
    def on_connection(socket):
        @socket.use
        def upper(packet):
            seen.append(list(packet))
            packet[1] = packet[1].upper()
            packet.append("extra")

        socket.on("shout", lambda text, extra: (text, extra))

    client, _ = await srv.connected()
    assert await client.emit_with_ack("shout", "hi") == ["HI", "extra"]
    assert seen == [["shout", "hi"]]


async def test_packet_middleware_refusal_emits_local_error(srv):
    errors: list[Any] = []
    handled: list[Any] = []

    @srv.io.on("connection")
    def on_connection(socket):
        @socket.use
        def deny(packet):
            if packet[0] == "forbidden":
                raise PermissionError("nope")

        socket.on("error", errors.append)
        socket.on("forbidden", lambda: handled.append("forbidden") or "ok")
        socket.on("allowed", lambda: handled.append("allowed") or "ok")

    client, _ = await srv.connected()
    client.send_packet(EVENT, "/", ["forbidden"], 0)
    assert await client.emit_with_ack("allowed") == ["ok"]
    assert handled == ["allowed"]
    assert len(errors) == 1
    assert isinstance(errors[0], PermissionError)
    assert [p for p in client.packets.items if p.type == ACK] == []
    assert not client.is_closed


async def test_async_packet_middleware_keeps_order(srv):
    got: list[int] = []
    errors: list[Any] = []

    @srv.io.on("connection")
    def on_connection(socket):
        @socket.use
        async def slow(packet):
            await asyncio.sleep(random.random() / 200)
            if packet[1] == 13:
                raise ValueError("unlucky")

        @socket.use
        def double(packet):
            packet[1] *= 2

        socket.on("n", lambda i: got.append(i))
        socket.on("error", errors.append)

    client, _ = await srv.connected()
    for i in range(30):
        client.send_packet(EVENT, "/", ["n", i])
    assert await client.emit_with_ack("n", 100) == []
    await until(lambda: 200 in got)
    assert got == [2 * i for i in range(30) if i != 13] + [200]
    assert len(errors) == 1


async def test_packet_middleware_after_disconnect_drops_events(srv):
    release = asyncio.Event()
    got: list[Any] = []

    @srv.io.on("connection")
    def on_connection(socket):
        @socket.use
        async def wait(packet):
            await release.wait()

        socket.on("x", got.append)

    client, sid = await srv.connected()
    await client.emit("x", 1)
    await asyncio.sleep(0.01)
    await client.disconnect()
    await until(lambda: sid not in srv.io.sockets.sockets)
    release.set()
    await asyncio.sleep(0.01)
    assert got == []
