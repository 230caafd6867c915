"""Socket.IO inside other ASGI applications: mounted in Starlette (or FastAPI), or wrapping
one as ``asgi_app(other_app)``, served by uvicorn and hypercorn in this event loop.

The application's own routes must keep answering, and clients must connect over
long-polling and WebSocket: the raw test clients always, the official socket.io-client
(Node, ``tests/interop/scenarios/options_mounting.js``) when Node and the npm packages are
installed.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from aiosocketio import ConnectionRefused, Server, Socket
from helpers import (
    HttpConnection,
    WsConnection,
    eio_open,
    node_or_skip,
    open_packet,
    poll_url,
    ws_url,
)
from servers import FrontDoor

INTEROP = Path(__file__).resolve().parent / "interop"
PATH = "/socket.io/"


# ---------------------------------------------------------------------- the official client
async def official_client(port: int, modes: str, *extra: str) -> list[dict[str, Any]]:
    """Run scenarios/options_mounting.js; return the JSON lines it printed."""
    proc = await asyncio.create_subprocess_exec(
        node_or_skip(),
        str(INTEROP / "scenarios" / "options_mounting.js"),
        str(port),
        modes,
        *extra,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(INTEROP),
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 15)
    except TimeoutError:
        proc.kill()
        await proc.communicate()
        pytest.fail("options_mounting.js did not finish within 15 s")
    assert proc.returncode == 0, stderr.decode(errors="replace")
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


def sessions(lines: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    return [(x["mode"], x["transport"], x["whoami"]) for x in lines if x["ev"] == "session"]


# ---------------------------------------------------------------------- applications
def socketio_server() -> Server:
    io = Server()

    def on_connection(socket: Socket) -> None:
        socket.on("whoami", lambda: socket.data.get("user", "anonymous"))

    io.on("connection", on_connection)
    return io


async def hello(request: StarletteRequest) -> PlainTextResponse:
    return PlainTextResponse("hello from starlette")


def mounted(io: Server) -> Starlette:
    """A Starlette application with the Socket.IO application mounted at its path."""
    return Starlette(routes=[Route("/hello", hello), Mount("/socket.io", app=io.asgi_app())])


def wrapped(io: Server) -> Any:
    """The Socket.IO application in front, Starlette for every other path."""
    return io.asgi_app(Starlette(routes=[Route("/hello", hello)]))


async def raw_clients(port: int, io: Server) -> None:
    """The application's route, then Engine.IO and Socket.IO with the raw clients."""
    async with await HttpConnection.open(port) as conn:
        response = await conn.request("GET", "/hello")
        assert (response.status, response.body) == (200, b"hello from starlette")
        assert (await conn.request("GET", "/nowhere")).status == 404
        sid = (await eio_open(conn, PATH))["sid"]
        assert (await conn.request("POST", poll_url(sid, PATH), body="40")).body == b"ok"
        response = await conn.request("GET", poll_url(sid, PATH))
        assert response.text.startswith('40{"sid":')
        # the upgrade of that session
        async with await WsConnection.open(port, ws_url(sid, PATH)) as ws:
            await ws.upgrade()
            ws.send_text('421["whoami"]')
            assert await ws.recv() == '431["anonymous"]'
    # a WebSocket-only session
    async with await WsConnection.open(port, ws_url(None, PATH)) as ws:
        open_packet(await ws.recv())
        ws.send_text("40")
        assert (await ws.recv())[:2] == "40"
        ws.send_text('427["whoami"]')
        assert await ws.recv() == '437["anonymous"]'
    for _ in range(100):
        if io.engine.clients_count == 0:
            break
        await asyncio.sleep(0.01)


def check_official(lines: list[dict[str, Any]], modes: str) -> None:
    assert lines[0] == {"ev": "http", "status": 200, "body": "hello from starlette"}
    expected = {"websocket": "websocket", "polling": "polling", "upgrade": "websocket"}
    assert sessions(lines) == [(m, expected[m], "anonymous") for m in modes.split(",")]


# ---------------------------------------------------------------------- uvicorn and hypercorn
@pytest.fixture(params=["uvicorn", "hypercorn"])
async def asgi_server(
    request: pytest.FixtureRequest, uvicorn_server: Any, hypercorn_server: Any
) -> FrontDoor:
    """Each ASGI server in turn: ``port = await asgi_server(app)``."""
    return FrontDoor(
        request.param, uvicorn_server if request.param == "uvicorn" else hypercorn_server
    )


async def test_starlette_mount(asgi_server):
    io = socketio_server()
    port = await asgi_server(mounted(io))
    await raw_clients(port, io)
    modes = "polling,websocket,upgrade"
    check_official(await official_client(port, modes), modes)
    io.engine.close_all()


async def test_asgi_app_wrapping_starlette(asgi_server):
    io = socketio_server()
    port = await asgi_server(wrapped(io))
    await raw_clients(port, io)
    modes = "polling,upgrade"
    check_official(await official_client(port, modes), modes)


# ---------------------------------------------------------------------- FastAPI
async def test_fastapi_shares_a_token_with_the_socketio_middleware(uvicorn_server):
    fastapi = pytest.importorskip("fastapi")
    tokens: dict[str, str] = {}  # token -> user, filled by an HTTP route, read by io.use
    api = fastapi.FastAPI()

    @api.post("/login")
    async def login(body: dict[str, str]) -> dict[str, str]:
        token = secrets.token_urlsafe(16)
        tokens[token] = body["user"]
        return {"token": token}

    @api.get("/hello")
    async def hello_route() -> PlainTextResponse:
        return PlainTextResponse("hello from starlette")

    io = socketio_server()

    @io.use
    def authenticate(socket: Socket) -> None:
        user = tokens.get(str(socket.handshake.auth.get("token")))
        if user is None:
            raise ConnectionRefused("unknown token", {"login": "/login"})
        socket.data["user"] = user

    api.mount("/socket.io", io.asgi_app())
    port = await uvicorn_server(api)

    # the raw clients: a token from the HTTP route opens the Socket.IO connection
    async with await HttpConnection.open(port) as conn:
        response = await conn.request(
            "POST",
            "/login",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"user": "grace"}),
        )
        token = response.json()["token"]
    async with await WsConnection.open(port, ws_url(None, PATH)) as ws:
        open_packet(await ws.recv())
        ws.send_text("40" + json.dumps({"token": "forged"}))
        assert json.loads((await ws.recv())[2:]) == {
            "message": "unknown token",
            "data": {"login": "/login"},
        }
        ws.send_text("40" + json.dumps({"token": token}))
        assert (await ws.recv())[:2] == "40"
        ws.send_text('421["whoami"]')
        assert await ws.recv() == '431["grace"]'

    # the official client: logs in over HTTP, then connects with the token
    lines = await official_client(port, "polling,websocket", "login")
    assert lines[1] == {"ev": "login", "status": 200}
    assert sessions(lines) == [("polling", "polling", "ada"), ("websocket", "websocket", "ada")]
    assert lines[-1] == {
        "ev": "refused",
        "mode": "websocket",
        "message": "unknown token",
        "data": {"login": "/login"},
    }
    assert sorted(tokens.values()) == ["ada", "grace"]
    io.engine.close_all()
