"""The msgpack parser against socket.io-msgpack-parser 3.0.2 under Node.

* the official socket.io-client 4.8, configured with the msgpack parser, against aiosocketio's
  server with :class:`MsgpackParser` (``scenarios/msgpack_client.js``), over WebSocket,
  long-polling (binary messages as ``b<base64>``) and an upgrade;
* a socket.io 4.8 server with the msgpack parser (``scenarios/msgpack_server.js``) against a
  raw long-polling exchange from Python that compares the bytes it sends with ours, and
  against aiosocketio's client with ``parser=MsgpackParser()``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import ConnectionRefused, Server, Socket
from aiosocketio.client import connect, io
from aiosocketio.socketio.msgpack_parser import MsgpackParser
from aiosocketio.socketio.packets import ACK, CONNECT, EVENT, Packet
from helpers import HttpConnection

pytestmark = pytest.mark.interop

RunNode = Callable[..., Awaitable[list[dict[str, Any]]]]
ServerFactory = Callable[..., Awaitable[tuple[Server, int]]]

MODES = ["websocket", "polling", "upgrade"]
SERVER_JS = Path(__file__).resolve().parent / "scenarios" / "msgpack_server.js"
UTC = dt.UTC
PARSER = MsgpackParser()


def pattern(size: int, seed: int = 0) -> bytes:
    """The same bytes as ``pattern(size, seed)`` in scenarios/common.js."""
    return bytes((i * 7 + seed) & 0xFF for i in range(size))


def ms(value: dt.datetime) -> int:
    return (value - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(milliseconds=1)


def described(value: Any) -> Any:
    """What ``describe()`` of scenarios/msgpack_common.js prints for the value Node decodes
    from this Python value."""
    if isinstance(value, bytes):
        if len(value) <= 64:
            return {"$buffer": value.hex()}
        return {"$buffer": {"len": len(value), "sha256": hashlib.sha256(value).hexdigest()}}
    if isinstance(value, dt.datetime):
        return {"$date": ms(value)}
    if isinstance(value, (list, tuple)):
        return [described(v) for v in value]
    if isinstance(value, dict):
        return {k: described(v) for k, v in value.items()}
    return value


def one(lines: list[dict[str, Any]], ev: str) -> dict[str, Any]:
    found = [line for line in lines if line.get("ev") == ev]
    assert len(found) == 1, (ev, lines)
    return found[0]


_tasks: set[asyncio.Task[Any]] = set()


def background(coro: Coroutine[Any, Any, Any]) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


# ------------------------------------------------------- the official client against us
@pytest.mark.parametrize("mode", MODES)
async def test_official_client_with_msgpack_parser(
    serve: ServerFactory, run_node: RunNode, mode: str
) -> None:
    io, port = await serve(parser=MsgpackParser())
    got: dict[str, Any] = {}
    welcome = [
        "hi",
        1,
        2.5,
        b"\x00\xff",
        {"nested": [b"\x01", None, True]},
        dt.datetime(2021, 5, 6, 7, 8, 9, 10000, tzinfo=UTC),
    ]

    def on_connection(socket: Socket) -> None:
        got["auth"] = socket.handshake.auth
        socket.emit("welcome", *welcome)
        io.emit("broadcast", {"all": True}, b"\x02")

        def types(*args: Any) -> Any:
            got["types"] = args
            return args

        socket.on("types", types)
        socket.on("disconnect", lambda reason: got.setdefault("main-disconnect", reason))

        async def ask() -> None:
            got["answer"] = await socket.emit_with_ack("server-ask", 21, b"\x01", timeout=3)

        background(ask())

    def on_admin(socket: Socket) -> None:
        socket.on("ping", lambda blob: ("pong-admin", blob))
        socket.on("kick-me", lambda: socket.disconnect())

    def refuse(socket: Socket) -> None:
        raise ConnectionRefused("not authorized", {"code": 42})

    io.on("connection", on_connection)
    io.of("/admin").on("connection", on_admin)
    io.of("/private").use(refuse)
    lines = await run_node("msgpack_client", port, mode)

    expected_transport = "polling" if mode == "polling" else "websocket"
    assert one(lines, "transport")["name"] == expected_transport
    assert got["auth"] == {"token": "t", "n": [1, 2.5]}

    # Python -> Node: an event to one socket, and a broadcast (encoded once)
    assert one(lines, "welcome")["args"] == described(welcome)
    assert one(lines, "broadcast")["args"] == [{"all": True}, {"$buffer": "02"}]

    # Node -> Python: every JavaScript value as the Python value notepack's format means
    big = pattern(100 * 1024, 3)
    assert got["types"] == (
        1,
        -1,
        2**40,
        1.5,
        -0.25,
        "é€😀",
        True,
        False,
        None,
        None,  # undefined
        b"\x00\x01\xff",
        bytes(range(1, 9)),  # an ArrayBuffer of 8 bytes (ext 8 of type 0, not a Date)
        dt.datetime(2024, 2, 29, 12, 0, 0, 123000, tzinfo=UTC),
        {"a": None, "b": [b""], "c": {"d": 1}},
        big,
    )
    types = got["types"]
    assert [type(v) for v in types[:5]] == [int, int, int, float, float]
    assert type(types[10]) is bytes and type(types[14]) is bytes
    # ... and back to Node in the ack (undefined became null, the ArrayBuffer a Buffer)
    assert one(lines, "types-ack")["args"] == described(list(types))

    # Python asks, Node answers with binary and a date
    assert one(lines, "server-ask") == {
        "ev": "server-ask",
        "n": 21,
        "blob": {"$buffer": "01"},
        "ackIsFunction": True,
    }
    assert got["answer"] == (42, b"ok", dt.datetime(1970, 1, 1, tzinfo=UTC))

    # namespaces: CONNECT, CONNECT_ERROR with data, unknown namespace, DISCONNECT both ways
    outcomes = {line["name"]: line for line in lines if line["ev"] == "outcome"}
    assert outcomes["admin"]["connected"] is True
    assert outcomes["private"] == {
        "ev": "outcome",
        "name": "private",
        "connected": False,
        "message": "not authorized",
        "data": {"code": 42},
    }
    assert outcomes["nope"] == {
        "ev": "outcome",
        "name": "nope",
        "connected": False,
        "message": "Invalid namespace",
        "data": {"$undefined": True},
    }
    assert one(lines, "admin-ping")["value"] == ["pong-admin", described(pattern(300, 1))]
    assert one(lines, "kicked")["reason"] == "io server disconnect"
    for _ in range(100):
        if "main-disconnect" in got:
            break
        await asyncio.sleep(0.01)
    assert got["main-disconnect"] == "client namespace disconnect"


async def test_json_client_is_refused_by_a_msgpack_server(serve: ServerFactory) -> None:
    """A text Socket.IO packet is a parse error for the msgpack parser: the connection is
    closed, and the server keeps serving."""
    io, port = await serve(parser=MsgpackParser())
    async with await HttpConnection.open(port) as conn:
        opened = await conn.request("GET", "/socket.io/?EIO=4&transport=polling")
        sid = json.loads(opened.body[1:])["sid"]
        url = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
        assert (await conn.request("POST", url, body="40")).status == 200
        response = await conn.request("GET", url)
        assert response.body == b"1"  # Engine.IO close
    assert io.namespaces["/"].sockets == {}


# ------------------------------------------------------- the Node server against Python
@pytest.fixture
async def node_msgpack_server(node_server: Callable[..., Awaitable[Any]]) -> Any:
    """A socket.io 4.8 server with the msgpack parser (the fixture of conftest.py)."""
    return await node_server(script=SERVER_JS)


class Polling:
    """A raw Engine.IO long-polling session that carries binary messages only."""

    def __init__(self, conn: HttpConnection, sid: str) -> None:
        self.conn = conn
        self.url = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
        self.inbox: list[bytes] = []

    @classmethod
    async def open(cls, conn: HttpConnection) -> Polling:
        response = await conn.request("GET", "/socket.io/?EIO=4&transport=polling")
        assert response.body[:1] == b"0", response.body
        return cls(conn, json.loads(response.body[1:])["sid"])

    async def send(self, message: bytes) -> None:
        body = "b" + base64.b64encode(message).decode()
        response = await self.conn.request("POST", self.url, body=body)
        assert response.status == 200 and response.body == b"ok", response

    async def receive(self) -> bytes:
        while not self.inbox:
            response = await self.conn.request("GET", self.url)
            for packet in response.body.decode().split("\x1e"):
                assert packet.startswith("b"), f"expected a binary message, got {packet!r}"
                self.inbox.append(base64.b64decode(packet[1:]))
        return self.inbox.pop(0)


async def test_node_server_bytes_are_ours(node_msgpack_server: Any) -> None:
    """socket.io 4.8 with the msgpack parser writes exactly the bytes MsgpackParser writes
    for the same packets, and decodes what we send to the JavaScript values it should."""
    parser = MsgpackParser()
    decoder = parser.decoder()
    async with await HttpConnection.open(node_msgpack_server.port) as conn:
        session = await Polling.open(conn)
        [connect_packet] = parser.encode(CONNECT, "/", None)
        assert isinstance(connect_packet, bytes)
        await session.send(connect_packet)

        # CONNECT: {type, data: {sid, pid: undefined}, nsp}, byte for byte (undefined is the
        # fixext 1 of type 0, read as None; Python has no undefined to write)
        raw = await session.receive()
        connected = decoder.decode_binary(raw)
        assert connected is not None and connected.type == CONNECT
        sid = connected.data["sid"]
        assert connected.data == {"sid": sid, "pid": None}
        ours = parser.encode(CONNECT, "/", {"sid": sid, "pid": None})[0]
        assert isinstance(ours, bytes) and ours.count(b"\xa3pid\xc0") == 1
        assert raw == ours.replace(b"\xa3pid\xc0", b"\xa3pid\xd4\x00\x00")

        # an EVENT with an int, a string, a Buffer, a float, null, a Date
        raw = await session.receive()
        welcome = [
            "welcome",
            1,
            "two",
            b"\x03",
            {"four": 4.5, "five": [None, True]},
            dt.datetime(2020, 1, 1, tzinfo=UTC),
        ]
        assert raw == parser.encode(EVENT, "/", welcome)[0]
        assert decoder.decode_binary(raw) == Packet(EVENT, "/", welcome)

        # Python values as Node sees them (an ACK: {id, type, data, nsp} in Node's key order)
        values = [
            1,
            2.0,  # float 64: the JavaScript number 2
            2**40,
            -(2**40),
            0.1,
            "é€😀",
            b"",
            pattern(300),
            {"k": None, "n": [True, False]},
            dt.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
            dt.datetime(2030, 1, 1),  # naive: taken as UTC
        ]
        [message] = parser.encode(EVENT, "/", ["describe", *values], 7)
        assert isinstance(message, bytes)
        await session.send(message)
        ack = decoder.decode_binary(await session.receive())
        assert ack is not None and (ack.type, ack.id) == (ACK, 7)
        expected = described([*values[:-1], dt.datetime(2030, 1, 1, tzinfo=UTC)])
        assert ack.data == [expected]

        # echo: Node decodes and re-encodes; the values come back as they left
        [message] = parser.encode(EVENT, "/", ["echo", *values[:-1]], 8)
        assert isinstance(message, bytes)
        await session.send(message)
        echoed = decoder.decode_binary(await session.receive())
        assert echoed == Packet(ACK, "/", values[:-1], 8)


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
async def test_our_client_with_a_node_msgpack_server(
    node_msgpack_server: Any, transports: list[str]
) -> None:
    options: dict[str, Any] = {
        "parser": MsgpackParser(),
        "transports": transports,
        "reconnection": False,
        "force_new": True,
    }
    welcomes: list[tuple[Any, ...]] = []
    sock = io(node_msgpack_server.url, **options)  # connects in the background
    sock.on("question", lambda q: (q, b"\x09", dt.datetime(2000, 1, 1, tzinfo=UTC)))
    sock.on("welcome", lambda *args: welcomes.append(args))
    try:
        await sock.wait_connected(5)
        values = (1, 1.5, "x", b"\x00\x01", None, {"d": dt.datetime(2001, 2, 3, tzinfo=UTC)})
        assert await sock.emit_with_ack("echo", *values, timeout=3) == values
        assert await sock.emit_with_ack("ask-me", "why", timeout=3) == [
            "why",
            {"$buffer": "09"},
            {"$date": ms(dt.datetime(2000, 1, 1, tzinfo=UTC))},
        ]
        for _ in range(100):
            if welcomes:
                break
            await asyncio.sleep(0.01)
        assert welcomes == [
            (
                1,
                "two",
                b"\x03",
                {"four": 4.5, "five": [None, True]},
                dt.datetime(2020, 1, 1, tzinfo=UTC),
            )
        ]
    finally:
        await sock.disconnect()

    refused = None
    try:
        await connect(node_msgpack_server.url + "/private", wait_timeout=5, **options)
    except ConnectionRefused as exc:
        refused = exc
    assert refused is not None
    assert refused.message == "not authorized"
    assert refused.data == {"code": 42}
