"""The sharded mode of @socket.io/redis-adapter 8.3 (Redis 7 SPUBLISH / SSUBSCRIBE, the
ClusterAdapter messages), as ``createShardedAdapter()`` in Node. Use it through
:mod:`aiosocketio.adapters.redis`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .cluster import (
    ClusterAdapter,
    MessageType,
    loads,
)
from .link import LinkUser
from .redis_link import (
    RedisAdapterFactory,
    RedisLink,
    RedisSource,
    SubscriptionMode,
    dumps_or_log,
)
from .seam import Host

__all__ = ["ShardedRedisAdapter"]

log = logging.getLogger("aiosocketio.adapters.redis")


# ---------------------------------------------------------------------------------- sharded mode
class ShardedRedisAdapter(LinkUser[RedisLink], ClusterAdapter):
    """@socket.io/redis-adapter 8.3, sharded mode (Redis 7 SPUBLISH / SSUBSCRIBE).

    Messages are the ClusterAdapter's ``{uid, nsp, type, data}`` (JSON, or MessagePack when they
    hold binary) on ``<key>#<nsp>#``; responses go to ``<key>#<nsp>#<uid>#``. In the
    ``dynamic`` subscription mode (the default), a broadcast to exactly one public room goes to
    ``<key>#<nsp>#<room>#``, to which only the servers that have the room subscribe
    (``dynamic-private`` does it for the private rooms too, ``static`` never). The server
    count is PUBSUB SHARDNUMSUB of the main channel.
    """

    def __init__(
        self,
        nsp: Host,
        link: RedisLink,
        *,
        key: str = "socket.io",
        subscription_mode: SubscriptionMode = "dynamic",
        request_timeout: float = 5.0,
    ) -> None:
        ClusterAdapter.__init__(self, nsp, request_timeout=request_timeout)
        self.link = link
        self.key = key
        self.subscription_mode = subscription_mode
        self.channel = f"{key}#{nsp.name}#"
        self.response_channel = f"{self.channel}{self.uid}#"
        self._response_bytes = self.response_channel.encode()

    @classmethod
    def factory(
        cls, redis: RedisSource = "redis://127.0.0.1:6379", **options: Any
    ) -> RedisAdapterFactory:
        """As :meth:`RedisAdapter.factory` with ``sharded=True``."""
        return RedisAdapterFactory(redis, sharded=True, **options)

    async def close(self) -> None:
        self._closed = True
        await ClusterAdapter.close(self)
        await self._close_once()

    async def _attach(self) -> None:
        names = [self.channel, self.response_channel]
        names.extend(self._dynamic_channel(r) for r in self.rooms if self._separate_channel(r))
        await self.link.subscribe("shard", names, self._on_raw)
        await self.link.watch(self.nsp.name, self.channel, sharded=True)

    async def _detach(self) -> None:
        self.link.unwatch(self.nsp.name)
        names = [self.channel, self.response_channel]
        names.extend(self._dynamic_channel(r) for r in self.rooms if self._separate_channel(r))
        await self.link.unsubscribe("shard", names)

    # ---------------------------------------------------------------- dynamic channels
    def _dynamic_channel(self, room: str) -> str:
        return f"{self.channel}{room}#"

    def _separate_channel(self, room: str) -> bool:
        mode = self.subscription_mode
        return mode == "dynamic-private" or (mode == "dynamic" and room not in self.sids)

    def on_create_room(self, room: str) -> None:
        if self._init_task is not None and not self._closing and self._separate_channel(room):
            self.link.subscribe_soon("shard", self._dynamic_channel(room), self._on_raw)

    def on_delete_room(self, room: str) -> None:
        if self._init_task is not None and not self._closing and self._separate_channel(room):
            self.link.unsubscribe_soon("shard", self._dynamic_channel(room))

    # ---------------------------------------------------------------- transport
    def _on_raw(self, channel: bytes, data: bytes) -> None:
        try:
            message = loads(data)
        except ValueError:
            log.debug("ignoring a malformed message on %r", channel)
            return
        if channel == self._response_bytes:
            self.on_response(message)
        else:
            self.on_message(message)

    def do_publish(self, message: dict[str, Any]) -> None:
        data = dumps_or_log(message)
        if data is not None:
            channel = self._channel_of(message)
            watch = self.nsp.name if channel == self.channel else None
            self.link.publish(channel, data, sharded=True, watch=watch)

    def _channel_of(self, message: Mapping[str, Any]) -> str:
        mode = self.subscription_mode
        if message.get("type") != MessageType.BROADCAST or mode == "static":
            return self.channel
        data = message.get("data") or {}
        rooms = data.get("opts", {}).get("rooms", [])
        if "requestId" in data or len(rooms) != 1:
            return self.channel
        room = rooms[0]
        if mode == "dynamic" and _looks_like_a_socket_id(room):
            return self.channel
        return self._dynamic_channel(room)

    def do_publish_response(self, requester_uid: str, response: dict[str, Any]) -> None:
        data = dumps_or_log(response)
        if data is not None:
            self.link.publish(f"{self.channel}{requester_uid}#", data, sharded=True)

    async def server_count(self) -> int:
        count = await self.link.numsub(self.channel, sharded=True)
        return self.link.servers(self.nsp.name, count)


def _looks_like_a_socket_id(room: Any) -> bool:
    return isinstance(room, str) and len(room) == 20


RedisAdapterFactory.modes[True] = ShardedRedisAdapter
