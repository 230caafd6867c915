"""Engine.IO long-polling through both front doors (standalone and uvicorn)."""

from __future__ import annotations

import asyncio
import base64

import pytest

from helpers import (
    EIO,
    SEP,
    HttpConnection,
    assert_serves,
    eio_open,
    http_request,
    open_packet,
    poll_url,
)
from servers import FrontDoor
from sioclient import until

ERRORS = {
    0: "Transport unknown",
    1: "Session ID unknown",
    2: "Bad handshake method",
    3: "Bad request",
    5: "Unsupported protocol version",
}


async def test_handshake(serve, echo):
    app = echo(max_http_buffer_size=12345, ping_interval=1.5, ping_timeout=0.5)
    port = await serve(app)
    response = await http_request(port, "GET", f"{EIO}?EIO=4&transport=polling")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/plain")
    packet = open_packet(response.body)
    assert set(packet) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert len(packet["sid"]) == 20
    assert packet["upgrades"] == ["websocket"]
    assert packet["pingInterval"] == 1500
    assert packet["pingTimeout"] == 500
    assert packet["maxPayload"] == 12345
    assert packet["sid"] in app.engine.sessions
    # the path without the trailing slash works too
    other = await http_request(port, "GET", "/engine.io?EIO=4&transport=polling")
    assert other.status == 200 and open_packet(other.body)["sid"] != packet["sid"]


@pytest.mark.parametrize(
    ("method", "query", "code"),
    [
        ("GET", "EIO=4&transport=unknown", 0),
        ("GET", "EIO=4&transport=__proto__", 0),
        ("GET", "EIO=4&transport=constructor", 0),
        ("GET", "EIO=4", 0),
        ("GET", "transport=polling", 5),
        ("GET", "EIO=3&transport=polling", 5),
        ("GET", "EIO=abc&transport=polling", 5),
        ("GET", "EIO=4&transport=polling&sid=nope", 1),
        ("POST", "EIO=4&transport=polling&sid=nope", 1),
        ("POST", "EIO=4&transport=polling", 2),
        ("PUT", "EIO=4&transport=polling", 2),
    ],
)
async def test_error_codes(serve, echo, method, query, code):
    port = await serve(echo())
    response = await http_request(port, method, f"{EIO}?{query}", body="4x" * (method != "GET"))
    assert response.status == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"code": code, "message": ERRORS[code]}
    await assert_serves(port)


async def test_transport_mismatch(serve, echo):
    port = await serve(echo())
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        response = await conn.request("GET", f"{EIO}?EIO=4&transport=websocket&sid={sid}")
        assert response.status == 400
        assert response.json() == {"code": 3, "message": "Bad request"}


