"""HTTP-level values shared by both front doors: requests, responses, errors, CORS."""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl

from .. import _json

__all__ = [
    "BAD_HANDSHAKE_METHOD",
    "BAD_REQUEST",
    "FORBIDDEN",
    "HEADER_NAMES",
    "TOO_MANY_CONNECTIONS",
    "UNKNOWN_SID",
    "UNKNOWN_TRANSPORT",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "CorsPolicy",
    "Request",
    "Responder",
    "compress_body",
    "error_body",
    "header_name",
    "parse_query",
]

HEADER_NAMES: dict[bytes, str] = {}
"""Header names as received and their lower-case text (clients send a few dozen names; the
first short ones are kept, so the table stays small whatever a client sends). A hot path
looks here first: ``HEADER_NAMES.get(raw) or header_name(raw)``."""
_NAMES_KEPT = 256


def header_name(raw: bytes) -> str:
    """A header name as received, as the lower-case text that requests' headers use."""
    name = HEADER_NAMES.get(raw)
    if name is None:
        name = raw.decode("latin-1").lower()
        if len(HEADER_NAMES) < _NAMES_KEPT and len(raw) <= 64:
            HEADER_NAMES[raw] = name
    return name


# Engine.IO error codes, as in the Node server
UNKNOWN_TRANSPORT = 0
UNKNOWN_SID = 1
BAD_HANDSHAKE_METHOD = 2
BAD_REQUEST = 3
FORBIDDEN = 4
UNSUPPORTED_PROTOCOL_VERSION = 5
# not in Node: a handshake beyond the server's max_connections (HTTP 503)
TOO_MANY_CONNECTIONS = 6

ERROR_MESSAGES = {
    UNKNOWN_TRANSPORT: "Transport unknown",
    UNKNOWN_SID: "Session ID unknown",
    BAD_HANDSHAKE_METHOD: "Bad handshake method",
    BAD_REQUEST: "Bad request",
    FORBIDDEN: "Forbidden",
    UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
    TOO_MANY_CONNECTIONS: "Too many connections",
}

Headers = list[tuple[str, str]]


class Request:
    """An HTTP request (or WebSocket upgrade request) as the engine sees it.

    ``headers`` has lower-case names; repeated headers are joined with ``", "``.
    ``forwarded`` marks a request that another worker of the same server passed on (it
    came in on this worker's internal socket): it is answered here, never passed on again.
    """

    __slots__ = (
        "body",
        "forwarded",
        "headers",
        "method",
        "path",
        "query",
        "query_string",
        "remote",
        "secure",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: dict[str, str],
        *,
        body: bytes = b"",
        remote: tuple[str, int] | None = None,
        secure: bool = False,
        forwarded: bool = False,
    ) -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self.query = parse_query(query_string)
        self.headers = headers
        self.body = body
        self.remote = remote
        self.secure = secure
        self.forwarded = forwarded

    @property
    def url(self) -> str:
        return f"{self.path}?{self.query_string}" if self.query_string else self.path


class Responder(Protocol):
    """How the engine answers an HTTP request, now or later (a pending long-poll GET)."""

    def respond(self, status: int, headers: Headers, body: bytes) -> None: ...


def parse_query(query_string: str) -> dict[str, str]:
    """Query parameters (the last value of a repeated name wins), at most 100 of them.

    Plain ``name=value`` pairs, what Engine.IO clients send, skip the decoding machinery.
    """
    if not query_string:
        return {}
    if "%" in query_string or "+" in query_string:
        try:
            return dict(parse_qsl(query_string, keep_blank_values=True, max_num_fields=100))
        except ValueError:
            return {}
    out: dict[str, str] = {}
    parts = query_string.split("&", 100)
    if len(parts) > 100:
        return {}
    for part in parts:
        if part:
            name, _, value = part.partition("=")
            out[name] = value
    return out


def error_body(code: int, message: str | None = None) -> bytes:
    return _json.dumps({"code": code, "message": message or ERROR_MESSAGES[code]}).encode()


def compress_body(body: bytes, accept_encoding: str, threshold: int) -> tuple[bytes, str | None]:
    """Compress a polling response when the client accepts it and it is big enough."""
    if len(body) < threshold or not accept_encoding:
        return body, None
    encoding = choose_encoding(accept_encoding)
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=6, mtime=0), "gzip"
    if encoding == "deflate":
        return zlib.compress(body, 6), "deflate"
    return body, None


_Q_VALUE = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)")


