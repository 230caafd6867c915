"""Socket.IO protocol v4 clients (socket.io-client 2.x, ``allow_eio3``) on the server:
the main namespace connected implicitly, namespace queries, middleware refusals, socket ids,
and broadcasts that reach v3 and v4 clients alike, encoded once per protocol."""

from __future__ import annotations

from typing import Any

import pytest

from aiosocketio import ConnectionRefused, Socket
from aiosocketio.engine import socket_v3
from aiosocketio.engine.socket import Outgoing
from aiosocketio.engineio.payload_v3 import encode_payload_binary
from aiosocketio.socketio import packets
from aiosocketio.transport.ws_protocol import WebSocketProtocol
from helpers import HttpConnection, WsConnection, open_packet
from sioclient import SioServer, until

PATH = "/socket.io/"


async def v3_ws(srv: SioServer, query: str = "") -> tuple[WsConnection, str]:
    """A raw v3 WebSocket client, connected to the main namespace: ``(ws, sid)``."""
    ws = await WsConnection.open(srv.port, f"{PATH}?EIO=3&transport=websocket{query}")
    sid = open_packet(await ws.recv())["sid"]
    assert await ws.recv() == "40"
    return ws, sid


# ---------------------------------------------------------------------- namespaces
async def test_the_main_namespace_is_joined_without_a_connect() -> None:
    async with SioServer(allow_eio3=True) as srv:
        connected: list[Socket] = []
        srv.io.on("connection", connected.append)
        ws, sid = await v3_ws(srv, "&token=t")
        async with ws:
            await until(lambda: bool(connected))
            socket = connected[0]
            assert socket.id == sid  # as Node: the session's id, for v3 clients
            assert socket.conn.protocol == 3
            assert socket.handshake.auth == {}
            assert socket.handshake.query["token"] == "t"


async def test_a_namespace_query_is_the_auth() -> None:
    async with SioServer(allow_eio3=True) as srv:
        connected: list[Socket] = []
        srv.io.of("/chat").on("connection", connected.append)
        ws, sid = await v3_ws(srv, "&q=1")
        async with ws:
            ws.send_text("40/chat?token=abc&x=1&x=2,")
            assert await ws.recv() == "40/chat,"
            socket = connected[0]
            assert socket.id == f"/chat#{sid}"
            assert socket.handshake.auth == {"token": "abc", "x": "2"}
            assert socket.handshake.query["q"] == "1"
            assert srv.io.of("/chat").sockets[socket.id] is socket


async def test_middleware_sees_the_query_and_refuses_as_node() -> None:
    async with SioServer(allow_eio3=True) as srv:
        admin = srv.io.of("/admin")

        def check(socket: Socket) -> None:
            token = socket.handshake.auth.get("token")
            if token == "none":
                raise ConnectionRefused("no data")
            if token != "secret":
                raise ConnectionRefused("not authorized", {"code": 401})

        admin.use(check)
        admin.use(lambda socket: False if socket.handshake.auth.get("token") == "x" else None)
        ws, _ = await v3_ws(srv)
        async with ws:
            ws.send_text("40/admin?token=bad,")
            assert await ws.recv() == '44/admin,{"code":401}'
            ws.send_text("40/admin?token=none,")
            assert await ws.recv() == '44/admin,"no data"'
            ws.send_text("40/admin?token=secret,")
            assert await ws.recv() == "40/admin,"


async def test_a_refused_main_namespace_gets_the_message() -> None:
    async with SioServer(allow_eio3=True) as srv:
        srv.io.use(lambda socket: False)
        ws = await WsConnection.open(srv.port, f"{PATH}?EIO=3&transport=websocket")
        async with ws:
            open_packet(await ws.recv())
            assert await ws.recv() == '44"Connection rejected by server"'


async def test_v4_clients_get_v5_packets_on_the_same_server() -> None:
    async with SioServer(allow_eio3=True) as srv:
        client, sid = await srv.connected("/")
        assert sid != client.open["sid"]  # v5: the socket's id is not the session's
        assert client.last_connect == {"sid": sid}


