"""The session's events (Node: ``socket.conn.on(...)``): packets in and out, heartbeats,
the upgrade, the close."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from helpers import HttpConnection, WsConnection, eio_open, open_packet, poll_url, ws_url


def record(esock: Any, *events: str) -> list[tuple[Any, ...]]:
    seen: list[tuple[Any, ...]] = []
    for event in events:
        esock.on(event, lambda *args, event=event: seen.append((event, *args)))
    return seen


async def test_websocket_packets_heartbeat_and_close(serve, echo):
    app = echo(ping_interval=0.1, ping_timeout=1.0)
    port = await serve(app)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        esock = app.engine.sessions[sid]
        seen = record(esock, "packet", "packetCreate", "heartbeat", "close")
        ws.send_text("4hello")
        assert await ws.recv() == "4hello"  # the echo
        ws.send_bytes(b"\x01\x02")
        assert await ws.recv() == b"\x01\x02"
        assert await ws.recv(timeout=2.0) == "2"
        ws.send_text("3")
        await asyncio.sleep(0.05)
        esock.close("forced close")
        await ws.expect_close()
    assert seen[:6] == [
        ("packet", {"type": "message", "data": "hello"}),
        ("packetCreate", {"type": "message", "data": "hello"}),
        ("packet", {"type": "message", "data": b"\x01\x02"}),
        ("packetCreate", {"type": "message", "data": b"\x01\x02"}),
        ("packetCreate", {"type": "ping", "data": None}),
        ("packet", {"type": "pong", "data": None}),
    ]
    assert seen[6] == ("heartbeat",)
    assert seen[-1] == ("close", "forced close", None)
    assert esock._listeners is None  # released with the session


async def test_polling_packets_and_upgrade(serve, echo):
    app = echo()
    port = await serve(app)
    async with await HttpConnection.open(port) as get, await HttpConnection.open(port) as post:
        sid = (await eio_open(get))["sid"]
        esock = app.engine.sessions[sid]
        seen = record(esock, "packet", "upgrading", "upgrade")
        upgrades: list[str] = []
        esock.once("upgrade", upgrades.append)
        assert (await post.request("POST", poll_url(sid), body="4a\x1e4")).body == b"ok"
        async with await WsConnection.open(port, ws_url(sid)) as ws:
            await ws.upgrade()
            ws.send_text("4b")
            assert await ws.recv() in ("4a", "4b")
    assert seen[:2] == [
        ("packet", {"type": "message", "data": "a"}),
        ("packet", {"type": "message", "data": ""}),
    ]
    assert ("upgrading", "websocket") in seen and ("upgrade", "websocket") in seen
    assert seen.index(("upgrading", "websocket")) < seen.index(("upgrade", "websocket"))
    assert ("packet", {"type": "message", "data": "b"}) in seen
    assert upgrades == ["websocket"]


async def test_once_off_bad_names_and_failing_listeners(serve, echo, caplog):
    app = echo()
    port = await serve(app)
    async with await WsConnection.open(port, ws_url()) as ws:
        sid = open_packet(await ws.recv())["sid"]
        esock = app.engine.sessions[sid]
        with pytest.raises(ValueError, match="unknown event 'drain'"):
            esock.on("drain", print)
        once: list[Any] = []
        every: list[Any] = []
        esock.once("packet", once.append)

        @esock.on("packet")
        def broken(packet: Any) -> None:
            raise RuntimeError("boom")

        esock.on("packet", every.append)
        with caplog.at_level(logging.ERROR, "aiosocketio.engine"):
            ws.send_text("41")
            assert await ws.recv() == "41"
            esock.off("packet", broken)
            ws.send_text("42")
            assert await ws.recv() == "42"
            esock.off("packet")
            ws.send_text("43")
            assert await ws.recv() == "43"
    assert [p["data"] for p in once] == ["1"]
    assert [p["data"] for p in every] == ["1", "2"]
    assert caplog.text.count("error in a packet listener") == 1
