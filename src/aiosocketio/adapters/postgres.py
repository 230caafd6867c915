"""The PostgreSQL adapter, wire-compatible with @socket.io/postgres-adapter 0.5 (psycopg 3).

Every server LISTENs on ``<prefix>#<nsp>`` for each namespace and sends the ClusterAdapter
messages ``{uid, nsp, type, data}`` (requests and responses alike) as JSON with
``pg_notify('<prefix>#<nsp>', ...)``. A message that holds binary data, or whose JSON is longer
than ``payload_threshold`` bytes (8000, the limit of a notification), is stored as MessagePack
in the attachments table and the notification carries ``{uid, type, attachmentId}`` instead::

    CREATE TABLE socket_io_attachments (
        id          bigserial PRIMARY KEY,
        created_at  timestamptz DEFAULT NOW(),
        payload     bytea
    );

(created when missing, unless ``create_table=False``); rows older than ``cleanup_interval``
are deleted every ``cleanup_interval``. The servers count each other with heartbeats.

Use it through a factory, which gives each server one connection that listens, one that
sends, and one for the other queries, shared by all its namespaces::

    io = Server(adapter=PostgresAdapter.factory("postgresql://postgres@127.0.0.1/test"))

When PostgreSQL goes away (restart, ``pg_terminate_backend``) the server keeps serving its own
clients: broadcasts reach the local sockets, notifications wait in a bounded queue, and the
listening connection comes back with a backoff and LISTENs again. After an outage the queue is
held until the servers known from their heartbeats are heard from again (NOTIFY keeps nothing
for a server that is not listening); see :mod:`.resync` for what is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Unpack

from .. import _json
from .._extras import needs_extra
from ..socketio.packets import has_binary
from . import msgpack_codec
from .base import ClusterError
from .cluster import ClusterAdapterWithHeartbeat, MessageType
from .link import BrokerLink, LinkOptions, Links, LinkUser, Loop
from .resync import ReportHook, Resync
from .seam import Host

with needs_extra("the PostgreSQL adapter", ("psycopg",), "postgres"):
    import psycopg
    from psycopg import sql

__all__ = ["PostgresAdapter", "PostgresAdapterFactory", "PostgresLink", "encode_notification"]

log = logging.getLogger("aiosocketio.adapters.postgres")

PostgresSource = str | Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]
"""A connection string, or an async function that opens a connection (autocommit is set)."""

_ERRORS: tuple[type[BaseException], ...] = (psycopg.Error, OSError, TimeoutError)


# ---------------------------------------------------------------------------------- wire forms
class Notification:
    """What one message becomes: a notification, or an attachment and its notification."""

    __slots__ = ("attachment", "channel", "header", "payload")

    def __init__(
        self,
        channel: str,
        payload: str,
        attachment: bytes | None = None,
        header: dict[str, Any] | None = None,
    ) -> None:
        self.channel = channel
        self.payload = payload
        self.attachment = attachment
        self.header = header


def encode_notification(
    message: Mapping[str, Any], channel_prefix: str, payload_threshold: int = 8000
) -> Notification:
    """A message as the Node adapter sends it. Raises TypeError when it cannot be encoded."""
    channel = f"{channel_prefix}#{message.get('nsp')}"
    if not has_binary(message):
        payload = _json.dumps(message)
        if len(payload.encode()) <= payload_threshold:
            return Notification(channel, payload)
    attachment = msgpack_codec.encode(message)
    header = {"uid": message.get("uid"), "type": message.get("type")}
    return Notification(channel, "", attachment, header)


# ---------------------------------------------------------------------------------- connections
class _Connection:
    """One connection, opened when needed and again after a failure."""

    def __init__(self, link: PostgresLink, role: str) -> None:
        self.link = link
        self.role = role
        self.conn: psycopg.AsyncConnection[Any] | None = None

    async def get(self) -> psycopg.AsyncConnection[Any]:
        conn = self.conn
        if conn is None or conn.closed:
            conn = self.conn = await self.link.connect(self.role)
        return conn

    async def drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception as exc:  # closing a broken connection may fail in many ways
                log.debug("error while closing a connection: %s", exc)


class PostgresLink(BrokerLink[Notification]):
    """One server's connections to PostgreSQL, shared by the adapters of its namespaces.

    * the listening connection: one task waits for notifications and hands them, in order, to
      a task that fetches the attachments and gives each message to its namespace's adapter;
      when the connection fails it is made again with a backoff and LISTENs again;
    * the sending connection: one task sends, in order, what the adapters queue; while
      PostgreSQL is unreachable at most ``max_queue`` messages wait (the oldest are dropped
      and counted in ``dropped``);
    * a connection for the other queries (attachments, cleanup).

    After an outage of either connection the sending task holds the queue until every
    server its adapters knew before has been heard from again (they announce themselves with
    a heartbeat once they listen again), for at most ``resync_timeout`` seconds once the
    listener is back; heartbeats go out meanwhile. See :class:`~.resync.Resync`.
    """

    broker = "PostgreSQL"
    writer_name = "postgres sender"
    reading_connection = "PostgreSQL listening connection"
    _read_errors = _ERRORS
    _write_errors = _ERRORS
    _unsent = "notifications not sent"
    _log = log

    def __init__(
        self,
        source: PostgresSource,
        *,
        channel_prefix: str = "socket.io",
        table_name: str = "socket_io_attachments",
        payload_threshold: int = 8000,
        cleanup_interval: float = 30.0,
        create_table: bool = True,
        poll_interval: float = 0.25,
        health_check_interval: float = 15.0,
        query_timeout: float = 5.0,
        resync_timeout: float = 10.0,
        on_report: ReportHook | None = None,
        **options: Unpack[LinkOptions],
    ) -> None:
        super().__init__(**options)
        self._source = source
        self.channel_prefix = channel_prefix
        self.table_name = table_name
        self._table = sql.Identifier(*table_name.split("."))
        self.payload_threshold = payload_threshold
        self.cleanup_interval = cleanup_interval
        self.create_table = create_table
        self.poll_interval = poll_interval
        self.health_check_interval = health_check_interval
        self.query_timeout = query_timeout
        self.adapters: dict[str, PostgresAdapter] = {}
        self.channels: set[str] = set()
        self._listening: set[str] = set()
        self._listen_waiters: list[tuple[str, asyncio.Future[None]]] = []
        self._listener: psycopg.AsyncConnection[Any] | None = None
        self._sender = _Connection(self, "sender")
        self._querier = _Connection(self, "queries")
        self._incoming: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._urgent: deque[Notification] = deque()  # heartbeats: not held after an outage
        self._announced = False
        self.connected = False
        """Whether the listening connection is up with every LISTEN issued."""
        self.writing = True
        """False while the sending connection cannot reach PostgreSQL."""
        self.listener_pid: int | None = None
        """The backend pid of the listening connection (for pg_terminate_backend)."""
        self.resync = Resync("PostgreSQL", resync_timeout, on_report)

    @property
    def application_name(self) -> str:
        """The application_name of this link's connections (``-listen``, ``-sender``,
        ``-queries`` appended), to find them in pg_stat_activity."""
        return f"aiosocketio-{self.id}"

    async def connect(self, role: str) -> psycopg.AsyncConnection[Any]:
        source = self._source
        name = f"{self.application_name}-{role}"
        if isinstance(source, str):
            return await psycopg.AsyncConnection.connect(
                source,
                autocommit=True,
                application_name=name,
                connect_timeout=max(1, round(self.connect_timeout)),
            )
        conn = await source()
        await conn.set_autocommit(True)
        return conn

    # ---------------------------------------------------------------- lifecycle
    async def _open(self) -> None:
        if self.create_table:
            try:
                await self.query(
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, "
                        "created_at timestamptz DEFAULT NOW(), payload bytea)"
                    ).format(self._table)
                )
            except ClusterError as exc:
                log.warning("cannot create the table %s: %s", self.table_name, exc)

    def _loops(self) -> list[tuple[str, Loop]]:
        return [
            ("postgres listener", self._read_loop()),
            ("postgres consumer", self._consume_loop()),
            ("postgres cleanup", self._cleanup_loop()),
        ]

    async def _close_connections(self) -> None:
        await self._drop_reader()
        await self._sender.drop()
        await self._querier.drop()
        for _, future in self._listen_waiters:
            future.cancel()
        self._listen_waiters.clear()

    # ---------------------------------------------------------------- listening
    async def listen(self, channel: str, wait: float = 2.0) -> None:
        """LISTEN on a channel (now if the listener is up, else when it connects); waits at
        most ``wait`` seconds for it to be issued."""
        self.channels.add(channel)
        if channel in self._listening or self.closed:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._listen_waiters.append((channel, future))
        try:
            await asyncio.wait_for(asyncio.shield(future), wait)
        except TimeoutError:
            log.warning("LISTEN %s not issued within %g s (it will be)", channel, wait)

    def unlisten(self, channel: str) -> None:
        self.channels.discard(channel)

    async def _connect_reader(self) -> None:
        conn = await asyncio.wait_for(self.connect("listen"), self.connect_timeout)
        self._listener = conn
        self.listener_pid = conn.info.backend_pid
        self._listening = set()
        await self._sync_listens(conn)
        self.connected = True

    def _reader_back(self, down_for: float) -> None:
        log.info(
            "PostgreSQL listening connection back after %.1f s; LISTEN issued again on %d channels",
            down_for,
            len(self._listening),
        )
        self.resync.report("deaf", 0, self._deaf_since, "the listening connection was lost")

    def _reader_lost(self) -> None:
        self._hold("the listening connection is lost")

    def _error_text(self, exc: BaseException) -> str:
        return str(exc).strip()

    async def _drop_reader(self) -> None:
        self.connected = False
        listener, self._listener = self._listener, None
        if listener is not None:
            await _close_quietly(listener)

    async def _sync_listens(self, conn: psycopg.AsyncConnection[Any]) -> None:
        for channel in self.channels - self._listening:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self._listening.add(channel)
        for channel in self._listening - self.channels:
            await conn.execute(sql.SQL("UNLISTEN {}").format(sql.Identifier(channel)))
            self._listening.discard(channel)
        waiters, self._listen_waiters = self._listen_waiters, []
        for channel, future in waiters:
            if channel in self._listening:
                if not future.done():
                    future.set_result(None)
            else:
                self._listen_waiters.append((channel, future))

    async def _read(self) -> None:
        conn = self._listener
        assert conn is not None and self._queue_ready is not None
        self._queue_ready.set()  # a held queue may go now
        loop = asyncio.get_running_loop()
        checked = loop.time()
        incoming = self._incoming
        self._heard_at = time.time()  # listening (a round without notification proves nothing)
        while not self.closed:
            async for notify in conn.notifies(timeout=self.poll_interval):
                self._heard_at = time.time()
                incoming.put_nowait((notify.channel, notify.payload))
            if self.channels != self._listening:
                await self._sync_listens(conn)
            now = loop.time()
            if now - checked >= self.health_check_interval:
                checked = now
                await asyncio.wait_for(conn.execute("SELECT 1"), self.query_timeout)
                self._heard_at = time.time()

    async def _consume_loop(self) -> None:
        incoming = self._incoming
        while True:
            channel, payload = await incoming.get()
            try:
                await self._on_notification(channel, payload)
            except Exception:
                log.exception("error while handling a notification of %s", channel)

    async def _on_notification(self, channel: str, payload: str) -> None:
        try:
            message = _json.loads(payload)
        except ValueError:
            log.debug("ignoring a malformed notification on %s", channel)
            return
        if not isinstance(message, Mapping):
            return
        uid = message.get("uid")
        if any(adapter.uid == uid for adapter in self.adapters.values()):
            return  # this server's own message
        attachment_id = message.get("attachmentId")
        if attachment_id is not None:
            message = await self._attachment(attachment_id)
            if not isinstance(message, Mapping):
                return
        nsp = message.get("nsp")
        if nsp is None and channel.startswith(self.channel_prefix + "#"):
            # the messages of @socket.io/postgres-emitter 0.1 have no nsp: it is the channel's
            nsp = channel[len(self.channel_prefix) + 1 :]
            message = {**message, "nsp": nsp}
        adapter = self.adapters.get(str(nsp))
        if adapter is not None:
            adapter.on_message(message)

    async def _attachment(self, attachment_id: Any) -> Any:
        try:
            identifier = int(attachment_id)
        except (TypeError, ValueError):
            return None
        try:
            row = await self.query(
                sql.SQL("SELECT payload FROM {} WHERE id = %s").format(self._table),
                (identifier,),
                fetch=True,
            )
        except ClusterError as exc:
            log.warning("cannot read the attachment %s: %s", identifier, exc)
            return None
        if row is None:
            log.warning("the attachment %s is gone (cleaned up already?)", identifier)
            return None
        try:
            return msgpack_codec.decode(bytes(row[0]))
        except ValueError:
            log.warning("the attachment %s is not MessagePack", identifier)
            return None

    # ---------------------------------------------------------------- queries
    async def query(self, query: Any, params: Any = None, *, fetch: bool = False) -> Any:
        """Run one query on the query connection (one row back with ``fetch``); ClusterError
        when PostgreSQL is unreachable."""
        if self.closed:
            raise ClusterError("the PostgreSQL link is closed")
        try:
            conn = await asyncio.wait_for(self._querier.get(), self.connect_timeout)
            cursor = await asyncio.wait_for(conn.execute(query, params), self.query_timeout)
            return await cursor.fetchone() if fetch else None
        except _ERRORS as exc:
            await self._querier.drop()
            raise ClusterError(f"PostgreSQL query failed: {str(exc).strip()}") from exc

    async def _cleanup_loop(self) -> None:
        interval = self.cleanup_interval
        query = sql.SQL("DELETE FROM {} WHERE created_at < now() - make_interval(secs => %s)")
        while True:
            await asyncio.sleep(interval)
            try:
                await self.query(query.format(self._table), (interval,))
            except ClusterError as exc:
                log.warning("cannot remove old attachments: %s", exc)

    # ---------------------------------------------------------------- sending
    def publish(self, message: Mapping[str, Any], *, urgent: bool = False) -> None:
        """Queue a message; the sending task sends the queue in order (``urgent`` ones first,
        even while the queue is held)."""
        try:
            notification = encode_notification(message, self.channel_prefix, self.payload_threshold)
        except TypeError:
            log.exception("cannot encode a message for the other servers")
            return
        queue = self._urgent if urgent else self._queue
        queue.append(notification)
        if len(queue) > self.max_queue:
            self._drop_oldest_of(queue, "send")
            if not urgent:
                self.resync.report("dropped", 1, detail="the send queue was full")
        if self._queue_ready is not None:
            self._queue_ready.set()

    # ---------------------------------------------------------------- after an outage
    def _hold(self, why: str) -> None:
        if self.resync.held:
            return
        self.resync.hold(why)
        self._announced = False
        for adapter in list(self.adapters.values()):
            adapter.expect_servers()

    def _resynced(self) -> bool:
        """While held: whether every server known before the outage was heard from again
        (or the wait is over). Once listening, ask them to say they are there."""
        if self.connected and not self._announced:
            self._announced = True
            for adapter in list(self.adapters.values()):
                adapter.announce()
        adapters = list(self.adapters.values())
        if self.connected and not any(a.awaiting for a in adapters):
            self.resync.release()
            return True
        if not self.resync.expired(self.connected):
            return False
        missing = sorted({uid for a in adapters for uid in a.awaiting})
        for adapter in adapters:
            adapter.awaiting.clear()
        self.resync.release(len(self._queue), f"{len(missing)} servers ({', '.join(missing)})")
        return True

    async def _next_queue(self) -> deque[Notification] | None:
        if self._urgent:
            return self._urgent
        if self.resync.held and not self._stopping and not self._resynced():
            assert self._queue_ready is not None
            self._queue_ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue_ready.wait(), 0.05)
            return None
        return self._queue

    async def _write(
        self, queue: deque[Notification]
    ) -> tuple[list[Notification], list[Any]] | None:
        notification = queue[0]
        try:
            await asyncio.wait_for(self._send(notification), self.query_timeout)
        except _ERRORS as exc:
            await self._sender.drop()
            if isinstance(exc, psycopg.Error) and not isinstance(exc, psycopg.OperationalError):
                # refused (not a connection problem): do not send it again
                log.error("PostgreSQL refused a notification: %s", str(exc).strip())
                queue.popleft()
                return None
            self.writing = False
            self._hold("cannot send")
            raise
        queue.popleft()
        return [notification], [None]

    def _write_failed(self, exc: BaseException, queue: deque[Notification], first: bool) -> None:
        if first:
            log.warning(
                "cannot send to PostgreSQL (%s: %s); %d messages wait, retrying",
                type(exc).__name__,
                str(exc).strip(),
                len(queue),
            )

    def _writing_again(self, failed_for: float, waited: int) -> None:
        log.info("sending to PostgreSQL again after %.1f s", failed_for)

    def _written(self, batch: list[Notification], replies: list[Any]) -> None:
        self.writing = True

    async def _send(self, notification: Notification) -> None:
        conn = await self._sender.get()
        payload = notification.payload
        if notification.attachment is not None:
            cursor = await conn.execute(
                sql.SQL("INSERT INTO {} (payload) VALUES (%s) RETURNING id").format(self._table),
                (notification.attachment,),
            )
            row = await cursor.fetchone()
            assert row is not None
            # node-postgres reads a bigint as text: the Node adapter sends the id as a string
            payload = _json.dumps({**(notification.header or {}), "attachmentId": str(row[0])})
        await conn.execute("SELECT pg_notify(%s, %s)", (notification.channel, payload))


async def _close_quietly(conn: psycopg.AsyncConnection[Any]) -> None:
    try:
        await conn.close()
    except Exception as exc:  # closing a broken connection may fail in many ways
        log.debug("error while closing a connection: %s", exc)


# ---------------------------------------------------------------------------------- the adapter
class PostgresAdapter(LinkUser[PostgresLink], ClusterAdapterWithHeartbeat):
    """@socket.io/postgres-adapter 0.5 for one namespace (see the module docstring)."""

    def __init__(
        self,
        nsp: Host,
        link: PostgresLink,
        *,
        request_timeout: float = 5.0,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            nsp,
            request_timeout=request_timeout,
            heartbeat_interval=heartbeat_interval,
            heartbeat_timeout=heartbeat_timeout,
        )
        self.link = link
        self.channel = f"{link.channel_prefix}#{nsp.name}"

    @classmethod
    def factory(
        cls, postgres: PostgresSource = "postgresql://postgres@127.0.0.1/postgres", **options: Any
    ) -> PostgresAdapterFactory:
        """The ``adapter`` option of a Server (see :class:`PostgresAdapterFactory`)."""
        return PostgresAdapterFactory(postgres, **options)

    async def init(self) -> None:
        await self._init_listed(self.link.adapters)

    async def _attach(self) -> None:
        await self.link.listen(self.channel)
        await ClusterAdapterWithHeartbeat.init(self)

    async def close(self) -> None:
        await self._close_once(self._close_here)

    async def _close_here(self) -> None:
        await ClusterAdapterWithHeartbeat.close(self)
        if self._unlist(self.link.adapters):
            self.link.unlisten(self.channel)

    def do_publish(self, message: dict[str, Any]) -> None:
        # a heartbeat sent while listening says "I receive": it goes even while held
        urgent = message.get("type") in _HEARTBEATS and self.link.connected
        self.link.publish(message, urgent=urgent)

    def do_publish_response(self, requester_uid: str, response: dict[str, Any]) -> None:
        self.link.publish(response)


_HEARTBEATS = (MessageType.INITIAL_HEARTBEAT, MessageType.HEARTBEAT)


# ---------------------------------------------------------------------------------- factory
class PostgresAdapterFactory(Links[PostgresLink]):
    """The ``adapter`` option of a Server: makes the adapter of each namespace, one
    :class:`PostgresLink` per server (several servers may share one factory).

    ``postgres``: a connection string, or an async function returning a new
    ``psycopg.AsyncConnection``. The options of the Node adapter, in seconds where Node takes
    milliseconds: ``channel_prefix`` ("socket.io"), ``table_name`` ("socket_io_attachments"),
    ``payload_threshold`` (8000), ``cleanup_interval`` (30.0), ``heartbeat_interval`` (5.0),
    ``heartbeat_timeout`` (10.0); and ``request_timeout``, ``create_table``, ``max_queue``,
    ``reconnect_delay``, ``connect_timeout``, ``poll_interval``, ``health_check_interval``,
    ``query_timeout``, ``resync_timeout`` and ``on_report`` (see
    :mod:`aiosocketio.adapters.resync`).
    """

    def __init__(
        self,
        postgres: PostgresSource = "postgresql://postgres@127.0.0.1/postgres",
        *,
        request_timeout: float = 5.0,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float = 10.0,
        **link_options: Any,
    ) -> None:
        self.postgres = postgres
        self.request_timeout = request_timeout
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        PostgresLink(postgres, **link_options)  # unknown options fail here, not later
        self._link_options = link_options
        super().__init__(lambda: PostgresLink(self.postgres, **self._link_options))

    def __call__(self, nsp: Host) -> PostgresAdapter:
        return PostgresAdapter(
            nsp,
            self.link(nsp.server),
            request_timeout=self.request_timeout,
            heartbeat_interval=self.heartbeat_interval,
            heartbeat_timeout=self.heartbeat_timeout,
        )
