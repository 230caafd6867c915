"""A small raw Socket.IO client for the server tests (not a library client).

It speaks Engine.IO v4 over a raw WebSocket (``/socket.io/?EIO=4&transport=websocket``),
answers the server's pings, and keeps everything the server sends so that tests can look at
the decoded packets (``next_event``, ``next_packet``) or at the raw Engine.IO messages
(``next_raw``), in order and independently.

``SioServer`` starts a :class:`aiosocketio.server.server.Server` on a free port and closes it
(and every client it opened) at the end of an ``async with`` block.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from aiosocketio.errors import ProtocolError
from aiosocketio.server.server import Server
from aiosocketio.socketio.packets import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    Decoder,
    Packet,
    encode,
)
from aiosocketio.ws.frames import (
    BINARY,
    CLOSE,
    PING,
    PONG,
    TEXT,
    FrameParser,
    encode_frame,
    parse_close,
)
from helpers import RecordingDeflate, WsConnection

__all__ = ["ConnectRefused", "Disconnected", "SioClient", "SioServer", "settle", "until"]

TIMEOUT = 5.0  # a generous deadline: the CI machine is loaded
T = TypeVar("T")


class Disconnected(Exception):
    """The connection closed while a test waited for something from the server."""


class ConnectRefused(Exception):
    """The server answered CONNECT with CONNECT_ERROR; ``data`` is its payload."""

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        self.data = data


class _Inbox(Generic[T]):
    """Received items in order; ``take`` removes the first one that matches."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self.closed = False
        self._waiters: list[asyncio.Future[None]] = []

    def put(self, item: T) -> None:
        self.items.append(item)
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def take(self, match: Callable[[T], bool], timeout: float) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, item in enumerate(self.items):
                if match(item):
                    return self.items.pop(i)
            if self.closed:
                raise Disconnected("connection closed")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"nothing matching within {timeout} s")
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                raise TimeoutError(f"nothing matching within {timeout} s") from None


def _is_event(packet: Packet) -> bool:
    return packet.type in (EVENT, BINARY_EVENT)


