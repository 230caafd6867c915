"""The mesh: one Unix stream connection between each pair of the workers of a run directory.

Each worker listens on its ``w<slot>.mesh`` socket and, when it starts, dials every live slot
(:meth:`~aiosocketio.workers.slots.WorkerDir.live_slots`); it dials them again every
``rescan_interval`` seconds, so that a pair whose connection was lost finds itself again.
When two workers dial each other at the same time, the connection dialled by the lower slot
wins and the other one is refused before it carries anything: one connection per pair.

Frames: a 4-byte big-endian length (of what follows), a kind byte, the body::

    HELLO    dialer -> acceptor   {"v": 1, "slot": n, "uid": "...", "pid": os pid}
    WELCOME  acceptor -> dialer   the same, for the acceptor
    REFUSE   acceptor -> dialer   a reason (text); the acceptor then closes
    DATA     either way           the payload, after HELLO / WELCOME

A worker's ``uid`` is random per incarnation: a worker that restarts in the same slot is a new
peer (its old connections ended with its process). The mesh stops when its slot is given
back. A peer is *joined* once the hello exchange is done and *leaves* when its connection
closes, at once. A peer that stops reading is dropped once ``max_buffer`` bytes wait for it,
and reported: memory stays bounded.

Payloads are opaque bytes: :meth:`Mesh.publish` frames a payload once and writes that same
frame to every peer. Frames queued in one turn of the event loop leave together (one write per
peer), so a burst of messages costs one system call per peer, not one per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import struct
from collections.abc import Callable
from typing import Any, cast

from .. import _json
from .slots import MAX_SLOTS, Slot

__all__ = ["Mesh", "MeshError", "Peer", "check_limits"]

log = logging.getLogger("aiosocketio.workers.mesh")

VERSION = 1
HELLO, WELCOME, REFUSE, DATA = 1, 2, 3, 4
_KINDS = frozenset((HELLO, WELCOME, REFUSE, DATA))
_LENGTH = struct.Struct(">I")
_unpack_length = _LENGTH.unpack_from
_HEADER = 5  # the length and the kind byte

JoinHook = Callable[["Peer"], None]
LeaveHook = Callable[["Peer", str], None]
MessageHook = Callable[["Peer", "bytes | bytearray"], None]


class MeshError(Exception):
    """A peer broke the mesh protocol (its connection is closed)."""


def check_limits(max_buffer: int, max_frame: int) -> None:
    """Raise ValueError unless 0 < max_frame <= max_buffer."""
    if max_frame <= 0 or max_buffer < max_frame:
        raise ValueError(
            f"the mesh needs 0 < max_frame <= max_buffer ({max_frame=}, {max_buffer=})"
        )


def frame(kind: int, body: bytes) -> bytes:
    """One frame: length, kind, body."""
    return _LENGTH.pack(len(body) + 1) + bytes((kind,)) + body


class Peer:
    """Another worker, as long as its connection is open (``closed`` afterwards)."""

    __slots__ = ("_conn", "_pending", "_pending_size", "closed", "pid", "slot", "uid")

    def __init__(self, slot: int, uid: str, pid: int, conn: _Connection) -> None:
        self.slot = slot
        self.uid = uid
        self.pid = pid
        """The operating system's process id of the peer (for logs)."""
        self.closed = False
        self._conn = conn
        self._pending: list[bytes] = []
        self._pending_size = 0

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<Peer slot={self.slot} uid={self.uid} pid={self.pid}{state}>"