async def test_message_round_trip(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        response = await conn.request("POST", poll_url(sid), body="4hello é ✓")
        assert (response.status, response.body) == (200, b"ok")
        response = await conn.request("GET", poll_url(sid))
        assert response.status == 200
        assert response.text == "4hello é ✓"
    assert app.messages == ["hello é ✓"]


async def test_pending_get_is_answered_by_a_later_message(serve, echo):
    port = await serve(echo())
    async with await HttpConnection.open(port) as get, await HttpConnection.open(port) as post:
        sid = (await eio_open(get))["sid"]
        get.send_request("GET", poll_url(sid))
        await asyncio.sleep(0.05)
        assert (await post.request("POST", poll_url(sid), body="4late")).body == b"ok"
        assert (await get.read_response()).text == "4late"


async def test_batched_payload_of_500_packets(serve, echo):
    app = echo()
    port = await serve(app)
    sent = [f"4message {i}" for i in range(500)]
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        response = await conn.request("POST", poll_url(sid), body=SEP.join(sent))
        assert response.body == b"ok"
        received: list[str] = []
        while len(received) < 500:
            received.extend((await conn.request("GET", poll_url(sid))).packets)
    assert received == sent
    assert len(app.messages) == 500


async def test_binary_as_base64(serve, echo):
    app = echo()
    port = await serve(app)
    blob = bytes(range(256))
    encoded = "b" + base64.b64encode(blob).decode()
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        body = SEP.join([encoded, "4text", "b"])
        assert (await conn.request("POST", poll_url(sid), body=body)).body == b"ok"
        received: list[str] = []
        while len(received) < 3:
            received.extend((await conn.request("GET", poll_url(sid))).packets)
    assert received == [encoded, "4text", "b"]
    assert app.messages == [blob, "text", b""]


async def test_client_gone_while_get_pending(serve, echo):
    """The connection of a waiting GET closes: the session ends ("transport error")."""
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
    conn = await HttpConnection.open(port)
    conn.send_request("GET", poll_url(sid))
    await until(lambda: app.engine.sessions[sid].writable)  # the GET waits at the server
    await conn.close()
    assert await app.wait_closed(sid) == "transport error"


async def test_chunked_body_over_limit_is_413_and_the_session_survives(serve, echo):
    app = echo(max_http_buffer_size=1000)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
    async with await HttpConnection.open(port) as conn:
        head = f"POST {poll_url(sid)} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        conn.send_raw(head.encode())
        for _ in range(3):  # 1200 bytes in 400-byte chunks, never terminated
            conn.send_raw(b"190\r\n" + b"4" * 400 + b"\r\n")
        assert (await conn.read_response()).status == 413
    assert sid in app.engine.sessions
    assert app.closed == []


async def test_invalid_base64_closes_the_session(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        response = await conn.request("POST", poll_url(sid), body="b!!!")
        assert response.status == 400
    assert await app.wait_closed(sid) == "parse error"
    await assert_serves(port)


async def test_body_over_max_payload_is_413_and_the_session_survives(serve, echo):
    app = echo(max_http_buffer_size=1000)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
    big = "4" + "x" * 1000
    response = await http_request(port, "POST", poll_url(sid), body=big)
    assert response.status == 413
    assert sid in app.engine.sessions
    async with await HttpConnection.open(port) as conn:
        exact = "4" + "y" * 999
        assert (await conn.request("POST", poll_url(sid), body=exact)).body == b"ok"
        assert (await conn.request("GET", poll_url(sid))).text == exact
    assert app.closed == []


async def test_octet_stream_post_is_400_and_closes(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        response = await conn.request(
            "POST",
            poll_url(sid),
            headers={"Content-Type": "application/octet-stream"},
            body=b"\x04hello",
        )
        assert response.status == 400
        assert response.json()["code"] == 3
        assert await app.wait_closed(sid) == "transport error"
        response = await conn.request("GET", poll_url(sid))
        assert response.json() == {"code": 1, "message": "Session ID unknown"}


async def test_overlapping_get(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as first, await HttpConnection.open(port) as second:
        sid = (await eio_open(first))["sid"]
        first.send_request("GET", poll_url(sid))
        await asyncio.sleep(0.05)
        response = await second.request("GET", poll_url(sid))
        assert response.status == 400
        assert response.json() == {"code": 3, "message": "Bad request"}
        pending = await first.read_response()
        assert pending.status == 200
        assert pending.text == "1"
    assert await app.wait_closed(sid) == "transport error"
    assert sid not in app.engine.sessions


async def test_post_close_packet(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as get, await HttpConnection.open(port) as post:
        sid = (await eio_open(get))["sid"]
        get.send_request("GET", poll_url(sid))
        await asyncio.sleep(0.05)
        assert (await post.request("POST", poll_url(sid), body="1")).body == b"ok"
        pending = await get.read_response()
        assert pending.status == 200
        assert pending.text == "6"
    assert await app.wait_closed(sid) == "transport close"
    assert sid not in app.engine.sessions


async def test_heartbeat(serve, echo):
    app = echo(ping_interval=0.3, ping_timeout=1.0)  # time for the pong on a loaded machine
    port = await serve(app)
    loop = asyncio.get_running_loop()
    async with await HttpConnection.open(port) as get, await HttpConnection.open(port) as post:
        sid = (await eio_open(get))["sid"]
        for _ in range(2):
            start = loop.time()
            response = await get.request("GET", poll_url(sid))
            assert response.text == "2"
            assert 0.15 < loop.time() - start < 5  # the ping interval, not the default 25 s
            assert (await post.request("POST", poll_url(sid), body="3")).body == b"ok"
        # no pong this time: dead at ping interval + ping timeout
        assert (await get.request("GET", poll_url(sid))).text == "2"
        get.send_request("GET", poll_url(sid))
        assert (await get.read_response()).text == "1"
    assert await app.wait_closed(sid) == "ping timeout"
    await assert_serves(port)


async def test_client_ping_is_a_protocol_error(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        await conn.request("POST", poll_url(sid), body="2")
    assert await app.wait_closed(sid) == "parse error"
    assert sid not in app.engine.sessions
    await assert_serves(port)


async def test_invalid_packet_closes(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        response = await conn.request("POST", poll_url(sid), body="9what")
        assert response.status == 400
    assert await app.wait_closed(sid) == "parse error"


async def test_server_close_answers_the_pending_get(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        conn.send_request("GET", poll_url(sid))
        await asyncio.sleep(0.05)
        app.sockets[sid].send_message("bye")
        app.sockets[sid].close()
        packets = (await conn.read_response()).packets
        if packets == ["4bye"]:  # the close packet may come alone, with the next GET
            packets += (await conn.request("GET", poll_url(sid))).packets
        assert packets == ["4bye", "1"]
    assert sid not in app.engine.sessions


UPGRADES = {
    # a bare Upgrade header: Node's HTTP parser ignores it (200); refused here all the same
    "bare h2c": {"Upgrade": "h2c"},
    # what an h2c smuggling attempt sends, and any other protocol: Node answers 400
    "h2c": {"Upgrade": "h2c", "Connection": "Upgrade, HTTP2-Settings", "HTTP2-Settings": ""},
    "other": {"Upgrade": "foo/1", "Connection": "upgrade"},
}


@pytest.fixture(params=["standalone", "uvicorn", "hypercorn"])
async def front_door(request, standalone, uvicorn_server, hypercorn_server):
    starts = {"standalone": standalone, "uvicorn": uvicorn_server, "hypercorn": hypercorn_server}
    return FrontDoor(request.param, starts[request.param])


@pytest.mark.parametrize("headers", UPGRADES.values(), ids=UPGRADES.keys())
async def test_an_upgrade_to_another_protocol_is_refused(front_door, echo, headers):
    app = echo()
    port = await front_door(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
    for method, target in [
        ("GET", f"{EIO}?EIO=4&transport=polling"),  # a handshake
        ("GET", poll_url(sid)),  # a session's poll
    ]:
        response = await http_request(port, method, target, headers=headers)
        if front_door.name == "hypercorn" and headers["Upgrade"] == "h2c":
            # hypercorn speaks HTTP/2 and takes an h2c upgrade itself: it never reaches the app
            assert response.status == 101
            continue
        assert (response.status, response.body) == (400, b"Invalid Upgrade header")
        assert response.headers["content-type"] == "text/html"
    assert len(app.engine.sessions) == 1  # no session was made
    await assert_serves(port)
