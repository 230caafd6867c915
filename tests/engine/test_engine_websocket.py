"""Engine.IO over a direct WebSocket through both front doors (standalone and uvicorn)."""

from __future__ import annotations

import asyncio

import pytest

from aiosocketio.engine.http import CorsPolicy
from aiosocketio.engine.socket import Outgoing
from aiosocketio.ws.handshake import build_request
from helpers import (
    BINARY,
    TEXT,
    ConnectionClosed,
    HttpConnection,
    WsConnection,
    WsRejected,
    assert_serves,
    eio_open,
    open_packet,
    ws_url,
)
from sioclient import until


async def test_direct_websocket_handshake(serve, echo):
    app = echo(max_http_buffer_size=5000, ping_interval=2.0, ping_timeout=1.0)
    port = await serve(app)
    async with await WsConnection.open(port, ws_url()) as ws:
        packet = open_packet(await ws.recv())
        assert set(packet) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
        assert packet["upgrades"] == []
        assert len(packet["sid"]) == 20
        assert (packet["pingInterval"], packet["pingTimeout"], packet["maxPayload"]) == (
            2000,
            1000,
            5000,
        )
        assert app.engine.sessions[packet["sid"]].transport == "websocket"


async def test_websocket_echo(serve, echo):
    app = echo()
    port = await serve(app)
    async with await WsConnection.open(port, ws_url()) as ws:
        open_packet(await ws.recv())
        ws.send_text("4hello ✓")
        assert await ws.recv() == "4hello ✓"
        ws.send_bytes(b"\x00\x01\xff")
        assert await ws.recv() == b"\x00\x01\xff"
        big = "4" + "z" * 70000
        ws.send_text(big)
        assert await ws.recv() == big
        for i in range(50):
            ws.send_text(f"4n{i}")
        assert [await ws.recv() for _ in range(50)] == [f"4n{i}" for i in range(50)]
    assert app.messages[:2] == ["hello ✓", b"\x00\x01\xff"]


async def test_websocket_heartbeat_and_timeout(serve, echo):
    # a pong timeout long enough for a stalled test process (it is also the client)
    app = echo(ping_interval=0.3, ping_timeout=1.0)
    port = await serve(app)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        for _ in range(2):
            assert await ws.recv(timeout=5.0) == "2"
            ws.send_text("3")
        assert await ws.recv(timeout=5.0) == "2"
        # no pong: the session dies and the server closes the WebSocket
        await ws.expect_close(timeout=10.0)
    assert await app.wait_closed(sid) == "ping timeout"
    await assert_serves(port)


async def test_pings_every_interval_when_the_timeout_is_longer(serve, echo):
    """ping_timeout > ping_interval (socket.io 2's 25 s / 60 s): after each pong the next
    ping is due ping_interval later, not when the pong deadline would have passed."""
    app = echo(ping_interval=0.1, ping_timeout=10.0)
    port = await serve(app)
    loop = asyncio.get_running_loop()
    async with await WsConnection.open(port, ws_url()) as ws:
        open_packet(await ws.recv())
        times = []
        for _ in range(4):
            assert await ws.recv(timeout=5.0) == "2"
            times.append(loop.time())
            ws.send_text("3")
    # three intervals of 0.1 s; waiting for the deadline each time would take 30 s
    assert times[-1] - times[0] < 10.0


async def test_client_ping_closes(serve, echo):
    app = echo()
    port = await serve(app)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        ws.send_text("2")
        await ws.expect_close()
    assert await app.wait_closed(sid) == "parse error"
    await assert_serves(port)


async def test_client_close_frame(serve, echo):
    app = echo()
    port = await serve(app)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        code, _ = await ws.close(1000)
        assert code == 1000
    assert await app.wait_closed(sid) == "transport close"
    assert sid not in app.engine.sessions


async def test_client_drops_the_connection(serve, echo):
    app = echo()
    port = await serve(app)
    ws = await WsConnection.open(port, ws_url())
    sid = open_packet(await ws.recv())["sid"]
    ws.abort()
    assert await app.wait_closed(sid) in ("transport close", "transport error")
    await assert_serves(port)


async def test_engine_close_packet(serve, echo):
    app = echo()
    port = await serve(app)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        ws.send_text("1")
        await ws.expect_close()
    assert await app.wait_closed(sid) == "transport close"


async def test_server_side_close(serve, echo):
    app = echo()
    port = await serve(app)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        app.sockets[sid].send_message("last words")
        app.sockets[sid].close()
        assert await ws.recv() == "4last words"
        await ws.expect_close()
    assert sid not in app.engine.sessions


async def test_frame_over_max_payload_is_1009(serve, echo):
    app = echo(max_http_buffer_size=1000)
    port = await serve(app)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        ws.send_text("4" + "y" * 999)  # exactly the limit
        assert await ws.recv() == "4" + "y" * 999
        ws.send_bytes(b"x" * 1001)
        code, _ = await ws.expect_close()
        assert code == 1009
    assert await app.wait_closed(sid) == "transport error"
    await assert_serves(port)


async def test_invalid_packet_closes(serve, echo):
    app = echo()
    port = await serve(app)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        ws.send_text("")
        await ws.expect_close()
    assert await app.wait_closed(sid) == "parse error"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("EIO=4&transport=websocket&sid=unknown", 1),
        ("EIO=3&transport=websocket", 5),
        ("EIO=4&transport=__proto__", 0),
        ("EIO=4&transport=polling", 3),
    ],
)
async def test_websocket_refused(serve, echo, query, code):
    port = await serve(echo())
    with pytest.raises(WsRejected) as info:
        await WsConnection.open(port, f"/engine.io/?{query}")
    response = info.value.response
    assert response.status == 400
    assert response.json()["code"] == code
    await assert_serves(port)


