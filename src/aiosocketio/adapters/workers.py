"""The adapter between the workers of one machine, with no broker: the ClusterAdapter protocol
over the mesh of their run directory (:mod:`aiosocketio.workers.mesh`).

Everything the Redis adapter does works across the workers: broadcasts with rooms, except and
local; broadcast acknowledgements from the clients of every worker; ``fetch_sockets`` and the
remote socket operations; ``sockets_join``, ``sockets_leave`` and ``disconnect_sockets``;
``server_side_emit`` with acknowledgements; the server count. A message is encoded once and
the same bytes go to every worker; each worker encodes a broadcast once for its own clients.

Membership is the mesh's: a worker counts, in a namespace, once its adapter of that namespace
said it is there (a heartbeat when it starts or when the workers meet), and stops counting the
moment its connection closes (it died, or closed) or its namespace closes. Requests waiting for
its answers stop waiting for it then, and so do broadcasts waiting for its clients'
acknowledgements. There are no periodic heartbeats: a worker whose event loop is stuck still
counts (its connection is open), and a request to it ends with its ``request_timeout``.

Connection state recovery works across workers: a client that comes back on another worker
is restored by the worker that kept its session (each worker is asked; the first that has it
answers). The session lives where the client was last connected, which after a move is not
the worker its private id was first made on: asking every worker is what finds it.

The mesh protocol is private to the workers of one deployment (there are no Node peers on
it): JSON (orjson) for messages, MessagePack for a message holding binary data (or, without
msgpack installed, the JSON with placeholders as the Socket.IO wire has them, followed by the
raw attachments).

Use it through :func:`workers_adapter` (a Server in workers mode does)::

    io = Server(adapter=workers_adapter(slot))
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from .. import _json
from ..errors import ProtocolError
from ..runtime import spawn
from ..socketio.packets import Packet, _deconstruct, _reconstruct, has_binary
from ..workers.mesh import Mesh, Peer, check_limits
from ..workers.slots import Slot
from .base import BroadcastOptions, ClusterError, PersistedSession
from .cluster import (
    ClusterAdapter,
    ClusterAdapterWithHeartbeat,
    MessageType,
    PendingRequest,
    drop_unencodable_data,
    future_done,
    new_request_id,
)
from .link import Links, LinkUser
from .memory import MemoryAdapter
from .seam import Host

__all__ = [
    "WorkersAdapter",
    "WorkersAdapterFactory",
    "WorkersLink",
    "decode_message",
    "encode_message",
    "encode_with_attachments",
    "workers_adapter",
]

log = logging.getLogger("aiosocketio.adapters.workers")

SlotSource = Slot | Callable[[], Slot | None]
"""The worker's slot, or a function that gives it once the server claimed it (None before)."""

RESTORE_SESSION = 100
RESTORE_SESSION_RESPONSE = 101
"""Private message types (connection state recovery across workers)."""

_BROADCAST = int(MessageType.BROADCAST)
_BINARY = 0  # the first byte of a message with attachments (a JSON one starts with "{")
_U32 = struct.Struct(">I")
_orjson_dumps = orjson.dumps


# ---------------------------------------------------------------------------------- wire forms
try:
    from .msgpack_codec import decode as _msgpack_decode
    from .msgpack_codec import encode as _msgpack_encode
except ImportError:  # msgpack is optional: binary messages then use the attachments form
    _msgpack_encode = _msgpack_decode = None  # type: ignore[assignment]

_MSGPACK_MAPS = frozenset((*range(0x80, 0x90), 0xDE, 0xDF))  # the first byte of a map


def encode_message(message: Any) -> bytes:
    """A message as the workers send it. Raises TypeError when it cannot be encoded.

    JSON; with binary data inside, MessagePack (4 to 10 times faster than the other form
    here), or when msgpack is not installed or refuses the message (integers beyond 64
    bits): a zero byte, the number of attachments and their lengths (4 bytes each,
    big-endian), the JSON with placeholders (as the Socket.IO wire has them), then the
    attachments."""
    try:
        return _orjson_dumps(message)  # the common case: orjson refuses bytes, so no walk first
    except TypeError:
        pass
    if not has_binary(message):
        return _json.dumps(message).encode()  # big integers, non-string keys...
    if _msgpack_encode is not None:
        try:
            return _msgpack_encode(message)
        except TypeError:
            pass
    return encode_with_attachments(message)


