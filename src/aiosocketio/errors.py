"""One exception tree for the whole package.

    AioSocketIOError
    +-- ProtocolError            a peer broke the Engine.IO / Socket.IO / WebSocket protocol
    |   +-- PayloadTooLarge      a body, frame or message exceeded a configured limit
    +-- ConnectionRefused        raised by middleware to refuse a namespace connection
    +-- AckTimeout               an acknowledgement did not arrive in time (also a TimeoutError)
    +-- NotConnected             an operation needs a connected socket
    +-- TransportError           a client transport failed (HTTP refused, WebSocket lost...)
    +-- BroadcastAckError        some recipients of a broadcast with an ack did not answer
    +-- ClusterError             a cluster-wide operation failed (broker down, adapter closed)
        +-- ClusterTimeout       other servers did not all answer in time (also a TimeoutError)

`ProtocolError.remote` tells whether the peer (True) or this side (False) is at fault, and
`close_code` carries the WebSocket close code (or HTTP status) that fits the error.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AckTimeout",
    "AioSocketIOError",
    "BroadcastAckError",
    "ClusterError",
    "ClusterTimeout",
    "ConnectionRefused",
    "NotConnected",
    "PayloadTooLarge",
    "ProtocolError",
    "TransportError",
]


class AioSocketIOError(Exception):
    """Base class of every exception raised by aiosocketio."""


class ProtocolError(AioSocketIOError):
    """Data that breaks the protocol. `remote` is True when the peer sent it."""

    def __init__(self, message: str, *, remote: bool = True, close_code: int = 1002) -> None:
        super().__init__(message)
        self.remote = remote
        self.close_code = close_code


class PayloadTooLarge(ProtocolError):
    """A body, frame or message was larger than the configured limit."""

    def __init__(self, message: str, *, remote: bool = True) -> None:
        super().__init__(message, remote=remote, close_code=1009)


class ConnectionRefused(AioSocketIOError):
    """Raise from a middleware or connection check to refuse a client.

    The client receives a CONNECT_ERROR packet whose payload is
    ``{"message": message}``, plus ``"data": data`` when data is given.
    """

    def __init__(self, message: str = "Connection refused", data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"message": self.message}
        if self.data is not None:
            payload["data"] = self.data
        return payload


class AckTimeout(AioSocketIOError, TimeoutError):
    """The peer did not acknowledge an event within the timeout."""


class NotConnected(AioSocketIOError):
    """The socket is not (or no longer) connected."""


class BroadcastAckError(AioSocketIOError):
    """A broadcast with an acknowledgement timed out before every client answered.

    `responses` holds the answers that did arrive.
    """

    def __init__(self, message: str, responses: list[Any]) -> None:
        super().__init__(message)
        self.responses = responses


class ClusterError(AioSocketIOError):
    """A cluster-wide operation failed: the broker is unreachable or the adapter is closed."""


class ClusterTimeout(ClusterError, TimeoutError):
    """Other servers of the cluster did not all answer a request in time.

    ``responses`` holds the answers that did arrive (``expected`` were awaited).
    """

    def __init__(self, message: str, responses: list[Any] | None = None, expected: int = 0):
        super().__init__(message)
        self.responses = responses if responses is not None else []
        self.expected = expected


class TransportError(AioSocketIOError):
    """A transport failed (Node: ``TransportError``). ``description`` is the cause: an
    exception, or the HTTP status of a refused request."""

    def __init__(self, message: str, description: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.description = description

    def __str__(self) -> str:
        if self.description is None:
            return self.message
        return f"{self.message} ({self.description})"
