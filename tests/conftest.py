"""Shared fixtures: servers on free ports of 127.0.0.1 (standalone, uvicorn, hypercorn)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from aiosocketio import Server
from aiosocketio.asgi import ASGIApp
from aiosocketio.engine.server import EngineServer
from aiosocketio.transport import StandaloneServer
from servers import EchoEngine, FrontDoor, free_port, free_socket

StartStandalone = Callable[..., Awaitable[int]]
StartASGI = Callable[[Any], Awaitable[int]]


@pytest.fixture
def echo() -> Callable[..., EchoEngine]:
    """Factory of echo engines: ``echo(ping_interval=0.3, ...)``."""
    return EchoEngine


@pytest.fixture
async def standalone() -> AsyncIterator[StartStandalone]:
    """``port = await standalone(engine_or_routes, **server_options)``."""
    servers: list[StandaloneServer] = []

    async def start(routes: Any, **options: Any) -> int:
        if isinstance(routes, EchoEngine):
            routes = routes.engine
        server = StandaloneServer(routes, **options)
        await server.start("127.0.0.1", 0)
        servers.append(server)
        return server.port

    yield start
    for server in servers:
        await server.close(timeout=1.0)


@pytest.fixture
async def uvicorn_server() -> AsyncIterator[StartASGI]:
    """``port = await uvicorn_server(asgi_app)``: uvicorn in this event loop."""
    import uvicorn

    running: list[tuple[Any, asyncio.Task[None], Any]] = []

    async def start(app: Any) -> int:
        if isinstance(app, EchoEngine):
            app = ASGIApp(app.engine)
        sock = free_socket()
        config = uvicorn.Config(
            app, log_level="warning", timeout_graceful_shutdown=1, lifespan="on", ws="wsproto"
        )
        server = uvicorn.Server(config)
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        running.append((server, task, app))
        for _ in range(300):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()
        assert server.started
        return int(sock.getsockname()[1])

    yield start
    # each server put its signal handler in place of the one before and puts that one back
    # when it stops: stopped last first, the process keeps no server's handler (and app)
    for server, task, app in reversed(running):
        engine = getattr(app, "engine", None)
        if isinstance(engine, EngineServer):
            engine.close_all()
        server.should_exit = True
        await asyncio.wait_for(task, 5)


@pytest.fixture
async def hypercorn_server() -> AsyncIterator[StartASGI]:
    """``port = await hypercorn_server(asgi_app)``: hypercorn in this event loop."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    running: list[tuple[asyncio.Event, asyncio.Task[None], Any]] = []

    async def start(app: Any) -> int:
        if isinstance(app, EchoEngine):
            app = ASGIApp(app.engine)
        port = free_port()
        config = Config()
        config.bind = [f"127.0.0.1:{port}"]
        config.graceful_timeout = 1.0
        config.accesslog = None
        config.errorlog = logging.getLogger("hypercorn.test")
        shutdown = asyncio.Event()
        task = asyncio.ensure_future(serve(app, config, shutdown_trigger=shutdown.wait))  # type: ignore[arg-type]
        running.append((shutdown, task, app))
        for _ in range(300):
            if task.done():
                task.result()
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            writer.close()
            await writer.wait_closed()
            return port
        raise AssertionError("hypercorn did not start")

    yield start
    for shutdown, task, app in running:
        engine = getattr(app, "engine", None)
        if isinstance(engine, EngineServer):
            engine.close_all()
        shutdown.set()
        await asyncio.wait_for(task, 5)


@pytest.fixture(params=["standalone", "uvicorn"])
async def serve(
    request: pytest.FixtureRequest,
    standalone: StartStandalone,
    uvicorn_server: StartASGI,
) -> FrontDoor:
    """Start an echo engine behind each front door in turn: ``port = await serve(app)``;
    ``serve.name`` is "standalone" or "uvicorn"."""
    if request.param == "standalone":
        return FrontDoor("standalone", standalone)
    return FrontDoor("uvicorn", uvicorn_server)


@pytest.fixture(params=["standalone", "uvicorn"])
async def serve_io(
    request: pytest.FixtureRequest, uvicorn_server: StartASGI
) -> AsyncIterator[FrontDoor]:
    """A Socket.IO server behind each front door in turn: ``port = await serve_io(io)``
    (``Server.start``, or its ``asgi_app()`` under uvicorn); closed at the end."""
    started: list[Server] = []

    async def start(io: Server) -> int:
        started.append(io)
        if request.param == "standalone":
            return (await io.start("127.0.0.1", 0)).port
        return await uvicorn_server(io.asgi_app())

    yield FrontDoor(request.param, start)
    for io in started:
        await io.close()
