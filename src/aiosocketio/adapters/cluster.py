"""What every cluster adapter shares: the wire forms of broadcast options and packets, remote
sockets, request bookkeeping, and the ClusterAdapter protocol of socket.io-adapter 2.5.

The ClusterAdapter protocol (used by the sharded Redis adapter, the Redis Streams adapter and
the PostgreSQL adapter of Node) exchanges messages ``{uid, nsp, type, data}``; responses to a
request go to the requester only. A transport subclass implements :meth:`do_publish`,
:meth:`do_publish_response` and :meth:`server_count`, and feeds what it receives to
:meth:`ClusterAdapter.on_message` (and :meth:`ClusterAdapter.on_response`).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from .. import _json
from ..errors import AckTimeout, BroadcastAckError
from ..runtime import spawn
from ..socketio.packets import ACK, BINARY_ACK, BINARY_EVENT, EVENT, Packet, has_binary
from .base import (
    Adapter,
    BroadcastFlags,
    BroadcastOptions,
    ClusterError,
    ClusterTimeout,
)
from .memory import MemoryAdapter
from .seam import Host, Operator, SocketDetails, SocketView, details

__all__ = [
    "EMITTER_UID",
    "ClusterAdapter",
    "ClusterAdapterWithHeartbeat",
    "MessageType",
    "RemoteHandshake",
    "RemoteSocket",
    "decode_options",
    "decode_packet",
    "dumps",
    "encode_options",
    "encode_packet",
    "loads",
    "socket_to_dict",
]

log = logging.getLogger("aiosocketio.adapters")

EMITTER_UID = "emitter"
"""The uid of the messages of the Node emitters (they are never answered)."""

Ack = Callable[[BaseException | None, list[Any]], None]
T = TypeVar("T")


class MessageType(enum.IntEnum):
    """ClusterAdapter message types (socket.io-adapter 2.5)."""

    INITIAL_HEARTBEAT = 1
    HEARTBEAT = 2
    BROADCAST = 3
    SOCKETS_JOIN = 4
    SOCKETS_LEAVE = 5
    DISCONNECT_SOCKETS = 6
    FETCH_SOCKETS = 7
    FETCH_SOCKETS_RESPONSE = 8
    SERVER_SIDE_EMIT = 9
    SERVER_SIDE_EMIT_RESPONSE = 10
    BROADCAST_CLIENT_COUNT = 11
    BROADCAST_ACK = 12
    ADAPTER_CLOSE = 13


# ---------------------------------------------------------------------------------- wire forms
def dumps(message: Any) -> str | bytes:
    """JSON text, as the Node adapters write their messages, or MessagePack when the message
    holds binary data (JSON would turn it into ``{"type": "Buffer", ...}`` objects)."""
    if has_binary(message):
        from . import msgpack_codec  # only then: msgpack is an optional dependency

        return msgpack_codec.encode(message)
    return _json.dumps(message)


def loads(data: bytes | str) -> Any:
    """A message in either form: JSON when it starts with ``{``, else MessagePack.

    Raises ValueError when it is neither."""
    if isinstance(data, str):
        return _json.loads(data)
    if data[:1] == b"{":
        return _json.loads(data)
    from . import msgpack_codec

    return msgpack_codec.decode(data)


def encode_flags(flags: BroadcastFlags) -> dict[str, Any]:
    """The flags as Node writes them: only those that are set; the timeout in milliseconds."""
    out: dict[str, Any] = {}
    if flags.volatile:
        out["volatile"] = True
    if flags.compress is not None:
        out["compress"] = flags.compress
    if flags.timeout is not None:
        out["timeout"] = round(flags.timeout * 1000)
    return out


def decode_flags(raw: Any) -> BroadcastFlags:
    if type(raw) is not dict and not isinstance(raw, Mapping):
        return BroadcastFlags()
    compress = raw.get("compress")
    timeout = raw.get("timeout")
    return BroadcastFlags(
        volatile=bool(raw.get("volatile")),
        compress=compress if isinstance(compress, bool) else None,
        timeout=timeout / 1000 if isinstance(timeout, (int, float)) and timeout >= 0 else None,
    )


def encode_options(opts: BroadcastOptions, *, flags: bool = True) -> dict[str, Any]:
    """``{rooms, except, flags}`` with lists of room names."""
    out: dict[str, Any] = {"rooms": list(opts.rooms), "except": list(opts.except_)}
    if flags:
        out["flags"] = encode_flags(opts.flags)
    return out


_EVERYONE = BroadcastOptions()
_EVERYONE_ON_THE_WIRE = encode_options(_EVERYONE)


def decode_options(raw: Any) -> BroadcastOptions:
    """Options from the wire; a socket received from elsewhere is never ``local``."""
    if raw == _EVERYONE_ON_THE_WIRE:  # the most common broadcast, in one comparison
        return _EVERYONE
    if type(raw) is not dict and not isinstance(raw, Mapping):
        return BroadcastOptions()
    return BroadcastOptions(
        rooms=frozenset(_rooms(raw.get("rooms"))),
        except_=frozenset(_rooms(raw.get("except"))),
        flags=decode_flags(raw.get("flags")),
    )


def _rooms(value: Any) -> Iterable[str]:
    if not isinstance(value, list):
        return ()
    # JavaScript rooms may be numbers; they are the same rooms as their text form here
    return [r if isinstance(r, str) else _js_string(r) for r in value if r is not None]


def _js_string(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def encode_packet(packet: Packet) -> dict[str, Any]:
    """A packet as the Node adapters publish it: ``{type, data, nsp}`` (and ``id`` if any)."""
    out: dict[str, Any] = {"type": packet.type, "data": packet.data, "nsp": packet.nsp}
    if packet.id is not None:
        out["id"] = packet.id
    return out


def decode_packet(raw: Any, nsp: str) -> Packet | None:
    """An EVENT packet from the wire for namespace ``nsp`` (None when it is not one)."""
    if not isinstance(raw, Mapping):
        return None
    kind = raw.get("type", EVENT)
    data = raw.get("data")
    if kind == BINARY_EVENT:
        kind = EVENT
    elif kind == BINARY_ACK:
        kind = ACK
    if kind != EVENT or not isinstance(data, list) or not data:
        return None
    return Packet(EVENT, nsp, data)


def socket_to_dict(socket: SocketView) -> SocketDetails:
    """A socket as a REMOTE_FETCH / FETCH_SOCKETS_RESPONSE entry."""
    return details(socket)


def dumps_sockets_response(message: dict[str, Any], sockets_key: str = "sockets") -> str | bytes:
    """Encode a fetch response; a socket whose ``data`` cannot be encoded is sent with
    ``data: null`` (and logged) rather than leaving the requester waiting."""
    try:
        return dumps(message)
    except TypeError:
        pass
    drop_unencodable_data(message.get(sockets_key))
    return dumps(message)


def drop_unencodable_data(entries: Any, encode: Callable[[Any], Any] = dumps) -> None:
    """In socket entries (``{id, data, ...}``), set to None (and log) each ``data`` that
    ``encode`` refuses."""
    for entry in entries if isinstance(entries, list) else ():
        try:
            encode(entry["data"])
        except TypeError:
            log.warning(
                "socket %s: its data cannot be sent to other servers (not JSON/MessagePack "
                "serialisable); sent as null",
                entry.get("id"),
            )
            entry["data"] = None


# ---------------------------------------------------------------------------------- remote sockets
class RemoteHandshake:
    """The handshake of a socket on another server (the attributes of
    :class:`~aiosocketio.server.socket.Handshake`, from the JSON the server sent)."""

    __slots__ = (
        "address",
        "auth",
        "headers",
        "issued",
        "query",
        "secure",
        "time",
        "url",
        "xdomain",
    )

    def __init__(self, raw: Any) -> None:
        raw = raw if isinstance(raw, Mapping) else {}
        self.headers: dict[str, Any] = dict(raw.get("headers") or {})
        self.query: dict[str, Any] = dict(raw.get("query") or {})
        self.url: str = raw.get("url") or ""
        self.address: str = raw.get("address") or ""
        self.secure: bool = bool(raw.get("secure"))
        self.xdomain: bool = bool(raw.get("xdomain"))
        self.issued: int = raw.get("issued") or 0
        self.time: str = raw.get("time") or ""
        self.auth: Any = raw.get("auth") if raw.get("auth") is not None else {}

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        return f"<RemoteHandshake address={self.address!r} url={self.url!r}>"


class RemoteSocket:
    """A socket connected to another server of the cluster, as ``fetch_sockets()`` returns it
    (Node: ``RemoteSocket``). Its methods act through the cluster."""

    __slots__ = ("adapter", "data", "handshake", "id", "rooms")

    def __init__(self, adapter: Adapter, raw: Mapping[str, Any]) -> None:
        self.adapter = adapter
        self.id: str = str(raw.get("id"))
        self.handshake = RemoteHandshake(raw.get("handshake"))
        self.rooms: set[str] = set(_rooms(raw.get("rooms")))
        self.data: Any = raw.get("data")

    def __repr__(self) -> str:
        return f"<RemoteSocket id={self.id!r} nsp={self.adapter.nsp.name!r}>"

    @property
    def _operator(self) -> Operator:
        return self.adapter.nsp.to(self.id)

    def emit(self, event: str, *args: Any) -> bool:
        """Send an event to this socket."""
        return self._operator.emit(event, *args)

    def timeout(self, seconds: float) -> Operator:
        """An operator for this socket with an acknowledgement deadline."""
        return self._operator.timeout(seconds)

    async def emit_with_ack(self, event: str, *args: Any, timeout: float = 5.0) -> Any:
        """Send an event and return the client's acknowledgement (None, the argument, or a
        tuple of arguments). Raises AckTimeout when it does not come in time."""
        try:
            responses = await self._operator.timeout(timeout).emit_with_ack(event, *args)
        except BroadcastAckError as exc:
            raise AckTimeout("operation has timed out") from exc
        if not responses:
            raise AckTimeout("the socket is gone")
        return responses[0]

    def join(self, rooms: str | Iterable[str]) -> None:
        self._operator.sockets_join(rooms)

    def leave(self, room: str) -> None:
        self._operator.sockets_leave(room)

    def disconnect(self, close: bool = False) -> None:
        self._operator.disconnect_sockets(close)


# ---------------------------------------------------------------------------------- requests
class PendingRequest:
    """A request to the other servers that waits for their answers.

    ``expected`` answers are awaited (or those of the servers in ``missing``); ``done`` is
    called once, with None and the collected responses, or with the error.
    """

    __slots__ = ("current", "done", "expected", "kind", "missing", "responses", "timer")

    def __init__(
        self,
        kind: int,
        expected: int,
        responses: list[Any],
        done: Callable[[BaseException | None, list[Any]], None],
        missing: set[str] | None = None,
    ) -> None:
        self.kind = kind
        self.expected = expected
        self.current = 0
        self.responses = responses
        self.done = done
        self.missing = missing
        self.timer: asyncio.TimerHandle | None = None


class Requests:
    """The pending requests of one adapter, by request id, each with a deadline."""

    def __init__(self) -> None:
        self.pending: dict[str, PendingRequest] = {}

    def __contains__(self, request_id: object) -> bool:
        return request_id in self.pending

    def get(self, request_id: Any) -> PendingRequest | None:
        if not isinstance(request_id, str):
            return None
        return self.pending.get(request_id)

    def add(
        self, request_id: str, request: PendingRequest, timeout: float, what: str
    ) -> PendingRequest:
        self.pending[request_id] = request

        def expire() -> None:
            if self.pending.pop(request_id, None) is request:
                message = (
                    f"timeout reached while waiting for {what} responses: "
                    f"{request.current} of {request.expected} servers answered "
                    f"within {timeout:g} s"
                )
                error = ClusterTimeout(message, request.responses, request.expected)
                _call(request.done, error, request.responses)

        request.timer = asyncio.get_running_loop().call_later(timeout, expire)
        return request

    def answered(self, request_id: str, uid: Any = None) -> None:
        """Count one answer (from server ``uid``); finish the request when all are in."""
        request = self.pending.get(request_id)
        if request is None:
            return
        request.current += 1
        if request.missing is not None:
            request.missing.discard(uid)
            finished = not request.missing
        else:
            finished = request.current >= request.expected
        if finished:
            self.finish(request_id)

    def finish(self, request_id: str) -> None:
        request = self.pending.pop(request_id, None)
        if request is None:
            return
        if request.timer is not None:
            request.timer.cancel()
        _call(request.done, None, request.responses)

    def forget_server(self, uid: str) -> None:
        """A server left: stop waiting for its answers."""
        for request_id, request in list(self.pending.items()):
            if request.missing is not None and uid in request.missing:
                request.missing.discard(uid)
                if not request.missing:
                    self.finish(request_id)

    def fail_all(self, error: BaseException) -> None:
        pending, self.pending = self.pending, {}
        for request in pending.values():
            if request.timer is not None:
                request.timer.cancel()
            _call(request.done, error, request.responses)


def _call(done: Callable[[BaseException | None, list[Any]], None], *args: Any) -> None:
    try:
        done(*args)
    except Exception:
        log.exception("error in the callback of a cluster request")


def future_done(
    future: asyncio.Future[list[Any]],
) -> Callable[[BaseException | None, list[Any]], None]:
    """A request callback that settles a future."""

    def done(err: BaseException | None, responses: list[Any]) -> None:
        if future.done():
            return
        if err is not None:
            future.set_exception(err)
        else:
            future.set_result(responses)

    return done


class AckRequest:
    """A broadcast with acknowledgements sent to the other servers: their client counts and
    the acknowledgements of their clients come back until the broadcast's deadline."""

    __slots__ = ("ack", "client_count")

    def __init__(self, client_count: Callable[[int], None], ack: Callable[[Any], None]) -> None:
        self.client_count = client_count
        self.ack = ack


