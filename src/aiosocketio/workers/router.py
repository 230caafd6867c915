"""The router of ``serve --workers N``: the supervisor accepts every TCP connection and
passes it to the worker that owns its session.

It reads the first request line of each new connection (usually already there when the
connection is accepted), takes the slot from its ``sid`` (:func:`request_slot`) and passes
the socket and the bytes read to that worker (:class:`~aiosocketio.workers.handoff.Sender`).
A connection without a sid (a handshake, a direct WebSocket) goes to the next worker in
turn. The router never parses more than that line and runs no application code, so a worker
that crashes loses only its own connections: nothing of another worker's clients waits in
its accept queue or in its hands.

When the owner cannot take a connection (it is gone, or too many hand-offs wait for it), the
connection goes to another worker (which answers "Session ID unknown" or forwards it); when
no worker can, it gets a 503. Later requests on a kept-alive connection are the workers'
business (:mod:`aiosocketio.transport.worker_http`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
from collections.abc import Sequence

from .handoff import DONE, LATER, Sender, pause_accepting, request_slot
from .slots import WorkerDir

__all__ = ["Router"]

log = logging.getLogger("aiosocketio.workers")

_ACCEPT_BATCH = 64  # connections accepted per readiness callback (fairness between sockets)
_SWEEP_EVERY = 5.0
_UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 19\r\nConnection: close\r\n\r\nService Unavailable"
)


class _Waiting:
    """A connection whose request line is not complete yet."""

    __slots__ = ("conn", "data", "deadline")

    def __init__(self, conn: socket.socket, data: bytes, deadline: float) -> None:
        self.conn = conn
        self.data = data
        self.deadline = deadline


class Router:
    """Routes the connections of ``listeners`` (listening TCP sockets) to the live workers
    of ``run_dir`` (:meth:`add`, :meth:`remove`).

    ``defer_accept``: seconds the kernel may keep a new connection until its first bytes
    come (``TCP_DEFER_ACCEPT`` on Linux; 0: accept at once). A connection whose request line
    is not complete waits up to ``idle_timeout`` seconds (at most ``max_waiting`` of them);
    a request line longer than ``max_line`` goes to a worker in turn (which refuses it)."""

    def __init__(
        self,
        listeners: Sequence[socket.socket],
        run_dir: WorkerDir,
        *,
        max_line: int = 16384,
        idle_timeout: float = 60.0,
        max_waiting: int = 10_000,
        defer_accept: int = 5,
    ) -> None:
        self.listeners = list(listeners)
        self.sender = Sender(run_dir)
        self.max_line = max_line
        self.idle_timeout = idle_timeout
        self.max_waiting = max_waiting
        self.defer_accept = defer_accept
        self.live: list[int] = []
        self._turn = 0
        self._waiting: dict[int, _Waiting] = {}
        self._handing: dict[int, socket.socket] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._accepting = False
        self.to_owner = 0  # connections whose first request names a live worker's session
        self.to_any = 0  # the others (new sessions...), in turn
        self.unavailable = 0

    # ------------------------------------------------------------------ workers
    def add(self, slot: int) -> None:
        """Worker ``slot`` is ready for connections."""
        if slot not in self.live:
            self.live.append(slot)

    def remove(self, slot: int) -> None:
        """Worker ``slot`` stopped."""
        if slot in self.live:
            self.live.remove(slot)
        self.sender.forget(slot)

    # ------------------------------------------------------------------ accepting
    def start(self) -> None:
        """Accept connections (in the running event loop)."""
        if self._accepting:
            return
        self._accepting = True
        loop = asyncio.get_running_loop()
        for listener in self.listeners:
            listener.setblocking(False)
            if self.defer_accept and hasattr(socket, "TCP_DEFER_ACCEPT"):
                # accept once the first bytes are there (Linux): one read, no waiting
                with contextlib.suppress(OSError):
                    listener.setsockopt(
                        socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, self.defer_accept
                    )
            loop.add_reader(listener.fileno(), self._accept, listener)
        self._sweeper = loop.call_later(self._sweep_every, self._sweep)

    @property
    def _sweep_every(self) -> float:
        return min(_SWEEP_EVERY, self.idle_timeout)

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE (out of descriptors)...
                pause_accepting(listener, functools.partial(self._accept, listener), exc)
                return
            self._read(conn, b"")

    def _read(self, conn: socket.socket, data: bytes) -> None:
        """Read what is there; route once the request line is complete."""
        try:
            # the socket stays in blocking mode (the owner sets its own): no fcntl here
            chunk = conn.recv(65536, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            self._wait(conn, data)
            return
        except OSError:
            conn.close()
            return
        if not chunk:
            conn.close()  # gone before its first request
            return
        data += chunk
        end = data.find(b"\r\n", 0, self.max_line)
        if end < 0 and len(data) < self.max_line:
            self._wait(conn, data)
            return
        self._route(conn, data, request_slot(data, end) if end >= 0 else None)

    def _wait(self, conn: socket.socket, data: bytes) -> None:
        fd = conn.fileno()
        waiting = self._waiting.get(fd)
        if waiting is not None:
            waiting.data = data
            return
        if len(self._waiting) >= self.max_waiting:
            conn.close()
            return
        loop = asyncio.get_running_loop()
        self._waiting[fd] = _Waiting(conn, data, loop.time() + self.idle_timeout)
        loop.add_reader(fd, self._readable, fd)

    def _readable(self, fd: int) -> None:
        waiting = self._waiting.pop(fd, None)
        if waiting is None:
            return
        asyncio.get_running_loop().remove_reader(fd)
        self._read(waiting.conn, waiting.data)

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for fd, waiting in list(self._waiting.items()):
            if waiting.deadline <= now:
                del self._waiting[fd]
                loop.remove_reader(fd)
                waiting.conn.close()
        self._sweeper = loop.call_later(self._sweep_every, self._sweep)

    # ------------------------------------------------------------------ routing
    def _route(self, conn: socket.socket, data: bytes, owner: int | None, tries: int = 0) -> None:
        live = self.live
        if owner is not None and owner in live and self._offer(conn, data, owner, owner, tries):
            return
        count = len(live)
        if count:  # the others in turn (only these connections move the turn)
            start = self._turn % count
            self._turn += 1
            for i in range(count):
                target = live[(start + i) % count]
                if target != owner and self._offer(conn, data, target, owner, tries):
                    return
        self._refuse(conn)

    def _offer(
        self, conn: socket.socket, data: bytes, target: int, owner: int | None, tries: int
    ) -> bool:
        """Pass the connection to ``target``: True if it went, or will."""
        fd = conn.fileno()
        done = functools.partial(self._handed, conn, data, target, owner, tries)
        status = self.sender.offer(target, fd, data, done)
        if status == DONE:
            self._count(target, owner)
            conn.close()
            return True
        if status == LATER:
            self._handing[fd] = conn
            return True
        return False

    def _handed(
        self,
        conn: socket.socket,
        data: bytes,
        target: int,
        owner: int | None,
        tries: int,
        sent: bool,
    ) -> None:
        self._handing.pop(conn.fileno(), None)
        if sent:
            self._count(target, owner)
            conn.close()
        elif tries < 2 and self._accepting:
            self._route(conn, data, owner, tries + 1)
        else:
            self._refuse(conn)

    def _count(self, target: int, owner: int | None) -> None:
        if target == owner:
            self.to_owner += 1
        else:
            self.to_any += 1

    def _refuse(self, conn: socket.socket) -> None:
        self.unavailable += 1
        with contextlib.suppress(OSError):
            conn.send(_UNAVAILABLE, socket.MSG_DONTWAIT)
        conn.close()

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        """Stop accepting and close the connections not handed over yet (idempotent)."""
        if not self._accepting:
            self.sender.close()
            return
        self._accepting = False
        loop = asyncio.get_running_loop()
        for listener in self.listeners:
            with contextlib.suppress(Exception):
                loop.remove_reader(listener.fileno())
            listener.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for fd, waiting in list(self._waiting.items()):
            loop.remove_reader(fd)
            waiting.conn.close()
        self._waiting.clear()
        self.sender.close()  # queued hand-offs come back through _handed and are closed
        for conn in list(self._handing.values()):
            conn.close()
        self._handing.clear()
