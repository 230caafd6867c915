"""HTTP/1.1 connections of a worker (workers mode, plain TCP): the hand-off of misrouted ones.

The kernel spreads new connections over the workers (``SO_REUSEPORT``) without looking at
them. Before parsing a request that starts a read, :class:`WorkerHttpProtocol` looks at its
request line: when its ``sid`` names a session of another worker, it passes the connection
and the bytes read so far to that worker (:mod:`aiosocketio.workers.handoff`) and forgets
it. Only at a request boundary: a request that starts behind an unanswered one on the same
connection waits for the earlier answers first. A request that cannot be handed off (the
other worker is gone or too busy, or it came behind another in the same read) is served
here, where the engine forwards it to its owner.

For every other request (its own sid, no sid) the cost is one regular expression search
over the request line.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..workers.handoff import DONE, NO, Handoff, request_slot
from .http_protocol import HttpProtocol

if TYPE_CHECKING:
    from .standalone import StandaloneServer

__all__ = ["WorkerHttpProtocol"]

_HOLD_LIMIT = 1 << 20  # bytes held (waiting for earlier answers) before reading pauses


class WorkerHttpProtocol(HttpProtocol):
    """:class:`HttpProtocol` with the hand-off of requests that belong to another worker.

    ``preread``: the bytes another worker read from this connection before handing it over
    (parsed as if they had just arrived)."""

    __slots__ = ("_handing", "_handoff", "_held", "_preread")

    def __init__(self, server: StandaloneServer, handoff: Handoff, preread: bytes = b"") -> None:
        super().__init__(server)
        self._handoff = handoff
        self._held: bytes | None = None  # read, but not parsed nor handed off yet
        self._handing = False  # a hand-off is queued: reading is paused until it goes
        self._preread = preread

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        data, self._preread = self._preread, b""
        if data:
            self.data_received(data)

    def data_received(self, data: bytes) -> None:
        held = self._held
        if self._handing:  # reading is paused: kept in order in case the hand-off fails
            self._held = data if held is None else held + data
            return
        if held is not None:
            self._held = None
            data = held + data
        if self._mid or self._parser is None:
            super().data_received(data)
            return
        target = self._owner(data)
        if target is None:
            super().data_received(data)
        elif target < 0 or self._current is not None or self._queue:
            # an incomplete request line, or earlier requests to answer first: keep it
            self._held = data
            if len(data) > _HOLD_LIMIT:
                self._pause()
        else:
            self._hand_off(target, data)

    def _owner(self, data: bytes) -> int | None:
        """The slot of another worker that owns the request starting ``data``, -1 when its
        request line is incomplete, None when it is this worker's (or nobody's)."""
        limit = self._server.max_header_size
        end = data.find(b"\r\n", 0, limit)
        if end < 0:
            return -1 if len(data) < limit else None
        slot = request_slot(data, end)
        if slot is None or slot == self._handoff.number:
            return None
        return slot

    def _dispatch(self) -> None:
        super()._dispatch()
        held = self._held
        if (
            held is not None
            and self._current is None
            and not self._queue
            and not self._closed
            and not self._closing
        ):
            # the answers it waited for are written: look at it again
            self._held = None
            self._resume()
            self.data_received(held)

    def _hand_off(self, target: int, data: bytes) -> None:
        transport = self.transport
        sock = transport.get_extra_info("socket")
        if sock is None or transport.get_write_buffer_size():
            # earlier answers are still in this process: the request stays here
            super().data_received(data)
            return
        status = self._handoff.offer(target, sock.fileno(), data, self._handed)
        if status == DONE:
            self._forget()
        elif status == NO:
            super().data_received(data)
        else:
            self._handing = True
            self._held = data
            self._pause()

    def _handed(self, sent: bool) -> None:
        """The queued hand-off went (or could not)."""
        self._handing = False
        data, self._held = self._held, None
        if self._closed or self._closing:
            return
        if sent:
            self._forget()
            return
        self._resume()
        if data:
            super().data_received(data)

    def _forget(self) -> None:
        """Another worker has the connection: close this copy of the socket, and only it."""
        self._parser = None
        self._closing = True
        self._queue.clear()
        self.transport.abort()  # no shutdown(): the other copy stays open
