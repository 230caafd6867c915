"""The ASGI front door: routing, lifespan, static files, uvicorn and hypercorn (what it does
as the standalone server does is in test_front_doors.py and tests/engine/)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from aiosocketio.asgi import ASGIApp, _encode_headers
from helpers import (
    EIO,
    HttpConnection,
    WsConnection,
    WsRejected,
    eio_open,
    open_packet,
    poll_url,
    ws_url,
)
from sioclient import until

HANDSHAKE = f"{EIO}?EIO=4&transport=polling"


def starlette_app(events: list[str] | None = None) -> Starlette:
    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello from starlette")

    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("chat: " + await websocket.receive_text())
        await websocket.close()

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if events is not None:
            events.append("startup")
        yield
        if events is not None:
            events.append("shutdown")

    return Starlette(
        routes=[Route("/hello", hello), WebSocketRoute("/chat", chat)], lifespan=lifespan
    )


# ---------------------------------------------------------------------- with a real server
async def test_other_app_gets_the_other_paths(uvicorn_server, echo):
    app = echo()
    port = await uvicorn_server(ASGIApp(app.engine, starlette_app()))
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", "/hello")
        assert (response.status, response.body) == (200, b"hello from starlette")
        assert (await conn.request("GET", "/missing")).status == 404
        sid = (await eio_open(conn))["sid"]
        assert sid in app.engine.sessions
    async with await WsConnection.open(port, "/chat") as ws:
        ws.send_text("hi")
        assert await ws.recv() == "chat: hi"
    async with await WsConnection.open(port, ws_url()) as ws:
        open_packet(await ws.recv())


async def test_lifespan_without_other_app(uvicorn_server, echo):
    app = echo()
    port = await uvicorn_server(ASGIApp(app.engine))
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
        conn.send_request("GET", poll_url(sid))
        await asyncio.sleep(0.05)
        # what uvicorn does on shutdown: the lifespan shutdown closes every session
        app.engine.close_all()
        assert (await conn.read_response()).text == "1"
    assert app.engine.sessions == {}


async def test_lifespan_is_passed_to_the_other_app(echo):
    import uvicorn

    from servers import free_socket

    events: list[str] = []
    app = echo()
    sock = free_socket()
    server = uvicorn.Server(
        uvicorn.Config(ASGIApp(app.engine, starlette_app(events)), log_level="warning")
    )
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    for _ in range(300):
        if server.started:
            break
        await asyncio.sleep(0.01)
    port = sock.getsockname()[1]
    async with await HttpConnection.open(port) as conn:
        sid = (await eio_open(conn))["sid"]
    assert events == ["startup"]
    server.should_exit = True
    await asyncio.wait_for(task, 5)
    assert events == ["startup", "shutdown"]
    assert (sid, "forced server close") in app.closed  # closed at lifespan shutdown


async def test_static_files(uvicorn_server, echo, tmp_path):
    page = tmp_path / "index.html"
    page.write_text("<h1>chat</h1>")
    script = tmp_path / "app.js"
    script.write_text("console.log(1)")
    app = ASGIApp(
        echo().engine,
        static_files={
            "/": str(page),
            "/app.js": {"filename": str(script), "content_type": "text/javascript"},
            "/gone": str(tmp_path / "gone.txt"),
        },
    )
    port = await uvicorn_server(app)
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", "/")
        assert (response.status, response.body) == (200, b"<h1>chat</h1>")
        assert response.headers["content-type"].startswith("text/html")
        response = await conn.request("GET", "/app.js")
        assert response.headers["content-type"] == "text/javascript"
        assert response.body == b"console.log(1)"
        assert (await conn.request("GET", "/gone")).status == 404


async def test_hypercorn_smoke(hypercorn_server, echo):
    app = echo()
    port = await hypercorn_server(app)
    async with await HttpConnection.open(port) as conn:
        packet = await eio_open(conn)
        sid = packet["sid"]
        assert (await conn.request("POST", poll_url(sid), body="4hyper")).body == b"ok"
        assert (await conn.request("GET", poll_url(sid))).text == "4hyper"
        async with await WsConnection.open(port, ws_url(sid)) as ws:
            await ws.upgrade()
            ws.send_bytes(b"\x00bin")
            assert await ws.recv() == b"\x00bin"
        response = await conn.request("GET", f"{EIO}?EIO=4&transport=__proto__")
        assert response.json() == {"code": 0, "message": "Transport unknown"}
    with pytest.raises(WsRejected) as info:
        await WsConnection.open(port, ws_url("unknown"))
    assert info.value.response.status == 400
    async with await WsConnection.open(port, ws_url()) as ws:
        open_packet(await ws.recv())
        ws.send_text("4direct")
        assert await ws.recv() == "4direct"


# ---------------------------------------------------------------------- bare ASGI calls
class Channel:
    """Feeds ``receive`` and records ``send`` for one direct ASGI call."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for message in messages:
            self.incoming.put_nowait(message)
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def scope(kind: str, path: str, query: bytes = b"", **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "path": path,
        "query_string": query,
        "headers": extra.pop("headers", []),
        "client": ("127.0.0.1", 5555),
        "scheme": "http" if kind == "http" else "ws",
        **extra,
    }


