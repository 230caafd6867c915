"""The server's side of the adapter seam (:mod:`aiosocketio.adapters.seam`).

:class:`AdapterSeam` is a base of :class:`~aiosocketio.server.namespace.Namespace`: what
its adapter may ask of it, by socket id, without seeing a socket's private parts. Sending
encodes and frames a packet once and writes the same object to every recipient
(docs/decisions/0005).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..adapters.seam import SocketDetails, details
from ..engine.socket import Outgoing
from ..runtime import Listener
from ..socketio.packets import Packet

if TYPE_CHECKING:
    from .server import Server
    from .socket import Socket

__all__ = ["AdapterSeam"]


class AdapterSeam:
    """Sending to and acting on local sockets by id (the
    :class:`~aiosocketio.adapters.seam.Host` that an adapter sees)."""

    sockets: dict[str, Socket]
    server: Server
    _any_outgoing: list[Listener] | None

    def next_ack_id(self) -> int:
        raise NotImplementedError

    def _outgoing(self, packet: Packet, volatile: bool, compress: bool) -> Outgoing:
        messages = self.server.parser.encode(packet.type, packet.nsp, packet.data, packet.id)
        return Outgoing.of_messages(messages, volatile=volatile, compress=compress)

    def send_packet(
        self, packet: Packet, sids: Iterable[str] | None, volatile: bool, compress: bool
    ) -> None:
        out = self._outgoing(packet, volatile, compress)
        outgoing_hook = self._any_outgoing
        sockets = self.sockets
        targets: Iterable[Socket] = (
            sockets.values()
            if sids is None
            else [socket for socket in map(sockets.get, sids) if socket is not None]
        )
        for socket in targets:
            if socket._any_out is not None or outgoing_hook:
                socket._notify_outgoing(packet.data)
            socket.conn.write_outgoing(out)

    def send_packet_with_ack(
        self,
        packet: Packet,
        sids: Iterable[str],
        ack: Callable[[Any], None],
        volatile: bool,
        compress: bool,
    ) -> int:
        sockets = self.sockets
        targets = [socket for socket in map(sockets.get, sids) if socket is not None]
        packet.id = id = self.next_ack_id()
        out = self._outgoing(packet, volatile, compress)
        count = 0
        outgoing_hook = self._any_outgoing
        for socket in targets:
            if socket._any_out is not None or outgoing_hook:
                socket._notify_outgoing(packet.data)
            if socket.conn.write_outgoing(out):
                socket._register_ack(id, ack, None, single=True)
                count += 1
        return count

    # ------------------------------------------------------------------ by socket id
    def socket_details(self, sid: str) -> SocketDetails | None:
        socket = self.sockets.get(sid)
        if socket is None:
            return None
        return details(socket)

    def join_socket(self, sid: str, rooms: str | Iterable[str]) -> bool:
        socket = self.sockets.get(sid)
        if socket is not None:
            socket.join(rooms)
        return socket is not None

    def leave_socket(self, sid: str, room: str) -> bool:
        socket = self.sockets.get(sid)
        if socket is not None:
            socket.leave(room)
        return socket is not None

    def disconnect_socket(self, sid: str, close: bool) -> bool:
        socket = self.sockets.get(sid)
        if socket is not None:
            socket.disconnect(close)
        return socket is not None
