"""The clients of the scenarios: echo (emit with ack), listen (count broadcasts), churn.

Each client runs as one task: it connects, does its scenario until told to stop (or until
its quota is done), and sets ``finished``. Errors are counted in the shared Stats.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from typing import Any

from ..client import Socket
from .settings import ConnectFailed, Settings, error_kind, new_socket, open_socket
from .stats import Sequence, Stats, sequence_of

__all__ = ["ChurnClient", "Client", "EchoClient", "ListenClient", "client_class"]

CLOSE_TIMEOUT = 5.0


class Client:
    """One simulated user: a socket of its own (one connection each)."""

    def __init__(self, settings: Settings, stats: Stats, stopping: asyncio.Event) -> None:
        self.settings = settings
        self.stats = stats
        self.stopping = stopping
        self.sock: Socket | None = None
        self.leaving = False
        self.finished = asyncio.Event()
        self.ready = asyncio.Event()  # connected, or failed to

    async def run(self, first_error: asyncio.Future[ConnectFailed | None] | None = None) -> None:
        """Connect, then do the scenario; a failed connection ends the client.

        ``first_error`` (for the first client) gets the ConnectFailed, or None once connected.
        """
        try:
            sock = self.sock = new_socket(self.settings)
            self.prepare(sock)
            sock.on("disconnect", self._on_disconnect)
            try:
                await open_socket(sock, self.settings, self.stats)
            except ConnectFailed as exc:
                if first_error is not None:
                    first_error.set_result(exc)
                return
            finally:
                self.ready.set()
            if first_error is not None:
                first_error.set_result(None)
            await self.scenario(sock)
        finally:
            self.ready.set()
            self.finished.set()

    def prepare(self, sock: Socket) -> None:
        """Before connecting: add listeners."""

    async def scenario(self, sock: Socket) -> None:
        """Once connected: the work (returning ends the client's part)."""
        await self.stopping.wait()

    def stop(self) -> None:
        """The run is ending: stop sending."""

    def _on_disconnect(self, reason: str) -> None:
        self.stats.connected -= 1
        if not self.leaving:
            self.stats.error(f"disconnected: {reason}")
            self.stop_now()

    def stop_now(self) -> None:
        """Disconnected by the other side: nothing more will come."""

    async def close(self) -> None:
        """Leave (at most CLOSE_TIMEOUT seconds)."""
        self.leaving = True
        sock = self.sock
        if sock is None:
            return
        was_connected = sock.connected
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sock.disconnect(), CLOSE_TIMEOUT)
        if was_connected:
            self.stats.disconnects += 1


class EchoClient(Client):
    """Keeps ``window`` emits with ack in flight, each ack timed."""

    def __init__(self, settings: Settings, stats: Stats, stopping: asyncio.Event) -> None:
        super().__init__(settings, stats, stopping)
        self.sent = 0
        self.in_flight = 0
        self.payload = settings.payload()
        self.done = asyncio.Event()
        self.halted = False

    async def scenario(self, sock: Socket) -> None:
        for _ in range(self.settings.window):
            self._send(sock)
        await self.done.wait()

    def _send(self, sock: Socket) -> None:
        limit = self.settings.messages
        if self.halted or self.stopping.is_set() or (limit is not None and self.sent >= limit):
            if self.in_flight == 0:
                self.done.set()
            return
        self.sent += 1
        self.in_flight += 1
        stats = self.stats
        stats.sent += 1
        stats.message()
        callback = functools.partial(self._on_ack, sock, time.perf_counter_ns())
        sock.emit(self.settings.event, self.payload, callback=callback)

    def _on_ack(self, sock: Socket, start: int, error: BaseException | None, *args: Any) -> None:
        self.in_flight -= 1
        stats = self.stats
        if error is None:
            stats.latency.record_us((time.perf_counter_ns() - start) // 1000)
            stats.acked += 1
            stats.message()
        else:
            stats.error(error_kind(error))
        self._send(sock)

    def stop(self) -> None:
        if self.in_flight == 0:
            self.done.set()

    def stop_now(self) -> None:
        self.halted = True
        self.done.set()


class ListenClient(Client):
    """Counts the broadcasts of an event; follows their sequence numbers when they have
    some (see :func:`~aiosocketio.loadtest.stats.sequence_of`)."""

    def __init__(self, settings: Settings, stats: Stats, stopping: asyncio.Event) -> None:
        super().__init__(settings, stats, stopping)
        self.received = 0
        self.sequence = Sequence()
        self.done = asyncio.Event()

    def prepare(self, sock: Socket) -> None:
        sock.on(self.settings.event, self._on_event)

    def _on_event(self, *args: Any) -> None:
        self.received += 1
        stats = self.stats
        stats.received += 1
        stats.message()
        if not self.settings.count_only:
            seq, sent_ms = sequence_of(args)
            if seq is not None:
                self.sequence.add(seq, stats)
            if sent_ms is not None:
                stats.latency.record_us(int((time.time() * 1000 - sent_ms) * 1000))
        limit = self.settings.messages
        if limit is not None and self.received >= limit:
            self.done.set()

    async def scenario(self, sock: Socket) -> None:
        await self.done.wait()

    def stop(self) -> None:
        self.done.set()

    def stop_now(self) -> None:
        self.done.set()

    def losses(self) -> int:
        """The messages of the quota (``messages``) that never came, beyond the gaps."""
        limit = self.settings.messages
        if limit is None:
            return 0
        if self.settings.count_only or self.sequence.next is None:
            return max(0, limit - self.received)
        return self.sequence.shortfall(limit)


class ChurnClient(Client):
    """Connects, keeps the connection ``hold`` seconds, disconnects, again and again."""

    async def scenario(self, sock: Socket) -> None:
        settings, stats = self.settings, self.stats
        done = 0
        while True:
            if settings.hold > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), settings.hold)
            self.leaving = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sock.disconnect(), CLOSE_TIMEOUT)
            stats.disconnects += 1
            done += 1
            stats.cycles += 1
            stats.message()
            if self.stopping.is_set() or (settings.cycles is not None and done >= settings.cycles):
                return
            sock = await self._reconnect()
            if not sock.connected:
                return

    async def _reconnect(self) -> Socket:
        """A new connection (retried, a tenth of a second apart, until the run stops)."""
        while True:
            sock = self.sock = new_socket(self.settings)
            self.leaving = False
            sock.on("disconnect", self._on_disconnect)
            try:
                await open_socket(sock, self.settings, self.stats)
                return sock
            except ConnectFailed:
                if self.stopping.is_set():
                    return sock
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), 0.1)

    def _on_disconnect(self, reason: str) -> None:
        self.stats.connected -= 1
        if not self.leaving:
            self.stats.error(f"disconnected: {reason}")


def client_class(scenario: str) -> type[Client]:
    return {"echo": EchoClient, "listen": ListenClient, "churn": ChurnClient}[scenario]