class SioClient:
    """One raw Socket.IO connection over a WebSocket.

    ``closed`` is a future that gets the WebSocket close code the server sent (1006 when the
    TCP connection ended without a close frame). ``open`` is the Engine.IO open packet.
    """

    def __init__(self, ws: WsConnection, *, auto_pong: bool = True) -> None:
        self.ws = ws
        self.auto_pong = auto_pong
        self.open: dict[str, Any] = {}
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.close_reason = ""
        self.raw: _Inbox[str | bytes] = _Inbox()
        self.packets: _Inbox[Packet] = _Inbox()
        self.errors: list[Exception] = []
        self.inflated: list[bytes] = []
        self.pings = 0
        self.sids: dict[str, str] = {}
        self.last_connect: Any = None
        self._decoder = Decoder(max_attachments=1000)
        self._next_ack = 0
        self._close_sent = False
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open_ws(
        cls,
        port: int,
        *,
        path: str = "/socket.io/",
        query: str = "",
        headers: list[tuple[str, str]] | None = None,
        auto_pong: bool = True,
        deflate: bool = False,
    ) -> SioClient:
        """With ``deflate``, offer permessage-deflate: ``inflated`` then lists the messages
        that came compressed."""
        target = f"{path}?EIO=4&transport=websocket" + (f"&{query}" if query else "")
        extensions = "permessage-deflate; client_max_window_bits" if deflate else None
        ws = await WsConnection.open(port, target, headers=headers, extensions=extensions)
        client = cls(ws, auto_pong=auto_pong)
        if deflate:
            ws.parser = FrameParser(
                client_side=True,
                max_message_size=1 << 30,
                deflate=RecordingDeflate(client.inflated, client_side=True),
            )
        client._task = asyncio.ensure_future(client._read_loop())
        first = await client.next_raw()
        assert isinstance(first, str) and first[:1] == "0", first
        client.open = json.loads(first[1:])
        return client

    # ------------------------------------------------------------------ receiving
    async def _read_loop(self) -> None:
        reader = self.ws.reader
        parser = self.ws.parser
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                try:
                    messages = parser.feed(data)
                except ProtocolError as exc:
                    self.errors.append(exc)
                    break
                for opcode, payload in messages:
                    if opcode == TEXT:
                        assert isinstance(payload, str)
                        self._on_text(payload)
                    elif opcode == BINARY:
                        assert isinstance(payload, bytes)
                        self.raw.put(payload)
                        self._decode(payload)
                    elif opcode == PING:
                        assert isinstance(payload, bytes)
                        self._frame(PONG, payload)
                    elif opcode == CLOSE:
                        assert isinstance(payload, bytes)
                        self._on_close_frame(payload)
        except (ConnectionError, OSError):
            pass
        finally:
            if not self.closed.done():
                self.closed.set_result(1006)
            self.raw.close()
            self.packets.close()
            self.ws.writer.transport.abort()

    def _on_text(self, text: str) -> None:
        if text == "2" and self.auto_pong:
            self.pings += 1
            self._frame(TEXT, b"3")
            return
        self.raw.put(text)
        if text[:1] == "4":
            self._decode(text[1:])

    def _decode(self, data: str | bytes) -> None:
        try:
            if isinstance(data, str):
                packet = self._decoder.decode_text(data)
            else:
                packet = self._decoder.decode_binary(data)
        except ProtocolError as exc:
            self.errors.append(exc)
            return
        if packet is not None:
            self.packets.put(packet)

    def _on_close_frame(self, payload: bytes) -> None:
        try:
            code, reason = parse_close(payload)
        except ProtocolError:
            code, reason = 1002, ""
        if not self.closed.done():
            self.closed.set_result(code)
            self.close_reason = reason
        if not self._close_sent:
            self._close_sent = True
            self._frame(CLOSE, payload)

    # ------------------------------------------------------------------ sending
    def _frame(self, opcode: int, payload: bytes) -> None:
        transport = self.ws.writer.transport
        if not transport.is_closing():
            transport.write(encode_frame(opcode, payload, mask=os.urandom(4)))

    async def send_raw(self, data: str | bytes) -> None:
        """Send one Engine.IO message as it is: text (type digit included) or binary."""
        if isinstance(data, str):
            self._frame(TEXT, data.encode())
        else:
            self._frame(BINARY, data)
        await asyncio.sleep(0)

    def send_packet(
        self, kind: int, nsp: str = "/", data: Any = None, id: int | None = None
    ) -> None:
        """Encode and send one Socket.IO packet (binary data becomes attachments)."""
        for message in encode(kind, nsp, data, id):
            if isinstance(message, str):
                self._frame(TEXT, ("4" + message).encode())
            else:
                self._frame(BINARY, message)

    # ------------------------------------------------------------------ Socket.IO
    async def connect(self, nsp: str = "/", auth: Any = None, timeout: float = TIMEOUT) -> str:
        """Join a namespace; returns the socket id. Raises ConnectRefused on CONNECT_ERROR.

        Replies to earlier CONNECT packets that are still in the inbox are dropped first."""

        def is_reply(p: Packet) -> bool:
            return p.nsp == nsp and p.type in (CONNECT, CONNECT_ERROR)

        self.packets.items = [p for p in self.packets.items if not is_reply(p)]
        self.send_packet(CONNECT, nsp, auth)
        packet = await self.packets.take(is_reply, timeout)
        self._skip_raw_through(nsp)
        if packet.type == CONNECT_ERROR:
            raise ConnectRefused(packet.data)
        self.sids[nsp] = packet.data["sid"]
        self.last_connect = packet.data
        return str(packet.data["sid"])

    def _skip_raw_through(self, nsp: str) -> None:
        """Drop the raw messages up to the CONNECT reply of nsp: after ``connect``, the raw
        inbox holds what came after the reply (the packet inbox keeps everything)."""
        items = self.raw.items
        for i, item in enumerate(items):
            if isinstance(item, str) and item[:2] in ("40", "44"):
                rest = item[2:]
                if rest.startswith(nsp + ",") if nsp != "/" else not rest.startswith("/"):
                    del items[: i + 1]
                    return

    async def emit(self, event: str, *args: Any, nsp: str = "/") -> None:
        self.send_packet(EVENT, nsp, [event, *args])
        await asyncio.sleep(0)

    async def emit_with_ack(
        self, event: str, *args: Any, nsp: str = "/", timeout: float = TIMEOUT
    ) -> list[Any]:
        """Emit with an ack id; returns the server's acknowledgement arguments."""
        id = self._next_ack
        self._next_ack += 1
        self.send_packet(EVENT, nsp, [event, *args], id)
        packet = await self.packets.take(
            lambda p: p.type in (ACK, BINARY_ACK) and p.id == id and p.nsp == nsp, timeout
        )
        return list(packet.data)

    def ack(self, id: int, *args: Any, nsp: str = "/") -> None:
        """Acknowledge an event the server sent with an ack id."""
        self.send_packet(ACK, nsp, list(args), id)

    async def next_packet(
        self,
        timeout: float = TIMEOUT,
        *,
        nsp: str | None = None,
        types: tuple[int, ...] | None = None,
    ) -> Packet:
        """The first packet received (of these types / namespace), removed from the inbox."""
        return await self.packets.take(
            lambda p: (nsp is None or p.nsp == nsp) and (types is None or p.type in types),
            timeout,
        )

    async def next_event(
        self, timeout: float = TIMEOUT, *, nsp: str | None = None
    ) -> tuple[str, str, list[Any]]:
        """The first event received: ``(nsp, name, args)``."""
        packet = await self.packets.take(
            lambda p: _is_event(p) and (nsp is None or p.nsp == nsp), timeout
        )
        return packet.nsp, packet.data[0], list(packet.data[1:])

    async def next_event_packet(
        self, timeout: float = TIMEOUT, *, nsp: str | None = None
    ) -> Packet:
        """The first event received, as a packet (to read its ack id)."""
        return await self.packets.take(
            lambda p: _is_event(p) and (nsp is None or p.nsp == nsp), timeout
        )

    async def no_event(self, wait: float = 0.1, *, nsp: str | None = None) -> bool:
        """True when no event arrives within ``wait`` seconds."""
        try:
            await self.next_event(wait, nsp=nsp)
        except (TimeoutError, Disconnected):
            return True
        return False

    async def next_raw(self, timeout: float = TIMEOUT) -> str | bytes:
        """The next Engine.IO message (pings excluded while auto_pong is on)."""
        return await self.raw.take(lambda _: True, timeout)

    async def disconnect(self, nsp: str = "/") -> None:
        """Leave a namespace (DISCONNECT packet)."""
        self.send_packet(DISCONNECT, nsp)
        await asyncio.sleep(0)

    async def wait_closed(self, timeout: float = TIMEOUT) -> int:
        """The close code the server sent (1006 without a close frame)."""
        code = await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        if self._task is not None:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        return code

    async def close(self, code: int = 1000, timeout: float = TIMEOUT) -> int:
        """Closing handshake from the client side; returns the server's close code."""
        if not self._close_sent and not self.closed.done():
            self._close_sent = True
            self._frame(CLOSE, code.to_bytes(2, "big"))
        try:
            return await self.wait_closed(timeout)
        finally:
            await self.abort()

    async def abort(self) -> None:
        """Drop the TCP connection at once."""
        self.ws.writer.transport.abort()
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), TIMEOUT)
            except TimeoutError:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass

    @property
    def is_closed(self) -> bool:
        return self.closed.done()


