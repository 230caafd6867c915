"""Engine.IO v3 / Socket.IO protocol v4 byte for byte: the same raw exchanges against
aiosocketio's server (``allow_eio3=True``) and socket.io 4.8 with ``allowEIO3: true``
(``node_server/eio3_server.js``), compared after the session id is replaced by ``SID``.

Every step writes what a v3 client writes (socket.io-client 2.x: length-prefixed polling
payloads, binary payloads, base64, client pings, the upgrade) and records what the server
answered: status, Content-Type and body on long-polling, frames on WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import ConnectionRefused, Server, Socket
from aiosocketio.engineio import payload_v3
from aiosocketio.errors import ProtocolError
from aiosocketio.socketio.packets_v4 import split_namespace
from helpers import HttpConnection, Response, WsConnection, WsRejected
from sioclient import until

pytestmark = pytest.mark.interop

ServerFactory = Callable[..., Awaitable[tuple[Server, int]]]
StartASGI = Callable[[Any], Awaitable[int]]
StartNode = Callable[..., Awaitable[Any]]

EIO3_JS = Path(__file__).resolve().parent / "node_server" / "eio3_server.js"
PATH = "/socket.io/"
# heartbeat (ms): long enough for any transcript; short for the one that waits for a timeout
SLOW = (5000, 4000)
FAST = (300, 200)
Record = list[Any]


# ---------------------------------------------------------------------- the two servers
def python_app(io: Server) -> list[dict[str, str]]:
    """The handlers of eio3_server.js; returns the disconnections it will see."""
    disconnects: list[dict[str, str]] = []

    def attach(socket: Socket) -> None:
        socket.on(
            "disconnect",
            lambda reason: disconnects.append(
                {"disconnect": socket.id, "nsp": socket.nsp.name, "reason": reason}
            ),
        )
        socket.on("echo", lambda *args: args)
        socket.on("emit-back", lambda *args: socket.emit("echo", *args))
        socket.on("bin", lambda data: (bytes(reversed(data)), {"nested": [b"\x01\x02\x03"]}))
        socket.on(
            "info",
            lambda: {
                "id": socket.id,
                "nsp": socket.nsp.name,
                "auth": socket.handshake.auth,
                "query": {
                    "q": socket.handshake.query.get("q"),
                    "EIO": socket.handshake.query.get("EIO"),
                },
                "protocol": socket.conn.protocol,
            },
        )

        def ask(question: Any, ack: Any) -> None:
            socket.emit("question", question, callback=lambda answer: ack({"answer": answer}))

        socket.on("ask", ask)

        def join(room: str) -> str:
            socket.join(room)
            return room

        socket.on("join", join)
        socket.on("broadcast", lambda room, *args: io.of(socket.nsp.name).to(room).emit(*args))
        socket.on("disconnect-me", lambda: socket.disconnect())
        socket.on("close-me", lambda: socket.disconnect(True))

    def refuse_main(socket: Socket) -> None:
        if socket.handshake.query.get("refuse") == "main":
            raise ConnectionRefused("refused main")

    io.use(refuse_main)
    io.on("connection", attach)
    io.of("/chat").on("connection", attach)

    admin = io.of("/admin")

    def check_token(socket: Socket) -> None:
        if socket.handshake.auth.get("token") != "secret":
            raise ConnectionRefused("not authorized", {"code": 401})

    admin.use(check_token)
    admin.on("connection", attach)

    def no_entry(socket: Socket) -> None:
        raise ConnectionRefused("no entry")

    io.of("/plain").use(no_entry)
    return disconnects


FRONT_DOORS = ["standalone", "asgi"]


@pytest.fixture(params=FRONT_DOORS)
def ours(
    request: pytest.FixtureRequest, serve: ServerFactory, uvicorn_server: StartASGI
) -> ServerFactory:
    """Our server behind each front door: ``io, port = await ours(**options)``."""
    if request.param == "standalone":
        return serve

    async def start(**options: Any) -> tuple[Server, int]:
        io = Server(**options)
        return io, await uvicorn_server(io.asgi_app())

    return start


async def both_ports(ours: ServerFactory, node_server: StartNode) -> dict[str, int]:
    ports, _ = await both_servers(ours, node_server, SLOW)
    return ports


async def both_servers(
    serve: ServerFactory, node_server: StartNode, heartbeat: tuple[int, int]
) -> tuple[dict[str, int], dict[str, Callable[[int], Awaitable[list[dict[str, str]]]]]]:
    """The ports of both servers, and for each a function that waits for that many
    disconnections and returns them."""
    interval, timeout = heartbeat
    io, port = await serve(
        allow_eio3=True, ping_interval=interval / 1000, ping_timeout=timeout / 1000
    )
    ours = python_app(io)
    node = await node_server(script=EIO3_JS, pingInterval=interval, pingTimeout=timeout)
    theirs: list[dict[str, str]] = []

    async def python_disconnects(count: int) -> list[dict[str, str]]:
        await until(lambda: len(ours) >= count, 5.0)
        return ours

    async def node_disconnects(count: int) -> list[dict[str, str]]:
        while len(theirs) < count:
            line = await asyncio.wait_for(node.proc.stdout.readline(), 5)
            theirs.append(json.loads(line))
        return theirs

    return {"python": port, "node": node.port}, {
        "python": python_disconnects,
        "node": node_disconnects,
    }


def normalised(record: Record, sid: str) -> Record:
    out: Record = []
    for item in record:
        if isinstance(item, str):
            out.append(item.replace(sid, "SID"))
        elif isinstance(item, bytes):
            out.append(item.replace(sid.encode(), b"SID"))
        elif isinstance(item, list):
            out.append(normalised(item, sid))
        else:
            out.append(item)
    return out


def sid_of(open_body: str | bytes) -> str:
    text = open_body if isinstance(open_body, str) else open_body.decode()
    match = re.search(r'"sid":"([^"]+)"', text)
    assert match, text
    return match.group(1)


# ---------------------------------------------------------------------- v3 long-polling
def length_prefixed(*packets: str) -> str:
    return payload_v3.encode_payload_text(list(packets))


class Polling:
    """A v3 long-polling client: one keep-alive connection for GETs, one for POSTs."""

    def __init__(self, port: int, query: str) -> None:
        self.port = port
        self.query = query
        self.sid = ""
        self.record: Record = []
        self.gets: HttpConnection | None = None
        self.posts: HttpConnection | None = None

    def url(self) -> str:
        return f"{PATH}?EIO=3&transport=polling{self.query}&sid={self.sid}"

    async def open(self) -> None:
        self.gets = await HttpConnection.open(self.port)
        self.posts = await HttpConnection.open(self.port)
        response = await self.gets.request("GET", f"{PATH}?EIO=3&transport=polling{self.query}")
        self.note("open", response)
        self.sid = sid_of(response.body)

    def note(self, what: str, response: Response) -> None:
        body: str | bytes = response.body
        if not response.headers.get("content-type", "").startswith("application/octet-stream"):
            body = response.body.decode()
        self.record.append([what, response.status, response.headers.get("content-type"), body])

    async def get(self, what: str = "get") -> None:
        assert self.gets is not None
        self.note(what, await self.gets.request("GET", self.url()))

    async def post(self, body: str | bytes, what: str = "post", binary: bool = False) -> None:
        assert self.posts is not None
        headers = {"Content-Type": "application/octet-stream" if binary else "text/plain"}
        response = await self.posts.request("POST", self.url(), body=body, headers=headers)
        self.note(what, response)

    async def close(self) -> None:
        for conn in (self.gets, self.posts):
            if conn is not None:
                await conn.close()


# (what, packets the client posts): each answered by the next GET
POLLING_STEPS: list[tuple[str, list[str]]] = [
    ("event with ack", ['421["echo",1,"é",{"a":null}]']),
    ("client ping", ["2"]),
    ("ping with data", ["2probe"]),
    ("namespace with query", ["40/chat?token=abc&q=2,"]),
    ("its handshake", ['42/chat,3["info"]']),
    ("main namespace handshake", ['424["info"]']),
    ("middleware refusal", ["40/admin?token=bad,"]),
    ("refusal without data", ["40/plain,"]),
    ("unknown namespace", ["40/nope,"]),
    ("accepted", ["40/admin?token=secret,"]),
    ("binary event as base64", ['451-5["bin",{"_placeholder":true,"num":0}]', "b4AQID"]),
]


async def polling_transcript(port: int, query: str = "&q=1") -> Record:
    client = Polling(port, query)
    await client.open()
    try:
        await client.get("main namespace connected")
        for what, packets in POLLING_STEPS:
            await client.post(length_prefixed(*packets), what)
            await client.get()
        binary = payload_v3.encode_payload_binary(
            ['451-6["bin",{"_placeholder":true,"num":0}]', b"\x00\xff\x10"]
        )
        await client.post(binary, "binary payload", binary=True)
        await client.get("binary ack")
        await client.post(length_prefixed('42["join","r"]'), "join")
        event = '451-["broadcast","r","b",{"_placeholder":true,"num":0},"😀"]'
        await client.post(length_prefixed(event, "b4/w=="), "binary broadcast")
        await client.get("binary broadcast as a binary payload")
        await client.post(length_prefixed('42["emit-back","😀é",[1,"x"]]'), "astral")
        await client.get("lengths in UTF-16 units")
        await client.post(length_prefixed('427["ask","why?"]'), "server asks")
        await client.get("question with ack id")
        await client.post(length_prefixed('430["because"]'), "client answers")
        await client.get("answer acknowledged")
        await client.post(length_prefixed('42/chat,["disconnect-me"]'), "server disconnects")
        await client.get()
        await client.post(length_prefixed("41/admin,"), "client disconnects a namespace")
        await client.post(length_prefixed('428["echo"]', '429["echo",2]'), "two packets")
        await client.get()
        await client.post(length_prefixed("1"), "client closes")
        await client.get("after close")
    finally:
        await client.close()
    return normalised(client.record, client.sid)


async def polling_b64_transcript(port: int) -> Record:
    """A client that asked for base64 (``b64=1``, socket.io-client 2.x in Node)."""
    client = Polling(port, "&b64=1")
    await client.open()
    try:
        await client.get("main namespace connected")
        await client.post(
            length_prefixed('451-1["bin",{"_placeholder":true,"num":0}]', "b4AQID"), "binary"
        )
        await client.get("binary ack as base64")
        await client.post(length_prefixed('42["join","r"]'), "join")
        await client.post(
            length_prefixed('451-["broadcast","r","b",{"_placeholder":true,"num":0}]', "b4/w=="),
            "binary broadcast",
        )
        await client.get("binary broadcast as base64")
        await client.post(length_prefixed('42["close-me"]'), "server closes")
        await client.get("disconnect")
        await client.get("close")
    finally:
        await client.close()
    return normalised(client.record, client.sid)


# ---------------------------------------------------------------------- v3 WebSocket
class WebSocket:
    def __init__(self, port: int) -> None:
        self.port = port
        self.ws: WsConnection | None = None
        self.record: Record = []

    async def open(self, target: str) -> str:
        """Open the WebSocket; without a sid in ``target``, read the open packet and the
        main namespace's CONNECT, and return the sid."""
        self.ws = await WsConnection.open(self.port, target)
        if "sid=" in target:
            return ""
        await self.exchange("open")
        await self.exchange("main namespace connected")
        return sid_of(self.record[0][1])

    async def exchange(self, what: str, *sent: str | bytes, count: int = 1) -> None:
        """Send frames (text for ``str``, binary for ``bytes``), record the next ``count``."""
        ws = self.ws
        assert ws is not None
        for data in sent:
            if isinstance(data, str):
                ws.send_text(data)
            else:
                ws.send_bytes(data)
        if count:
            self.record.append([what, *[await ws.recv() for _ in range(count)]])

    async def closed(self, what: str) -> None:
        """The server's close frame (its code is not recorded: an ASGI server cannot send
        1005, "no status", which Node and the standalone server send)."""
        assert self.ws is not None
        await self.ws.expect_close()
        self.record.append([what])
        self.ws.abort()