async def test_websocket_reject_without_the_http_response_extension(echo):
    app = ASGIApp(echo().engine)
    channel = Channel({"type": "websocket.connect"})
    await app(
        scope("websocket", "/engine.io/", b"EIO=4&transport=websocket&sid=x"),
        channel.receive,
        channel.send,
    )
    assert channel.sent == [{"type": "websocket.close", "code": 1008}]


async def test_websocket_reject_with_the_http_response_extension(echo):
    app = ASGIApp(echo().engine)
    channel = Channel({"type": "websocket.connect"})
    await app(
        scope(
            "websocket",
            "/engine.io/",
            b"EIO=3&transport=websocket",
            extensions={"websocket.http.response": {}},
        ),
        channel.receive,
        channel.send,
    )
    start, body = channel.sent
    assert start["type"] == "websocket.http.response.start" and start["status"] == 400
    assert body["body"] == b'{"code":5,"message":"Unsupported protocol version"}'


async def test_websocket_message_over_limit(echo):
    app = echo(max_http_buffer_size=10)
    asgi = ASGIApp(app.engine)
    channel = Channel(
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "4short"},
        {"type": "websocket.receive", "text": "4" + "é" * 5},  # 11 bytes in UTF-8
    )
    task = asyncio.ensure_future(
        asgi(
            scope("websocket", "/engine.io/", b"EIO=4&transport=websocket"),
            channel.receive,
            channel.send,
        )
    )
    await until(lambda: any(m["type"] == "websocket.close" for m in channel.sent))
    channel.incoming.put_nowait({"type": "websocket.disconnect", "code": 1009})
    await asyncio.wait_for(task, 2)
    kinds = [m["type"] for m in channel.sent]
    assert kinds[0] == "websocket.accept"
    assert channel.sent[1]["text"].startswith("0{")
    assert channel.sent[2] == {"type": "websocket.send", "text": "4short"}
    assert channel.sent[-1] == {
        "type": "websocket.close",
        "code": 1009,
        "reason": "message too big",
    }
    assert app.messages == ["short"]
    assert app.closed and app.closed[0][1] == "transport error"


async def test_http_disconnect_while_reading_the_body(echo):
    asgi = ASGIApp(echo().engine)
    channel = Channel(
        {"type": "http.request", "body": b"4", "more_body": True}, {"type": "http.disconnect"}
    )
    await asgi(
        scope("http", "/engine.io/", b"EIO=4&transport=polling&sid=x", method="POST"),
        channel.receive,
        channel.send,
    )
    assert channel.sent == []