async def test_cross_site_websocket_refused(serve, echo):
    port = await serve(echo(cors=CorsPolicy(["http://app.example"])))
    with pytest.raises(WsRejected) as info:
        await WsConnection.open(port, ws_url(), headers=[("Origin", "http://evil.example")])
    assert info.value.response.status == 403
    assert info.value.response.json()["code"] == 4
    async with await WsConnection.open(
        port, ws_url(), headers=[("Origin", "http://app.example")]
    ) as ws:
        open_packet(await ws.recv())


@pytest.mark.parametrize("cors", [None, CorsPolicy(["http://app.example"])], ids=["off", "on"])
async def test_a_refused_origin_is_logged_once_with_the_option_to_set(serve, echo, caplog, cors):
    port = await serve(echo(cors=cors))
    for origin in ("http://evil.example", "http://evil.example", "http://other.example"):
        with pytest.raises(WsRejected):
            await WsConnection.open(port, ws_url(), headers=[("Origin", origin)])
    lines = [r.getMessage() for r in caplog.records if "refused a WebSocket" in r.getMessage()]
    assert [r.levelname for r in caplog.records if "refused a WebSocket" in r.getMessage()] == [
        "WARNING",
        "WARNING",
    ]
    assert "origin 'http://evil.example'" in lines[0]
    assert "origin 'http://other.example'" in lines[1]
    if cors is None:
        assert "pass cors=['http://evil.example'] (or cors='*') to the Server" in lines[0]
    else:
        assert "the cors option does not allow it" in lines[0]


async def test_websocket_only_server(serve, echo):
    port = await serve(echo(transports=["websocket"]))
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", "/engine.io/?EIO=4&transport=polling")
        assert response.json()["code"] == 0
    await assert_serves(port, polling=False)


async def test_broadcast_is_encoded_once(serve, echo):
    app = echo()
    port = await serve(app)
    clients = [await WsConnection.open(port, ws_url()) for _ in range(3)]
    try:
        for ws in clients:
            open_packet(await ws.recv())
        out = Outgoing(["4news", b"\x01\x02"])
        assert all(esock.write_outgoing(out) for esock in app.sockets.values())
        for ws in clients:
            assert await ws.recv() == "4news"
            assert await ws.recv() == b"\x01\x02"
    finally:
        for ws in clients:
            ws.abort()


async def test_polling_client_gets_the_broadcast(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        assert app.sockets[sid].write_outgoing(Outgoing(["4all", b"\x07"]))
        response = await conn.request("GET", f"/engine.io/?EIO=4&transport=polling&sid={sid}")
        assert response.packets == ["4all", "bBw=="]


async def test_messages_are_ordered_and_typed(serve, echo):
    port = await serve(echo())
    async with await WsConnection.open(port, ws_url()) as ws:
        open_packet(await ws.recv())
        for i in range(20):
            if i % 2:
                ws.send_bytes(bytes([i]))
            else:
                ws.send_text(f"4{i}")
        for i in range(20):
            opcode, payload = await ws.recv_frame()
            if i % 2:
                assert (opcode, payload) == (BINARY, bytes([i]))
            else:
                assert (opcode, payload) == (TEXT, f"4{i}")


async def test_recv_after_close_raises(serve, echo):
    app = echo()
    port = await serve(app)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        app.sockets[sid].close()
        with pytest.raises((ConnectionClosed, EOFError)):
            while True:
                await ws.recv(timeout=1.0)
    await asyncio.sleep(0)


async def test_async_allow_request(serve, echo):
    async def allow(request):
        await asyncio.sleep(0.02)
        return "nope" if "deny" in request.query else True

    app = echo(allow_request=allow)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        assert sid in app.engine.sessions
        response = await conn.request("GET", "/engine.io/?EIO=4&transport=polling&deny=1")
        assert response.status == 403
        assert response.json() == {"code": 4, "message": "nope"}
    async with await WsConnection.open(port, ws_url()) as ws:
        open_packet(await ws.recv())
        ws.send_text("4allowed")
        assert await ws.recv() == "4allowed"
    with pytest.raises(WsRejected) as info:
        await WsConnection.open(port, ws_url() + "&deny=1")
    assert info.value.response.status == 403
    assert info.value.response.json() == {"code": 4, "message": "nope"}


async def test_client_gone_before_the_upgrade_is_decided(serve, echo):
    decide = asyncio.Event()
    asked = asyncio.Event()

    async def allow(request):
        if "slow" in request.query:
            asked.set()
            await decide.wait()
        return True

    app = echo(allow_request=allow)
    port = await serve(app)
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    _key, request = build_request(f"127.0.0.1:{port}", ws_url() + "&slow=1")
    writer.write(request)
    await asyncio.wait_for(asked.wait(), 10.0)
    writer.transport.abort()
    await asyncio.sleep(0.05)  # the server may notice the abort before the decision, or not
    decide.set()
    await until(lambda: app.closed)
    assert app.closed[0][1] in ("transport error", "transport close")
    assert app.engine.sessions == {}
    await assert_serves(port)
