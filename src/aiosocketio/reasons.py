"""Why a connection or a namespace ended: Node's reason strings, as one enum.

Each value is byte-identical to the string socket.io and socket.io-client give, and a member
is a ``str``: handlers that compare the reason with a string, log it or send it on keep working.
Code inside the package names a reason only through this enum, so that a typo is an
AttributeError rather than a reason nobody recognises (connection state recovery depends on it).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ENGINE_REASONS", "RECOVERABLE", "DisconnectReason"]


class DisconnectReason(StrEnum):
    """A disconnect reason, as Node's server and client name it."""

    # the Engine.IO connection ended (server and client)
    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    FORCED_CLOSE = "forced close"
    # the server closed every connection
    SERVER_SHUTTING_DOWN = "server shutting down"
    FORCED_SERVER_CLOSE = "forced server close"
    # one namespace was left, the connection stays (server side)
    CLIENT_NAMESPACE_DISCONNECT = "client namespace disconnect"
    SERVER_NAMESPACE_DISCONNECT = "server namespace disconnect"
    # the same, as the client names them
    IO_SERVER_DISCONNECT = "io server disconnect"
    IO_CLIENT_DISCONNECT = "io client disconnect"


# the reasons that end the whole Engine.IO connection (the others only leave a namespace)
ENGINE_REASONS = frozenset(
    (
        DisconnectReason.TRANSPORT_CLOSE,
        DisconnectReason.TRANSPORT_ERROR,
        DisconnectReason.PING_TIMEOUT,
        DisconnectReason.PARSE_ERROR,
        DisconnectReason.FORCED_CLOSE,
        DisconnectReason.SERVER_SHUTTING_DOWN,
        DisconnectReason.FORCED_SERVER_CLOSE,
    )
)

# the reasons after which a server with connection state recovery keeps the session (Node's
# list: a client that left on purpose, or that sent garbage, does not come back to it)
RECOVERABLE = frozenset(
    (
        DisconnectReason.TRANSPORT_ERROR,
        DisconnectReason.TRANSPORT_CLOSE,
        DisconnectReason.FORCED_CLOSE,
        DisconnectReason.PING_TIMEOUT,
        DisconnectReason.SERVER_SHUTTING_DOWN,
        DisconnectReason.FORCED_SERVER_CLOSE,
    )
)
