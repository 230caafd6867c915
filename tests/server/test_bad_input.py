"""Bad input at the Socket.IO level over a raw WebSocket.

Each input must close the connection (or, for an ordinary ``error`` event, be handled as an
event), never crash the server: a fresh client is served normally afterwards.
"""

from __future__ import annotations

import asyncio

import pytest

from sioclient import SioClient, SioServer, until

PLACEHOLDER = '{"_placeholder":true,"num":%s}'


@pytest.fixture
async def srv():
    async with SioServer() as server:
        server.io.on_event("echo", lambda socket, *args: args)
        server.io.of("/admin").on_event("echo", lambda socket, *args: args)
        yield server


async def assert_still_serving(srv: SioServer) -> None:
    client, _ = await srv.connected()
    assert await client.emit_with_ack("echo", 1, b"\x02") == [1, b"\x02"]
    await client.close()


async def assert_closes(client: SioClient, messages: list[str | bytes]) -> None:
    for message in messages:
        await client.send_raw(message)
    code = await client.wait_closed()
    assert code in (1000, 1002, 1005, 1007, 1009), code


# inputs sent before any namespace is joined
BEFORE_CONNECT = {
    "connect with a string": ['40"str"'],
    "connect with an array": ["40[]"],
    "connect with a number": ["40 1"],
    "connect with invalid json": ["40{"],
    "engine open packet from the client": ["0[]"],
    "disconnect with a payload": ["41/admin,{}"],
    "event before connecting": ['42["echo"]'],
    "ack before connecting": ["430[]"],
    "client connect error": ['44{"message":"x"}'],
    "empty socket.io packet": ["4"],
    "unknown packet type": ["47[]"],
    "packet type beyond digits": ["4:[]"],
    "client ping": ["2"],
    "unknown engine packet": ["9"],
    "binary frame when nothing is expected": [b"\x01\x02"],
}

# inputs sent after joining the main namespace
AFTER_CONNECT = {
    "splice placeholder": ['451-["echo",' + PLACEHOLDER % '"splice"' + "]", b"\x00"],
    "placeholder out of range": ['451-["echo",' + PLACEHOLDER % "1" + "]", b"\x00"],
    "negative placeholder": ['451-["echo",' + PLACEHOLDER % "-1" + "]", b"\x00"],
    "float placeholder": ['451-["echo",' + PLACEHOLDER % "0.5" + "]", b"\x00"],
    "zero attachments": ['450-["echo"]'],
    "letter attachments": ['45a-["echo"]'],
    "float attachments": ['451.23-["echo"]'],
    "eleven attachments": ['4511-["echo"]', *[b"x"] * 11],
    "huge attachment count": ["45" + "9" * 30 + '-["echo"]'],
    "text while waiting for attachments": ['451-["echo",' + PLACEHOLDER % "0" + "]", '42["x"]'],
    "object as event name": ['42[{"a":1}]'],
    "array as event name": ['42[["a"]]'],
    "null as event name": ["42[null]"],
    "empty event": ["42[]"],
    "event as object": ['42{"a":1}'],
    "event without payload": ["42"],
    "reserved event connect": ['42["connect"]'],
    "reserved event disconnect": ['42["disconnect"]'],
    "reserved event disconnecting": ['42["disconnecting"]'],
    "reserved event newListener": ['42["newListener"]'],
    "huge ack id": ["42" + "9" * 1000 + '["echo"]'],
    "ack id above max safe integer": ['429007199254740992["echo"]'],
    "unterminated event": ['442["some","data"'],
    "ack as object": ["43{}"],
    "event for a namespace not joined": ['42/admin,["echo"]'],
    "ack for a namespace not joined": ["43/admin,0[]"],
    "duplicate connect": ["40"],
    "client connect error when connected": ['44{"message":"x"}'],
    "binary frame with no pending attachments": [b"\xff"],
    "client ping": ["2"],
    "invalid disconnect payload": ['41"x"'],
}


