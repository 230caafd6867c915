"""Connection state recovery with the in-memory adapter."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest

from aiosocketio.server.server import RecoveryOptions
from aiosocketio.server.socket import Socket
from aiosocketio.socketio.packets import BINARY_EVENT, CONNECT, EVENT
from aiosocketio.ws.frames import CLOSE, TEXT, encode_frame
from sioclient import SioClient, SioServer, until


@pytest.fixture
async def srv():
    async with SioServer(connection_state_recovery=True) as server:
        yield server


def capture(srv: SioServer) -> list[Socket]:
    sockets: list[Socket] = []
    srv.io.on("connection", sockets.append)
    return sockets


async def last_offset(client: SioClient, srv: SioServer) -> str:
    """Make the client receive one broadcast and return its offset."""
    srv.io.emit("mark")
    _, name, args = await client.next_event()
    assert name == "mark"
    assert isinstance(args[-1], str)
    return args[-1]


async def reconnect(srv: SioServer, pid: str, offset: str, **auth: Any) -> tuple[SioClient, list]:
    """A new client sending ``40{"pid","offset"}``: its packets, CONNECT reply included."""
    client = await srv.client()
    client.send_packet(CONNECT, "/", {"pid": pid, "offset": offset, **auth})
    packets = []
    while True:
        packet = await client.next_packet()
        packets.append(packet)
        if packet.type not in (EVENT, BINARY_EVENT):
            return client, packets


async def test_connect_reply_has_pid(srv):
    client = await srv.client()
    client.send_packet(CONNECT, "/", None)
    raw = await client.next_raw()
    reply = json.loads(raw[2:])
    assert raw.startswith("40{")
    assert set(reply) == {"sid", "pid"}
    assert isinstance(reply["pid"], str) and reply["pid"] != reply["sid"]


async def test_no_pid_without_recovery():
    async with SioServer() as srv:
        client = await srv.client()
        client.send_packet(CONNECT, "/", None)
        raw = await client.next_raw()
        assert set(json.loads(raw[2:])) == {"sid"}
        srv.io.emit("x", 1)
        assert await client.next_event() == ("/", "x", [1])


async def test_offsets_on_broadcasts_only(srv):
    sockets = capture(srv)
    client, _ = await srv.connected()
    socket = sockets[0]
    socket.join("room")

    srv.io.emit("all", 1)
    _, _, args = await client.next_event()
    assert args[0] == 1 and len(args) == 2 and isinstance(args[1], str)
    first = args[1]

    srv.io.to("room").emit("room", 2)
    _, _, args = await client.next_event()
    assert args[0] == 2 and len(args) == 2 and args[1] != first

    srv.io.volatile.emit("volatile", 3)
    assert await client.next_event() == ("/", "volatile", [3])

    task = asyncio.ensure_future(srv.io.timeout(1).emit_with_ack("ack", 4))
    packet = await client.next_event_packet()
    assert packet.data == ["ack", 4]
    client.ack(packet.id, "ok")
    assert await task == ["ok"]

    task = asyncio.ensure_future(socket.emit_with_ack("ack", 5))
    packet = await client.next_event_packet()
    assert packet.data == ["ack", 5]
    client.ack(packet.id)
    assert await task is None


async def test_single_socket_emit_carries_an_offset(srv):
    # socket.io 4.8 sends socket.emit() through the adapter when recovery is on: the event
    # gets an offset, and the official client takes the last string argument of every event
    # as its offset. Without one, `socket.emit("msg", "text")` would make it resume from
    # "text" and lose its session.
    sockets = capture(srv)
    client, _ = await srv.connected()
    sockets[0].emit("direct", "text")
    _, _, args = await client.next_event()
    assert args[0] == "text"
    assert len(args) == 2
    offset = args[1]
    srv.io.emit("later")
    sockets[0].volatile.emit("volatile", "v")
    await client.next_event()
    assert await client.next_event() == ("/", "volatile", ["v"])
    pid = client.last_connect["pid"]
    await client.close()
    _, packets = await reconnect(srv, pid, offset)
    assert [p.data[0] for p in packets[:-1]] == ["later"]
    assert packets[-1].data["sid"] == sockets[0].id


async def test_recovery_replays_missed_broadcasts(srv):
    sockets = capture(srv)
    client, sid = await srv.connected()
    pid = client.last_connect["pid"]
    socket = sockets[0]
    socket.join(["room", "other-room"])
    socket.data = {"user": "ann"}
    offset = await last_offset(client, srv)
    reasons: list[str] = []
    socket.on("disconnect", reasons.append)
    await client.close()
    await until(lambda: reasons)
    assert reasons == ["transport close"]

    io = srv.io
    io.emit("m1", 1)
    io.to("room").emit("m2", b"\x02")
    io.to("elsewhere").emit("skipped")
    io.except_("other-room").emit("skipped")
    io.volatile.emit("skipped")
    io.to(sid).emit("m3")
    io.to("elsewhere").to("room").emit("m4")

    fresh, packets = await reconnect(srv, pid, offset)
    *events, reply = packets
    assert [p.data[0] for p in events] == ["m1", "m2", "m3", "m4"]
    assert events[0].data[1] == 1
    assert events[1].data[1] == b"\x02"
    assert all(isinstance(p.data[-1], str) for p in events)
    assert reply.type == CONNECT
    assert reply.data == {"sid": sid, "pid": pid}

    restored = sockets[1]
    assert restored.id == sid
    assert restored.recovered is True
    assert restored.rooms == {sid, "room", "other-room"}
    assert restored.data == {"user": "ann"}
    assert sockets[0].recovered is False
    # and it works as usual afterwards
    io.to("room").emit("after")
    assert (await fresh.next_event())[1] == "after"


async def test_recovery_after_ping_timeout():
    options = RecoveryOptions()
    async with SioServer(
        connection_state_recovery=options, ping_interval=0.05, ping_timeout=0.05
    ) as srv:
        sockets = capture(srv)
        client, sid = await srv.connected()
        pid = client.last_connect["pid"]
        offset = await last_offset(client, srv)
        reasons: list[str] = []
        sockets[0].on("disconnect", reasons.append)
        client.auto_pong = False
        await until(lambda: reasons, timeout=10)
        assert reasons == ["ping timeout"]
        srv.io.emit("missed")
        fresh, packets = await reconnect(srv, pid, offset)
        assert [p.data[0] for p in packets[:-1]] == ["missed"]
        assert packets[-1].data["sid"] == sid
        fresh.auto_pong = True


async def test_recovery_skips_middlewares_by_default(srv):
    calls: list[str] = []
    srv.io.use(lambda socket: calls.append(socket.id))
    client, sid = await srv.connected()
    pid = client.last_connect["pid"]
    offset = await last_offset(client, srv)
    await client.close()
    _, packets = await reconnect(srv, pid, offset)
    assert packets[-1].data["sid"] == sid
    assert calls == [sid]


async def test_recovery_runs_middlewares_when_asked():
    options = RecoveryOptions(skip_middlewares=False)
    async with SioServer(connection_state_recovery=options) as srv:
        recovered: list[bool] = []
        srv.io.use(lambda socket: recovered.append(socket.recovered))
        client, sid = await srv.connected()
        pid = client.last_connect["pid"]
        offset = await last_offset(client, srv)
        await client.close()
        _, packets = await reconnect(srv, pid, offset)
        assert packets[-1].data["sid"] == sid
        assert recovered == [False, True]


async def test_expired_session_not_recovered():
    options = RecoveryOptions(max_disconnection_duration=0.05)
    async with SioServer(connection_state_recovery=options) as srv:
        sockets = capture(srv)
        client, sid = await srv.connected()
        pid = client.last_connect["pid"]
        offset = await last_offset(client, srv)
        await client.close()
        await asyncio.sleep(0.1)
        _, packets = await reconnect(srv, pid, offset)
        assert len(packets) == 1
        assert packets[0].data["sid"] != sid
        assert packets[0].data["pid"] != pid
        assert sockets[1].recovered is False


async def test_unknown_offset_not_recovered(srv):
    sockets = capture(srv)
    client, sid = await srv.connected()
    pid = client.last_connect["pid"]
    await last_offset(client, srv)
    await client.close()
    _, packets = await reconnect(srv, pid, "no-such-offset")
    assert packets[-1].data["sid"] != sid
    assert sockets[1].recovered is False


async def test_unknown_pid_not_recovered(srv):
    client, _ = await srv.connected()
    offset = await last_offset(client, srv)
    _, packets = await reconnect(srv, "no-such-pid", offset)
    assert packets[-1].type == CONNECT


async def test_session_recovered_once(srv):
    client, sid = await srv.connected()
    pid = client.last_connect["pid"]
    offset = await last_offset(client, srv)
    await client.close()
    _, packets = await reconnect(srv, pid, offset)
    assert packets[-1].data["sid"] == sid
    _, packets = await reconnect(srv, pid, offset)
    assert packets[-1].data["sid"] != sid


@pytest.mark.parametrize("who", ["server", "client"])
async def test_deliberate_disconnect_not_persisted(srv, who):
    sockets = capture(srv)
    client, sid = await srv.connected()
    pid = client.last_connect["pid"]
    offset = await last_offset(client, srv)
    if who == "server":
        sockets[0].disconnect()
    else:
        await client.disconnect()
    await until(lambda: not sockets[0].connected)
    await client.close()
    _, packets = await reconnect(srv, pid, offset)
    assert packets[-1].data["sid"] != sid
    assert sockets[1].recovered is False


@pytest.mark.parametrize("known", [True, False])
async def test_recovery_on_a_closed_connection_does_not_leak(srv, known):
    client, _ = await srv.connected()
    pid = client.last_connect["pid"] if known else "unknown-pid"
    offset = await last_offset(client, srv)
    await client.close()
    other = await srv.client()
    # CONNECT with a pid, then the connection closes before the session is restored: both
    # frames in one write, so that the server reads them together
    connect = "40" + json.dumps({"pid": pid, "offset": offset})
    other.ws.writer.write(
        encode_frame(TEXT, connect.encode(), mask=os.urandom(4))
        + encode_frame(CLOSE, b"\x03\xe8", mask=os.urandom(4))
    )
    await other.wait_closed()
    await until(lambda: srv.io.sockets.sockets == {} and srv.io.sockets.adapter.sids == {})