BIN = '451-{}["bin",{{"_placeholder":true,"num":0}}]'
# (what, frames the client sends, frames it receives)
WEBSOCKET_STEPS: list[tuple[str, list[str | bytes], int]] = [
    ("pong", ["2"], 1),
    ("pong to a ping with data", ["2probe"], 1),
    ("ack", ['421["echo",1,"😀"]'], 1),
    ("namespace connected", ["40/chat?token=t,"], 1),
    ("handshake", ['42/chat,2["info"]'], 1),
    ("binary ack", [BIN.format(3), b"\x04\x01\x02\x03"], 3),
    ("binary ack to base64", [BIN.format(4), "b4BAU="], 3),
    ("broadcast", ['42["join","r"]', '42["broadcast","r","news",{"b":"\\u00e9"},"x"]'], 1),
    (
        "binary broadcast",
        ['451-["broadcast","r","bnews",{"_placeholder":true,"num":0},1]', b"\x04\xfe\xff"],
        2,
    ),
    ("server asks", ['427["ask","why?"]'], 1),
    ("binary answer, binary ack", ['461-0[{"_placeholder":true,"num":0}]', b"\x04\x05"], 2),
    ("namespace disconnected", ['42/chat,["disconnect-me"]'], 1),
    ("disconnect", ['42["close-me"]'], 1),
]