# ---------------------------------------------------------------------- broadcasts
@pytest.fixture
def frames(monkeypatch: pytest.MonkeyPatch) -> list[tuple[WebSocketProtocol, Outgoing]]:
    """Every broadcast written to a WebSocket of the standalone server, with its object."""
    written: list[tuple[WebSocketProtocol, Outgoing]] = []
    original = WebSocketProtocol.send_outgoing

    def spy(self: WebSocketProtocol, out: Outgoing) -> None:
        written.append((self, out))
        original(self, out)

    monkeypatch.setattr(WebSocketProtocol, "send_outgoing", spy)
    return written


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every Socket.IO encoding and every reframing of a broadcast for v3 WebSockets."""
    made: list[Any] = []
    encode, framed = packets.encode, socket_v3._framed_v3

    def spy_encode(*args: Any) -> Any:
        made.append("encode")
        return encode(*args)

    def spy_framed(out: Outgoing, base64: bool) -> Outgoing:
        result = framed(out, base64)
        if result is not out and result not in made:
            made.append(result)
        return result

    monkeypatch.setattr("aiosocketio.socketio.parser.JSONParser.encode", staticmethod(spy_encode))
    monkeypatch.setattr(socket_v3, "_framed_v3", spy_framed)
    return made


@pytest.mark.parametrize(
    ("args", "v3_frames"),
    [
        (("text", 1), ['42["news","text",1]']),
        (
            ("bin", b"\x01\x02"),
            ['451-["news","bin",{"_placeholder":true,"num":0}]', b"\x04\x01\x02"],
        ),
    ],
)
async def test_a_broadcast_reaches_both_protocols_encoded_once_per_protocol(
    frames: list[tuple[WebSocketProtocol, Outgoing]],
    encodes: list[Any],
    args: tuple[Any, ...],
    v3_frames: list[str | bytes],
) -> None:
    async with SioServer(allow_eio3=True) as srv:
        v4 = [(await srv.connected())[0] for _ in range(3)]
        v3 = [(await v3_ws(srv))[0] for _ in range(3)]
        polling = await HttpConnection.open(srv.port)
        response = await polling.request("GET", f"{PATH}?EIO=3&transport=polling")
        sid = open_packet(response.text.partition(":")[2])["sid"]
        url = f"{PATH}?EIO=3&transport=polling&sid={sid}"
        assert (await polling.request("GET", url)).text == "2:40"
        await until(lambda: len(srv.io.sockets.sockets) == 7)
        encodes.clear()
        srv.io.emit("news", *args)
        binary = isinstance(args[1], bytes)
        # one Socket.IO encoding; for binary, one more framing (shared by every v3 WebSocket)
        assert encodes == ["encode"] + ([encodes[1]] if binary else [])
        by_conn = {id(conn): out for conn, out in frames}
        assert len(by_conn) == 6
        assert len({id(out) for out in by_conn.values()}) == (2 if binary else 1)
        for ws in v3:
            async with ws:
                assert [await ws.recv() for _ in v3_frames] == v3_frames
        for client in v4:
            event = await client.next_event()
            assert event[1:] == ("news", list(args))
        response = await polling.request("GET", url)
        if binary:
            assert response.body == encode_payload_binary([v3_frames[0], b"\x01\x02"])
        else:
            assert response.text == '19:42["news","text",1]'
        await polling.close()


async def test_a_broadcast_to_a_room_mixes_both_protocols() -> None:
    async with SioServer(allow_eio3=True) as srv:
        v4, v4_sid = await srv.connected()
        ws, v3_sid = await v3_ws(srv)
        async with ws:
            for sid in (v4_sid, v3_sid):
                srv.io.sockets.sockets[sid].join("room")
            srv.io.to("room").emit("hi", {"x": b"\x09"})
            assert await ws.recv() == '451-["hi",{"x":{"_placeholder":true,"num":0}}]'
            assert await ws.recv() == b"\x04\x09"
            assert (await v4.next_event())[1:] == ("hi", [{"x": b"\x09"}])


async def test_acks_both_ways_with_a_v3_client() -> None:
    async with SioServer(allow_eio3=True) as srv:
        answers: list[Any] = []

        def on_connection(socket: Socket) -> None:
            socket.on("add", lambda a, b: a + b)
            socket.emit("question", b"\x01", callback=lambda *args: answers.append(args))

        srv.io.on("connection", on_connection)
        ws, _ = await v3_ws(srv)
        async with ws:
            assert await ws.recv() == '451-0["question",{"_placeholder":true,"num":0}]'
            assert await ws.recv() == b"\x04\x01"
            ws.send_text('461-0[{"_placeholder":true,"num":0}]')
            ws.send_bytes(b"\x04\xff")
            ws.send_text('425["add",1,2]')
            assert await ws.recv() == "435[3]"
            await until(lambda: bool(answers))
            assert answers == [(b"\xff",)]


async def test_a_v3_socket_reaches_its_own_room_by_id() -> None:
    async with SioServer(allow_eio3=True) as srv:
        ws, sid = await v3_ws(srv)
        async with ws:
            srv.io.to(sid).emit("direct")
            assert await ws.recv() == '42["direct"]'
