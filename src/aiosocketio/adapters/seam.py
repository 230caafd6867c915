"""The seam between adapters and the sockets of a server: all that an adapter may use.

An adapter belongs to one namespace, which it sees as a :class:`Host`: the namespace's name,
its local sockets by id (opaque: an adapter reads the ids, and hands a socket back only as
a result of ``fetch_sockets``), a :class:`Sink` that sends one packet, encoded once, to many
of them, plain-data lookups and by-id actions for the cluster-wide operations, and the
server-wide facts it needs (the recovery limits; the server as a key for a shared link).

The server's :class:`~aiosocketio.server.namespace.Namespace` implements it. Adapters import
this module and never ``aiosocketio.server`` (an import-linter contract says so); the
server imports the adapters. See docs/decisions/0009-adapter-seam.md.

The data types that both sides pass (:class:`BroadcastOptions`, :class:`BroadcastFlags`,
:class:`PersistedSession`) live here too; :mod:`aiosocketio.adapters.base` re-exports them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict, runtime_checkable

from ..socketio.packets import Packet

__all__ = [
    "NO_FLAGS",
    "BroadcastFlags",
    "BroadcastOptions",
    "Host",
    "Operator",
    "PersistedSession",
    "RecoveryLimits",
    "ServerView",
    "Sink",
    "SocketDetails",
    "SocketView",
    "details",
]


# ---------------------------------------------------------------------------------- shared data
@dataclass(slots=True, frozen=True)
class BroadcastFlags:
    volatile: bool = False
    compress: bool | None = None
    local: bool = False
    timeout: float | None = None


NO_FLAGS = BroadcastFlags()


@dataclass(slots=True, frozen=True)
class BroadcastOptions:
    """Who receives a broadcast: sockets in any of ``rooms`` (every socket when empty),
    minus the sockets in any of ``except_``."""

    rooms: frozenset[str] = frozenset()
    except_: frozenset[str] = frozenset()
    flags: BroadcastFlags = NO_FLAGS


@dataclass(slots=True)
class PersistedSession:
    """What connection state recovery keeps of a socket that lost its connection."""

    sid: str
    pid: str
    rooms: list[str]
    data: Any
    disconnected_at: float = 0.0
    missed_packets: list[list[Any]] = field(default_factory=list)


class SocketDetails(TypedDict):
    """A local socket as plain data (a ``fetch_sockets`` answer to another server)."""

    id: str
    handshake: dict[str, Any]
    rooms: list[str]
    data: Any


class _Handshake(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class SocketView(Protocol):
    """The public, plain-data side of a socket (local or remote)."""

    @property
    def id(self) -> str: ...
    @property
    def handshake(self) -> _Handshake: ...
    @property
    def rooms(self) -> Iterable[str]: ...
    @property
    def data(self) -> Any: ...


def details(socket: SocketView) -> SocketDetails:
    """A socket as plain data."""
    return {
        "id": socket.id,
        "handshake": socket.handshake.to_dict(),
        "rooms": list(socket.rooms),
        "data": socket.data,
    }


# ---------------------------------------------------------------------------------- the seam
class Sink(Protocol):
    """Sends one packet to many local sockets: encoded and framed once, the same bytes
    written to each (docs/decisions/0005)."""

    def send_packet(
        self, packet: Packet, sids: Iterable[str] | None, volatile: bool, compress: bool
    ) -> None:
        """Send ``packet`` to the sockets ``sids`` (every socket when None); ids of sockets
        that are not here are skipped. A volatile packet is dropped for a socket that
        cannot take it now."""
        ...

    def send_packet_with_ack(
        self,
        packet: Packet,
        sids: Iterable[str],
        ack: Callable[[Any], None],
        volatile: bool,
        compress: bool,
    ) -> int:
        """As :meth:`send_packet`, asking each socket for an acknowledgement: gives the packet an
        ack id, calls ``ack(value)`` with the first argument of each answer, and returns
        how many sockets it was written to (the answers to expect)."""
        ...


class RecoveryLimits(Protocol):
    """Connection state recovery limits (the server's ``RecoveryOptions``)."""

    @property
    def max_disconnection_duration(self) -> float: ...
    @property
    def max_packets(self) -> int: ...


class ServerView(Protocol):
    """What an adapter may know of the server: its recovery limits. The object itself is
    also the key of the per-server link of a broker adapter (compared by identity)."""

    @property
    def recovery(self) -> RecoveryLimits | None: ...


class Operator(Protocol):
    """A broadcast operator, as a remote socket of ``fetch_sockets`` uses it."""

    def emit(self, event: str, *args: Any) -> bool: ...
    def timeout(self, seconds: float) -> Operator: ...
    def emit_with_ack(self, event: str, *args: Any) -> Awaitable[list[Any]]: ...
    def sockets_join(self, rooms: str | Iterable[str]) -> None: ...
    def sockets_leave(self, rooms: str | Iterable[str]) -> None: ...
    def disconnect_sockets(self, close: bool = False) -> None: ...


@runtime_checkable
class Host(Sink, Protocol):
    """The namespace an adapter serves, as the adapter sees it."""

    @property
    def name(self) -> str: ...
    @property
    def server(self) -> ServerView: ...
    @property
    def sockets(self) -> Mapping[str, object]:
        """The local sockets by id. Values are opaque to an adapter."""
        ...

    def socket_details(self, sid: str) -> SocketDetails | None:
        """The local socket ``sid`` as plain data, or None when it is not here."""
        ...

    def join_socket(self, sid: str, rooms: str | Iterable[str]) -> bool:
        """The local socket ``sid`` joins the rooms; False when it is not here."""
        ...

    def leave_socket(self, sid: str, room: str) -> bool:
        """The local socket ``sid`` leaves the room; False when it is not here."""
        ...

    def disconnect_socket(self, sid: str, close: bool) -> bool:
        """Disconnect the local socket ``sid`` (and its connection when ``close``); False
        when it is not here."""
        ...

    def receive_server_side_emit(self, args: list[Any], ack: Callable[..., None] | None) -> None:
        """An event that another server sent with ``server_side_emit``."""
        ...

    def to(self, *rooms: str | Iterable[str]) -> Operator:
        """A broadcast operator of this namespace for these rooms."""
        ...
