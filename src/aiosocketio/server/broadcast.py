"""Broadcast operators: ``io.to("room").except_("other").volatile.emit(...)``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..adapters.seam import NO_FLAGS, BroadcastFlags, BroadcastOptions
from ..errors import BroadcastAckError, ClusterError
from ..runtime import spawn
from ..socketio.packets import EVENT, RESERVED_EVENTS, Packet

if TYPE_CHECKING:
    from ..adapters.base import Adapter

__all__ = ["BroadcastOperator"]

log = logging.getLogger("aiosocketio.server")


def _room_set(rooms: tuple[str | Iterable[str], ...]) -> set[str]:
    out: set[str] = set()
    for room in rooms:
        if isinstance(room, str):
            out.add(room)
        else:
            out.update(room)
    return out


class BroadcastOperator:
    """An immutable set of broadcast options; each modifier returns a new operator."""

    __slots__ = ("adapter", "except_rooms", "flags", "rooms")

    def __init__(
        self,
        adapter: Adapter,
        rooms: frozenset[str] = frozenset(),
        except_: frozenset[str] = frozenset(),
        flags: BroadcastFlags = NO_FLAGS,
    ) -> None:
        self.adapter = adapter
        self.rooms = rooms
        self.except_rooms = except_
        self.flags = flags

    # ------------------------------------------------------------------ modifiers
    def to(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        """Only sockets in these rooms (any of them)."""
        return BroadcastOperator(
            self.adapter, self.rooms | _room_set(rooms), self.except_rooms, self.flags
        )

    in_ = to

    def except_(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        """Not the sockets in these rooms."""
        return BroadcastOperator(
            self.adapter, self.rooms, self.except_rooms | _room_set(rooms), self.flags
        )

    def _with(self, **flags: Any) -> BroadcastOperator:
        return BroadcastOperator(
            self.adapter, self.rooms, self.except_rooms, replace(self.flags, **flags)
        )

    @property
    def volatile(self) -> BroadcastOperator:
        """The event may be dropped for clients that are not ready to receive it."""
        return self._with(volatile=True)

    @property
    def local(self) -> BroadcastOperator:
        """Only this server's sockets, not the rest of the cluster."""
        return self._with(local=True)

    def compress(self, value: bool) -> BroadcastOperator:
        return self._with(compress=value)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Deadline for the acknowledgements of every client."""
        return self._with(timeout=seconds)

    @property
    def options(self) -> BroadcastOptions:
        return BroadcastOptions(self.rooms, self.except_rooms, self.flags)

    # ------------------------------------------------------------------ emitting
    def emit(
        self,
        event: str,
        *args: Any,
        callback: Callable[[BaseException | None, list[Any]], Any] | None = None,
    ) -> bool:
        """Emit to every matching socket. With ``callback`` (and a timeout), it is called
        as ``callback(err, responses)`` once every client answered or the time is up."""
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        packet = Packet(EVENT, self.adapter.nsp.name, [event, *args])
        if callback is None:
            self.adapter.broadcast(packet, self.options)
            return True
        self._emit_with_ack(packet, callback)
        return True

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Emit and wait for every client's acknowledgement; returns their values.

        Raises BroadcastAckError (holding the responses that came) after the timeout.
        """
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

        def done(err: BaseException | None, responses: list[Any]) -> None:
            if future.done():
                return
            if err is not None:
                future.set_exception(err)
            else:
                future.set_result(responses)

        self.emit(event, *args, callback=done)
        return await future

    def _emit_with_ack(
        self, packet: Packet, callback: Callable[[BaseException | None, list[Any]], Any]
    ) -> None:
        timeout = self.flags.timeout
        if timeout is None:
            raise ValueError(
                "a broadcast with an acknowledgement needs a deadline: use .timeout(seconds)"
            )
        loop = asyncio.get_running_loop()
        responses: list[Any] = []
        state = {"expected_servers": -1, "servers": 0, "clients": 0, "done": False}

        def finish(err: BaseException | None) -> None:
            if state["done"]:
                return
            state["done"] = True
            timer.cancel()
            callback(err, responses)

        def check() -> None:
            if state["expected_servers"] == state["servers"] and len(responses) == state["clients"]:
                finish(None)

        def on_timeout() -> None:
            finish(BroadcastAckError("operation has timed out", list(responses)))

        def on_client_count(count: int) -> None:
            state["clients"] += count
            state["servers"] += 1
            check()

        def on_response(value: Any) -> None:
            if not state["done"]:
                responses.append(value)
                check()

        timer = loop.call_later(timeout, on_timeout)
        servers = self.adapter.broadcast_with_ack(
            packet, self.options, on_client_count, on_response
        )
        if servers is not None:  # the adapter knows whom it asked
            state["expected_servers"] = servers
            check()
            return

        async def count_servers() -> None:
            try:
                count = 1 if self.flags.local else await self.adapter.server_count()
            except ClusterError as exc:
                # the broker is unreachable: the broadcast cannot complete, its deadline
                # reports it (one line here, not a traceback per broadcast)
                log.warning("broadcast with acks: cannot count the servers (%s)", exc)
                return
            state["expected_servers"] = count
            check()

        spawn(count_servers(), "broadcast server count")

    # ------------------------------------------------------------------ sockets
    async def fetch_sockets(self) -> list[Any]:
        """The matching sockets (on every server of a cluster unless ``local``)."""
        return await self.adapter.fetch_sockets(self.options)

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        self.adapter.add_sockets(self.options, [rooms] if isinstance(rooms, str) else list(rooms))

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        self.adapter.del_sockets(self.options, [rooms] if isinstance(rooms, str) else list(rooms))

    def disconnect_sockets(self, close: bool = False) -> None:
        self.adapter.disconnect_sockets(self.options, close)
