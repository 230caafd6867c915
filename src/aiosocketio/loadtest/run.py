"""One load test: the first client connects (or the run fails at once), the others follow
at the connect rate, the scenario runs until its quota is done or its time is up, then
the clients leave."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from .scenarios import CLOSE_TIMEOUT, Client, ListenClient, client_class
from .settings import ConnectFailed, Settings
from .stats import Stats

__all__ = ["BenchError", "Run"]


class BenchError(Exception):
    """The run could not start: the first client could not connect (``refused``: the
    server said no)."""

    def __init__(self, message: str, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


class Run:
    """``await Run(settings).execute()`` returns the Stats; ``interrupt()`` ends it early."""

    def __init__(self, settings: Settings, progress: Callable[[Stats], None] | None = None):
        self.settings = settings
        self.stats = Stats(settings.clients)
        self.stopping = asyncio.Event()
        self.interrupted = asyncio.Event()
        self.clients: list[Client] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.progress = progress

    def interrupt(self) -> None:
        self.stats.interrupted = True
        self.interrupted.set()

    def _start(self, first_error: asyncio.Future[ConnectFailed | None] | None = None) -> None:
        client = client_class(self.settings.scenario)(self.settings, self.stats, self.stopping)
        self.clients.append(client)
        self.tasks.append(asyncio.ensure_future(client.run(first_error)))

    async def execute(self) -> Stats:
        reporter = None
        if self.progress is not None:
            reporter = asyncio.ensure_future(self._report(self.progress))
        try:
            await self._first()
            await self._ramp()
            await self._scenario()
        finally:
            self.stopping.set()
            for client in self.clients:
                client.stop()
            await self._wait(self.settings.ack_timeout + CLOSE_TIMEOUT)
            for client in self.clients:
                if isinstance(client, ListenClient):
                    self.stats.lost += client.losses()
            await asyncio.gather(*(client.close() for client in self.clients))
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            if reporter is not None:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter
        return self.stats

    async def _first(self) -> None:
        """The first client alone: when it cannot connect, nothing else is tried."""
        first_error: asyncio.Future[ConnectFailed | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._start(first_error)
        interrupted = asyncio.ensure_future(self.interrupted.wait())
        waiting: set[asyncio.Future[Any]] = {first_error, self.tasks[0], interrupted}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        interrupted.cancel()
        if first_error.done():
            failure = first_error.result()
            if failure is not None:
                raise BenchError(str(failure), failure.refused)
        elif self.tasks[0].done():
            self.tasks[0].result()  # raises what ended it

    async def _ramp(self) -> None:
        """Start the other clients, ``rate`` a second."""
        rate = self.settings.rate
        begin = time.monotonic()
        for index in range(1, self.settings.clients):
            if self.interrupted.is_set():
                return
            delay = begin + index / rate - time.monotonic() if rate > 0 else 0.0
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.interrupted.wait(), delay)
            elif index % 100 == 0:
                await asyncio.sleep(0)
            self._start()

    async def _scenario(self) -> None:
        settings = self.settings
        if settings.scenario == "listen":
            await self._until(asyncio.gather(*(c.ready.wait() for c in self.clients)), None)
            sock = self.clients[0].sock
            if settings.start_event is not None and sock is not None and sock.connected:
                sock.emit(settings.start_event, *settings.start_args)
        finished = asyncio.gather(*(c.finished.wait() for c in self.clients))
        await self._until(finished, settings.duration)

    async def _until(self, awaitable: asyncio.Future[Any], timeout: float | None) -> None:
        """Wait for it, for at most ``timeout`` seconds, unless interrupted."""
        interrupted = asyncio.ensure_future(self.interrupted.wait())
        waiting: set[asyncio.Future[Any]] = {awaitable, interrupted}
        try:
            await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            interrupted.cancel()
            if not awaitable.done():
                awaitable.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await awaitable

    async def _wait(self, timeout: float) -> None:
        """Let the clients finish (the last acks, the ack timeouts)."""
        pending = [asyncio.ensure_future(c.finished.wait()) for c in self.clients]
        if pending:
            _, late = await asyncio.wait(pending, timeout=timeout)
            for future in late:
                future.cancel()

    async def _report(self, progress: Callable[[Stats], None]) -> None:
        while True:
            await asyncio.sleep(1.0)
            progress(self.stats)
