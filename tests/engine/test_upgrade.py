"""The upgrade from long-polling to WebSocket, through both front doors."""

from __future__ import annotations

import asyncio
import os

from helpers import CLOSE, HttpConnection, WsConnection, WsRejected, eio_open, poll_url, ws_url


async def upgraded(port: int, conn: HttpConnection) -> tuple[str, WsConnection]:
    sid = (await eio_open(conn))["sid"]
    ws = await WsConnection.open(port, ws_url(sid))
    await ws.upgrade()
    return sid, ws


async def assert_refused(port: int, sid: str) -> None:
    """A WebSocket for a session already upgraded (or upgrading) is refused or closed at once,
    without a single message."""
    try:
        ws = await WsConnection.open(port, ws_url(sid))
    except WsRejected as exc:
        assert exc.response.status == 400
        assert exc.response.json()["code"] == 3
        return
    async with ws:
        opcode, _ = await ws.recv_frame()
        assert opcode == CLOSE


async def test_upgrade_flow(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as get, await HttpConnection.open(port) as post:
        sid = (await eio_open(get))["sid"]
        get.send_request("GET", poll_url(sid))  # pending while the upgrade starts
        await asyncio.sleep(0.05)
        async with await WsConnection.open(port, ws_url(sid)) as ws:
            assert app.engine.sessions[sid].upgrading
            ws.send_text("2probe")
            assert await ws.recv() == "3probe"
            # the pending GET is released with a noop
            response = await get.read_response()
            assert (response.status, response.text) == (200, "6")
            # messages sent during the upgrade are buffered, then go over the WebSocket
            assert (await post.request("POST", poll_url(sid), body="4during")).body == b"ok"
            app.sockets[sid].send_message(b"\x01binary")
            ws.send_text("5")
            assert await ws.recv() == "4during"
            assert await ws.recv() == b"\x01binary"
            assert app.sockets[sid].transport == "websocket"
            ws.send_text("4after")
            assert await ws.recv() == "4after"
            # polling on an upgraded session is a bad request
            response = await get.request("GET", poll_url(sid))
            assert response.status == 400
            assert response.json() == {"code": 3, "message": "Bad request"}
            response = await post.request("POST", poll_url(sid), body="4x")
            assert response.status == 400
            # the session is alive and well
            ws.send_text("4still")
            assert await ws.recv() == "4still"
    assert app.messages == ["during", "after", "still"]


async def test_upgrade_without_pending_get(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid, ws = await upgraded(port, conn)
        async with ws:
            ws.send_text("4hi")
            assert await ws.recv() == "4hi"
    assert await app.wait_closed(sid) in ("transport close", "transport error")


async def test_second_websocket_is_refused(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid, ws = await upgraded(port, conn)
        async with ws:
            ws.send_text("4one")
            assert await ws.recv() == "4one"
            await assert_refused(port, sid)
            # the first WebSocket is unaffected
            ws.send_text("4two")
            assert await ws.recv() == "4two"
    assert app.messages == ["one", "two"]


async def test_concurrent_upgrade_is_refused(serve, echo):
    port = await serve(echo())
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        async with await WsConnection.open(port, ws_url(sid)) as first:
            await assert_refused(port, sid)
            first.send_text("2probe")
            assert await first.recv() == "3probe"


async def test_upgrade_timeout_keeps_polling(serve, echo):
    app = echo(upgrade_timeout=0.2)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        async with await WsConnection.open(port, ws_url(sid)) as ws:
            ws.send_text("2probe")
            assert await ws.recv() == "3probe"
            await ws.expect_close(timeout=10.0)  # never sent "5"
        assert not app.sockets[sid].upgrading
        assert (await conn.request("POST", poll_url(sid), body="4poll")).body == b"ok"
        assert (await conn.request("GET", poll_url(sid))).text == "4poll"


async def test_bad_packet_during_upgrade(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        async with await WsConnection.open(port, ws_url(sid)) as ws:
            ws.send_text("4too early")
            code, _ = await ws.expect_close()
            assert code == 1002
        # the polling transport carries on
        assert (await conn.request("POST", poll_url(sid), body="4poll")).body == b"ok"
        assert (await conn.request("GET", poll_url(sid))).text == "4poll"


async def test_probe_websocket_dropped(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        ws = await WsConnection.open(port, ws_url(sid))
        ws.send_text("2probe")
        assert await ws.recv() == "3probe"
        ws.abort()
        for _ in range(100):
            if not app.sockets[sid].upgrading:
                break
            await asyncio.sleep(0.01)
        assert not app.sockets[sid].upgrading
        assert (await conn.request("POST", poll_url(sid), body="4poll")).body == b"ok"
        assert (await conn.request("GET", poll_url(sid))).text == "4poll"


async def test_rsv_garbage_after_upgrade(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid, ws = await upgraded(port, conn)
        async with ws:
            ws.send_text("4ok")
            assert await ws.recv() == "4ok"
            # RSV1-3 set, no extension negotiated, then random junk
            ws.send_raw(bytes([0xF1, 0x85]) + os.urandom(4) + b"hello" + os.urandom(64))
            if serve.name == "standalone":
                code, _ = await ws.expect_close()
                assert code == 1002
                await ws.wait_eof()
            else:
                # uvicorn may end the connection without a close frame
                try:
                    code, _ = await ws.expect_close()
                    assert code == 1002
                except EOFError:
                    pass
    assert await app.wait_closed(sid) == "transport error"
    # the server goes on: a new session
    async with await HttpConnection.open(port) as conn:
        assert (await eio_open(conn))["sid"] != sid
