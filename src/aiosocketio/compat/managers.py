"""python-socketio's client managers: where rooms live and how servers share broadcasts.

:class:`AsyncManager` keeps them in memory (aiosocketio's default adapter);
:class:`AsyncRedisManager` runs aiosocketio's Redis adapter, which speaks the wire format of
Node's ``@socket.io/redis-adapter`` and **not** python-socketio's: every server of a
cluster must run aiosocketio (or Node's socket.io), none python-socketio. Kafka, AMQP
(Kombu, aio-pika) and ZeroMQ managers are not available: see :data:`SUPPORTED`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from ..adapters.memory import MemoryAdapter
from ._calls import as_args

__all__ = [
    "AsyncAioPikaManager",
    "AsyncManager",
    "AsyncRedisManager",
    "KafkaManager",
    "KombuManager",
    "RedisManager",
    "ZmqManager",
]

SUPPORTED = (
    "aiosocketio's cluster adapters are Redis (classic and sharded: AsyncRedisManager, or "
    "aiosocketio.adapters.redis.RedisAdapter), Redis Streams and PostgreSQL (see "
    "docs/rooms.md#several-servers); they speak the Node adapters' wire formats"
)


class AsyncManager:
    """Rooms in this process only (the default)."""

    write_only = False

    def adapter_factory(self) -> Callable[..., Any]:
        return MemoryAdapter


class AsyncRedisManager(AsyncManager):
    """Redis Pub/Sub between the servers, in the format of Node's ``@socket.io/redis-adapter``
    (not python-socketio's): ``channel`` is the adapter's key prefix.

    ``write_only=True`` makes an emitter for a process that is not a server: ``await
    manager.emit(event, data, namespace=..., room=..., skip_sid=...)``.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        channel: str = "socketio",
        write_only: bool = False,
        logger: Any = None,
        json: Any = None,
        redis_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.channel = channel
        self.write_only = write_only
        self.redis_options = dict(redis_options or {})
        self._redis: Any = None

    def adapter_factory(self) -> Callable[..., Any]:
        from ..adapters.redis import RedisAdapter

        if self.redis_options:
            return RedisAdapter.factory(self._client, key=self.channel)
        return RedisAdapter.factory(self.url, key=self.channel)

    def _client(self) -> Any:
        from redis.asyncio import Redis

        return Redis.from_url(self.url, **self.redis_options)

    async def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        """Emit from outside the servers (``write_only=True``)."""
        if callback is not None:
            raise ValueError("callbacks are not supported by an emitting manager")
        from ..emitter import RedisEmitter

        if self._redis is None:
            self._redis = self._client()
        emitter: Any = RedisEmitter(self._redis, key=self.channel, nsp=namespace or "/")
        target = to if to is not None else room
        if target is not None:
            emitter = emitter.to(target)
        if skip_sid is not None:
            emitter = emitter.except_(skip_sid)
        result = emitter.emit(event, *as_args(data))
        if hasattr(result, "__await__"):
            await result

    async def close(self) -> None:
        if self._redis is not None:
            redis, self._redis = self._redis, None
            await redis.aclose()


def _unsupported(name: str) -> type:
    def refuse(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(f"{name} is not supported by aiosocketio.compat: {SUPPORTED}")

    return type(name, (AsyncManager,), {"__init__": refuse, "__doc__": f"Not supported: {name}."})


KafkaManager = _unsupported("KafkaManager")
KombuManager = _unsupported("KombuManager")
ZmqManager = _unsupported("ZmqManager")
AsyncAioPikaManager = _unsupported("AsyncAioPikaManager")
RedisManager = _unsupported("RedisManager")
