"""What the broker links (Redis, Redis Streams, PostgreSQL) share: a reference-counted
start and close, their named tasks, a bounded outgoing queue and the loop that sends it, the
loop that keeps the reading connection up, and their common options (:class:`LinkOptions`);
one link per server (:class:`Links`); an adapter's share of its link (:class:`LinkUser`)."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar, Generic, Protocol, TypedDict, TypeVar

from .base import ClusterError
from .seam import Host

__all__ = ["BrokerLink", "Link", "LinkOptions", "LinkUser", "Links"]

Item = TypeVar("Item")
T = TypeVar("T")
Loop = Coroutine[Any, Any, None]


class LinkOptions(TypedDict, total=False):
    """The options every broker link takes (see :class:`BrokerLink`)."""

    max_queue: int
    reconnect_delay: tuple[float, float]
    connect_timeout: float


class BrokerLink(Generic[Item]):
    """One server's connections to a broker, shared by the adapters of its namespaces.

    The first :meth:`acquire` opens the clients (:meth:`_open`), starts the loops
    (:meth:`_loops`) and the writer (:meth:`_write_loop`, which sends ``_queue``), then waits
    at most ``connect_timeout`` for ``_first_attempt``. The last :meth:`release` closes it.

    While the broker is away, at most ``max_queue`` items wait to be sent, and connections
    are tried again after a delay that doubles from ``reconnect_delay[0]`` up to
    ``reconnect_delay[1]`` seconds (with jitter).
    """

    broker: ClassVar[str]
    """The broker's name in messages ("Redis", "PostgreSQL")."""
    writer_name: ClassVar[str]
    """The name of the writer task (the link's id appended)."""
    reading_connection: ClassVar[str]
    """The reading connection in messages ("Redis subscriber connection")."""
    _read_errors: ClassVar[tuple[type[BaseException], ...]]
    """The errors after which the reading connection is made again."""
    _write_errors: ClassVar[tuple[type[BaseException], ...]]
    """The errors after which sending is tried again (the broker is unreachable)."""
    _unsent: ClassVar[str]
    """What is left when the link closes while the broker is away ("messages not
    published")."""
    _log: ClassVar[logging.Logger]

    def __init__(
        self,
        *,
        max_queue: int = 10_000,
        reconnect_delay: tuple[float, float] = (0.05, 5.0),
        connect_timeout: float = 3.0,
    ) -> None:
        self.id = secrets.token_hex(4)
        self.max_queue = max_queue
        self.reconnect_delay = reconnect_delay
        self.connect_timeout = connect_timeout
        self._queue: deque[Item] = deque()
        self._queue_ready: asyncio.Event | None = None
        self._first_attempt: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._writer: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[None] | None = None
        self._users = 0
        self._stopping = False
        self.closed = False
        self.reconnects = 0
        """How many times the reading connection was made again after a failure."""
        self.dropped = 0
        """How many queued messages were dropped because the queue was full."""
        self._down_since: float | None = None  # the reading connection is down (loop time)
        self._deaf_since = 0.0
        self._heard_at = 0.0  # the last sign of life of the reading connection

    # ---------------------------------------------------------------- for the subclasses
    async def _open(self) -> None:
        """Make the clients, before the tasks start."""

    def _loops(self) -> list[tuple[str, Loop]]:
        """The loops to run as tasks besides the writer: (task name, coroutine)."""
        return []

    async def _next_queue(self) -> deque[Item] | None:
        """The queue to send from next; None after a moment's wait while it is held."""
        return self._queue

    async def _write(self, queue: deque[Item]) -> tuple[list[Item], list[Any]] | None:
        """Send what is next in ``queue``: (what was sent, the replies); None when the broker
        refused it (dropped, logged). When the broker is unreachable, put it back and raise
        one of ``_write_errors``."""
        raise NotImplementedError

    def _written(self, batch: list[Item], replies: list[Any]) -> None:
        """``batch`` was sent."""

    def _write_failed(self, exc: BaseException, queue: deque[Item], first: bool) -> None:
        """The broker is unreachable (``first``: it was not the time before): say so."""

    def _writing_again(self, failed_for: float, waited: int) -> None:
        """Sending works again after ``failed_for`` seconds (``waited`` items were queued)."""

    async def _connect_reader(self) -> None:
        """Make the reading connection (for :meth:`_read_loop`), ready to read."""
        raise NotImplementedError

    async def _read(self) -> None:
        """Read from the reading connection until it fails."""
        raise NotImplementedError

    async def _drop_reader(self) -> None:
        """Close the reading connection once it failed (or the link closes)."""

    def _reader_lost(self) -> None:
        """The reading connection failed (each time it does)."""

    def _reader_back(self, down_for: float) -> None:
        """The reading connection is back after ``down_for`` seconds: say so."""

    async def _interrupt(self) -> None:
        """Called once the tasks are cancelled, before waiting for them."""

    async def _close_connections(self) -> None:
        """Close what the link opened, once its tasks stopped."""

    # ---------------------------------------------------------------- lifecycle
    async def acquire(self) -> None:
        """Take a reference; the first one starts the tasks and waits (at most
        ``connect_timeout``) for the first connection attempt."""
        if self.closed:
            raise ClusterError(f"this {self.broker} link is closed")
        self._users += 1
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        await asyncio.shield(self._starting)

    async def _start(self) -> None:
        await self._open()
        self._queue_ready = asyncio.Event()
        self._first_attempt = asyncio.Event()
        if self._queue:
            self._queue_ready.set()
        for name, coro in self._loops():
            self._tasks.append(self._spawn(coro, name))
        self._writer = self._spawn(self._write_loop(), self.writer_name)
        try:
            await asyncio.wait_for(self._first_attempt.wait(), self.connect_timeout)
        except TimeoutError:
            self._log.warning(
                "%s did not answer within %g s; retrying", self.broker, self.connect_timeout
            )

    def _spawn(self, coro: Loop, name: str) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{name} {self.id}")
        return task

    async def release(self) -> None:
        """Drop a reference; the last one closes the link."""
        self._users -= 1
        if self._users <= 0:
            await self.close()

    async def close(self, flush_timeout: float = 1.0) -> None:
        """Send what is queued (for at most ``flush_timeout``), then close everything."""
        if self.closed:
            return
        self.closed = True
        if self._starting is not None and not self._starting.done():
            await asyncio.wait([self._starting])
        writer = self._writer
        if writer is not None and not writer.done():
            # the writer sends what waits, then stops (at once if the broker is down)
            self._stopping = True
            if self._queue_ready is not None:
                self._queue_ready.set()
            await asyncio.wait([writer], timeout=flush_timeout)
        tasks = [t for t in (*self._tasks, self._writer) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await self._interrupt()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=1.0)
            for task in pending:
                self._log.warning("a %s task did not stop: %s", self.broker, task.get_name())
        await self._close_connections()
        self._tasks.clear()
        self._writer = None

    # ---------------------------------------------------------------- writing
    async def _write_loop(self) -> None:
        """Send the queue in order (:meth:`_write`); while the broker is unreachable, try
        again after a backoff (the first failure and the recovery are logged). Once closing,
        stop when the queue is empty, or at the first failure."""
        assert self._queue_ready is not None
        ready = self._queue_ready
        delay = self.reconnect_delay[0]
        failing_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            queue = await self._next_queue()
            if queue is None:
                continue
            if not queue:
                if self._stopping:
                    return
                ready.clear()
                await ready.wait()
                continue
            try:
                sent = await self._write(queue)
            except self._write_errors as exc:
                if self._stopping:
                    self._log.warning("closing: %d %s (%s)", len(queue), self._unsent, exc)
                    return
                self._write_failed(exc, queue, failing_since is None)
                if failing_since is None:
                    failing_since = loop.time()
                delay = await self._backoff(delay)
            else:
                if sent is None:
                    continue
                batch, replies = sent
                if failing_since is not None:
                    self._writing_again(loop.time() - failing_since, len(batch) + len(queue))
                    failing_since = None
                delay = self.reconnect_delay[0]
                self._written(batch, replies)

    # ---------------------------------------------------------------- reading
    async def _read_loop(self) -> None:
        """Keep the reading connection up: connect, read until it fails, then connect again
        after a backoff. The first failure is a warning, and starts the time the link is
        deaf (from the last sign of life: a loaded process notices late)."""
        assert self._first_attempt is not None
        delay = self.reconnect_delay[0]
        loop = asyncio.get_running_loop()
        while not self.closed:
            try:
                await self._connect_reader()
                self._first_attempt.set()
                delay = self.reconnect_delay[0]
                if self._down_since is not None:
                    self.reconnects += 1
                    down_for = loop.time() - self._down_since
                    self._down_since = None
                    self._reader_back(down_for)
                await self._read()
            except asyncio.CancelledError:
                raise
            except self._read_errors as exc:
                if self.closed:
                    return
                self._first_attempt.set()
                self._reader_lost()
                if self._down_since is None:
                    self._down_since = loop.time()
                    self._deaf_since = self._heard_at or time.time()
                    self._log.warning(
                        "%s lost (%s: %s); local delivery goes on, reconnecting",
                        self.reading_connection,
                        type(exc).__name__,
                        self._error_text(exc),
                    )
                else:
                    self._log.debug("%s still unreachable: %s", self.broker, exc)
            finally:
                await self._drop_reader()
            if self.closed:
                return
            delay = await self._backoff(delay)

    def _error_text(self, exc: BaseException) -> str:
        """An error as the warnings show it."""
        return str(exc)

    # ---------------------------------------------------------------- helpers
    def _drop_oldest_of(self, queue: deque[T], name: str, unit: str = "messages") -> T:
        """Drop the oldest of a full queue (counted in ``dropped``, with a warning now and
        then); ``name``: "publish", "send"..."""
        oldest = queue.popleft()
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 1000 == 0:
            self._log.warning(
                "%s %s queue full (%d %s): dropped the oldest (%d dropped so far)",
                self.broker,
                name,
                self.max_queue,
                unit,
                self.dropped,
            )
        return oldest

    async def _backoff(self, delay: float) -> float:
        """Sleep about ``delay`` seconds; the next delay (doubled, up to the maximum)."""
        await asyncio.sleep(_jitter(delay))
        return min(delay * 2, self.reconnect_delay[1])


