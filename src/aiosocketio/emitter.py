"""Emit to the clients of a Socket.IO cluster from any process (Node: @socket.io/redis-emitter).

The emitter speaks the classic mode of the Redis adapter (the Python :class:`RedisAdapter` and
Node's ``createAdapter()``), so servers of either language deliver what it sends::

    from redis.asyncio import Redis
    emitter = RedisEmitter(Redis())
    await emitter.to("room1").emit("news", {"title": "hello"})
    await emitter.of("/admin").sockets_join("vip")

Every operation publishes one message and returns what the client's ``publish`` returns: an
awaitable with ``redis.asyncio`` (await it), the number of receivers with the synchronous
``redis.Redis`` (the message is published at once). Acknowledgements are not supported, as in
Node.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from .adapters import msgpack_codec
from .adapters.cluster import EMITTER_UID, dumps
from .emitter_common import Emitter, Operator, check_event, check_server_event, room_list, scoped
from .socketio.packets import EVENT

__all__ = ["EmitterOperator", "RedisEmitter"]


class Publisher(Protocol):
    """What the emitter needs of a Redis client: ``redis.Redis`` or ``redis.asyncio.Redis``."""

    def publish(self, channel: Any, message: Any, /) -> Any: ...


# request types of the classic Redis adapter
_REMOTE_JOIN = 2
_REMOTE_LEAVE = 3
_REMOTE_DISCONNECT = 4
_SERVER_SIDE_EMIT = 6


class _Channels:
    __slots__ = ("broadcast", "nsp", "request")

    def __init__(self, key: str, nsp: str) -> None:
        self.nsp = nsp
        self.broadcast = f"{key}#{nsp}#"
        self.request = f"{key}-request#{nsp}#"


class RedisEmitter(Emitter["EmitterOperator"]):
    """An emitter for one namespace (``/`` unless given); :meth:`of` gives the others."""

    def __init__(self, redis: Publisher, *, key: str = "socket.io", nsp: str = "/") -> None:
        nsp = scoped(nsp)
        self.redis = redis
        self.key = key
        self.nsp = nsp
        self._channels = _Channels(key, nsp)

    def __repr__(self) -> str:
        return f"<RedisEmitter key={self.key!r} nsp={self.nsp!r}>"

    def of(self, nsp: str) -> RedisEmitter:
        """The emitter of another namespace."""
        return RedisEmitter(self.redis, key=self.key, nsp=nsp)

    @property
    def _operator(self) -> EmitterOperator:
        return EmitterOperator(self.redis, self._channels)

    def emit(self, event: str, *args: Any) -> Any:
        """Emit to every client of the namespace."""
        return self._operator.emit(event, *args)

    def sockets_join(self, rooms: str | Iterable[str]) -> Any:
        """Make every socket of the namespace join the rooms."""
        return self._operator.sockets_join(rooms)

    def sockets_leave(self, rooms: str | Iterable[str]) -> Any:
        return self._operator.sockets_leave(rooms)

    def disconnect_sockets(self, close: bool = False) -> Any:
        return self._operator.disconnect_sockets(close)

    def server_side_emit(self, event: str, *args: Any) -> Any:
        """Emit to the servers (their ``nsp.on(event)`` listeners); no acknowledgement."""
        check_server_event(event, args)
        request = {"uid": EMITTER_UID, "type": _SERVER_SIDE_EMIT, "data": [event, *args]}
        return self.redis.publish(self._channels.request, dumps(request))


class EmitterOperator(Operator):
    """Rooms, excluded rooms and flags of one emit; each modifier returns a new operator."""

    __slots__ = ("_channels", "redis")

    def __init__(
        self,
        redis: Publisher,
        channels: _Channels,
        rooms: tuple[str, ...] = (),
        skip: tuple[str, ...] = (),
        flags: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(rooms, skip, flags)
        self.redis = redis
        self._channels = channels

    def _with(
        self, rooms: tuple[str, ...], skip: tuple[str, ...], flags: dict[str, Any]
    ) -> EmitterOperator:
        return EmitterOperator(self.redis, self._channels, rooms, skip, flags)

    def emit(self, event: str, *args: Any) -> Any:
        """Emit to the matching clients of every server."""
        check_event(event)
        channels = self._channels
        packet = {"type": EVENT, "data": [event, *args], "nsp": channels.nsp}
        opts = {"rooms": list(self.rooms), "flags": dict(self.flags), "except": list(self.skip)}
        channel = channels.broadcast
        if len(self.rooms) == 1:
            channel += self.rooms[0] + "#"
        return self.redis.publish(channel, msgpack_codec.encode([EMITTER_UID, packet, opts]))

    def sockets_join(self, rooms: str | Iterable[str]) -> Any:
        """Make the matching sockets join the rooms."""
        return self._request(_REMOTE_JOIN, rooms=room_list((rooms,)))

    def sockets_leave(self, rooms: str | Iterable[str]) -> Any:
        """Make the matching sockets leave the rooms."""
        return self._request(_REMOTE_LEAVE, rooms=room_list((rooms,)))

    def disconnect_sockets(self, close: bool = False) -> Any:
        """Disconnect the matching sockets (``close``: their whole connection)."""
        return self._request(_REMOTE_DISCONNECT, close=close)

    def _request(self, kind: int, **fields: Any) -> Any:
        request = {"type": kind, "opts": self._opts(), **fields}
        return self.redis.publish(self._channels.request, dumps(request))
