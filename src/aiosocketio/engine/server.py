"""The Engine.IO server: options, the session table, request verification and routing."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from ..engineio.session import EngineConfig, Session
from ..engineio.session_v3 import SessionV3
from ..reasons import DisconnectReason
from .http import (
    BAD_HANDSHAKE_METHOD,
    BAD_REQUEST,
    ERROR_MESSAGES,
    FORBIDDEN,
    TOO_MANY_CONNECTIONS,
    UNKNOWN_SID,
    UNKNOWN_TRANSPORT,
    UNSUPPORTED_PROTOCOL_VERSION,
    CorsPolicy,
    Headers,
    Request,
    Responder,
    error_body,
    json_headers,
)
from .socket import EngineSocket, WebSocketConnection
from .socket_v3 import EngineSocketV3

__all__ = ["EngineServer", "Router", "WebSocketUpgrade"]

log = logging.getLogger("aiosocketio.engine")

AllowRequest = Callable[[Request], "bool | str | Awaitable[bool | str | None] | None"]
HeadersHook = Callable[[Headers, Request], None]
ConnectionErrorHook = Callable[[Request, int, str, dict[str, Any]], None]


class WebSocketUpgrade(Protocol):
    """What a front door provides while an upgrade request waits for the engine's decision."""

    def accept(self, headers: Headers) -> WebSocketConnection: ...
    def reject(self, status: int, headers: Headers, body: bytes) -> None: ...


class Router(Protocol):
    """Where a request goes whose session is not in this process (:attr:`EngineServer.router`).

    Each method returns True when it took the request (it answers it, now or later), False
    when the engine should answer as usual (400 "Session ID unknown"). The engine asks only
    for requests that carry a ``sid`` it does not know and that were not forwarded already.
    """

    def route_request(self, request: Request, responder: Responder) -> bool: ...
    def route_websocket(self, request: Request, upgrade: WebSocketUpgrade) -> bool: ...
    def request_aborted(self, request: Request, responder: Responder) -> None: ...


