"""The Python client against aiosocketio's own server, started in the test's event loop."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import AckTimeout, ConnectionRefused, NotConnected, Server
from aiosocketio import Socket as ServerSocket
from aiosocketio.client import Engine, Manager, Socket, TransportError, connect, io

from . import Recorder, other_tasks, running, wait_until

MODES = {
    "websocket": ["websocket"],
    "polling": ["polling"],
    "upgrade": ["polling", "websocket"],
}


def client_options(mode: str, **options: Any) -> dict[str, Any]:
    options.setdefault("force_new", True)
    options.setdefault("reconnection", False)
    return {"transports": MODES[mode], "wait_timeout": 3, **options}


async def wait_transport(sock: Socket, name: str) -> None:
    await wait_until(
        lambda: (
            sock.io.engine is not None
            and sock.io.engine.transport is not None
            and sock.io.engine.transport.name == name
        )
    )


# ---------------------------------------------------------------------- events and acks
@pytest.mark.parametrize("mode", MODES)
async def test_events_and_acks_both_ways(mode: str) -> None:
    results: dict[str, Any] = {}
    done = asyncio.Event()

    def on_connection(socket: ServerSocket) -> None:
        socket.on("add", lambda a, b: a + b)
        socket.on("many", lambda: (1, "two", [3]))
        socket.on("hello", lambda *args: results.setdefault("hello", args))

        async def ask() -> None:
            results["sync"] = await socket.emit_with_ack("double", 21, timeout=2)
            results["async"] = await socket.emit_with_ack("slow-double", 4, timeout=2)
            results["kwarg"] = await socket.emit_with_ack("ack-kwarg", "x", timeout=2)
            results["none"] = await socket.emit_with_ack("no-answer-value", timeout=2)
            socket.emit("welcome", {"n": 1}, [1, 2])
            done.set()

        socket.on("ready", lambda: asyncio.ensure_future(ask()))

    async with running() as (server, port):
        server.on("connection", on_connection)
        sock = await connect(f"http://127.0.0.1:{port}", **client_options(mode))
        rec = Recorder()
        sock.on("welcome", rec.handler("welcome"))
        sock.on("double", lambda n: n * 2)

        async def slow_double(n: int) -> int:
            await asyncio.sleep(0.01)
            return n * 2

        sock.on("slow-double", slow_double)
        sock.on("ack-kwarg", lambda value, *, ack: ack(value, value))
        sock.on("no-answer-value", lambda: None)

        assert sock.connected and sock.id
        assert await sock.emit_with_ack("add", 2, 3) == 5
        assert await sock.emit_with_ack("many") == (1, "two", [3])
        got: list[Any] = []
        sock.emit("add", 1, 1, callback=lambda *args: got.append(args))
        sock.emit("hello", "world", {"a": None})
        sock.emit("ready")
        await asyncio.wait_for(done.wait(), 3)
        assert await rec.wait("welcome") == [({"n": 1}, [1, 2])]
        assert got == [(2,)]
        assert results["hello"] == ("world", {"a": None})
        assert results["sync"] == 42
        assert results["async"] == 8
        assert results["kwarg"] == ("x", "x")
        assert results["none"] is None
        if mode == "upgrade":
            await wait_transport(sock, "websocket")
        assert sock.io.engine is not None and sock.io.engine.transport is not None
        assert sock.io.engine.transport.name == ("polling" if mode == "polling" else "websocket")
        await sock.disconnect()
        assert not sock.connected
        assert other_tasks() == []


@pytest.mark.parametrize("mode", MODES)
async def test_binary_round_trips(mode: str) -> None:
    blob = bytes(range(256)) * 400  # 100 KiB
    received: list[Any] = []

    def on_connection(socket: ServerSocket) -> None:
        socket.on("echo", lambda *args: args)
        socket.on("upload", lambda *args: received.append(args))
        socket.emit("from-server", {"raw": b"\x00\xff", "list": [b"", b"abc"]}, blob)

    async with running() as (server, port):
        server.on("connection", on_connection)
        rec = Recorder()
        sock = io(f"http://127.0.0.1:{port}", force_new=True, transports=MODES[mode])
        sock.on("from-server", rec.handler("from-server"))
        await sock.wait_connected(3)
        payload = {"a": b"\x01\x02", "nested": [{"b": bytearray(b"xyz")}, blob]}
        assert await sock.emit_with_ack("echo", payload, b"tail") == (
            {"a": b"\x01\x02", "nested": [{"b": b"xyz"}, blob]},
            b"tail",
        )
        sock.emit("upload", memoryview(b"view"), "text")
        [(first, second)] = await rec.wait("from-server")
        assert first == {"raw": b"\x00\xff", "list": [b"", b"abc"]}
        assert second == blob
        await wait_until(lambda: received == [(b"view", "text")])
        await sock.disconnect()


async def test_ack_timeouts() -> None:
    outcome: dict[str, Any] = {}

    def on_connection(socket: ServerSocket) -> None:
        socket.on("never", lambda *args, ack: None)

        async def ask() -> None:
            try:
                await socket.emit_with_ack("ignored", timeout=0.2)
            except AckTimeout as exc:
                outcome["server"] = exc

        socket.on("ask", lambda: asyncio.ensure_future(ask()))

    async with running() as (server, port):
        server.on("connection", on_connection)
        sock = await connect(f"http://127.0.0.1:{port}", **client_options("websocket"))
        sock.on("ignored", lambda *, ack: None)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(AckTimeout, match="operation has timed out"):
            await sock.timeout(0.2).emit_with_ack("never")
        assert 0.15 < loop.time() - started < 10
        with pytest.raises(AckTimeout):
            await sock.emit_with_ack("never", timeout=0.1)
        errors: list[Any] = []
        sock.timeout(0.1).emit("never", 1, callback=lambda *args: errors.append(args))
        await wait_until(lambda: len(errors) == 1)
        assert isinstance(errors[0][0], AckTimeout) and len(errors[0]) == 1
        sock.emit("ask")
        await wait_until(lambda: "server" in outcome)
        assert isinstance(outcome["server"], AckTimeout)
        await sock.disconnect()


async def test_ack_timeout_option_and_pending_acks_on_disconnect() -> None:
    async with running() as (server, port):
        server.on(
            "connection",
            lambda s: (s.on("add", lambda a, b: a + b), s.on("never", lambda *, ack: None)),
        )
        url = f"http://127.0.0.1:{port}"
        sock = await connect(url, ack_timeout=1.0, **client_options("websocket"))
        answers: list[Any] = []
        sock.emit("add", 1, 2, callback=lambda *args: answers.append(args))
        await wait_until(lambda: answers == [(None, 3)])  # error first with ack_timeout
        with pytest.raises(AckTimeout):
            await sock.emit_with_ack("never")
        # an acknowledgement still awaited when the socket disconnects fails at once
        pending = asyncio.ensure_future(sock.emit_with_ack("never", timeout=5))
        await asyncio.sleep(0.05)
        closed = sock.disconnect()
        with pytest.raises(NotConnected, match="socket has been disconnected"):
            await pending
        await closed


# ---------------------------------------------------------------------- namespaces, auth
async def test_namespaces_share_one_connection_and_send_auth() -> None:
    seen: dict[str, Any] = {}

    async def check(socket: ServerSocket) -> None:
        await asyncio.sleep(0.01)
        if socket.handshake.auth.get("token") != "secret":
            raise ConnectionRefused("not authorized", {"code": 401})

    async with running() as (server, port):
        admin = server.of("/admin")
        admin.use(check)
        admin.on("connection", lambda s: seen.setdefault("admin", s.handshake.auth))
        server.of("/sync").on("connection", lambda s: seen.setdefault("sync", s.handshake.auth))
        server.on("connection", lambda s: s.on("whoami", lambda: s.nsp.name))
        url = f"http://127.0.0.1:{port}"

        async def token() -> dict[str, str]:
            await asyncio.sleep(0.01)
            return {"token": "secret"}

        main = io(url, transports=["websocket"])
        adm = io(url + "/admin", auth=token)
        other = io(url + "/sync", auth=lambda: {"token": "sync"})
        for sock in (main, adm, other):
            await sock.wait_connected(3)
        assert main.io is adm.io is other.io
        assert len(server.engine.sessions) == 1
        assert seen == {"admin": {"token": "secret"}, "sync": {"token": "sync"}}
        assert await main.emit_with_ack("whoami") == "/"
        # the same namespace again gets a Manager of its own; so does force_new
        again = io(url, transports=["websocket"])
        fresh = io(url + "/sync", force_new=True, transports=["websocket"])
        assert again.io is not main.io and fresh.io is not main.io
        await again.wait_connected(3)
        await fresh.wait_connected(3)
        assert len(server.engine.sessions) == 3
        await again.disconnect()
        await fresh.disconnect()
        # leaving one namespace keeps the shared connection for the others
        await main.disconnect()
        assert adm.connected and adm.io.ready_state == "open"
        await adm.disconnect()
        await other.disconnect()
        assert adm.io.ready_state == "closed"
        await wait_until(lambda: not server.engine.sessions)
        assert other_tasks() == []


@pytest.mark.parametrize("mode", ["websocket", "polling"])
async def test_middleware_refusal(mode: str) -> None:
    def refuse(socket: ServerSocket) -> None:
        raise ConnectionRefused("not authorized", {"code": 401, "why": ["no token"]})

    async with running() as (server, port):
        server.use(refuse)
        url = f"http://127.0.0.1:{port}"
        with pytest.raises(ConnectionRefused) as info:
            await connect(url, **client_options(mode, reconnection=True))
        assert info.value.message == "not authorized"
        assert info.value.data == {"code": 401, "why": ["no token"]}
        # as a connect_error event, and without any reconnection
        sock = io(url, force_new=True, transports=MODES[mode], reconnection_delay=0.05)
        rec = Recorder()
        sock.on("connect_error", rec.handler("connect_error"))
        sock.io.on("reconnect_attempt", rec.handler("reconnect_attempt"))
        [(error,)] = await rec.wait("connect_error")
        assert isinstance(error, ConnectionRefused) and error.data["code"] == 401
        assert not sock.active and not sock.connected
        await asyncio.sleep(0.2)
        assert rec["reconnect_attempt"] == []
        await sock.io.wait_closed()
        assert sock.io.ready_state == "closed"
        assert other_tasks() == []


async def test_query_and_headers_reach_the_server() -> None:
    seen: list[Any] = []
    async with running() as (server, port):
        server.on(
            "connection",
            lambda s: seen.append((s.handshake.query.get("room"), s.handshake.query.get("x"),
                                   s.handshake.headers.get("x-test"))),
        )  # fmt: skip
        for mode in ("polling", "websocket"):
            sock = await connect(
                f"http://127.0.0.1:{port}/?room=blue",
                query={"x": "1"},
                extra_headers={"X-Test": "yes"},
                **client_options(mode),
            )
            await sock.disconnect()
        assert seen == [("blue", "1", "yes")] * 2


# ---------------------------------------------------------------------- listeners
async def test_listener_management_and_catch_all() -> None:
    async with running() as (server, port):
        server.on(
            "connection",
            lambda s: s.on("go", lambda: [s.emit("a", 1), s.emit("b", 2), s.emit("c", 3)]),
        )
        sock = await connect(f"http://127.0.0.1:{port}", **client_options("websocket"))
        calls: list[Any] = []

        def any_first(event: str, *args: Any) -> None:
            calls.append(("first", event, *args))

        def any_second(event: str, *args: Any) -> None:
            calls.append(("second", event, *args))

        def on_a(n: int) -> None:
            calls.append(("a", n))

        sock.on_any(any_second)
        sock.prepend_any(any_first)
        sock.on("a", on_a)
        sock.once("b", lambda n: calls.append(("b-once", n)))
        outgoing: list[Any] = []
        sock.on_any_outgoing(lambda event, *args: outgoing.append((event, *args)))
        assert sock.listeners_any() == [any_first, any_second]
        sock.emit("go")
        await wait_until(lambda: len(calls) == 8)
        assert calls == [
            ("first", "a", 1), ("second", "a", 1), ("a", 1),
            ("first", "b", 2), ("second", "b", 2), ("b-once", 2),
            ("first", "c", 3), ("second", "c", 3),
        ]  # fmt: skip
        assert outgoing == [("go",)]
        calls.clear()
        sock.off_any(any_first)
        sock.off("a", on_a)
        sock.off_any_outgoing()
        sock.emit("go")
        await wait_until(lambda: len(calls) == 3)
        assert calls == [("second", "a", 1), ("second", "b", 2), ("second", "c", 3)]
        assert outgoing == [("go",)]
        with pytest.raises(ValueError, match="reserved"):
            sock.emit("disconnect")
        await sock.disconnect()


# ---------------------------------------------------------------------- buffering, flags
@pytest.mark.parametrize("mode", MODES)
async def test_emits_before_connect_are_sent_in_order(mode: str) -> None:
    received: list[Any] = []
    async with running() as (server, port):
        server.on("connection", lambda s: s.on("seq", lambda n: received.append(n)))
        sock = io(f"http://127.0.0.1:{port}", force_new=True, transports=MODES[mode])
        volatile_dropped = sock.volatile
        for n in range(50):
            sock.emit("seq", n)
        volatile_dropped.emit("seq", -1)  # not connected: dropped
        assert not sock.connected
        await sock.wait_connected(10)
        for n in range(50, 100):
            sock.emit("seq", n)
        await wait_until(lambda: len(received) == 100)
        assert received == list(range(100))
        # a volatile packet goes only when the transport can take it (with polling, not while
        # the POST of the last ones is still out)
        engine = sock.io.engine
        await wait_until(lambda: engine is not None and engine.writable)
        sock.volatile.emit("seq", 100)
        await wait_until(lambda: len(received) == 101)
        await sock.disconnect()


async def test_polling_splits_payloads_to_the_server_limit() -> None:
    received: list[str] = []
    async with running(max_http_buffer_size=2000) as (server, port):
        server.on("connection", lambda s: s.on("chunk", received.append))
        sock = await connect(f"http://127.0.0.1:{port}", **client_options("polling"))
        assert sock.io.engine is not None and sock.io.engine.max_payload == 2000
        chunks = [str(n) * 500 for n in range(10)]
        for chunk in chunks:
            sock.emit("chunk", chunk)
        await wait_until(lambda: len(received) == 10)
        assert received == chunks
        assert sock.connected
        await sock.disconnect()


async def test_websocket_compression() -> None:
    received: list[str] = []
    async with running(per_message_deflate=True) as (server, port):
        server.on("connection", lambda s: s.on("text", lambda t: (received.append(t), t)[1]))
        sock = await connect(f"http://127.0.0.1:{port}", **client_options("websocket"))
        transport = sock.io.engine.transport if sock.io.engine else None
        assert transport is not None and transport._deflate is not None  # type: ignore[attr-defined]
        text = "compress me " * 1000
        assert await sock.emit_with_ack("text", text) == text
        sock.compress(False).emit("text", "plain " * 500)
        await wait_until(lambda: len(received) == 2)
        assert received == [text, "plain " * 500]
        await sock.disconnect()


async def test_a_burst_larger_than_the_socket_buffers_arrives_in_order() -> None:
    received: list[int] = []
    async with running() as (server, port):
        server.on("connection", lambda s: s.on("chunk", lambda n, data: received.append(n)))
        sock = await connect(f"http://127.0.0.1:{port}", **client_options("websocket"))
        engine = sock.io.engine
        assert engine is not None
        data = b"\x07" * 256 * 1024
        for n in range(40):  # 10 MiB at once
            sock.emit("chunk", n, data)
        for _ in range(3):
            await asyncio.sleep(0)
        # megabytes wait in the socket's buffer: the transport is not writable meanwhile
        assert not engine.writable
        sock.volatile.emit("chunk", -1, b"")  # dropped
        sock.emit("chunk", 40, b"")  # buffered
        await wait_until(lambda: len(received) == 41, timeout=10)
        assert received == list(range(41))
        await sock.disconnect()


# ---------------------------------------------------------------------- disconnections
async def test_disconnect_reasons() -> None:
    server_reasons: list[str] = []

    def on_connection(socket: ServerSocket) -> None:
        socket.on("kick", lambda: socket.disconnect())
        socket.on("disconnect", server_reasons.append)

    async with running() as (server, port):
        server.on("connection", on_connection)
        url = f"http://127.0.0.1:{port}"
        sock = await connect(url, **client_options("websocket", reconnection=True))
        rec = Recorder()
        sock.on("disconnect", rec.handler("disconnect"))
        sock.emit("kick")
        assert await rec.wait("disconnect") == [("io server disconnect",)]
        assert not sock.active  # no reconnection after the server's decision
        await sock.io.wait_closed()

        sock = await connect(url, **client_options("polling"))
        sock.on("disconnect", rec.handler("client"))
        await sock.disconnect()
        assert rec["client"] == [("io client disconnect",)]
        expected = ["server namespace disconnect", "client namespace disconnect"]
        await wait_until(lambda: server_reasons == expected)
        assert other_tasks() == []


async def test_async_with_and_clean_shutdown() -> None:
    async with running() as (server, port):
        server.on("connection", lambda s: s.on("ping", lambda: "pong"))
        for mode in MODES:
            sock = io(f"http://127.0.0.1:{port}", force_new=True, transports=MODES[mode])
            async with sock:
                assert sock.connected
                assert await sock.emit_with_ack("ping") == "pong"
            assert not sock.connected and sock.io.ready_state == "closed"
            assert other_tasks() == []
        await wait_until(lambda: not server.engine.sessions)


async def test_unreachable_server_and_reconnection_events() -> None:
    async with running() as (_, port):
        pass  # the port is free again
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(TransportError):
        await connect(url, force_new=True, reconnection=False, wait_timeout=3)
    assert other_tasks() == []

    manager = Manager(
        url,
        transports=["websocket"],
        reconnection_attempts=2,
        reconnection_delay=0.02,
        reconnection_delay_max=0.05,
    )
    rec = Recorder()
    for event in ("error", "reconnect_attempt", "reconnect_error", "reconnect_failed"):
        manager.on(event, rec.handler(event))
    sock = manager.socket("/")
    sock.on("connect_error", rec.handler("connect_error"))
    await rec.wait("reconnect_failed")
    assert rec["reconnect_attempt"] == [(1,), (2,)]
    assert len(rec["reconnect_error"]) == 2
    assert len(rec["connect_error"]) == 3 == len(rec["error"])
    assert all(isinstance(e, TransportError) for (e,) in rec["connect_error"])
    assert str(rec["connect_error"][0][0]).startswith("websocket error")
    await sock.disconnect()
    assert other_tasks() == []


async def test_open_timeout() -> None:
    # a server that accepts TCP connections and never answers
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    tcp = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TransportError, match="timeout"):
            await connect(f"http://127.0.0.1:{port}", force_new=True, reconnection=False,
                          timeout=0.2, wait_timeout=3)  # fmt: skip
        await asyncio.sleep(0.05)
        assert other_tasks() == []
    finally:
        for writer in accepted:
            writer.close()
        tcp.close()
        await tcp.wait_closed()


async def test_heartbeat_keeps_the_connection() -> None:
    # a pong within 0.4 s (a loaded machine may stall a process), 8 pings: past 0.5 s
    async with running(ping_interval=0.1, ping_timeout=0.4) as (_, port):
        for mode in ("websocket", "polling"):
            sock = await connect(f"http://127.0.0.1:{port}", **client_options(mode))
            rec = Recorder()
            sock.io.on("ping", rec.handler("ping"))
            await rec.wait("ping", 8)
            assert sock.connected
            await sock.disconnect()


async def test_upgrade_options_and_reconnecting_by_hand() -> None:
    async with running() as (_, port):
        url = f"http://127.0.0.1:{port}"
        # upgrade=False: long-polling only, though the server offers WebSocket
        sock = await connect(url, force_new=True, upgrade=False)
        await asyncio.sleep(0.2)
        assert sock.io.engine is not None and sock.io.engine.upgrades == ["websocket"]
        assert sock.io.engine.transport is not None
        assert sock.io.engine.transport.name == "polling"
        await sock.disconnect()
        # remember_upgrade: after an upgrade, the next connection starts on WebSocket
        sock = await connect(url, force_new=True)
        await wait_transport(sock, "websocket")
        await sock.disconnect()
        assert Engine.prior_websocket_success
        sock = io(url, force_new=True, remember_upgrade=True)
        engine = sock.io.engine
        assert engine is not None and engine.transport is not None
        assert engine.transport.name == "websocket"
        await sock.wait_connected(3)
        first = sock.id
        await sock.disconnect()
        with pytest.raises(NotConnected):
            await sock.wait_connected(1)
        # a disconnected socket connects again when asked to
        sock.connect()
        await sock.wait_connected(3)
        assert sock.connected and sock.id != first
        await sock.disconnect()
        assert other_tasks() == []


async def test_remembered_upgrades_are_per_server() -> None:
    """remember_upgrade: a client to one server is not steered by the connections of
    clients to another (engine.io-client keeps one flag for the whole process)."""
    # server B on a path of its own: no earlier test's WebSocket connection to its port counts
    fresh = "/remembered-upgrades-b"
    async with (
        running() as (_, port_a),
        running(transports=["polling"], path=fresh) as (_, port_b),
    ):
        url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
        sock = await connect(url_a, force_new=True)  # upgrades to WebSocket
        await wait_transport(sock, "websocket")
        await sock.disconnect()
        # another server: its first connection starts on long-polling
        other = io(url_b, force_new=True, remember_upgrade=True, path=fresh)
        engine = other.io.engine
        assert engine is not None and engine.transport is not None
        assert engine.transport.name == "polling"
        assert not engine.prior_websocket_success and not engine.upgrades
        await other.wait_connected(3)  # opened on long-polling, no upgrade offered
        await other.disconnect()
        # which changes nothing for the first server's clients
        again = io(url_a, force_new=True, remember_upgrade=True)
        engine = again.io.engine
        assert engine is not None and engine.transport is not None
        assert engine.transport.name == "websocket" and engine.prior_websocket_success
        await again.wait_connected(3)
        await again.disconnect()
        assert other_tasks() == []


# ---------------------------------------------------------------------- TLS
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize("mode", MODES)
async def test_tls(tmp_path: Path, mode: str) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    io_server = Server()
    io_server.on("connection", lambda s: s.on("secure", lambda: s.handshake.secure))
    standalone = await io_server.start("127.0.0.1", 0, ssl=server_ctx)
    try:
        sock = await connect(
            f"https://127.0.0.1:{standalone.port}", ssl=client_ctx, **client_options(mode)
        )
        assert await sock.emit_with_ack("secure") is True
        if mode == "upgrade":
            await wait_transport(sock, "websocket")
            assert await sock.emit_with_ack("secure") is True
        await sock.disconnect()
        # without the certificate, the default context refuses the server
        with pytest.raises(TransportError):
            await connect(f"wss://127.0.0.1:{standalone.port}", **client_options(mode))
    finally:
        await io_server.close()
    assert other_tasks() == []


@pytest.mark.parametrize("mode", list(MODES))
async def test_listeners_added_right_after_connect_get_the_welcome(mode: str) -> None:
    """What the server emits in its connection handler arrives before connect() returns:
    kept for the listeners added right after it, in order, acks included."""
    io_server = Server()
    acks: list[Any] = []

    @io_server.on("connection")
    async def welcome(socket: ServerSocket) -> None:
        socket.emit("first", 1)
        socket.emit("nobody-listens")
        acks.append(await socket.emit_with_ack("second", 2, timeout=2.0))
        socket.emit("third", 3)

    server = await io_server.start("127.0.0.1", 0)
    try:
        sock = await connect(f"http://127.0.0.1:{server.port}", **client_options(mode))
        got: list[tuple[str, int]] = []
        sock.on("first", lambda n: got.append(("first", n)))
        sock.on("second", lambda n: got.append(("second", n)) or "thanks")
        sock.on("third", lambda n: got.append(("third", n)))
        await wait_until(lambda: len(got) == 3)
        assert got == [("first", 1), ("second", 2), ("third", 3)]
        assert acks == ["thanks"]
        # later events are not held: no listener, no event
        late = await connect(f"http://127.0.0.1:{server.port}", **client_options(mode))
        await asyncio.sleep(0.2)
        missed: list[Any] = []
        late.on("first", missed.append)
        await asyncio.sleep(0.1)
        assert missed == []
        await late.disconnect()
        await sock.disconnect()
    finally:
        await io_server.close()


async def test_try_all_transports_falls_back_when_websocket_is_refused() -> None:
    """socket.io-client 4.8's tryAllTransports: the first transport fails while opening,
    the next one is tried (here the server accepts long-polling only)."""
    io_server = Server(transports=("polling",))
    io_server.on("connection", lambda socket: socket.on("echo", lambda x: x))
    server = await io_server.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"
    options: dict[str, Any] = {"transports": ["websocket", "polling"], "wait_timeout": 3}
    try:
        with pytest.raises(TransportError):
            await connect(url, force_new=True, reconnection=False, **options)
        errors: list[Any] = []
        sock = await connect(
            url, force_new=True, reconnection=False, try_all_transports=True, **options
        )
        sock.io.on("error", errors.append)
        assert sock.connected and sock.io.engine.transport.name == "polling"
        assert await sock.emit_with_ack("echo", 7, timeout=2.0) == 7
        assert errors == []
        await sock.disconnect()
    finally:
        await io_server.close()
