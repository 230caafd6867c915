"""One Engine.IO connection seen from Socket.IO: decoding, and the sockets of each namespace."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ..errors import ProtocolError
from ..reasons import DisconnectReason
from ..runtime import spawn
from ..socketio.packets import CONNECT, CONNECT_ERROR

if TYPE_CHECKING:
    from ..engine.socket import EngineSocket
    from .namespace import Namespace
    from .server import Server
    from .socket import Socket

__all__ = ["Client"]

log = logging.getLogger("aiosocketio.server")


class Client:
    """The Socket.IO side of one Engine.IO session (Node: ``Client``)."""

    __slots__ = ("_paused", "_pending", "_timer", "conn", "connecting", "decoder", "nsps", "server")

    invalid_packet_reason = DisconnectReason.PARSE_ERROR
    """The disconnect reason when the client sends a packet that is invalid, or not allowed
    in the connection's state."""

    def __init__(self, server: Server, conn: EngineSocket) -> None:
        self.server = server
        self.conn = conn
        self.decoder = server.parser.decoder()
        self.nsps: dict[str, Socket] = {}
        self.connecting: set[str] = set()
        self._pending = 0
        self._paused = False
        conn.handler = self
        self._timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            server.connect_timeout, self._connect_timeout
        )

    # ------------------------------------------------------------------ from Engine.IO
    def on_message(self, data: str | bytes) -> None:
        try:
            if type(data) is str:
                packet = self.decoder.decode_text(data)
            else:
                packet = self.decoder.decode_binary(data)  # type: ignore[arg-type]
        except ProtocolError as exc:
            log.info("closing connection %s: %s", self.conn.sid, exc)
            self.close(self.invalid_packet_reason)
            return
        if packet is None:
            return
        socket = self.nsps.get(packet.nsp)
        kind = packet.type
        if socket is not None:
            if kind in (CONNECT, CONNECT_ERROR):
                self.close_with_error()
            else:
                socket._on_packet(packet)
        elif kind == CONNECT and packet.nsp not in self.connecting:
            self._connect(packet.nsp, packet.data if packet.data is not None else {})
        else:
            self.close_with_error()

    # ------------------------------------------------------------------ flow control
    def track(self, task: asyncio.Task[Any]) -> None:
        """Count a running handler task; stop reading from a client that has too many."""
        self._pending += 1
        if self._pending >= self.server.max_pending_handlers and not self._paused:
            log.debug(
                "connection %s: %d handlers running, pausing reads", self.conn.sid, self._pending
            )
            self._paused = True
            self.conn.pause_reading()
        task.add_done_callback(self._untrack)

    def _untrack(self, task: asyncio.Task[Any]) -> None:
        self._pending -= 1
        if self._paused and self._pending <= self.server.max_pending_handlers // 2:
            self._paused = False
            self.conn.resume_reading()

    def on_close(self, reason: str, description: str | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for socket in list(self.nsps.values()):
            socket._on_close(reason, description)
        self.nsps.clear()

    # ------------------------------------------------------------------ namespaces
    def _connect(self, name: str, auth: dict[str, Any]) -> None:
        server = self.server
        nsp = server._nsps.get(name)
        if nsp is not None:
            nsp._add(self, auth)
            return
        found = server._match_parent(name, auth)
        if found is None or found is False:
            self._refuse_namespace(name)
        elif found is True:
            server.of(name)._add(self, auth)
        else:
            self.connecting.add(name)
            spawn(self._connect_later(name, auth, found), "dynamic namespace check")

    async def _connect_later(self, name: str, auth: dict[str, Any], pending: Any) -> None:
        try:
            nsp = await pending
        finally:
            self.connecting.discard(name)
        if self.conn.closed:
            return
        if nsp is None:
            self._refuse_namespace(name)
        else:
            nsp._add(self, auth)

    def _refuse_namespace(self, name: str) -> None:
        messages = self.server.parser.encode(
            CONNECT_ERROR, name, {"message": "Invalid namespace"}, None
        )
        self._write(messages)

    # ------------------------------------------------------------------ protocol v5 rules
    # (ClientV3, for socket.io-client 2.x, has those of protocol v4)
    def socket_id(self, nsp: Namespace) -> str:
        """The id of a new socket of this connection (v5: random, never the session's id)."""
        return self.server.new_id()

    def connect_payload(self, socket: Socket) -> Any:
        """The payload of the CONNECT packet that tells the client it is connected."""
        payload: dict[str, Any] = {"sid": socket.id}
        if socket.pid is not None:
            payload["pid"] = socket.pid
        return payload

    def refusal(self, payload: dict[str, Any]) -> Any:
        """The payload of the CONNECT_ERROR for a refusal by middleware
        (``{"message", "data"}``)."""
        return payload

    def _write(self, messages: list[str | bytes]) -> None:
        self.conn.send_messages(messages)

    def _add(self, socket: Socket) -> None:
        self.nsps[socket.nsp.name] = socket
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _remove(self, socket: Socket) -> None:
        if self.nsps.get(socket.nsp.name) is socket:
            del self.nsps[socket.nsp.name]

    def _connect_timeout(self) -> None:
        self._timer = None
        if not self.nsps:
            log.debug("no namespace joined in time by %s, closing", self.conn.sid)
            self.close(DisconnectReason.FORCED_CLOSE)

    # ------------------------------------------------------------------ closing
    def disconnect_all(self) -> None:
        """Disconnect every namespace, then close the connection (``socket.disconnect(True)``)."""
        for socket in list(self.nsps.values()):
            socket.disconnect()
        self.close(DisconnectReason.FORCED_CLOSE)

    def close_with_error(self) -> None:
        """A packet that is not allowed in the connection's state: close everything."""
        log.info("invalid packet from %s, closing", self.conn.sid)
        self.close(self.invalid_packet_reason)

    def close(self, reason: str = DisconnectReason.FORCED_CLOSE) -> None:
        conn = self.conn
        if conn.closed:
            return
        handler_alive = conn.handler is self
        conn.close(reason)
        if handler_alive and conn.handler is self:
            self.on_close(reason, None)
