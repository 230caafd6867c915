"""Emit to the clients of a PostgreSQL cluster from any process (Node:
@socket.io/postgres-emitter).

The emitter sends the ClusterAdapter messages of the PostgreSQL adapter (uid ``emitter``) with
``pg_notify``, through the attachments table when they hold binary data or are too long for a
notification, so that Python and Node servers deliver what it sends::

    conn = await psycopg.AsyncConnection.connect("postgresql://...", autocommit=True)
    emitter = PostgresEmitter(conn)
    await emitter.to("room1").emit("news", {"title": "hello"})
    await emitter.of("/admin").sockets_join("vip")

Unlike the Node emitter 0.1, the messages carry their namespace (``nsp``): the Node adapter 0.5
ignores messages without it. Acknowledgements are not supported, as in Node.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import _json
from ._extras import needs_extra
from .adapters.cluster import EMITTER_UID, MessageType
from .adapters.postgres import encode_notification
from .emitter_common import Emitter, Operator, check_event, check_server_event, room_list, scoped
from .socketio.packets import EVENT

with needs_extra("the PostgreSQL emitter", ("psycopg",), "postgres"):
    import psycopg
    from psycopg import sql

__all__ = ["PostgresEmitter", "PostgresEmitterOperator"]


class PostgresEmitter(Emitter["PostgresEmitterOperator"]):
    """An emitter for one namespace (``/`` unless given); :meth:`of` gives the others.

    ``conn``: a ``psycopg.AsyncConnection`` (each operation runs in its own transaction).
    ``channel_prefix``, ``table_name`` and ``payload_threshold`` are those of the adapter."""

    def __init__(
        self,
        conn: psycopg.AsyncConnection[Any],
        *,
        nsp: str = "/",
        channel_prefix: str = "socket.io",
        table_name: str = "socket_io_attachments",
        payload_threshold: int = 8000,
    ) -> None:
        nsp = scoped(nsp)
        self.conn = conn
        self.nsp = nsp
        self.channel_prefix = channel_prefix
        self.table_name = table_name
        self.payload_threshold = payload_threshold

    def __repr__(self) -> str:
        return f"<PostgresEmitter nsp={self.nsp!r} channel_prefix={self.channel_prefix!r}>"

    def of(self, nsp: str) -> PostgresEmitter:
        return PostgresEmitter(
            self.conn,
            nsp=nsp,
            channel_prefix=self.channel_prefix,
            table_name=self.table_name,
            payload_threshold=self.payload_threshold,
        )

    @property
    def _operator(self) -> PostgresEmitterOperator:
        return PostgresEmitterOperator(self)

    async def emit(self, event: str, *args: Any) -> None:
        await self._operator.emit(event, *args)

    async def sockets_join(self, rooms: str | Iterable[str]) -> None:
        await self._operator.sockets_join(rooms)

    async def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        await self._operator.sockets_leave(rooms)

    async def disconnect_sockets(self, close: bool = False) -> None:
        await self._operator.disconnect_sockets(close)

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Emit to the ``nsp.on(event)`` listeners of every server."""
        check_server_event(event, args)
        await self._send({"type": MessageType.SERVER_SIDE_EMIT, "data": {"packet": [event, *args]}})

    async def _send(self, message: dict[str, Any]) -> None:
        message["uid"] = EMITTER_UID
        message["nsp"] = self.nsp
        notification = encode_notification(message, self.channel_prefix, self.payload_threshold)
        conn = self.conn
        async with conn.transaction():
            payload = notification.payload
            if notification.attachment is not None:
                table = sql.Identifier(*self.table_name.split("."))
                cursor = await conn.execute(
                    sql.SQL("INSERT INTO {} (payload) VALUES (%s) RETURNING id").format(table),
                    (notification.attachment,),
                )
                row = await cursor.fetchone()
                assert row is not None
                header = {**(notification.header or {}), "attachmentId": str(row[0])}
                payload = _json.dumps(header)
            await conn.execute("SELECT pg_notify(%s, %s)", (notification.channel, payload))


class PostgresEmitterOperator(Operator):
    """Rooms, excluded rooms and flags of one emit; each modifier returns a new operator."""

    __slots__ = ("emitter",)

    def __init__(
        self,
        emitter: PostgresEmitter,
        rooms: tuple[str, ...] = (),
        skip: tuple[str, ...] = (),
        flags: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(rooms, skip, flags)
        self.emitter = emitter

    def _with(
        self, rooms: tuple[str, ...], skip: tuple[str, ...], flags: dict[str, Any]
    ) -> PostgresEmitterOperator:
        return PostgresEmitterOperator(self.emitter, rooms, skip, flags)

    async def emit(self, event: str, *args: Any) -> None:
        """Emit to the matching clients of every server."""
        check_event(event)
        packet = {"type": EVENT, "data": [event, *args], "nsp": self.emitter.nsp}
        opts = {**self._opts(), "flags": dict(self.flags)}
        await self.emitter._send(
            {"type": MessageType.BROADCAST, "data": {"packet": packet, "opts": opts}}
        )

    async def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the matching sockets join the rooms."""
        data = {"opts": self._opts(), "rooms": room_list((rooms,))}
        await self.emitter._send({"type": MessageType.SOCKETS_JOIN, "data": data})

    async def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the matching sockets leave the rooms."""
        data = {"opts": self._opts(), "rooms": room_list((rooms,))}
        await self.emitter._send({"type": MessageType.SOCKETS_LEAVE, "data": data})

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the matching sockets (``close``: their whole connection)."""
        data = {"opts": self._opts(), "close": close}
        await self.emitter._send({"type": MessageType.DISCONNECT_SOCKETS, "data": data})
