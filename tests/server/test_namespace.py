"""Namespaces: static, dynamic (regex / function), shared handlers, connect timeout."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from aiosocketio.server.namespace import Namespace, ParentNamespace
from sioclient import ConnectRefused, SioServer, until


@pytest.fixture
async def srv():
    async with SioServer() as server:
        yield server


def test_of_returns_the_same_namespace():
    from aiosocketio.server.server import Server

    io = Server()
    chat = io.of("/chat")
    assert isinstance(chat, Namespace)
    assert io.of("/chat") is chat
    assert io.of("chat") is chat
    assert io.of("/") is io.sockets
    assert chat.name == "/chat"
    assert set(io.namespaces) == {"/", "/chat"}


async def test_connection_handlers(srv):
    seen: list[Any] = []
    chat = srv.io.of("/chat")
    chat.on("connection", lambda socket: seen.append(("connection", socket.nsp.name)))
    chat.on("connect", lambda socket: seen.append(("connect", socket.nsp.name)))

    client = await srv.client()
    sid = await client.connect("/chat")
    assert seen == [("connection", "/chat"), ("connect", "/chat")]
    assert list(chat.sockets) == [sid]
    assert srv.io.sockets.sockets == {}


async def test_events_emitted_in_connection_handler_follow_the_connect_reply(srv):
    srv.io.on("connection", lambda socket: socket.emit("welcome", socket.id))
    client = await srv.client()
    sid = await client.connect()
    assert await client.next_event() == ("/", "welcome", [sid])


async def test_on_event_shared_handler(srv):
    calls: list[Any] = []
    chat = srv.io.of("/chat")

    @chat.on_event("hello")
    def hello(socket, *args):
        calls.append((socket.id, args))
        return "shared"

    async def shout(socket, text):
        await asyncio.sleep(0)
        return text.upper()

    chat.on_event("shout", shout)

    client = await srv.client()
    sid = await client.connect("/chat")
    assert await client.emit_with_ack("hello", 1, "b", nsp="/chat") == ["shared"]
    assert calls == [(sid, (1, "b"))]
    assert await client.emit_with_ack("shout", "hey", nsp="/chat") == ["HEY"]
    # the same event on another namespace does not reach it
    await client.connect("/")
    await client.emit("hello", 2)
    assert await client.emit_with_ack("shout", "x", nsp="/chat") == ["X"]
    assert len(calls) == 1


async def test_on_event_runs_after_socket_handlers(srv):
    order: list[str] = []
    srv.io.on_event("x", lambda socket: order.append("shared"))
    srv.io.on("connection", lambda socket: socket.on("x", lambda: order.append("own")))
    client, _ = await srv.connected()
    await client.emit_with_ack("x")
    assert order == ["own", "shared"]


async def test_unknown_namespace(srv):
    client = await srv.client()
    client.send_packet(0, "/nope", None)
    assert await client.next_raw() == '44/nope,{"message":"Invalid namespace"}'
    with pytest.raises(ConnectRefused) as info:
        await client.connect("/other")
    assert info.value.data == {"message": "Invalid namespace"}
    # the connection stays open
    await client.connect("/")
    assert not client.is_closed
    assert "/nope" not in srv.io.namespaces


async def test_dynamic_namespace_regex(srv):
    seen: list[str] = []
    parent = srv.io.of(re.compile(r"^/dyn-\d+$"))
    assert isinstance(parent, ParentNamespace)
    parent.on("connection", lambda socket: seen.append(socket.nsp.name))
    client = await srv.client()
    await client.connect("/dyn-1")
    await client.connect("/dyn-22")
    assert seen == ["/dyn-1", "/dyn-22"]
    assert {c.name for c in parent.children} == {"/dyn-1", "/dyn-22"}
    assert srv.io.namespaces["/dyn-1"].parent is parent
    with pytest.raises(ConnectRefused):
        await client.connect("/dyn-x")


async def test_dynamic_namespace_sync_function(srv):
    checks: list[Any] = []

    def check(name, auth):
        checks.append((name, auth))
        return auth.get("ok") is True

    parent = srv.io.of(check)
    parent.on_event("who", lambda socket: socket.nsp.name)
    client = await srv.client()
    with pytest.raises(ConnectRefused):
        await client.connect("/fn", {"ok": False})
    await client.connect("/fn", {"ok": True})
    assert checks == [("/fn", {"ok": False}), ("/fn", {"ok": True})]
    assert await client.emit_with_ack("who", nsp="/fn") == ["/fn"]


async def test_dynamic_namespace_async_function(srv):
    async def check(name, auth):
        await asyncio.sleep(0.01)
        return name.startswith("/tenant-")

    parent = srv.io.of(check)
    parent.on_event("who", lambda socket: socket.nsp.name)
    client = await srv.client()
    await client.connect("/tenant-a")
    assert await client.emit_with_ack("who", nsp="/tenant-a") == ["/tenant-a"]
    with pytest.raises(ConnectRefused) as info:
        await client.connect("/elsewhere")
    assert info.value.data == {"message": "Invalid namespace"}


async def test_failing_namespace_check_refuses(srv):
    def check(name, auth):
        raise RuntimeError("broken check")

    srv.io.of(check)
    client = await srv.client()
    with pytest.raises(ConnectRefused):
        await client.connect("/any")
    assert not client.is_closed


async def test_children_share_handlers_registered_later(srv):
    parent = srv.io.of(re.compile(r"^/room-"))
    first = await srv.client()
    await first.connect("/room-a")

    seen: list[str] = []
    parent.on_event("who", lambda socket: socket.nsp.name)
    parent.on("connection", lambda socket: seen.append(socket.nsp.name))

    @parent.use
    def middleware(socket):
        socket.data["checked"] = True

    assert await first.emit_with_ack("who", nsp="/room-a") == ["/room-a"]
    second = await srv.client()
    await second.connect("/room-a")
    assert seen == ["/room-a"]
    child = srv.io.namespaces["/room-a"]
    assert [s.data.get("checked") for s in child.sockets.values()] == [None, True]


async def test_new_namespace_hook(srv):
    created: list[str] = []
    srv.io.on("new_namespace", lambda nsp: created.append(nsp.name))
    srv.io.of(re.compile(r"^/dyn"))
    client = await srv.client()
    await client.connect("/dyn1")
    assert created == ["/dyn1"]
    srv.io.of("/static")
    assert created == ["/dyn1", "/static"]


async def test_of_with_a_name_matching_a_regex_parent(srv):
    parent = srv.io.of(re.compile(r"^/dyn-\d+$"))
    seen: list[str] = []
    parent.on("connection", lambda socket: seen.append(socket.nsp.name))
    child = srv.io.of("/dyn-7")
    assert child.parent is parent
    assert child in parent.children
    client = await srv.client()
    await client.connect("/dyn-7")
    assert seen == ["/dyn-7"]


@pytest.mark.parametrize("cleanup", [True, False])
async def test_cleanup_empty_child_namespaces(cleanup):
    async with SioServer(cleanup_empty_child_namespaces=cleanup) as srv:
        parent = srv.io.of(re.compile(r"^/dyn-\d+$"))
        a = await srv.client()
        b = await srv.client()
        await a.connect("/dyn-1")
        await b.connect("/dyn-1")
        await a.disconnect("/dyn-1")
        await until(lambda: len(srv.io.namespaces["/dyn-1"].sockets) == 1)
        await b.disconnect("/dyn-1")
        if cleanup:
            await until(lambda: "/dyn-1" not in srv.io.namespaces)
            assert parent.children == set()
        else:
            await until(lambda: not srv.io.namespaces["/dyn-1"].sockets)
            assert len(parent.children) == 1
        # connecting again works either way
        await b.connect("/dyn-1")
        assert len(srv.io.namespaces["/dyn-1"].sockets) == 1


async def test_static_namespaces_are_not_cleaned_up():
    async with SioServer(cleanup_empty_child_namespaces=True) as srv:
        srv.io.of("/static")
        client = await srv.client()
        await client.connect("/static")
        await client.disconnect("/static")
        await until(lambda: not srv.io.of("/static").sockets)
        assert "/static" in srv.io.namespaces


async def test_parent_emit_reaches_all_children(srv):
    parent = srv.io.of(re.compile(r"^/dyn-\d+$"))
    a = await srv.client()
    b = await srv.client()
    await a.connect("/dyn-1")
    await b.connect("/dyn-2")
    await b.connect("/")
    parent.emit("hello", 1)
    assert await a.next_event() == ("/dyn-1", "hello", [1])
    assert await b.next_event() == ("/dyn-2", "hello", [1])
    assert await b.no_event()
    parent.to("nobody").emit("none")
    srv.io.of("/dyn-1").emit("only-1")
    assert await a.next_event() == ("/dyn-1", "only-1", [])
    assert await b.no_event()
    sockets = await parent.fetch_sockets()
    assert {s.nsp.name for s in sockets} == {"/dyn-1", "/dyn-2"}


async def test_parent_broadcast_with_ack(srv):
    parent = srv.io.of(re.compile(r"^/dyn-\d+$"))
    a = await srv.client()
    b = await srv.client()
    await a.connect("/dyn-1")
    await b.connect("/dyn-2")
    task = asyncio.ensure_future(parent.timeout(1).emit_with_ack("q"))
    for client, answer in ((a, "a"), (b, "b")):
        packet = await client.next_event_packet()
        client.ack(packet.id, answer, nsp=packet.nsp)
    assert sorted(await asyncio.wait_for(task, 1)) == ["a", "b"]


async def test_connect_timeout_closes_idle_connection():
    async with SioServer(connect_timeout=0.1) as srv:
        idle = await srv.client()
        active = await srv.client()
        await active.connect()
        await idle.wait_closed(timeout=10)
        await asyncio.sleep(0.1)
        assert not active.is_closed
        assert srv.io.engine.clients_count == 1


async def test_connect_timeout_counts_a_refused_namespace_as_idle():
    async with SioServer(connect_timeout=0.1) as srv:
        client = await srv.client()
        with pytest.raises(ConnectRefused):
            await client.connect("/unknown")
        await client.wait_closed(timeout=10)