class EngineServer:
    """Engine.IO v4 server logic shared by every front door.

    ``on_connection`` is called with each new :class:`EngineSocket`; it must set the socket's
    ``handler`` to receive messages and the close notification.

    ``allow_eio3`` (Node: ``allowEIO3``) also serves Engine.IO v3 clients: as in Node, a
    handshake whose ``EIO`` is not ``4`` then opens a v3 session (its ``protocol`` is 3)
    instead of being refused.
    """

    def __init__(
        self,
        on_connection: Callable[[EngineSocket], None],
        *,
        path: str = "/engine.io",
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        upgrade_timeout: float = 10.0,
        max_http_buffer_size: int = 1_000_000,
        transports: Sequence[str] = ("polling", "websocket"),
        allow_upgrades: bool = True,
        cors: CorsPolicy | None = None,
        cookie: bool | dict[str, Any] = False,
        allow_request: AllowRequest | None = None,
        per_message_deflate: bool | dict[str, Any] = False,
        http_compression: bool | int = True,
        max_buffer_size: int = 8 * 1024 * 1024,
        max_connections: int | None = None,
        allow_eio3: bool = False,
    ) -> None:
        for t in transports:
            if t not in ("polling", "websocket"):
                raise ValueError(f"unknown transport {t!r}")
        self.on_connection = on_connection
        self.path = "/" + path.strip("/")
        self.config = EngineConfig(
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            upgrade_timeout=upgrade_timeout,
            max_payload=max_http_buffer_size,
            transports=tuple(transports),
            allow_upgrades=allow_upgrades,
        )
        self.cors = cors or CorsPolicy()
        self.cookie = _cookie_options(cookie)
        self.allow_request = allow_request
        self.per_message_deflate = per_message_deflate
        if http_compression is True:
            http_compression = 1024
        self.http_compression: int | None = (
            None if http_compression is False else int(http_compression)
        )
        self.max_buffer_size = max_buffer_size
        if max_connections is not None and max_connections < 0:
            raise ValueError("max_connections must not be negative (None: no limit)")
        self.max_connections = max_connections
        self.allow_eio3 = allow_eio3
        self.generate_id: Callable[[Request], str] | None = None
        """Makes the id of a new session from its handshake request (Node: ``generateId``);
        by default 20 random URL-safe characters. An id must be 1 to 128 characters of
        ``A-Z a-z 0-9 - _ . ~`` and not in use: otherwise, or when the function raises, the
        handshake is refused (400, "Bad request")."""
        self.sid_prefix = ""
        """Starts every session id this server makes (workers mode: the worker's slot)."""
        self.router: Router | None = None
        """Asked about requests for sessions that are not here (workers mode: forwarding)."""
        self.sessions: dict[str, EngineSocket] = {}
        self.initial_headers_hooks: list[HeadersHook] = []
        self.headers_hooks: list[HeadersHook] = []
        self.connection_error_hooks: list[ConnectionErrorHook] = []
        self._warned_origins: set[str] = set()

    def matches(self, path: str) -> bool:
        """Whether an HTTP path is this server's (with or without the trailing slash)."""
        return path == self.path or (path[-1:] == "/" and path[:-1] == self.path)

    @property
    def max_payload(self) -> int:
        return self.config.max_payload

    @property
    def clients_count(self) -> int:
        return len(self.sessions)

    # ------------------------------------------------------------------ HTTP
    def handle_request(self, request: Request, responder: Responder) -> None:
        """Answer a long-polling request (now, or later for a pending GET)."""
        headers = request.headers
        if "upgrade" in headers:
            upgrade = headers["upgrade"]
            if upgrade.strip().lower() != "websocket":
                # as Node (ws): an upgrade to another protocol (h2c, a known way to smuggle
                # requests past a proxy) is refused, whatever the transport
                log.debug("refused an upgrade to %r", upgrade[:40])
                responder.respond(400, list(_INVALID_UPGRADE_HEADERS), _INVALID_UPGRADE)
                return
        method = request.method
        if method == "OPTIONS":
            self._preflight(request, responder)
            return
        query = request.query
        code = self._verify_transport(request)
        if code is not None:
            self.respond_error(request, responder, code)
            return
        sid = query.get("sid")
        if sid is not None:
            esock = self.sessions.get(sid)
            if esock is None:
                router = self.router
                if (
                    router is None
                    or request.forwarded
                    or not router.route_request(request, responder)
                ):
                    self.respond_error(request, responder, UNKNOWN_SID)
            elif (
                esock.session.transport != "polling"
                or query["transport"] != "polling"
                or esock.protocol != (4 if query.get("EIO") == "4" else 3)
            ):
                self.respond_error(request, responder, BAD_REQUEST)
            elif method == "GET":
                esock.handle_poll(request, responder)
            elif method == "POST":
                esock.handle_post(request, responder)
            else:
                self.respond_error(request, responder, BAD_REQUEST)
            return
        if method != "GET":
            self.respond_error(request, responder, BAD_HANDSHAKE_METHOD)
            return
        if query["transport"] != "polling":
            self.respond_error(request, responder, BAD_REQUEST)
            return
        self._handshake(
            request,
            lambda: self._open_polling(request, responder),
            lambda code, msg: self.respond_error(request, responder, code, None, msg),
        )

    def _verify_transport(self, request: Request) -> int | None:
        query = request.query
        transport = query.get("transport")
        if transport not in self.config.transports:
            return UNKNOWN_TRANSPORT
        origin = request.headers.get("origin")
        if origin is not None and not _valid_header_value(origin):
            return BAD_REQUEST
        if "sid" not in query and query.get("EIO") != "4" and not self.allow_eio3:
            return UNSUPPORTED_PROTOCOL_VERSION
        return None

    def _open_polling(self, request: Request, responder: Responder) -> None:
        esock = self._create(request, "polling")
        if esock is None:
            self.respond_error(request, responder, BAD_REQUEST)
            return
        body, content_type = esock._encode_poll([esock.session.open_packet()])
        headers = [("Content-Type", content_type)]
        headers.append(("Content-Length", str(len(body))))
        headers.append(("Cache-Control", "no-store"))  # on every polling answer, as Node
        self.add_headers(headers, request, initial=True, sid=esock.sid)
        responder.respond(200, headers, body)
        self._connected(esock)

    def _create(self, request: Request, transport: str) -> EngineSocket | None:
        loop = asyncio.get_running_loop()
        sid = self._new_sid(request)
        if sid is None:
            return None
        if _protocol(request.query) == 4:
            esock = EngineSocket(self, Session(sid, transport, self.config, loop.time()), request)
        else:
            session = SessionV3(sid, transport, self.config, loop.time())
            esock = EngineSocketV3(self, session, request)
        self.sessions[sid] = esock
        return esock

    def _connected(self, esock: EngineSocket) -> None:
        esock.arm_timer()
        try:
            self.on_connection(esock)
        except Exception:
            log.exception("error in connection handler")
            esock.close(DisconnectReason.FORCED_CLOSE)

    def _new_sid(self, request: Request) -> str | None:
        generate = self.generate_id
        prefix = self.sid_prefix
        if generate is None:
            while True:
                # 20 characters (120 random bits, 108 after a 2-character prefix)
                sid = prefix + secrets.token_urlsafe(15)[len(prefix) :]
                if sid not in self.sessions:
                    return sid
        try:
            sid = generate(request)
        except Exception:
            log.exception("error in generate_id")
            return None
        if isinstance(sid, str):
            sid = prefix + sid
        if not isinstance(sid, str) or not _SID.fullmatch(sid) or sid in self.sessions:
            log.error("generate_id returned an invalid or used session id: %r", sid)
            return None
        return sid

    def _preflight(self, request: Request, responder: Responder) -> None:
        if not self.cors.enabled:
            self.respond_error(request, responder, BAD_HANDSHAKE_METHOD)
            return
        headers = self.cors.preflight_headers(
            request.headers.get("origin"), request.headers.get("access-control-request-headers")
        )
        headers.append(("Content-Length", "0"))
        responder.respond(204, headers, b"")

    def respond_error(
        self,
        request: Request,
        responder: Responder,
        code: int,
        status: int | None = None,
        message: str | None = None,
    ) -> None:
        self._connection_error(request, code, message, upgrade=False)
        body = error_body(code, message or ERROR_MESSAGES[code])
        headers = json_headers(body)
        headers.extend(self.cors.headers(request.headers.get("origin")))
        responder.respond(status or _STATUS.get(code, 400), headers, body)

    def _connection_error(
        self, request: Request, code: int, message: str | None, *, upgrade: bool
    ) -> None:
        """Call the hooks as Node emits ``connection_error``: the standard message of the
        code, the details (a refusal's own message too) in the context."""
        if not self.connection_error_hooks:
            return
        context = self._error_context(request, code, message, upgrade)
        for hook in self.connection_error_hooks:
            try:
                hook(request, code, ERROR_MESSAGES[code], context)
            except Exception:
                log.exception("error in connection_error hook")

    def _error_context(
        self, request: Request, code: int, message: str | None, upgrade: bool
    ) -> dict[str, Any]:
        query = request.query
        transport = query.get("transport")
        if code == UNKNOWN_TRANSPORT:
            return {"transport": transport}
        if code == UNKNOWN_SID:
            return {"sid": query.get("sid")}
        if code == BAD_HANDSHAKE_METHOD:
            return {"method": request.method}
        if code == FORBIDDEN:
            return {"message": message}
        if code == UNSUPPORTED_PROTOCOL_VERSION:
            return {"protocol": 3}  # Node: any EIO but "4" is revision 3
        if code == TOO_MANY_CONNECTIONS:
            return {"max_connections": self.max_connections}
        origin = request.headers.get("origin")
        if origin is not None and not _valid_header_value(origin):
            return {"name": "INVALID_ORIGIN", "origin": origin}
        sid = query.get("sid")
        if sid is None:
            return {"name": "TRANSPORT_HANDSHAKE_ERROR"}
        esock = self.sessions.get(sid)
        if not upgrade and esock is not None and esock.transport != transport:
            return {
                "name": "TRANSPORT_MISMATCH",
                "transport": transport,
                "previousTransport": esock.transport,
            }
        if esock is not None and esock.protocol != _protocol(query):
            return {
                "name": "PROTOCOL_MISMATCH",
                "protocol": _protocol(query),
                "previousProtocol": esock.protocol,
            }
        return {}

    def add_headers(
        self, headers: Headers, request: Request, *, initial: bool, sid: str | None = None
    ) -> None:
        """CORS, cookie and user hooks, on every response the engine writes."""
        cors = self.cors
        fixed = cors.fixed
        headers.extend(fixed if fixed is not None else cors.headers(request.headers.get("origin")))
        if initial:
            if self.cookie is not None and sid is not None:
                headers.append(("Set-Cookie", _format_cookie(self.cookie, sid)))
            for hook in self.initial_headers_hooks:
                hook(headers, request)
        for hook in self.headers_hooks:
            hook(headers, request)

    # ------------------------------------------------------------------ allow_request
    def _full(self) -> bool:
        limit = self.max_connections
        return limit is not None and len(self.sessions) >= limit

    def _handshake(
        self,
        request: Request,
        proceed: Callable[[], None],
        refuse: Callable[[int, str | None], None],
    ) -> None:
        """A new session: refused with 503 beyond ``max_connections`` (checked before and
        after ``allow_request``, which may wait), else as ``allow_request`` decides."""
        if self._full():
            refuse(TOO_MANY_CONNECTIONS, None)
            return

        def open_session() -> None:
            if self._full():
                refuse(TOO_MANY_CONNECTIONS, None)
            else:
                proceed()

        self._check_then(request, open_session, refuse)

    def _check_then(
        self,
        request: Request,
        proceed: Callable[[], None],
        refuse: Callable[[int, str | None], None],
    ) -> None:
        check = self.allow_request
        if check is None:
            proceed()
            return
        try:
            result = check(request)
        except Exception:
            # refused, without showing the exception's text to the client
            log.exception("error in allow_request")
            refuse(FORBIDDEN, None)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            task.add_done_callback(lambda t: self._checked(t, proceed, refuse))
            return
        self._decide(result, proceed, refuse)

    def _checked(
        self,
        task: asyncio.Future[Any],
        proceed: Callable[[], None],
        refuse: Callable[[int, str | None], None],
    ) -> None:
        if task.cancelled():
            refuse(FORBIDDEN, None)
        elif task.exception() is not None:
            log.error("error in allow_request", exc_info=task.exception())
            refuse(FORBIDDEN, None)
        else:
            self._decide(task.result(), proceed, refuse)

    @staticmethod
    def _decide(
        result: Any, proceed: Callable[[], None], refuse: Callable[[int, str | None], None]
    ) -> None:
        if result is True or result is None:
            proceed()
        elif isinstance(result, str):
            refuse(FORBIDDEN, result)
        else:
            refuse(FORBIDDEN, None)

    # ------------------------------------------------------------------ WebSocket
    def handle_websocket(self, request: Request, upgrade: WebSocketUpgrade) -> None:
        """A WebSocket upgrade request: a new session, or the upgrade of a polling one."""
        code = self._verify_transport(request)
        if code is None and request.query.get("transport") != "websocket":
            code = BAD_REQUEST
        if code is None and not self.cors.websocket_origin_ok(
            request.headers.get("origin"), request.headers.get("host")
        ):
            self._warn_origin(request.headers.get("origin") or "")
            code = FORBIDDEN
        if code is not None:
            self.reject_websocket(request, upgrade, code)
            return
        sid = request.query.get("sid")
        if sid is None:
            self._handshake(
                request,
                lambda: self._open_websocket(request, upgrade),
                lambda code, msg: self.reject_websocket(request, upgrade, code, msg),
            )
            return
        esock = self.sessions.get(sid)
        if esock is None:
            router = self.router
            if router is None or request.forwarded or not router.route_websocket(request, upgrade):
                self.reject_websocket(request, upgrade, UNKNOWN_SID)
            return
        if esock.protocol != _protocol(request.query):
            self.reject_websocket(request, upgrade, BAD_REQUEST)
            return
        upgraded = esock.upgrading or esock.transport == "websocket" or esock._closing
        if not upgraded and not esock.session.can_upgrade("websocket"):
            self.reject_websocket(request, upgrade, BAD_REQUEST)
            return
        headers: Headers = []
        self.add_headers(headers, request, initial=False)
        conn = upgrade.accept(headers)
        if upgraded:
            # as the Node server: a WebSocket for a session that is already upgrading or
            # upgraded is accepted, then closed at once
            conn.close(None)
            return
        esock.start_upgrade(conn, request)

    def _warn_origin(self, origin: str) -> None:
        """One warning line per refused origin (Node accepts any: a port must be told why)."""
        origin = origin[:200]
        if origin in self._warned_origins or len(self._warned_origins) >= 1000:
            return
        self._warned_origins.add(origin)
        if self.cors.enabled:
            why = "the cors option does not allow it; add it to cors to accept it"
        else:
            why = (
                f"cross-origin WebSockets are refused while CORS is off; to accept it, "
                f"pass cors=[{origin!r}] (or cors='*') to the Server"
            )
        log.warning("refused a WebSocket (403) from origin %r: %s", origin, why)

    def reject_websocket(
        self, request: Request, upgrade: WebSocketUpgrade, code: int, message: str | None = None
    ) -> None:
        """Refuse a WebSocket request with an Engine.IO error (as :meth:`respond_error`)."""
        self._connection_error(request, code, message, upgrade=True)
        body = error_body(code, message or ERROR_MESSAGES[code])
        upgrade.reject(_STATUS.get(code, 400), json_headers(body), body)

    def _open_websocket(self, request: Request, upgrade: WebSocketUpgrade) -> None:
        esock = self._create(request, "websocket")
        if esock is None:
            self.reject_websocket(request, upgrade, BAD_REQUEST)
            return
        headers: Headers = []
        self.add_headers(headers, request, initial=True, sid=esock.sid)
        conn = upgrade.accept(headers)
        conn.receiver = esock
        esock.ws = conn
        conn.send_text(esock.session.open_packet())
        self._connected(esock)

    # ------------------------------------------------------------------ lifecycle
    def request_aborted(self, request: Request, responder: Responder) -> None:
        """The client went away before its request was answered (called by front doors)."""
        sid = request.query.get("sid")
        if not sid:
            return
        esock = self.sessions.get(sid)
        if esock is not None:
            if request.method == "GET":
                esock.poll_aborted(responder)
        elif self.router is not None:
            self.router.request_aborted(request, responder)

    def remove(self, esock: EngineSocket) -> None:
        if self.sessions.get(esock.sid) is esock:
            del self.sessions[esock.sid]

    def close_all(self) -> None:
        for esock in list(self.sessions.values()):
            esock.close(DisconnectReason.FORCED_SERVER_CLOSE)


