"""aiosocketio: Socket.IO v5 / Engine.IO v4 for asyncio, wire-compatible with socket.io 4.8."""

from .adapters import Adapter, BroadcastOptions, MemoryAdapter
from .client import Manager, SyncClient, connect
from .client import Socket as ClientSocket
from .engine.http import CorsPolicy
from .errors import (
    AckTimeout,
    AioSocketIOError,
    BroadcastAckError,
    ClusterError,
    ClusterTimeout,
    ConnectionRefused,
    NotConnected,
    PayloadTooLarge,
    ProtocolError,
    TransportError,
)
from .reasons import DisconnectReason
from .runner import run
from .server.broadcast import BroadcastOperator
from .server.namespace import Namespace
from .server.server import RecoveryOptions, Server
from .server.socket import Handshake, Socket

__version__ = "0.1.0.dev0"

__all__ = [
    "AckTimeout",
    "Adapter",
    "AioSocketIOError",
    "BroadcastAckError",
    "BroadcastOperator",
    "BroadcastOptions",
    "ClientSocket",
    "ClusterError",
    "ClusterTimeout",
    "ConnectionRefused",
    "CorsPolicy",
    "DisconnectReason",
    "Handshake",
    "Manager",
    "MemoryAdapter",
    "Namespace",
    "NotConnected",
    "PayloadTooLarge",
    "ProtocolError",
    "RecoveryOptions",
    "Server",
    "Socket",
    "SyncClient",
    "TransportError",
    "__version__",
    "connect",
    "run",
]
