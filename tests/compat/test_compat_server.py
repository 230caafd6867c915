"""aiosocketio.compat's server side: option mapping and refusals, logging, always_connect,
accepted namespaces, the admin UI, managers, ASGIApp paths, shutdown, msgpack."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import pytest

import aiosocketio.compat as socketio
from aiosocketio.client import connect
from aiosocketio.compat import exceptions
from sioclient import ConnectRefused, SioServer, until


# ---------------------------------------------------------------------- options
def test_options_are_mapped() -> None:
    sio = socketio.AsyncServer(
        async_mode="asgi",
        ping_interval=(10, 5),
        ping_timeout=7,
        max_http_buffer_size=1234,
        cookie="io",
        cors_allowed_origins=["https://a.example"],
        transports="websocket",
        compression_threshold=10,
        monitor_clients=True,
        async_handlers=True,
    )
    engine = sio.server.engine
    assert engine.config.ping_interval == 10 and engine.config.ping_timeout == 12
    assert engine.config.max_payload == 1234 and engine.config.transports == ("websocket",)
    assert engine.cookie is not None and engine.cookie["name"] == "io"
    assert engine.http_compression == 10
    assert engine.cors.headers("https://a.example") != []
    assert sio.async_mode == "asgi"


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"async_mode": "aiohttp"}, ValueError, "asgi"),
        ({"async_handlers": False}, ValueError, "inline"),
        ({"json": object()}, ValueError, "orjson"),
        ({"serializer": "pickle"}, ValueError, "msgpack"),
        ({"transports": ["carrier-pigeon"]}, ValueError, "transports"),
        ({"frobnicate": 1}, TypeError, "frobnicate"),
        ({"client_manager": socketio.AsyncRedisManager(write_only=True)}, ValueError, "write_only"),
    ],
)
def test_options_refused(options: dict[str, Any], error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        socketio.AsyncServer(**options)
    socketio.AsyncServer(json=json)  # the standard module is what aiosocketio does anyway


@pytest.mark.parametrize(
    "manager", ["KafkaManager", "KombuManager", "ZmqManager", "AsyncAioPikaManager", "RedisManager"]
)
def test_unsupported_managers_name_the_supported_adapters(manager: str) -> None:
    with pytest.raises(NotImplementedError, match="Redis Streams and PostgreSQL"):
        getattr(socketio, manager)("url://")


def test_attach_points_at_asgi() -> None:
    with pytest.raises(NotImplementedError, match="ASGIApp"):
        socketio.AsyncServer().attach(object())


# ---------------------------------------------------------------------- logging
async def test_logger_logs_events_in_and_out(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="socketio.server")
    sio = socketio.AsyncServer(logger=True)

    @sio.event
    async def hi(sid: str) -> None:
        await sio.emit("hello", to=sid)

    async with SioServer(sio.server) as srv:
        client, sid = await srv.connected()
        await client.emit("hi")
        assert await client.next_event() == ("/", "hello", [])
    messages = [r.getMessage() for r in caplog.records if r.name == "socketio.server"]
    assert f'received event "hi" from {sid} [/]' in messages
    assert f'emitting event "hello" to {sid} [/]' in messages


async def test_engineio_logger_logs_packets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosocketio.packets")
    sio = socketio.AsyncServer(engineio_logger=True)
    async with SioServer(sio.server) as srv:
        await srv.connected()
    assert any("received message 0" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------- connecting
async def test_always_connect_accepts_then_disconnects() -> None:
    sio = socketio.AsyncServer(always_connect=True)
    seen: list[str] = []

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> bool:
        await sio.emit("early", to=sid)  # the client is connected already
        seen.append(environ["HTTP_X_WHO"])
        return environ["HTTP_X_WHO"] != "mallory"

    async with SioServer(sio.server) as srv:
        client, _ = await srv.connected(headers=[("x-who", "alice")])
        assert await client.next_event() == ("/", "early", [])
        mallory, _ = await srv.connected(headers=[("x-who", "mallory")])
        assert await mallory.next_event() == ("/", "early", [])
        assert (await mallory.next_packet()).type == 1  # DISCONNECT
        await until(lambda: seen == ["alice", "mallory"])
        await until(lambda: len(sio.server.sockets.sockets) == 1)


async def test_only_accepted_namespaces() -> None:
    sio = socketio.AsyncServer(namespaces=["/chat"])
    async with SioServer(sio.server) as srv:
        client = await srv.client()
        with pytest.raises(ConnectRefused) as refused:
            await client.connect("/")
        assert refused.value.data == {"message": "Unable to connect"}
        await client.connect("/chat")
        with pytest.raises(ConnectRefused):
            await client.connect("/other")


async def test_an_error_in_connect_refuses_with_its_message() -> None:
    sio = socketio.AsyncServer()

    @sio.event
    def connect(sid: str, environ: dict[str, Any]) -> None:
        raise ConnectionRefusedError("the builtin one")

    @sio.on("connect", namespace="/boom")
    def boom(sid: str, environ: dict[str, Any], auth: Any) -> None:
        raise RuntimeError("bug")

    async with SioServer(sio.server) as srv:
        client = await srv.client()
        with pytest.raises(ConnectRefused) as refused:
            await client.connect("/")
        assert refused.value.data == {"message": "Connection refused by server"}
        with pytest.raises(ConnectRefused) as refused:
            await client.connect("/boom")
        assert refused.value.data == {"message": "bug"}


def test_refusal_payloads() -> None:
    assert exceptions.ConnectionRefusedError().error_args == {
        "message": "Connection rejected by server"
    }
    assert exceptions.ConnectionRefusedError("no", 1, 2).error_args == {
        "message": "no",
        "data": [1, 2],
    }


# ---------------------------------------------------------------------- emitting and rooms
async def test_rooms_lists_skip_sids_and_sessions() -> None:
    sio = socketio.AsyncServer()
    async with SioServer(sio.server) as srv:
        clients = [await srv.connected() for _ in range(3)]
        sids = [sid for _, sid in clients]
        await sio.enter_room(sids[0], "a")
        await sio.enter_room(sids[1], "b")
        await sio.enter_room(sids[2], "b")
        assert sio.rooms(sids[1]) == sorted([sids[1], "b"])
        await sio.emit("x", (1, 2), to=["a", "b"], skip_sid=[sids[2]])
        for client, _ in clients[:2]:
            assert await client.next_event() == ("/", "x", [1, 2])
        assert await clients[2][0].no_event()
        await sio.close_room("b")
        assert sio.rooms(sids[2]) == [sids[2]]
        await sio.save_session(sids[0], {"n": 1})
        async with sio.session(sids[0]) as session:
            session["n"] += 1
        assert await sio.get_session(sids[0]) == {"n": 2}
        assert sio.transport(sids[0]) == "websocket"
        assert sio.get_environ("nobody") is None
        with pytest.raises(KeyError):
            await sio.get_session("nobody")
        await sio.emit("x", to="nobody", namespace="/nowhere")  # nothing to do
        with pytest.raises(ValueError, match="broadcast"):
            await sio.call("x")
        with pytest.raises(exceptions.TimeoutError):
            await sio.call("x", to=sids[0], timeout=0.05)


async def test_shutdown_disconnects_everyone() -> None:
    sio = socketio.AsyncServer()
    left: list[str] = []
    sio.on("disconnect", lambda sid, reason: left.append(reason))
    async with SioServer(sio.server) as srv:
        await srv.connected()
        await sio.shutdown()
        await until(lambda: left == ["server disconnect"])


async def test_msgpack_both_ways() -> None:
    sio = socketio.AsyncServer(serializer="msgpack")
    sio.on("echo", lambda sid, *args: args)
    async with SioServer(sio.server) as srv:
        client = socketio.AsyncClient(serializer="msgpack", reconnection=False)
        await client.connect(f"http://127.0.0.1:{srv.port}", transports=["websocket"])
        assert await client.call("echo", (b"\x00\x01", {"a": 1})) == (b"\x00\x01", {"a": 1})
        await client.disconnect()


# ---------------------------------------------------------------------- admin UI
@pytest.mark.parametrize(
    "auth",
    [
        {"username": "admin", "password": "s3cret"},
        [{"username": "ops", "password": "x"}, {"username": "admin", "password": "s3cret"}],
        lambda login: login == {"username": "admin", "password": "s3cret"},
        # a bcrypt hash of "s3cret" (bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)))
        {
            "username": "admin",
            "password": "$2b$04$GpT/O.O5yUsI3XU9AqduFOG2c0u6kD2s/hx03AgOzt1UMEszvyqJi",
        },
    ],
)
async def test_instrument_logins(auth: Any) -> None:
    sio = socketio.AsyncServer()
    sio.instrument(auth=auth, server_stats_interval=0.5)
    async with SioServer(sio.server) as srv:
        client = await srv.client()
        await client.connect("/admin", {"username": "admin", "password": "s3cret"})
        with pytest.raises(ConnectRefused):
            await (await srv.client()).connect("/admin", {"username": "admin", "password": "x"})


def test_instrument_needs_auth() -> None:
    with pytest.raises(ValueError, match="auth"):
        socketio.AsyncServer().instrument()
    with pytest.raises(ValueError, match="mode"):
        socketio.AsyncServer().instrument(auth=False, mode="debug")


# ---------------------------------------------------------------------- ASGIApp
async def test_socketio_path_and_everything(uvicorn_server: Any) -> None:
    sio = socketio.AsyncServer()
    port = await uvicorn_server(socketio.ASGIApp(sio, socketio_path="/rt/io"))
    sock = await connect(f"http://127.0.0.1:{port}", path="/rt/io", reconnection=False)
    await sock.disconnect()

    other = socketio.AsyncServer()
    port = await uvicorn_server(socketio.ASGIApp(other, socketio_path=None))
    sock = await connect(f"http://127.0.0.1:{port}", path="/anything", reconnection=False)
    await sock.disconnect()


def test_asgiapp_needs_a_compat_server() -> None:
    from aiosocketio import Server

    with pytest.raises(TypeError, match="AsyncServer"):
        socketio.ASGIApp(Server())  # type: ignore[arg-type]


# ---------------------------------------------------------------------- the client
async def test_client_errors() -> None:
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(exceptions.ConnectionError):
        await client.connect("http://127.0.0.1:9", transports=["websocket"])
    with pytest.raises(exceptions.BadNamespaceError):
        await client.emit("x")
    with pytest.raises(TypeError, match="frobnicate"):
        socketio.AsyncClient(frobnicate=True)
    with pytest.raises(ValueError, match="http_session"):
        socketio.AsyncClient(http_session=object())


async def test_client_callbacks_and_sids() -> None:
    sio = socketio.AsyncServer()
    sio.on("add", lambda sid, a, b: a + b)
    async with SioServer(sio.server) as srv:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(f"http://127.0.0.1:{srv.port}")
        with pytest.raises(exceptions.ConnectionError, match="Already"):
            await client.connect(f"http://127.0.0.1:{srv.port}")
        answers: list[Any] = []

        async def got(total: int) -> None:
            answers.append(total)

        await client.emit("add", (1, 2), callback=got)
        await until(lambda: answers == [3])
        assert client.get_sid() in sio.server.sockets.sockets
        assert client.sid and client.transport() in ("polling", "websocket")
        await client.disconnect()
        await client.wait()
        assert not client.connected


async def test_client_path_headers_as_a_function_and_retry(uvicorn_server: Any) -> None:
    import socket as _socket

    sio = socketio.AsyncServer()
    seen: list[Any] = []
    sio.on("connect", lambda sid, environ: seen.append(environ.get("HTTP_X_TOKEN")))
    port = await uvicorn_server(socketio.ASGIApp(sio, socketio_path="rt"))
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        f"http://127.0.0.1:{port}", headers=lambda: {"X-Token": "t"}, socketio_path="rt"
    )
    assert seen == ["t"]
    await client.disconnect()

    with _socket.socket() as probe:  # a port nothing listens on, yet
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    later = socketio.AsyncServer()
    patient = socketio.AsyncClient(reconnection_delay=0.05, reconnection_delay_max=0.1)
    connecting = asyncio.ensure_future(
        patient.connect(f"http://127.0.0.1:{free}", transports=["websocket"], retry=True)
    )
    await asyncio.sleep(0)
    assert not connecting.done()
    await later.server.start("127.0.0.1", free)
    try:
        await asyncio.wait_for(connecting, 10)
        assert patient.connected
        await patient.disconnect()
    finally:
        await later.shutdown()


async def test_redis_manager(redis_url: str) -> None:
    key = f"compat-{uuid.uuid4().hex[:8]}"
    servers = [
        socketio.AsyncServer(client_manager=socketio.AsyncRedisManager(redis_url, channel=key))
        for _ in range(2)
    ]
    for sio in servers:
        sio.on("join", lambda sid, room, sio=sio: asyncio.ensure_future(sio.enter_room(sid, room)))
    async with SioServer(servers[0].server) as one, SioServer(servers[1].server) as two:
        first, _ = await one.connected()
        second, _ = await two.connected()
        await first.emit("join", "r")
        await second.emit("join", "r")
        await until(lambda: servers[1].server.sockets.adapter.rooms.get("r"))
        for _ in range(200):  # until each server hears the other
            if await servers[0].server.sockets.adapter.server_count() == 2:
                break
            await asyncio.sleep(0.02)
        await servers[0].emit("news", "across", to="r")
        assert await first.next_event() == ("/", "news", ["across"])
        assert await second.next_event() == ("/", "news", ["across"])
        emitter = socketio.AsyncRedisManager(redis_url, channel=key, write_only=True)
        await emitter.emit("from", "outside", room="r")
        assert await second.next_event() == ("/", "from", ["outside"])
        await emitter.close()


# ---------------------------------------------------------------------- the list of differences
def _bullets(text: str) -> list[str]:
    items: list[str] = []
    for line in text.splitlines():
        if line.startswith("- "):
            items.append(line[2:].strip())
        elif items and line.startswith("  ") and line.strip():
            items[-1] += " " + line.strip()
        elif items and not line.strip():
            break
    return items


def test_the_guide_and_the_docstring_list_the_same_differences() -> None:
    from pathlib import Path

    doc = socketio.__doc__ or ""
    ours = _bullets(doc[doc.index("What still differs") :].split("\n", 2)[2])
    guide = (Path(__file__).parents[2] / "docs/migrating-from-python-socketio.md").read_text()
    section = guide[guide.index("### What still differs") :].split("\n", 2)[2]
    assert [b.replace("``", "`") for b in ours] == _bullets(section)
    assert len(ours) >= 10


async def test_blocking_client_handlers_keep_their_signatures() -> None:
    sio = socketio.AsyncServer()
    sio.on("kick", lambda sid: asyncio.ensure_future(sio.disconnect(sid)))
    async with SioServer(sio.server) as srv:
        seen: list[str] = []
        client = socketio.Client(reconnection=False)
        client.on("connect", lambda: seen.append("connect"))
        client.on("disconnect", lambda: seen.append("disconnect"))  # no reason: left out
        url = f"http://127.0.0.1:{srv.port}"
        await asyncio.to_thread(client.connect, url)
        await asyncio.to_thread(client.emit, "kick")
        await asyncio.to_thread(client.wait)
        assert seen == ["connect", "disconnect"]
        await asyncio.to_thread(client.disconnect)


async def test_call_to_a_list_of_rooms() -> None:
    sio = socketio.AsyncServer()
    async with SioServer(sio.server) as srv:
        client, sid = await srv.connected()
        await sio.enter_room(sid, "r")
        calling = asyncio.ensure_future(sio.call("q", to=["r"], timeout=5))
        packet = await client.next_packet(types=(2,))
        client.ack(packet.id, "a")
        assert await calling == "a"


async def test_the_adapters_start_with_the_asgi_lifespan(redis_url: str) -> None:
    """A server made at import time (no event loop yet) under an ASGI server: its cluster
    adapter starts at the lifespan startup."""
    from test_asgi import Channel

    channel_name = f"compat-{uuid.uuid4().hex[:8]}"  # not seen by other test runs

    def made_at_import() -> socketio.AsyncServer:
        manager = socketio.AsyncRedisManager(redis_url, channel=channel_name)
        return socketio.AsyncServer(client_manager=manager)

    sio = await asyncio.to_thread(made_at_import)
    adapter: Any = sio.server.sockets.adapter
    assert adapter._init_task is None
    channel = Channel({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await socketio.ASGIApp(sio)({"type": "lifespan"}, channel.receive, channel.send)
    assert adapter._init_task is not None and adapter._init_task.done()
    await sio.server.close()


def test_every_python_socketio_name_is_there() -> None:
    """python-socketio 5's ``__all__``: each name exists; the unsupported ones refuse."""
    names = [
        "SimpleClient", "Client", "Server", "Manager", "PubSubManager", "KombuManager",
        "RedisManager", "ZmqManager", "KafkaManager", "Namespace", "ClientNamespace", "WSGIApp",
        "Middleware", "AsyncSimpleClient", "AsyncClient", "AsyncServer", "AsyncNamespace",
        "AsyncClientNamespace", "AsyncManager", "AsyncRedisManager", "ASGIApp",
        "get_tornado_handler", "AsyncAioPikaManager",
    ]  # fmt: skip
    assert sorted(set(socketio.__all__) - {"exceptions"}) == sorted(names)
    for name in ("Server", "WSGIApp", "Middleware", "Manager", "Namespace", "ClientNamespace"):
        with pytest.raises(NotImplementedError, match=f"socketio.{name}"):
            getattr(socketio, name)()
    with pytest.raises(NotImplementedError, match="tornado"):
        socketio.get_tornado_handler(object())


async def test_a_handler_registered_again_replaces_the_first() -> None:
    sio = socketio.AsyncServer()
    sio.on("x", lambda sid: "first")
    sio.on("x", lambda sid: "second")

    @sio.event
    async def y(sid: str, ack: Any) -> Any:  # "ack" is an ordinary argument here
        return ack

    async with SioServer(sio.server) as srv:
        client, _ = await srv.connected()
        assert await client.emit_with_ack("x") == ["second"]
        assert await client.emit_with_ack("y", 5) == [5]