async def asgi_call(app: ASGIApp, method: str, query: bytes, channel: Channel) -> None:
    await app(scope("http", "/engine.io/", query, method=method), channel.receive, channel.send)


def request(body: bytes = b"") -> dict[str, Any]:
    return {"type": "http.request", "body": body, "more_body": False}


async def polling_session(app: ASGIApp) -> bytes:
    """A session opened with a bare ASGI call; the query of its requests."""
    channel = Channel(request())
    await asgi_call(app, "GET", b"EIO=4&transport=polling", channel)
    sid = open_packet(channel.sent[1]["body"])["sid"]
    return f"EIO=4&transport=polling&sid={sid}".encode()


async def test_a_pending_get_is_answered_and_leaves_no_task(echo):
    app = echo()
    asgi = ASGIApp(app.engine)
    query = await polling_session(asgi)
    sid = query.decode().split("sid=")[1]
    get = Channel(request())  # then nothing: the client waits
    pending = asyncio.ensure_future(asgi_call(asgi, "GET", query, get))
    await until(lambda: app.engine.sessions[sid]._poll is not None)
    get.incoming.put_nowait(request())  # another message than a disconnect: still waiting
    await asyncio.sleep(0.01)
    assert not pending.done()
    post = Channel(request(b"4hello"))
    await asgi_call(asgi, "POST", query, post)
    assert post.sent[1]["body"] == b"ok"
    await asyncio.wait_for(pending, 5.0)
    assert get.sent[1]["body"] == b"4hello"
    # the task that listened for a disconnect is cancelled, not left waiting
    await until(lambda: asyncio.all_tasks() == {asyncio.current_task()})


async def test_a_pending_get_whose_client_goes_away(echo):
    app = echo()
    asgi = ASGIApp(app.engine)
    query = await polling_session(asgi)
    sid = query.decode().split("sid=")[1]
    get = Channel(request())
    pending = asyncio.ensure_future(asgi_call(asgi, "GET", query, get))
    await until(lambda: app.engine.sessions[sid]._poll is not None)
    get.incoming.put_nowait({"type": "http.disconnect"})
    await asyncio.wait_for(pending, 5.0)
    assert get.sent == []
    assert await app.wait_closed(sid) == "transport error"


async def test_a_receive_that_returns_a_future(echo):
    """ASGI asks for an awaitable callable: a server's receive may return a future."""
    app = echo()
    asgi = ASGIApp(app.engine)
    query = await polling_session(asgi)
    sid = query.decode().split("sid=")[1]
    messages = [request()]
    gone: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    def receive() -> asyncio.Future[dict[str, Any]]:
        if messages:
            ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            ready.set_result(messages.pop())
            return ready
        return gone

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    pending = asyncio.ensure_future(
        asgi(scope("http", "/engine.io/", query, method="GET"), receive, send)
    )
    await until(lambda: app.engine.sessions[sid]._poll is not None)
    gone.set_result({"type": "http.disconnect"})
    await asyncio.wait_for(pending, 5.0)
    assert sent == []
    assert await app.wait_closed(sid) == "transport error"


def test_answer_headers_are_lower_case_bytes_in_a_new_list_each_time():
    headers = [("Content-Type", "text/plain"), ("X-Ünïcode", "é")]
    first = _encode_headers(headers)
    assert first == [(b"content-type", b"text/plain"), ("x-ünïcode".encode("latin-1"), b"\xe9")]
    first.append((b"x-added", b"by a middleware"))  # Starlette's MutableHeaders does this
    assert _encode_headers(headers) == first[:2]
    assert _encode_headers([["A", "1"]]) == [(b"a", b"1")]  # pairs as lists: not remembered


async def test_lifespan_messages(echo):
    app = echo()
    asgi = ASGIApp(app.engine)
    channel = Channel({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await asgi({"type": "lifespan"}, channel.receive, channel.send)
    assert channel.sent == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]