class SioServer:
    """``async with SioServer(**server_options) as srv``: a started server, ``srv.io``,
    ``srv.port``, and ``await srv.client()`` for connected raw clients, all closed at exit."""

    def __init__(self, io: Server | None = None, **options: Any) -> None:
        self.io = io if io is not None else Server(**options)
        self.port = 0
        self.clients: list[SioClient] = []
        self._closed = False

    async def __aenter__(self) -> SioServer:
        standalone = await self.io.start("127.0.0.1", 0)
        self.port = standalone.port
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.io.close()
        for client in self.clients:
            await client.abort()

    async def client(self, **options: Any) -> SioClient:
        """A new raw client with its Engine.IO session open (no namespace joined yet)."""
        client = await SioClient.open_ws(self.port, **options)
        self.clients.append(client)
        return client

    async def connected(
        self, nsp: str = "/", auth: Any = None, **options: Any
    ) -> tuple[SioClient, str]:
        """A new raw client connected to ``nsp``: ``(client, sid)``."""
        client = await self.client(**options)
        sid = await client.connect(nsp, auth)
        return client, sid


async def settle(rounds: int = 5) -> None:
    """Let the event loop run pending callbacks and tasks a few times."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def until(predicate: Callable[[], Any], timeout: float = TIMEOUT) -> None:
    """Wait until ``predicate()`` is true (polling every millisecond)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.001)