@pytest.mark.parametrize("messages", BEFORE_CONNECT.values(), ids=BEFORE_CONNECT.keys())
async def test_closes_before_connect(srv, messages):
    client = await srv.client()
    await assert_closes(client, messages)
    await assert_still_serving(srv)


@pytest.mark.parametrize("messages", AFTER_CONNECT.values(), ids=AFTER_CONNECT.keys())
async def test_closes_after_connect(srv, messages):
    reasons: list[str] = []
    srv.io.on("connection", lambda socket: socket.on("disconnect", reasons.append))
    client, _ = await srv.connected()
    await assert_closes(client, messages)
    assert srv.io.sockets.sockets == {}
    assert reasons and reasons[0] in ("parse error", "transport close", "forced close")
    await assert_still_serving(srv)


async def test_invalid_utf8_text_frame(srv):
    from aiosocketio.ws.frames import TEXT

    client, _ = await srv.connected()
    client._frame(TEXT, b"42\xff\xfe")
    assert await client.wait_closed() == 1007
    await assert_still_serving(srv)


async def test_error_event_without_handler_is_an_ordinary_event(srv):
    client, _ = await srv.connected()
    await client.send_raw('42["error",1]')
    await client.send_raw('42["error",{"message":"x"}]')
    assert await client.emit_with_ack("echo", "alive") == ["alive"]
    assert not client.is_closed


async def test_error_event_with_a_handler(srv):
    got: list[object] = []
    srv.io.on_event("error", lambda socket, *args: got.append(args) or "handled")
    client, _ = await srv.connected()
    assert await client.emit_with_ack("error", 1) == ["handled"]
    assert got == [(1,)]


async def test_numeric_event_name_is_accepted(srv):
    seen: list[object] = []
    srv.io.on("connection", lambda socket: socket.on_any(lambda *args: seen.append(args)))
    client, _ = await srv.connected()
    await client.send_raw('42[1,"x"]')
    assert await client.emit_with_ack("echo") == []
    assert seen[0] == (1, "x")
    assert not client.is_closed


async def test_largest_safe_ack_id(srv):
    client, _ = await srv.connected()
    await client.send_raw('429007199254740991["echo","x"]')
    assert await client.next_raw() == '439007199254740991["x"]'


async def test_ten_attachments_are_fine(srv):
    client, _ = await srv.connected()
    args = ",".join(PLACEHOLDER % i for i in range(10))
    await client.send_raw(f'4510-0["echo",{args}]')
    for i in range(10):
        await client.send_raw(bytes([i]))
    packet = await client.next_packet()
    assert packet.id == 0
    assert packet.data == [bytes([i]) for i in range(10)]


async def test_namespace_disconnect_keeps_the_connection(srv):
    client, _ = await srv.connected()
    await client.connect("/admin")
    await client.send_raw("41/admin,")
    assert await client.emit_with_ack("echo", 1) == [1]  # read after the "41/admin,"
    assert srv.io.of("/admin").sockets == {}
    await client.send_raw("41")
    await until(lambda: srv.io.sockets.sockets == {})
    assert not client.is_closed
    await client.connect("/admin")


async def test_connect_while_connecting_closes(srv):
    release = asyncio.Event()

    @srv.io.use
    async def slow(socket):
        await release.wait()

    client = await srv.client()
    await client.send_raw("40")
    await client.send_raw("40")
    await client.wait_closed()
    release.set()
    await asyncio.sleep(0.01)
    assert srv.io.sockets.sockets == {}


async def test_many_bad_clients_at_once(srv):
    clients = [await srv.client() for _ in range(20)]
    bad = [
        '40"str"',
        '442["some","data"',
        "2",
        '42[{"a":1}]',
        '4511-["x"]',
    ]
    for i, client in enumerate(clients):
        await client.send_raw(bad[i % len(bad)])
    for client in clients:
        await client.wait_closed()
    assert srv.io.engine.clients_count == 0
    await assert_still_serving(srv)
