"""Engine.IO v3 sessions (``allow_eio3``) through both front doors (standalone and uvicorn):
the handshake, long-polling payloads, WebSocket framing, the client's heartbeat, the
upgrade, bad input, and v4 clients on the same server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosocketio.engineio.payload_v3 import encode_payload_binary, encode_payload_text
from helpers import EIO, HttpConnection, Response, WsConnection, WsRejected, open_packet

OCTET = {"Content-Type": "application/octet-stream"}


def v3_url(sid: str | None = None, transport: str = "polling", extra: str = "") -> str:
    url = f"{EIO}?EIO=3&transport={transport}{extra}"
    return url if sid is None else f"{url}&sid={sid}"


def v3_open(response: Response) -> dict[str, Any]:
    """The open packet of a v3 handshake answer (``<length>:0{...}``)."""
    length, _, packet = response.text.partition(":")
    assert int(length) == len(packet), response.text
    return open_packet(packet)


async def handshake(conn: HttpConnection, extra: str = "") -> str:
    response = await conn.request("GET", v3_url(extra=extra))
    assert response.status == 200, response.body
    return str(v3_open(response)["sid"])


# ---------------------------------------------------------------------- handshake
@pytest.mark.parametrize("eio", ["3", "2", ""])
async def test_without_allow_eio3_a_v3_client_is_refused(serve, echo, eio):
    port = await serve(echo())
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", f"{EIO}?EIO={eio}&transport=polling")
    assert response.status == 400
    assert response.json() == {"code": 5, "message": "Unsupported protocol version"}
    with pytest.raises(WsRejected) as refused:
        await WsConnection.open(port, f"{EIO}?EIO={eio}&transport=websocket")
    assert refused.value.response.status == 400


async def test_the_v3_handshake_is_a_length_prefixed_open_packet(serve, echo):
    app = echo(allow_eio3=True, ping_interval=1.5, ping_timeout=0.5)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", v3_url())
    assert response.headers["content-type"] == "text/plain; charset=UTF-8"
    packet = v3_open(response)
    assert list(packet) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]
    assert (packet["pingInterval"], packet["pingTimeout"]) == (1500, 500)
    assert app.engine.sessions[packet["sid"]].protocol == 3


@pytest.mark.parametrize("query", ["EIO=2&", "EIO=5&", "EIO=x&", ""])
async def test_as_node_any_eio_but_4_is_v3(serve, echo, query):
    app = echo(allow_eio3=True)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", f"{EIO}?{query}transport=polling")
    assert app.engine.sessions[v3_open(response)["sid"]].protocol == 3


async def test_v4_clients_are_served_as_before(serve, echo):
    app = echo(allow_eio3=True)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", f"{EIO}?EIO=4&transport=polling")
        sid = open_packet(response.body)["sid"]
        assert app.engine.sessions[sid].protocol == 4
        url = f"{EIO}?EIO=4&transport=polling&sid={sid}"
        assert (await conn.request("POST", url, body="4a\x1e4b")).text == "ok"
        assert (await conn.request("GET", url)).text == "4a\x1e4b"


@pytest.mark.parametrize(("session", "request_eio"), [("3", "4"), ("4", "3"), ("4", "")])
async def test_a_request_of_the_other_protocol_is_a_bad_request(serve, echo, session, request_eio):
    """As Node (PROTOCOL_MISMATCH): a session speaks the protocol of its handshake."""
    app = echo(allow_eio3=True)
    errors: list[tuple[int, str, dict[str, Any]]] = []
    app.engine.connection_error_hooks.append(lambda _, *error: errors.append(error))
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", f"{EIO}?EIO={session}&transport=polling")
        text = response.text.partition(":")[2] if session == "3" else response.text
        sid = open_packet(text)["sid"]
        url = f"{EIO}?EIO={request_eio}&transport=polling&sid={sid}"
        response = await conn.request("POST", url, body="1:2")
        assert response.status == 400
        assert response.json() == {"code": 3, "message": "Bad request"}
    with pytest.raises(WsRejected):
        await WsConnection.open(port, f"{EIO}?EIO={request_eio}&transport=websocket&sid={sid}")
    assert sid in app.engine.sessions  # refused, not closed
    mismatch = {
        "name": "PROTOCOL_MISMATCH",
        "protocol": 4 if request_eio == "4" else 3,
        "previousProtocol": int(session),
    }
    assert errors == [(3, "Bad request", mismatch)] * 2


# ---------------------------------------------------------------------- long-polling
async def test_text_payloads_both_ways(serve, echo):
    app = echo(allow_eio3=True)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = await handshake(conn)
        body = encode_payload_text(["4hello", "4wörld😀", "2"])
        assert (await conn.request("POST", v3_url(sid), body=body)).text == "ok"
        response = await conn.request("GET", v3_url(sid))
    assert response.headers["content-type"] == "text/plain; charset=UTF-8"
    assert response.text == "6:4hello8:4wörld😀1:3"
    assert app.messages == ["hello", "wörld😀"]


async def test_binary_payloads_both_ways(serve, echo):
    app = echo(allow_eio3=True)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = await handshake(conn)
        body = encode_payload_binary(["4é", b"\x00\xff"])
        response = await conn.request("POST", v3_url(sid), body=body, headers=OCTET)
        assert response.text == "ok"
        response = await conn.request("GET", v3_url(sid))
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.body == encode_payload_binary(["4é", b"\x00\xff"])
    assert app.messages == ["é", b"\x00\xff"]


async def test_a_b64_client_gets_binary_as_base64_text(serve, echo):
    app = echo(allow_eio3=True)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = await handshake(conn, "&b64=1")
        await conn.request("POST", v3_url(sid), body="6:b4AQID")
        response = await conn.request("GET", v3_url(sid))
    assert response.headers["content-type"] == "text/plain; charset=UTF-8"
    assert response.text == "6:b4AQID"
    assert app.messages == [b"\x01\x02\x03"]


BAD_TEXT = ["5:4ab", "4:4ab", "2:4a2:", "a:4a", "-1:4", "0x2:4a", " 2:4a", "99999999999:4", "2:4a:"]
BAD_BINARY = [
    bytes([0, 3, 255, 52, 97]),  # truncated
    bytes([0, 1, 50]),  # no 255
    bytes([0, 12, 255, 52]),  # a "digit" of 12
    bytes([3, 1, 255, 52]),  # neither text nor binary
    bytes([0, *[9] * 20, 255, 52]),  # beyond any buffer
]


@pytest.mark.parametrize(
    ("body", "binary"), [(b, False) for b in BAD_TEXT] + [(b, True) for b in BAD_BINARY]
)
async def test_bad_framing_is_refused_and_closes_the_session(serve, echo, body, binary):
    """As the v4 cases: 400, and the session closes with "parse error"."""
    app = echo(allow_eio3=True)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = await handshake(conn)
        response = await conn.request(
            "POST", v3_url(sid), body=body, headers=OCTET if binary else None
        )
        assert response.status == 400
        assert response.json() == {"code": 3, "message": "Bad request"}
    assert await app.wait_closed(sid) == "parse error"
    assert app.messages == []


async def test_a_body_over_max_http_buffer_size_is_413_and_the_session_survives(serve, echo):
    app = echo(allow_eio3=True, max_http_buffer_size=1000)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = await handshake(conn)
        body = encode_payload_text(["4" + "x" * 1000])
        assert (await conn.request("POST", v3_url(sid), body=body)).status == 413
    async with await HttpConnection.open(port) as conn:
        assert (await conn.request("POST", v3_url(sid), body="2:4x")).text == "ok"
        assert (await conn.request("GET", v3_url(sid))).text == "2:4x"


# ---------------------------------------------------------------------- WebSocket
async def test_websocket_binary_frames_carry_the_type_byte(serve, echo):
    app = echo(allow_eio3=True)
    port = await serve(app)
    async with await WsConnection.open(port, v3_url(transport="websocket")) as ws:
        open_packet(await ws.recv())
        ws.send_bytes(b"\x04\x01\x02")
        assert await ws.recv() == b"\x04\x01\x02"
        ws.send_text("b4AwQ=")  # the base64 form is read too
        assert await ws.recv() == b"\x04\x03\x04"
        ws.send_text("4text")
        assert await ws.recv() == "4text"
    assert app.messages == [b"\x01\x02", b"\x03\x04", "text"]


async def test_a_b64_websocket_gets_binary_as_base64_text(serve, echo):
    app = echo(allow_eio3=True)
    port = await serve(app)
    async with await WsConnection.open(port, v3_url(transport="websocket", extra="&b64=1")) as ws:
        open_packet(await ws.recv())
        ws.send_bytes(b"\x04\x01\x02")
        assert await ws.recv() == "b4AQI="


@pytest.mark.parametrize("frame", [b"", b"\x09abc", "", "9", "b9AA==", "b4*"])
async def test_bad_websocket_packets_close_the_session(serve, echo, frame):
    app = echo(allow_eio3=True)
    port = await serve(app)
    async with await WsConnection.open(port, v3_url(transport="websocket")) as ws:
        sid = open_packet(await ws.recv())["sid"]
        if isinstance(frame, bytes):
            ws.send_bytes(frame)
        else:
            ws.send_text(frame)
        assert await app.wait_closed(sid) == "parse error"


# ---------------------------------------------------------------------- heartbeat
async def test_the_server_answers_the_client_ping(serve, echo):
    app = echo(allow_eio3=True)
    port = await serve(app)
    async with await WsConnection.open(port, v3_url(transport="websocket")) as ws:
        open_packet(await ws.recv())
        ws.send_text("2")
        assert await ws.recv() == "3"
        ws.send_text("2probe")
        assert await ws.recv() == "3"  # as Node: a pong without the ping's data


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_a_client_that_stops_pinging_times_out(serve, echo, transport):
    app = echo(allow_eio3=True, ping_interval=0.4, ping_timeout=0.2)
    port = await serve(app)
    loop = asyncio.get_running_loop()
    if transport == "websocket":
        async with await WsConnection.open(port, v3_url(transport="websocket")) as ws:
            sid = open_packet(await ws.recv())["sid"]
            started = loop.time()
            for _ in range(3):  # pings keep it open past interval + timeout
                await asyncio.sleep(0.1)
                ws.send_text("2")
                assert await ws.recv() == "3"
            assert await app.wait_closed(sid) == "ping timeout"
    else:
        async with await HttpConnection.open(port) as conn:
            sid = await handshake(conn)
            started = loop.time()
            assert await app.wait_closed(sid) == "ping timeout"
    elapsed = loop.time() - started
    assert elapsed >= 0.59
    assert not app.engine.sessions


async def test_a_pong_from_the_client_is_a_transport_error(serve, echo):
    app = echo(allow_eio3=True)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = await handshake(conn)
        await conn.request("POST", v3_url(sid), body="1:3")
    assert await app.wait_closed(sid) == "transport error"


# ---------------------------------------------------------------------- upgrade
async def test_the_upgrade_and_its_own_b64(serve, echo):
    app = echo(allow_eio3=True)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = await handshake(conn)
        pending = asyncio.ensure_future(conn.request("GET", v3_url(sid)))
        url = v3_url(sid, "websocket", "&b64=1")
        async with await WsConnection.open(port, url) as ws:
            ws.send_text("2probe")
            assert await ws.recv() == "3probe"
            assert (await pending).text == "1:6"
            ws.send_text("5")
            ws.send_bytes(b"\x04\x07")
            assert await ws.recv() == "b4Bw=="  # what the WebSocket's request asked for
            response = await conn.request("POST", v3_url(sid), body="1:2")
            assert response.status == 400  # long-polling is over


# ---------------------------------------------------------------------- observed sessions
async def test_packet_events_report_v3_packets_decoded(serve, echo):
    app = echo(allow_eio3=True)
    port = await serve(app)
    seen: list[Any] = []
    async with await WsConnection.open(port, v3_url(transport="websocket")) as ws:
        sid = open_packet(await ws.recv())["sid"]
        esock = app.engine.sessions[sid]
        esock.on("packet", seen.append)
        esock.on("packetCreate", lambda p: seen.append(("sent", p)))
        esock.on("heartbeat", lambda: seen.append("heartbeat"))
        ws.send_text("2")
        assert await ws.recv() == "3"
        ws.send_bytes(b"\x04\x01")
        assert await ws.recv() == b"\x04\x01"
        ws.send_text("4hi")
        assert await ws.recv() == "4hi"
    assert seen == [
        {"type": "ping", "data": None},
        ("sent", {"type": "pong", "data": None}),
        "heartbeat",
        {"type": "message", "data": b"\x01"},
        ("sent", {"type": "message", "data": b"\x01"}),
        {"type": "message", "data": "hi"},
        ("sent", {"type": "message", "data": "hi"}),
    ]
