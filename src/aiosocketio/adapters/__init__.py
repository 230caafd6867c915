"""Adapters: how rooms and broadcasts reach sockets, in one process or across a cluster."""

from .base import Adapter, BroadcastFlags, BroadcastOptions, PersistedSession
from .memory import MemoryAdapter
from .resync import DeliveryReport
from .seam import Host

__all__ = [
    "Adapter",
    "BroadcastFlags",
    "BroadcastOptions",
    "DeliveryReport",
    "Host",
    "MemoryAdapter",
    "PersistedSession",
]