async def websocket_transcript(port: int) -> Record:
    client = WebSocket(port)
    sid = await client.open(f"{PATH}?EIO=3&transport=websocket")
    for what, sent, count in WEBSOCKET_STEPS:
        await client.exchange(what, *sent, count=count)
    await client.closed("closed")
    return normalised(client.record, sid)


async def websocket_b64_transcript(port: int) -> Record:
    client = WebSocket(port)
    sid = await client.open(f"{PATH}?EIO=3&transport=websocket&b64=1")
    await client.exchange("binary as base64 text", BIN.format(1), "b4AQID", count=3)
    if client.ws is not None:
        client.ws.abort()
    return normalised(client.record, sid)


async def upgrade_transcript(port: int) -> Record:
    polling = Polling(port, "")
    await polling.open()
    await polling.get("main namespace connected")
    await polling.post(length_prefixed('42["join","r"]'), "join")
    pending = asyncio.ensure_future(polling.get("pending GET during the upgrade"))
    ws = WebSocket(port)
    await ws.open(f"{PATH}?EIO=3&transport=websocket&sid={polling.sid}")
    await ws.exchange("probe answered", "2probe")
    await pending
    await ws.exchange("upgraded", "5", count=0)
    await ws.exchange("ack", '421["echo","over websocket"]')
    await ws.exchange("binary", BIN.format(2), b"\x04\x09", count=3)
    await ws.exchange("broadcast", '42["broadcast","r","news","x"]')
    await polling.post(length_prefixed("2"), "polling after the upgrade")
    await ws.exchange("disconnect", '42["close-me"]')
    await ws.closed("closed")
    await polling.close()
    return normalised(polling.record + ws.record, polling.sid)


