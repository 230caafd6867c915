"""The supervisor of ``serve --workers N``: one process that starts, watches and stops the
workers of one server on one machine, and routes their connections.

It listens on the port itself ("address in use" is one error line; port 0 is one port for
all), creates the private run directory of the workers' slots and sockets
(``AIOSOCKETIO_WORKERS_DIR``), and starts each worker as a fresh interpreter that imports
the app (``python -m aiosocketio.workers.supervised``; never a fork of a running event loop).
The first worker starts alone, so that an app that cannot load fails once, with its own
error, before the others start. Every connection is accepted here and passed to the worker
that owns its session (:mod:`aiosocketio.workers.router`); the workers have no TCP socket of
their own, so a worker that dies loses its own connections and nobody else's.

A worker that exits is started again after a delay that doubles with each crash in a row
(0.1 s up to 10 s; a worker that ran 10 s starts the count again). A worker that keeps failing
before it is ready (:data:`MAX_START_FAILURES` times in a row) stops everything: exit code 1.

SIGTERM or SIGINT drains: the router stops accepting, every worker answers the requests it
is serving, closes its sessions (the clients see their transport close and reconnect, to
another server) and exits; after the grace period the ones left are killed (SIGKILL). Then
the run directory is removed. SIGINT again kills at once.

Each worker learns what it needs from the ``AIOSOCKETIO_WORKER`` environment variable (JSON:
its number, the descriptors of its ready pipe and of the supervisor's lifeline, the grace
period, the ``serve`` settings). A worker whose supervisor dies (the lifeline closes) drains
and exits on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..server.running import ListenError, listening_lines
from . import WORKERS_DIR_ENV
from .router import Router
from .slots import WorkerDir

__all__ = [
    "ENV_WORKER",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_USAGE",
    "MAX_START_FAILURES",
    "Supervisor",
    "cpu_count",
    "listen_on",
    "workers_arg",
]

log = logging.getLogger("aiosocketio.cli")

ENV_WORKER = "AIOSOCKETIO_WORKER"

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2

MAX_START_FAILURES = 5
"""Failures in a row of a worker before it listens, after which the supervisor gives up."""
FIRST_DELAY = 0.1
MAX_DELAY = 10.0
STABLE_AFTER = 10.0
"""Seconds a worker must run before its crash count starts again."""
_KILL_MARGIN = 2.0  # seconds after the grace period before SIGKILL

in_worker = False
"""True in a worker process (where ``run(workers=N)`` must not start another supervisor)."""


def cpu_count() -> int:
    """The CPUs this process may run on (``--workers auto``)."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13
    if counter is not None:
        return int(counter() or 1)
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def workers_arg(text: str) -> int:
    """``--workers``: a positive number, or ``auto`` (one per CPU)."""
    if text.strip().lower() == "auto":
        return cpu_count()
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of workers: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"at least 1 worker, not {value}")
    return value


def listen_on(host: str | None, port: int, backlog: int = 1024) -> list[socket.socket]:
    """Listening sockets for every address of ``host`` on ``port`` (port 0: one free port
    for all of them). Raises OSError (the port is in use...)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    seen: set[tuple[int, Any]] = set()
    listening: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in infos:
            if (family, address[:2]) in seen:
                continue
            seen.add((family, address[:2]))
            if listening:  # the port the first address got
                address = (address[0], listening[0].getsockname()[1], *address[2:])
            sock = socket.socket(family, kind, proto)
            listening.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
    except BaseException:
        for sock in listening:
            sock.close()
        raise
    return listening


def run_directory() -> str:
    """A new private directory for the workers' slots and sockets (short enough for Unix
    socket names)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    if len(os.fsencode(base)) > 60 or not os.path.isdir(base):
        base = "/tmp"  # noqa: S108 (mkdtemp makes a private directory there)
    return tempfile.mkdtemp(prefix="aiosocketio-", dir=base)


@dataclass(eq=False)
class _Worker:
    index: int
    proc: asyncio.subprocess.Process | None = None
    slot: int | None = None
    ready: bool = False
    ready_at: float = 0.0
    crashes: int = 0  # in a row (reset after STABLE_AFTER seconds of running)
    start_failures: int = 0  # in a row, before listening
    restart: asyncio.TimerHandle | None = None
    ready_event: asyncio.Event = field(default_factory=asyncio.Event)
    exited: asyncio.Event = field(default_factory=asyncio.Event)


