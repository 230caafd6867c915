"""The WebSocket opening handshake (RFC 6455 section 4), sans-I/O.

Server side: :func:`check_request` validates the upgrade request, then
:func:`response_headers` / :func:`build_response` produce the 101 answer.
Client side: :func:`client_request_headers` (or :func:`build_request`) and
:func:`check_response`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Mapping

from ..errors import ProtocolError

__all__ = [
    "GUID",
    "accept_key",
    "build_request",
    "build_response",
    "check_request",
    "check_response",
    "client_request_headers",
    "response_headers",
]

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

Headers = list[tuple[str, str]]


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept value for a Sec-WebSocket-Key."""
    digest = hashlib.sha1((key + GUID).encode("ascii"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def _has_token(value: str | None, token: str) -> bool:
    if not value:
        return False
    return any(part.strip().lower() == token for part in value.split(","))


def _bad_request(message: str) -> ProtocolError:
    return ProtocolError(message, close_code=400)


def check_request(method: str, headers: Mapping[str, str]) -> str:
    """Validate a WebSocket upgrade request; return its Sec-WebSocket-Key.

    ``headers`` maps lower-case names to values. Raises ProtocolError whose close_code is
    the HTTP status to answer: 426 for a missing or unsupported Sec-WebSocket-Version
    (answer with ``Sec-WebSocket-Version: 13``), 400 for anything else.
    """
    if method.upper() != "GET":
        raise _bad_request(f"WebSocket upgrade with method {method}")
    if not _has_token(headers.get("upgrade"), "websocket"):
        raise _bad_request("missing 'Upgrade: websocket'")
    if not _has_token(headers.get("connection"), "upgrade"):
        raise _bad_request("missing 'Connection: Upgrade'")
    version = headers.get("sec-websocket-version")
    if version is None or version.strip() != "13":
        raise ProtocolError(f"unsupported WebSocket version {version!r}", close_code=426)
    key = headers.get("sec-websocket-key", "").strip()
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise _bad_request("Sec-WebSocket-Key is not base64") from None
    if len(raw) != 16:
        raise _bad_request("Sec-WebSocket-Key is not 16 bytes")
    return key


def response_headers(key: str, extensions: str | None = None) -> Headers:
    """Headers of the 101 answer to a request carrying Sec-WebSocket-Key ``key``."""
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(key)),
    ]
    if extensions:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    return headers


def _head(first_line: str, headers: Iterable[tuple[str, str]]) -> bytes:
    lines = [first_line]
    for name, value in headers:
        if any(c in name or c in value for c in "\r\n\x00") or ":" in name:
            raise ValueError(f"invalid header {name!r}")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def build_response(
    key: str,
    extensions: str | None = None,
    extra_headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """The complete ``HTTP/1.1 101 Switching Protocols`` answer, blank line included.

    Raises ValueError for a header containing CR, LF or NUL.
    """
    headers = response_headers(key, extensions)
    headers.extend(extra_headers)
    return _head("HTTP/1.1 101 Switching Protocols", headers)


def client_request_headers(
    *, extensions: str | None = None, key: str | None = None
) -> tuple[str, Headers]:
    """A fresh (random unless given) Sec-WebSocket-Key and the upgrade request headers.

    Host and the request target are left to the caller; keep the key for
    :func:`check_response`.
    """
    if key is None:
        key = base64.b64encode(os.urandom(16)).decode("ascii")
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]
    if extensions:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    return key, headers


def build_request(
    host: str,
    target: str = "/",
    *,
    extensions: str | None = None,
    extra_headers: Iterable[tuple[str, str]] = (),
) -> tuple[str, bytes]:
    """A complete upgrade request; returns ``(key, request bytes)``."""
    if any(c in target for c in " \r\n\x00"):
        raise ValueError(f"invalid request target {target!r}")
    key, headers = client_request_headers(extensions=extensions)
    headers.insert(0, ("Host", host))
    headers.extend(extra_headers)
    return key, _head(f"GET {target} HTTP/1.1", headers)


def check_response(status: int, headers: Mapping[str, str], key: str) -> str | None:
    """Validate the server's answer to a request sent with ``key``.

    ``headers`` maps lower-case names to values. Returns the Sec-WebSocket-Extensions value
    (None when absent) for :func:`~aiosocketio.ws.deflate.negotiate_client`. Raises
    ProtocolError (close code 1002).
    """
    if status != 101:
        raise ProtocolError(f"the server answered HTTP {status} instead of 101")
    if not _has_token(headers.get("upgrade"), "websocket"):
        raise ProtocolError("missing 'Upgrade: websocket' in the response")
    if not _has_token(headers.get("connection"), "upgrade"):
        raise ProtocolError("missing 'Connection: Upgrade' in the response")
    if headers.get("sec-websocket-accept", "").strip() != accept_key(key):
        raise ProtocolError("wrong Sec-WebSocket-Accept")
    return headers.get("sec-websocket-extensions") or None
