"""Hand-off of accepted TCP connections between the workers of one machine.

Every worker listens on the same port with ``SO_REUSEPORT``, so the kernel, not the session
id, picks the worker of a new connection. When the first request of a connection names a
session of another worker, the worker passes the connection's socket to that worker
(``SCM_RIGHTS`` over the owner's ``slot.path("fd")``, a ``SOCK_SEQPACKET`` Unix socket),
together with the bytes it already read from it, and forgets it. The owner adopts the socket
as if it had accepted it. After that the connection costs nothing extra: its next requests
reach the owner directly.

Wire format on the ``fd`` socket, one hand-off after the other on a connection between two
workers: a first message of ``!I`` (how many already-read bytes come with the socket) and
the first bytes, carrying the socket as ``SCM_RIGHTS``; then as many messages of plain bytes
as needed for the rest (at most :data:`CHUNK` bytes each).

Nothing here blocks: sends are non-blocking, and a hand-off that the kernel cannot take at
once waits in a short per-peer queue (:data:`MAX_QUEUED`), beyond which the sender serves the
request itself (forwarding it: see the engine's workers mode).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import logging
import os
import re
import socket
import struct
from collections import deque
from collections.abc import Callable

from .slots import MAX_SLOTS, Slot, WorkerDir, slot_code

__all__ = [
    "CHUNK",
    "DONE",
    "LATER",
    "MAX_QUEUED",
    "NO",
    "SLOT_OF_CODE",
    "Handoff",
    "Sender",
    "request_slot",
]

log = logging.getLogger("aiosocketio.workers")

DONE = 0
"""The owner has the socket now (in the kernel's hands): close this process's copy."""
LATER = 1
"""Queued: the callback says later whether it went (True) or not (False)."""
NO = 2
"""Cannot hand it off (no such worker, or too many waiting): serve it here."""

CHUNK = 65536
"""Most bytes in one message (a SEQPACKET message must fit the socket's send buffer)."""
MAX_QUEUED = 64
"""Hand-offs waiting for one peer before further ones are refused."""
MAX_BYTES = 8 * 1024 * 1024
"""Most already-read bytes accepted with one socket (a larger announcement is an error)."""

_HEADER = struct.Struct("!I")
_FD_SPACE = socket.CMSG_SPACE(array.array("i").itemsize)
_MAX_FDS_SPACE = socket.CMSG_SPACE(16 * array.array("i").itemsize)

# a sid in the query of a request line, and the slots by the first 2 bytes of their sids
_SID = re.compile(rb"[?&]sid=")
SLOT_OF_CODE = {slot_code(n): n for n in range(MAX_SLOTS)}
"""The slot of a session id's first two characters (what :func:`slot_of` reads)."""
_SLOTS = {code.encode(): n for code, n in SLOT_OF_CODE.items()}

Done = Callable[[bool], None]
Adopt = Callable[[socket.socket, bytes], None]


def request_slot(data: bytes, end: int) -> int | None:
    """The slot named by the ``sid`` of the request line ``data[:end]`` (None: no sid, or
    one that names no slot). Cheap: one ``find`` for requests without a sid."""
    at = data.find(b"sid=", 0, end)
    if at < 0:
        return None
    if data[at - 1] not in b"?&":  # xsid=... : look further, the slow way
        match = _SID.search(data, at, end)
        if match is None:
            return None
        at = match.start() + 1
    return _SLOTS.get(data[at + 4 : at + 6]) if at + 6 < end else None


class _Item:
    """One hand-off on its way: a private copy of the socket and the bytes."""

    __slots__ = ("data", "fd", "offset", "on_done", "owned")

    def __init__(self, fd: int, data: bytes) -> None:
        self.fd = fd
        self.owned = False  # True: fd is this item's own copy (closed once sent)
        self.data = data
        self.offset = -1  # -1: the first message (with the socket) is not sent yet
        self.on_done: Done | None = None


class _Peer:
    """The connection to one other worker's ``fd`` socket and the hand-offs queued on it."""

    def __init__(self, owner: Sender, slot: int, sock: socket.socket) -> None:
        self.owner = owner
        self.slot = slot
        self.sock = sock
        self.queue: deque[_Item] = deque()
        self.writing = False
        self.broken = False

    def flush(self) -> None:
        """Send what the kernel takes now; wait for writability for the rest."""
        queue = self.queue
        sock = self.sock
        try:
            while queue:
                item = queue[0]
                data = item.data
                if item.offset < 0:
                    first = data[: CHUNK - _HEADER.size]
                    fds = array.array("i", (item.fd,))
                    sock.sendmsg(
                        [_HEADER.pack(len(data)), first],
                        [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)],
                    )
                    item.offset = len(first)
                    self.owner.sent += 1
                    _close_fd(item)
                    if item.on_done is not None:
                        item.on_done(True)
                while item.offset < len(data):
                    end = item.offset + CHUNK
                    sock.send(data[item.offset : end])
                    item.offset = end
                queue.popleft()
        except (BlockingIOError, InterruptedError):
            if not self.writing:
                self.writing = True
                asyncio.get_running_loop().add_writer(sock.fileno(), self.flush)
            return
        except OSError as exc:
            # EPIPE, ECONNRESET: that worker is gone (a new one may have its slot)
            level = logging.DEBUG if isinstance(exc, ConnectionError) else logging.WARNING
            log.log(level, "hand-off to worker %d failed: %s", self.slot, exc)
            self.close()
            return
        if self.writing:
            self.writing = False
            asyncio.get_running_loop().remove_writer(sock.fileno())

    def close(self) -> None:
        """Drop the connection; hand-offs that did not go are given back to their senders."""
        if self.broken:
            return
        self.broken = True
        self.owner.peers.pop(self.slot, None)
        if self.writing:
            self.writing = False
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_writer(self.sock.fileno())
        self.sock.close()
        items, self.queue = list(self.queue), deque()
        for item in items:
            if item.offset < 0:
                _close_fd(item)
                if item.on_done is not None:
                    item.on_done(False)


ACCEPT_PAUSE = 0.5
"""Seconds a listening socket is not watched after ``accept()`` failed (out of descriptors)."""


def pause_accepting(listener: socket.socket, accept: Callable[[], None], exc: OSError) -> None:
    """``accept()`` failed on ``listener`` (EMFILE...): the connection stays queued, so the
    socket stays readable; stop watching it for :data:`ACCEPT_PAUSE` seconds."""
    log.warning("cannot accept a connection (%s): pausing for %.1f s", exc, ACCEPT_PAUSE)
    loop = asyncio.get_running_loop()
    fd = listener.fileno()
    loop.remove_reader(fd)

    def resume() -> None:
        if listener.fileno() == fd:  # not closed meanwhile
            loop.add_reader(fd, accept)

    loop.call_later(ACCEPT_PAUSE, resume)


def _close_fd(item: _Item) -> None:
    fd, item.fd = item.fd, -1
    if fd >= 0 and item.owned:
        os.close(fd)


class _Inbound:
    """One other worker's connection to this worker's ``fd`` socket."""

    def __init__(self, owner: Handoff, sock: socket.socket) -> None:
        self.owner = owner
        self.sock = sock
        self.conn: socket.socket | None = None  # the socket being received
        self.expected = 0
        self.chunks: list[bytes] = []
        self.size = 0

    def readable(self) -> None:
        sock = self.sock
        while True:
            try:
                message, ancillary, flags, _ = sock.recvmsg(CHUNK, _MAX_FDS_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("error on a hand-off connection: %s", exc)
                self.close()
                return
            fds = _fds_of(ancillary)
            if not message and not fds:
                self.close()  # the other worker closed its side
                return
            if not self._take(message, fds, flags):
                for fd in fds:
                    os.close(fd)
                if flags & socket.MSG_CTRUNC:  # the kernel could not give us the socket
                    log.warning("a handed-over connection was lost (out of descriptors?)")
                else:
                    log.warning("malformed hand-off message; dropping the connection")
                self.close()
                return

    def _take(self, message: bytes, fds: list[int], flags: int) -> bool:
        """Add one message; False when it breaks the format (the caller closes ``fds``)."""
        if flags & (socket.MSG_CTRUNC | socket.MSG_TRUNC):
            return False
        if self.conn is None:
            if len(fds) != 1 or len(message) < _HEADER.size:
                return False
            (expected,) = _HEADER.unpack_from(message)
            message = message[_HEADER.size :]
            if expected > MAX_BYTES or len(message) > expected:
                return False
            try:
                self.conn = socket.socket(fileno=fds[0])
            except OSError:
                return False  # not a socket
            fds.clear()
            self.expected = expected
        elif fds or self.size + len(message) > self.expected:
            return False
        self.chunks.append(message)
        self.size += len(message)
        if self.size == self.expected:
            conn, self.conn = self.conn, None
            data = b"".join(self.chunks)
            self.chunks = []
            self.size = 0
            self.owner.adopt_socket(conn, data)
        return True

    def close(self) -> None:
        owner = self.owner
        if self not in owner.inbound:
            return
        owner.inbound.discard(self)
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()
        if self.conn is not None:
            self.conn.close()  # the client sees its connection reset and retries
            self.conn = None


def _fds_of(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    return list(fds)


class Sender:
    """Passes sockets to the workers of a run directory (:meth:`offer`): a worker, or the
    supervisor's router (``own`` None). Counters: :attr:`sent`, :attr:`refused`."""

    def __init__(self, run_dir: WorkerDir, own: int | None = None) -> None:
        self.run_dir = run_dir
        self.number = own
        self.peers: dict[int, _Peer] = {}
        self._closed = False
        self.sent = 0
        self.refused = 0

    def offer(self, target: int, fd: int, data: bytes, on_done: Done) -> int:
        """Pass the connection ``fd`` (this process keeps its copy) and ``data`` (the bytes
        already read from it) to worker ``target``.

        Returns :data:`DONE` (sent: close your copy), :data:`NO` (serve it yourself) or
        :data:`LATER`: ``on_done(True)`` follows once it is sent, ``on_done(False)`` if it
        cannot be; keep the connection paused until then."""
        for _ in range(2):  # a second time when a kept connection turns out to be dead
            fresh = target not in self.peers
            peer = self._peer(target)
            if peer is None or len(peer.queue) >= MAX_QUEUED:
                break
            item = _Item(fd, data)
            peer.queue.append(item)
            if len(peer.queue) == 1:
                peer.flush()  # usually sends it at once, with the caller's descriptor
            if item.offset >= 0:
                return DONE
            if not peer.broken:
                try:
                    item.fd = os.dup(fd)  # the caller may close its copy before it goes
                except OSError:
                    peer.queue.remove(item)
                    break
                item.owned = True
                item.on_done = on_done
                return LATER
            if fresh:
                break
        self.refused += 1
        return NO

    def _peer(self, target: int) -> _Peer | None:
        if self._closed or target == self.number:
            return None
        peer = self.peers.get(target)
        if peer is not None:
            return peer
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except OSError:  # out of descriptors
            return None
        sock.setblocking(False)
        try:
            sock.connect(self.run_dir.socket_path(target, "fd"))
        except OSError:
            # no such worker (never was, died, or is draining), or its backlog is full
            sock.close()
            return None
        peer = self.peers[target] = _Peer(self, target, sock)
        return peer

    def forget(self, target: int) -> None:
        """Drop the connection to ``target`` (it stopped): queued hand-offs come back."""
        peer = self.peers.get(target)
        if peer is not None:
            peer.close()

    def close(self) -> None:
        """Stop sending (idempotent); queued hand-offs go back to their senders."""
        self._closed = True
        for peer in list(self.peers.values()):
            peer.close()


class Handoff(Sender):
    """Both sides of the hand-off for one worker.

    ``adopt(sock, data)`` receives the sockets other workers (or the router) pass to this
    one (non-blocking, with the bytes they already read). :meth:`offer` passes one of this
    worker's sockets to another worker. Counters: :attr:`sent`, :attr:`adopted`,
    :attr:`refused`.
    """

    def __init__(self, slot: Slot, adopt: Adopt) -> None:
        super().__init__(slot.dir, slot.number)
        self.slot = slot
        self._adopt = adopt
        self.inbound: set[_Inbound] = set()
        self._listener: socket.socket | None = None
        self.adopted = 0

    def start(self) -> None:
        """Listen on this worker's ``fd`` socket (in the running event loop)."""
        path = self.slot.path("fd")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            listener.bind(path)
            listener.listen(128)
            listener.setblocking(False)
            asyncio.get_running_loop().add_reader(listener.fileno(), self._accept)
        except BaseException:
            listener.close()
            raise
        self._listener = listener

    def _accept(self) -> None:
        listener = self._listener
        if listener is None:
            return
        while True:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE...: pause, or the ready socket makes a busy loop
                pause_accepting(listener, self._accept, exc)
                return
            sock.setblocking(False)
            inbound = _Inbound(self, sock)
            self.inbound.add(inbound)
            asyncio.get_running_loop().add_reader(sock.fileno(), inbound.readable)
            inbound.readable()

    def adopt_socket(self, conn: socket.socket, data: bytes) -> None:
        if self._closed:
            conn.close()
            return
        self.adopted += 1
        conn.setblocking(False)
        try:
            self._adopt(conn, data)
        except Exception:
            log.exception("error while adopting a handed-off connection")
            conn.close()

    def close(self) -> None:
        """Stop receiving and sending (idempotent); queued hand-offs go back to their senders."""
        if self._closed:
            return
        super().close()
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(listener.fileno())
            listener.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.slot.path("fd"))
        for inbound in list(self.inbound):
            inbound.close()
