"""The client's WebSocket transport: Engine.IO over one WebSocket, as an asyncio protocol.

The transport is its own asyncio protocol: the event loop calls ``data_received`` with the
bytes read, which go through the sans-I/O frame parser straight to the engine; no reader
task and no stream objects per connection. Packets sent in one turn of the event loop leave
in one write (the engine buffers them while the transport is not writable, and it becomes
writable again on the next turn), each one a masked frame built in one piece
(:func:`~aiosocketio.ws.frames.masked_frame`, in C when the accelerator is built).
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from typing import Any, cast

from ..engineio.packets import MESSAGE, decode_packet
from ..errors import ProtocolError
from ..ws.connection import Connection, State
from ..ws.deflate import Deflate, client_offer, negotiate_client
from ..ws.frames import (
    BINARY,
    TEXT,
    FrameParser,
    masked_frame,
    next_mask,
)
from ..ws.handshake import build_request, check_response
from .events import TaskSet
from .http import MAX_HEAD, parse_head
from .transports import OutPacket, Transport, TransportOptions

__all__ = ["WebSocketTransport"]

HIGH_WATER = 1024 * 1024
"""Bytes waiting in the socket's write buffer beyond which the transport is not writable."""
CLOSE_WAIT = 1.0
"""Seconds to wait for the server to close the connection after our close frame."""


