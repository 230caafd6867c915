"""The Manager: one Engine.IO connection shared by the namespaces of one server
(socket.io-client's ``Manager``), with reconnection."""

from __future__ import annotations

import asyncio
import math
import re
import ssl as _ssl
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..engineio.client_session import State
from ..engineio.packets import MESSAGE
from ..errors import ProtocolError
from ..reasons import DisconnectReason
from ..socketio.packets import Packet
from ..socketio.parser import JSON_PARSER, Decoder, Parser
from .backoff import Backoff
from .deadlines import Deadlines
from .engine import Engine
from .events import Emitter, TaskSet, log
from .http import Target
from .socket import Auth, Socket
from .transports import TransportError

__all__ = ["Manager", "ParsedURL", "io", "namespace_hint", "parse_url"]

OpenCallback = Callable[[Exception | None], None]


@dataclass(frozen=True, slots=True)
class ParsedURL:
    """A server URL split for the client: the namespace is the URL's path."""

    scheme: str
    host: str
    port: int
    namespace: str
    query: dict[str, str]

    @property
    def secure(self) -> bool:
        return self.scheme in ("https", "wss")

    def id(self, path: str) -> str:
        """The key of the shared Manager (Node: ``protocol://host:port/path``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{path}"


_SCHEME = re.compile(r"^(https?|wss?)://", re.IGNORECASE)


def _with_scheme(url: str | None) -> str:
    if not url:
        return "http://localhost"
    if url.startswith("//"):
        return "https:" + url
    if not _SCHEME.match(url):
        return "https://" + url
    return url


def parse_url(url: str | None) -> ParsedURL:
    """Read ``http(s)://`` or ``ws(s)://`` URLs; without a scheme, https is assumed (as the
    Node client does outside a browser)."""
    url = _with_scheme(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or "localhost"
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid port in {url!r}") from exc
    if port is None:
        port = 443 if scheme in ("https", "wss") else 80
    return ParsedURL(
        scheme,
        host,
        port,
        parts.path or "/",
        dict(parse_qsl(parts.query, keep_blank_values=True)),
    )


def namespace_hint(url: str | None, namespace: str, path: str) -> str | None:
    """What to say when a URL's path, the namespace, ends in the Socket.IO ``path``:
    ``http://host:3000/socket.io/`` names the namespace "/socket.io/", which is legal but
    almost never meant (the server answers "Invalid namespace"). None otherwise."""
    engine_path = "/" + path.strip("/")
    name = namespace.rstrip("/")
    if engine_path == "/" or not name.endswith(engine_path):
        return None
    url = _with_scheme(url)
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    fixed = f"{parts.scheme}://{parts.netloc}/{query}"
    if name == engine_path:
        option = f'(the Socket.IO path, "{engine_path}", is the path option)'
    else:
        option = f'with path="{name}" (the path option is the Socket.IO path)'
    return (
        f'{url} names the namespace "{namespace}": the path after the host is the '
        f"namespace, not the Socket.IO path; for the main namespace, connect to {fixed} "
        f"{option}"
    )


class Manager(Emitter):
    """The connection to one server, shared by its namespaces (:meth:`socket`).

    Events (listen with :meth:`on`): ``open``, ``error`` (exception), ``close`` (reason),
    ``ping``, ``packet`` (packet), ``reconnect_attempt`` (attempt), ``reconnect`` (attempt),
    ``reconnect_error`` (exception), ``reconnect_failed``.

    Times are in seconds. ``reconnection_attempts`` is unlimited by default; ``timeout``
    (None: none) bounds each attempt to open the connection.
    """

    __slots__ = (
        "__weakref__",
        "_closing_engines",
        "_deadlines",
        "_decoder",
        "_open_callback",
        "_open_timer",
        "_parser",
        "_reconnect_timer",
        "_reconnecting",
        "_subscribed",
        "_tasks",
        "auto_connect",
        "backoff",
        "engine",
        "engine_options",
        "nsps",
        "reconnection",
        "reconnection_attempts",
        "skip_reconnect",
        "state",
        "target",
        "timeout",
        "uri",
        "url",
    )

    def __init__(
        self,
        url: str | None = "http://localhost",
        *,
        path: str = "/socket.io",
        query: dict[str, str] | None = None,
        extra_headers: dict[str, str] | Sequence[tuple[str, str]] | None = None,
        transports: Sequence[str] = ("polling", "websocket"),
        upgrade: bool = True,
        remember_upgrade: bool = False,
        ssl: _ssl.SSLContext | None = None,
        timeout: float | None = 20.0,
        reconnection: bool = True,
        reconnection_attempts: float = math.inf,
        reconnection_delay: float = 1.0,
        reconnection_delay_max: float = 5.0,
        randomization_factor: float = 0.5,
        auto_connect: bool = True,
        parser: Parser = JSON_PARSER,
        per_message_deflate: bool = True,
        timestamp_requests: bool = True,
        add_trailing_slash: bool = True,
        with_credentials: bool = False,
        try_all_transports: bool = False,
    ) -> None:
        super().__init__()
        parsed = parse_url(url)
        self.uri = parsed
        self.url = url
        engine_path = path.rstrip("/") + ("/" if add_trailing_slash else "")
        self.target = Target(parsed.secure, parsed.host, parsed.port, engine_path or "/")
        if isinstance(extra_headers, dict):
            headers = list(extra_headers.items())
        else:
            headers = list(extra_headers or ())
        self.engine_options: dict[str, Any] = {
            "query": {**parsed.query, **(query or {})},
            "headers": headers,
            "transports": tuple(transports),
            "upgrade": upgrade,
            "remember_upgrade": remember_upgrade,
            "ssl": ssl,
            "connect_timeout": timeout if timeout is not None else 20.0,
            "per_message_deflate": per_message_deflate,
            "timestamp_requests": timestamp_requests,
            "with_credentials": with_credentials,
            "try_all_transports": try_all_transports,
        }
        self.nsps: dict[str, Socket] = {}
        self.reconnection = reconnection
        self.reconnection_attempts = reconnection_attempts
        self.backoff = Backoff(reconnection_delay, reconnection_delay_max, randomization_factor)
        self.timeout = timeout
        self.state = State.CLOSED
        self.engine: Engine | None = None
        self.skip_reconnect = not reconnection
        self.auto_connect = auto_connect
        self._parser = parser
        self._decoder: Decoder = parser.decoder()
        self._reconnecting = False
        self._subscribed: Engine | None = None
        self._open_callback: OpenCallback | None = None
        self._open_timer: asyncio.TimerHandle | None = None
        self._reconnect_timer: asyncio.TimerHandle | None = None
        self._closing_engines: set[Engine] = set()
        self._tasks = TaskSet(log)
        self._deadlines: Deadlines | None = None
        if auto_connect:
            self.open()

    def __repr__(self) -> str:
        return f"<Manager {self.uri.id(self.target.path)} {self.ready_state}>"

    def _task_set(self) -> TaskSet:
        return self._tasks

    @property
    def ready_state(self) -> str:
        """socket.io-client's ``_readyState``: "opening", "open" or "closed"."""
        return self.state.ready_state

    # ------------------------------------------------------------------ reconnection settings
    @property
    def reconnection_delay(self) -> float:
        return self.backoff.min

    @reconnection_delay.setter
    def reconnection_delay(self, value: float) -> None:
        self.backoff.min = value

    @property
    def reconnection_delay_max(self) -> float:
        return self.backoff.max

    @reconnection_delay_max.setter
    def reconnection_delay_max(self, value: float) -> None:
        self.backoff.max = value

    @property
    def randomization_factor(self) -> float:
        return self.backoff.jitter

    @randomization_factor.setter
    def randomization_factor(self, value: float) -> None:
        self.backoff.jitter = value

    # ------------------------------------------------------------------ namespaces
    def socket(
        self,
        nsp: str = "/",
        *,
        auth: Auth = None,
        retries: int | None = None,
        ack_timeout: float | None = None,
    ) -> Socket:
        """The socket of a namespace (created when new)."""
        if not nsp.startswith("/"):
            nsp = "/" + nsp
        socket = self.nsps.get(nsp)
        if socket is None:
            hint = self.namespace_hint(nsp)
            if hint is not None:
                log.warning("%s", hint)
            socket = Socket(self, nsp, auth=auth, retries=retries, ack_timeout=ack_timeout)
            self.nsps[nsp] = socket
        elif self.auto_connect and not socket.active:
            socket.connect()
        return socket

    def namespace_hint(self, nsp: str) -> str | None:
        """A hint when ``nsp`` looks like the Socket.IO path put in the URL by mistake."""
        return namespace_hint(self.url, nsp, self.target.path)

    def _destroy(self, socket: Socket) -> None:
        """A socket left: close the connection when no socket is active any more."""
        if any(s.active for s in self.nsps.values()):
            return
        self._close()

    def _packet(self, packet: Packet, compress: bool = True) -> None:
        engine = self.engine
        if engine is None:
            return
        for message in self._parser.encode(packet.type, packet.nsp, packet.data, packet.id):
            engine._send_packet(MESSAGE, message, compress)

    # ------------------------------------------------------------------ opening
    def open(self, callback: OpenCallback | None = None) -> Manager:
        """Open the connection (nothing happens when it is open or opening)."""
        if self.state is State.OPEN or self.state is State.OPENING:
            return self
        if self.engine is not None:
            self._keep_until_closed(self.engine)
        engine = Engine(self.target, listener=self, **self.engine_options)
        self.engine = engine
        self._subscribed = engine
        self.state = State.OPENING
        self.skip_reconnect = False
        self._open_callback = callback
        engine.open()
        if self.timeout is not None:
            loop = asyncio.get_running_loop()
            self._open_timer = loop.call_later(self.timeout, self._on_open_timeout, engine)
        return self

    connect = open

    def _on_open_timeout(self, engine: Engine) -> None:
        self._open_timer = None
        if engine is not self._subscribed or self.state is not State.OPENING:
            return
        self._on_open_error(TransportError("timeout"))
        engine.close()

    def _on_open_error(self, error: Exception) -> None:
        self._cleanup()
        self.state = State.CLOSED
        self._emit("error", error)
        callback, self._open_callback = self._open_callback, None
        if callback is not None:
            callback(error)
        else:
            self._maybe_reconnect_on_open()

    def _maybe_reconnect_on_open(self) -> None:
        if not self._reconnecting and self.reconnection and self.backoff.attempts == 0:
            self._reconnect()

    def _on_open(self) -> None:
        self._cleanup()
        self._subscribed = self.engine
        self.state = State.OPEN
        self._emit("open")

    # ------------------------------------------------------------------ engine events
    def on_engine_open(self, engine: Engine) -> None:
        if engine is not self._subscribed or self.state is not State.OPENING:
            return
        callback, self._open_callback = self._open_callback, None
        self._on_open()
        if callback is not None:
            callback(None)

    def on_engine_data(self, engine: Engine, data: str | bytes) -> None:
        if engine is not self._subscribed or self.state is not State.OPEN:
            return
        try:
            if isinstance(data, str):
                packet = self._decoder.decode_text(data)
            else:
                packet = self._decoder.decode_binary(data)
        except ProtocolError as exc:
            log.debug("parse error: %s", exc)
            self._on_close(DisconnectReason.PARSE_ERROR, exc)
            return
        if packet is None:
            return
        if self._listeners and self.has_listeners("packet"):
            self._emit_reserved("packet", packet)
        socket = self.nsps.get(packet.nsp)
        if socket is not None and socket._active:
            socket._on_packet(packet)

    def on_engine_ping(self, engine: Engine) -> None:
        if engine is self._subscribed:
            self._emit_reserved("ping")

    def on_engine_error(self, engine: Engine, error: Exception) -> None:
        if engine is not self._subscribed:
            return
        if self.state is State.OPENING:
            self._on_open_error(error)
        else:
            self._emit("error", error)

    def on_engine_close(self, engine: Engine, reason: str, description: Any) -> None:
        if engine is not self._subscribed:
            return
        if self.state is State.OPENING:
            # closed before the handshake without an error: report it as one
            self._on_open_error(TransportError(reason, description))
        else:
            self._on_close(reason, description)

    def _emit(self, event: str, *args: Any) -> None:
        """An event for the active sockets, then for the listeners."""
        for socket in list(self.nsps.values()):
            if not socket.active:
                continue
            if event == "open":
                socket._on_open()
            elif event == "error":
                socket._on_error(args[0])
            elif event == "close":
                socket._on_close(args[0], args[1])
        self._emit_reserved(event, *args[:1])

    # ------------------------------------------------------------------ closing
    def _cleanup(self) -> None:
        for timer in (self._open_timer, self._reconnect_timer):
            if timer is not None:
                timer.cancel()
        self._open_timer = self._reconnect_timer = None
        self._subscribed = None
        self._decoder = self._parser.decoder()

    def _close(self) -> None:
        self.skip_reconnect = True
        self._reconnecting = False
        self._on_close(DisconnectReason.FORCED_CLOSE)

    def disconnect(self) -> asyncio.Future[None]:
        """Close the connection for good (every socket is disconnected, no reconnection).

        The returned future (awaiting it is optional) is done once the connection and the
        tasks it started are gone."""
        self._close()
        return self._when_closed()

    close = disconnect

    def _on_close(self, reason: str, description: Any = None) -> None:
        log.debug("manager %s closed: %s", self.uri.id(self.target.path), reason)
        self._cleanup()
        if self.engine is not None:
            self.engine.close()
        self.backoff.reset()
        self.state = State.CLOSED
        self._emit("close", reason, description)
        if self.reconnection and not self.skip_reconnect:
            self._reconnect()

    def _keep_until_closed(self, engine: Engine) -> None:
        self._closing_engines = {
            e for e in self._closing_engines if e.state is not State.CLOSED or len(e._tasks)
        }
        self._closing_engines.add(engine)

    def _when_closed(self) -> asyncio.Future[None]:
        """Done once the connection is closed and its tasks are over (at once when the
        manager is still in use)."""
        loop = asyncio.get_running_loop()
        if self.state is not State.CLOSED or self._reconnecting:
            future: asyncio.Future[None] = loop.create_future()
            future.set_result(None)
            return future
        return asyncio.ensure_future(self.wait_closed(asyncio.current_task()))

    async def wait_closed(self, caller: asyncio.Task[Any] | None = None) -> None:
        """Wait until the engines are closed and their tasks and the handlers' are over."""
        engines = set(self._closing_engines)
        if self.engine is not None:
            engines.add(self.engine)
        for engine in engines:
            if engine.state >= State.CLOSING:
                await engine.wait_closed()
        tasks = self._tasks
        while True:
            others = [t for t in tasks._others() if t is not caller]
            if not others:
                break
            _done, pending = await asyncio.wait(others, timeout=HANDLER_GRACE)
            if pending:
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending)

    # ------------------------------------------------------------------ reconnection
    def _reconnect(self) -> None:
        if self._reconnecting or self.skip_reconnect:
            return
        if self.backoff.attempts >= self.reconnection_attempts:
            self.backoff.reset()
            self._emit_reserved("reconnect_failed")
            self._reconnecting = False
            return
        delay = self.backoff.duration()
        self._reconnecting = True
        log.debug("reconnecting in %.3f s", delay)
        loop = asyncio.get_running_loop()
        self._reconnect_timer = loop.call_later(delay, self._attempt)

    def _attempt(self) -> None:
        self._reconnect_timer = None
        if self.skip_reconnect:
            return
        self._emit_reserved("reconnect_attempt", self.backoff.attempts)
        if self.skip_reconnect:
            return

        def opened(error: Exception | None) -> None:
            if error is not None:
                self._reconnecting = False
                self._reconnect()
                self._emit_reserved("reconnect_error", error)
            else:
                self._on_reconnect()

        self.open(opened)

    def _on_reconnect(self) -> None:
        attempt = self.backoff.attempts
        self._reconnecting = False
        self.backoff.reset()
        self._emit_reserved("reconnect", attempt)


