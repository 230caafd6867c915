"""The Socket.IO v5 client for asyncio (socket.io-client 4.8 semantics), and a blocking
facade over it.

    sock = await connect("http://localhost:3000/chat", auth={"token": "..."})
    sock.on("news", lambda item: print(item))
    answer = await sock.emit_with_ack("add", 1, 2)
    await sock.disconnect()

``io(url, ...)`` is Node's ``io()``: it returns the socket at once and connects in the
background; namespaces of one server share a :class:`Manager` (one connection).
"""

from __future__ import annotations

from typing import Any

from .backoff import Backoff
from .engine import Engine
from .manager import Manager, io, parse_url
from .socket import Emit, Socket
from .sync import SyncClient
from .transports import TransportError

__all__ = [
    "Backoff",
    "Emit",
    "Engine",
    "Manager",
    "Socket",
    "SyncClient",
    "TransportError",
    "connect",
    "io",
    "parse_url",
]


async def connect(
    url: str | None = "http://localhost",
    *,
    wait_timeout: float | None = None,
    **options: Any,
) -> Socket:
    """Connect to the URL's namespace and wait for it (options as for :func:`io`).

    Raises what the first ``connect_error`` reports (ConnectionRefused from the server's
    middleware, TransportError when the server cannot be reached) or TimeoutError after
    ``wait_timeout`` seconds; the socket is then disconnected (no reconnection).
    """
    sock = io(url, **options)
    sock._hold_unheard()
    if not sock.active:
        sock.connect()
    try:
        await sock.wait_connected(wait_timeout)
    except BaseException:
        sock._release_unheard()
        await sock.disconnect()
        raise
    sock._release_unheard()
    return sock