class WebSocketTransport(Transport, asyncio.Protocol):
    """Engine.IO over one WebSocket connection (masked frames, permessage-deflate)."""

    name = "websocket"

    __slots__ = (
        "_conn",
        "_deflate",
        "_drain_handle",
        "_head",
        "_loop",
        "_lost",
        "_parser",
        "_paused",
        "_pending",
        "_sock",
        "_task",
    )

    def __init__(self, options: TransportOptions, query: dict[str, str], tasks: TaskSet) -> None:
        super().__init__(options, query, tasks)
        self._sock: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deflate: Deflate | None = None
        self._parser: FrameParser | None = None
        self._pending = bytearray()  # bytes received before the parser takes over
        self._head: asyncio.Future[bytes] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._task: asyncio.Task[Any] | None = None
        self._drain_handle: asyncio.Handle | None = None
        self._paused = False
        self._conn = Connection(client=True)

    # ------------------------------------------------------------------ opening
    def open(self) -> None:
        self.state = "opening"
        self._loop = asyncio.get_running_loop()
        self._task = self.tasks.spawn(self._connect(), "websocket")

    async def _connect(self) -> None:
        opts = self.options
        target = opts.target
        loop = asyncio.get_running_loop()
        context: _ssl.SSLContext | None = None
        if target.secure:
            context = opts.ssl if opts.ssl is not None else _ssl.create_default_context()
        self._head = loop.create_future()
        self._lost = loop.create_future()
        try:
            async with asyncio.timeout(opts.connect_timeout):
                await loop.create_connection(
                    lambda: self,
                    target.host,
                    target.port,
                    ssl=context,
                    server_hostname=target.host if context is not None else None,
                )
                key, request = build_request(
                    target.host_header,
                    target.url(self.query),
                    extensions=client_offer() if opts.per_message_deflate else None,
                    extra_headers=opts.request_headers(),
                )
                self._write(request)
                head = await self._head
            status, headers = parse_head(head)
            extension = check_response(status, headers, key)
            if extension is not None:
                if not opts.per_message_deflate:
                    raise ProtocolError(f"unexpected extensions: {extension!r}")
                self._deflate = Deflate(negotiate_client(extension), client_side=True)
        except asyncio.CancelledError:
            self._give_up()
            raise
        except Exception as exc:
            self._give_up()
            self._fail("websocket error", exc)
            return
        if self.state == "closed":
            self._abort()
            return
        self._parser = FrameParser(
            client_side=True, max_message_size=opts.max_message_size, deflate=self._deflate
        )
        self._opened()
        pending, self._pending = bytes(self._pending), bytearray()
        if pending:
            self._feed(pending)

    # ------------------------------------------------------------------ asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio.Transport: no isinstance check
        sock = cast(asyncio.Transport, transport)
        self._sock = sock
        sock.set_write_buffer_limits(high=HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is not None:
            n = len(data)
            if (
                3 < n < 128
                and data[0] == 0x81  # a final TEXT frame, unmasked, no extension bit
                and data[1] == n - 2  # a 7-bit length (n < 128): the whole frame, nothing else
                and data[2] == 0x34  # "4": an Engine.IO message
                and parser.at_boundary()
            ):
                # what a receiver gets most: one short message per read; the parser would
                # give the same, two calls and a list later
                try:
                    text = data[3:].decode()
                except UnicodeDecodeError:
                    pass  # the parser refuses it as it should
                else:
                    handler = self.handler
                    if handler is not None:
                        try:
                            handler.on_transport_packet(self, MESSAGE, text)
                        except Exception as exc:
                            self._fail("websocket error", exc)
                    return
            self._feed(data)
            return
        pending = self._pending
        pending += data
        head = self._head
        if head is None or head.done():
            return  # the rest, for the parser once the transport is open
        end = pending.find(b"\r\n\r\n")
        if end >= 0:
            head.set_result(bytes(pending[: end + 4]))
            del pending[: end + 4]
        elif len(pending) > MAX_HEAD:
            head.set_exception(ProtocolError("WebSocket handshake response too long"))

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        head = self._head
        if head is not None and not head.done():
            head.set_exception(ConnectionError("the server closed the connection"))
        lost = self._lost
        if lost is not None and not lost.done():
            lost.set_result(None)
        if self.state == "closed" or self._parser is None:
            return
        if exc is not None and not isinstance(exc, ConnectionError):
            self._fail("websocket error", exc)
        else:
            # a reset is a close, as for Node's ws (a "close" event, code 1006, no "error")
            self._closed("websocket connection closed")

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self.state == "open" and not self.writable and self._drain_handle is None:
            self._set_writable()

    # ------------------------------------------------------------------ receiving
    def _feed(self, data: bytes) -> None:
        parser = self._parser
        assert parser is not None
        try:
            for opcode, payload in parser.feed(data):
                if opcode == TEXT:
                    assert isinstance(payload, str)
                    kind: int
                    value: str | bytes
                    if payload[:1] == "4":  # a message, nearly every packet
                        kind, value = MESSAGE, payload[1:]
                    else:
                        kind, value = decode_packet(payload)
                    handler = self.handler
                    if handler is not None:
                        handler.on_transport_packet(self, kind, value)
                elif opcode == BINARY:
                    handler = self.handler
                    if handler is not None:
                        handler.on_transport_packet(self, MESSAGE, payload)
                else:  # PING, PONG, CLOSE: the connection's rules (ws.connection)
                    assert isinstance(payload, bytes)
                    conn = self._conn
                    conn.receive_control(opcode, payload)
                    self._send_control()
                    if conn.state is State.CLOSED:
                        if conn.error is not None:
                            self._fail("websocket error", conn.error)
                        else:
                            self._closed("websocket connection closed")
                            self._abort(gracefully=True)
                        return
        except ProtocolError as exc:
            self._conn.fail(exc.close_code)
            self._send_control()
            self._fail("websocket error", exc)
        except Exception as exc:
            self._fail("websocket error", exc)

    # ------------------------------------------------------------------ sending
    def _send_control(self) -> None:
        for frame in self._conn.data_to_send():
            self._write(frame)

    def _write(self, data: bytes) -> None:
        sock = self._sock
        if sock is not None and not sock.is_closing():
            sock.write(data)

    def send(self, packets: list[OutPacket]) -> None:
        if self.state != "open":
            return
        deflate = self._deflate
        threshold = self.options.compress_threshold
        frames = []
        for kind, data, compress in packets:
            if isinstance(data, str):
                first = 0x81  # final TEXT frame
                payload = f"{kind}{data}".encode()
            elif kind == MESSAGE:
                first = 0x82  # final BINARY frame
                payload = data
            else:
                raise ValueError("only message packets can carry binary data")
            if deflate is not None and compress and len(payload) >= threshold:
                frames.append(masked_frame(first | 0x40, deflate.compress(payload), next_mask()))
            else:
                frames.append(masked_frame(first, payload, next_mask()))
        sock = self._sock
        if sock is not None and not sock.is_closing():
            if len(frames) == 1:
                sock.write(frames[0])
            else:
                sock.writelines(frames)
        self.writable = False
        loop = self._loop
        assert loop is not None
        self._drain_handle = loop.call_soon(self._drained)

    def _drained(self) -> None:
        self._drain_handle = None
        if self.state != "open" or self._paused:
            return  # paused: resume_writing makes the transport writable again
        self._set_writable()

    def _set_writable(self) -> None:
        self.writable = True
        handler = self.handler
        if handler is not None:
            handler.on_transport_drain(self)

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        if not self._mark_closed():
            return
        self._release()
        self.tasks.spawn(self._shutdown(), "websocket close")

    async def _shutdown(self) -> None:
        task = self._task
        if self._parser is None:  # still connecting: give up the attempt
            if task is not None and task is not asyncio.current_task():
                task.cancel()
            self._abort()
            return
        self._conn.close(1000)
        self._send_control()
        lost = self._lost
        if lost is not None and not lost.done():
            # the server answers with its close frame, then closes the connection
            try:
                await asyncio.wait_for(asyncio.shield(lost), CLOSE_WAIT)
            except TimeoutError:
                pass
        self._abort()

    def _give_up(self) -> None:
        """The opening failed: nobody waits for the handshake's answer any more."""
        head = self._head
        if head is not None and not head.done():
            head.cancel()  # not an exception nobody would retrieve
        self._abort()

    def _abort(self, gracefully: bool = False) -> None:
        sock = self._sock
        if sock is not None and not sock.is_closing():
            if gracefully:
                sock.close()  # what was written still leaves
            else:
                sock.abort()

    def _release(self) -> None:
        if self._drain_handle is not None:
            self._drain_handle.cancel()
            self._drain_handle = None