class _Connection(asyncio.Protocol):
    """One end of a mesh connection: the frames in, the hello exchange."""

    def __init__(self, mesh: Mesh, dialed: int | None) -> None:
        self.mesh = mesh
        self.dialed = dialed
        """The slot this end dialed; None when it accepted the connection."""
        self.transport: asyncio.Transport | None = None
        self.peer: Peer | None = None
        self.answered: asyncio.Future[None] = mesh._loop.create_future()
        """Done when the hello exchange ends (either way) or the connection is lost."""
        self.lost: asyncio.Future[None] = mesh._loop.create_future()
        self.closed = False
        self._buffer = bytearray()
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<mesh connection {self.dialed=} {self.peer=}>"

    # ---------------------------------------------------------------- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.transport = transport
        mesh = self.mesh
        if mesh.closed:
            transport.abort()
            return
        mesh._connections.add(self)
        transport.set_write_buffer_limits(high=mesh.max_buffer)
        self._timer = mesh._loop.call_later(mesh.hello_timeout, self._no_hello)
        if self.dialed is not None:
            transport.write(frame(HELLO, mesh._hello))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        view: bytes | bytearray
        if buffer:
            buffer += data
            view = buffer
        else:
            view = data
        size = len(view)
        pos = 0
        max_frame = self.mesh.max_frame
        try:
            while size - pos >= _HEADER and not self.closed:
                (length,) = _unpack_length(view, pos)
                if length == 0 or length > max_frame + 1:
                    raise MeshError(f"a frame of {length} bytes (at most {max_frame + 1})")
                end = pos + 4 + length
                if end > size:
                    break
                kind = view[pos + 4]
                body = view[pos + _HEADER : end]
                pos = end
                if kind == DATA and self.peer is not None:
                    self.mesh._on_data(self.peer, body)
                else:
                    self._control(kind, body)
        except MeshError as exc:
            self.mesh._protocol_error(self, str(exc))
            return
        if self.closed:
            return
        if view is buffer:
            del buffer[:pos]
        elif pos < size:
            self._buffer = bytearray(view[pos:])

    def pause_writing(self) -> None:
        self.mesh._too_slow(self)

    def resume_writing(self) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        for future in (self.answered, self.lost):
            if not future.done():
                future.set_result(None)
        self.mesh._connection_lost(self, exc)

    # ---------------------------------------------------------------- hello exchange
    def _control(self, kind: int, body: bytes | bytearray) -> None:
        if self.peer is None:
            if kind == HELLO and self.dialed is None:
                self.mesh._on_hello(self, _hello_of(body))
                return
            if kind == WELCOME and self.dialed is not None:
                self.mesh._on_welcome(self, _hello_of(body))
                return
            if kind == REFUSE and self.dialed is not None:
                log.debug("slot %s refused the connection: %s", self.dialed, _text(body))
                self.close()
                return
        raise MeshError(f"unexpected frame of kind {kind}" if kind in _KINDS else f"kind {kind}")

    def _no_hello(self) -> None:
        self._timer = None
        if self.peer is None and not self.closed:
            self.mesh._protocol_error(self, "no hello in time")

    def established(self, peer: Peer) -> None:
        self.peer = peer
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.answered.done():
            self.answered.set_result(None)

    def send(self, kind: int, body: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(frame(kind, body))

    def refuse(self, reason: str) -> None:
        self.send(REFUSE, reason.encode())
        self.close()

    def close(self) -> None:
        """Close after what is buffered is written."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


def _hello_of(body: bytes | bytearray) -> tuple[int, str, int]:
    try:
        hello = _json.loads(bytes(body))
    except ValueError:
        raise MeshError("a hello that is not JSON") from None
    if not isinstance(hello, dict) or hello.get("v") != VERSION:
        raise MeshError(f"a hello of another version: {_text(body)}")
    slot, uid, pid = hello.get("slot"), hello.get("uid"), hello.get("pid", 0)
    if (
        type(slot) is not int
        or not 0 <= slot < MAX_SLOTS
        or not isinstance(uid, str)
        or not 0 < len(uid) <= 64
        or type(pid) is not int
    ):
        raise MeshError(f"a malformed hello: {_text(body)}")
    return slot, uid, pid


def _text(body: bytes | bytearray) -> str:
    return bytes(body[:200]).decode(errors="replace")


class Mesh:
    """This worker's end of the mesh of its run directory (see the module docstring).

    ``on_join(peer)``, ``on_leave(peer, reason)`` and ``on_message(peer, payload)`` are called
    in the event loop; ``payload`` is ``bytes`` or a ``bytearray`` (read it, do not keep it).
    ``max_buffer``: the bytes that may wait for one peer before it is dropped;
    ``max_frame``: the largest payload; ``rescan_interval``: how often the live slots are
    dialled again (0: never); ``hello_timeout``: how long a new connection may take to say
    who it is. Made in the event loop that runs it.
    """

    def __init__(
        self,
        slot: Slot,
        *,
        on_join: JoinHook | None = None,
        on_leave: LeaveHook | None = None,
        on_message: MessageHook | None = None,
        max_buffer: int = 64 * 1024 * 1024,
        max_frame: int = 32 * 1024 * 1024,
        rescan_interval: float = 2.0,
        hello_timeout: float = 5.0,
    ) -> None:
        check_limits(max_buffer, max_frame)
        self.slot = slot
        self.uid = secrets.token_hex(8)
        self.on_join = on_join
        self.on_leave = on_leave
        self.on_message = on_message
        self.max_buffer = max_buffer
        self.max_frame = max_frame
        self.rescan_interval = rescan_interval
        self.hello_timeout = hello_timeout
        self.peers: dict[int, Peer] = {}
        """The joined peers, by slot."""
        self.dropped = 0
        """How many peers were dropped because they stopped reading."""
        self.frames_out = 0
        """Payloads sent, counted once per peer."""
        self.frames_in = 0
        """Payloads received."""
        self.closed = False
        self._all: tuple[Peer, ...] = ()
        self._dialing: set[int] = set()
        self._connections: set[_Connection] = set()
        self._dirty: list[Peer] = []
        self._flush_soon = False
        self._server: asyncio.AbstractServer | None = None
        self._inode: int | None = None
        self._rescan: asyncio.Task[None] | None = None
        self._hello = _json.dumps(
            {"v": VERSION, "slot": slot.number, "uid": self.uid, "pid": os.getpid()}
        ).encode()
        self._loop = asyncio.get_running_loop()

    def __repr__(self) -> str:
        return f"<Mesh slot={self.slot.number} uid={self.uid} peers={sorted(self.peers)}>"

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Listen, then dial every live slot (returns once each answered or failed)."""
        if self.closed:
            raise MeshError("this mesh is closed")
        path = self.slot.path("mesh")
        self._server = await self._loop.create_unix_server(
            lambda: _Connection(self, None), path, backlog=MAX_SLOTS
        )
        self._inode = os.stat(path).st_ino
        self.slot.on_release(self.stop)  # a worker that gave its slot back is out of the mesh
        await self.scan()
        if self.rescan_interval > 0:
            self._rescan = self._loop.create_task(self._rescan_loop())
            self._rescan.set_name(f"mesh rescan {self.slot.number}")

    async def scan(self) -> None:
        """Dial the live slots that are not peers yet (and not being dialled)."""
        own = self.slot.number
        targets = [
            number
            for number in self.slot.dir.live_slots()
            if number != own and number not in self.peers and number not in self._dialing
        ]
        if targets:
            await asyncio.gather(*(self._dial(number) for number in targets))

    async def _rescan_loop(self) -> None:
        while not self.closed:
            await asyncio.sleep(self.rescan_interval)
            try:
                await self.scan()
            except OSError as exc:
                log.warning("cannot read the workers directory %s: %s", self.slot.dir.path, exc)

    async def _dial(self, number: int) -> None:
        self._dialing.add(number)
        try:
            path = self.slot.dir.socket_path(number, "mesh")
            try:
                _, conn = await self._loop.create_unix_connection(
                    lambda: _Connection(self, number), path
                )
            except (FileNotFoundError, ConnectionRefusedError):
                # a worker that is starting (not listening yet) or a dead one's stale file
                log.debug("slot %s: no mesh listener (yet)", number)
                return
            except OSError as exc:
                log.info("cannot reach the worker of slot %s: %s", number, exc)
                return
            try:
                await asyncio.wait_for(asyncio.shield(conn.answered), self.hello_timeout)
            except TimeoutError:
                self._protocol_error(conn, "no answer to hello in time")
        finally:
            self._dialing.discard(number)

    def stop(self) -> None:
        """Stop listening, send what waits and close every connection (peers see it at
        once), without waiting; the slot's release calls this."""
        if self.closed:
            return
        self.closed = True
        if self._rescan is not None:
            self._rescan.cancel()
        server = self._server
        if server is not None:
            server.close()
            self._unlink()
        self._flush()
        for conn in list(self._connections):
            conn.close()
        for peer in list(self._all):
            self._lost(peer, "this worker closed its mesh")

    async def close(self, timeout: float = 1.0) -> None:
        """:meth:`stop`, then wait (at most ``timeout``) for the connections to end."""
        connections = list(self._connections)
        self.stop()
        rescan, self._rescan = self._rescan, None
        if rescan is not None and rescan is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError):
                await rescan
        if connections:
            await asyncio.wait([c.lost for c in connections], timeout=timeout)
            for conn in connections:
                if not conn.lost.done():
                    conn.abort()
        server, self._server = self._server, None
        if server is not None:
            await server.wait_closed()

    def _unlink(self) -> None:
        """Remove the socket file if it is still this mesh's (not a later owner's)."""
        path = self.slot.path("mesh")
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == self._inode:
                os.unlink(path)

    # ---------------------------------------------------------------- sending
    def publish(self, payload: bytes) -> int:
        """Send ``payload`` to every peer (framed once); returns how many peers it goes to.

        Raises ValueError when it is larger than ``max_frame``."""
        peers = self._all
        if not peers:
            return 0
        data = self._frame(payload)
        for peer in peers:
            self._queue(peer, data)
        self.frames_out += len(peers)
        return len(peers)

    def send(self, peer: Peer, payload: bytes) -> bool:
        """Send ``payload`` to one peer; False when it has left."""
        if peer.closed:
            return False
        self._queue(peer, self._frame(payload))
        self.frames_out += 1
        return True

    def _frame(self, payload: bytes) -> bytes:
        if len(payload) > self.max_frame:
            raise ValueError(
                f"a mesh message of {len(payload)} bytes is larger than max_frame "
                f"({self.max_frame})"
            )
        return frame(DATA, payload)

    def _queue(self, peer: Peer, data: bytes) -> None:
        pending = peer._pending
        if not pending:
            self._dirty.append(peer)
            if not self._flush_soon:
                self._flush_soon = True
                self._loop.call_soon(self._flush)
        pending.append(data)
        peer._pending_size += len(data)
        if peer._pending_size > self.max_buffer:
            self._write(peer)

    def _flush(self) -> None:
        self._flush_soon = False
        dirty, self._dirty = self._dirty, []
        for peer in dirty:
            self._write(peer)

    def _write(self, peer: Peer) -> None:
        pending = peer._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        peer._pending_size = 0
        transport = peer._conn.transport
        if not peer.closed and transport is not None:
            transport.write(data)  # may call pause_writing: the peer is dropped

    # ---------------------------------------------------------------- events
    def _on_hello(self, conn: _Connection, hello: tuple[int, str, int]) -> None:
        slot, uid, pid = hello
        own = self.slot.number
        if slot == own:
            conn.refuse("that is my own slot")
            return
        if not self.slot.dir.is_live(slot):
            conn.refuse(f"slot {slot} is not held by a running worker")
            return
        if slot in self._dialing and own < slot:
            conn.refuse("dialing you: the lower slot's connection wins")
            return
        existing = self.peers.get(slot)
        if existing is not None:
            if existing.uid == uid:
                conn.refuse("already connected")
                return
            self._lost(existing, "a new worker took its slot")
        conn.send(WELCOME, self._hello)
        self._establish(conn, slot, uid, pid)

    def _on_welcome(self, conn: _Connection, hello: tuple[int, str, int]) -> None:
        slot, uid, pid = hello
        if slot != conn.dialed:
            raise MeshError(f"dialled slot {conn.dialed}, slot {slot} answered")
        existing = self.peers.get(slot)
        if existing is not None:
            if existing.uid == uid:
                conn.close()
                return
            self._lost(existing, "a new worker took its slot")
        self._establish(conn, slot, uid, pid)

    def _establish(self, conn: _Connection, slot: int, uid: str, pid: int) -> None:
        peer = Peer(slot, uid, pid, conn)
        conn.established(peer)
        self.peers[slot] = peer
        self._all = tuple(self.peers.values())
        log.debug("slot %s: peer %r joined", self.slot.number, peer)
        if self.on_join is not None:
            _call(self.on_join, peer)

    def _on_data(self, peer: Peer, body: bytes | bytearray) -> None:
        self.frames_in += 1
        if self.on_message is not None and not peer.closed:
            _call(self.on_message, peer, body)

    def _connection_lost(self, conn: _Connection, exc: Exception | None) -> None:
        self._connections.discard(conn)
        peer = conn.peer
        if peer is not None:
            self._lost(peer, f"connection lost: {exc}" if exc else "connection closed")

    def _forget(self, peer: Peer) -> bool:
        """Mark a peer gone and stop writing to it; False when it was already."""
        if peer.closed:
            return False
        peer.closed = True
        peer._pending.clear()
        if self.peers.get(peer.slot) is peer:
            del self.peers[peer.slot]
            self._all = tuple(self.peers.values())
        return True

    def _lost(self, peer: Peer, reason: str) -> None:
        if not self._forget(peer):
            return
        peer._conn.close()
        self._left(peer, reason)

    def _left(self, peer: Peer, reason: str) -> None:
        log.debug("slot %s: peer %r left (%s)", self.slot.number, peer, reason)
        if self.on_leave is not None:
            _call(self.on_leave, peer, reason)

    def _too_slow(self, conn: _Connection) -> None:
        transport = conn.transport
        waiting = transport.get_write_buffer_size() if transport is not None else 0
        peer = conn.peer
        conn.abort()  # safe inside the transport's write: it ends with this call
        if peer is None or not self._forget(peer):
            return
        self.dropped += 1
        log.warning(
            "mesh: dropped the worker of slot %s (pid %s): it stopped reading (%d bytes waited "
            "for it, max_buffer %d)",
            peer.slot,
            peer.pid,
            waiting,
            self.max_buffer,
        )
        # told in the next step: this one may be the middle of a publish
        self._loop.call_soon(self._left, peer, f"dropped: it stopped reading ({waiting} bytes)")

    def _protocol_error(self, conn: _Connection, message: str) -> None:
        log.warning("mesh of slot %s: closing a connection: %s", self.slot.number, message)
        conn.abort()


def _call(hook: Callable[..., Any], *args: Any) -> None:
    try:
        hook(*args)
    except Exception:
        log.exception("error in a mesh callback")
