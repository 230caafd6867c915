"""Socket.IO v5 protocol conformance (and the Engine.IO v4 layer under it), against the
reference configuration of ``examples/protocol_suite/socketio_server.py``:

* ping interval 300 ms, ping timeout 200 ms, max payload 1 MB;
* on connection, each socket receives ``auth`` with the auth payload of its CONNECT packet;
* on the main namespace, ``message`` is answered with ``message-back`` and the same arguments,
  and ``message-with-ack`` is acknowledged with its own arguments;
* ``/custom`` is the only other namespace.

Each test checks one behaviour that the official Socket.IO protocol test suite checks. The
suite's Engine.IO-layer checks (handshake, heartbeat, close, upgrade) run against this server in
``test_engineio_protocol.py``, with the Engine.IO server's; so does its check that a connection
without a CONNECT packet is closed (``test_websocket_ping_timeout_closes_the_session``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from conformance import (
    WAIT,
    Reference,
    expect_closed,
    next_message,
    socketio_reference,
    websocket_session,
)
from helpers import WsConnection

PATH = "/socket.io/"
PLACEHOLDERS = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}'


@dataclass
class Running(Reference):
    io: Any


@pytest.fixture
async def server() -> AsyncIterator[Running]:
    async with socketio_reference() as (port, io):
        yield Running(port, PATH, io)


async def connected(server: Running) -> WsConnection:
    """A WebSocket connected to the main namespace, past the "auth" event."""
    ws = await websocket_session(server.port, PATH)
    ws.send_text("40")
    assert str(await next_message(ws)).startswith("40{")
    assert await next_message(ws) == '42["auth",{}]'
    return ws


def connect_reply(message: str | bytes, prefix: str) -> str:
    """Check a CONNECT reply (``prefix`` + ``{"sid": ...}``); return the socket id."""
    assert isinstance(message, str) and message.startswith(prefix), message
    data = json.loads(message[len(prefix) :])
    assert set(data) == {"sid"}
    assert isinstance(data["sid"], str) and data["sid"]
    return str(data["sid"])


# ================================================================= the Socket.IO layer
# ------------------------------------------------------------------------------ connect
async def test_connect_to_the_main_namespace(server: Running) -> None:
    async with await websocket_session(server.port, PATH) as ws:
        ws.send_text("40")
        connect_reply(await next_message(ws), "40")
        assert await next_message(ws) == '42["auth",{}]'


async def test_connect_to_the_main_namespace_with_a_payload(server: Running) -> None:
    async with await websocket_session(server.port, PATH) as ws:
        ws.send_text('40{"token":"123"}')
        connect_reply(await next_message(ws), "40")
        assert await next_message(ws) == '42["auth",{"token":"123"}]'


async def test_connect_to_a_custom_namespace(server: Running) -> None:
    async with await websocket_session(server.port, PATH) as ws:
        ws.send_text("40/custom,")
        connect_reply(await next_message(ws), "40/custom,")
        assert await next_message(ws) == '42/custom,["auth",{}]'


async def test_connect_to_a_custom_namespace_with_a_payload(server: Running) -> None:
    async with await websocket_session(server.port, PATH) as ws:
        ws.send_text('40/custom,{"token":"abc"}')
        connect_reply(await next_message(ws), "40/custom,")
        assert await next_message(ws) == '42/custom,["auth",{"token":"abc"}]'


async def test_connect_to_an_unknown_namespace_is_refused(server: Running) -> None:
    async with await websocket_session(server.port, PATH) as ws:
        ws.send_text("40/random")
        assert await next_message(ws) == '44/random,{"message":"Invalid namespace"}'


async def test_invalid_packet_before_connect_closes_the_connection(server: Running) -> None:
    async with await websocket_session(server.port, PATH) as ws:
        ws.send_text("4abc")
        await expect_closed(ws)


# ------------------------------------------------------------------------------ disconnect
async def test_disconnect_from_the_main_namespace(server: Running) -> None:
    async with await connected(server) as ws:
        ws.send_text("41")
        # the server does not answer, and keeps the Engine.IO session: the next thing is a ping
        assert await ws.recv(WAIT) == "2"


async def test_disconnect_from_a_custom_namespace_keeps_the_main_one(server: Running) -> None:
    async with await connected(server) as ws:
        ws.send_text("40/custom")
        connect_reply(await next_message(ws), "40/custom,")
        assert await next_message(ws) == '42/custom,["auth",{}]'
        ws.send_text("41/custom")
        ws.send_text('42["message","message to main namespace"]')
        assert await next_message(ws) == '42["message-back","message to main namespace"]'


# ------------------------------------------------------------------------------ messages
async def test_event(server: Running) -> None:
    async with await connected(server) as ws:
        ws.send_text('42["message",1,"2",{"3":[true]}]')
        assert await next_message(ws) == '42["message-back",1,"2",{"3":[true]}]'


async def test_event_with_binary_attachments(server: Running) -> None:
    async with await connected(server) as ws:
        ws.send_text(f'452-["message",{PLACEHOLDERS}]')
        ws.send_bytes(bytes([1, 2, 3]))
        ws.send_bytes(bytes([4, 5, 6]))
        assert await next_message(ws) == f'452-["message-back",{PLACEHOLDERS}]'
        assert await next_message(ws) == bytes([1, 2, 3])
        assert await next_message(ws) == bytes([4, 5, 6])


async def test_event_with_an_ack(server: Running) -> None:
    async with await connected(server) as ws:
        ws.send_text('42456["message-with-ack",1,"2",{"3":[false]}]')
        assert await next_message(ws) == '43456[1,"2",{"3":[false]}]'


async def test_event_with_binary_attachments_and_an_ack(server: Running) -> None:
    async with await connected(server) as ws:
        ws.send_text(f'452-789["message-with-ack",{PLACEHOLDERS}]')
        ws.send_bytes(bytes([1, 2, 3]))
        ws.send_bytes(bytes([4, 5, 6]))
        assert await next_message(ws) == f"462-789[{PLACEHOLDERS}]"
        assert await next_message(ws) == bytes([1, 2, 3])
        assert await next_message(ws) == bytes([4, 5, 6])


async def test_unknown_packet_type_closes_the_connection(server: Running) -> None:
    async with await connected(server) as ws:
        ws.send_text("4abc")
        await expect_closed(ws)


async def test_invalid_event_payload_closes_the_connection(server: Running) -> None:
    async with await connected(server) as ws:
        ws.send_text("42{}")
        await expect_closed(ws)


async def test_invalid_ack_id_closes_the_connection(server: Running) -> None:
    async with await connected(server) as ws:
        ws.send_text('42abc["message-with-ack",1,"2",{"3":[false]}]')
        await expect_closed(ws)
