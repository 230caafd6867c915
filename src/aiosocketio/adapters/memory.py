"""The default adapter: everything in this process, with connection state recovery."""

from __future__ import annotations

import itertools
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..socketio.packets import EVENT, Packet
from .base import Adapter
from .seam import BroadcastOptions, Host, PersistedSession

__all__ = ["MemoryAdapter"]


class _Saved:
    __slots__ = ("data", "emitted_at", "id", "opts")

    def __init__(self, id: str, opts: BroadcastOptions, data: list[Any], emitted_at: float) -> None:
        self.id = id
        self.opts = opts
        self.data = data
        self.emitted_at = emitted_at


class MemoryAdapter(Adapter):
    """Rooms and broadcasts in one process.

    When the server has connection state recovery on, every broadcast event (no ack, not
    volatile) gets an offset as its last argument and is kept for
    ``max_disconnection_duration`` seconds, so that a client that comes back in time gets what
    it missed.
    """

    def __init__(self, nsp: Host) -> None:
        super().__init__(nsp)
        recovery = nsp.server.recovery
        self._recovery = recovery
        self._sessions: dict[str, PersistedSession] = {}
        self._packets: deque[_Saved] = deque()
        self._offsets = itertools.count(1)
        self._prefix = secrets.token_hex(4)
        self._purged_at = 0.0

    # ---------------------------------------------------------------- broadcasting
    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        if (
            self._recovery is not None
            and packet.type == EVENT
            and packet.id is None
            and not opts.flags.volatile
        ):
            offset = f"{self._prefix}-{next(self._offsets):x}"
            packet.data.append(offset)
            now = time.monotonic()
            packets = self._packets
            packets.append(_Saved(offset, opts, packet.data, now))
            if len(packets) > self._recovery.max_packets:
                packets.popleft()
            self._trim(now)
        self.broadcast_local(packet, opts)

    def broadcast_local(self, packet: Packet, opts: BroadcastOptions) -> None:
        """Encode once, write the same bytes to every local recipient."""
        flags = opts.flags
        self.nsp.send_packet(
            packet,
            None if not opts.rooms and not opts.except_ else self.local_sids(opts),
            flags.volatile,
            flags.compress is not False,
        )

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count: Callable[[int], None],
        ack: Callable[[Any], None],
    ) -> int | None:
        flags = opts.flags
        sent = self.nsp.send_packet_with_ack(
            packet, self.local_sids(opts), ack, flags.volatile, flags.compress is not False
        )
        client_count(sent)
        return None

    # ---------------------------------------------------------------- recovery
    def persist_session(self, session: PersistedSession) -> None:
        if self._recovery is None:
            return
        session.disconnected_at = now = time.monotonic()
        self._sessions[session.pid] = session
        self._trim(now)

    async def restore_session(self, pid: str, offset: str) -> PersistedSession | None:
        recovery = self._recovery
        if recovery is None:
            return None
        session = self._sessions.pop(pid, None)
        if session is None:
            return None
        now = time.monotonic()
        if session.disconnected_at + recovery.max_disconnection_duration < now:
            return None
        packets = self._packets
        index = next((i for i, p in enumerate(packets) if p.id == offset), -1)
        if index < 0:
            return None
        rooms = set(session.rooms)
        session.missed_packets = [
            p.data
            for p in itertools.islice(packets, index + 1, None)
            if _should_include(rooms, p.opts)
        ]
        return session

    def _trim(self, now: float) -> None:
        """Forget packets and sessions older than the recovery window."""
        recovery = self._recovery
        if recovery is None:
            return
        horizon = now - recovery.max_disconnection_duration
        packets = self._packets
        while packets and packets[0].emitted_at < horizon:
            packets.popleft()
        if now - self._purged_at > 1.0:
            self._purged_at = now
            sessions = self._sessions
            for pid in [p for p, s in sessions.items() if s.disconnected_at < horizon]:
                del sessions[pid]


def _should_include(rooms: set[str], opts: BroadcastOptions) -> bool:
    included = not opts.rooms or not rooms.isdisjoint(opts.rooms)
    return included and rooms.isdisjoint(opts.except_)
