"""What both front doors (the standalone server and the ASGI application under uvicorn) do
alike, each test run through each in turn by the ``serve`` fixture; where they differ, the
test says so with ``serve.name``."""

from __future__ import annotations

import pytest

from aiosocketio.asgi import ASGIApp
from aiosocketio.engine.server import EngineServer
from aiosocketio.transport import StandaloneServer
from helpers import (
    EIO,
    HttpConnection,
    WsConnection,
    WsRejected,
    assert_serves,
    eio_open,
    http_request,
    poll_url,
)

HANDSHAKE = f"{EIO}?EIO=4&transport=polling"


async def test_unknown_paths_are_404(serve, echo):
    """Without another application (ASGI) or fallback (standalone)."""
    port = await serve(echo())
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", "/hello")
        assert (response.status, response.body) == (404, b"Not Found")
        assert (await conn.request("GET", "/")).status == 404
        assert (await conn.request("POST", "/engine.io.x", body="x")).status == 404
        assert (await conn.request("GET", "/engine.iox/?EIO=4&transport=polling")).status == 404
        # the connection is still usable
        assert (await conn.request("GET", HANDSHAKE)).status == 200
    with pytest.raises(WsRejected) as info:
        await WsConnection.open(port, "/chat")
    # uvicorn answers 403 to a WebSocket the application closes before accepting it
    assert info.value.response.status == {"standalone": 404, "uvicorn": 403}[serve.name]


class HasEngine:
    """Like a Socket.IO Server to the front doors: an object with its engine as ``.engine``."""

    def __init__(self, engine: EngineServer) -> None:
        self.engine = engine


async def test_an_object_with_an_engine_is_served(serve, echo):
    app = echo()
    holder = HasEngine(app.engine)
    if serve.name == "standalone":
        assert StandaloneServer([holder]).routes == [app.engine]
        with pytest.raises(TypeError):
            StandaloneServer([object()])
        port = await serve([holder])
    else:
        asgi = ASGIApp(holder)
        assert asgi.engine is app.engine
        with pytest.raises(TypeError):
            ASGIApp(object())
        port = await serve(asgi)
    async with await HttpConnection.open(port) as conn:
        assert (await eio_open(conn))["sid"] in app.engine.sessions


async def test_content_length_over_limit_is_413_before_the_body(serve, echo):
    app = echo(max_http_buffer_size=1000)
    port = await serve(app)
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        head = f"POST {poll_url(sid)} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n"
        conn.send_raw(f"{head}Origin: http://a\r\n\r\n".encode() + b"4" * 1000)
        response = await conn.read_response()  # without waiting for the rest of the body
        assert (response.status, response.body) == (413, b"")
        assert response.headers["connection"] == "close"
        assert await conn.at_eof()
    assert sid in app.engine.sessions
    # one byte over, for a session that does not exist: the limit is checked first
    response = await http_request(port, "POST", poll_url("x"), body="4" * 1001)
    assert (response.status, response.body) == (413, b"")
    await assert_serves(port)