def encode_with_attachments(message: Any) -> bytes:
    """The form of a binary message without MessagePack (see :func:`encode_message`)."""
    buffers: list[bytes] = []
    skeleton = _json.dumps(_deconstruct(message, buffers)).encode()
    head = struct.pack(f">BI{len(buffers)}I", _BINARY, len(buffers), *map(len, buffers))
    return b"".join((head, skeleton, *buffers))


def decode_message(data: bytes | bytearray) -> Any:
    """A message from :func:`encode_message`; ValueError when it is not one."""
    first = data[0] if data else None
    if first == _BINARY:
        return _with_attachments(data)
    if first in _MSGPACK_MAPS:
        if _msgpack_decode is None:
            raise ValueError("a MessagePack message, and msgpack is not installed here")
        return _msgpack_decode(data)  # type: ignore[arg-type]
    return _json.loads(data)


def _with_attachments(data: bytes | bytearray) -> Any:
    try:
        (count,) = _U32.unpack_from(data, 1)
        lengths = struct.unpack_from(f">{count}I", data, 5)
    except struct.error as exc:
        raise ValueError(f"a truncated message: {exc}") from None
    start = 5 + 4 * count
    end = len(data) - sum(lengths)
    if end < start:
        raise ValueError("a truncated message")
    buffers = []
    pos = end
    for length in lengths:
        buffers.append(bytes(data[pos : pos + length]))
        pos += length
    try:
        return _reconstruct(_json.loads(data[start:end]), buffers)
    except ProtocolError as exc:
        raise ValueError(str(exc)) from None


def _session_to_dict(session: PersistedSession) -> dict[str, Any]:
    return {
        "sid": session.sid,
        "pid": session.pid,
        "rooms": session.rooms,
        "data": session.data,
        "missedPackets": session.missed_packets,
    }


def _session_of(raw: Any) -> PersistedSession | None:
    if not isinstance(raw, Mapping):
        return None
    sid, pid = raw.get("sid"), raw.get("pid")
    rooms, missed = raw.get("rooms"), raw.get("missedPackets")
    if not isinstance(sid, str) or not isinstance(pid, str):
        return None
    if not isinstance(rooms, list) or not isinstance(missed, list):
        return None
    return PersistedSession(
        sid,
        pid,
        [r for r in rooms if isinstance(r, str)],
        raw.get("data"),
        missed_packets=[p for p in missed if isinstance(p, list)],
    )


# ---------------------------------------------------------------------------------- link
class WorkersLink:
    """One worker's mesh, shared by the adapters of its namespaces: it starts with the first
    adapter and closes with the last one."""

    def __init__(self, slot: SlotSource, **mesh_options: Any) -> None:
        self._slot = slot
        self.mesh_options = mesh_options
        self.mesh: Mesh | None = None
        self.adapters: dict[str, WorkersAdapter] = {}
        self.closed = False
        self._users = 0
        self._starting: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<WorkersLink {self.mesh!r}>"

    @property
    def slot(self) -> Slot | None:
        """The worker's slot (None while the server has not claimed one)."""
        source = self._slot
        return source if isinstance(source, Slot) else source()

    # ---------------------------------------------------------------- lifecycle
    async def acquire(self) -> None:
        if self.closed:
            raise ClusterError("this workers link is closed")
        self._users += 1
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        await asyncio.shield(self._starting)

    async def _start(self) -> None:
        slot = self.slot
        if slot is None:
            raise ClusterError("the workers adapter has no slot: the server claims one first")
        self.mesh = Mesh(
            slot,
            on_join=self._on_join,
            on_leave=self._on_leave,
            on_message=self._on_message,
            **self.mesh_options,
        )
        await self.mesh.start()

    async def release(self) -> None:
        self._users -= 1
        if self._users <= 0:
            await self.close()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._starting is not None and not self._starting.done():
            await asyncio.wait([self._starting])
        if self.mesh is not None:
            await self.mesh.close()

    # ---------------------------------------------------------------- mesh events
    def _on_join(self, peer: Peer) -> None:
        log.info("the worker of slot %s (pid %s) joined", peer.slot, peer.pid)
        for adapter in list(self.adapters.values()):
            adapter.greet(peer)

    def _on_leave(self, peer: Peer, reason: str) -> None:
        log.info("the worker of slot %s (pid %s) left: %s", peer.slot, peer.pid, reason)
        for adapter in list(self.adapters.values()):
            adapter.peer_left(peer)

    def _on_message(self, peer: Peer, payload: bytes | bytearray) -> None:
        try:
            message = decode_message(payload)
        except ValueError as exc:
            log.warning("a malformed message from the worker of slot %s: %s", peer.slot, exc)
            return
        if type(message) is not dict:
            return
        nsp = message.get("nsp")
        adapter = self.adapters.get(nsp) if type(nsp) is str else None
        if adapter is not None:
            adapter.on_peer_message(peer, message)

    # ---------------------------------------------------------------- sending
    def publish(self, message: dict[str, Any]) -> None:
        """Encode once, send to every worker."""
        mesh = self.mesh
        if mesh is None or not mesh.peers:
            return
        try:
            mesh.publish(encode_message(message))
        except (TypeError, ValueError):
            log.exception("cannot send a message to the other workers")

    def send(self, peer: Peer, data: bytes) -> None:
        mesh = self.mesh
        if mesh is None:
            return
        try:
            mesh.send(peer, data)
        except ValueError:
            log.exception("cannot send a message to the worker of slot %s", peer.slot)