async def refusals_transcript(port: int) -> Record:
    record: Record = []
    async with await HttpConnection.open(port) as conn:
        # the main namespace's middleware refuses: an error packet with the message
        response = await conn.request("GET", f"{PATH}?EIO=3&transport=polling&refuse=main")
        sid = sid_of(response.body)
        response = await conn.request("GET", f"{PATH}?EIO=3&transport=polling&sid={sid}")
        record.append(["main refused", response.status, response.body.decode()])
        # a v3 session spoken to as v4 (and the reverse): 400 Bad request
        response = await conn.request("GET", f"{PATH}?EIO=4&transport=polling&sid={sid}")
        record.append(["v4 request, v3 session", response.status, response.body.decode()])
        response = await conn.request("GET", f"{PATH}?EIO=4&transport=polling")
        v4 = sid_of(response.body)
        response = await conn.request("GET", f"{PATH}?EIO=3&transport=polling&sid={v4}")
        record.append(["v3 request, v4 session", response.status, response.body.decode()])
        # as Node: any EIO but 4 is v3 (a missing one too)
        response = await conn.request("GET", f"{PATH}?transport=polling")
        record.append(
            [
                "no EIO",
                response.status,
                response.body.decode().replace(sid_of(response.body), "SID"),
            ]
        )
    # (the body of a refused WebSocket is not compared: Node writes the bare message as
    # text/html, aiosocketio the JSON of its polling errors, for v4 clients as well)
    with pytest.raises(WsRejected) as refused:
        await WsConnection.open(port, f"{PATH}?EIO=4&transport=websocket&sid={sid}")
    record.append(["v4 upgrade of a v3 session", refused.value.response.status])
    return normalised(record, sid)


TRANSCRIPTS = {
    "polling": polling_transcript,
    "polling-b64": polling_b64_transcript,
    "websocket": websocket_transcript,
    "websocket-b64": websocket_b64_transcript,
    "upgrade": upgrade_transcript,
    "refusals": refusals_transcript,
}


@pytest.mark.parametrize("name", list(TRANSCRIPTS))
async def test_the_same_bytes_as_node(
    ours: ServerFactory, node_server: StartNode, name: str
) -> None:
    ports = await both_ports(ours, node_server)
    transcript = TRANSCRIPTS[name]
    node = await transcript(ports["node"])
    ours = await transcript(ports["python"])
    assert ours == node, json.dumps({"ours": ours, "node": node}, indent=1, default=repr)


