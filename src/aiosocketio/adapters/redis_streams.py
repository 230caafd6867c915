"""The Redis Streams adapter, wire-compatible with @socket.io/redis-streams-adapter 0.3.

What goes where (as the Node adapter does it):

* broadcasts without acknowledgements, ``sockets_join``, ``sockets_leave`` and
  ``disconnect_sockets`` are appended to the stream (``XADD <stream> MAXLEN ~ 10000 *``) with the
  fields ``uid``, ``nsp``, ``type`` (the ClusterAdapter message type, as text) and ``data``
  (JSON text, or base64 MessagePack when a broadcast or a response holds binary data); every
  server reads the stream with ``XREAD BLOCK``;
* the requests that wait for answers (broadcasts with acknowledgements, ``server_side_emit``,
  ``fetch_sockets``) are published whole as MessagePack on ``<prefix>#<nsp>#`` and the answers
  on ``<prefix>#<nsp>#<requester uid>#`` (Pub/Sub, or sharded Pub/Sub);
* the server count is the number of subscribers of ``<prefix>#<nsp>#``.

Connection state recovery works across servers: the stream entry id of a broadcast is the
offset appended to its arguments, a disconnected socket's session is kept in Redis as
``sio:session:<pid>`` (base64 MessagePack of ``{sid, pid, rooms, data}``, expiring after
``max_disconnection_duration``), and a server that restores it replays the missed broadcasts
from the stream (``XRANGE`` after the offset). Node and Python servers restore each other's
sessions.

Use it through a factory, which gives each server one connection that reads the stream, one
that subscribes, and one client that writes::

    io = Server(
        adapter=RedisStreamsAdapter.factory("redis://127.0.0.1:6379"),
        connection_state_recovery=True,
    )

When Redis goes away the server keeps serving its own clients: broadcasts reach the local
sockets at once (without an offset), what is to be written waits in a bounded queue, and the
reader reconnects with a backoff and goes on from the last entry it saw.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Unpack

from .. import _json
from .._extras import needs_extra
from ..socketio.packets import EVENT, Packet, has_binary
from . import msgpack_codec
from .base import BroadcastOptions, ClusterError, PersistedSession
from .cluster import (
    ClusterAdapter,
    MessageType,
    decode_options,
    decode_packet,
    encode_options,
    encode_packet,
)
from .link import LinkOptions, Links, LinkUser, Loop
from .redis_link import (
    CONNECTION_ERRORS,
    RedisBrokerLink,
    RedisLink,
    RedisSource,
    dedicated_pool,
)
from .seam import Host

with needs_extra("the Redis Streams adapter", ("redis",), "redis"):
    from redis.asyncio import ConnectionPool, Redis
    from redis.exceptions import RedisError

log = logging.getLogger("aiosocketio.adapters.redis_streams")

__all__ = [
    "RedisStreamsAdapter",
    "RedisStreamsAdapterFactory",
    "StreamsLink",
    "decode_entry",
    "encode_entry",
    "stream_for_namespace",
]

Callback = Callable[[Any], None]

_WRITE_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, RedisError)

# the message types whose data may hold binary (the others are always JSON)
_MAY_HOLD_BINARY = frozenset(
    (
        MessageType.BROADCAST,
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        MessageType.BROADCAST_ACK,
    )
)

_OFFSET = re.compile(r"[0-9]+-[0-9]+")

_RESTORE_BATCH = 1000
_RESTORE_MAX_BATCHES = 100
_MAX_COMMANDS = 32
"""Commands run by :meth:`StreamsLink.command` at once at most; the others wait their turn.
A reconnection storm (every client of a restarted server restoring its session) would
otherwise need more connections than the client's pool has (redis-py: 100), and the
restores beyond would fail with "Too many connections"."""


# ---------------------------------------------------------------------------------- wire forms
def is_ephemeral(message: Mapping[str, Any]) -> bool:
    """Whether a message goes through Pub/Sub rather than the stream: the requests that wait
    for answers, which are of no use to a server that reads them later."""
    kind = message.get("type")
    if kind == MessageType.BROADCAST:
        data = message.get("data")
        return isinstance(data, Mapping) and data.get("requestId") is not None
    return kind in (MessageType.SERVER_SIDE_EMIT, MessageType.FETCH_SOCKETS)


def encode_entry(message: Mapping[str, Any]) -> dict[str, str]:
    """The fields of the stream entry of a message: ``uid``, ``nsp``, ``type`` as text, and
    ``data`` as JSON text (base64 MessagePack when it holds binary). Raises TypeError when the
    data cannot be encoded."""
    kind = int(message["type"])
    fields = {"uid": str(message["uid"]), "nsp": str(message["nsp"]), "type": str(kind)}
    data = message.get("data")
    if data:
        if kind in _MAY_HOLD_BINARY and has_binary(data):
            fields["data"] = base64.b64encode(msgpack_codec.encode(data)).decode("ascii")
        else:
            fields["data"] = _json.dumps(data)
    return fields


def decode_entry(fields: Mapping[Any, Any]) -> dict[str, Any]:
    """A message from the fields of a stream entry (bytes or text). Raises ValueError when
    they are malformed."""
    text = {_text(k): _text(v) for k, v in fields.items()}
    try:
        kind = int(text.get("type", ""))
    except ValueError as exc:
        raise ValueError(f"bad message type {text.get('type')!r}") from exc
    message: dict[str, Any] = {"uid": text.get("uid"), "nsp": text.get("nsp"), "type": kind}
    data = text.get("data")
    if data:
        if data.startswith("{"):
            message["data"] = _json.loads(data)
        else:
            try:
                raw = base64.b64decode(data, validate=True)
            except binascii.Error as exc:
                raise ValueError("data is neither JSON nor base64") from exc
            message["data"] = msgpack_codec.decode(raw)
    return message


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _js_hash(text: str) -> int:
    """``hashCode`` of the Node adapter: a 32-bit signed hash over the UTF-16 code units."""
    units = text.encode("utf-16-le")
    value = 0
    for i in range(0, len(units), 2):
        value = (value * 31 + int.from_bytes(units[i : i + 2], "little")) & 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def stream_for_namespace(nsp: str, stream_name: str, stream_count: int) -> str:
    """The stream of a namespace: ``stream_name``, or ``<stream_name>-<i>`` with several
    streams (``i`` as JavaScript computes ``hashCode(nsp) % count``, negative included)."""
    if stream_count <= 1:
        return stream_name
    value = _js_hash(nsp)
    index = abs(value) % stream_count
    if value < 0:
        index = -index
    return f"{stream_name}-{index}"


def encode_session(session: PersistedSession) -> str:
    """A session as the Node adapter stores it: base64 MessagePack of
    ``{sid, pid, rooms, data}``."""
    data = session.data if session.data is not None else {}
    value = {"sid": session.sid, "pid": session.pid, "rooms": list(session.rooms), "data": data}
    try:
        raw = msgpack_codec.encode(value)
    except TypeError:
        log.warning(
            "socket %s: its data cannot be kept for recovery (not MessagePack serialisable); "
            "kept as null",
            session.sid,
        )
        value["data"] = None
        raw = msgpack_codec.encode(value)
    return base64.b64encode(raw).decode("ascii")


def decode_session(text: str | bytes) -> PersistedSession | None:
    try:
        value = msgpack_codec.decode(base64.b64decode(text))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(value, Mapping):
        return None
    sid, pid, rooms = value.get("sid"), value.get("pid"), value.get("rooms")
    if not isinstance(sid, str) or not isinstance(pid, str):
        return None
    room_list = [r if isinstance(r, str) else str(r) for r in rooms or () if r is not None]
    return PersistedSession(sid, pid, room_list, value.get("data"))


def _should_include(rooms: set[str], opts: BroadcastOptions) -> bool:
    included = not opts.rooms or not rooms.isdisjoint(opts.rooms)
    return included and rooms.isdisjoint(opts.except_)


# ---------------------------------------------------------------------------------- the link
class _Op:
    __slots__ = ("args", "callback")

    def __init__(self, args: tuple[Any, ...], callback: Callback | None) -> None:
        self.args = args
        self.callback = callback


class StreamsLink(RedisBrokerLink[_Op]):
    """One server's connections to Redis, shared by the adapters of its namespaces.

    * a reader connection (``XREAD BLOCK`` on every stream, one task): on failure it reconnects
      with an exponential backoff and reads on from the last entry id it saw, so no entry
      still in the stream is lost;
    * a :class:`~aiosocketio.adapters.redis.RedisLink` for the Pub/Sub part (subscriptions,
      server count) and its client, with which one task writes, in order, what the adapters
      queue (``XADD``, ``PUBLISH``, ``SET``; pipelined when several wait). While Redis is
      unreachable the queue keeps at most ``max_queue`` commands (the oldest are dropped and
      counted in ``dropped``) and broadcasts are delivered locally at once.
    """

    writer_name = "redis stream writer"
    reading_connection = "Redis stream reader connection"
    _unsent = "commands not written to Redis"
    _log = log

    def __init__(
        self,
        source: RedisSource,
        *,
        stream_name: str = "socket.io",
        stream_count: int = 1,
        max_len: int = 10_000,
        read_count: int = 100,
        block_time: float = 5.0,
        command_timeout: float = 5.0,
        health_check_interval: float = 15.0,
        **options: Unpack[LinkOptions],
    ) -> None:
        super().__init__(**options)
        self.pubsub = RedisLink(source, health_check_interval=health_check_interval, **options)
        self.stream_name = stream_name
        self.stream_count = max(1, stream_count)
        self.streams = (
            [stream_name]
            if self.stream_count == 1
            else [f"{stream_name}-{i}" for i in range(self.stream_count)]
        )
        self.max_len = max_len
        self.read_count = read_count
        self.block_time = block_time
        self.command_timeout = command_timeout
        self.adapters: dict[str, RedisStreamsAdapter] = {}
        self.last_ids: dict[str, str] = {}
        """The id of the last entry read from each stream (where reading goes on)."""
        self._reader_pool: ConnectionPool | None = None
        self._reader: Redis | None = None
        self._queued = 0  # commands ever queued
        self._done = 0  # commands ever sent (or dropped)
        self._progress: asyncio.Event | None = None
        self.reading = False
        """Whether the reader connection is up."""
        self.writing = True
        """False while the writer cannot reach Redis."""
        self._command_slots = asyncio.Semaphore(_MAX_COMMANDS)

    @property
    def reader_name(self) -> str:
        """The CLIENT SETNAME of the reader connection (to find it in CLIENT LIST)."""
        return f"aiosocketio-xread-{self.id}"

    @property
    def connected(self) -> bool:
        return self.reading and self.writing and self.pubsub.connected

    # ---------------------------------------------------------------- lifecycle
    async def _open(self) -> None:
        await self.pubsub.acquire()
        client = self.pubsub.client
        assert client is not None
        # one connection for XREAD BLOCK, no socket timeout (reads block on purpose)
        self._reader_pool = dedicated_pool(
            client, self.reader_name, connections=1, socket_timeout=None
        )
        self._progress = asyncio.Event()

    def _loops(self) -> list[tuple[str, Loop]]:
        return [("redis stream reader", self._read_loop())]

    async def _close_connections(self) -> None:
        if self._reader_pool is not None:
            await self._reader_pool.disconnect()
        for op in self._queue:
            _call(op.callback, None)
        self._queue.clear()
        self.reading = False
        if self._starting is not None:
            await self.pubsub.release()

    # ---------------------------------------------------------------- writing
    def enqueue(self, args: tuple[Any, ...], callback: Callback | None = None) -> None:
        """Queue a command; ``callback`` gets its reply (None when it failed). While Redis is
        unreachable the callback is called at once with None and the command waits."""
        if callback is not None and (not self.writing or self.closed):
            _call(callback, None)
            callback = None
        if self.closed:
            return
        queue = self._queue
        queue.append(_Op(args, callback))
        self._queued += 1
        if len(queue) > self.max_queue:
            dropped = self._drop_oldest_of(queue, "write", "commands")
            self._done += 1
            _call(dropped.callback, None)
        if self._queue_ready is not None:
            self._queue_ready.set()

    async def flush(self, timeout: float = 1.0) -> bool:
        """Wait until what was queued before this call is written (at most ``timeout``)."""
        target = self._queued
        progress = self._progress
        if progress is None:
            return self._done >= target
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._done < target:
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closed or not self.writing:
                return False
            progress.clear()
            try:
                await asyncio.wait_for(progress.wait(), remaining)
            except TimeoutError:
                return False
        return True

    async def command(self, *args: Any) -> Any:
        """Run one command at once (at most ``_MAX_COMMANDS`` at a time, the others wait);
        ClusterError when Redis is unreachable."""
        client = self.pubsub.client
        if client is None or self.closed:
            raise ClusterError("not connected to Redis")
        try:
            async with self._command_slots:
                return await asyncio.wait_for(
                    client.execute_command(*args),  # type: ignore[no-untyped-call]
                    self.command_timeout,
                )
        except (RedisError, OSError, TimeoutError) as exc:
            raise ClusterError(f"Redis command {args[0]} failed: {exc}") from exc

    async def _write(self, queue: deque[_Op]) -> tuple[list[_Op], list[Any]] | None:
        assert self._progress is not None
        batch = [queue.popleft() for _ in range(min(len(queue), 512))]
        try:
            return batch, await asyncio.wait_for(self._send(batch), self.command_timeout)
        except asyncio.CancelledError:
            queue.extendleft(reversed(batch))
            raise
        except _WRITE_ERRORS as exc:
            if isinstance(exc, RedisError) and not isinstance(exc, CONNECTION_ERRORS):
                log.error("Redis refused %d commands: %s", len(batch), exc)
                self._finished(batch, [None] * len(batch))
                return None
            self.writing = False
            self._progress.set()  # a flush waits no more
            for op in batch:  # broadcasts waiting for their offset go out locally now
                callback, op.callback = op.callback, None
                _call(callback, None)
            queue.extendleft(reversed(batch))
            raise

    def _write_failed(self, exc: BaseException, queue: deque[_Op], first: bool) -> None:
        while len(queue) > self.max_queue:
            queue.popleft()
            self._done += 1
            self.dropped += 1
        if first:
            log.warning(
                "cannot write to Redis (%s: %s); local delivery goes on, %d commands wait, "
                "retrying",
                type(exc).__name__,
                exc,
                len(queue),
            )

    def _writing_again(self, failed_for: float, waited: int) -> None:
        log.info(
            "writing to Redis again after %.1f s (%d commands were waiting)", failed_for, waited
        )

    def _written(self, batch: list[_Op], replies: list[Any]) -> None:
        self.writing = True
        self._finished(batch, replies)

    def _finished(self, batch: list[_Op], results: list[Any]) -> None:
        for op, result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                log.error("Redis refused %s: %s", op.args[0], result)
                result = None
            _call(op.callback, result)
        self._done += len(batch)
        if self._progress is not None:
            self._progress.set()

    async def _send(self, batch: list[_Op]) -> list[Any]:
        client = self.pubsub.client
        assert client is not None
        if len(batch) == 1:
            try:
                result = await client.execute_command(*batch[0].args)  # type: ignore[no-untyped-call]
            except RedisError as exc:
                if isinstance(exc, CONNECTION_ERRORS):
                    raise
                return [exc]
            return [result]
        async with client.pipeline(transaction=False) as pipe:
            for op in batch:
                pipe.execute_command(*op.args)
            return list(await pipe.execute(raise_on_error=False))

    # ---------------------------------------------------------------- reading
    async def _connect_reader(self) -> None:
        assert self._reader_pool is not None
        client = self._reader = Redis(connection_pool=self._reader_pool)
        await asyncio.wait_for(client.ping(), self.connect_timeout)
        await self._resolve_start_ids(client)
        self.reading = True

    def _reader_back(self, down_for: float) -> None:
        ids = ", ".join(f"{s}@{i}" for s, i in self.last_ids.items())
        log.info("Redis stream reader back after %.1f s; reading on from %s", down_for, ids)

    async def _drop_reader(self) -> None:
        self.reading = False
        client, self._reader = self._reader, None
        if client is not None:
            await _quietly_close(client)
        assert self._reader_pool is not None
        await self._reader_pool.disconnect()

    async def _resolve_start_ids(self, client: Redis) -> None:
        """Start after the last entry of each stream (as ``$`` would, but with an id that
        stays valid across reconnections)."""
        for stream in self.streams:
            if stream in self.last_ids:
                continue
            reply = await asyncio.wait_for(
                client.execute_command("XREVRANGE", stream, "+", "-", "COUNT", 1),  # type: ignore[no-untyped-call]
                self.command_timeout,
            )
            entries = _entries(reply)
            self.last_ids[stream] = entries[0][0] if entries else "0-0"

    async def _read(self) -> None:
        client = self._reader
        assert client is not None
        block_ms = max(1, round(self.block_time * 1000))
        streams = self.streams
        while not self.closed:
            args = ["XREAD", "COUNT", self.read_count, "BLOCK", block_ms, "STREAMS", *streams]
            args.extend(self.last_ids[s] for s in streams)
            reply = await asyncio.wait_for(
                client.execute_command(*args),  # type: ignore[no-untyped-call]
                self.block_time + self.command_timeout,
            )
            for stream, entries in _streams(reply):
                for entry_id, fields in entries:
                    self.last_ids[stream] = entry_id
                    self._dispatch(entry_id, fields)

    def _dispatch(self, entry_id: str, fields: Mapping[Any, Any]) -> None:
        nsp = fields.get(b"nsp", fields.get("nsp"))
        if nsp is None:
            return
        adapter = self.adapters.get(_text(nsp))
        if adapter is None:
            return
        try:
            adapter.on_entry(entry_id, fields)
        except Exception:
            log.exception("error while handling the stream entry %s", entry_id)


def _streams(reply: Any) -> list[tuple[str, list[tuple[str, Mapping[Any, Any]]]]]:
    """The XREAD reply as ``[(stream, [(id, fields), ...]), ...]`` (RESP2 or RESP3)."""
    if not reply:
        return []
    items = reply.items() if isinstance(reply, Mapping) else reply
    out = []
    for item in items:
        stream, entries = item[0], item[1]
        if isinstance(entries, list) and len(entries) == 1 and isinstance(entries[0], list):
            entries = entries[0]  # RESP3 wraps the entries once more
        out.append((_text(stream), _entries(entries)))
    return out


def _entries(reply: Any) -> list[tuple[str, Mapping[Any, Any]]]:
    out: list[tuple[str, Mapping[Any, Any]]] = []
    for entry in reply or ():
        if not entry or entry[0] is None:
            continue
        entry_id, fields = entry[0], entry[1]
        if isinstance(fields, list):
            fields = dict(zip(fields[::2], fields[1::2], strict=False))
        out.append((_text(entry_id), fields or {}))
    return out


async def _quietly_close(client: Redis) -> None:
    try:
        await client.aclose()
    except Exception as exc:  # closing a broken connection may fail in many ways
        log.debug("error while closing the reader client: %s", exc)


def _call(callback: Callback | None, value: Any) -> None:
    if callback is None:
        return
    try:
        callback(value)
    except Exception:
        log.exception("error in the callback of a Redis command")


# ---------------------------------------------------------------------------------- the adapter
class RedisStreamsAdapter(LinkUser[StreamsLink], ClusterAdapter):
    """@socket.io/redis-streams-adapter 0.3 for one namespace (see the module docstring)."""

    def __init__(
        self,
        nsp: Host,
        link: StreamsLink,
        *,
        channel_prefix: str = "socket.io",
        use_sharded_pubsub: bool = False,
        session_key_prefix: str = "sio:session:",
        request_timeout: float = 5.0,
    ) -> None:
        super().__init__(nsp, request_timeout=request_timeout)
        self.link = link
        self.channel_prefix = channel_prefix
        self.use_sharded_pubsub = use_sharded_pubsub
        self.session_key_prefix = session_key_prefix
        self.stream = stream_for_namespace(nsp.name, link.stream_name, link.stream_count)
        self.public_channel = f"{channel_prefix}#{nsp.name}#"
        self.private_channel = f"{self.public_channel}{self.uid}#"
        self._kind: Any = "shard" if use_sharded_pubsub else "channel"
        self._local_upto = "0-0"
        """The entry id of the last of this adapter's broadcasts delivered here (recovery)."""

    @classmethod
    def factory(
        cls, redis: RedisSource = "redis://127.0.0.1:6379", **options: Any
    ) -> RedisStreamsAdapterFactory:
        """The ``adapter`` option of a Server (see :class:`RedisStreamsAdapterFactory`)."""
        return RedisStreamsAdapterFactory(redis, **options)

    # ---------------------------------------------------------------- lifecycle
    async def init(self) -> None:
        await self._init_listed(self.link.adapters)

    async def _attach(self) -> None:
        pubsub = self.link.pubsub
        await pubsub.subscribe(
            self._kind, [self.public_channel, self.private_channel], self._on_pubsub
        )
        await pubsub.watch(self.nsp.name, self.public_channel, sharded=self.use_sharded_pubsub)

    async def _detach(self) -> None:
        self.link.pubsub.unwatch(self.nsp.name)
        await self.link.pubsub.unsubscribe(self._kind, [self.public_channel, self.private_channel])

    async def close(self) -> None:
        await self._close_once(self._close_here)

    async def _close_here(self) -> None:
        await ClusterAdapter.close(self)
        self._unlist(self.link.adapters)

    # ---------------------------------------------------------------- transport
    def do_publish(self, message: dict[str, Any]) -> None:
        self._send(message, None)

    def _send(self, message: dict[str, Any], callback: Callback | None) -> None:
        if is_ephemeral(message):
            data = _msgpack_or_log(message)
            if data is not None:
                self.link.enqueue(self._publish_args(self.public_channel, data))
            _call(callback, None)
            return
        try:
            fields = encode_entry(message)
        except TypeError:
            log.exception("cannot write a message of %s to the stream", self.nsp.name)
            _call(callback, None)
            return
        args: list[Any] = ["XADD", self.stream, "MAXLEN", "~", self.link.max_len, "*"]
        for name, value in fields.items():
            args += [name, value]
        self.link.enqueue(tuple(args), None if callback is None else _as_text(callback))

    def do_publish_response(self, requester_uid: str, response: dict[str, Any]) -> None:
        data = _msgpack_or_log(response)
        if data is not None:
            channel = f"{self.public_channel}{requester_uid}#"
            self.link.enqueue(self._publish_args(channel, data))

    def _publish_args(self, channel: str, data: bytes) -> tuple[Any, ...]:
        return ("SPUBLISH" if self.use_sharded_pubsub else "PUBLISH", channel, data)

    def _on_pubsub(self, channel: bytes, data: bytes) -> None:
        try:
            message = msgpack_codec.decode(data)
        except ValueError:
            log.debug("ignoring a malformed message on %r", channel)
            return
        self.on_message(message)

    def on_entry(self, entry_id: str, fields: Mapping[Any, Any]) -> None:
        """A stream entry of this namespace."""
        try:
            message = decode_entry(fields)
        except ValueError as exc:
            log.debug("ignoring the malformed stream entry %s: %s", entry_id, exc)
            return
        if message.get("uid") == self.uid or message.get("nsp") != self.nsp.name:
            return
        data = message.get("data")
        if (
            message["type"] == MessageType.BROADCAST
            and isinstance(data, Mapping)
            and data.get("requestId") is None
        ):
            packet = decode_packet(data.get("packet"), self.nsp.name)
            if packet is None:
                return
            opts = decode_options(data.get("opts"))
            if self._keeps(packet, opts):
                packet.data.append(entry_id)
            self.broadcast_local(packet, opts)
            return
        self.on_message(message)

    async def server_count(self) -> int:
        pubsub = self.link.pubsub
        count = await pubsub.numsub(self.public_channel, sharded=self.use_sharded_pubsub)
        # after an outage, the servers not subscribed again yet count (their acks will come)
        return pubsub.servers(self.nsp.name, count)

    # ---------------------------------------------------------------- broadcasting
    def _keeps(self, packet: Packet, opts: BroadcastOptions) -> bool:
        """Whether a broadcast gets an offset (kept for connection state recovery)."""
        return (
            self._recovery is not None
            and packet.type == EVENT
            and packet.id is None
            and not opts.flags.volatile
        )

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        if opts.flags.local:
            self.broadcast_local(packet, opts)
            return
        message = {
            "type": MessageType.BROADCAST,
            "data": {"packet": encode_packet(packet), "opts": encode_options(opts)},
        }
        message["uid"] = self.uid
        message["nsp"] = self.nsp.name
        if self._recovery is None:
            self._send(message, None)
            self.broadcast_local(packet, opts)
            return
        # as Node: local delivery once Redis gave the entry id (the offset), which keeps the
        # order of the broadcasts; at once (without offset) while Redis is unreachable
        keeps = self._keeps(packet, opts)

        def written(entry_id: str | None) -> None:
            if entry_id is not None:
                self._local_upto = entry_id
                if keeps:
                    packet.data.append(entry_id)
            self.broadcast_local(packet, opts)

        self._send(message, written)

    # ---------------------------------------------------------------- connection state recovery
    def persist_session(self, session: PersistedSession) -> None:
        recovery = self._recovery
        if recovery is None:
            return
        ttl = max(1, round(recovery.max_disconnection_duration * 1000))
        key = self.session_key_prefix + session.pid
        self.link.enqueue(("SET", key, encode_session(session), "PX", ttl))

    async def restore_session(self, pid: str, offset: str) -> PersistedSession | None:
        if self._recovery is None or not _OFFSET.fullmatch(offset):
            return None
        await self.link.flush()  # a session this server just persisted is in Redis
        try:
            raw, found = await asyncio.gather(
                self.link.command("GETDEL", self.session_key_prefix + pid),
                self.link.command("XRANGE", self.stream, offset, offset),
            )
        except ClusterError as exc:
            log.warning("cannot restore session %s: %s", pid, exc)
            return None
        if not raw or not found:
            return None
        session = decode_session(raw)
        if session is None:
            return None
        try:
            session.missed_packets = await self._missed_packets(set(session.rooms), offset)
        except ClusterError as exc:
            log.warning("cannot restore session %s: %s", pid, exc)
            return None
        return session

    async def _missed_packets(self, rooms: set[str], offset: str) -> list[list[Any]]:
        """The broadcasts after ``offset`` that the socket would miss otherwise: exactly those
        this server delivered before the socket is back (another server's once the stream
        reader read them, this adapter's own once Redis gave their id). The later ones reach
        the socket live, once it is connected: replaying them too would send them twice, and
        missing one delivered while the entries were being read would lose it. The socket
        joins in the same step as this returns (unless middlewares that wait run first)."""
        found: list[tuple[tuple[int, int], bool, list[Any]]] = []
        start = offset
        for _ in range(_RESTORE_MAX_BATCHES):
            reply = await self.link.command(
                "XRANGE", self.stream, f"({start}", "+", "COUNT", _RESTORE_BATCH
            )
            entries = _entries(reply)
            for entry_id, fields in entries:
                start = entry_id
                packet_data = self._replayed(entry_id, fields, rooms)
                if packet_data is not None:
                    own = _text(fields.get(b"uid", fields.get("uid", ""))) == self.uid
                    found.append((_id_key(entry_id), own, packet_data))
            # go on while the stream holds entries that were delivered live meanwhile
            if len(entries) < _RESTORE_BATCH and (
                not entries or max(self._delivered_upto()) <= _id_key(start)
            ):
                break
        reader, local = self._delivered_upto()
        return [data for key, own, data in found if key <= (local if own else reader)]

    def _delivered_upto(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """The last entry the stream reader handed to the adapters, and the last of this
        adapter's own broadcasts delivered here."""
        return _id_key(self.link.last_ids.get(self.stream, "0-0")), _id_key(self._local_upto)

    def _replayed(
        self, entry_id: str, fields: Mapping[Any, Any], rooms: set[str]
    ) -> list[Any] | None:
        if _text(fields.get(b"nsp", fields.get("nsp", ""))) != self.nsp.name:
            return None
        if _text(fields.get(b"type", fields.get("type", ""))) != str(int(MessageType.BROADCAST)):
            return None
        try:
            message = decode_entry(fields)
        except ValueError:
            return None
        data = message.get("data")
        if not isinstance(data, Mapping) or data.get("requestId") is not None:
            return None
        packet = decode_packet(data.get("packet"), self.nsp.name)
        if packet is None:
            return None
        opts = decode_options(data.get("opts"))
        if opts.flags.volatile or not _should_include(rooms, opts):
            return None
        replayed: list[Any] = packet.data
        replayed.append(entry_id)
        return replayed


def _id_key(entry_id: str) -> tuple[int, int]:
    """A stream entry id ("<ms>-<seq>") in an order that compares."""
    ms, _, seq = entry_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return 0, 0


def _as_text(callback: Callback) -> Callback:
    def call(value: Any) -> None:
        callback(None if value is None else _text(value))

    return call


def _msgpack_or_log(message: Mapping[str, Any]) -> bytes | None:
    try:
        return msgpack_codec.encode(message)
    except TypeError:
        pass
    data = message.get("data")
    sockets = data.get("sockets") if isinstance(data, Mapping) else None
    if isinstance(sockets, list):  # a fetch response: send the sockets, without bad data
        for entry in sockets:
            try:
                msgpack_codec.encode(entry.get("data"))
            except TypeError:
                log.warning(
                    "socket %s: its data cannot be sent to other servers (not MessagePack "
                    "serialisable); sent as null",
                    entry.get("id"),
                )
                entry["data"] = None
        try:
            return msgpack_codec.encode(message)
        except TypeError:
            pass
    log.exception("cannot encode a message for the other servers")
    return None


# ---------------------------------------------------------------------------------- factory
class RedisStreamsAdapterFactory(Links[StreamsLink]):
    """The ``adapter`` option of a Server: makes the adapter of each namespace, one
    :class:`StreamsLink` per server (several servers may share one factory).

    ``redis``: a URL, a ``redis.asyncio.Redis`` client (not closed by the adapter) or a function
    returning one. The options of the Node adapter, in seconds where Node takes milliseconds:
    ``stream_name`` ("socket.io"), ``stream_count`` (1), ``channel_prefix`` ("socket.io"),
    ``use_sharded_pubsub`` (False), ``max_len`` (10000), ``read_count`` (100), ``block_time``
    (5.0), ``session_key_prefix`` ("sio:session:"); and ``request_timeout``, ``max_queue``,
    ``reconnect_delay``, ``connect_timeout``, ``command_timeout``, ``health_check_interval``.
    The options of the link (all but ``channel_prefix``, ``use_sharded_pubsub``,
    ``session_key_prefix`` and ``request_timeout``) are those of :class:`StreamsLink`.
    """

    def __init__(
        self,
        redis: RedisSource = "redis://127.0.0.1:6379",
        *,
        channel_prefix: str = "socket.io",
        use_sharded_pubsub: bool = False,
        session_key_prefix: str = "sio:session:",
        request_timeout: float = 5.0,
        **link_options: Any,
    ) -> None:
        if link_options.get("stream_count", 1) < 1:
            raise ValueError("stream_count must be at least 1")
        self.redis = redis
        self.channel_prefix = channel_prefix
        self.use_sharded_pubsub = use_sharded_pubsub
        self.session_key_prefix = session_key_prefix
        self.request_timeout = request_timeout
        StreamsLink(redis, **link_options)  # unknown options fail here, not later
        self._link_options = link_options
        super().__init__(lambda: StreamsLink(self.redis, **self._link_options))

    def __call__(self, nsp: Host) -> RedisStreamsAdapter:
        return RedisStreamsAdapter(
            nsp,
            self.link(nsp.server),
            channel_prefix=self.channel_prefix,
            use_sharded_pubsub=self.use_sharded_pubsub,
            session_key_prefix=self.session_key_prefix,
            request_timeout=self.request_timeout,
        )
