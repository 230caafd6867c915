"""A broadcast's packets, encoded once for many sessions (sans-I/O: plain data).

The Socket.IO layer and the adapters build one; each session's transport writes it (a
WebSocket front door frames it once and caches the frame here).
"""

from __future__ import annotations

from .packets import message_packets

__all__ = ["Outgoing"]


class Outgoing:
    """Engine.IO packets encoded once and written to many sessions (a broadcast).

    ``packets`` are encoded Engine.IO packets: ``str`` text packets with their type digit,
    ``bytes`` binary messages. ``frame`` caches their WebSocket framing for front doors that
    write raw frames, so that a broadcast is framed once for all its recipients.
    """

    __slots__ = ("compress", "frame", "packets", "size", "variants", "volatile")

    def __init__(
        self, packets: list[str | bytes], *, volatile: bool = False, compress: bool = True
    ) -> None:
        self.packets = packets
        self.volatile = volatile
        self.compress = compress  # False: never per-message deflated (Node: compress(false))
        self.frame: bytes | None = None
        self.size = sum(len(p) for p in packets)
        # ``variants`` (unset until needed: v4 broadcasts never pay for it) caches the same
        # packets framed for other protocols, such as Engine.IO v3 on WebSocket
        self.variants: dict[str, Outgoing]

    @classmethod
    def of_messages(
        cls, messages: list[str | bytes], *, volatile: bool = False, compress: bool = True
    ) -> Outgoing:
        """The Engine.IO packets of the layer above's messages (text gets its type digit)."""
        return cls(message_packets(messages), volatile=volatile, compress=compress)
