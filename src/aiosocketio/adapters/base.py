"""The adapter interface: rooms, broadcasts and the cluster-wide operations.

An adapter belongs to one namespace. The in-memory adapter does everything locally; a
cluster adapter does the local part and carries the rest to the other servers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any, TypeVar

from ..errors import ClusterError, ClusterTimeout
from ..runtime import Listeners
from ..socketio.packets import Packet
from .seam import (
    NO_FLAGS,
    BroadcastFlags,
    BroadcastOptions,
    Host,
    PersistedSession,
    SocketDetails,
)

log = logging.getLogger("aiosocketio.adapters")

ROOM_EVENTS = frozenset(("create-room", "delete-room", "join-room", "leave-room"))
"""The events of :meth:`Adapter.on`, with Node's names."""

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "NO_FLAGS",
    "ROOM_EVENTS",
    "Adapter",
    "BroadcastFlags",
    "BroadcastOptions",
    "ClusterError",
    "ClusterTimeout",
    "Host",
    "PersistedSession",
]


class Adapter:
    """Base adapter: the in-memory room bookkeeping that every adapter shares."""

    def __init__(self, nsp: Host) -> None:
        self.nsp = nsp
        self.rooms: dict[str, set[str]] = {}
        self.sids: dict[str, set[str]] = {}
        self._room_listeners = Listeners()

    # ---------------------------------------------------------------- room events
    def on(self, event: str, handler: F | None = None) -> Any:
        """Listen to the rooms of this server's sockets (Node: ``adapter.on(...)``):
        ``"create-room"`` and ``"delete-room"`` (``handler(room)``), ``"join-room"`` and
        ``"leave-room"`` (``handler(room, sid)``). Usable as a decorator; a coroutine
        handler runs as a task. Each socket's own room (its id) counts as a room."""
        if event not in ROOM_EVENTS:
            raise ValueError(f"unknown adapter event {event!r} (one of {sorted(ROOM_EVENTS)})")

        def register(func: F) -> F:
            self._room_listeners.add(event, func)
            return func

        return register if handler is None else register(handler)

    def off(self, event: str, handler: Callable[..., Any] | None = None) -> None:
        """Remove a listener of ``event`` (all of them without ``handler``)."""
        self._room_listeners.remove(event, handler)

    def _room_event(self, event: str, *args: str) -> None:
        self._room_listeners.emit(event, *args, where=f" of {self.nsp.name}", log=log)

    # ---------------------------------------------------------------- lifecycle
    async def init(self) -> None:
        """Called once the namespace exists."""

    async def close(self) -> None:
        """Called when the namespace or the server closes."""

    # ---------------------------------------------------------------- rooms
    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        joined = self.sids.get(sid)
        if joined is None:
            joined = self.sids[sid] = set()
        all_rooms = self.rooms
        for room in rooms:
            if room in joined:
                continue
            joined.add(room)
            members = all_rooms.get(room)
            if members is None:
                all_rooms[room] = {sid}
                self.on_create_room(room)
                if self._room_listeners:
                    self._room_event("create-room", room)
            else:
                members.add(sid)
            self.on_join_room(room, sid)
            if self._room_listeners:
                self._room_event("join-room", room, sid)

    def delete(self, sid: str, room: str) -> None:
        joined = self.sids.get(sid)
        if joined is not None and room in joined:
            joined.discard(room)
            self._leave(sid, room)

    def delete_all(self, sid: str) -> None:
        joined = self.sids.pop(sid, None)
        if joined:
            for room in joined:
                self._leave(sid, room)

    def _leave(self, sid: str, room: str) -> None:
        members = self.rooms.get(room)
        if members is None:
            return
        members.discard(sid)
        self.on_leave_room(room, sid)
        if self._room_listeners:
            self._room_event("leave-room", room, sid)
        if not members:
            del self.rooms[room]
            self.on_delete_room(room)
            if self._room_listeners:
                self._room_event("delete-room", room)

    # hooks (the admin UI and cluster adapters listen here)
    def on_create_room(self, room: str) -> None:
        pass

    def on_delete_room(self, room: str) -> None:
        pass

    def on_join_room(self, room: str, sid: str) -> None:
        pass

    def on_leave_room(self, room: str, sid: str) -> None:
        pass

    def socket_rooms(self, sid: str) -> set[str] | None:
        return self.sids.get(sid)

    def sockets(self, rooms: Iterable[str] = ()) -> set[str]:
        """Ids of the local sockets in any of the rooms (all local sockets when empty)."""
        sockets = self.nsp.sockets
        return {
            sid
            for sid in self.local_sids(BroadcastOptions(rooms=frozenset(rooms)))
            if sid in sockets
        }

    def local_sids(self, opts: BroadcastOptions) -> list[str]:
        """The ids of the local sockets a broadcast with these options reaches, each once
        (in the rooms case, ids of sockets no longer here may be among them: the sink skips
        them)."""
        sockets = self.nsp.sockets
        excluded: set[str] = set()
        for room in opts.except_:
            members = self.rooms.get(room)
            if members:
                excluded.update(members)
        if opts.rooms:
            all_rooms = self.rooms
            groups = [members for room in opts.rooms if (members := all_rooms.get(room))]
            # each sid once, in the order first met
            chosen: Iterable[str] = (
                groups[0] if len(groups) == 1 else dict.fromkeys(chain.from_iterable(groups))
            )
            if excluded:
                return [sid for sid in chosen if sid not in excluded]
            return list(chosen)
        if excluded:
            return [sid for sid in sockets if sid not in excluded]
        return list(sockets)

    def local_sockets(self, opts: BroadcastOptions) -> list[Any]:
        """The local sockets a broadcast with these options reaches, each once (what
        ``fetch_sockets`` returns for this server; opaque to the adapter)."""
        found = map(self.nsp.sockets.get, self.local_sids(opts))
        return [socket for socket in found if socket is not None]

    def local_details(self, opts: BroadcastOptions) -> list[SocketDetails]:
        """The local sockets a broadcast with these options reaches, as plain data."""
        found = map(self.nsp.socket_details, self.local_sids(opts))
        return [details for details in found if details is not None]

    # ---------------------------------------------------------------- broadcasting
    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        raise NotImplementedError

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count: Callable[[int], None],
        ack: Callable[[Any], None],
    ) -> int | None:
        """Send to the matching sockets with an acknowledgement: ``client_count(n)`` once per
        server that sent it (n: its clients), ``ack(value)`` for each answer. Returns how many
        servers it went to (this one included) when the adapter knows it, else None and the
        caller asks :meth:`server_count`."""
        raise NotImplementedError

    async def server_count(self) -> int:
        return 1

    # ---------------------------------------------------------------- cluster-wide operations
    async def fetch_sockets(self, opts: BroadcastOptions) -> list[Any]:
        return self.local_sockets(opts)

    def add_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        nsp = self.nsp
        for sid in self.local_sids(opts):
            nsp.join_socket(sid, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        nsp = self.nsp
        for sid in self.local_sids(opts):
            for room in rooms:
                nsp.leave_socket(sid, room)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        nsp = self.nsp
        for sid in self.local_sids(opts):
            nsp.disconnect_socket(sid, close)

    def server_side_emit(
        self, args: list[Any], ack: Callable[[BaseException | None, list[Any]], None] | None
    ) -> None:
        """Emit to the other servers of the cluster; there are none in one process."""
        if ack is not None:
            ack(None, [])

    # ---------------------------------------------------------------- connection state recovery
    def persist_session(self, session: PersistedSession) -> None:
        pass

    async def restore_session(self, pid: str, offset: str) -> PersistedSession | None:
        return None