class Supervisor:
    """Runs ``workers`` workers of the ``serve`` ``settings`` (a dict of the parsed options)
    until a signal; :meth:`run` returns the exit code."""

    def __init__(
        self,
        settings: dict[str, Any],
        workers: int,
        *,
        grace: float = 10.0,
        import_path: Sequence[str] = (),
    ) -> None:
        self.settings = dict(settings)
        self.count = workers
        self.grace = grace
        self.import_path = list(import_path)
        self.workers = [_Worker(i) for i in range(workers)]
        self.exit_code = EXIT_OK
        self.port = 0
        self.path = "/socket.io"
        self.page = False  # the app serves a page at /
        self.run_dir = ""
        self._stop: asyncio.Event | None = None
        self._stopping = False
        self._killing = False
        self._lifeline = (-1, -1)
        self._spawning: set[asyncio.Task[None]] = set()
        self._watchers: set[asyncio.Task[None]] = set()
        self.router: Router | None = None

    # ------------------------------------------------------------------ main
    async def run(self) -> int:
        host = self.settings.get("host")
        port = int(self.settings.get("port") or 0)
        try:
            listening = listen_on(host, port)
        except OSError as exc:
            log.error("%s", ListenError(host, port, exc))
            return EXIT_ERROR
        self.port = int(listening[0].getsockname()[1])
        self.run_dir = run_directory()
        self.router = Router(listening, WorkerDir(self.run_dir))
        self._lifeline = os.pipe()
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        handled = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._on_signal, sig)
                handled.append(sig)
        try:
            started = await self._start_all()
            if started:
                for line in listening_lines(host, self.port, self.path, page=self.page):
                    self._print(line)
                log.info(
                    "%d workers (pids %s); run directory %s",
                    self.count,
                    " ".join(str(w.proc.pid) for w in self.workers if w.proc is not None),
                    self.run_dir,
                )
                await self._stop.wait()
            await self._drain()
            if started:
                router = self.router
                log.info(
                    "stopped (connections routed to their session's worker: %d, to any: %d,"
                    " refused: %d)",
                    router.to_owner,
                    router.to_any,
                    router.unavailable,
                )
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            self.router.close()
            self.router = None
            for fd in self._lifeline:
                with contextlib.suppress(OSError):
                    os.close(fd)
            shutil.rmtree(self.run_dir, ignore_errors=True)
        return self.exit_code

    def _print(self, line: str) -> None:
        from ..cli.common import console

        console.line(line)

    async def _start_all(self) -> bool:
        """Start the first worker, then the others; False when it did not get that far."""
        first = self.workers[0]
        await self._spawn(first)
        if not await self._until_ready([first]):
            return False
        for worker in self.workers[1:]:
            await self._spawn(worker)
        return await self._until_ready(self.workers)

    async def _until_ready(self, workers: list[_Worker]) -> bool:
        stop = self._stop
        assert stop is not None
        for worker in workers:
            ready = asyncio.ensure_future(worker.ready_event.wait())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait((ready, stopped), return_when=asyncio.FIRST_COMPLETED)
            for task in (ready, stopped):
                task.cancel()
            if stop.is_set():
                return False
        return True

    # ------------------------------------------------------------------ workers
    async def _spawn(self, worker: _Worker) -> None:
        worker.restart = None
        worker.ready = False
        worker.ready_event.clear()
        worker.exited.clear()
        ready_r, ready_w = os.pipe()
        lifeline = self._lifeline[0]
        config = {
            "index": worker.index,
            "ready": ready_w,
            "lifeline": lifeline,
            "grace": self.grace,
            "import_path": self.import_path,
            "settings": {**self.settings, "port": self.port},
        }
        env = dict(os.environ)
        env[WORKERS_DIR_ENV] = self.run_dir
        env[ENV_WORKER] = json.dumps(config)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "aiosocketio.workers.supervised",
                stdin=asyncio.subprocess.DEVNULL,
                pass_fds=(ready_w, lifeline),
                env=env,
            )
        except BaseException:
            os.close(ready_r)
            raise
        finally:
            os.close(ready_w)
        worker.proc = proc
        if self._stopping:  # a restart that crossed the stop
            proc.send_signal(signal.SIGTERM)
        log.debug("worker %d started (pid %d)", worker.index, proc.pid)
        watcher = asyncio.ensure_future(self._watch(worker, proc, ready_r))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    async def _watch(self, worker: _Worker, proc: asyncio.subprocess.Process, ready: int) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(ready, "rb")
        )
        try:
            line = await reader.readline()
        finally:
            transport.close()
        if line:
            try:
                message = json.loads(line)
                worker.slot = int(message["slot"])
                self.path = str(message.get("path") or self.path)
                self.page = bool(message.get("page"))
            except (ValueError, KeyError, TypeError):
                log.error("worker %d sent %r", worker.index, line)
                proc.kill()
            else:
                self._ready(worker)
        code = await proc.wait()
        worker.exited.set()
        if worker.slot is not None and self.router is not None:
            self.router.remove(worker.slot)
        worker.slot = None
        if worker.proc is proc:
            self._exited(worker, code)

    def _ready(self, worker: _Worker) -> None:
        assert worker.slot is not None and self.router is not None
        self.router.add(worker.slot)
        if not self._stopping:
            self.router.start()
        worker.ready = True
        worker.ready_at = time.monotonic()
        worker.start_failures = 0
        worker.ready_event.set()

    def _exited(self, worker: _Worker, code: int) -> None:
        if self._stopping:
            return
        what = f"killed by {_signal_name(-code)}" if code < 0 else f"exit code {code}"
        if not worker.ready:
            worker.start_failures += 1
            if worker.index == 0 and not any(w.ready for w in self.workers):
                # the first start: the app cannot load (its error is above)
                log.error("the worker could not start (%s)", what)
                self.exit_code = EXIT_USAGE if code == EXIT_USAGE else EXIT_ERROR
                self._request_stop()
                return
            if worker.start_failures >= MAX_START_FAILURES:
                log.error(
                    "worker %d failed %d times in a row before listening (%s); stopping",
                    worker.index,
                    worker.start_failures,
                    what,
                )
                self.exit_code = EXIT_ERROR
                self._request_stop()
                return
        elif time.monotonic() - worker.ready_at >= STABLE_AFTER:
            worker.crashes = 0
        worker.crashes += 1
        delay = min(FIRST_DELAY * 2 ** (worker.crashes - 1), MAX_DELAY)
        log.warning(
            "worker %d stopped (%s); starting it again in %.1f s", worker.index, what, delay
        )
        loop = asyncio.get_running_loop()
        worker.restart = loop.call_later(delay, self._respawn, worker)

    def _respawn(self, worker: _Worker) -> None:
        worker.restart = None
        if self._stopping:
            return
        task = asyncio.ensure_future(self._spawn(worker))
        self._spawning.add(task)
        task.add_done_callback(lambda t: self._spawned(worker, t))

    def _spawned(self, worker: _Worker, task: asyncio.Task[None]) -> None:
        self._spawning.discard(task)
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            log.error("cannot start worker %d: %s", worker.index, exc)
            self.exit_code = EXIT_ERROR
            self._request_stop()

    # ------------------------------------------------------------------ stopping
    def _on_signal(self, sig: signal.Signals) -> None:
        if self._stopping:
            if sig == signal.SIGINT and not self._killing:
                log.warning("interrupted again: killing the workers")
                self._kill_all()
            return
        log.info("stopping (draining the workers, at most %.0f s)", self.grace)
        self._request_stop()

    def _request_stop(self) -> None:
        self._stopping = True
        assert self._stop is not None
        self._stop.set()

    async def _drain(self) -> None:
        self._stopping = True
        if self.router is not None:
            self.router.close()  # nothing new: the workers finish what they have
        for worker in self.workers:
            if worker.restart is not None:
                worker.restart.cancel()
                worker.restart = None
        if self._spawning:
            await asyncio.wait(self._spawning)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace + _KILL_MARGIN
        signalled: set[int] = set()
        while True:
            running = [w for w in self.workers if w.proc is not None and w.proc.returncode is None]
            if not running:
                return
            for worker in running:
                assert worker.proc is not None
                if worker.proc.pid not in signalled:
                    signalled.add(worker.proc.pid)
                    with contextlib.suppress(ProcessLookupError):
                        worker.proc.send_signal(signal.SIGTERM)
            waits = [asyncio.ensure_future(w.exited.wait()) for w in running]
            timeout = max(deadline - loop.time(), 0.0) if not self._killing else None
            done, pending = await asyncio.wait(
                waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            if not done and not self._killing:
                log.warning("%d workers did not stop in time: killing them", len(pending))
                self._kill_all()

    def _kill_all(self) -> None:
        self._killing = True
        for worker in self.workers:
            proc = worker.proc
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