def _jitter(delay: float) -> float:
    return delay * (0.5 + random.random())


class Link(Protocol):
    """What :class:`Links` and :class:`LinkUser` need of a link (a broker link, the mesh of
    the workers)."""

    @property
    def closed(self) -> bool: ...

    async def acquire(self) -> None: ...

    async def release(self) -> None: ...


L = TypeVar("L", bound=Link)


class Links(Generic[L]):
    """What an adapter factory shares with the others: the link of each server (a factory
    may serve several), made by ``make`` when first needed, and again once closed."""

    def __init__(self, make: Callable[[], L]) -> None:
        self._make = make
        self._links: weakref.WeakKeyDictionary[Any, L] = weakref.WeakKeyDictionary()

    def link(self, server: object) -> L:
        """The link of a server (made when first needed, and again once closed)."""
        link = self._links.get(server)
        if link is None or link.closed:
            link = self._links[server] = self._make()
        return link


class LinkUser(Generic[L]):
    """An adapter's share of its server's link: the first :meth:`_init_once` takes it, then
    :meth:`_attach`; :meth:`_close_once` runs :meth:`_detach`, then gives it back. Each
    happens once, whatever the number of calls."""

    link: L
    nsp: Host
    uid: str
    _init_task: asyncio.Task[None] | None = None
    _closing: bool = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} nsp={self.nsp.name!r} uid={self.uid}>"

    async def init(self) -> None:
        """Take the link (once)."""
        await self._init_once()

    async def _init_listed(self, adapters: dict[str, Any]) -> None:
        """Be the adapter of the namespace in ``adapters`` (where the link finds it; before
        the link starts), then :meth:`_init_once`."""
        if not self._closing:
            adapters[self.nsp.name] = self
        await self._init_once()

    def _unlist(self, adapters: dict[str, Any]) -> bool:
        """No longer be the adapter of the namespace in ``adapters`` (unless another one took
        the place); whether it was."""
        if adapters.get(self.nsp.name) is not self:
            return False
        del adapters[self.nsp.name]
        return True

    async def _attach(self) -> None:
        """Subscribe, once the link is taken."""

    async def _detach(self) -> None:
        """Unsubscribe, before the link is given back."""

    async def _init_once(self) -> None:
        if self._closing:
            return
        if self._init_task is None:
            self._init_task = asyncio.ensure_future(self._take())
        await asyncio.shield(self._init_task)

    async def _take(self) -> None:
        await self.link.acquire()
        await self._attach()

    async def _close_once(self, first: Callable[[], Awaitable[None]] | None = None) -> None:
        """``first`` (the adapter's own closing), then give the link back if it was taken."""
        if self._closing:
            return
        self._closing = True
        if first is not None:
            await first()
        task = self._init_task
        if task is None:
            return
        try:
            await task
        except Exception:
            return  # never taken
        await self._detach()
        await self.link.release()
