"""The standalone server: HTTP/1.1 details, limits, WebSocket framing, lifecycle (what it does
as the ASGI application does is in tests/test_front_doors.py and tests/engine/)."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from aiosocketio.engine.socket import Outgoing
from aiosocketio.transport import StandaloneServer
from aiosocketio.transport.ws_protocol import WebSocketProtocol
from aiosocketio.ws.frames import (
    BINARY,
    PING,
    PONG,
    FrameParser,
    encode_frame,
    text_frame,
)
from aiosocketio.ws.handshake import build_request
from helpers import (
    CLOSE,
    EIO,
    TEXT,
    HttpConnection,
    WsConnection,
    assert_serves,
    eio_open,
    http_request,
    open_packet,
    poll_url,
    ws_url,
)
from servers import EchoEngine, free_port

ROOT = Path(__file__).resolve().parents[2]
HANDSHAKE = f"{EIO}?EIO=4&transport=polling"


# ---------------------------------------------------------------------- HTTP/1.1
async def test_keep_alive(standalone, echo):
    port = await standalone(echo())
    async with await HttpConnection.open(port) as conn:
        sids = set()
        for _ in range(5):
            response = await conn.request("GET", HANDSHAKE)
            assert response.headers["connection"] == "keep-alive"
            sids.add(open_packet(response.body)["sid"])
        assert len(sids) == 5


async def test_pipelined_requests_are_answered_in_order(standalone, echo):
    port = await standalone(echo())
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        conn.send_raw(
            b"".join(
                f"POST {poll_url(sid)} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(m)}\r\n\r\n"
                f"{m}".encode()
                for m in ("4a", "4b", "4c")
            )
            + f"GET {poll_url(sid)} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            + b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert [(await conn.read_response()).body for _ in range(3)] == [b"ok"] * 3
        assert (await conn.read_response()).packets == ["4a", "4b", "4c"]
        assert (await conn.read_response()).status == 404


async def test_pending_get_blocks_later_requests_on_its_connection(standalone, echo):
    port = await standalone(echo(ping_interval=0.3, ping_timeout=1.0))
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        conn.send_request("GET", poll_url(sid))
        conn.send_request("POST", poll_url(sid), body="3")  # waits behind the GET
        first = await conn.read_response()
        assert first.text == "2"  # released by the server's ping, not by the POST
        assert (await conn.read_response()).body == b"ok"


async def test_many_pipelined_requests(standalone, echo):
    port = await standalone(echo())
    async with await HttpConnection.open(port) as conn:
        conn.send_raw(f"GET {HANDSHAKE} HTTP/1.1\r\nHost: x\r\n\r\n".encode() * 40)
        sids = {open_packet((await conn.read_response()).body)["sid"] for _ in range(40)}
        assert len(sids) == 40


async def test_connection_close_is_honoured(standalone, echo):
    port = await standalone(echo())
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", HANDSHAKE, headers={"Connection": "close"})
        assert response.status == 200
        assert response.headers["connection"] == "close"
        assert await conn.at_eof()


async def test_http_1_0(standalone, echo):
    port = await standalone(echo())
    async with await HttpConnection.open(port) as conn:
        conn.send_raw(f"GET {HANDSHAKE} HTTP/1.0\r\n\r\n".encode())
        response = await conn.read_response()
        assert response.status == 200
        assert response.headers["connection"] == "close"
        assert await conn.at_eof()


async def test_chunked_body(standalone, echo):
    app = echo()
    port = await standalone(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        conn.send_raw(
            f"POST {poll_url(sid)} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\n4ch\r\n5\r\nunked\r\n0\r\n\r\n".encode()
        )
        assert (await conn.read_response()).body == b"ok"
        assert (await conn.request("GET", poll_url(sid))).text == "4chunked"


async def test_expect_100_continue(standalone, echo):
    port = await standalone(echo())
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        conn.send_raw(
            f"POST {poll_url(sid)} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        interim = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 2)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.send_raw(b"4exp")
        assert (await conn.read_response()).body == b"ok"
        assert (await conn.request("GET", poll_url(sid))).text == "4exp"


async def test_fallback(standalone, echo):
    seen = []

    def fallback(request):
        seen.append((request.method, request.path, request.query_string))
        if request.path == "/boom":
            raise RuntimeError("boom")
        return 200, [("Content-Type", "text/html")], b"<h1>demo</h1>"

    port = await standalone(echo(), fallback=fallback)
    response = await http_request(port, "GET", "/index.html?v=1")
    assert (response.status, response.body) == (200, b"<h1>demo</h1>")
    assert response.headers["content-length"] == "13"
    assert seen == [("GET", "/index.html", "v=1")]
    assert (await http_request(port, "GET", "/boom")).status == 500
    await assert_serves(port)


async def test_fallback_answers_with_any_header_pairs(standalone, echo):
    # answers' heads are remembered by their headers: pairs given as lists cannot be, and
    # are written all the same; a remembered head serves the same answer again
    def fallback(request):
        if request.path == "/lists":
            return 200, [["Content-Type", "text/plain"], ["X-Kind", "list"]], b"lists"
        return 200, [("Content-Type", "text/plain"), ("X-Kind", "tuple")], b"tuple"

    expected = {"/lists": (b"lists", "list"), "/tuples": (b"tuple", "tuple")}
    port = await standalone(echo(), fallback=fallback)
    async with await HttpConnection.open(port) as conn:
        for path in ("/lists", "/tuples", "/lists", "/tuples"):
            response = await conn.request("GET", path)
            body, kind = expected[path]
            assert (response.status, response.body) == (200, body)
            assert response.headers["x-kind"] == kind
            assert response.headers["content-length"] == str(len(body))


async def test_async_fallback(standalone, echo):
    async def fallback(request):
        await asyncio.sleep(0.01)
        return 201, [], request.path.encode()

    port = await standalone(echo(), fallback=fallback)
    async with await HttpConnection.open(port) as conn:
        for path in ("/a", "/b"):
            response = await conn.request("GET", path)
            assert (response.status, response.body) == (201, path.encode())


async def test_several_engines(standalone, echo):
    one, two = echo(path="/one"), echo(path="/two")
    port = await standalone([one.engine, two.engine])
    async with await HttpConnection.open(port) as conn:
        sid1 = (await eio_open(conn, "/one/"))["sid"]
        sid2 = (await eio_open(conn, "/two/"))["sid"]
        assert sid1 in one.engine.sessions and sid2 in two.engine.sessions
        response = await conn.request("GET", poll_url(sid1, "/two/"))
        assert response.json()["code"] == 1


async def test_absolute_form_target(standalone, echo):
    port = await standalone(echo())
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", f"http://127.0.0.1:{port}{HANDSHAKE}")
        assert response.status == 200
        open_packet(response.body)


async def test_idle_keep_alive_timeout(standalone, echo):
    port = await standalone(echo(), keep_alive_timeout=0.2)
    async with await HttpConnection.open(port) as idle, await HttpConnection.open(port) as busy:
        sid = (await eio_open(busy))["sid"]
        busy.send_request("GET", poll_url(sid))
        await eio_open(idle)
        assert await idle.at_eof(timeout=1.5)
        # a pending long-poll is not idle
        assert not busy.writer.transport.is_closing()
        assert busy.reader.at_eof() is False


# ---------------------------------------------------------------------- limits
async def test_too_many_headers_is_431(standalone, echo):
    port = await standalone(echo(), max_headers=10)
    async with await HttpConnection.open(port) as conn:
        headers = [(f"X-H{i}", "v") for i in range(10)]
        response = await conn.request("GET", HANDSHAKE, headers=headers)
        assert response.status == 431
        assert response.headers["connection"] == "close"
        assert await conn.at_eof()
    await assert_serves(port)


async def test_default_header_limit(standalone, echo):
    port = await standalone(echo())
    headers = [(f"X-H{i}", "v") for i in range(101)]
    assert (await http_request(port, "GET", HANDSHAKE, headers=headers)).status == 431
    headers = [(f"X-H{i}", "v") for i in range(90)]
    assert (await http_request(port, "GET", HANDSHAKE, headers=headers)).status == 200


async def test_header_section_too_large_is_431(standalone, echo):
    port = await standalone(echo(), max_header_size=4096)
    response = await http_request(port, "GET", HANDSHAKE, headers={"X-Big": "a" * 5000})
    assert response.status == 431
    response = await http_request(port, "GET", HANDSHAKE + "&pad=" + "p" * 5000)
    assert response.status == 431
    # one endless header line sent in small pieces is cut off too
    async with await HttpConnection.open(port) as conn:
        conn.send_raw(f"GET {HANDSHAKE} HTTP/1.1\r\nX-Slow: ".encode())
        for _ in range(10):
            conn.send_raw(b"z" * 1000)
            await asyncio.sleep(0.01)
        response = await conn.read_response()
        assert response.status == 431
    await assert_serves(port)


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /engine.io/ HTTP/1.1\r\nHost x\r\n\r\n",
        b"POST /engine.io/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"POST /engine.io/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello on plain HTTP
    ],
)
async def test_malformed_http_is_400(standalone, echo, raw):
    port = await standalone(echo())
    async with await HttpConnection.open(port) as conn:
        conn.send_raw(raw)
        response = await conn.read_response()
        assert response.status == 400
        assert response.headers["connection"] == "close"
        assert await conn.at_eof()
    await assert_serves(port)


async def test_cors_on_413(standalone, echo):
    from aiosocketio.engine.http import CorsPolicy

    port = await standalone(echo(max_http_buffer_size=10, cors=CorsPolicy("*")))
    response = await http_request(
        port, "POST", poll_url("x"), headers={"Origin": "http://a.example"}, body="4" * 11
    )
    assert response.status == 413
    assert response.headers["access-control-allow-origin"] == "*"


async def test_body_limit_on_other_paths(standalone, echo):
    port = await standalone(echo(), max_body_size=100, fallback=lambda r: (200, [], b"ok"))
    assert (await http_request(port, "POST", "/upload", body=b"x" * 100)).status == 200
    assert (await http_request(port, "POST", "/upload", body=b"x" * 101)).status == 413


# ---------------------------------------------------------------------- other upgrades
async def test_h2c_upgrade_is_refused_over_http_1_1(standalone, echo):
    port = await standalone(echo())
    async with await HttpConnection.open(port) as conn:
        response = await conn.request(
            "GET",
            HANDSHAKE,
            headers={
                "Connection": "Upgrade, HTTP2-Settings",
                "Upgrade": "h2c",
                "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA",
            },
        )
        assert (response.status, response.body) == (400, b"Invalid Upgrade header")
        assert response.headers["connection"] == "close"
        assert await conn.at_eof()


async def test_h2c_upgrade_then_reset(standalone, echo):
    app = echo()
    port = await standalone(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
    conn = await HttpConnection.open(port)
    conn.send_request(
        "GET",
        poll_url(sid),
        headers={"Connection": "Upgrade", "Upgrade": "h2c", "HTTP2-Settings": ""},
    )
    conn.send_raw(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + os.urandom(100))
    response = await conn.read_response()
    assert (response.status, response.body) == (400, b"Invalid Upgrade header")
    assert await conn.at_eof()  # what followed the request was not read as HTTP/1.1
    conn.abort()
    # the refused GET never reached the session, and nothing crashed
    assert sid in app.engine.sessions
    await assert_serves(port)


async def test_h2c_upgrade_with_body_is_400(standalone, echo):
    port = await standalone(echo())
    async with await HttpConnection.open(port) as conn:
        response = await conn.request(
            "POST",
            poll_url("abc"),
            headers={"Connection": "Upgrade", "Upgrade": "h2c"},
            body="4smuggled",
        )
        assert response.status == 400
        assert await conn.at_eof()
    await assert_serves(port)


# ---------------------------------------------------------------------- WebSocket handshake
async def test_websocket_version_missing_is_426(standalone, echo):
    port = await standalone(echo())
    response = await http_request(
        port,
        "GET",
        ws_url(),
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status == 426
    assert response.headers["sec-websocket-version"] == "13"
    await assert_serves(port)


async def test_websocket_bad_key_is_400(standalone, echo):
    port = await standalone(echo())
    response = await http_request(
        port,
        "GET",
        ws_url(),
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "short",
        },
    )
    assert response.status == 400


async def test_websocket_upgrade_header_without_connection_upgrade(standalone, echo):
    port = await standalone(echo())
    async with await HttpConnection.open(port) as conn:
        response = await conn.request(
            "GET",
            ws_url(),
            headers={
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
        assert response.status == 400
        # not an upgrade for the parser: the connection goes on
        assert (await conn.request("GET", HANDSHAKE)).status == 200


async def test_frames_sent_with_the_upgrade_request(standalone, echo):
    port = await standalone(echo())
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    _key, request = build_request("127.0.0.1", ws_url())
    writer.write(request + encode_frame(TEXT, b"4early", mask=os.urandom(4)))
    ws = WsConnection(reader, writer)
    assert (await HttpConnection(reader, writer).read_response()).status == 101
    async with ws:
        open_packet(await ws.recv())
        assert await ws.recv() == "4early"


async def test_websocket_control_frames(standalone, echo):
    port = await standalone(echo())
    async with await WsConnection.open(port, ws_url()) as ws:
        open_packet(await ws.recv())
        ws.send_frame(PING, b"are you there")
        assert await ws.recv_frame() == (PONG, b"are you there")
        ws.send_frame(PONG, b"unsolicited")  # ignored
        # a fragmented message with a ping in the middle
        ws.send_frame(TEXT, b"4frag", fin=False)
        ws.send_frame(PING, b"")
        ws.send_frame(0, b"men", fin=False)
        ws.send_frame(0, b"ted", fin=True)
        assert await ws.recv_frame() == (PONG, b"")
        assert await ws.recv_frame() == (TEXT, "4fragmented")


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (encode_frame(TEXT, b"4\xff\xfe", mask=b"abcd"), 1007),  # invalid UTF-8
        (encode_frame(CLOSE, b"\x03\xe7", mask=b"abcd"), 1002),  # close code 999
        (encode_frame(0, b"x", mask=b"abcd"), 1002),  # continuation without a message
        (bytes([0x81, 0x05]) + b"4abcd", 1002),  # unmasked client frame
        (bytes([0x83, 0x80]) + b"abcd", 1002),  # reserved opcode
    ],
)
async def test_websocket_protocol_errors(standalone, echo, frame, code):
    app = echo()
    port = await standalone(app)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        ws.send_raw(frame)
        assert (await ws.expect_close())[0] == code
        await ws.wait_eof()
    assert await app.wait_closed(sid) == "transport error"
    await assert_serves(port)


async def test_close_handshake_initiated_by_the_server(standalone, echo):
    app = echo()
    port = await standalone(app, ws_close_timeout=5.0)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        app.sockets[sid].close()
        opcode, payload = await ws.recv_frame()
        assert opcode == CLOSE
        ws.send_frame(CLOSE, payload)  # the answer closes TCP at once
        await asyncio.wait_for(ws.wait_eof(), 1.0)


async def test_close_timeout_when_the_peer_never_answers(standalone, echo):
    app = echo()
    port = await standalone(app, ws_close_timeout=0.1)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        app.sockets[sid].close()
        assert (await ws.recv_frame())[0] == CLOSE
        await asyncio.wait_for(ws.wait_eof(), 1.0)


# ---------------------------------------------------------------------- connection loss


async def test_close_stops_everything(echo):
    app = echo()
    server = StandaloneServer(app.engine)
    await server.start("127.0.0.1", 0)
    port = server.port
    assert len(server.sockets) == 1
    http = await HttpConnection.open(port)
    sid = (await eio_open(http))["sid"]
    http.send_request("GET", poll_url(sid))
    ws = await WsConnection.open(port, ws_url())
    open_packet(await ws.recv())
    idle = await HttpConnection.open(port)
    await asyncio.sleep(0.05)
    serving = asyncio.ensure_future(server.serve_forever())
    await server.close(timeout=1.0)
    await asyncio.wait_for(serving, 1.0)
    assert (await http.read_response()).text == "1"
    assert (await ws.expect_close())[0] in (1000, 1001, 1005)
    assert await idle.at_eof()
    assert app.engine.sessions == {}
    with pytest.raises(OSError):
        await HttpConnection.open(port)
    for conn in (http, idle):
        await conn.close()
    ws.abort()


async def test_close_lets_the_request_being_served_finish(echo):
    release = asyncio.Event()

    async def slow(request):
        await release.wait()
        return 200, [("Content-Type", "text/plain")], b"finished"

    server = StandaloneServer(echo().engine, fallback=slow)
    await server.start("127.0.0.1", 0)
    port = server.port
    async with await HttpConnection.open(port) as conn:
        conn.send_request("GET", "/slow")
        conn.send_request("GET", "/slow")  # behind it: not served
        await asyncio.sleep(0.05)
        closing = asyncio.ensure_future(server.close(timeout=5.0))
        await asyncio.sleep(0.05)
        assert not closing.done()
        with pytest.raises(OSError):
            await HttpConnection.open(port)  # no longer accepting
        release.set()
        response = await conn.read_response()
        assert (response.status, response.body) == (200, b"finished")
        assert response.headers["connection"] == "close"
        assert await conn.at_eof()
        await asyncio.wait_for(closing, 5)


async def test_tls(tmp_path, echo):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    client_ctx.check_hostname = False
    app = echo()
    server = StandaloneServer(app.engine)
    await server.start("127.0.0.1", 0, ssl=server_ctx)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=client_ctx)
        async with HttpConnection(reader, writer) as conn:
            sid = (await eio_open(conn))["sid"]
            assert app.sockets[sid].request.secure
            assert (await conn.request("POST", poll_url(sid), body="4tls")).body == b"ok"
            assert (await conn.request("GET", poll_url(sid))).text == "4tls"
    finally:
        await server.close()


# ---------------------------------------------------------------------- WebSocket protocol unit
class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.reading = True

    def write(self, data) -> None:
        self.writes.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def resume_reading(self) -> None:
        self.reading = True

    def pause_reading(self) -> None:
        self.reading = False


class Recorder:
    def __init__(self, conn: WebSocketProtocol) -> None:
        self.conn = conn
        self.messages: list[str | bytes] = []
        self.closes: list[bool] = []

    def on_message(self, data: str | bytes) -> None:
        self.messages.append(data)
        self.conn.send_text(f"echo {data!r}")
        assert self.conn.buffered_amount() > 0  # corked, not written yet

    def on_ws_close(self, error: bool = False) -> None:
        self.closes.append(error)


def masked(opcode: int, payload: bytes) -> bytes:
    return encode_frame(opcode, payload, mask=os.urandom(4))


async def test_writes_are_corked_while_receiving():
    transport = FakeTransport()
    conn = WebSocketProtocol(transport, max_message_size=1000)
    recorder = conn.receiver = Recorder(conn)
    conn.data_received(masked(TEXT, b"a") + masked(BINARY, b"b") + masked(PING, b"p"))
    assert recorder.messages == ["a", b"b"]
    assert len(transport.writes) == 1  # two echoes and a pong in one write
    parser = FrameParser(client_side=True)
    assert parser.feed(transport.writes[0]) == [
        (TEXT, "echo 'a'"),
        (TEXT, "echo b'b'"),
        (PONG, b"p"),
    ]
    # outside data_received, writes go out at once
    conn.send_text("now")
    assert transport.writes[-1] == text_frame("now")
    # broadcast frames are built once and shared
    out = Outgoing(["4x", b"\x00"])
    conn.send_outgoing(out)
    assert out.frame is not None and transport.writes[-1] == out.frame
    conn.data_received(masked(CLOSE, b"\x03\xe8bye"))
    assert transport.closed and recorder.closes == [False]
    conn.connection_lost(None)
    assert recorder.closes == [False]  # exactly once
    conn.send_text("late")  # ignored after close
    assert parser.feed(transport.writes[-1]) == [(CLOSE, b"\x03\xe8bye")]


async def test_connection_lost_notifies_once():
    transport = FakeTransport()
    conn = WebSocketProtocol(transport, max_message_size=10)
    recorder = conn.receiver = Recorder(conn)
    conn.connection_lost(ConnectionResetError())
    conn.connection_lost(None)
    assert recorder.closes == [True]


async def test_receiver_detached_is_ignored():
    transport = FakeTransport()
    conn = WebSocketProtocol(transport, max_message_size=10)
    conn.data_received(masked(TEXT, b"nobody"))
    assert transport.writes == []
    conn.data_received(masked(TEXT, b"x" * 11))
    assert transport.closed
    assert FrameParser(client_side=True).feed(transport.writes[0])[0][0] == CLOSE


# ---------------------------------------------------------------------- uvloop
async def scenario() -> None:
    """A tour of the standalone server, run under each event loop."""
    app = EchoEngine(ping_interval=0.3, ping_timeout=0.3)
    server = StandaloneServer(app.engine)
    await server.start("127.0.0.1", 0)
    port = server.port
    try:
        async with await HttpConnection.open(port) as conn:
            sid = (await eio_open(conn))["sid"]
            assert (await conn.request("POST", poll_url(sid), body="4poll")).body == b"ok"
            assert (await conn.request("GET", poll_url(sid))).text == "4poll"
            async with await WsConnection.open(port, ws_url(sid)) as ws:
                await ws.upgrade()
                ws.send_text("4upgraded")
                assert await ws.recv() == "4upgraded"
                assert await ws.recv(timeout=1.0) == "2"
                ws.send_text("3")
                ws.send_bytes(b"x" * 2_000_000)
                assert (await ws.expect_close())[0] == 1009
        assert (await http_request(port, "GET", "/engine.io/?EIO=4&transport=x")).status == 400
        headers = [(f"X-{i}", "v") for i in range(200)]
        assert (await http_request(port, "GET", HANDSHAKE, headers=headers)).status == 431
        await assert_serves(port)
    finally:
        await server.close()


async def test_scenario_on_asyncio():
    await scenario()


def test_scenario_on_uvloop():
    uvloop = pytest.importorskip("uvloop")
    uvloop.run(asyncio.wait_for(scenario(), 10))


# ---------------------------------------------------------------------- the example server
async def test_example_protocol_suite_server():
    port = free_port()
    env = {**os.environ, "PORT": str(port), "PYTHONPATH": str(ROOT / "src")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "protocol_suite" / "engineio_server.py"),
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        line = await asyncio.wait_for(process.stderr.readline(), 10)
        assert f"127.0.0.1:{port}" in line.decode()
        async with await HttpConnection.open(port) as conn:
            packet = await eio_open(conn)
            assert (packet["pingInterval"], packet["pingTimeout"]) == (300, 200)
            assert packet["maxPayload"] == 1_000_000
            sid = packet["sid"]
            assert (await conn.request("POST", poll_url(sid), body="4echo")).body == b"ok"
            assert (await conn.request("GET", poll_url(sid))).text == "4echo"
        async with await WsConnection.open(port, ws_url()) as ws:
            open_packet(await ws.recv())
            ws.send_bytes(b"\x01\x02")
            assert await ws.recv() == b"\x01\x02"
        response = await http_request(port, "GET", HANDSHAKE, headers={"Origin": "http://x"})
        assert response.headers["access-control-allow-origin"] == "*"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 5) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
