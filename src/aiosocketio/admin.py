"""The Socket.IO Admin UI: :func:`instrument` makes a server speak the protocol of
``@socket.io/admin-ui`` 0.5, so that the official UI (https://admin.socket.io, or the
``ui/dist`` folder of the npm package) can watch and drive it.

What the UI gets, on the admin namespace (``/admin`` by default):

- ``session`` (a session id, after a login with username and password), ``config``
  (``{"supportedFeatures": [...]}``), ``all_sockets`` (development mode);
- ``server_stats`` every 2 seconds, from every server of a cluster (the admin namespace's
  broadcasts go through its adapter);
- in development mode, ``socket_connected`` / ``socket_updated`` / ``socket_disconnected``,
  ``room_joined`` / ``room_left``, ``event_received`` / ``event_sent``.

What it may ask (not in read-only mode): ``emit``, ``join``, ``leave``, ``_disconnect``.

Passwords are bcrypt hashes, as the Node package takes them (``$2a$``/``$2b$`` hashes made
by ``bcryptjs``; checking them needs the ``bcrypt`` package: ``pip install
'aiosocketio[admin]'``), or plain passwords. Several credentials may be given as a list, and
a function may decide instead. See ``docs/admin-ui.md``.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib
import inspect
import logging
import os
import re
import secrets
import socket as _socket_module
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from .adapters.memory import MemoryAdapter
from .errors import ConnectionRefused
from .reasons import ENGINE_REASONS, DisconnectReason
from .runtime import Listener, spawn
from .server.socket import Socket

if TYPE_CHECKING:
    from .engine.socket import EngineSocket
    from .server.broadcast import BroadcastOperator
    from .server.namespace import Namespace
    from .server.server import Server

__all__ = [
    "AdminUI",
    "Feature",
    "InMemoryStore",
    "RedisStore",
    "Store",
    "instrument",
]

log = logging.getLogger("aiosocketio.admin")

Mode = Literal["development", "production"]


class Feature:
    """The feature names of the ``config`` event (the UI shows what they allow)."""

    EMIT = "EMIT"
    JOIN = "JOIN"
    LEAVE = "LEAVE"
    DISCONNECT = "DISCONNECT"
    MJOIN = "MJOIN"
    MLEAVE = "MLEAVE"
    MDISCONNECT = "MDISCONNECT"
    AGGREGATED_EVENTS = "AGGREGATED_EVENTS"
    ALL_EVENTS = "ALL_EVENTS"


STATS_INTERVAL = 2.0  # seconds between two server_stats, as the Node package
_TICK = 0.5  # how often upgrades (polling -> websocket) are looked for

Credentials = Mapping[str, str]
AuthCheck = Callable[[dict[str, Any]], "bool | Awaitable[bool]"]
AdminAuth = Credentials | list[Credentials] | AuthCheck | Literal[False] | None

_BCRYPT_HASH = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")
_MAX_PENDING_LOGINS = 1024


# ---------------------------------------------------------------------------------- stores
@runtime_checkable
class Store(Protocol):
    """Where the session ids given to logged-in UIs are kept (plain or async methods).

    Several servers behind one UI need a shared store (:class:`RedisStore`), since the UI
    may come back with its session id to any of them."""

    def does_session_exist(self, session_id: str) -> bool | Awaitable[bool]: ...

    def save_session(self, session_id: str) -> Awaitable[None] | None: ...


class InMemoryStore:
    """Session ids in this process, forgotten after ``session_duration`` seconds; at most
    ``max_sessions`` of them (the oldest go first)."""

    def __init__(self, *, session_duration: float = 86400.0, max_sessions: int = 10_000) -> None:
        self.session_duration = session_duration
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, float] = OrderedDict()

    def does_session_exist(self, session_id: str) -> bool:
        saved_at = self._sessions.get(session_id)
        if saved_at is None:
            return False
        if time.monotonic() - saved_at > self.session_duration:
            del self._sessions[session_id]
            return False
        return True

    def save_session(self, session_id: str) -> None:
        sessions = self._sessions
        sessions[session_id] = time.monotonic()
        sessions.move_to_end(session_id)
        while len(sessions) > self.max_sessions:
            sessions.popitem(last=False)


class RedisStore:
    """Session ids in Redis, shared by the servers of a cluster (Node servers too: the same
    keys, ``<prefix>#<session id>``, as the Node package's ``RedisStore``).

    ``client`` is a ``redis.asyncio`` client (or anything with async ``exists`` and ``set``)."""

    def __init__(
        self, client: Any, *, prefix: str = "socket.io-admin", session_duration: int = 86400
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.session_duration = session_duration

    def _key(self, session_id: str) -> str:
        return f"{self.prefix}#{session_id}"

    async def does_session_exist(self, session_id: str) -> bool:
        return bool(await self.client.exists(self._key(session_id)))

    async def save_session(self, session_id: str) -> None:
        await self.client.set(self._key(session_id), "true", ex=self.session_duration)


# ---------------------------------------------------------------------------------- helpers
def _now() -> str:
    """A timestamp as the Node package sends ``new Date()``: ISO 8601, milliseconds, ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _process_age() -> float:
    """Seconds since this process started (Linux), else 0."""
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        with open("/proc/uptime", "rb") as f:
            system_uptime = float(f.read().split()[0])
        # the fields after the command name (which may hold spaces) start after its ")"
        fields = stat[stat.rindex(b")") + 2 :].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return max(0.0, system_uptime - started)
    except (OSError, ValueError, IndexError):
        return 0.0


_STARTED = time.monotonic() - _process_age()


def _uptime() -> float:
    """As Node's ``process.uptime()``: seconds since the process started."""
    return time.monotonic() - _STARTED


def _load_bcrypt() -> Any:
    try:
        return importlib.import_module("bcrypt")
    except ImportError as exc:
        raise ImportError(
            "the admin UI's basic authentication checks bcrypt hashes with the `bcrypt` "
            "package: pip install 'aiosocketio[admin]'"
        ) from exc


def _json_safe(value: Any, depth: int = 0) -> Any:
    """``socket.data`` as something every parser can send (what is not JSON becomes text)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if depth >= 10:
        return "…"
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(v, depth + 1) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    return repr(value)


def _serialize_data(data: Any) -> Any:
    """``socket.data`` for the UI: without the ``_admin`` entry, JSON-safe."""
    if data is None:
        return {}
    if isinstance(data, Mapping):
        return {str(k): _json_safe(v, 1) for k, v in data.items() if k != "_admin"}
    return _json_safe(data)


def _is_local(socket: Any) -> bool:
    return isinstance(socket, Socket)


class _WatchedData(dict[str, Any]):
    """``socket.data`` once instrumented (development mode): a dict that tells the UI when a
    key is set or removed (changes inside nested values go unnoticed)."""

    _on_change: Callable[[], None] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))  # copied or pickled: a plain dict

    def _changed(self) -> None:
        on_change = self._on_change
        if on_change is not None:
            on_change()

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._changed()

    def pop(self, key: str, *default: Any) -> Any:
        had = key in self
        value = super().pop(key, *default)
        if had:
            self._changed()
        return value

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key in self:
            return self[key]
        super().__setitem__(key, default)
        self._changed()
        return default

    def clear(self) -> None:
        super().clear()
        self._changed()


class _EventBuffer:
    """The ``aggregatedEvents`` of ``server_stats``: counts per second, type and sub-type."""

    def __init__(self) -> None:
        self._counts: dict[tuple[int, str, str | None], int] = {}

    def push(self, kind: str, sub_type: str | None = None, count: int = 1) -> None:
        key = (int(time.time()) * 1000, kind, sub_type)
        self._counts[key] = self._counts.get(key, 0) + count

    def values_and_clear(self) -> list[dict[str, Any]]:
        counts, self._counts = self._counts, {}
        out: list[dict[str, Any]] = []
        for (timestamp, kind, sub_type), count in counts.items():
            entry: dict[str, Any] = {"timestamp": timestamp, "type": kind}
            if sub_type is not None:  # JSON.stringify drops an undefined subType
                entry["subType"] = sub_type
            entry["count"] = count
            out.append(entry)
        return out


# ---------------------------------------------------------------------------------- instrument
_instrumented: weakref.WeakSet[Server] = weakref.WeakSet()


def instrument(
    io: Server,
    *,
    auth: AdminAuth = None,
    mode: Mode = "development",
    read_only: bool = False,
    namespace_name: str = "/admin",
    server_id: str | None = None,
    store: Store | None = None,
    stats_interval: float = STATS_INTERVAL,
) -> AdminUI:
    """Serve the Admin UI protocol on ``io`` (Node: ``instrument(io, options)``).

    ``auth``: ``{"type": "basic", "username": ..., "password": ...}`` (the password a bcrypt
    hash, or plain), a list of them (any may log in), a function ``check(auth)`` (plain or
    async) given what the UI sent (``{"username": ..., "password": ...}``) that returns
    whether to let it in, or None / False for no authentication (anyone who reaches the
    server may use the admin namespace). ``stats_interval``: seconds between two
    ``server_stats``.
    ``mode="production"`` sends only the aggregated statistics (no per-socket events, no
    socket list), which costs nothing per event. ``read_only`` refuses every command.
    ``server_id`` names this server in the UI (default: the host name, with ``#pid`` when the
    server uses a cluster adapter). ``store`` keeps the session ids of logged-in UIs
    (default :class:`InMemoryStore`).
    """
    if io in _instrumented:
        raise RuntimeError("this server is already instrumented for the admin UI")
    admin = AdminUI(
        io,
        auth=auth,
        mode=mode,
        read_only=read_only,
        namespace_name=namespace_name,
        server_id=server_id,
        store=store if store is not None else InMemoryStore(),
        stats_interval=stats_interval,
    )
    _instrumented.add(io)
    return admin


class AdminUI:
    """The admin UI instrumentation of one server (made by :func:`instrument`)."""

    def __init__(
        self,
        io: Server,
        *,
        auth: AdminAuth,
        mode: Mode,
        read_only: bool,
        namespace_name: str,
        server_id: str | None,
        store: Store,
        stats_interval: float = STATS_INTERVAL,
    ) -> None:
        if mode not in ("development", "production"):
            raise ValueError("mode must be 'development' or 'production'")
        if not stats_interval > 0:
            raise ValueError("stats_interval must be a positive number of seconds")
        self._ticks_per_stats = max(1, round(stats_interval / _TICK))
        self.io = io
        self.mode: Mode = mode
        self.read_only = read_only
        self.store = store
        self._credentials: list[tuple[bytes, bytes, bool]] = []  # username, password, hashed
        self._check: AuthCheck | None = None
        self._bcrypt: Any = None
        if callable(auth):
            self._check = auth
        elif isinstance(auth, list):
            if not auth:
                raise ValueError("the `auth` list is empty")
            for one in auth:
                self._setup_auth(one)
        elif auth is not None and auth is not False:
            self._setup_auth(auth)
        else:
            log.warning("admin UI: authentication is disabled, please use with caution")
        hostname = _socket_module.gethostname()
        if server_id is None:
            clustered = io.adapter_factory is not MemoryAdapter
            server_id = f"{hostname}#{os.getpid()}" if clustered else hostname
        self.server_id = server_id
        self._base_stats = {"serverId": server_id, "hostname": hostname, "pid": os.getpid()}
        self.development = mode == "development"

        features: list[str] = []
        if not read_only:
            features = [
                Feature.EMIT,
                Feature.JOIN,
                Feature.LEAVE,
                Feature.DISCONNECT,
                Feature.MJOIN,
                Feature.MLEAVE,
                Feature.MDISCONNECT,
            ]
        features.append(Feature.AGGREGATED_EVENTS)
        if self.development:
            features.append(Feature.ALL_EVENTS)
        self.features = features

        self._events = _EventBuffer()
        self._conns: dict[str, EngineSocket] = {}  # engine sessions opened since instrument()
        self._close_reasons: dict[str, str] = {}
        self._polling: dict[tuple[str, str], Socket] = {}  # sockets that may still upgrade
        self._pending_logins: OrderedDict[str, str] = OrderedDict()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._ticks = 0
        self._closed = False
        self._socket_hook = self._on_socket
        self._registered: weakref.WeakSet[Namespace] = weakref.WeakSet()

        self.namespace: Namespace = io.of(namespace_name)
        nsp = self.namespace
        if self._credentials or self._check is not None:
            nsp.use(self._authenticate)
        nsp.on("connection", self._on_admin_connection)
        if not read_only:
            nsp.on_event("emit", self._cmd_emit)
            nsp.on_event("join", self._cmd_join)
            nsp.on_event("leave", self._cmd_leave)
            nsp.on_event("_disconnect", self._cmd_disconnect)
        self._watch_lifecycle(nsp)
        self._watch_engine()
        for existing in list(io.namespaces.values()):
            self._register(existing)
        io.on("new_namespace", self._register)
        self._ensure_running()

    def __repr__(self) -> str:
        return f"<AdminUI {self.namespace.name!r} mode={self.mode} read_only={self.read_only}>"

    # ------------------------------------------------------------------ authentication
    def _setup_auth(self, auth: Any) -> None:
        if not isinstance(auth, Mapping) or auth.get("type") != "basic":
            raise ValueError("invalid `auth` option: expected {'type': 'basic', ...}")
        username, password = auth.get("username"), auth.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise ValueError("the `username` and `password` fields must be strings")
        if not password:
            raise ValueError("the `password` field must not be empty")
        hashed = _BCRYPT_HASH.fullmatch(password) is not None
        if hashed and self._bcrypt is None:
            self._bcrypt = _load_bcrypt()
        self._credentials.append((username.encode(), password.encode(), hashed))

    def _check_password(self, username: str, password: str) -> bool:
        """Whether a username and password match one of the credentials."""
        try:
            name = username.encode("utf-8")
            secret = password.encode("utf-8")
        except UnicodeEncodeError:
            return False
        ok = False
        for expected_name, expected, hashed in self._credentials:
            if not hmac.compare_digest(name, expected_name):
                continue
            if hashed:
                try:
                    # as bcryptjs: only the first 72 bytes count
                    ok = ok or bool(self._bcrypt.checkpw(secret[:72], expected))
                except ValueError:
                    pass
            else:
                ok = hmac.compare_digest(secret, expected) or ok
        return ok

    async def _allowed(self, auth: dict[str, Any]) -> bool:
        if self._check is not None:
            try:
                result = self._check(dict(auth))
                if inspect.isawaitable(result):
                    result = await result
            except Exception:
                log.exception("admin UI: error in the auth function")
                return False
            return bool(result)
        username, password = auth.get("username"), auth.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return False
        if any(hashed for _, _, hashed in self._credentials):
            return await asyncio.to_thread(self._check_password, username, password)
        return self._check_password(username, password)

    async def _authenticate(self, socket: Socket) -> None:
        auth = socket.handshake.auth
        session_id = auth.get("sessionId")
        if isinstance(session_id, str) and session_id:
            exists = self.store.does_session_exist(session_id)
            if inspect.isawaitable(exists):
                exists = await exists
            if exists:
                return
        if await self._allowed(auth):
            new_session = secrets.token_hex(16)
            try:
                saved = self.store.save_session(new_session)
                if inspect.isawaitable(saved):
                    await saved
            except Exception:
                log.exception("admin UI: could not save the session")
            pending = self._pending_logins
            pending[socket.id] = new_session
            while len(pending) > _MAX_PENDING_LOGINS:
                pending.popitem(last=False)
            return
        raise ConnectionRefused("invalid credentials")

    # ------------------------------------------------------------------ the admin namespace
    def _on_admin_connection(self, socket: Socket) -> None:
        self._ensure_running()
        session_id = self._pending_logins.pop(socket.id, None)
        if session_id is not None:
            # after CONNECT (Node sends it before): the UI listens once connected
            socket.emit("session", session_id)
        socket.emit("config", {"supportedFeatures": list(self.features)})
        if self.development:
            spawn(self._send_all_sockets(socket), "admin UI: all_sockets")

    async def _send_all_sockets(self, socket: Socket) -> None:
        sockets = await self.fetch_all_sockets()
        if socket.connected:
            socket.emit("all_sockets", sockets)

    async def fetch_all_sockets(self) -> list[dict[str, Any]]:
        """Every socket of every namespace, as the UI lists them: the whole cluster's
        through the adapters' ``fetch_sockets`` (this server's alone if that fails)."""
        namespaces = list(self.io.namespaces.values())
        results = await asyncio.gather(
            *(nsp.fetch_sockets() for nsp in namespaces), return_exceptions=True
        )
        out: list[dict[str, Any]] = []
        for nsp, result in zip(namespaces, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("admin UI: fetch_sockets failed in %s: %r", nsp.name, result)
                found: list[Any] = list(nsp.sockets.values())
            else:
                found = result
            out.extend(self.serialize(s, nsp.name) for s in found)
        return out

    def _target(self, nsp: Any, filter: Any = None) -> Namespace | BroadcastOperator | None:
        """A command's sockets: an existing namespace only (commands never create one),
        narrowed to a room when the UI gives one."""
        if not isinstance(nsp, str):
            return None
        namespace = self.io.namespaces.get(nsp)
        if namespace is not None and isinstance(filter, str) and filter:
            return namespace.in_(filter)
        return namespace

    def _cmd_emit(self, admin: Socket, nsp: Any = None, filter: Any = None, *rest: Any) -> None:
        target = self._target(nsp, filter)
        if target is None or not rest or not isinstance(rest[0], str):
            return
        event, args = rest[0], rest[1:]
        log.info("admin UI: emit %r to namespace %s, room %s", event, nsp, filter or "*")
        try:
            target.emit(event, *args)
        except ValueError as exc:  # a reserved event name
            log.warning("admin UI: emit refused: %s", exc)

    def _cmd_join(
        self, admin: Socket, nsp: Any = None, room: Any = None, filter: Any = None
    ) -> None:
        target = self._target(nsp, filter)
        if target is not None and isinstance(room, str):
            log.info("admin UI: sockets of %s, room %s, join %s", nsp, filter or "*", room)
            target.sockets_join(room)

    def _cmd_leave(
        self, admin: Socket, nsp: Any = None, room: Any = None, filter: Any = None
    ) -> None:
        target = self._target(nsp, filter)
        if target is not None and isinstance(room, str):
            log.info("admin UI: sockets of %s, room %s, leave %s", nsp, filter or "*", room)
            target.sockets_leave(room)

    def _cmd_disconnect(
        self, admin: Socket, nsp: Any = None, close: Any = False, filter: Any = None
    ) -> None:
        target = self._target(nsp, filter)
        if target is not None:
            log.info("admin UI: disconnect sockets of %s, room %s", nsp, filter or "*")
            target.disconnect_sockets(close is True)

    # ------------------------------------------------------------------ emitting to the UI
    def _listening(self) -> bool:
        """Whether an admin event may reach anyone: an admin socket here, or other servers
        (any adapter but the in-memory one)."""
        nsp = self.namespace
        return bool(nsp.sockets) or type(nsp.adapter) is not MemoryAdapter

    def _emit(self, event: str, *args: Any) -> None:
        try:
            self.namespace.emit(event, *args)
        except Exception:
            log.exception("admin UI: could not send %s", event)

    def serialize(self, socket: Any, nsp: str) -> dict[str, Any]:
        """A socket (local, or remote from ``fetch_sockets``) as the UI shows it."""
        data = getattr(socket, "data", None)
        admin = data.get("_admin") if isinstance(data, Mapping) else None
        if not isinstance(admin, Mapping):
            admin = {}
        if _is_local(socket):
            client_id: Any = socket.conn.sid[:12]
            transport: Any = socket.conn.transport
        else:
            client_id, transport = admin.get("clientId"), admin.get("transport")
        handshake = socket.handshake
        headers = dict(handshake.headers)
        address = (
            headers.get("cf-connecting-ip") or headers.get("x-forwarded-for") or handshake.address
        )
        return {
            "id": socket.id,
            "clientId": client_id,
            "transport": transport,
            "nsp": nsp,
            "data": _serialize_data(data),
            "handshake": {
                "address": address,
                "headers": headers,
                "query": dict(handshake.query),
                "issued": handshake.issued,
                "secure": handshake.secure,
                "time": handshake.time,
                "url": handshake.url,
                "xdomain": handshake.xdomain,
            },
            "rooms": list(socket.rooms),
        }

    # ------------------------------------------------------------------ namespaces and sockets
    def _register(self, nsp: Namespace) -> None:
        """Watch a namespace: its new sockets (and, in development mode, its rooms)."""
        if nsp in self._registered:
            return
        self._registered.add(nsp)
        # first, as Node's prependListener: before the application's connection handlers
        handlers = nsp._connection_handlers  # shared by the children of a dynamic namespace
        if not any(listener.func is self._socket_hook for listener in handlers):
            handlers.insert(0, Listener(self._socket_hook))
        if self.development:
            self._watch_rooms(nsp)

    def _watch_rooms(self, nsp: Namespace) -> None:
        """Listen to the rooms of the namespace's adapter (whatever adapter)."""
        name = nsp.name

        def on_join_room(room: str, sid: str) -> None:
            if self._listening():
                self._emit("room_joined", name, room, sid, _now())

        def on_leave_room(room: str, sid: str) -> None:
            if self._listening():
                # as Node: after the socket_disconnected of a socket that goes away
                timestamp = _now()
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    self._emit("room_left", name, room, sid, timestamp)
                else:
                    loop.call_soon(self._emit, "room_left", name, room, sid, timestamp)

        nsp.adapter.on("join-room", on_join_room)
        nsp.adapter.on("leave-room", on_leave_room)

    def _on_socket(self, socket: Socket) -> None:
        """Every new socket of every namespace, before the application sees it."""
        conn = socket.conn
        name = socket.nsp.name
        sid = socket.id

        def on_disconnect(reason: str) -> None:
            if reason in ENGINE_REASONS and conn.sid in self._conns:
                self._close_reasons[conn.sid] = reason
            if self.development:
                self._polling.pop((name, sid), None)
                if self._listening():
                    self._emit("socket_disconnected", name, sid, reason, _now())

        socket.on("disconnect", on_disconnect)
        if not self.development:
            return
        transport = conn.transport
        data = socket._data
        # a plain dict, or a watched one coming back with a recovered session
        if data is None or type(data) is dict or isinstance(data, _WatchedData):
            watched = _WatchedData(_admin={"clientId": conn.sid[:12], "transport": transport})
            if data:
                dict.update(watched, {k: v for k, v in data.items() if k != "_admin"})
            watched._on_change = lambda: self._data_changed(socket)
            socket.data = watched
        if transport == "polling":
            self._polling[(name, sid)] = socket
        if self._listening():
            self._emit("socket_connected", self.serialize(socket, name), _now())
        if socket.nsp is not self.namespace:

            def on_any(*args: Any) -> None:
                if self._polling:
                    self._check_upgrade(socket)
                if self._listening():
                    self._emit("event_received", name, sid, list(args), _now())

            def on_any_outgoing(*args: Any) -> None:
                if self._listening():
                    self._emit("event_sent", name, sid, list(args), _now())

            socket.on_any(on_any)
            socket.on_any_outgoing(on_any_outgoing)

    def _data_changed(self, socket: Socket) -> None:
        if socket.connected and self._listening():
            data = _serialize_data(socket._data)
            self._emit("socket_updated", {"id": socket.id, "nsp": socket.nsp.name, "data": data})

    def _check_upgrade(self, socket: Socket) -> None:
        key = (socket.nsp.name, socket.id)
        if not socket.connected:
            self._polling.pop(key, None)
            return
        transport = socket.conn.transport
        if transport == "polling":
            return
        self._polling.pop(key, None)
        data = socket._data
        admin = data.get("_admin") if isinstance(data, dict) else None
        if isinstance(admin, dict):
            admin["transport"] = transport
        if self._listening():
            self._emit("socket_updated", {"id": socket.id, "nsp": key[0], "transport": transport})

    # ------------------------------------------------------------------ engine and lifecycle
    def _watch_engine(self) -> None:
        engine = self.io.engine
        original = engine.on_connection

        def on_connection(conn: EngineSocket) -> None:
            original(conn)
            self._conns[conn.sid] = conn
            self._events.push("rawConnection")
            self._ensure_running()

        engine.on_connection = on_connection

    def _watch_lifecycle(self, nsp: Namespace) -> None:
        """Start the statistics with the server (``Server.start`` initialises the adapters)
        and stop them when it closes."""
        adapter = nsp.adapter
        init, close = adapter.init, adapter.close

        async def init_then_start() -> None:
            await init()
            self._ensure_running()

        async def stop_then_close() -> None:
            self._stop_timer()
            await close()

        try:
            adapter.init = init_then_start  # type: ignore[method-assign]
            adapter.close = stop_then_close  # type: ignore[method-assign]
        except AttributeError:
            pass  # started by the first connection then

    def _ensure_running(self) -> None:
        if self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # started when the server starts or gets its first connection
        if self._timer is not None and self._timer_loop is loop:
            return
        self._timer_loop = loop
        self._ticks = 0
        self._tick()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        """Stop the statistics timer (the namespace and its handlers stay)."""
        self._closed = True
        self._stop_timer()

    def _tick(self) -> None:
        self._timer = None
        try:
            for socket in list(self._polling.values()):
                self._check_upgrade(socket)
            if self._ticks % self._ticks_per_stats == 0:
                stats = self.server_stats()  # always: it drains the aggregated events
                if self._listening():
                    self._emit("server_stats", stats)
        except Exception:
            log.exception("admin UI: error in the statistics timer")
        self._ticks += 1
        loop = self._timer_loop
        if not self._closed and loop is not None and not loop.is_closed():
            self._timer = loop.call_later(_TICK, self._tick)

    def server_stats(self) -> dict[str, Any]:
        """The ``server_stats`` payload (it takes the aggregated events since the last one)."""
        engine = self.io.engine
        closed = [sid for sid, conn in self._conns.items() if conn.closed]
        for sid in closed:
            del self._conns[sid]
            self._events.push(
                "rawDisconnection", self._close_reasons.pop(sid, DisconnectReason.TRANSPORT_CLOSE)
            )
        polling = sum(1 for conn in engine.sessions.values() if conn.transport == "polling")
        return {
            **self._base_stats,
            "uptime": _uptime(),
            "clientsCount": engine.clients_count,
            "pollingClientsCount": polling,
            "aggregatedEvents": self._events.values_and_clear(),
            "namespaces": [
                {"name": nsp.name, "socketsCount": len(nsp.sockets)}
                for nsp in self.io.namespaces.values()
            ],
        }