_STATUS = {FORBIDDEN: 403, TOO_MANY_CONNECTIONS: 503}


def _protocol(query: dict[str, str]) -> int:
    """The Engine.IO revision a request speaks: as Node, 4 for ``EIO=4``, else 3."""
    return 4 if query.get("EIO") == "4" else 3


_INVALID_UPGRADE = b"Invalid Upgrade header"  # Node's answer, from the ws package
_INVALID_UPGRADE_HEADERS: Headers = [
    ("Content-Type", "text/html"),
    ("Content-Length", str(len(_INVALID_UPGRADE))),
]


_SID = re.compile(r"[A-Za-z0-9_.~-]{1,128}")


_INVALID_HEADER_CHAR = re.compile("[^\t -~\x80-\xff]")


def _valid_header_value(value: str) -> bool:
    return _INVALID_HEADER_CHAR.search(value) is None


def _cookie_options(cookie: bool | dict[str, Any]) -> dict[str, Any] | None:
    if cookie is False:
        return None
    options: dict[str, Any] = {"name": "io", "path": "/", "httponly": True, "samesite": "Lax"}
    if isinstance(cookie, dict):
        options.update(cookie)
    return options


_SAME_SITE = {"lax": "Lax", "strict": "Strict", "none": "None"}


def _format_cookie(options: dict[str, Any], sid: str) -> str:
    """As Node's ``cookie.serialize()``: attributes in its order, SameSite capitalised."""
    parts = [f"{options['name']}={sid}"]
    if options.get("max_age") is not None:
        parts.append(f"Max-Age={int(options['max_age'])}")
    if options.get("domain"):
        parts.append(f"Domain={options['domain']}")
    if options.get("path"):
        parts.append(f"Path={options['path']}")
    if options.get("httponly"):
        parts.append("HttpOnly")
    if options.get("secure"):
        parts.append("Secure")
    same_site = options.get("samesite")
    if same_site:
        value = "Strict" if same_site is True else str(same_site)
        parts.append(f"SameSite={_SAME_SITE.get(value.lower(), value)}")
    return "; ".join(parts)
