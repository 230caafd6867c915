"""python-socketio's exceptions, under the same names (``socketio.exceptions``)."""

from __future__ import annotations

from typing import Any

from ..errors import ConnectionRefused

__all__ = [
    "BadNamespaceError",
    "ConnectionError",
    "ConnectionRefusedError",
    "DisconnectedError",
    "SocketIOError",
    "TimeoutError",
]


class SocketIOError(Exception):
    """The base of the exceptions below."""


class ConnectionError(SocketIOError):
    """The client could not connect (or is connected already)."""


class ConnectionRefusedError(ConnectionError):
    """Raise it from a ``connect`` handler to refuse the client: ``(message)``,
    ``(message, data)`` or ``(message, *data)``; the client gets
    ``{"message": message, "data": data}``."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if not args:
            self.error_args: dict[str, Any] = {"message": "Connection rejected by server"}
            return
        self.error_args = {"message": str(args[0])}
        if len(args) == 2:
            self.error_args["data"] = args[1]
        elif len(args) > 2:
            self.error_args["data"] = list(args[1:])

    def to_native(self) -> ConnectionRefused:
        return ConnectionRefused(self.error_args["message"], self.error_args.get("data"))


class TimeoutError(SocketIOError):
    """``call()`` got no answer in time."""


class BadNamespaceError(SocketIOError):
    """The client is not connected to that namespace."""


class DisconnectedError(SocketIOError):
    """The simple client is disconnected."""