# ---------------------------------------------------------------------------------- acks
class _AckBroadcast:
    """A broadcast with acknowledgements sent to the workers in ``waiting``: a worker's client
    count is passed on once all its clients answered, or when it leaves (then the count of
    the answers it sent), so that the broadcast never waits for a worker that is gone."""

    __slots__ = ("ack", "client_count", "waiting")

    def __init__(
        self, client_count: Callable[[int], None], ack: Callable[[Any], None], uids: set[str]
    ) -> None:
        self.client_count = client_count
        self.ack = ack
        self.waiting: dict[str, list[int]] = {uid: [-1, 0] for uid in uids}  # [count, acks]

    def counted(self, uid: Any, count: int) -> None:
        entry = self.waiting.get(uid)
        if entry is not None and entry[0] < 0:
            entry[0] = count
            self._settle(uid, entry)

    def acked(self, uid: Any, value: Any) -> None:
        entry = self.waiting.get(uid)
        if entry is None:
            return
        entry[1] += 1
        self.ack(value)
        if entry[0] >= 0:
            self._settle(uid, entry)

    def _settle(self, uid: str, entry: list[int]) -> None:
        if entry[1] >= entry[0]:
            del self.waiting[uid]
            self.client_count(entry[0])

    def gone(self, uid: str) -> None:
        entry = self.waiting.pop(uid, None)
        if entry is not None:
            self.client_count(entry[1])


