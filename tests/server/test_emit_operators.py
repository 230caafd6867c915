"""Every emit operator with every emit method of the server, seen on the wire.

* ``compress(False)``: with permessage-deflate on, the message leaves uncompressed (the raw
  client records which messages it had to inflate);
* ``volatile``: dropped when the transport is not writable (a long-polling client with no
  GET waiting), delivered when it is;
* ``timeout``: AckTimeout (BroadcastAckError for broadcasts) when the client does not answer;
* ``to`` / ``in_`` / ``except_`` / ``local`` / ``broadcast``: who receives the event.

The methods: a socket's ``emit``, ``emit_with_ack`` and ``send``, and the same through the
broadcast operators of the server (``io``) and of a namespace (``io.of(...)``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from aiosocketio import AckTimeout, BroadcastAckError, Socket
from aiosocketio.socketio.packets import EVENT
from helpers import EMIT_FLAGS, HttpConnection, eio_open
from sioclient import SioClient, SioServer

BIG = "compressible " * 200  # over the 1024-byte threshold of permessage-deflate
SOCKET_METHODS = ["emit", "emit_with_ack", "send"]


@pytest.fixture
async def srv():
    async with SioServer(per_message_deflate=True) as server:
        yield server


async def join(srv: SioServer, nsp: str = "/", *rooms: str) -> tuple[SioClient, Socket]:
    """A raw client that inflates, connected to ``nsp``, its socket in ``rooms``."""
    client = await srv.client(deflate=True)
    sid = await client.connect(nsp)
    socket = srv.io.of(nsp).sockets[sid]
    socket.join(list(rooms))
    return client, socket


async def call(target: Any, method: str, event: str, *args: Any) -> asyncio.Future[Any]:
    """Emit with ``method`` of ``target``; a future of what it gives (the acknowledgement)."""
    loop = asyncio.get_running_loop()
    if method == "emit_with_ack":
        task = asyncio.ensure_future(target.emit_with_ack(event, *args))
        await asyncio.sleep(0)  # one step: the task emits, then waits for the answers
        return task
    future = loop.create_future()
    if method == "send":
        future.set_result(target.send(*args))
    else:
        future.set_result(target.emit(event, *args))
    return future


async def receive(client: SioClient, answer: Any = "ok") -> tuple[str, list[Any]]:
    """The next event (answered when it asks for an acknowledgement)."""
    packet = await client.next_event_packet()
    if packet.id is not None:
        client.ack(packet.id, answer, nsp=packet.nsp)
    return packet.data[0], list(packet.data[1:])


def event_of(method: str, event: str) -> str:
    return "message" if method == "send" else event


# ---------------------------------------------------------------------- socket: compress
@pytest.mark.parametrize("method", SOCKET_METHODS)
@pytest.mark.parametrize("flags", EMIT_FLAGS)
async def test_socket_compress(srv, method: str, flags: str) -> None:
    client, socket = await join(srv)
    apply, plain = EMIT_FLAGS[flags]
    sent = await call(apply(socket), method, "big", BIG)
    assert await receive(client) == (event_of(method, "big"), [BIG])
    if method == "emit_with_ack":
        assert await sent == "ok"
    assert bool(client.inflated) is not plain


# ---------------------------------------------------------------------- socket: volatile
async def polling_socket(srv: SioServer) -> tuple[HttpConnection, str, Socket]:
    """A long-polling client connected to /, with no GET waiting: its transport is not
    writable."""
    conn = await HttpConnection.open(srv.port)
    sid = (await eio_open(conn, "/socket.io/"))["sid"]
    url = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    assert (await conn.request("POST", url, body="40")).body == b"ok"
    assert (await conn.request("GET", url)).text.startswith("40")
    (socket,) = srv.io.sockets.sockets.values()
    return conn, url, socket


@pytest.mark.parametrize("method", SOCKET_METHODS)
async def test_socket_volatile_is_dropped_when_not_writable(srv, method: str) -> None:
    conn, url, socket = await polling_socket(srv)
    async with conn:
        target = socket.volatile.timeout(0.2) if method == "emit_with_ack" else socket.volatile
        sent = await call(target, method, "v", 1)
        if method == "emit_with_ack":
            with pytest.raises(AckTimeout):
                await sent
        else:
            assert await sent is False
        socket.emit("n", 2)
        # only the event that is not volatile was waiting for the next GET
        assert (await conn.request("GET", url)).text == '42["n",2]'


@pytest.mark.parametrize("method", SOCKET_METHODS)
async def test_socket_volatile_is_sent_when_writable(srv, method: str) -> None:
    client, socket = await join(srv)
    sent = await call(socket.volatile, method, "v", 1)
    assert await receive(client) == (event_of(method, "v"), [1])
    assert await sent in (True, "ok")


# ---------------------------------------------------------------------- socket: timeout
@pytest.mark.parametrize("method", SOCKET_METHODS)
@pytest.mark.parametrize("answered", [True, False], ids=["answered", "silent"])
async def test_socket_timeout(srv, method: str, answered: bool) -> None:
    client, socket = await join(srv)
    results: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    target = socket.timeout(1.0)  # an answer within it on a loaded machine
    if method == "emit_with_ack":
        sent = asyncio.ensure_future(target.emit_with_ack("t", 1))
    else:
        sender = target.send if method == "send" else lambda *a, **k: target.emit("t", *a, **k)
        sender(1, callback=lambda *args: results.put_nowait(args))
    packet = await client.next_event_packet()
    assert packet.data == [event_of(method, "t"), 1] and packet.id is not None
    if answered:
        client.ack(packet.id, "ok")
    if method == "emit_with_ack":
        if answered:
            assert await sent == "ok"
        else:
            with pytest.raises(AckTimeout):
                await sent
    else:
        err, *args = await results.get()
        if answered:
            assert (err, args) == (None, ["ok"])
        else:
            assert isinstance(err, AckTimeout) and args == []


# ---------------------------------------------------------------------- broadcast operators
class Room:
    """Three clients of one namespace: a in room r1, b in r2, c in none."""

    def __init__(self, srv: SioServer, nsp: str) -> None:
        self.srv = srv
        self.nsp = nsp
        self.clients: dict[str, SioClient] = {}
        self.sockets: dict[str, Socket] = {}

    async def start(self) -> Room:
        self.srv.io.of(self.nsp)
        for name, rooms in (("a", ["r1"]), ("b", ["r2"]), ("c", [])):
            self.clients[name], self.sockets[name] = await join(self.srv, self.nsp, *rooms)
        return self

    async def received(self, event: str) -> dict[str, list[list[Any]]]:
        """What each client got before an ``end`` event sent to all (each connection keeps
        the order): the arguments of each ``event``, answering acknowledgements."""
        self.srv.io.of(self.nsp).emit("end")
        got: dict[str, list[list[Any]]] = {}
        for name, client in self.clients.items():
            got[name] = []
            while True:
                name_, args = await receive(client, answer=name)
                if name_ == "end":
                    break
                assert name_ == event
                got[name].append(args)
        return got


# operators of a namespace (or the server) -> (who receives, sent without compression)
OPERATORS: dict[str, tuple[Callable[[Any], Any], str, bool]] = {
    "none": (lambda t: t, "abc", False),
    "to": (lambda t: t.to("r1"), "a", False),
    "in_": (lambda t: t.in_("r1"), "a", False),
    "to two rooms": (lambda t: t.to("r1", "r2"), "ab", False),
    "to a list": (lambda t: t.to(["r1", "r2"]), "ab", False),
    "except_": (lambda t: t.except_("r1"), "bc", False),
    "to and except_": (lambda t: t.to("r1", "r2").except_("r2"), "a", False),
    "local": (lambda t: t.local, "abc", False),
    "volatile": (lambda t: t.volatile, "abc", False),
    "compress": (lambda t: t.compress(False), "abc", True),
    "timeout": (lambda t: t.timeout(5), "abc", False),
    "chained": (lambda t: t.local.volatile.compress(False).to("r2").timeout(5), "b", True),
}


@pytest.mark.parametrize("level", ["server", "namespace"])
@pytest.mark.parametrize("method", ["emit", "emit_with_ack"])
@pytest.mark.parametrize("op", OPERATORS)
async def test_broadcast_operators(srv, level: str, method: str, op: str) -> None:
    nsp = "/" if level == "server" else "/other"
    room = await Room(srv, nsp).start()
    base = srv.io if level == "server" else srv.io.of(nsp)
    apply, expected, plain = OPERATORS[op]
    target = apply(base)
    if method == "emit_with_ack":
        target = target.timeout(5)  # a broadcast with acks needs a deadline
    sent = await call(target, method, "big", BIG)
    got = await room.received("big")
    assert {name for name, events in got.items() if events} == set(expected)
    assert all(events == [[BIG]] for name, events in got.items() if name in expected)
    if method == "emit_with_ack":
        assert sorted(await sent) == sorted(expected)  # each client answered its name
    for name in expected:
        assert bool(room.clients[name].inflated) is not plain


@pytest.mark.parametrize("level", ["server", "namespace"])
async def test_send_of_the_server_and_of_a_namespace(srv, level: str) -> None:
    nsp = "/" if level == "server" else "/other"
    room = await Room(srv, nsp).start()
    base = srv.io if level == "server" else srv.io.of(nsp)
    base.send("hello", 1)
    assert await room.received("message") == {name: [["hello", 1]] for name in "abc"}


# operators of a socket (from a, in r1) -> (who receives, sent without compression)
SOCKET_OPERATORS: dict[str, tuple[Callable[[Any], Any], str, bool]] = {
    "broadcast": (lambda s: s.broadcast, "bc", False),
    "to": (lambda s: s.to("r2"), "b", False),
    "in_": (lambda s: s.in_("r1", "r2"), "b", False),  # never the sender
    "except_": (lambda s: s.except_("r2"), "c", False),
    "local": (lambda s: s.local, "bc", False),
    "broadcast volatile": (lambda s: s.broadcast.volatile, "bc", False),
    "broadcast compress": (lambda s: s.broadcast.compress(False), "bc", True),
    "to timeout": (lambda s: s.to("r2").timeout(5), "b", False),
}


@pytest.mark.parametrize("method", ["emit", "emit_with_ack"])
@pytest.mark.parametrize("op", SOCKET_OPERATORS)
async def test_socket_broadcast_operators(srv, method: str, op: str) -> None:
    room = await Room(srv, "/").start()
    apply, expected, plain = SOCKET_OPERATORS[op]
    target = apply(room.sockets["a"])
    if method == "emit_with_ack":
        target = target.timeout(5)
    sent = await call(target, method, "big", BIG)
    got = await room.received("big")
    assert {name for name, events in got.items() if events} == set(expected)
    if method == "emit_with_ack":
        assert sorted(await sent) == sorted(expected)
    for name in expected:
        assert bool(room.clients[name].inflated) is not plain


@pytest.mark.parametrize("level", ["server", "namespace", "socket"])
async def test_broadcast_volatile_skips_a_client_that_is_not_writable(srv, level: str) -> None:
    conn, url, _ = await polling_socket(srv)
    async with conn:
        _sender, socket = await join(srv)
        receiver, _ = await join(srv)
        base = {"server": srv.io, "namespace": srv.io.of("/"), "socket": socket.broadcast}
        base[level].volatile.except_(socket.id).emit("v", 1)
        srv.io.except_(socket.id).emit("n", 2)
        # the WebSocket client was writable, the long-polling one (no GET waiting) was not
        assert [await receive(receiver), await receive(receiver)] == [("v", [1]), ("n", [2])]
        assert (await conn.request("GET", url)).text == '42["n",2]'


@pytest.mark.parametrize("level", ["server", "namespace", "socket"])
@pytest.mark.parametrize("method", ["emit", "emit_with_ack"])
async def test_broadcast_timeout(srv, level: str, method: str) -> None:
    room = await Room(srv, "/").start()
    base = {"server": srv.io, "namespace": srv.io.of("/"), "socket": room.sockets["c"].broadcast}
    target = base[level].timeout(1.0)  # an answer within it on a loaded machine
    results: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    if method == "emit_with_ack":
        sent = asyncio.ensure_future(target.emit_with_ack("t"))
    else:
        target.emit("t", callback=lambda *args: results.put_nowait(args))
    # a answers, b does not
    packet = await room.clients["a"].next_event_packet()
    assert packet.type == EVENT and packet.id is not None
    room.clients["a"].ack(packet.id, "a")
    assert (await room.clients["b"].next_event_packet()).data == ["t"]
    if method == "emit_with_ack":
        with pytest.raises(BroadcastAckError) as info:
            await sent
        assert info.value.responses == ["a"]
    else:
        err, responses = await results.get()
        assert isinstance(err, BroadcastAckError) and responses == ["a"]