HANDLER_GRACE = 2.0
"""How long closing waits for running handlers before it cancels them."""


# ---------------------------------------------------------------------- io()

_managers: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakValueDictionary[str, Manager]
] = weakref.WeakKeyDictionary()


def io(
    url: str | None = "http://localhost",
    *,
    force_new: bool = False,
    multiplex: bool = True,
    auth: Auth = None,
    retries: int | None = None,
    ack_timeout: float | None = None,
    path: str = "/socket.io",
    **options: Any,
) -> Socket:
    """The socket of the URL's namespace (Node: ``io(url, opts)``).

    Namespaces of one server share a Manager (one connection per event loop), unless
    ``force_new`` or ``multiplex=False`` is given or the namespace is in use already.
    Other options are the :class:`Manager`'s. Connects in the background (unless
    ``auto_connect=False``); see :func:`connect` to wait for it.
    """
    parsed = parse_url(url)
    key = parsed.id(path)
    loop = asyncio.get_running_loop()
    cache = _managers.get(loop)
    if cache is None:
        cache = _managers[loop] = weakref.WeakValueDictionary()
    cached = cache.get(key)
    same_namespace = cached is not None and parsed.namespace in cached.nsps
    if force_new or not multiplex or same_namespace:
        manager = Manager(url, path=path, **options)
    else:
        if cached is None:
            cached = cache[key] = Manager(url, path=path, **options)
        manager = cached
    return manager.socket(parsed.namespace, auth=auth, retries=retries, ack_timeout=ack_timeout)