def new_request_id() -> str:
    return secrets.token_hex(8)


def single_ack(publish: Callable[[Any], None]) -> Callable[..., None]:
    """An acknowledgement callback for a remote request: the first call wins and only its
    first argument travels (as with the Node adapters)."""
    called = False

    def ack(*args: Any) -> None:
        nonlocal called
        if called:
            return
        called = True
        publish(args[0] if args else None)

    return ack


def receive_server_side_emit(
    nsp: Host, args: Any, request_id: Any, publish: Callable[[Any], None]
) -> None:
    """Another server's ``server_side_emit`` to the listeners of ``nsp`` (``args``: ignored
    unless a list); with a ``request_id`` the sender waits for the first answer, which goes
    through ``publish``."""
    if not isinstance(args, list):
        return
    nsp.receive_server_side_emit(args, None if request_id is None else single_ack(publish))


# ---------------------------------------------------------------------------------- ClusterAdapter
class ClusterAdapter(MemoryAdapter):
    """The ClusterAdapter protocol over some transport.

    A subclass implements :meth:`do_publish` (a message to every other server),
    :meth:`do_publish_response` (a response to one server) and :meth:`server_count`, and
    calls :meth:`on_message` for each message it receives (responses included).
    Publishing never blocks: a transport queues what it cannot send yet.
    """

    def __init__(self, nsp: Host, *, request_timeout: float = 5.0) -> None:
        super().__init__(nsp)
        self.uid = secrets.token_hex(8)
        self.request_timeout = request_timeout
        self._requests = Requests()
        self._ack_requests: dict[str, AckRequest] = {}
        self._closed = False

    # ---------------------------------------------------------------- transport
    def do_publish(self, message: dict[str, Any]) -> None:
        raise NotImplementedError

    def do_publish_response(self, requester_uid: str, response: dict[str, Any]) -> None:
        raise NotImplementedError

    def publish(self, message: dict[str, Any]) -> None:
        message["uid"] = self.uid
        message["nsp"] = self.nsp.name
        self.do_publish(message)

    def publish_response(self, requester_uid: str, response: dict[str, Any]) -> None:
        response["uid"] = self.uid
        response["nsp"] = self.nsp.name
        self.do_publish_response(requester_uid, response)

    async def close(self) -> None:
        self._closed = True
        self._requests.fail_all(ClusterError(f"the adapter of {self.nsp.name} is closed"))
        self._ack_requests.clear()
        await super().close()

    # ---------------------------------------------------------------- receiving
    def on_message(self, message: Any) -> None:
        """A message from another server (requests and responses alike)."""
        if not isinstance(message, Mapping):
            return
        uid = message.get("uid")
        if uid == self.uid:
            return
        if message.get("nsp") != self.nsp.name:
            return
        kind = message.get("type")
        data = message.get("data")
        if not isinstance(data, Mapping):
            data = {}
        if kind == MessageType.BROADCAST:
            self._on_broadcast(uid, data)
        elif kind == MessageType.SOCKETS_JOIN:
            Adapter.add_sockets(self, decode_options(data.get("opts")), _room_list(data))
        elif kind == MessageType.SOCKETS_LEAVE:
            Adapter.del_sockets(self, decode_options(data.get("opts")), _room_list(data))
        elif kind == MessageType.DISCONNECT_SOCKETS:
            Adapter.disconnect_sockets(
                self, decode_options(data.get("opts")), bool(data.get("close"))
            )
        elif kind == MessageType.FETCH_SOCKETS:
            sockets = self.local_details(decode_options(data.get("opts")))
            self.publish_response(
                str(uid),
                {
                    "type": MessageType.FETCH_SOCKETS_RESPONSE,
                    "data": {
                        "requestId": data.get("requestId"),
                        "sockets": sockets,
                    },
                },
            )
        elif kind == MessageType.SERVER_SIDE_EMIT:
            self._on_server_side_emit(uid, data)
        elif kind in _RESPONSE_TYPES:
            self.on_response(message)

    def _on_broadcast(self, uid: Any, data: Mapping[str, Any]) -> None:
        packet = decode_packet(data.get("packet"), self.nsp.name)
        if packet is None:
            return
        opts = decode_options(data.get("opts"))
        request_id = data.get("requestId")
        if request_id is None:
            MemoryAdapter.broadcast(self, packet, opts)
            return

        def client_count(count: int) -> None:
            self.publish_response(
                str(uid),
                {
                    "type": MessageType.BROADCAST_CLIENT_COUNT,
                    "data": {"requestId": request_id, "clientCount": count},
                },
            )

        def ack(value: Any) -> None:
            self.publish_response(
                str(uid),
                {
                    "type": MessageType.BROADCAST_ACK,
                    "data": {"requestId": request_id, "packet": value},
                },
            )

        MemoryAdapter.broadcast_with_ack(self, packet, opts, client_count, ack)

    def _on_server_side_emit(self, uid: Any, data: Mapping[str, Any]) -> None:
        request_id = data.get("requestId")

        def publish(value: Any) -> None:
            self.publish_response(
                str(uid),
                {
                    "type": MessageType.SERVER_SIDE_EMIT_RESPONSE,
                    "data": {"requestId": request_id, "packet": value},
                },
            )

        receive_server_side_emit(self.nsp, data.get("packet"), request_id, publish)

    def on_response(self, response: Any) -> None:
        if not isinstance(response, Mapping):
            return
        data = response.get("data")
        if not isinstance(data, Mapping):
            return
        request_id = data.get("requestId")
        kind = response.get("type")
        if kind == MessageType.BROADCAST_CLIENT_COUNT:
            ack_request = self._ack_requests.get(request_id)  # type: ignore[arg-type]
            count = data.get("clientCount")
            if ack_request is not None and isinstance(count, (int, float)):
                ack_request.client_count(int(count))
        elif kind == MessageType.BROADCAST_ACK:
            ack_request = self._ack_requests.get(request_id)  # type: ignore[arg-type]
            if ack_request is not None:
                ack_request.ack(data.get("packet"))
        elif kind == MessageType.FETCH_SOCKETS_RESPONSE:
            request = self._requests.get(request_id)
            sockets = data.get("sockets")
            if request is None or not isinstance(sockets, list):
                return
            request.responses.extend(
                RemoteSocket(self, s) for s in sockets if isinstance(s, Mapping)
            )
            self._requests.answered(request_id, response.get("uid"))  # type: ignore[arg-type]
        elif kind == MessageType.SERVER_SIDE_EMIT_RESPONSE:
            request = self._requests.get(request_id)
            if request is None:
                return
            request.responses.append(data.get("packet"))
            self._requests.answered(request_id, response.get("uid"))  # type: ignore[arg-type]

    # ---------------------------------------------------------------- broadcasting
    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        if not opts.flags.local:
            self.publish(
                {
                    "type": MessageType.BROADCAST,
                    "data": {"packet": encode_packet(packet), "opts": encode_options(opts)},
                }
            )
        MemoryAdapter.broadcast(self, packet, opts)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count: Callable[[int], None],
        ack: Callable[[Any], None],
    ) -> int | None:
        if not opts.flags.local:
            self.publish_with_ack(packet, opts, self._ack_requests, AckRequest(client_count, ack))
        return MemoryAdapter.broadcast_with_ack(self, packet, opts, client_count, ack)

    def publish_with_ack(
        self, packet: Packet, opts: BroadcastOptions, requests: dict[str, T], request: T
    ) -> None:
        """Publish a broadcast that asks for acknowledgements; ``request`` stays in
        ``requests``, under the request id, until the deadline of the broadcast (when every
        client answered is known to the operator only)."""
        request_id = new_request_id()
        requests[request_id] = request
        self.publish(
            {
                "type": MessageType.BROADCAST,
                "data": {
                    "packet": encode_packet(packet),
                    "requestId": request_id,
                    "opts": encode_options(opts),
                },
            }
        )
        timeout = opts.flags.timeout if opts.flags.timeout is not None else 0.0
        asyncio.get_running_loop().call_later(timeout, requests.pop, request_id, None)

    # ---------------------------------------------------------------- cluster-wide operations
    def add_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        if not opts.flags.local:
            self.publish(
                {
                    "type": MessageType.SOCKETS_JOIN,
                    "data": {"opts": encode_options(opts), "rooms": list(rooms)},
                }
            )
        Adapter.add_sockets(self, opts, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        if not opts.flags.local:
            self.publish(
                {
                    "type": MessageType.SOCKETS_LEAVE,
                    "data": {"opts": encode_options(opts), "rooms": list(rooms)},
                }
            )
        Adapter.del_sockets(self, opts, rooms)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        if not opts.flags.local:
            self.publish(
                {
                    "type": MessageType.DISCONNECT_SOCKETS,
                    "data": {"opts": encode_options(opts), "close": close},
                }
            )
        Adapter.disconnect_sockets(self, opts, close)

    def _expected_servers(self) -> set[str] | None:
        """The uids of the servers that must answer, when the adapter knows them."""
        return None

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[Any]:
        local: list[Any] = self.local_sockets(opts)
        if opts.flags.local:
            return local
        expected = await self.server_count() - 1
        if expected <= 0:
            return local
        self._check_open()
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        request_id = new_request_id()
        timeout = opts.flags.timeout or self.request_timeout
        self._requests.add(
            request_id,
            PendingRequest(
                MessageType.FETCH_SOCKETS,
                expected,
                local,
                future_done(future),
                self._expected_servers(),
            ),
            timeout,
            "fetch_sockets",
        )
        self.publish(
            {
                "type": MessageType.FETCH_SOCKETS,
                "data": {"opts": encode_options(opts), "requestId": request_id},
            }
        )
        return await future

    def server_side_emit(self, args: list[Any], ack: Ack | None) -> None:
        if ack is None:
            self.publish({"type": MessageType.SERVER_SIDE_EMIT, "data": {"packet": args}})
            return
        spawn(self._server_side_emit_with_ack(args, ack), "server_side_emit")

    async def _server_side_emit_with_ack(self, args: list[Any], ack: Ack) -> None:
        try:
            expected = await self.server_count() - 1
            self._check_open()
        except ClusterError as exc:
            ack(exc, [])
            return
        if expected <= 0:
            ack(None, [])
            return
        request_id = new_request_id()
        self._requests.add(
            request_id,
            PendingRequest(
                MessageType.SERVER_SIDE_EMIT, expected, [], ack, self._expected_servers()
            ),
            self.request_timeout,
            "server_side_emit",
        )
        self.publish(
            {
                "type": MessageType.SERVER_SIDE_EMIT,
                "data": {"requestId": request_id, "packet": args},
            }
        )

    def _check_open(self) -> None:
        if self._closed:
            raise ClusterError(f"the adapter of {self.nsp.name} is closed")


_RESPONSE_TYPES = frozenset(
    (
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        MessageType.BROADCAST_CLIENT_COUNT,
        MessageType.BROADCAST_ACK,
    )
)


def _room_list(data: Mapping[str, Any]) -> list[str]:
    return list(_rooms(data.get("rooms")))


class ClusterAdapterWithHeartbeat(ClusterAdapter):
    """ClusterAdapter for transports that cannot count subscribers (Redis Streams,
    PostgreSQL): each server announces itself (INITIAL_HEARTBEAT, then HEARTBEAT when it has
    published nothing for ``heartbeat_interval``) and is taken as gone after
    ``heartbeat_timeout`` of silence or on ADAPTER_CLOSE. The server count is the servers
    heard from, plus this one."""

    def __init__(
        self,
        nsp: Host,
        *,
        request_timeout: float = 5.0,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float = 10.0,
    ) -> None:
        super().__init__(nsp, request_timeout=request_timeout)
        self.init_heartbeat(heartbeat_interval, heartbeat_timeout)

    def init_heartbeat(self, interval: float = 5.0, timeout: float = 10.0) -> None:
        """Set up the heartbeat state (for a subclass whose constructor does not call this
        class's one, such as a mix-in with a transport adapter)."""
        self.heartbeat_interval = interval
        self.heartbeat_timeout = timeout
        self.nodes: dict[str, float] = {}
        self._heartbeat_timer: asyncio.TimerHandle | None = None
        self._cleanup_timer: asyncio.TimerHandle | None = None
        self._announced = False
        self.awaiting: set[str] = set()
        """Servers known before an outage and not heard from since (see :meth:`expect_servers`)."""

    async def init(self) -> None:
        await super().init()
        if self._announced or self._closed:
            return
        self._announced = True
        self._schedule_cleanup()
        self.publish({"type": MessageType.INITIAL_HEARTBEAT})

    async def close(self) -> None:
        if not self._closed:
            self.publish({"type": MessageType.ADAPTER_CLOSE})
        for timer in (self._heartbeat_timer, self._cleanup_timer):
            if timer is not None:
                timer.cancel()
        self._heartbeat_timer = self._cleanup_timer = None
        await super().close()

    def publish(self, message: dict[str, Any]) -> None:
        self._schedule_heartbeat()
        super().publish(message)

    def _schedule_heartbeat(self) -> None:
        if self._closed:
            return
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
        self._heartbeat_timer = asyncio.get_running_loop().call_later(
            self.heartbeat_interval, self._beat
        )

    def _beat(self) -> None:
        self._heartbeat_timer = None
        if not self._closed:
            self.publish({"type": MessageType.HEARTBEAT})

    def _schedule_cleanup(self) -> None:
        loop = asyncio.get_running_loop()
        self._cleanup_timer = loop.call_later(1.0, self._cleanup)

    def _cleanup(self) -> None:
        if self._closed:
            return
        horizon = asyncio.get_running_loop().time() - self.heartbeat_timeout
        for uid, seen in list(self.nodes.items()):
            if seen < horizon:
                log.info("namespace %s: server %s seems down", self.nsp.name, uid)
                self.remove_node(uid)
        self._schedule_cleanup()

    def remove_node(self, uid: str) -> None:
        self.nodes.pop(uid, None)
        self._requests.forget_server(uid)

    def expect_servers(self) -> None:
        """An outage began: the known servers are to be heard from again before what this
        one publishes can reach them (each one's next message clears it from ``awaiting``)."""
        self.awaiting = set(self.nodes)

    def announce(self) -> None:
        """Ask the other servers to say they are there (they answer with a heartbeat)."""
        if not self._closed:
            self.publish({"type": MessageType.INITIAL_HEARTBEAT})

    def on_message(self, message: Any) -> None:
        if not isinstance(message, Mapping):
            return
        uid = message.get("uid")
        if uid == self.uid or message.get("nsp") != self.nsp.name:
            return
        if isinstance(uid, str) and uid != EMITTER_UID:
            self.nodes[uid] = asyncio.get_running_loop().time()
            self.awaiting.discard(uid)
        kind = message.get("type")
        if kind == MessageType.INITIAL_HEARTBEAT:
            self.publish({"type": MessageType.HEARTBEAT})
        elif kind == MessageType.HEARTBEAT:
            pass
        elif kind == MessageType.ADAPTER_CLOSE:
            if isinstance(uid, str):
                self.remove_node(uid)
        else:
            super().on_message(message)

    def on_response(self, response: Any) -> None:
        if isinstance(response, Mapping):
            uid = response.get("uid")
            if isinstance(uid, str) and uid != EMITTER_UID and uid != self.uid:
                self.nodes[uid] = asyncio.get_running_loop().time()
                self.awaiting.discard(uid)
        super().on_response(response)

    async def server_count(self) -> int:
        return 1 + len(self.nodes)

    def _expected_servers(self) -> set[str] | None:
        return set(self.nodes)
