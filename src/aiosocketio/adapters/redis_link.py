"""The connection to Redis that every Redis adapter of a server shares (:class:`RedisLink`),
and the factory that gives each server its link (:class:`RedisAdapterFactory`).

The link subscribes and publishes for all the namespaces of one server, queues what cannot be
published while Redis is away, reconnects with a backoff, subscribes again and holds the queue
until the other servers are back (:mod:`.resync`). The two wire protocols that run over it
are in :mod:`.redis_classic` and :mod:`.redis_sharded`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Literal, TypeVar, Unpack

from .._extras import needs_extra
from ..runtime import spawn
from .base import Adapter, ClusterError
from .cluster import dumps
from .link import BrokerLink, LinkOptions, Links, Loop
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
    "CONNECTION_ERRORS",
    "RedisAdapterFactory",
    "RedisBrokerLink",
    "RedisLink",
    "RedisSource",
    "SubscriptionMode",
    "dedicated_pool",
    "dumps_or_log",
]

log = logging.getLogger("aiosocketio.adapters.redis")

RedisSource = str | Redis | Callable[[], Redis]
"""A Redis URL, a ``redis.asyncio.Redis`` client, or a function that makes one."""

SubscriptionMode = Literal["static", "dynamic", "dynamic-private"]
Handler = Callable[[bytes, bytes], None]
Kind = Literal["channel", "pattern", "shard"]
_Item = tuple[bool, str, bytes | str, str | None]  # sharded, channel, data, watched key
Item = TypeVar("Item")

# errors after which the connection is gone and is to be made again (every Redis link)
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)

# a batch not sent: queued again
_PUT_BACK: tuple[type[BaseException], ...] = (asyncio.CancelledError, *CONNECTION_ERRORS)


# ---------------------------------------------------------------------------------- the link
class RedisBrokerLink(BrokerLink[Item]):
    """What the links to Redis (:class:`RedisLink`, the Streams link) share: the errors after
    which a connection is made again (or sending tried again)."""

    broker = "Redis"
    _read_errors = (RedisError, OSError, ConnectionError, TimeoutError)
    _write_errors = CONNECTION_ERRORS


class RedisLink(RedisBrokerLink[_Item]):
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

    writer_name = "redis publisher"
    reading_connection = "Redis subscriber connection"
    _unsent = "messages not published"
    _log = log

    def __init__(
        self,
        source: RedisSource,
        *,
        health_check_interval: float = 15.0,
        resync_timeout: float = 10.0,
        on_report: ReportHook | None = None,
        **options: Unpack[LinkOptions],
    ) -> None:
        super().__init__(**options)
        self._source = source
        self.health_check_interval = health_check_interval
        self.client: Redis | None = None
        self._owns_client = False
        self._sub_pool: ConnectionPool | None = None
        self._pubsub: PubSub | None = None
        self._tables: dict[Kind, dict[bytes, Handler]] = {"pattern": {}, "channel": {}, "shard": {}}
        self._confirmations: dict[tuple[str, bytes], list[asyncio.Future[None]]] = {}
        self._live = False  # the subscriber connection is up (subscriptions go out at once)
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
            self._sub_pool = dedicated_pool(self.client, self.subscriber_name, connections=2)
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
        except CONNECTION_ERRORS as exc:
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
        except CONNECTION_ERRORS as exc:
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

    async def _next_queue(self) -> deque[_Item] | None:
        if self.resync.held and not self._stopping and not await self._resynced():
            await asyncio.sleep(0.05)
            return None
        return self._queue

    async def _write(self, queue: deque[_Item]) -> tuple[list[_Item], list[Any]] | None:
        batch = [queue.popleft() for _ in range(min(len(queue), 512))]
        try:
            return batch, await self._send(batch)
        except _PUT_BACK:
            queue.extendleft(reversed(batch))
            raise
        except RedisError as exc:
            log.error("Redis refused %d published messages: %s", len(batch), exc)
            return None

    def _write_failed(self, exc: BaseException, queue: deque[_Item], first: bool) -> None:
        while len(queue) > self.max_queue:
            self._drop_oldest()
        self.resync.hold("cannot publish")
        if first:
            log.warning("cannot publish to Redis (%s); %d messages wait, retrying", exc, len(queue))

    def _writing_again(self, failed_for: float, waited: int) -> None:
        log.info("publishing to Redis again after %.1f s", failed_for)

    def _written(self, batch: list[_Item], replies: list[Any]) -> None:
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
    async def _connect_reader(self) -> None:
        assert self._sub_pool is not None
        pubsub = Subscriber(self._sub_pool, ignore_subscribe_messages=False)
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

    def _reader_back(self, down_for: float) -> None:
        log.info("Redis subscriber connection back after %.1f s; subscriptions renewed", down_for)
        self.resync.report("deaf", 0, self._deaf_since, "the subscriber connection was lost")

    def _reader_lost(self) -> None:
        self.resync.hold("the subscriber connection is lost")

    async def _drop_reader(self) -> None:
        self._live = self.connected = False
        await self._drop_pubsub()

    async def _read(self) -> None:
        pubsub = self._pubsub
        assert pubsub is not None
        self.connected = True
        self._heard_at = time.time()
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


def dedicated_pool(
    client: Redis, name: str, *, connections: int, **settings: Any
) -> ConnectionPool:
    """A pool for a connection the link manages itself (a subscriber, a stream reader): the
    client's settings, raw bytes, no retries (the link reconnects itself), no health checks
    (the link pings), and ``settings`` on top."""
    pool = client.connection_pool
    kwargs = dict(pool.connection_kwargs)
    kwargs.update(
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        decode_responses=False,
        client_name=name,
        **settings,
    )
    kwargs.pop("retry_on_error", None)
    kwargs.pop("retry_on_timeout", None)
    return ConnectionPool(
        connection_class=pool.connection_class, max_connections=connections, **kwargs
    )


class Subscriber(PubSub):
    """redis-py's PubSub, except that a lost connection stays lost until the link connects
    again. redis-py 8 reconnects and subscribes again before it raises the error, even with no
    retries, so a server would be subscribed while its link counts itself unsubscribed (and
    held): others' messages would count it as a receiver, and it would not read them."""

    async def _reconnect(self, conn: Any, *args: Any, **kwargs: Any) -> None:
        await conn.disconnect()


