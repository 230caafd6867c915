"""The admin UI protocol (@socket.io/admin-ui 0.5) on the /admin namespace, with raw clients:
authentication, the events the UI receives, its commands, read-only and production modes."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiosocketio import Server
from aiosocketio import Socket as ServerSocket
from aiosocketio.admin import AdminUI, InMemoryStore, RedisStore, instrument
from aiosocketio.client import connect
from aiosocketio.socketio.packets import BINARY_EVENT, DISCONNECT, EVENT
from sioclient import ConnectRefused, SioClient, SioServer, until

# made by bcryptjs (what the Node package's users run): bcrypt.hashSync("changeit", 4)
BCRYPTJS_HASH = "$2a$04$E77buxwVoFYaS0hq62.qO.WEdE1iLchQEcZ8yoY76JkQUMbbf62YG"
AUTH = {"type": "basic", "username": "admin", "password": BCRYPTJS_HASH}
LOGIN = {"username": "admin", "password": "changeit"}
ALL_FEATURES = [
    "EMIT",
    "JOIN",
    "LEAVE",
    "DISCONNECT",
    "MJOIN",
    "MLEAVE",
    "MDISCONNECT",
    "AGGREGATED_EVENTS",
    "ALL_EVENTS",
]
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _has_bcrypt() -> bool:
    try:
        import bcrypt  # noqa: F401
    except ImportError:
        return False
    return True


needs_bcrypt = pytest.mark.skipif(
    not _has_bcrypt(), reason="bcrypt is not installed (pip install 'aiosocketio[admin]')"
)


async def admin_event(
    client: SioClient, name: str, timeout: float = 1.0, *, about: str | None = None
) -> list[Any]:
    """The arguments of the first /admin event of that name (the others stay queued); with
    ``about``, the first about that namespace (its first argument, or its ``nsp``)."""

    def match(p: Any) -> bool:
        if p.type not in (EVENT, BINARY_EVENT) or p.nsp != "/admin" or p.data[0] != name:
            return False
        if about is None:
            return True
        first = p.data[1] if len(p.data) > 1 else None
        return first == about or (isinstance(first, dict) and first.get("nsp") == about)

    packet = await client.packets.take(match, timeout)
    return list(packet.data[1:])


async def no_admin_event(client: SioClient, name: str, wait: float = 0.2) -> bool:
    try:
        await admin_event(client, name, wait)
    except TimeoutError:
        return True
    return False


def make_server(**options: Any) -> tuple[Server, AdminUI]:
    io = Server()
    admin = instrument(io, **{"auth": None, **options})

    @io.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        @socket.on("join")
        def join(room: str) -> None:
            socket.join(room)

        @socket.on("set")
        def set_data(key: str, value: Any) -> None:
            socket.data[key] = value

        @socket.on("echo")
        def echo(*args: Any) -> None:
            socket.emit("echoed", *args)

    return io, admin


@pytest.fixture
async def dev() -> AsyncIterator[tuple[SioServer, AdminUI]]:
    io, admin = make_server()
    async with SioServer(io) as srv:
        yield srv, admin


async def admin_client(srv: SioServer, auth: Any = None) -> SioClient:
    client, _ = await srv.connected("/admin", auth)
    return client


# ---------------------------------------------------------------------- authentication
@needs_bcrypt
async def test_login_with_a_bcryptjs_hash_gives_a_session_then_config_and_sockets() -> None:
    io, _ = make_server(auth=AUTH)
    async with SioServer(io) as srv:
        _, user_sid = await srv.connected("/")
        client = await admin_client(srv, LOGIN)
        (session_id,) = await admin_event(client, "session")
        assert isinstance(session_id, str) and len(session_id) >= 16
        assert await admin_event(client, "config") == [{"supportedFeatures": ALL_FEATURES}]
        (sockets,) = await admin_event(client, "all_sockets")
        ids = {(s["nsp"], s["id"]) for s in sockets}
        assert ("/", user_sid) in ids and ("/admin", client.sids["/admin"]) in ids

        # the session id logs in again, without the password
        again = await admin_client(srv, {"sessionId": session_id})
        assert await admin_event(again, "config") == [{"supportedFeatures": ALL_FEATURES}]
        assert await no_admin_event(again, "session", 0.1)


@needs_bcrypt
@pytest.mark.parametrize(
    "auth",
    [
        None,
        {},
        {"username": "admin", "password": "wrong"},
        {"username": "root", "password": "changeit"},
        {"username": "admin", "password": 12},
        {"username": ["admin"], "password": "changeit"},
        {"sessionId": "not-a-session"},
        {"sessionId": 1},
    ],
)
async def test_bad_credentials_are_refused(auth: Any) -> None:
    io, _ = make_server(auth=AUTH)
    async with SioServer(io) as srv:
        client = await srv.client()
        with pytest.raises(ConnectRefused) as refused:
            await client.connect("/admin", auth)
        assert refused.value.data == {"message": "invalid credentials"}
        # the rest of the server does not care
        await client.connect("/")


@needs_bcrypt
async def test_passwords_count_as_bcryptjs_counts_them() -> None:
    import bcrypt

    long_password = "é" * 40  # 80 bytes in UTF-8: bcrypt(js) only reads the first 72
    hashed = bcrypt.hashpw(long_password.encode()[:72], bcrypt.gensalt(4)).decode()
    assert hashed.startswith("$2b$")
    io, _ = make_server(auth={"type": "basic", "username": "ü", "password": hashed})
    async with SioServer(io) as srv:
        await admin_client(srv, {"username": "ü", "password": "é" * 36 + "zz"})
        client = await srv.client()
        with pytest.raises(ConnectRefused):
            await client.connect("/admin", {"username": "ü", "password": "é" * 35})


PLAIN = {"type": "basic", "username": "admin", "password": "changeit"}
OTHER = {"type": "basic", "username": "ops", "password": BCRYPTJS_HASH}


async def _check_admin(auth: Any, good: list[Any], bad: list[Any]) -> None:
    io, _ = make_server(auth=auth)
    async with SioServer(io) as srv:
        for login in good:
            client = await admin_client(srv, login)
            assert await admin_event(client, "config") == [{"supportedFeatures": ALL_FEATURES}]
        for login in bad:
            client = await srv.client()
            with pytest.raises(ConnectRefused):
                await client.connect("/admin", login)


async def test_a_plain_password() -> None:
    await _check_admin(
        PLAIN,
        [LOGIN],
        [{"username": "admin", "password": "changei"}, {"username": "x", "password": "changeit"}],
    )


@needs_bcrypt
async def test_a_list_of_credentials_plain_and_hashed() -> None:
    await _check_admin(
        [PLAIN, OTHER],
        [LOGIN, {"username": "ops", "password": "changeit"}],
        [{"username": "ops", "password": "nope"}, {"username": "admin", "password": "x"}],
    )


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_function_decides(is_async: bool) -> None:
    seen: list[Any] = []

    def check(auth: dict[str, Any]) -> bool:
        seen.append(auth)
        if auth.get("token") == "boom":
            raise RuntimeError("a bug in the check")
        return auth.get("token") == "t0k3n"

    async def async_check(auth: dict[str, Any]) -> bool:
        return check(auth)

    await _check_admin(
        async_check if is_async else check,
        [{"token": "t0k3n"}],
        [{"token": "x"}, {"token": "boom"}],
    )
    assert seen[0] == {"token": "t0k3n"}


async def test_stats_interval() -> None:
    io, _ = make_server(stats_interval=0.5)
    async with SioServer(io) as srv:
        ui = await admin_client(srv)
        await admin_event(ui, "server_stats", timeout=10)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(4):
            await admin_event(ui, "server_stats", timeout=10)
        assert loop.time() - start < 7.5  # 4 intervals of 0.5 s; of the default 2 s: 8 s


def test_instrument_checks_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    for auth in (
        {},
        {"type": "digest", "username": "a", "password": BCRYPTJS_HASH},
        {"type": "basic", "username": "a", "password": ""},
        {"type": "basic", "password": BCRYPTJS_HASH},
        [],
        [{"type": "basic", "username": "a", "password": "x"}, {"username": "b"}],
    ):
        with pytest.raises(ValueError):
            instrument(Server(), auth=auth)
    with pytest.raises(ValueError, match="mode"):
        instrument(Server(), mode="staging")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stats_interval"):
        instrument(Server(), stats_interval=0)
    io = Server()
    instrument(io)
    with pytest.raises(RuntimeError, match="already"):
        instrument(io)

    monkeypatch.setitem(sys.modules, "bcrypt", None)  # as if not installed
    with pytest.raises(ImportError, match=re.escape("aiosocketio[admin]")):
        instrument(Server(), auth=AUTH)


async def test_without_auth_anyone_gets_in(dev: tuple[SioServer, AdminUI]) -> None:
    srv, _ = dev
    client = await admin_client(srv)
    assert await admin_event(client, "config") == [{"supportedFeatures": ALL_FEATURES}]
    assert await no_admin_event(client, "session", 0.05)


# ---------------------------------------------------------------------- what the UI receives
async def test_socket_lifecycle_rooms_data_and_events(dev: tuple[SioServer, AdminUI]) -> None:
    srv, _ = dev
    ui = await admin_client(srv)
    await admin_event(ui, "all_sockets")
    user, sid = await srv.connected("/", query="foo=bar", headers=[("x-forwarded-for", "1.2.3.4")])

    nsp, room, joined_id, when = await admin_event(ui, "room_joined", about="/")
    assert (nsp, room, joined_id) == ("/", sid, sid) and ISO_TIME.fullmatch(when)
    socket, when = await admin_event(ui, "socket_connected", about="/")
    assert ISO_TIME.fullmatch(when)
    assert socket["id"] == sid and socket["nsp"] == "/" and socket["transport"] == "websocket"
    assert socket["clientId"] == srv.io.sockets.sockets[sid].conn.sid[:12]
    assert socket["rooms"] == [sid] and socket["data"] == {}
    handshake = socket["handshake"]
    assert handshake["address"] == "1.2.3.4"
    assert handshake["query"]["foo"] == "bar" and handshake["query"]["EIO"] == "4"
    assert set(handshake) == {
        "address", "headers", "query", "issued", "secure", "time", "url", "xdomain",
    }  # fmt: skip

    await user.emit("join", "lobby")
    assert (await admin_event(ui, "event_received"))[:3] == ["/", sid, ["join", "lobby"]]
    assert (await admin_event(ui, "room_joined", about="/"))[:3] == ["/", "lobby", sid]

    await user.emit("set", "name", "alice")
    update = await admin_event(ui, "socket_updated")
    assert update == [{"id": sid, "nsp": "/", "data": {"name": "alice"}}]
    assert srv.io.sockets.sockets[sid].data["_admin"]["transport"] == "websocket"

    await user.emit("echo", 1, {"a": [2]})
    nsp, sent_id, args, when = await admin_event(ui, "event_sent")
    assert (nsp, sent_id, args) == ("/", sid, ["echoed", 1, {"a": [2]}])

    await user.close()
    nsp, gone, reason, when = await admin_event(ui, "socket_disconnected")
    assert (nsp, gone, reason) == ("/", sid, "transport close")
    left = {tuple((await admin_event(ui, "room_left", about="/"))[:3]) for _ in range(2)}
    assert left == {("/", sid, sid), ("/", "lobby", sid)}


async def test_socket_data_set_in_a_middleware_is_kept(dev: tuple[SioServer, AdminUI]) -> None:
    srv, _ = dev
    chat = srv.io.of("/chat")

    @chat.use
    def who(socket: ServerSocket) -> None:
        socket.data = {"user": "bob", "blob": b"xyz", "when": object}

    ui = await admin_client(srv)
    _, sid = await srv.connected("/chat")
    socket, _ = await admin_event(ui, "socket_connected", about="/chat")
    assert socket["nsp"] == "/chat" and socket["id"] == sid
    assert socket["data"] == {"user": "bob", "blob": "<3 bytes>", "when": "<class 'object'>"}
    assert chat.sockets[sid].data["user"] == "bob"


async def test_a_recovered_socket_keeps_its_data_and_is_watched_again() -> None:
    io = Server(connection_state_recovery=True)
    instrument(io)

    @io.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        socket.on("set", socket.data.__setitem__)
        socket.on("ping", lambda: socket.emit("pong"))

    async with SioServer(io) as srv:
        ui = await admin_client(srv)
        user, sid = await srv.connected("/")
        pid = user.last_connect["pid"]
        await user.emit("set", "name", "alice")
        await admin_event(ui, "socket_updated")
        await user.emit("ping")
        _, _, (offset,) = await user.next_event(nsp="/")
        await user.abort()
        await admin_event(ui, "socket_disconnected", about="/")

        again = await srv.client()
        assert await again.connect("/", {"pid": pid, "offset": offset}) == sid
        await admin_event(ui, "socket_connected", about="/")  # the first one
        # (with recovery on, every broadcast ends with its offset: the admin's too, as in Node)
        socket = (await admin_event(ui, "socket_connected", about="/"))[0]
        assert socket["id"] == sid and socket["data"] == {"name": "alice"}
        await again.emit("set", "name", "bob")
        update = (await admin_event(ui, "socket_updated"))[0]
        assert update == {"id": sid, "nsp": "/", "data": {"name": "bob"}}
        data = io.sockets.sockets[sid].data
        assert data["_admin"]["clientId"] == again.open["sid"][:12]


async def test_admin_sockets_are_listed_but_their_events_are_not(
    dev: tuple[SioServer, AdminUI],
) -> None:
    srv, _ = dev
    ui = await admin_client(srv)
    other = await admin_client(srv)
    own, _ = await admin_event(ui, "socket_connected")
    socket, _ = await admin_event(ui, "socket_connected")
    assert own["id"] == ui.sids["/admin"]
    assert socket["nsp"] == "/admin" and socket["id"] == other.sids["/admin"]
    await other.emit("hello", nsp="/admin")
    assert await no_admin_event(ui, "event_received")


async def test_dynamic_namespaces_are_watched_once(dev: tuple[SioServer, AdminUI]) -> None:
    srv, _ = dev
    srv.io.of(re.compile(r"^/dyn-\d+$"))
    ui = await admin_client(srv)
    await admin_event(ui, "socket_connected", about="/admin")  # its own
    _, first = await srv.connected("/dyn-1")
    _, second = await srv.connected("/dyn-2")
    for name, sid in (("/dyn-1", first), ("/dyn-2", second)):
        socket, _ = await admin_event(ui, "socket_connected")
        assert (socket["nsp"], socket["id"]) == (name, sid)
    assert await no_admin_event(ui, "socket_connected", 0.1)


async def test_an_upgrade_from_polling_is_reported(dev: tuple[SioServer, AdminUI]) -> None:
    srv, admin = dev
    ui = await admin_client(srv)
    sock = await connect(
        f"http://127.0.0.1:{srv.port}", force_new=True, reconnection=False, wait_timeout=3
    )
    try:
        socket, _ = await admin_event(ui, "socket_connected", about="/")
        assert socket["id"] == sock.id and socket["transport"] == "polling"
        update = await admin_event(ui, "socket_updated", timeout=3)
        assert update == [{"id": sock.id, "nsp": "/", "transport": "websocket"}]
        (sockets,) = await admin_event(await admin_client(srv), "all_sockets")
        assert {s["id"]: s["transport"] for s in sockets}[sock.id] == "websocket"
        assert admin.server_stats()["pollingClientsCount"] == 0
    finally:
        await sock.disconnect()


async def test_server_stats(dev: tuple[SioServer, AdminUI]) -> None:
    srv, admin = dev
    ui = await admin_client(srv)
    user, _ = await srv.connected("/")
    await user.close()
    await until(lambda: srv.io.engine.clients_count == 1)
    # the timer's own, within 2 seconds
    (stats,) = await admin_event(ui, "server_stats", timeout=2.5)
    assert list(stats) == [
        "serverId",
        "hostname",
        "pid",
        "uptime",
        "clientsCount",
        "pollingClientsCount",
        "aggregatedEvents",
        "namespaces",
    ]
    assert stats["serverId"] == admin.server_id == stats["hostname"]
    assert stats["clientsCount"] == 1 and stats["pollingClientsCount"] == 0
    assert isinstance(stats["uptime"], float) and stats["uptime"] > 0
    assert {"name": "/admin", "socketsCount": 1} in stats["namespaces"]
    assert {"name": "/", "socketsCount": 0} in stats["namespaces"]
    events = {(e["type"], e.get("subType")): e for e in stats["aggregatedEvents"]}
    assert events[("rawConnection", None)]["count"] == 2
    assert "subType" not in events[("rawConnection", None)]
    assert events[("rawDisconnection", "transport close")]["count"] == 1
    assert all(e["timestamp"] % 1000 == 0 for e in events.values())
    # taken once: the next stats start afresh
    assert admin.server_stats()["aggregatedEvents"] == []


# ---------------------------------------------------------------------- commands
async def test_commands(dev: tuple[SioServer, AdminUI]) -> None:
    srv, _ = dev
    ui = await admin_client(srv)
    alice, alice_id = await srv.connected("/")
    bob, bob_id = await srv.connected("/")
    await alice.emit("join", "lobby")
    await until(lambda: "lobby" in srv.io.sockets.adapter.rooms)

    await ui.emit("emit", "/", "lobby", "news", 1, {"b": 2}, nsp="/admin")
    assert await alice.next_event(nsp="/") == ("/", "news", [1, {"b": 2}])
    assert await bob.no_event(nsp="/")
    await ui.emit("emit", "/", None, "all", nsp="/admin")
    assert (await bob.next_event(nsp="/"))[1] == "all"

    await ui.emit("join", "/", "vip", bob_id, nsp="/admin")
    await until(lambda: srv.io.sockets.adapter.rooms.get("vip") == {bob_id})
    await ui.emit("join", "/", "everyone", nsp="/admin")
    await until(lambda: srv.io.sockets.adapter.rooms.get("everyone") == {alice_id, bob_id})
    await ui.emit("leave", "/", "everyone", "lobby", nsp="/admin")
    await until(lambda: srv.io.sockets.adapter.rooms.get("everyone") == {bob_id})
    await ui.emit("leave", "/", "vip", nsp="/admin")
    await until(lambda: "vip" not in srv.io.sockets.adapter.rooms)

    await ui.emit("_disconnect", "/", False, alice_id, nsp="/admin")
    packet = await alice.next_packet(nsp="/", types=(DISCONNECT,))
    assert packet.type == DISCONNECT and not alice.is_closed
    await ui.emit("_disconnect", "/", True, nsp="/admin")
    assert await bob.wait_closed() in (1000, 1005, 1006)


async def test_commands_never_create_namespaces_nor_break_on_garbage(
    dev: tuple[SioServer, AdminUI],
) -> None:
    srv, _ = dev
    ui = await admin_client(srv)
    user, _ = await srv.connected("/")
    for args in (
        ("emit", "/nope", None, "x"),
        ("emit", "/", None, "disconnect"),  # reserved
        ("emit", "/", None),
        ("emit", 1, None, "x"),
        ("join", "/nope", "room"),
        ("join", "/", {"room": 1}),
        ("leave", "/", None),
        ("_disconnect", "/nope", True),
        ("_disconnect",),
    ):
        await ui.emit(*args, nsp="/admin")
    await ui.emit("emit", "/", None, "still-alive", nsp="/admin")
    assert (await user.next_event(nsp="/"))[1] == "still-alive"
    assert "/nope" not in srv.io.namespaces


async def test_read_only_refuses_commands() -> None:
    io, _ = make_server(read_only=True)
    async with SioServer(io) as srv:
        ui = await admin_client(srv)
        assert await admin_event(ui, "config") == [
            {"supportedFeatures": ["AGGREGATED_EVENTS", "ALL_EVENTS"]}
        ]
        user, sid = await srv.connected("/")
        await ui.emit("emit", "/", None, "x", nsp="/admin")
        await ui.emit("join", "/", "room", nsp="/admin")
        await ui.emit("_disconnect", "/", True, nsp="/admin")
        assert await user.no_event(0.2, nsp="/")
        assert "room" not in io.sockets.adapter.rooms and sid in io.sockets.sockets


async def test_production_mode_sends_only_aggregates() -> None:
    io, admin = make_server(mode="production")
    async with SioServer(io) as srv:
        ui = await admin_client(srv)
        assert await admin_event(ui, "config") == [
            {"supportedFeatures": ALL_FEATURES[:-1]},
        ]
        user, _ = await srv.connected("/")
        await user.emit("join", "lobby")
        await user.emit("echo", 1)
        await user.next_event(nsp="/")
        await user.close()
        for name in ("all_sockets", "socket_connected", "room_joined", "event_received"):
            assert await no_admin_event(ui, name, 0.02), name
        stats = admin.server_stats()
        types = {(e["type"], e.get("subType")) for e in stats["aggregatedEvents"]}
        assert types == {("rawConnection", None), ("rawDisconnection", "transport close")}


# ---------------------------------------------------------------------- stores
async def test_stores() -> None:
    memory = InMemoryStore(session_duration=60, max_sessions=2)
    for sid in ("a", "b", "c"):
        memory.save_session(sid)
    assert [memory.does_session_exist(s) for s in ("a", "b", "c")] == [False, True, True]
    expired = InMemoryStore(session_duration=-1)
    expired.save_session("a")
    assert not expired.does_session_exist("a")

    class FakeRedis:
        def __init__(self) -> None:
            self.keys: dict[str, tuple[str, int]] = {}

        async def exists(self, key: str) -> int:
            return int(key in self.keys)

        async def set(self, key: str, value: str, ex: int) -> None:
            self.keys[key] = (value, ex)

    fake = FakeRedis()
    redis = RedisStore(fake, session_duration=10)
    await redis.save_session("abc")
    assert fake.keys == {"socket.io-admin#abc": ("true", 10)}  # the Node package's keys
    assert await redis.does_session_exist("abc") and not await redis.does_session_exist("x")


@needs_bcrypt
async def test_an_async_store_is_awaited() -> None:
    saved: list[str] = []

    class AsyncStore:
        async def does_session_exist(self, session_id: str) -> bool:
            await asyncio.sleep(0)
            return session_id in saved

        async def save_session(self, session_id: str) -> None:
            saved.append(session_id)

    io, _ = make_server(auth=AUTH, store=AsyncStore())
    async with SioServer(io) as srv:
        ui = await admin_client(srv, LOGIN)
        (session_id,) = await admin_event(ui, "session")
        assert saved == [session_id]
        await admin_client(srv, {"sessionId": session_id})
