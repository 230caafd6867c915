"""What porting python-socketio programs showed missing in the native API: events no handler
takes, a per-packet logger, static directories, lifespan hooks, and on the client an async
``wait()`` and ``receive()``."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import NotConnected, Server
from aiosocketio.asgi import ASGIApp
from aiosocketio.client import connect
from aiosocketio.static import find_static, serve_static
from sioclient import SioServer, until
from test_asgi import Channel


# ---------------------------------------------------------------------- on_unhandled
async def test_unhandled_events_go_to_the_fallback_which_acks() -> None:
    io = Server()
    seen: list[Any] = []
    io.on_event("known", lambda socket, x: seen.append(("known", x)) or "k")
    io.sockets.on_unhandled(lambda socket, event, *args: (event, *args))
    chat = io.of(__import__("re").compile(r"^/room-\d+$"))
    chat.on_unhandled(lambda socket, event, *args: socket.nsp.name)
    async with SioServer(io) as srv:
        client, _ = await srv.connected("/")
        assert await client.emit_with_ack("known", 1) == ["k"]
        assert await client.emit_with_ack("other", 1, 2) == ["other", 1, 2]
        assert seen == [("known", 1)]
        await client.connect("/room-7")
        assert await client.emit_with_ack("x", nsp="/room-7") == ["/room-7"]


async def test_a_socket_listener_takes_the_event_from_the_fallback() -> None:
    io = Server()
    fallback: list[Any] = []
    io.sockets.on_unhandled(lambda socket, event, *args: fallback.append(event))
    io.on("connection", lambda socket: socket.on("mine", lambda: "own"))
    async with SioServer(io) as srv:
        client, _ = await srv.connected("/")
        assert await client.emit_with_ack("mine") == ["own"]
        await client.emit("theirs")
        await until(lambda: fallback == ["theirs"])


# ---------------------------------------------------------------------- log_packets
async def test_log_packets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosocketio.packets")
    io = Server(log_packets=True)
    io.on_event("hi", lambda socket, *args: args)
    async with SioServer(io) as srv:
        client, _ = await srv.connected("/")
        assert await client.emit_with_ack("hi", "there") == ["there"]
        await until(lambda: any("sent message 30" in r.getMessage() for r in caplog.records))
    lines = [r.getMessage() for r in caplog.records if r.name == "aiosocketio.packets"]
    assert any(line.endswith('received message 20["hi","there"]') for line in lines), lines
    assert any(line.endswith('sent message 30["there"]') for line in lines), lines


async def test_no_packet_log_by_default(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosocketio.packets")
    async with SioServer(Server()) as srv:
        client, _ = await srv.connected("/")
        await client.emit("x")
    assert [r for r in caplog.records if r.name == "aiosocketio.packets"] == []


# ---------------------------------------------------------------------- static directories
def test_find_static_directories(tmp_path: Path) -> None:
    public = tmp_path / "public"
    (public / "css").mkdir(parents=True)
    files = {
        "/": str(tmp_path / "index.html"),
        "/static/": str(public),
        "/app/": {"filename": str(public) + "/", "content_type": "text/x-ignored"},
        "/files": str(public),
    }
    assert find_static("/files/css/a.css", files) == (str(public / "css/a.css"), "text/css")
    assert find_static("/", files) == (str(tmp_path / "index.html"), "text/html")
    assert find_static("/static/css/site.css", files) == (str(public / "css/site.css"), "text/css")
    assert find_static("/static/", files) == (str(public / "index.html"), "text/html")
    assert find_static("/static/css/", files) == (str(public / "css/index.html"), "text/html")
    assert find_static("/app/a.js", files)[0] == str(public / "a.js")
    for bad in ("/static/../secret", "/static/css/../../x", "/static//etc/passwd", "/static/a\\b"):
        assert find_static(bad, files) is None, bad
    assert find_static("/other", files) is None


async def test_static_directory_on_both_front_doors(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.js").write_text("export {}")
    io = Server(static_files={"/static/": str(tmp_path)})
    channel = Channel({"type": "http.request", "body": b""})
    scope = {"type": "http", "path": "/static/js/app.js", "method": "GET", "headers": []}
    await io.asgi_app()(scope, channel.receive, channel.send)
    assert channel.sent[0]["status"] == 200 and channel.sent[1]["body"] == b"export {}"

    async with SioServer(io) as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"GET /static/js/app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = await reader.read()
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"export {}")


async def test_serve_static_answers(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text("<p>hi</p>")
    found = (str(page), "text/html")
    assert await serve_static("GET", found) == (
        200,
        [("Content-Type", "text/html"), ("Content-Length", "9")],
        b"<p>hi</p>",
    )
    status, headers, body = await serve_static("HEAD", found)
    assert (status, body) == (200, b"") and ("Content-Length", "9") in headers
    page.unlink()  # gone between the lookup and the read
    assert (await serve_static("GET", found))[0] == 404


async def test_static_head_and_vanished_file_on_both_front_doors(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("abc")
    io = Server(static_files={"/a.txt": str(tmp_path / "a.txt"), "/gone": str(tmp_path / "x")})
    for path, method, status, body in (
        ("/a.txt", "HEAD", 200, b""),
        ("/gone", "GET", 404, b"Not Found"),
    ):
        channel = Channel({"type": "http.request", "body": b""})
        scope = {"type": "http", "path": path, "method": method, "headers": []}
        await io.asgi_app()(scope, channel.receive, channel.send)
        assert channel.sent[0]["status"] == status and channel.sent[1]["body"] == body
        async with SioServer(io) as srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(
                f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
            )
            answer = await reader.read()
            writer.close()
        assert answer.startswith(f"HTTP/1.1 {status}".encode()), answer
        assert answer.endswith(b"\r\n\r\n" + body), answer


# ---------------------------------------------------------------------- lifespan hooks
async def test_lifespan_hooks() -> None:
    calls: list[str] = []

    async def start() -> None:
        calls.append("start")

    io = Server()
    app = io.asgi_app(on_startup=[start], on_shutdown=[lambda: calls.append("stop")])
    channel = Channel({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await app({"type": "lifespan"}, channel.receive, channel.send)
    assert calls == ["start", "stop"]
    assert [m["type"] for m in channel.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


async def test_a_failing_startup_hook_fails_the_startup() -> None:
    def broken() -> None:
        raise RuntimeError("no database")

    app = ASGIApp(Server(), on_startup=[broken])
    channel = Channel({"type": "lifespan.startup"})
    await app({"type": "lifespan"}, channel.receive, channel.send)
    assert channel.sent[0]["type"] == "lifespan.startup.failed"
    assert "no database" in channel.sent[0]["message"]


async def test_lifespan_hooks_with_another_app() -> None:
    calls: list[str] = []

    async def other(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            calls.append(message["type"])
            if message["type"] == "lifespan.shutdown":
                return

    app = ASGIApp(
        Server(),
        other,
        on_startup=[lambda: calls.append("start")],
        on_shutdown=[lambda: calls.append("stop")],
    )
    channel = Channel({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await app({"type": "lifespan"}, channel.receive, channel.send)
    assert calls == ["start", "lifespan.startup", "stop", "lifespan.shutdown"]


# ---------------------------------------------------------------------- client wait / receive
async def test_client_receive_and_wait() -> None:
    io = Server()

    @io.on("connection")
    def hello(socket: Any) -> None:
        socket.emit("welcome", "you")

    io.on_event("more", lambda socket: socket.emit("a", 1, 2) or socket.emit("bye") or None)
    io.on_event("leave", lambda socket: socket.disconnect())
    async with SioServer(io) as srv:
        sock = await connect(f"http://127.0.0.1:{srv.port}", reconnection=False)
        sock.on("bye", lambda: None)  # taken by a listener: not kept
        assert await sock.receive(timeout=5) == ["welcome", "you"]
        with pytest.raises(TimeoutError):
            await sock.receive(timeout=0.05)
        sock.emit("more")
        assert await sock.receive(timeout=5) == ["a", 1, 2]
        assert not await sock.wait(timeout=0.05)
        sock.emit("leave")
        assert await sock.wait(timeout=5)
        with pytest.raises(NotConnected):
            await sock.receive(timeout=5)


async def test_wait_returns_after_disconnect_by_the_client() -> None:
    async with SioServer(Server()) as srv:
        sock = await connect(f"http://127.0.0.1:{srv.port}")
        waiting = asyncio.ensure_future(sock.wait())
        await asyncio.sleep(0)
        assert not waiting.done()
        await sock.disconnect()
        assert await asyncio.wait_for(waiting, 5)


async def test_kept_events_are_bounded() -> None:
    io = Server()
    io.on_event("burst", lambda socket: [socket.emit("n", i) for i in range(5)] and None)
    async with SioServer(io) as srv:
        sock = await connect(f"http://127.0.0.1:{srv.port}")
        sock.keep_unheard(limit=2)
        sock.emit("burst")
        await until(
            lambda: (
                sock._inbox is not None and len(sock._inbox) == 2 and sock._inbox[-1] == ["n", 4]
            )
        )
        assert await sock.receive() == ["n", 3]
        with pytest.raises(ValueError):
            sock.keep_unheard(0)
        await sock.disconnect()


@pytest.mark.parametrize("fails", [False, True])
async def test_lifespan_hooks_when_the_other_app_has_no_lifespan(fails: bool) -> None:
    calls: list[str] = []

    async def http_only(scope: Any, receive: Any, send: Any) -> None:
        if fails:
            raise KeyError(scope["path"])  # a plain HTTP app that knows no lifespan

    app = ASGIApp(Server(), http_only, on_startup=[lambda: calls.append("start")])
    channel = Channel({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await app({"type": "lifespan"}, channel.receive, channel.send)
    assert calls == ["start"]
    assert [m["type"] for m in channel.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


async def test_asgi_app_starts_the_adapters_made_before_the_loop() -> None:
    from aiosocketio.adapters.memory import MemoryAdapter

    started: list[str] = []

    class Watched(MemoryAdapter):
        async def init(self) -> None:
            started.append(self.nsp.name)

    io = await asyncio.to_thread(lambda: Server(adapter=Watched))  # no event loop there
    assert started == []
    channel = Channel({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await io.asgi_app()({"type": "lifespan"}, channel.receive, channel.send)
    assert started == ["/"]
