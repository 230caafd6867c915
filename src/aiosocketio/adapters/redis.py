"""The Redis adapters, wire-compatible with @socket.io/redis-adapter 8.3.

* :class:`RedisAdapter`: the classic mode (PUBLISH / PSUBSCRIBE, requests and responses on
  their own channels), the default of ``createAdapter()`` in Node.
* :class:`ShardedRedisAdapter`: the sharded mode of Redis 7 (SPUBLISH / SSUBSCRIBE) with the
  ClusterAdapter messages, as ``createShardedAdapter()`` in Node.

Use them through a factory, which gives each server one connection that subscribes and one
client that publishes, shared by all its namespaces::

    io = Server(adapter=RedisAdapter.factory("redis://127.0.0.1:6379"))
    io = Server(adapter=RedisAdapter.factory(redis_client, key="chat", sharded=True))

When Redis goes away the server keeps serving its own clients: broadcasts still reach the local
sockets, what is to be published waits in a bounded queue, and the subscriber reconnects with a
backoff and subscribes again. After an outage the queue is held until the other servers are
subscribed again (Pub/Sub keeps nothing for a server that is not), and every message that
Redis says reached fewer servers than before is reported (see :mod:`.resync`). Cluster-wide
requests (``fetch_sockets``, ``server_side_emit``
with acknowledgements) fail with :class:`~aiosocketio.adapters.base.ClusterError` while Redis is
unreachable.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from .._extras import needs_extra
from .._tasks import spawn
from ..socketio.packets import Packet
from . import msgpack_codec
from .base import Adapter, BroadcastOptions, ClusterError
from .cluster import (
    AckRequest,
    ClusterAdapter,
    MessageType,
    PendingRequest,
    RemoteSocket,
    Requests,
    decode_options,
    decode_packet,
    dumps,
    dumps_sockets_response,
    encode_options,
    encode_packet,
    future_done,
    loads,
    new_request_id,
    single_ack,
)
from .link import BrokerLink, Links, LinkUser, Loop
from .memory import MemoryAdapter
from .resync import ReportHook, Resync
from .seam import Host

with needs_extra("the Redis adapter", ("redis",), "redis"):
    from redis.asyncio import ConnectionPool, Redis
    from redis.asyncio.client import PubSub
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = [
    "RedisAdapter",
    "RedisAdapterFactory",
    "RedisLink",
    "RequestType",
    "ShardedRedisAdapter",
]

log = logging.getLogger("aiosocketio.adapters.redis")

RedisSource = str | Redis | Callable[[], Redis]
"""A Redis URL, a ``redis.asyncio.Redis`` client, or a function that makes one."""

SubscriptionMode = Literal["static", "dynamic", "dynamic-private"]
Handler = Callable[[bytes, bytes], None]
Kind = Literal["channel", "pattern", "shard"]
_Item = tuple[bool, str, bytes | str, str | None]  # sharded, channel, data, watched key

# errors after which the connection is gone and is to be made again
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)


class RequestType(enum.IntEnum):
    """Request types of the classic mode (@socket.io/redis-adapter 8.3)."""

    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


# ---------------------------------------------------------------------------------- the link
class RedisLink(BrokerLink[_Item]):
    """One server's connections to Redis, shared by the adapters of its namespaces.

    * a subscriber connection (its own pool, made from the publishing client's settings, with
      redis-py's retries off): one task reads it and hands each message to the handler of its
      channel or pattern; when it fails, the task reconnects with an exponential backoff and
      subscribes to everything again; a PING after ``health_check_interval`` seconds of silence
      finds connections that died without a word;
    * the publishing client: one task publishes, in order, what the adapters queue (pipelined
      when several messages wait); while Redis is unreachable messages wait in a queue of at most
      ``max_queue`` (the oldest are dropped beyond, and counted in ``dropped``).

    Each adapter *watches* its namespace: the number of servers subscribed to it (PUBSUB
    NUMSUB of a channel every server subscribes to) and the receiver count Redis answers to
    each PUBLISH. A message that reached fewer servers than before is reported as ``short``;
    after an outage of its own the link holds its queue until the count is back (at most
    ``resync_timeout`` seconds once Redis answers), see :class:`~.resync.Resync`.
    """

    broker = "Redis"
    writer_name = "redis publisher"
    _log = log

    def __init__(
        self,
        source: RedisSource,
        *,
        health_check_interval: float = 15.0,
        max_queue: int = 10_000,
        reconnect_delay: tuple[float, float] = (0.05, 5.0),
        connect_timeout: float = 3.0,
        resync_timeout: float = 10.0,
        on_report: ReportHook | None = None,
    ) -> None:
        super().__init__(
            max_queue=max_queue, reconnect_delay=reconnect_delay, connect_timeout=connect_timeout
        )
        self._source = source
        self.health_check_interval = health_check_interval
        self.client: Redis | None = None
        self._owns_client = False
        self._sub_pool: ConnectionPool | None = None
        self._pubsub: PubSub | None = None
        self._tables: dict[Kind, dict[bytes, Handler]] = {"pattern": {}, "channel": {}, "shard": {}}
        self._confirmations: dict[tuple[str, bytes], list[asyncio.Future[None]]] = {}
        self._live = False  # the subscriber connection is up (subscriptions go out at once)
        self._down_since: float | None = None
        self._deaf_since = 0.0
        self._heard_at = 0.0  # the last sign of life of the subscriber connection
        self.connected = False
        """Whether the subscriber connection is up and subscribed to every channel."""
        self.resync = Resync("Redis", resync_timeout, on_report)
        self._watched: dict[str, tuple[str, bool]] = {}
        self._receivers: dict[str, int] = {}
        self._short_since: dict[str, float] = {}

    @property
    def subscriber_name(self) -> str:
        """The CLIENT SETNAME of the subscriber connection (to find it in CLIENT LIST)."""
        return f"aiosocketio-sub-{self.id}"

    # ---------------------------------------------------------------- lifecycle
    async def _open(self) -> None:
        self.client, self._owns_client = _make_client(self._source)
        try:
            self._sub_pool = _subscriber_pool(self.client, self.subscriber_name)
        except Exception:
            if self._owns_client:
                await self.client.aclose()
            raise

    def _loops(self) -> list[tuple[str, Loop]]:
        return [("redis subscriber", self._read_loop())]

    async def _interrupt(self) -> None:
        # a read in progress fails at once when its connection closes; the loops also stop by
        # themselves once closed (a cancellation may be lost in a library's timeout handling)
        await self._drop_pubsub()

    async def _close_connections(self) -> None:
        # the tasks have stopped: say why one of them failed
        for finished in (*self._tasks, self._writer):
            if finished is not None and finished.done() and not finished.cancelled():
                exc = finished.exception()
                if exc is not None:
                    log.error("error in %s", finished.get_name(), exc_info=exc)
        await self._drop_pubsub()
        if self._sub_pool is not None:
            await self._sub_pool.disconnect()
        if self.client is not None and self._owns_client:
            close = getattr(self.client, "aclose", None) or self.client.close
            await close()
        for futures in self._confirmations.values():
            for future in futures:
                future.cancel()
        self._confirmations.clear()
        self.connected = False

    # ---------------------------------------------------------------- subscriptions
    async def subscribe(
        self, kind: Kind, names: Iterable[str], handler: Handler, *, wait: float | None = 2.0
    ) -> None:
        """Route the messages of these channels (or patterns) to ``handler(channel, data)``;
        with ``wait``, until Redis confirmed the subscriptions (or that many seconds)."""
        keys = [name.encode() for name in names]
        table = self._tables[kind]
        for key in keys:
            table[key] = handler
        pubsub = self._pubsub
        if pubsub is None or not self._live:
            return  # the reader subscribes to everything when it connects
        futures = [self._confirmation(kind, key) for key in keys] if wait else []
        try:
            await _subscribe(pubsub, kind, keys)
        except _CONNECTION_ERRORS as exc:
            log.debug("subscribe failed (%s); the reader subscribes again on reconnection", exc)
            return
        if futures:
            _, pending = await asyncio.wait(futures, timeout=wait)
            for future in pending:
                future.cancel()
            if pending:
                log.warning("Redis did not confirm a subscription within %g s", wait)

    def subscribe_soon(self, kind: Kind, name: str, handler: Handler) -> None:
        """Subscribe without waiting (from synchronous code)."""
        self._tables[kind][name.encode()] = handler
        if self._pubsub is not None and self._live:
            spawn(self.subscribe(kind, [name], handler, wait=None), "redis subscribe")

    async def unsubscribe(self, kind: Kind, names: Iterable[str]) -> None:
        keys = [name.encode() for name in names]
        table = self._tables[kind]
        for key in keys:
            table.pop(key, None)
        pubsub = self._pubsub
        if pubsub is None or not self._live or not keys:
            return
        try:
            if kind == "channel":
                await pubsub.unsubscribe(*keys)
            elif kind == "pattern":
                await pubsub.punsubscribe(*keys)
            else:
                await pubsub.execute_command("SUNSUBSCRIBE", *keys)
        except _CONNECTION_ERRORS as exc:
            log.debug("unsubscribe failed: %s", exc)

    def unsubscribe_soon(self, kind: Kind, name: str) -> None:
        if self._tables[kind].pop(name.encode(), None) is not None and self._live:
            spawn(self.unsubscribe(kind, [name]), "redis unsubscribe")

    def _confirmation(self, kind: Kind, key: bytes) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirmations.setdefault((_SUBSCRIBE_REPLY[kind], key), []).append(future)
        return future

    # ---------------------------------------------------------------- publishing
    def publish(
        self, channel: str, data: bytes | str, *, sharded: bool = False, watch: str | None = None
    ) -> None:
        """Queue a message; the publisher task sends the queue in order. ``watch``: the key
        (see :meth:`watch`) whose servers all receive this message."""
        queue = self._queue
        queue.append((sharded, channel, data, watch))
        if len(queue) > self.max_queue:
            self._drop_oldest()
        if self._queue_ready is not None:
            self._queue_ready.set()

    def _drop_oldest(self) -> None:
        self._drop_oldest_of(self._queue, "publish")
        self.resync.report("dropped", 1, detail="the publish queue was full")

    # ---------------------------------------------------------------- who receives
    async def watch(self, key: str, channel: str, *, sharded: bool = False) -> None:
        """Count the servers of ``key`` (a namespace) as the subscribers of ``channel``, to
        which each of them subscribes (and as the receivers of the messages published with
        ``watch=key``)."""
        self._watched[key] = (channel, sharded)
        try:
            self.observe(key, await self.numsub(channel, sharded=sharded))
        except ClusterError:
            pass  # counted once Redis answers

    def unwatch(self, key: str) -> None:
        self._watched.pop(key, None)
        self._receivers.pop(key, None)
        self._short_since.pop(key, None)

    def observe(self, key: str, count: int, *, message: bool = False) -> None:
        """``count`` servers of ``key`` are subscribed (or received a ``message``): fewer
        than before is a server re-subscribing after an outage, or gone; each message sent
        meanwhile is reported, for at most ``resync_timeout`` seconds, after which the lower
        count is the new normal."""
        if key not in self._watched:
            return
        expected = self._receivers.get(key, 0)
        if count >= expected:
            self._receivers[key] = count
            if self._short_since.pop(key, None) is not None:
                log.info("Redis: %d servers of %s subscribed again", count, key)
            return
        now = asyncio.get_running_loop().time()
        since = self._short_since.setdefault(key, now)
        if message:
            if since == now:
                log.warning(
                    "Redis: a message of %s reached %d of %d servers (reported; the others "
                    "are re-subscribing or gone)",
                    key,
                    count,
                    expected,
                )
            self.resync.report("short", 1, detail=f"{key}: {count} of {expected} servers")
        if now - since >= self.resync.timeout:
            log.info("Redis: %d servers of %s from now on (was %d)", count, key, expected)
            self._receivers[key] = count
            del self._short_since[key]

    def servers(self, key: str, count: int) -> int:
        """The server count of ``key`` given ``count`` subscribers: while held after an
        outage, the servers expected back count too (a broadcast with acks waits for them)."""
        self.observe(key, count)
        if self.resync.held:
            return max(count, self._receivers.get(key, 0))
        return count

    async def _missing(self) -> list[tuple[str, int, int]] | None:
        """The watched keys with fewer subscribers than expected: (key, count, expected);
        None when Redis does not answer."""
        missing = []
        for key, (channel, sharded) in list(self._watched.items()):
            try:
                count = await self.numsub(channel, sharded=sharded)
            except ClusterError:
                return None
            expected = self._receivers.get(key, 0)
            if count < expected:
                missing.append((key, count, expected))
            else:
                self.observe(key, count)
        return missing

    async def _resynced(self) -> bool:
        """While held: whether the servers are subscribed again (or the wait is over)."""
        resync = self.resync
        missing = await self._missing() if self.connected else None
        if missing == []:
            resync.release()
            return True
        if not resync.expired(missing is not None) or missing is None:
            return False
        for key, count, _ in missing:
            self._receivers[key] = count
            self._short_since.pop(key, None)
        what = ", ".join(
            f"{expected - count} of {expected} servers of {key}" for key, count, expected in missing
        )
        resync.release(sum(1 for item in self._queue if item[3] is not None), what)
        return True

    async def command(self, *args: Any) -> Any:
        """Run one command with the publishing client; ClusterError when Redis is unreachable."""
        if self.client is None or self.closed:
            raise ClusterError("not connected to Redis")
        try:
            return await self.client.execute_command(*args)  # type: ignore[no-untyped-call]
        except (RedisError, OSError) as exc:
            raise ClusterError(f"Redis command {args[0]} failed: {exc}") from exc

    async def numsub(self, channel: str, *, sharded: bool = False) -> int:
        """How many connections subscribe to a channel (PUBSUB NUMSUB / SHARDNUMSUB)."""
        reply = await self.command("PUBSUB", "SHARDNUMSUB" if sharded else "NUMSUB", channel)
        return _numsub_count(reply)

    async def _write_loop(self) -> None:
        assert self._queue_ready is not None
        queue = self._queue
        ready = self._queue_ready
        delay = self.reconnect_delay[0]
        failing_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            if self.resync.held and not self._stopping and not await self._resynced():
                await asyncio.sleep(0.05)
                continue
            if not queue:
                if self._stopping:
                    return
                ready.clear()
                await ready.wait()
                continue
            batch = [queue.popleft() for _ in range(min(len(queue), 512))]
            try:
                replies = await self._send(batch)
            except asyncio.CancelledError:
                queue.extendleft(reversed(batch))
                raise
            except _CONNECTION_ERRORS as exc:
                queue.extendleft(reversed(batch))
                if self._stopping:
                    log.warning("closing: %d messages not published (%s)", len(queue), exc)
                    return
                while len(queue) > self.max_queue:
                    self._drop_oldest()
                self.resync.hold("cannot publish")
                if failing_since is None:
                    failing_since = loop.time()
                    log.warning(
                        "cannot publish to Redis (%s); %d messages wait, retrying", exc, len(queue)
                    )
                delay = await self._backoff(delay)
            except RedisError as exc:
                log.error("Redis refused %d published messages: %s", len(batch), exc)
            else:
                if failing_since is not None:
                    log.info("publishing to Redis again after %.1f s", loop.time() - failing_since)
                    failing_since = None
                delay = self.reconnect_delay[0]
                for item, reply in zip(batch, replies, strict=False):
                    if item[3] is not None and isinstance(reply, int):
                        self.observe(item[3], reply, message=True)

    async def _send(self, batch: list[_Item]) -> list[Any]:
        """Publish; the receiver count of each message."""
        client = self.client
        assert client is not None
        if len(batch) == 1:
            sharded, channel, data, _ = batch[0]
            command = "SPUBLISH" if sharded else "PUBLISH"
            return [await client.execute_command(command, channel, data)]  # type: ignore[no-untyped-call]
        async with client.pipeline(transaction=False) as pipe:
            for sharded, channel, data, _ in batch:
                pipe.execute_command("SPUBLISH" if sharded else "PUBLISH", channel, data)
            return list(await pipe.execute())

    # ---------------------------------------------------------------- reading
    async def _read_loop(self) -> None:
        assert self._first_attempt is not None
        delay = self.reconnect_delay[0]
        while not self.closed:
            try:
                pubsub = await self._connect()
                delay = self.reconnect_delay[0]
                await self._read(pubsub)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, ConnectionError, TimeoutError) as exc:
                if self.closed:
                    return
                self._first_attempt.set()
                self.resync.hold("the subscriber connection is lost")
                if self._down_since is None:
                    self._down_since = asyncio.get_running_loop().time()
                    # deaf from the last sign of life (a loaded process notices late)
                    self._deaf_since = self._heard_at or time.time()
                    log.warning(
                        "Redis subscriber connection lost (%s: %s); local delivery goes on, "
                        "reconnecting",
                        type(exc).__name__,
                        exc,
                    )
                else:
                    log.debug("Redis still unreachable: %s", exc)
            finally:
                self._live = self.connected = False
                await self._drop_pubsub()
            if self.closed:
                return
            delay = await self._backoff(delay)

    async def _connect(self) -> PubSub:
        assert self._sub_pool is not None and self._first_attempt is not None
        pubsub = PubSub(self._sub_pool, ignore_subscribe_messages=False)
        self._pubsub = pubsub
        await asyncio.wait_for(
            pubsub.connect(),  # type: ignore[no-untyped-call]
            self.connect_timeout,
        )
        # from here on, new subscriptions are sent at once; these are the ones made before
        self._live = True
        for kind, table in self._tables.items():
            if table:
                await _subscribe(pubsub, kind, list(table))
        if self._down_since is not None:
            self.reconnects += 1
            log.info(
                "Redis subscriber connection back after %.1f s; subscriptions renewed",
                asyncio.get_running_loop().time() - self._down_since,
            )
            self._down_since = None
            self.resync.report("deaf", 0, self._deaf_since, "the subscriber connection was lost")
        self.connected = True
        self._heard_at = time.time()
        self._first_attempt.set()
        return pubsub

    async def _read(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        interval = self.health_check_interval
        ping_sent: float | None = None
        tables = self._tables
        while not self.closed:
            message = await pubsub.get_message(timeout=interval)
            if message is None:
                now = loop.time()
                if ping_sent is None:
                    ping_sent = now
                    await pubsub.ping()
                elif now - ping_sent >= interval:
                    raise RedisConnectionError(f"no answer to PING within {interval:g} s")
                continue
            self._heard_at = time.time()
            ping_sent = None
            kind = message["type"]
            if kind == "message":
                handler = tables["channel"].get(message["channel"])
            elif kind == "pmessage":
                handler = tables["pattern"].get(message["pattern"])
            elif kind == "smessage":
                handler = tables["shard"].get(message["channel"])
            else:
                self._confirm(kind, message["channel"])
                continue
            if handler is None:
                continue
            try:
                handler(message["channel"], message["data"])
            except Exception:
                log.exception("error while handling a message of channel %r", message["channel"])

    def _confirm(self, kind: Any, channel: Any) -> None:
        if not isinstance(channel, bytes):
            return
        futures = self._confirmations.pop((str(kind), channel), None)
        for future in futures or ():
            if not future.done():
                future.set_result(None)

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is None:
            return
        try:
            close = getattr(pubsub, "aclose", None) or pubsub.reset
            await close()
        except Exception as exc:  # closing a broken connection may fail in many ways
            log.debug("error while closing the subscriber connection: %s", exc)


_SUBSCRIBE_REPLY: dict[Kind, str] = {
    "channel": "subscribe",
    "pattern": "psubscribe",
    "shard": "ssubscribe",
}


async def _subscribe(pubsub: PubSub, kind: Kind, keys: list[bytes]) -> None:
    if kind == "channel":
        await pubsub.subscribe(*keys)
    elif kind == "pattern":
        await pubsub.psubscribe(*keys)
    elif hasattr(pubsub, "ssubscribe"):
        await pubsub.ssubscribe(*keys)
    else:  # redis-py without sharded Pub/Sub helpers
        await pubsub.execute_command("SSUBSCRIBE", *keys)


def _make_client(source: RedisSource) -> tuple[Redis, bool]:
    if isinstance(source, str):
        return Redis.from_url(source), True
    if isinstance(source, Redis):
        return source, False
    client = source()
    if not isinstance(client, Redis):
        raise TypeError(
            f"the Redis factory returned {type(client).__name__}, not a redis.asyncio.Redis"
        )
    return client, True


def _subscriber_pool(client: Redis, name: str) -> ConnectionPool:
    """A pool for the subscriber connection: the client's settings, raw bytes, no retries
    (the link reconnects itself), no health checks (the link pings)."""
    pool = client.connection_pool
    kwargs = dict(pool.connection_kwargs)
    kwargs.update(
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        decode_responses=False,
        client_name=name,
    )
    kwargs.pop("retry_on_error", None)
    kwargs.pop("retry_on_timeout", None)
    return ConnectionPool(connection_class=pool.connection_class, max_connections=2, **kwargs)


def _numsub_count(reply: Any) -> int:
    # [channel, count] flat, or [(channel, count)] when redis-py parsed it
    if isinstance(reply, (list, tuple)) and reply:
        first = reply[0]
        if isinstance(first, (list, tuple)) and len(first) == 2:
            return int(first[1])
        if len(reply) >= 2:
            return int(reply[1])
    return 0


# ---------------------------------------------------------------------------------- factory
class RedisAdapterFactory:
    """The ``adapter`` option of a Server: makes the Redis adapter of each namespace, one
    :class:`RedisLink` per server (several servers may share one factory)."""

    def __init__(
        self,
        redis: RedisSource = "redis://127.0.0.1:6379",
        *,
        key: str = "socket.io",
        request_timeout: float = 5.0,
        sharded: bool = False,
        subscription_mode: SubscriptionMode = "dynamic",
        publish_on_specific_response_channel: bool = False,
        health_check_interval: float = 15.0,
        max_queue: int = 10_000,
        reconnect_delay: tuple[float, float] = (0.05, 5.0),
        resync_timeout: float = 10.0,
        on_report: ReportHook | None = None,
    ) -> None:
        if subscription_mode not in ("static", "dynamic", "dynamic-private"):
            raise ValueError(f"unknown subscription mode {subscription_mode!r}")
        self.redis = redis
        self.key = key
        self.request_timeout = request_timeout
        self.sharded = sharded
        self.subscription_mode: SubscriptionMode = subscription_mode
        self.publish_on_specific_response_channel = publish_on_specific_response_channel
        self._link_options: dict[str, Any] = {
            "health_check_interval": health_check_interval,
            "max_queue": max_queue,
            "reconnect_delay": reconnect_delay,
            "resync_timeout": resync_timeout,
            "on_report": on_report,
        }
        self._links = Links(lambda: RedisLink(self.redis, **self._link_options))

    def link(self, server: object) -> RedisLink:
        """The link of a server (made when first needed)."""
        return self._links.of(server)

    def __call__(self, nsp: Host) -> Adapter:
        link = self.link(nsp.server)
        if self.sharded:
            return ShardedRedisAdapter(
                nsp,
                link,
                key=self.key,
                request_timeout=self.request_timeout,
                subscription_mode=self.subscription_mode,
            )
        return RedisAdapter(
            nsp,
            link,
            key=self.key,
            request_timeout=self.request_timeout,
            publish_on_specific_response_channel=self.publish_on_specific_response_channel,
        )


# ---------------------------------------------------------------------------------- classic mode
class RedisAdapter(LinkUser[RedisLink], MemoryAdapter):
    """@socket.io/redis-adapter 8.3, classic mode.

    Broadcasts go to ``<key>#<nsp>#`` (``<key>#<nsp>#<room>#`` for exactly one room) as
    MessagePack ``[uid, packet, {rooms, except, flags}]``; requests to
    ``<key>-request#<nsp>#`` and responses to ``<key>-response#<nsp>#`` (JSON, or MessagePack
    when they hold binary data). The server count is the number of subscribers of the request
    channel.
    """

    def __init__(
        self,
        nsp: Host,
        link: RedisLink,
        *,
        key: str = "socket.io",
        request_timeout: float = 5.0,
        publish_on_specific_response_channel: bool = False,
    ) -> None:
        MemoryAdapter.__init__(self, nsp)
        self.link = link
        self.uid = secrets.token_hex(6)
        self.key = key
        self.request_timeout = request_timeout
        self.publish_on_specific_response_channel = publish_on_specific_response_channel
        name = nsp.name
        self.channel = f"{key}#{name}#"
        self.request_channel = f"{key}-request#{name}#"
        self.response_channel = f"{key}-response#{name}#"
        self.specific_response_channel = f"{self.response_channel}{self.uid}#"
        self._channel_bytes = self.channel.encode()
        self._requests = Requests()
        self._ack_requests: dict[str, AckRequest] = {}
        self._init_task = None
        self._closing = False

    @classmethod
    def factory(
        cls,
        redis: RedisSource = "redis://127.0.0.1:6379",
        *,
        key: str = "socket.io",
        request_timeout: float = 5.0,
        sharded: bool = False,
        **options: Any,
    ) -> RedisAdapterFactory:
        """The ``adapter`` option of a Server. ``redis``: a URL, a ``redis.asyncio.Redis``
        client (not closed by the adapter) or a function returning one (closed with the
        server). Other options: ``subscription_mode`` (sharded), ``health_check_interval``,
        ``max_queue``, ``reconnect_delay``, ``publish_on_specific_response_channel``,
        ``resync_timeout`` and ``on_report`` (see :mod:`aiosocketio.adapters.resync`)."""
        return RedisAdapterFactory(
            redis, key=key, request_timeout=request_timeout, sharded=sharded, **options
        )

    def __repr__(self) -> str:
        return f"<RedisAdapter nsp={self.nsp.name!r} uid={self.uid}>"

    # ---------------------------------------------------------------- lifecycle
    async def init(self) -> None:
        await self._init_once()

    async def close(self) -> None:
        self._requests.fail_all(ClusterError(f"the adapter of {self.nsp.name} is closed"))
        self._ack_requests.clear()
        await self._close_once()

    async def _attach(self) -> None:
        link = self.link
        await link.subscribe("pattern", [self.channel + "*"], self._on_broadcast_message)
        await link.subscribe(
            "channel",
            [self.request_channel, self.response_channel, self.specific_response_channel],
            self._on_channel_message,
        )
        await link.watch(self.nsp.name, self.request_channel)

    async def _detach(self) -> None:
        self.link.unwatch(self.nsp.name)
        await self.link.unsubscribe("pattern", [self.channel + "*"])
        await self.link.unsubscribe(
            "channel",
            [self.request_channel, self.response_channel, self.specific_response_channel],
        )

    def _check_open(self) -> None:
        if self._closing:
            raise ClusterError(f"the adapter of {self.nsp.name} is closed")

    # ---------------------------------------------------------------- receiving
    def _on_broadcast_message(self, channel: bytes, data: bytes) -> None:
        if not channel.startswith(self._channel_bytes):
            return
        room = channel[len(self._channel_bytes) : -1].decode(errors="replace")
        if room and room not in self.rooms:
            return
        try:
            message = msgpack_codec.decode(data)
        except ValueError:
            log.debug("ignoring a malformed broadcast on %r", channel)
            return
        if not isinstance(message, list) or len(message) < 2:
            return
        uid, raw_packet = message[0], message[1]
        if uid == self.uid or not isinstance(raw_packet, Mapping):
            return
        if raw_packet.get("nsp", "/") != self.nsp.name:
            return
        packet = decode_packet(raw_packet, self.nsp.name)
        if packet is None:
            return
        opts = decode_options(message[2] if len(message) > 2 else None)
        MemoryAdapter.broadcast(self, packet, opts)

    def _on_channel_message(self, channel: bytes, data: bytes) -> None:
        text = channel.decode(errors="replace")
        if text.startswith(self.response_channel):
            self._on_response(data)
        elif text == self.request_channel:
            self._on_request(data)

    def _on_request(self, data: bytes) -> None:
        try:
            request = loads(data)
        except ValueError:
            log.debug("ignoring a malformed request on %s", self.request_channel)
            return
        if not isinstance(request, Mapping):
            return
        kind = request.get("type")
        request_id = request.get("requestId")
        own = request.get("uid") == self.uid
        if kind == RequestType.SOCKETS:
            if own or request_id in self._requests:
                return
            rooms = frozenset(_str_list(request.get("rooms")))
            here = self.nsp.sockets
            sids = [sid for sid in self.local_sids(BroadcastOptions(rooms=rooms)) if sid in here]
            self._respond(request, {"requestId": request_id, "sockets": sids})
        elif kind == RequestType.ALL_ROOMS:
            if own or request_id in self._requests:
                return
            self._respond(request, {"requestId": request_id, "rooms": list(self.rooms)})
        elif kind in (
            RequestType.REMOTE_JOIN,
            RequestType.REMOTE_LEAVE,
            RequestType.REMOTE_DISCONNECT,
        ):
            self._on_remote_operation(request, kind, own)
        elif kind == RequestType.REMOTE_FETCH:
            if own or request_id in self._requests:
                return
            sockets = self.local_details(decode_options(request.get("opts")))
            response = {"requestId": request_id, "sockets": sockets}
            self._publish_response(request, dumps_sockets_response(response))
        elif kind == RequestType.SERVER_SIDE_EMIT:
            self._on_server_side_emit(request, own)
        elif kind == RequestType.BROADCAST:
            self._on_broadcast_request(request, own)

    def _on_remote_operation(self, request: Mapping[str, Any], kind: int, own: bool) -> None:
        opts_raw = request.get("opts")
        if opts_raw is not None:
            if own:
                return  # done here already, when it was asked for
            opts = decode_options(opts_raw)
            if kind == RequestType.REMOTE_JOIN:
                Adapter.add_sockets(self, opts, _str_list(request.get("rooms")))
            elif kind == RequestType.REMOTE_LEAVE:
                Adapter.del_sockets(self, opts, _str_list(request.get("rooms")))
            else:
                Adapter.disconnect_sockets(self, opts, bool(request.get("close")))
            return
        # the older form: one socket by id, answered
        sid = str(request.get("sid"))
        if kind == RequestType.REMOTE_JOIN:
            found = self.nsp.join_socket(sid, str(request.get("room")))
        elif kind == RequestType.REMOTE_LEAVE:
            found = self.nsp.leave_socket(sid, str(request.get("room")))
        else:
            found = self.nsp.disconnect_socket(sid, bool(request.get("close")))
        if not found:
            return
        self._respond(request, {"requestId": request.get("requestId")})

    def _on_server_side_emit(self, request: Mapping[str, Any], own: bool) -> None:
        if own:
            return
        args = request.get("data")
        if not isinstance(args, list):
            return
        request_id = request.get("requestId")
        if request_id is None:
            self.nsp.receive_server_side_emit(args, None)
            return

        def publish(value: Any) -> None:
            response: dict[str, Any] = {
                "type": RequestType.SERVER_SIDE_EMIT,
                "requestId": request_id,
            }
            if value is not None:
                response["data"] = value
            self._publish(self.response_channel, _dumps_or_log(response))

        self.nsp.receive_server_side_emit(args, single_ack(publish))

    def _on_broadcast_request(self, request: Mapping[str, Any], own: bool) -> None:
        request_id = request.get("requestId")
        if own or request_id in self._ack_requests:
            return
        packet = decode_packet(request.get("packet"), self.nsp.name)
        if packet is None:
            return
        opts = decode_options(request.get("opts"))

        def client_count(count: int) -> None:
            self._respond(
                request,
                {
                    "type": RequestType.BROADCAST_CLIENT_COUNT,
                    "requestId": request_id,
                    "clientCount": count,
                },
            )

        def ack(value: Any) -> None:
            response = {"type": RequestType.BROADCAST_ACK, "requestId": request_id, "packet": value}
            try:
                encoded = msgpack_codec.encode(response)
            except TypeError:
                log.exception("cannot send an acknowledgement to another server")
                return
            self._publish_response(request, encoded)

        MemoryAdapter.broadcast_with_ack(self, packet, opts, client_count, ack)

    def _respond(self, request: Mapping[str, Any], response: dict[str, Any]) -> None:
        self._publish_response(request, _dumps_or_log(response))

    def _publish_response(self, request: Mapping[str, Any], data: bytes | str | None) -> None:
        if data is None:
            return
        channel = self.response_channel
        if self.publish_on_specific_response_channel:
            channel = f"{channel}{request.get('uid')}#"
        self._publish(channel, data)

    def _publish(self, channel: str, data: bytes | str | None, watch: str | None = None) -> None:
        if data is not None:
            self.link.publish(channel, data, watch=watch)

    def _on_response(self, data: bytes) -> None:
        try:
            response = loads(data)
        except ValueError:
            log.debug("ignoring a malformed response on %s", self.response_channel)
            return
        if not isinstance(response, Mapping):
            return
        request_id = response.get("requestId")
        if not isinstance(request_id, str):
            return
        ack_request = self._ack_requests.get(request_id)
        if ack_request is not None:
            kind = response.get("type")
            if kind == RequestType.BROADCAST_CLIENT_COUNT:
                count = response.get("clientCount")
                if isinstance(count, (int, float)) and not isinstance(count, bool):
                    ack_request.client_count(int(count))
            elif kind == RequestType.BROADCAST_ACK:
                ack_request.ack(response.get("packet"))
            return
        request = self._requests.get(request_id)
        if request is None:
            return
        if request.kind == RequestType.REMOTE_FETCH:
            sockets = response.get("sockets")
            if isinstance(sockets, list):
                request.responses.extend(
                    RemoteSocket(self, s) for s in sockets if isinstance(s, Mapping)
                )
        elif request.kind == RequestType.ALL_ROOMS:
            rooms = response.get("rooms")
            if isinstance(rooms, list):
                request.responses.extend(_str_list(rooms))
        elif request.kind == RequestType.SERVER_SIDE_EMIT:
            request.responses.append(response.get("data"))
        self._requests.answered(request_id)

    # ---------------------------------------------------------------- broadcasting
    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        if not opts.flags.local:
            channel = self.channel
            if len(opts.rooms) == 1:
                channel += next(iter(opts.rooms)) + "#"
            try:
                message = msgpack_codec.encode([self.uid, encode_packet(packet), _options(opts)])
            except TypeError:
                log.exception("cannot publish a broadcast of %s", self.nsp.name)
            else:
                self.link.publish(channel, message, watch=self.nsp.name)
        MemoryAdapter.broadcast(self, packet, opts)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count: Callable[[int], None],
        ack: Callable[[Any], None],
    ) -> None:
        if not opts.flags.local:
            request_id = new_request_id()
            request = {
                "uid": self.uid,
                "requestId": request_id,
                "type": RequestType.BROADCAST,
                "packet": encode_packet(packet),
                "opts": _options(opts),
            }
            try:
                message = msgpack_codec.encode(request)
            except TypeError:
                log.exception("cannot publish a broadcast of %s", self.nsp.name)
            else:
                self._ack_requests[request_id] = AckRequest(client_count, ack)
                self.link.publish(self.request_channel, message, watch=self.nsp.name)
                timeout = opts.flags.timeout if opts.flags.timeout is not None else 0.0
                asyncio.get_running_loop().call_later(
                    timeout, self._ack_requests.pop, request_id, None
                )
        MemoryAdapter.broadcast_with_ack(self, packet, opts, client_count, ack)

    async def server_count(self) -> int:
        return self.link.servers(self.nsp.name, await self.link.numsub(self.request_channel))

    # ---------------------------------------------------------------- cluster-wide operations
    def add_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        if not opts.flags.local:
            self._request(
                {
                    "uid": self.uid,
                    "type": RequestType.REMOTE_JOIN,
                    "opts": encode_options(opts, flags=False),
                    "rooms": list(rooms),
                }
            )
        Adapter.add_sockets(self, opts, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        if not opts.flags.local:
            self._request(
                {
                    "uid": self.uid,
                    "type": RequestType.REMOTE_LEAVE,
                    "opts": encode_options(opts, flags=False),
                    "rooms": list(rooms),
                }
            )
        Adapter.del_sockets(self, opts, rooms)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        if not opts.flags.local:
            self._request(
                {
                    "uid": self.uid,
                    "type": RequestType.REMOTE_DISCONNECT,
                    "opts": encode_options(opts, flags=False),
                    "close": close,
                }
            )
        Adapter.disconnect_sockets(self, opts, close)

    def _request(self, request: dict[str, Any]) -> None:
        self._publish(self.request_channel, _dumps_or_log(request), self.nsp.name)

    async def _ask(
        self,
        kind: int,
        request: dict[str, Any],
        expected: int,
        responses: list[Any],
        timeout: float,
        what: str,
    ) -> list[Any]:
        self._check_open()
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        request_id = new_request_id()
        request.update(uid=self.uid, requestId=request_id, type=kind)
        self._requests.add(
            request_id,
            PendingRequest(kind, expected, responses, future_done(future)),
            timeout,
            what,
        )
        self._request(request)
        return await future

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[Any]:
        local: list[Any] = self.local_sockets(opts)
        if opts.flags.local:
            return local
        servers = await self.server_count()
        if servers <= 1:
            return local
        return await self._ask(
            RequestType.REMOTE_FETCH,
            {"opts": encode_options(opts, flags=False)},
            servers - 1,
            local,
            opts.flags.timeout or self.request_timeout,
            "fetch_sockets",
        )

    async def all_rooms(self) -> set[str]:
        """The rooms of every server of the cluster."""
        local = set(self.rooms)
        servers = await self.server_count()
        if servers <= 1:
            return local
        rooms = await self._ask(
            RequestType.ALL_ROOMS, {}, servers - 1, list(local), self.request_timeout, "all_rooms"
        )
        return set(rooms)

    def server_side_emit(
        self, args: list[Any], ack: Callable[[BaseException | None, list[Any]], None] | None
    ) -> None:
        if ack is None:
            self._request({"uid": self.uid, "type": RequestType.SERVER_SIDE_EMIT, "data": args})
            return
        spawn(self._server_side_emit_with_ack(args, ack), "server_side_emit")

    async def _server_side_emit_with_ack(
        self, args: list[Any], ack: Callable[[BaseException | None, list[Any]], None]
    ) -> None:
        try:
            expected = await self.server_count() - 1
            if expected <= 0:
                responses: list[Any] = []
            else:
                responses = await self._ask(
                    RequestType.SERVER_SIDE_EMIT,
                    {"data": args},
                    expected,
                    [],
                    self.request_timeout,
                    "server_side_emit",
                )
        except ClusterError as exc:
            ack(exc, getattr(exc, "responses", []))
            return
        ack(None, responses)


def _options(opts: BroadcastOptions) -> dict[str, Any]:
    return encode_options(opts)


def _str_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v if isinstance(v, str) else str(v) for v in value if v is not None]


def _dumps_or_log(message: Mapping[str, Any]) -> bytes | str | None:
    try:
        return dumps(message)
    except TypeError:
        log.exception("cannot encode a message for the other servers")
        return None


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
        request_timeout: float = 5.0,
        subscription_mode: SubscriptionMode = "dynamic",
    ) -> None:
        ClusterAdapter.__init__(self, nsp, request_timeout=request_timeout)
        self.link = link
        self.key = key
        self.subscription_mode = subscription_mode
        self.channel = f"{key}#{nsp.name}#"
        self.response_channel = f"{self.channel}{self.uid}#"
        self._response_bytes = self.response_channel.encode()
        self._init_task = None
        self._closing = False

    @classmethod
    def factory(
        cls, redis: RedisSource = "redis://127.0.0.1:6379", **options: Any
    ) -> RedisAdapterFactory:
        """As :meth:`RedisAdapter.factory` with ``sharded=True``."""
        return RedisAdapterFactory(redis, sharded=True, **options)

    def __repr__(self) -> str:
        return f"<ShardedRedisAdapter nsp={self.nsp.name!r} uid={self.uid}>"

    async def init(self) -> None:
        await self._init_once()

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
        data = _dumps_or_log(message)
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
        data = _dumps_or_log(response)
        if data is not None:
            self.link.publish(f"{self.channel}{requester_uid}#", data, sharded=True)

    async def server_count(self) -> int:
        count = await self.link.numsub(self.channel, sharded=True)
        return self.link.servers(self.nsp.name, count)


def _looks_like_a_socket_id(room: Any) -> bool:
    return isinstance(room, str) and len(room) == 20