def choose_encoding(
    accept_encoding: str, offered: Sequence[str] = ("gzip", "deflate")
) -> str | None:
    """The encoding Node's ``accepts(req).encodings(offered)`` picks (negotiator 0.6).

    The highest q-value wins (``q=0`` refuses), then an exact name over ``*``, then the
    client's order, then the order of ``offered``.
    """
    specs: list[tuple[str, float, int]] = []  # (lower-case name, q, position)
    for position, part in enumerate(accept_encoding.split(",")):
        name, _, params = part.strip().partition(";")
        name = name.strip()
        if not name or " " in name or "\t" in name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                match = _Q_VALUE.match(value)  # parseFloat(): a leading number, else NaN
                q = float(match.group()) if match else 0.0
                break
        specs.append((name.lower(), q, position))
    best: tuple[float, int, int, int] | None = None
    chosen = None
    for index, encoding in enumerate(offered):
        # the most specific spec for this encoding: exact name over "*", then q, then later
        found: tuple[int, float, int] | None = None
        for name, q, position in specs:
            exact = 1 if name == encoding else 0 if name == "*" else -1
            if exact >= 0 and (found is None or (exact, q, position) > found):
                found = (exact, q, position)
        if found is None or not found[1] > 0:
            continue
        rank = (-found[1], -found[0], found[2], index)
        if best is None or rank < best:
            best, chosen = rank, encoding
    return chosen


OriginCheck = Callable[[str], bool]


class CorsPolicy:
    """Cross-origin policy for HTTP requests and for the Origin of WebSocket upgrades.

    ``origins`` is ``None`` (CORS off: no headers, cross-site WebSocket refused), ``"*"``,
    a list of allowed origins, or a callable taking the origin and returning a bool.
    """

    __slots__ = ("allow_headers", "credentials", "fixed", "max_age", "methods", "origins")

    def __init__(
        self,
        origins: str | Sequence[str] | OriginCheck | None = None,
        *,
        credentials: bool = False,
        methods: Sequence[str] = ("GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"),
        allow_headers: Sequence[str] | None = None,
        max_age: int | None = None,
    ) -> None:
        self.origins: str | frozenset[str] | OriginCheck | None
        if origins is None or origins == "*" or callable(origins):
            self.origins = origins
        elif isinstance(origins, str):
            self.origins = frozenset((origins,))
        else:
            self.origins = frozenset(origins)
        self.credentials = credentials
        self.methods = ",".join(methods)  # as Node's cors package: no spaces
        self.allow_headers = ", ".join(allow_headers) if allow_headers else None
        self.max_age = max_age
        self.fixed: tuple[tuple[str, str], ...] | None = None
        """The headers of every actual response when they do not depend on its origin."""
        if self.origins is None:
            self.fixed = ()
        elif self.origins == "*" and not credentials:
            self.fixed = (("Access-Control-Allow-Origin", "*"),)

    @property
    def enabled(self) -> bool:
        return self.origins is not None

    def allows(self, origin: str) -> bool:
        origins = self.origins
        if origins is None:
            return False
        if origins == "*":
            return True
        if isinstance(origins, frozenset):
            return origin in origins
        return bool(origins(origin))  # type: ignore[operator]

    def websocket_origin_ok(self, origin: str | None, host: str | None) -> bool:
        """Cross-site WebSocket hijacking guard: same-origin, or allowed by the policy."""
        if origin is None or self.origins == "*":
            return True
        if host and origin.split("://", 1)[-1] == host:
            return True
        return self.allows(origin)

    def headers(self, origin: str | None) -> Headers:
        """Headers for an actual (non-preflight) response.

        An origin that is not allowed gets no CORS header, only ``Vary: Origin`` when the
        answer depends on the origin (as Node's cors package).
        """
        if self.origins is None:
            return []
        if self.origins == "*" and not self.credentials:
            out: Headers = [("Access-Control-Allow-Origin", "*")]
        elif origin is not None and self.allows(origin):
            out = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        else:
            return [("Vary", "Origin")]
        if self.credentials:
            out.append(("Access-Control-Allow-Credentials", "true"))
        return out

    def preflight_headers(self, origin: str | None, request_headers: str | None) -> Headers:
        out = self.headers(origin)
        if not out or out[0][0] != "Access-Control-Allow-Origin":
            return out
        out.append(("Access-Control-Allow-Methods", self.methods))
        if self.allow_headers:
            out.append(("Access-Control-Allow-Headers", self.allow_headers))
        else:
            # the requested headers are reflected: one Vary header, as Node's cors package
            at = next((i for i, (name, _) in enumerate(out) if name == "Vary"), None)
            if at is None:
                out.append(("Vary", "Access-Control-Request-Headers"))
            else:
                out[at] = ("Vary", out[at][1] + ", Access-Control-Request-Headers")
            if request_headers:
                out.append(("Access-Control-Allow-Headers", request_headers))
        if self.max_age is not None:
            out.append(("Access-Control-Max-Age", str(self.max_age)))
        return out


def json_headers(body: bytes) -> Headers:
    return [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]


def describe(value: Any) -> str:
    return repr(value)[:80]