def _numsub_count(reply: Any) -> int:
    # [channel, count] flat, or [(channel, count)] when redis-py parsed it
    if isinstance(reply, (list, tuple)) and reply:
        first = reply[0]
        if isinstance(first, (list, tuple)) and len(first) == 2:
            return int(first[1])
        if len(reply) >= 2:
            return int(reply[1])
    return 0


def dumps_or_log(message: Mapping[str, Any]) -> bytes | str | None:
    """A message for the other servers (:func:`.cluster.dumps`), or None (logged) when it
    cannot be encoded."""
    try:
        return dumps(message)
    except TypeError:
        log.exception("cannot encode a message for the other servers")
        return None


# ---------------------------------------------------------------------------------- factory
class RedisAdapterFactory(Links[RedisLink]):
    """The ``adapter`` option of a Server: makes the Redis adapter of each namespace, one
    :class:`RedisLink` per server (several servers may share one factory).

    The adapter of each mode registers itself in :attr:`modes` (``redis_classic``,
    ``redis_sharded``; :mod:`aiosocketio.adapters.redis` imports both). The other options
    (``health_check_interval``, ``max_queue``, ``reconnect_delay``, ``resync_timeout``,
    ``on_report``...) are those of :class:`RedisLink`."""

    modes: ClassVar[dict[bool, Callable[..., Adapter]]] = {}
    """The adapter of each mode (sharded or not): ``(nsp, link, key=..., request_timeout=...)``
    and the option of the mode (``subscription_mode`` or
    ``publish_on_specific_response_channel``)."""

    def __init__(
        self,
        redis: RedisSource = "redis://127.0.0.1:6379",
        *,
        key: str = "socket.io",
        request_timeout: float = 5.0,
        sharded: bool = False,
        subscription_mode: SubscriptionMode = "dynamic",
        publish_on_specific_response_channel: bool = False,
        **link_options: Any,
    ) -> None:
        if subscription_mode not in ("static", "dynamic", "dynamic-private"):
            raise ValueError(f"unknown subscription mode {subscription_mode!r}")
        self.redis = redis
        self.key = key
        self.request_timeout = request_timeout
        self.sharded = sharded
        self.subscription_mode: SubscriptionMode = subscription_mode
        self.publish_on_specific_response_channel = publish_on_specific_response_channel
        RedisLink(redis, **link_options)  # unknown options fail here, not later
        self._link_options = link_options
        super().__init__(lambda: RedisLink(self.redis, **self._link_options))

    def __call__(self, nsp: Host) -> Adapter:
        option: dict[str, Any]
        if self.sharded:
            option = {"subscription_mode": self.subscription_mode}
        else:
            specific = self.publish_on_specific_response_channel
            option = {"publish_on_specific_response_channel": specific}
        adapter = self.modes[self.sharded]
        link = self.link(nsp.server)
        return adapter(nsp, link, key=self.key, request_timeout=self.request_timeout, **option)
