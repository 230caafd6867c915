"""WebSocket connections of the standalone server: an asyncio protocol per connection.

After the HTTP protocol accepts an upgrade it hands the transport to a
:class:`WebSocketProtocol` (``transport.set_protocol``), which is also the
:class:`~aiosocketio.engine.socket.WebSocketConnection` the engine writes to.

Hot path: ``data_received`` feeds the sans-I/O frame parser and hands each message to the
receiver; frames written while it runs are corked and leave in one ``transport.write``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..engine.socket import notify_closed
from ..errors import ProtocolError
from ..ws.connection import Connection, State
from ..ws.deflate import Deflate
from ..ws.frames import (
    BINARY,
    TEXT,
    FrameParser,
    binary_frame,
    encode_frame,
    frame_header,
    text_frame,
)

if TYPE_CHECKING:
    from ..engineio.outgoing import Outgoing

__all__ = ["WebSocketProtocol"]

log = logging.getLogger("aiosocketio.transport")

_NO_COPY_FROM = 4096  # binary payloads from this size are written without concatenation


class WebSocketProtocol(asyncio.Protocol):
    """One WebSocket connection, server side."""

    __slots__ = (
        "_close_handle",
        "_close_timeout",
        "_closed",
        "_conn",
        "_cork",
        "_cork_size",
        "_corking",
        "_deflate",
        "_max_buffer",
        "_notified",
        "_on_lost",
        "_parser",
        "_threshold",
        "_writable",
        "close_code",
        "receiver",
        "transport",
        "writing_paused",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        *,
        max_message_size: int,
        deflate: Deflate | None = None,
        compress_threshold: int = 1024,
        close_timeout: float = 1.0,
        on_lost: Callable[[WebSocketProtocol], None] | None = None,
        max_buffer_size: int = 8 * 1024 * 1024,
    ) -> None:
        self.transport = transport
        self._max_buffer = max_buffer_size
        self.receiver: Any = None
        self.close_code: int | None = None  # of the peer's close frame, once received
        self.writing_paused = False
        self._parser: FrameParser | None = FrameParser(
            max_message_size=max_message_size, deflate=deflate
        )
        self._deflate = deflate
        self._threshold = compress_threshold
        self._close_timeout = close_timeout
        self._on_lost = on_lost
        self._cork: list[bytes] = []
        self._cork_size = 0
        self._corking = False
        self._conn = Connection(client=False)
        self._closed = False
        self._writable = True  # neither closed nor closing
        self._notified = False
        self._close_handle: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ asyncio callbacks
    def start(self, leftover: bytes) -> None:
        """Begin reading: first the bytes that came with the upgrade request."""
        if self._closed:
            return
        if leftover:
            self.data_received(leftover)
        if not self._closed:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None or self._closed:
            return
        self._corking = True
        try:
            try:
                messages = parser.feed(data)
            except ProtocolError as exc:
                log.debug("WebSocket protocol error: %s", exc)
                self._conn.fail(exc.close_code)
                self._after_control()
                return
            for opcode, payload in messages:
                if opcode <= BINARY:  # TEXT or BINARY
                    receiver = self.receiver
                    if receiver is not None and self._writable:
                        try:
                            receiver.on_message(payload)
                        except Exception:
                            log.exception("error while handling a WebSocket message")
                            self._conn.fail(1011)
                            self._after_control()
                            return
                else:  # PING, PONG, CLOSE: the connection's rules (ws.connection)
                    self._conn.receive_control(opcode, payload)  # type: ignore[arg-type]
                    if self._after_control():
                        return
        finally:
            self._corking = False
            if self._cork:
                self._flush()

    def eof_received(self) -> bool | None:
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._writable = False
        self._parser = None
        self._cork = []
        self._cork_size = 0
        handle = self._close_handle
        if handle is not None:
            handle.cancel()
            self._close_handle = None
        on_lost = self._on_lost
        if on_lost is not None:
            self._on_lost = None
            on_lost(self)
        self._notify(exc is not None)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False

    # ------------------------------------------------------------------ WebSocketConnection
    def send_text(self, data: str) -> None:
        if not self._writable:
            return
        deflate = self._deflate
        if deflate is not None and len(data) >= self._threshold:
            frame = encode_frame(TEXT, deflate.compress(data.encode()), rsv1=True)
        else:
            frame = text_frame(data)
        self._push(frame)

    def send_bytes(self, data: bytes) -> None:
        if not self._writable:
            return
        deflate = self._deflate
        n = len(data)
        if deflate is not None and n >= self._threshold:
            frame = encode_frame(BINARY, deflate.compress(data), rsv1=True)
        elif n >= _NO_COPY_FROM:
            # header and payload leave in one writev: the payload is never copied
            self._push(frame_header(BINARY, n))
            self._push(data)
            return
        else:
            frame = binary_frame(data)
        self._push(frame)

    def send_outgoing(self, out: Outgoing) -> None:
        """A broadcast: every recipient writes the same frame bytes (built once)."""
        frame = out.frame
        if frame is None or (self._deflate is not None and out.compress) or not self._writable:
            self._send_outgoing_slow(out)
            return
        # _push, written out: a call here costs 15 % of a broadcast's delivery
        # (callgrind_paths.py fanout: 2,635 -> 3,028 instructions per delivery)
        if self._corking:
            self._cork.append(frame)
            self._cork_size += len(frame)
        else:
            self.transport.write(frame)
        if self.writing_paused:
            self._check_overflow()

    def _send_outgoing_slow(self, out: Outgoing) -> None:
        if not self._writable:
            return
        if self._deflate is not None and out.compress:  # per connection: nothing to share
            for packet in out.packets:
                if type(packet) is str:
                    self.send_text(packet)
                else:
                    self.send_bytes(packet)  # type: ignore[arg-type]
            return
        frame = out.frame
        if frame is None:
            packets = out.packets
            if len(packets) == 1:
                p = packets[0]
                frame = text_frame(p) if type(p) is str else binary_frame(p)  # type: ignore[arg-type]
            else:
                frame = b"".join(
                    text_frame(p) if type(p) is str else binary_frame(p)  # type: ignore[arg-type]
                    for p in packets
                )
            out.frame = frame
        self._push(frame)

    def buffered_amount(self) -> int:
        if self._closed:
            return 0
        return self.transport.get_write_buffer_size() + self._cork_size

    def close(self, code: int | None = 1000, reason: str = "") -> None:
        """Start the closing handshake; the TCP connection closes when the peer answers."""
        if not self._writable:
            return
        self._writable = False
        self._conn.close(code, reason)
        for frame in self._conn.data_to_send():
            self._push(frame)
        loop = asyncio.get_running_loop()
        self._close_handle = loop.call_later(self._close_timeout, self._close_expired)

    # ------------------------------------------------------------------ internals
    @property
    def closed(self) -> bool:
        return self._closed

    def shutdown(self) -> None:
        """Close the TCP connection now (after flushing what is written)."""
        if not self._closed:
            self._close_transport()

    def abort(self) -> None:
        """Drop the TCP connection at once."""
        self._closed = True
        self._writable = False
        self.transport.abort()

    def lost_before_start(self) -> None:
        """The HTTP connection went away before the accepted upgrade could take over."""
        self._closed = True
        self._writable = False
        self._parser = None
        asyncio.get_running_loop().call_soon(self._notify, True)

    def _push(self, frame: bytes) -> None:
        if self._corking:
            self._cork.append(frame)
            self._cork_size += len(frame)
        else:
            self.transport.write(frame)
        if self.writing_paused:
            self._check_overflow()

    def _check_overflow(self) -> None:
        """Slow-consumer policy: a peer that lets more than max_buffer_size bytes pile up
        is dropped (the engine closes the session with "transport error")."""
        if self._closed or self.buffered_amount() <= self._max_buffer:
            return
        log.info(
            "WebSocket peer not reading (over %d bytes buffered), dropping it", self._max_buffer
        )
        self._cork = []
        self._cork_size = 0
        self._writable = False
        self._closed = True
        self._parser = None
        self.transport.abort()
        self._notify(True)

    # ------------------------------------------------------------------ read flow control
    def pause_reading(self) -> None:
        if not self._closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self._closed:
            self.transport.resume_reading()

    def _flush(self) -> None:
        cork = self._cork
        self._cork = []
        self._cork_size = 0
        if self._closed:
            return
        if len(cork) == 1:
            self.transport.write(cork[0])
        else:
            self.transport.writelines(cork)  # one writev, no joined copy

    def _after_control(self) -> bool:
        """Send what the connection's rules ask for; once they say CLOSED, close the TCP
        connection and tell the receiver (an error unless the peer closed). True then."""
        conn = self._conn
        for frame in conn.data_to_send():
            self._push(frame)
        if conn.state is not State.CLOSED:
            return False
        self._writable = False
        self.close_code = conn.close_code
        self._close_transport()
        self._notify(conn.close_code is None)
        return True

    def _close_transport(self) -> None:
        if self._cork:
            self._flush()
        self._closed = True
        self._writable = False
        self._parser = None
        handle = self._close_handle
        if handle is not None:
            handle.cancel()
            self._close_handle = None
        self.transport.close()

    def _close_expired(self) -> None:
        self._close_handle = None
        if self._closed:
            return
        self._closed = True
        self._writable = False
        self._parser = None
        transport = self.transport
        if transport.get_write_buffer_size():
            transport.abort()
        else:
            transport.close()

    def _notify(self, error: bool) -> None:
        if self._notified:
            return
        self._notified = True
        notify_closed(self, error)