# ---------------------------------------------------------------------------------- adapter
class WorkersAdapter(LinkUser[WorkersLink], ClusterAdapterWithHeartbeat):
    """The adapter of one namespace in one worker (see the module docstring)."""

    def __init__(self, nsp: Host, link: WorkersLink, *, request_timeout: float = 5.0) -> None:
        super().__init__(nsp, request_timeout=request_timeout)
        self.link = link
        self.peer_of: dict[str, Peer] = {}
        """The worker of each adapter uid heard from."""
        self._acks: dict[str, _AckBroadcast] = {}

    @classmethod
    def factory(cls, slot: SlotSource, **options: Any) -> WorkersAdapterFactory:
        """The ``adapter`` option of a Server (see :class:`WorkersAdapterFactory`)."""
        return WorkersAdapterFactory(slot, **options)

    # ---------------------------------------------------------------- lifecycle
    async def init(self) -> None:
        if self._closing:
            return
        if self.link.slot is None:
            # the server has not claimed its slot yet; it initialises the adapters again then
            log.debug("namespace %s: no worker slot yet", self.nsp.name)
            return
        await self._init_listed(self.link.adapters)  # before the mesh starts: greet the peers

    async def _attach(self) -> None:
        await ClusterAdapterWithHeartbeat.init(self)

    async def close(self) -> None:
        await self._close_once(self._close_here)

    async def _close_here(self) -> None:
        await ClusterAdapterWithHeartbeat.close(self)
        self._acks.clear()
        self._unlist(self.link.adapters)

    # no timers: the mesh says when a worker leaves
    def _schedule_heartbeat(self) -> None:
        pass

    def _schedule_cleanup(self) -> None:
        pass

    # ---------------------------------------------------------------- transport
    def publish(self, message: dict[str, Any]) -> None:
        message["uid"] = self.uid
        message["nsp"] = self.nsp.name
        self.link.publish(message)

    def do_publish(self, message: dict[str, Any]) -> None:
        self.link.publish(message)

    def do_publish_response(self, requester_uid: str, response: dict[str, Any]) -> None:
        peer = self.peer_of.get(requester_uid)
        if peer is None:
            return  # gone
        try:
            data: bytes | None = encode_message(response)
        except TypeError:
            data = self._encode_with_null_data(response)
        if data is not None:
            self.link.send(peer, data)

    def _encode_with_null_data(self, response: dict[str, Any]) -> bytes | None:
        """Socket data that cannot be sent goes as None, rather than no answer at all."""
        body = response.get("data") or {}
        if response.get("type") == MessageType.FETCH_SOCKETS_RESPONSE:
            drop_unencodable_data(body.get("sockets"), encode_message)
        elif response.get("type") == RESTORE_SESSION_RESPONSE:
            drop_unencodable_data([body.get("session")], encode_message)
        try:
            return encode_message(response)
        except TypeError:
            log.exception("cannot answer the worker of a request")
            return None

    # ---------------------------------------------------------------- membership
    def greet(self, peer: Peer) -> None:
        """A worker joined the mesh: tell it this namespace is here."""
        if self._announced and not self._closed:
            message = {"type": MessageType.HEARTBEAT, "uid": self.uid, "nsp": self.nsp.name}
            self.link.send(peer, encode_message(message))

    def peer_left(self, peer: Peer) -> None:
        for uid in [uid for uid, p in self.peer_of.items() if p is peer]:
            self.remove_node(uid)

    def remove_node(self, uid: str) -> None:
        super().remove_node(uid)
        self.peer_of.pop(uid, None)
        for waiting in list(self._acks.values()):
            waiting.gone(uid)

    def on_peer_message(self, peer: Peer, message: dict[str, Any]) -> None:
        """A message of this namespace from the worker ``peer``."""
        uid = message.get("uid")
        if type(uid) is not str or uid == self.uid or peer.closed:
            return
        if self.peer_of.get(uid) is not peer:
            self.peer_of[uid] = peer
            self.nodes[uid] = 0.0
        kind = message.get("type")
        if kind == _BROADCAST:  # the common case first, without the generic checks
            data = message.get("data")
            if type(data) is dict:
                self._on_broadcast(uid, data)
            return
        if kind == MessageType.HEARTBEAT:
            return
        if kind == MessageType.INITIAL_HEARTBEAT:
            self.publish_response(uid, {"type": MessageType.HEARTBEAT})
        elif kind == MessageType.ADAPTER_CLOSE:
            self.remove_node(uid)
        elif kind == RESTORE_SESSION:
            self._on_restore_request(uid, message.get("data"))
        elif kind == RESTORE_SESSION_RESPONSE:
            self.on_response(message)
        else:
            ClusterAdapter.on_message(self, message)

    def on_response(self, response: Any) -> None:
        if not isinstance(response, Mapping):
            return
        kind = response.get("type")
        data = response.get("data")
        if not isinstance(data, Mapping):
            return
        if kind == MessageType.BROADCAST_CLIENT_COUNT:
            waiting = self._acks.get(data.get("requestId"))  # type: ignore[arg-type]
            count = data.get("clientCount")
            if waiting is not None and type(count) is int:
                waiting.counted(response.get("uid"), count)
        elif kind == MessageType.BROADCAST_ACK:
            waiting = self._acks.get(data.get("requestId"))  # type: ignore[arg-type]
            if waiting is not None:
                waiting.acked(response.get("uid"), data.get("packet"))
        elif kind == RESTORE_SESSION_RESPONSE:
            self._on_restore_response(response.get("uid"), data)
        else:
            ClusterAdapter.on_response(self, response)

    # ---------------------------------------------------------------- broadcasting
    def _here_only(self, opts: BroadcastOptions) -> bool:
        """A broadcast to one socket of this worker (``socket.emit`` with recovery on,
        ``io.to(sid)``) goes nowhere else."""
        rooms = opts.rooms
        return (
            opts.flags.local
            or not self.nodes
            or (len(rooms) == 1 and not opts.except_ and next(iter(rooms)) in self.nsp.sockets)
        )

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        if self._here_only(opts):
            MemoryAdapter.broadcast(self, packet, opts)
        else:
            ClusterAdapter.broadcast(self, packet, opts)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count: Callable[[int], None],
        ack: Callable[[Any], None],
    ) -> int:
        if self._here_only(opts):
            MemoryAdapter.broadcast_with_ack(self, packet, opts, client_count, ack)
            return 1
        waiting = _AckBroadcast(client_count, ack, set(self.nodes))
        self.publish_with_ack(packet, opts, self._acks, waiting)
        MemoryAdapter.broadcast_with_ack(self, packet, opts, client_count, ack)
        return 1 + len(waiting.waiting)

    # ---------------------------------------------------------------- connection state recovery
    async def restore_session(self, pid: str, offset: str) -> PersistedSession | None:
        session = await MemoryAdapter.restore_session(self, pid, offset)
        if session is not None or self._recovery is None or not self.nodes or self._closed:
            return session
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        request_id = new_request_id()
        self._requests.add(
            request_id,
            PendingRequest(
                RESTORE_SESSION, len(self.nodes), [], future_done(future), set(self.nodes)
            ),
            self.request_timeout,
            "restore_session",
        )
        self.publish(
            {
                "type": RESTORE_SESSION,
                "data": {"requestId": request_id, "pid": pid, "offset": offset},
            }
        )
        try:
            found = await future
        except ClusterError as exc:
            log.warning("namespace %s: session %s not restored: %s", self.nsp.name, pid, exc)
            return None
        return found[0] if found else None

    def _on_restore_request(self, uid: str, data: Any) -> None:
        if not isinstance(data, Mapping):
            return
        request_id, pid, offset = data.get("requestId"), data.get("pid"), data.get("offset")
        if not (isinstance(request_id, str) and isinstance(pid, str) and isinstance(offset, str)):
            return
        spawn(self._answer_restore(uid, request_id, pid, offset), "restore_session answer")

    async def _answer_restore(self, uid: str, request_id: str, pid: str, offset: str) -> None:
        session = await MemoryAdapter.restore_session(self, pid, offset)
        self.publish_response(
            uid,
            {
                "type": RESTORE_SESSION_RESPONSE,
                "data": {
                    "requestId": request_id,
                    "session": None if session is None else _session_to_dict(session),
                },
            },
        )

    def _on_restore_response(self, uid: Any, data: Mapping[str, Any]) -> None:
        request_id = data.get("requestId")
        request = self._requests.get(request_id)
        if request is None or request.kind != RESTORE_SESSION:
            return
        session = _session_of(data.get("session"))
        if session is not None:
            request.responses.append(session)
            self._requests.finish(request_id)  # type: ignore[arg-type]
        else:
            self._requests.answered(request_id, uid)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- factory
