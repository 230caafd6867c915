"""HTTP/1.1 connections of a worker (workers mode, plain TCP): the hand-off of requests that
belong to another worker.

A connection reaches a worker through the router of ``serve --workers`` (which reads its
first request line), through ``SO_REUSEPORT`` (the kernel's choice), or from another worker.
Its later requests may belong to other workers' sessions (a proxy's kept-alive connection
carries requests of many clients). When the request about to be served names a session of
another worker (the first two characters of its ``sid``), :class:`WorkerHttpProtocol` passes
the connection and every byte read since that request began to the owner
(:mod:`aiosocketio.workers.handoff`) and forgets it; the owner parses them again.

The decision is taken when the request is served, in order: a request that came behind
unanswered ones waits for their answers (requests are answered in order anyway). It is
taken on the parsed query, so a request for this worker costs a dictionary lookup; the
bytes are kept by reference while a request is parsed (up to :data:`RAW_LIMIT`: a larger
request is served here, where the engine forwards it to its owner, as are requests that
cannot be handed off).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..workers.handoff import DONE, NO, SLOT_OF_CODE, Handoff
from .http_protocol import Exchange, HttpProtocol

if TYPE_CHECKING:
    from .standalone import StandaloneServer

__all__ = ["RAW_LIMIT", "WorkerHttpProtocol"]

RAW_LIMIT = 256 * 1024
"""Most bytes kept for the request being parsed; a larger one is served here."""


class WorkerHttpProtocol(HttpProtocol):
    """:class:`HttpProtocol` with the hand-off of requests that belong to another worker.

    ``preread``: the bytes another worker (or the router) read from this connection before
    handing it over (parsed as if they had just arrived)."""

    __slots__ = (
        "_handing",
        "_handoff",
        "_own",
        "_own_sid",
        "_preread",
        "_raw",
        "_raw_size",
        "_raw_skip",
    )

    def __init__(self, server: StandaloneServer, handoff: Handoff, preread: bytes = b"") -> None:
        super().__init__(server)
        self._handoff = handoff
        self._own = handoff.number
        self._own_sid = ""  # the last sid of this worker seen on this connection
        # the bytes read since the start of a request not served yet, and how many
        # requests are served before it
        self._raw: bytes | list[bytes] | None = None
        self._raw_size = 0
        self._raw_skip = 0
        self._handing: Exchange | None = None  # waiting for a queued hand-off
        self._preread = preread

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        data, self._preread = self._preread, b""
        if data:
            self.data_received(data)

    def data_received(self, data: bytes) -> None:
        raw = self._raw
        if raw is None:
            if not self._mid:  # a request starts with these bytes (usually all of it)
                self._raw = data
                self._raw_skip = len(self._queue)
        else:
            if raw.__class__ is bytes:
                self._raw_size = len(raw)
                raw = self._raw = [raw]
            size = self._raw_size + len(data)
            if size > RAW_LIMIT:
                self._raw = None
            else:
                raw.append(data)  # type: ignore[union-attr]
                self._raw_size = size
        HttpProtocol.data_received(self, data)

    def _run(self, ex: Exchange) -> None:
        raw = self._raw
        if raw is not None:
            if self._raw_skip:
                self._raw_skip -= 1
            else:
                self._raw = None
                request = ex.request
                sid = request.query.get("sid") if request is not None else None
                if sid is not None and sid != self._own_sid:
                    slot = SLOT_OF_CODE.get(sid[:2]) if len(sid) > 2 else None
                    if slot == self._own:
                        self._own_sid = sid  # the next requests of this client cost less
                    elif slot is not None and self._hand_off(ex, slot, raw):
                        return
        HttpProtocol._run(self, ex)

    def _hand_off(self, ex: Exchange, target: int, raw: bytes | list[bytes]) -> bool:
        """Pass the connection with ``raw`` to worker ``target``; False: serve it here."""
        transport = self.transport
        sock = transport.get_extra_info("socket")
        if sock is None or transport.get_write_buffer_size():
            return False  # earlier answers are still in this process
        data = raw if isinstance(raw, bytes) else b"".join(raw)
        status = self._handoff.offer(target, sock.fileno(), data, self._handed)
        if status == NO:
            return False
        if status == DONE:
            self._forget()
        else:
            self._handing = ex
            self._pause()
        return True

    def _handed(self, sent: bool) -> None:
        """The queued hand-off went (or could not)."""
        ex, self._handing = self._handing, None
        if self._closed or self._closing or ex is None:
            return
        if sent:
            self._forget()
            return
        self._resume()
        HttpProtocol._run(self, ex)

    def _forget(self) -> None:
        """Another worker has the connection: close this copy of the socket, and only it."""
        ex, self._current = self._current, None
        if ex is not None:
            ex.done = True
        self._parser = None
        self._closing = True
        self._queue.clear()
        self.transport.abort()  # no shutdown(): the other copy stays open
