"""A Socket.IO protocol v4 client (socket.io-client 2.x, over Engine.IO v3), as socket.io
4.8 serves it with ``allowEIO3``: the rules of :mod:`aiosocketio.socketio.packets_v4`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..reasons import DisconnectReason
from ..socketio.packets_v4 import DecoderV4, refusal_payload
from .client import Client

if TYPE_CHECKING:
    from ..engine.socket import EngineSocket
    from .namespace import Namespace
    from .server import Server
    from .socket import Socket

__all__ = ["ClientV3"]


class ClientV3(Client):
    """The Socket.IO side of one Engine.IO v3 session."""

    __slots__ = ()

    # as socket.io 4.8 with a v3 client: the connection is closed, as by the server
    invalid_packet_reason = DisconnectReason.FORCED_CLOSE

    def __init__(self, server: Server, conn: EngineSocket) -> None:
        super().__init__(server, conn)
        self.decoder = DecoderV4(self.decoder)
        self._connect("/", {})  # the main namespace, without a CONNECT from the client

    def socket_id(self, nsp: Namespace) -> str:
        # as Node: the session's id for the main namespace, "<nsp>#<session id>" otherwise
        sid = self.conn.sid
        return sid if nsp.name == "/" else f"{nsp.name}#{sid}"

    def connect_payload(self, socket: Socket) -> Any:
        return None

    def refusal(self, payload: dict[str, Any]) -> Any:
        return refusal_payload(payload["message"], payload.get("data"))