class WorkersAdapterFactory(Links[WorkersLink]):
    """The ``adapter`` option of a Server in workers mode: the adapter of each namespace, on
    the mesh of one worker.

    ``slot``: the worker's :class:`~aiosocketio.workers.slots.Slot`, or a function that returns
    it once the server claimed it (None before; adapters initialised before that do nothing
    until the server initialises them again). One factory serves one worker.
    ``request_timeout`` (5.0 s): how long fetch_sockets, server_side_emit with acks and a
    session restore wait for the other workers. Mesh options: ``max_buffer`` (64 MiB waiting
    for one worker before it is dropped), ``max_frame`` (32 MiB, the largest message),
    ``rescan_interval`` (2.0 s), ``hello_timeout`` (5.0 s).
    """

    def __init__(
        self,
        slot: SlotSource,
        *,
        request_timeout: float = 5.0,
        max_buffer: int = 64 * 1024 * 1024,
        max_frame: int = 32 * 1024 * 1024,
        rescan_interval: float = 2.0,
        hello_timeout: float = 5.0,
    ) -> None:
        check_limits(max_buffer, max_frame)
        if request_timeout <= 0:
            raise ValueError(f"request_timeout must be positive, not {request_timeout}")
        self.slot = slot
        self.request_timeout = request_timeout
        self.mesh_options: dict[str, Any] = {
            "max_buffer": max_buffer,
            "max_frame": max_frame,
            "rescan_interval": rescan_interval,
            "hello_timeout": hello_timeout,
        }
        super().__init__(lambda: WorkersLink(self.slot, **self.mesh_options))

    def __call__(self, nsp: Host) -> WorkersAdapter:
        return WorkersAdapter(nsp, self.link(nsp.server), request_timeout=self.request_timeout)


def workers_adapter(slot: SlotSource, **options: Any) -> WorkersAdapterFactory:
    """The inter-worker adapter for the worker of ``slot`` (see :class:`WorkersAdapterFactory`)."""
    return WorkersAdapterFactory(slot, **options)
