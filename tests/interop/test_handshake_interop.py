"""What the official socket.io-client reads from ``socket.handshake`` and from a ``datetime``
sent by aiosocketio's server, compared with what it reads from a socket.io 4.8 server
(``scenarios/handshake.js`` against both)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aiosocketio import Server, Socket
from aiosocketio.socketio.msgpack_parser import MsgpackParser

pytestmark = pytest.mark.interop

RunNode = Callable[..., Awaitable[list[dict[str, Any]]]]
ServerFactory = Callable[..., Awaitable[tuple[Server, int]]]
StartNode = Callable[..., Awaitable[Any]]

DATE = dt.datetime(2026, 12, 6, 9, 42, 33, 740999, tzinfo=dt.UTC)  # Node: ms, cut


def by_event(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line.pop("ev"): line for line in lines}


async def python_server(serve: ServerFactory, **options: Any) -> int:
    io, port = await serve(**options)

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.on("handshake", lambda: socket.handshake)
        socket.on("date", lambda: DATE)
        if socket.handshake.query.get("push") == "handshake":
            socket.emit("handshake", socket.handshake)

    return port


@pytest.mark.parametrize("mode", ["websocket", "polling"])
async def test_the_client_reads_what_node_sends(
    serve: ServerFactory, run_node: RunNode, node_server: StartNode, mode: str
) -> None:
    node = by_event(await run_node("handshake", (await node_server()).port, mode))
    ours = by_event(await run_node("handshake", await python_server(serve), mode))
    assert ours == node
    assert [key for key, _ in ours["ack"]["shape"]] == [
        "headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth",
    ]  # fmt: skip
    assert ours["ack"]["timeParses"] and ours["ack"]["timeIsIssued"]
    assert ours["ack"]["auth"] == {"token": "t"}
    assert ours["date"] == {"value": "2026-12-06T09:42:33.740Z"}


async def test_through_the_msgpack_parser(serve: ServerFactory, run_node: RunNode) -> None:
    port = await python_server(serve, parser=MsgpackParser())
    ours = by_event(await run_node("handshake", port, "websocket", "msgpack"))
    expected_types = {
        "headers": "object", "time": "string", "address": "string", "xdomain": "boolean",
        "secure": "boolean", "issued": "number", "url": "string", "query": "object",
        "auth": "object",
    }  # fmt: skip
    for ev in ("emitted", "ack"):
        assert ours[ev]["shape"] == [list(item) for item in expected_types.items()]
        assert ours[ev]["timeParses"] and ours[ev]["timeIsIssued"] and ours[ev]["issuedIsNow"]
        assert ours[ev]["auth"] == {"token": "t"} and ours[ev]["q"] == "1"
    # a Date, as the Node msgpack parser sends one
    assert ours["date"] == {"value": {"$date": "2026-12-06T09:42:33.740Z"}}
