"""The classic mode of @socket.io/redis-adapter 8.3 (PUBLISH / PSUBSCRIBE; requests and
responses on their own channels), the default of ``createAdapter()`` in Node. Use it through
:mod:`aiosocketio.adapters.redis`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from ..runtime import spawn
from ..socketio.packets import Packet
from . import msgpack_codec
from .base import Adapter, BroadcastOptions, ClusterError
from .cluster import (
    AckRequest,
    PendingRequest,
    RemoteSocket,
    Requests,
    decode_options,
    decode_packet,
    dumps_sockets_response,
    encode_options,
    encode_packet,
    future_done,
    loads,
    new_request_id,
    receive_server_side_emit,
)
from .link import LinkUser
from .memory import MemoryAdapter
from .redis_link import RedisAdapterFactory, RedisLink, RedisSource, dumps_or_log
from .seam import Host

__all__ = ["RedisAdapter", "RequestType"]

log = logging.getLogger("aiosocketio.adapters.redis")


class RequestType(enum.IntEnum):
    """Request types of the classic mode (@socket.io/redis-adapter 8.3)."""

    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


# ---------------------------------------------------------------------------------- classic mode
class RedisAdapter(LinkUser[RedisLink], MemoryAdapter):
    """@socket.io/redis-adapter 8.3, classic mode.

    Broadcasts go to ``<key>#<nsp>#`` (``<key>#<nsp>#<room>#`` for exactly one room) as
    MessagePack ``[uid, packet, {rooms, except, flags}]``; requests to
    ``<key>-request#<nsp>#`` and responses to ``<key>-response#<nsp>#`` (JSON, or MessagePack
    when they hold binary data). The server count is the number of subscribers of the request
    channel.
    """

    def __init__(
        self,
        nsp: Host,
        link: RedisLink,
        *,
        key: str = "socket.io",
        request_timeout: float = 5.0,
        publish_on_specific_response_channel: bool = False,
    ) -> None:
        MemoryAdapter.__init__(self, nsp)
        self.link = link
        self.uid = secrets.token_hex(6)
        self.key = key
        self.request_timeout = request_timeout
        self.publish_on_specific_response_channel = publish_on_specific_response_channel
        name = nsp.name
        self.channel = f"{key}#{name}#"
        self.request_channel = f"{key}-request#{name}#"
        self.response_channel = f"{key}-response#{name}#"
        self.specific_response_channel = f"{self.response_channel}{self.uid}#"
        self._channel_bytes = self.channel.encode()
        self._requests = Requests()
        self._ack_requests: dict[str, AckRequest] = {}

    @classmethod
    def factory(
        cls,
        redis: RedisSource = "redis://127.0.0.1:6379",
        *,
        key: str = "socket.io",
        request_timeout: float = 5.0,
        sharded: bool = False,
        **options: Any,
    ) -> RedisAdapterFactory:
        """The ``adapter`` option of a Server. ``redis``: a URL, a ``redis.asyncio.Redis``
        client (not closed by the adapter) or a function returning one (closed with the
        server). Other options: ``subscription_mode`` (sharded), ``health_check_interval``,
        ``max_queue``, ``reconnect_delay``, ``publish_on_specific_response_channel``,
        ``resync_timeout`` and ``on_report`` (see :mod:`aiosocketio.adapters.resync`)."""
        return RedisAdapterFactory(
            redis, key=key, request_timeout=request_timeout, sharded=sharded, **options
        )

    # ---------------------------------------------------------------- lifecycle
    async def close(self) -> None:
        self._requests.fail_all(ClusterError(f"the adapter of {self.nsp.name} is closed"))
        self._ack_requests.clear()
        await self._close_once()

    async def _attach(self) -> None:
        link = self.link
        await link.subscribe("pattern", [self.channel + "*"], self._on_broadcast_message)
        await link.subscribe(
            "channel",
            [self.request_channel, self.response_channel, self.specific_response_channel],
            self._on_channel_message,
        )
        await link.watch(self.nsp.name, self.request_channel)

    async def _detach(self) -> None:
        self.link.unwatch(self.nsp.name)
        await self.link.unsubscribe("pattern", [self.channel + "*"])
        await self.link.unsubscribe(
            "channel",
            [self.request_channel, self.response_channel, self.specific_response_channel],
        )

    def _check_open(self) -> None:
        if self._closing:
            raise ClusterError(f"the adapter of {self.nsp.name} is closed")

    # ---------------------------------------------------------------- receiving
    def _on_broadcast_message(self, channel: bytes, data: bytes) -> None:
        if not channel.startswith(self._channel_bytes):
            return
        room = channel[len(self._channel_bytes) : -1].decode(errors="replace")
        if room and room not in self.rooms:
            return
        try:
            message = msgpack_codec.decode(data)
        except ValueError:
            log.debug("ignoring a malformed broadcast on %r", channel)
            return
        if not isinstance(message, list) or len(message) < 2:
            return
        uid, raw_packet = message[0], message[1]
        if uid == self.uid or not isinstance(raw_packet, Mapping):
            return
        if raw_packet.get("nsp", "/") != self.nsp.name:
            return
        packet = decode_packet(raw_packet, self.nsp.name)
        if packet is None:
            return
        opts = decode_options(message[2] if len(message) > 2 else None)
        MemoryAdapter.broadcast(self, packet, opts)

    def _on_channel_message(self, channel: bytes, data: bytes) -> None:
        text = channel.decode(errors="replace")
        if text.startswith(self.response_channel):
            self._on_response(data)
        elif text == self.request_channel:
            self._on_request(data)

    def _on_request(self, data: bytes) -> None:
        try:
            request = loads(data)
        except ValueError:
            log.debug("ignoring a malformed request on %s", self.request_channel)
            return
        if not isinstance(request, Mapping):
            return
        kind = request.get("type")
        request_id = request.get("requestId")
        own = request.get("uid") == self.uid
        if kind == RequestType.SOCKETS:
            if own or request_id in self._requests:
                return
            rooms = frozenset(_str_list(request.get("rooms")))
            here = self.nsp.sockets
            sids = [sid for sid in self.local_sids(BroadcastOptions(rooms=rooms)) if sid in here]
            self._respond(request, {"requestId": request_id, "sockets": sids})
        elif kind == RequestType.ALL_ROOMS:
            if own or request_id in self._requests:
                return
            self._respond(request, {"requestId": request_id, "rooms": list(self.rooms)})
        elif kind in (
            RequestType.REMOTE_JOIN,
            RequestType.REMOTE_LEAVE,
            RequestType.REMOTE_DISCONNECT,
        ):
            self._on_remote_operation(request, kind, own)
        elif kind == RequestType.REMOTE_FETCH:
            if own or request_id in self._requests:
                return
            sockets = self.local_details(decode_options(request.get("opts")))
            response = {"requestId": request_id, "sockets": sockets}
            self._publish_response(request, dumps_sockets_response(response))
        elif kind == RequestType.SERVER_SIDE_EMIT:
            self._on_server_side_emit(request, own)
        elif kind == RequestType.BROADCAST:
            self._on_broadcast_request(request, own)

    def _on_remote_operation(self, request: Mapping[str, Any], kind: int, own: bool) -> None:
        opts_raw = request.get("opts")
        if opts_raw is not None:
            if own:
                return  # done here already, when it was asked for
            opts = decode_options(opts_raw)
            if kind == RequestType.REMOTE_JOIN:
                Adapter.add_sockets(self, opts, _str_list(request.get("rooms")))
            elif kind == RequestType.REMOTE_LEAVE:
                Adapter.del_sockets(self, opts, _str_list(request.get("rooms")))
            else:
                Adapter.disconnect_sockets(self, opts, bool(request.get("close")))
            return
        # the older form: one socket by id, answered
        sid = str(request.get("sid"))
        if kind == RequestType.REMOTE_JOIN:
            found = self.nsp.join_socket(sid, str(request.get("room")))
        elif kind == RequestType.REMOTE_LEAVE:
            found = self.nsp.leave_socket(sid, str(request.get("room")))
        else:
            found = self.nsp.disconnect_socket(sid, bool(request.get("close")))
        if not found:
            return
        self._respond(request, {"requestId": request.get("requestId")})

    def _on_server_side_emit(self, request: Mapping[str, Any], own: bool) -> None:
        if own:
            return
        request_id = request.get("requestId")

        def publish(value: Any) -> None:
            response: dict[str, Any] = {
                "type": RequestType.SERVER_SIDE_EMIT,
                "requestId": request_id,
            }
            if value is not None:
                response["data"] = value
            self._publish(self.response_channel, dumps_or_log(response))

        receive_server_side_emit(self.nsp, request.get("data"), request_id, publish)

    def _on_broadcast_request(self, request: Mapping[str, Any], own: bool) -> None:
        request_id = request.get("requestId")
        if own or request_id in self._ack_requests:
            return
        packet = decode_packet(request.get("packet"), self.nsp.name)
        if packet is None:
            return
        opts = decode_options(request.get("opts"))

        def client_count(count: int) -> None:
            self._respond(
                request,
                {
                    "type": RequestType.BROADCAST_CLIENT_COUNT,
                    "requestId": request_id,
                    "clientCount": count,
                },
            )

        def ack(value: Any) -> None:
            response = {"type": RequestType.BROADCAST_ACK, "requestId": request_id, "packet": value}
            try:
                encoded = msgpack_codec.encode(response)
            except TypeError:
                log.exception("cannot send an acknowledgement to another server")
                return
            self._publish_response(request, encoded)

        MemoryAdapter.broadcast_with_ack(self, packet, opts, client_count, ack)

    def _respond(self, request: Mapping[str, Any], response: dict[str, Any]) -> None:
        self._publish_response(request, dumps_or_log(response))

    def _publish_response(self, request: Mapping[str, Any], data: bytes | str | None) -> None:
        if data is None:
            return
        channel = self.response_channel
        if self.publish_on_specific_response_channel:
            channel = f"{channel}{request.get('uid')}#"
        self._publish(channel, data)

    def _publish(self, channel: str, data: bytes | str | None, watch: str | None = None) -> None:
        if data is not None:
            self.link.publish(channel, data, watch=watch)

    def _on_response(self, data: bytes) -> None:
        try:
            response = loads(data)
        except ValueError:
            log.debug("ignoring a malformed response on %s", self.response_channel)
            return
        if not isinstance(response, Mapping):
            return
        request_id = response.get("requestId")
        if not isinstance(request_id, str):
            return
        ack_request = self._ack_requests.get(request_id)
        if ack_request is not None:
            kind = response.get("type")
            if kind == RequestType.BROADCAST_CLIENT_COUNT:
                count = response.get("clientCount")
                if isinstance(count, (int, float)) and not isinstance(count, bool):
                    ack_request.client_count(int(count))
            elif kind == RequestType.BROADCAST_ACK:
                ack_request.ack(response.get("packet"))
            return
        request = self._requests.get(request_id)
        if request is None:
            return
        if request.kind == RequestType.REMOTE_FETCH:
            sockets = response.get("sockets")
            if isinstance(sockets, list):
                request.responses.extend(
                    RemoteSocket(self, s) for s in sockets if isinstance(s, Mapping)
                )
        elif request.kind == RequestType.ALL_ROOMS:
            rooms = response.get("rooms")
            if isinstance(rooms, list):
                request.responses.extend(_str_list(rooms))
        elif request.kind == RequestType.SERVER_SIDE_EMIT:
            request.responses.append(response.get("data"))
        self._requests.answered(request_id)

    # ---------------------------------------------------------------- broadcasting
    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        if not opts.flags.local:
            channel = self.channel
            if len(opts.rooms) == 1:
                channel += next(iter(opts.rooms)) + "#"
            try:
                message = msgpack_codec.encode([self.uid, encode_packet(packet), _options(opts)])
            except TypeError:
                log.exception("cannot publish a broadcast of %s", self.nsp.name)
            else:
                self.link.publish(channel, message, watch=self.nsp.name)
        MemoryAdapter.broadcast(self, packet, opts)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count: Callable[[int], None],
        ack: Callable[[Any], None],
    ) -> None:
        if not opts.flags.local:
            request_id = new_request_id()
            request = {
                "uid": self.uid,
                "requestId": request_id,
                "type": RequestType.BROADCAST,
                "packet": encode_packet(packet),
                "opts": _options(opts),
            }
            try:
                message = msgpack_codec.encode(request)
            except TypeError:
                log.exception("cannot publish a broadcast of %s", self.nsp.name)
            else:
                self._ack_requests[request_id] = AckRequest(client_count, ack)
                self.link.publish(self.request_channel, message, watch=self.nsp.name)
                timeout = opts.flags.timeout if opts.flags.timeout is not None else 0.0
                asyncio.get_running_loop().call_later(
                    timeout, self._ack_requests.pop, request_id, None
                )
        MemoryAdapter.broadcast_with_ack(self, packet, opts, client_count, ack)

    async def server_count(self) -> int:
        return self.link.servers(self.nsp.name, await self.link.numsub(self.request_channel))

    # ---------------------------------------------------------------- cluster-wide operations
    def add_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        if not opts.flags.local:
            self._request(
                {
                    "uid": self.uid,
                    "type": RequestType.REMOTE_JOIN,
                    "opts": encode_options(opts, flags=False),
                    "rooms": list(rooms),
                }
            )
        Adapter.add_sockets(self, opts, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        if not opts.flags.local:
            self._request(
                {
                    "uid": self.uid,
                    "type": RequestType.REMOTE_LEAVE,
                    "opts": encode_options(opts, flags=False),
                    "rooms": list(rooms),
                }
            )
        Adapter.del_sockets(self, opts, rooms)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        if not opts.flags.local:
            self._request(
                {
                    "uid": self.uid,
                    "type": RequestType.REMOTE_DISCONNECT,
                    "opts": encode_options(opts, flags=False),
                    "close": close,
                }
            )
        Adapter.disconnect_sockets(self, opts, close)

    def _request(self, request: dict[str, Any]) -> None:
        self._publish(self.request_channel, dumps_or_log(request), self.nsp.name)

    async def _ask(
        self,
        kind: int,
        request: dict[str, Any],
        expected: int,
        responses: list[Any],
        timeout: float,
        what: str,
    ) -> list[Any]:
        self._check_open()
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        request_id = new_request_id()
        request.update(uid=self.uid, requestId=request_id, type=kind)
        self._requests.add(
            request_id,
            PendingRequest(kind, expected, responses, future_done(future)),
            timeout,
            what,
        )
        self._request(request)
        return await future

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[Any]:
        local: list[Any] = self.local_sockets(opts)
        if opts.flags.local:
            return local
        servers = await self.server_count()
        if servers <= 1:
            return local
        return await self._ask(
            RequestType.REMOTE_FETCH,
            {"opts": encode_options(opts, flags=False)},
            servers - 1,
            local,
            opts.flags.timeout or self.request_timeout,
            "fetch_sockets",
        )

    async def all_rooms(self) -> set[str]:
        """The rooms of every server of the cluster."""
        local = set(self.rooms)
        servers = await self.server_count()
        if servers <= 1:
            return local
        rooms = await self._ask(
            RequestType.ALL_ROOMS, {}, servers - 1, list(local), self.request_timeout, "all_rooms"
        )
        return set(rooms)

    def server_side_emit(
        self, args: list[Any], ack: Callable[[BaseException | None, list[Any]], None] | None
    ) -> None:
        if ack is None:
            self._request({"uid": self.uid, "type": RequestType.SERVER_SIDE_EMIT, "data": args})
            return
        spawn(self._server_side_emit_with_ack(args, ack), "server_side_emit")

    async def _server_side_emit_with_ack(
        self, args: list[Any], ack: Callable[[BaseException | None, list[Any]], None]
    ) -> None:
        try:
            expected = await self.server_count() - 1
            if expected <= 0:
                responses: list[Any] = []
            else:
                responses = await self._ask(
                    RequestType.SERVER_SIDE_EMIT,
                    {"data": args},
                    expected,
                    [],
                    self.request_timeout,
                    "server_side_emit",
                )
        except ClusterError as exc:
            ack(exc, getattr(exc, "responses", []))
            return
        ack(None, responses)


def _options(opts: BroadcastOptions) -> dict[str, Any]:
    return encode_options(opts)


def _str_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v if isinstance(v, str) else str(v) for v in value if v is not None]


RedisAdapterFactory.modes[False] = RedisAdapter
