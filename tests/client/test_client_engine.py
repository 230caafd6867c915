"""Client pieces on their own: backoff, URL parsing, and the engine against a scripted
long-polling server (heartbeat timeout, parse error, server close)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from aiosocketio.client import Backoff, Manager, connect, io, parse_url

from . import Recorder, other_tasks, wait_until


# ---------------------------------------------------------------------- backoff
def test_backoff_without_jitter_doubles_up_to_the_maximum() -> None:
    backoff = Backoff(min=1.0, max=5.0, jitter=0)
    assert [backoff.duration() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.duration() == 1.0


def test_backoff_jitter_stays_within_the_factor() -> None:
    backoff = Backoff(min=1.0, max=5.0, jitter=0.5, rand=random.Random(7))
    for attempt in range(20):
        base = min(1.0 * 2**attempt, 5.0)
        delay = backoff.duration()
        assert delay <= 5.0
        if 2**attempt < 5:
            assert 0.5 * 2**attempt - 0.001 <= delay <= 1.5 * 2**attempt
        else:
            assert delay <= base
    seen = {Backoff(1.0, 5.0, 0.5, rand=random.Random(seed)).duration() for seed in range(50)}
    assert len(seen) > 10 and min(seen) >= 0.5 and max(seen) <= 1.5


def test_backoff_survives_unlimited_attempts() -> None:
    backoff = Backoff(min=1.0, max=5.0, jitter=0.5)
    backoff.attempts = 5000
    assert backoff.duration() == 5.0


# ---------------------------------------------------------------------- URLs
def test_parse_url() -> None:
    url = parse_url("http://example.com:3000/chat?token=a&x=")
    assert (url.scheme, url.host, url.port, url.namespace) == ("http", "example.com", 3000, "/chat")
    assert url.query == {"token": "a", "x": ""}
    assert url.id("/socket.io") == "http://example.com:3000/socket.io"
    assert not url.secure
    assert parse_url("wss://example.com").port == 443
    assert parse_url("wss://example.com").secure
    assert parse_url("example.com").scheme == "https"
    assert parse_url("http://[::1]:8080/").id("/p") == "http://[::1]:8080/p"
    assert parse_url(None).host == "localhost" and parse_url(None).port == 80
    assert parse_url("http://h").namespace == "/"


# ---------------------------------------------------------------------- scripted server
class ScriptedPolling:
    """A raw HTTP/1.1 server that speaks just enough Engine.IO long-polling for a test:
    the handshake, then the payloads put in ``replies`` answer the GETs in turn (a GET
    waits while there is none); POST bodies are kept in ``posts``."""

    def __init__(
        self, ping_interval: int = 25000, ping_timeout: int = 20000, upgrades: Any = ()
    ) -> None:
        self.handshake = {
            "sid": "scripted",
            "upgrades": list(upgrades),
            "pingInterval": ping_interval,
            "pingTimeout": ping_timeout,
            "maxPayload": 100000,
        }
        self.replies: asyncio.Queue[str | None] = asyncio.Queue()
        self.close_after_post = False
        self.posts: list[str] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.handlers: list[asyncio.Task[Any]] = []
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, target, _ = lines[0].split(" ")
                headers = dict(line.split(": ", 1) for line in lines[1:] if line)
                body = await reader.readexactly(int(headers.get("Content-Length", 0)))
                query = parse_qs(urlsplit(target).query)
                if query.get("transport") == ["websocket"]:
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    continue
                if method == "POST":
                    self.posts.append(body.decode())
                    reply = "ok"
                elif "sid" not in query:
                    reply = "0" + json.dumps(self.handshake)
                else:
                    next_reply = await self.replies.get()
                    if next_reply is None:
                        return  # the test is over
                    reply = next_reply
                data = reply.encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                    + f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                if method == "POST" and self.close_after_post:
                    await writer.drain()
                    return  # as an idle keep-alive connection that the server closes
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{self.port}"
        finally:
            server.close()
            for _ in self.handlers:
                self.replies.put_nowait(None)
            await asyncio.wait_for(asyncio.gather(*self.handlers), 2)
            await server.wait_closed()


async def test_ping_timeout_when_the_server_goes_silent() -> None:
    fake = ScriptedPolling(ping_interval=100, ping_timeout=100)
    async with fake.running() as url:
        sock = io(url, force_new=True, transports=["polling"], reconnection=False)
        rec = Recorder()
        sock.on("disconnect", rec.handler("disconnect"))
        sock.io.on("close", rec.handler("close"))
        await wait_until(lambda: "40" in fake.posts)
        fake.replies.put_nowait('40{"sid":"abc"}')
        await sock.wait_connected(2)
        assert sock.id == "abc"
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await rec.wait("disconnect") == [("ping timeout",)]
        assert 0.1 < loop.time() - started < 10  # the short ping timeout, not the default
        assert rec["close"] == [("ping timeout",)]
        await sock.io.wait_closed()
    assert other_tasks() == []


async def test_pings_are_answered_and_rearm_the_timer() -> None:
    fake = ScriptedPolling(ping_interval=300, ping_timeout=300)
    async with fake.running() as url:
        sock = io(url, force_new=True, transports=["polling"], reconnection=False)
        await wait_until(lambda: "40" in fake.posts)
        fake.replies.put_nowait('40{"sid":"abc"}')
        await sock.wait_connected(2)
        for _ in range(4):  # 0.8 s of pings, past one 0.6 s deadline, each within it
            await asyncio.sleep(0.2)
            fake.replies.put_nowait("2")
        await wait_until(lambda: fake.posts.count("3") == 4)
        assert sock.connected
        await sock.disconnect()
        assert fake.posts[-2:] == ["41", "1"]  # DISCONNECT, then the Engine.IO close


async def test_parse_error_and_server_close() -> None:
    fake = ScriptedPolling()
    async with fake.running() as url:
        sock = io(url, force_new=True, transports=["polling"], reconnection=False)
        rec = Recorder()
        sock.on("disconnect", rec.handler("disconnect"))
        sock.on("hello", rec.handler("hello"))
        await wait_until(lambda: "40" in fake.posts)
        fake.replies.put_nowait('40{"sid":"abc"}\x1e42["hello",1]')
        await rec.wait("hello")
        fake.replies.put_nowait("4X")  # not a Socket.IO packet
        assert await rec.wait("disconnect") == [("parse error",)]
        await sock.io.wait_closed()

        sock = io(url, force_new=True, transports=["polling"], reconnection=False)
        sock.on("disconnect", rec.handler("closed"))
        await wait_until(lambda: fake.posts.count("40") == 2)
        fake.replies.put_nowait('40{"sid":"abc"}')
        await sock.wait_connected(2)
        fake.replies.put_nowait("1")  # the server closes the session
        assert await rec.wait("closed") == [("transport close",)]
        await sock.io.wait_closed()
    assert other_tasks() == []


async def test_polling_survives_the_server_closing_idle_connections() -> None:
    fake = ScriptedPolling()
    fake.close_after_post = True
    async with fake.running() as url:
        sock = io(url, force_new=True, transports=["polling"], reconnection=False)
        await wait_until(lambda: "40" in fake.posts)
        fake.replies.put_nowait('40{"sid":"abc"}')
        await sock.wait_connected(2)
        for n in range(3):
            sock.emit("n", n)
            await wait_until(lambda n=n: f'42["n",{n}]' in fake.posts)
            await asyncio.sleep(0.01)
        for n in range(3, 10):  # back to back: a POST may go out on a connection just closed
            sock.emit("n", n)
        await wait_until(lambda: '42["n",9]' in "\x1e".join(fake.posts))
        sent = "\x1e".join(fake.posts)
        assert [sent.index(f'42["n",{n}]') for n in range(10)] == sorted(
            sent.index(f'42["n",{n}]') for n in range(10)
        )
        assert sock.connected
        await sock.disconnect()
    assert other_tasks() == []


async def test_a_failed_upgrade_keeps_long_polling() -> None:
    fake = ScriptedPolling(upgrades=["websocket"])
    async with fake.running() as url:
        sock = io(url, force_new=True, reconnection=False)
        engine = sock.io.engine
        assert engine is not None
        rec = Recorder()
        engine.on("upgradeError", rec.handler("upgradeError"))
        engine.on("upgrade", rec.handler("upgrade"))
        sock.on("news", rec.handler("news"))
        await wait_until(lambda: "40" in fake.posts)
        fake.replies.put_nowait('40{"sid":"abc"}')
        await sock.wait_connected(2)
        [(error,)] = await rec.wait("upgradeError")
        assert "probe error" in str(error)
        assert engine.transport is not None and engine.transport.name == "polling"
        sock.emit("after", 1)
        fake.replies.put_nowait('42["news","still polling"]')
        assert await rec.wait("news") == [("still polling",)]
        await wait_until(lambda: '42["after",1]' in fake.posts)
        assert rec["upgrade"] == []
        await sock.disconnect()
    assert other_tasks() == []


async def test_refused_http_status_is_a_transport_error() -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"code":0,"message":"Transport unknown"}'
        writer.write(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        for transports in (["polling"], ["websocket"]):
            with pytest.raises(Exception) as info:
                await connect(f"http://127.0.0.1:{port}", force_new=True, reconnection=False,
                              transports=transports, wait_timeout=2)  # fmt: skip
            assert "400" in str(info.value)
    finally:
        server.close()
        await server.wait_closed()
    assert other_tasks() == []


async def test_manager_without_auto_connect_waits_for_a_socket() -> None:
    manager = Manager("http://127.0.0.1:9", auto_connect=False)
    sock = manager.socket("chat")
    assert sock.nsp == "/chat"
    assert manager.ready_state == "closed" and manager.engine is None
    assert not sock.active
    assert manager.socket("/chat") is sock
    await sock.disconnect()
    assert other_tasks() == []


def test_options_are_checked() -> None:
    async def main() -> Any:
        return Manager("http://localhost", transports=["carrier-pigeon"])

    with pytest.raises(ValueError, match="unknown transport"):
        asyncio.run(main())