# ---------------------------------------------------------------------- disconnect reasons
async def ws_session(port: int, query: str = "") -> tuple[WsConnection, str]:
    ws = await WsConnection.open(port, f"{PATH}?EIO=3&transport=websocket{query}")
    sid = sid_of(await ws.recv())
    assert await ws.recv() == "40"
    return ws, sid


# (how a WebSocket session ends: the frames its client sends, then it waits for the close)
WEBSOCKET_ENDINGS: list[tuple[str, list[str]]] = [
    ("pong from the client", ["3"]),
    ("/chat left, then closed by the server", ["41/chat,", '42["close-me"]']),
    ("no ping", []),  # pingInterval + pingTimeout later
    ("invalid Socket.IO packet", ['42["x"']),
    ("unknown packet type", ["9"]),
]


async def reasons_transcript(port: int) -> list[tuple[str, str]]:
    """Sessions that end in each way a session ends; returns (sid, how) in order."""
    ended: list[tuple[str, str]] = []
    ws, sid = await ws_session(port)
    await ws.close()
    ended.append((sid, "WebSocket closed"))
    ws, sid = await ws_session(port)
    ws.abort()
    ended.append((sid, "connection dropped"))
    for how, frames in WEBSOCKET_ENDINGS:
        ws, sid = await ws_session(port)
        if "/chat" in how:
            ws.send_text("40/chat,")
            assert await ws.recv() == "40/chat,"
        for frame in frames:
            ws.send_text(frame)
        await ws.expect_close()
        ws.abort()
        ended.append((sid, how))
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", f"{PATH}?EIO=3&transport=polling")
        sid = sid_of(response.body)
        await conn.request("GET", f"{PATH}?EIO=3&transport=polling&sid={sid}")
        await conn.request("POST", f"{PATH}?EIO=3&transport=polling&sid={sid}", body="1:1")
        ended.append((sid, "close packet on long-polling"))
    for body, how in (("5:40", "length beyond the payload"), ("1:3", "pong on long-polling")):
        async with await HttpConnection.open(port) as conn:
            response = await conn.request("GET", f"{PATH}?EIO=3&transport=polling")
            sid = sid_of(response.body)
            await conn.request("GET", f"{PATH}?EIO=3&transport=polling&sid={sid}")
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                # Node drops the connection of a POST whose payload it refuses
                await conn.request("POST", f"{PATH}?EIO=3&transport=polling&sid={sid}", body=body)
            ended.append((sid, how))
    return ended


async def test_the_same_disconnect_reasons_as_node(
    ours: ServerFactory, node_server: StartNode
) -> None:
    ports, disconnects = await both_servers(ours, node_server, FAST)
    seen = {}
    for side in ("node", "python"):
        ended = await reasons_transcript(ports[side])
        found = await disconnects[side](len(ended) + 1)
        by_sid = {sid: how for sid, how in ended}
        seen[side] = sorted(
            (by_sid[d["disconnect"].rpartition("#")[2]], d["nsp"], d["reason"]) for d in found
        )
    assert seen["python"] == seen["node"]


# ---------------------------------------------------------------------- namespaces as URLs
TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")


async def test_namespaces_read_as_node_reads_them(node: str) -> None:
    """Random namespaces with what makes URL parsing interesting, through ``new URL()``."""
    rng = random.Random(14)
    pieces = ["/", "a", "b", ".", "..", "%2e", "%41", "?", "&", "=", "#", "\\", " ", "\t",
              "é", "😀", "<", "`", "{", "|", ":", "@", "+", "%zz", "x=1", "\ufffd", "\x00",
              "~"]  # fmt: skip
    names = ["/" + "".join(rng.choices(pieces, k=rng.randint(0, 8))) for _ in range(2000)]
    script = Path(__file__).resolve().parent / "node_server" / "url_paths.js"
    proc = await asyncio.create_subprocess_exec(
        node, str(script), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(proc.communicate(json.dumps(names).encode()), 20)
    expected = json.loads(stdout)
    for name, node_says in zip(names, expected, strict=True):
        try:
            ours: Any = list(split_namespace(name))
        except ProtocolError:
            # the one difference: a host (``//host/path``) that is not plain ASCII is refused
            # where Node would turn it into punycode
            if name.replace("\\", "/").translate(TAB_OR_NEWLINE).startswith("//"):
                continue
            ours = None
        assert ours == node_says, name
