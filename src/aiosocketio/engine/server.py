"""The Engine.IO server: options, the session table, request verification and routing."""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from ..engineio.session import EngineConfig, Session
from .http import (
    BAD_HANDSHAKE_METHOD,
    BAD_REQUEST,
    ERROR_MESSAGES,
    FORBIDDEN,
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

__all__ = ["EngineServer", "WebSocketUpgrade"]

log = logging.getLogger("aiosocketio.engine")

AllowRequest = Callable[[Request], "bool | str | Awaitable[bool | str | None] | None"]
HeadersHook = Callable[[Headers, Request], None]
ConnectionErrorHook = Callable[[Request, int, str, dict[str, Any]], None]


class WebSocketUpgrade(Protocol):
    """What a front door provides while an upgrade request waits for the engine's decision."""

    def accept(self, headers: Headers) -> WebSocketConnection: ...
    def reject(self, status: int, headers: Headers, body: bytes) -> None: ...


class EngineServer:
    """Engine.IO v4 server logic shared by every front door.

    ``on_connection`` is called with each new :class:`EngineSocket`; it must set the socket's
    ``handler`` to receive messages and the close notification.
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
        self.sessions: dict[str, EngineSocket] = {}
        self.initial_headers_hooks: list[HeadersHook] = []
        self.headers_hooks: list[HeadersHook] = []
        self.connection_error_hooks: list[ConnectionErrorHook] = []

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
                self.respond_error(request, responder, UNKNOWN_SID)
            elif esock.transport != "polling" or query.get("transport") != "polling":
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
        if query.get("transport") != "polling":
            self.respond_error(request, responder, BAD_REQUEST)
            return
        self._check_then(
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
        if "sid" not in query and query.get("EIO") != "4":
            return UNSUPPORTED_PROTOCOL_VERSION
        return None

    def _open_polling(self, request: Request, responder: Responder) -> None:
        esock = self._create(request, "polling")
        headers = [("Content-Type", "text/plain; charset=UTF-8")]
        body = esock.session.open_packet().encode()
        headers.append(("Content-Length", str(len(body))))
        self.add_headers(headers, request, initial=True, sid=esock.sid)
        responder.respond(200, headers, body)
        self._connected(esock)

    def _create(self, request: Request, transport: str) -> EngineSocket:
        loop = asyncio.get_running_loop()
        sid = self._new_sid()
        esock = EngineSocket(self, Session(sid, transport, self.config, loop.time()), request)
        self.sessions[sid] = esock
        return esock

    def _connected(self, esock: EngineSocket) -> None:
        esock.arm_timer()
        try:
            self.on_connection(esock)
        except Exception:
            log.exception("error in connection handler")
            esock.close("forced close")

    def _new_sid(self) -> str:
        while True:
            sid = secrets.token_urlsafe(15)
            if sid not in self.sessions:
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
        message = message or ERROR_MESSAGES[code]
        self._connection_error(request, code, message)
        body = error_body(code, message)
        headers = json_headers(body)
        headers.extend(self.cors.headers(request.headers.get("origin")))
        responder.respond(status or (403 if code == FORBIDDEN else 400), headers, body)

    def _connection_error(self, request: Request, code: int, message: str) -> None:
        for hook in self.connection_error_hooks:
            try:
                hook(request, code, message, {})
            except Exception:
                log.exception("error in connection_error hook")

    def add_headers(
        self, headers: Headers, request: Request, *, initial: bool, sid: str | None = None
    ) -> None:
        """CORS, cookie and user hooks, on every response the engine writes."""
        headers.extend(self.cors.headers(request.headers.get("origin")))
        if initial:
            if self.cookie is not None and sid is not None:
                headers.append(("Set-Cookie", _format_cookie(self.cookie, sid)))
            for hook in self.initial_headers_hooks:
                hook(headers, request)
        for hook in self.headers_hooks:
            hook(headers, request)

    # ------------------------------------------------------------------ allow_request
    def _check_then(
        self,
        request: Request,
        proceed: Callable[[], None],
        refuse: Callable[[int, str], None],
    ) -> None:
        check = self.allow_request
        if check is None:
            proceed()
            return
        try:
            result = check(request)
        except Exception as exc:
            refuse(FORBIDDEN, str(exc) or ERROR_MESSAGES[FORBIDDEN])
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
        refuse: Callable[[int, str], None],
    ) -> None:
        if task.cancelled():
            refuse(FORBIDDEN, ERROR_MESSAGES[FORBIDDEN])
        elif task.exception() is not None:
            refuse(FORBIDDEN, str(task.exception()) or ERROR_MESSAGES[FORBIDDEN])
        else:
            self._decide(task.result(), proceed, refuse)

    @staticmethod
    def _decide(
        result: Any, proceed: Callable[[], None], refuse: Callable[[int, str], None]
    ) -> None:
        if result is True or result is None:
            proceed()
        elif isinstance(result, str):
            refuse(FORBIDDEN, result)
        else:
            refuse(FORBIDDEN, ERROR_MESSAGES[FORBIDDEN])

    # ------------------------------------------------------------------ WebSocket
    def handle_websocket(self, request: Request, upgrade: WebSocketUpgrade) -> None:
        """A WebSocket upgrade request: a new session, or the upgrade of a polling one."""
        code = self._verify_transport(request)
        if code is None and request.query.get("transport") != "websocket":
            code = BAD_REQUEST
        if code is None and not self.cors.websocket_origin_ok(
            request.headers.get("origin"), request.headers.get("host")
        ):
            code = FORBIDDEN
        if code is not None:
            self._reject(request, upgrade, code)
            return
        sid = request.query.get("sid")
        if sid is None:
            self._check_then(
                request,
                lambda: self._open_websocket(request, upgrade),
                lambda code, msg: self._reject(request, upgrade, code, msg),
            )
            return
        esock = self.sessions.get(sid)
        if esock is None:
            self._reject(request, upgrade, UNKNOWN_SID)
            return
        upgraded = esock.upgrading or esock.transport == "websocket" or esock._closing
        if not upgraded and not esock.session.can_upgrade("websocket"):
            self._reject(request, upgrade, BAD_REQUEST)
            return
        headers: Headers = []
        self.add_headers(headers, request, initial=False)
        conn = upgrade.accept(headers)
        if upgraded:
            # as the Node server: a WebSocket for a session that is already upgrading or
            # upgraded is accepted, then closed at once
            conn.close(None)
            return
        esock.start_upgrade(conn)

    def _reject(
        self, request: Request, upgrade: WebSocketUpgrade, code: int, message: str | None = None
    ) -> None:
        message = message or ERROR_MESSAGES[code]
        self._connection_error(request, code, message)
        body = error_body(code, message)
        upgrade.reject(403 if code == FORBIDDEN else 400, json_headers(body), body)

    def _open_websocket(self, request: Request, upgrade: WebSocketUpgrade) -> None:
        esock = self._create(request, "websocket")
        headers: Headers = []
        self.add_headers(headers, request, initial=True, sid=esock.sid)
        conn = upgrade.accept(headers)
        conn.receiver = esock
        esock.ws = conn
        conn.send_text(esock.session.open_packet())
        self._connected(esock)

    # ------------------------------------------------------------------ lifecycle
    def remove(self, esock: EngineSocket) -> None:
        if self.sessions.get(esock.sid) is esock:
            del self.sessions[esock.sid]

    def close_all(self) -> None:
        for esock in list(self.sessions.values()):
            esock.close("forced server close")


def _valid_header_value(value: str) -> bool:
    return all(c == "\t" or " " <= c <= "~" or "\x80" <= c <= "\xff" for c in value)


def _cookie_options(cookie: bool | dict[str, Any]) -> dict[str, Any] | None:
    if cookie is False:
        return None
    options: dict[str, Any] = {"name": "io", "path": "/", "httponly": True, "samesite": "Lax"}
    if isinstance(cookie, dict):
        options.update(cookie)
    return options


def _format_cookie(options: dict[str, Any], sid: str) -> str:
    parts = [f"{options['name']}={sid}"]
    if options.get("path"):
        parts.append(f"Path={options['path']}")
    if options.get("domain"):
        parts.append(f"Domain={options['domain']}")
    if options.get("max_age") is not None:
        parts.append(f"Max-Age={int(options['max_age'])}")
    if options.get("httponly"):
        parts.append("HttpOnly")
    if options.get("secure"):
        parts.append("Secure")
    if options.get("samesite"):
        parts.append(f"SameSite={options['samesite']}")
    return "; ".join(parts)
