"""An Engine.IO v3 session on asyncio (socket.io-client 2.x; served with ``allow_eio3``).

The same session as v4 (:class:`~aiosocketio.engine.socket.EngineSocket`) with v3 framing
(:mod:`aiosocketio.engineio.payload_v3`) and the v3 heartbeat
(:class:`~aiosocketio.engineio.session_v3.SessionV3`): the client pings, the server answers.

What the session buffers and what the layer above writes are v4 values (text packets with
their type digit, ``bytes`` binary messages); the v3 framing is applied on the way out: a
binary message gets its type byte on WebSocket, or its base64 text form for a client that
asked for ``b64``. A broadcast (:class:`~aiosocketio.engine.socket.Outgoing`) is reframed at
most once per form, by its first v3 recipient, and shared by the others.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..engineio import payload_v3
from ..engineio.packets import PING, PONG, Packet
from ..engineio.session import Action
from ..errors import ProtocolError
from ..reasons import DisconnectReason
from .socket import POLL_HEADERS_TEXT, EngineSocket, Outgoing, _ObservedEngineSocket

if TYPE_CHECKING:
    from ..engineio.session import Session
    from .http import Request
    from .server import EngineServer
    from .socket import WebSocketConnection

__all__ = ["EngineSocketV3"]

BINARY_CONTENT_TYPE = "application/octet-stream"


def wants_base64(request: Request) -> bool:
    """Whether a v3 transport must send binary as base64 text (Node: any non-empty ``b64``)."""
    return bool(request.query.get("b64"))


class EngineSocketV3(EngineSocket):
    """One Engine.IO v3 session."""

    __slots__ = ("_noop_before_close", "_poll_base64", "_ws_base64")

    protocol = 3

    def __init__(self, server: EngineServer, session: Session, request: Request) -> None:
        super().__init__(server, session, request)
        # as Node: each transport keeps what the request that opened it asked for
        self._poll_base64 = self._ws_base64 = wants_base64(request)
        self._noop_before_close = False

    @classmethod
    def _observed_class(cls) -> type[EngineSocket]:
        return _ObservedEngineSocketV3

    # ------------------------------------------------------------------ sending
    def _write_ws(self, ws: WebSocketConnection, packets: list[str | bytes]) -> None:  # type: ignore[override]
        base64 = self._ws_base64
        for p in packets:
            if type(p) is str:
                ws.send_text(p)
            elif base64:
                ws.send_text(payload_v3.encode_base64(p))  # type: ignore[arg-type]
            else:
                ws.send_bytes(payload_v3.encode_binary(p))  # type: ignore[arg-type]

    def write_outgoing(self, out: Outgoing) -> bool:
        if self.ws is not None:
            out = _framed_v3(out, self._ws_base64)
        return super().write_outgoing(out)

    def close(self, reason: str = DisconnectReason.FORCED_CLOSE) -> None:
        # as Node: a close that waits for the next GET answers it with a noop, then the close
        if not self._closing and not self.closed:
            waiting = self._poll is None or bool(self._buffer)
            self._noop_before_close = waiting and (self.ws is None or self._upgrade is not None)
        super().close(reason)

    def _closing_packets(self) -> list[str | bytes]:
        return ["6", "1"] if self._noop_before_close else ["1"]

    def _encode_poll(self, packets: list[str | bytes]) -> tuple[bytes, str]:
        body, binary = payload_v3.encode_payload(packets, binary=not self._poll_base64)
        return body, BINARY_CONTENT_TYPE if binary else POLL_HEADERS_TEXT

    # ------------------------------------------------------------------ receiving
    def _decode_post(self, request: Request) -> list[Packet]:
        if request.headers.get("content-type", "") == BINARY_CONTENT_TYPE:
            return payload_v3.decode_payload_binary(request.body)
        return payload_v3.decode_payload(request.body.decode())

    def on_message(self, data: str | bytes) -> None:
        """A WebSocket message on the session's current transport."""
        if type(data) is str and data[:1] == "4":
            handler = self.handler
            if handler is not None:
                handler.on_message(data[1:])
            return
        self._receive_ws(data)

    def _receive_ws(self, data: str | bytes) -> None:
        try:
            kind, payload = payload_v3.decode_packet(data)
        except ProtocolError:
            self._terminate(DisconnectReason.PARSE_ERROR, "invalid packet")
            return
        self._receive(kind, payload)

    def _receive(self, kind: int, data: str | bytes) -> None:
        if kind == PING:
            action = self.session.receive(kind, data, asyncio.get_running_loop().time())
            if action is Action.SEND_PONG:
                self.write_text("3")
                self._emit("heartbeat")
            return
        if kind == PONG:
            # as Node: a transport error (the client broke the heartbeat's direction)
            self._terminate(DisconnectReason.TRANSPORT_ERROR, "invalid heartbeat direction")
            return
        super()._receive(kind, data)

    # ------------------------------------------------------------------ upgrade
    def start_upgrade(self, conn: WebSocketConnection, request: Request | None = None) -> None:
        if request is not None:
            self._ws_base64 = wants_base64(request)
        super().start_upgrade(conn, request)


class _ObservedEngineSocketV3(_ObservedEngineSocket, EngineSocketV3):
    """A v3 session someone listens to: every packet received is reported once, decoded."""

    __slots__ = ()

    def on_message(self, data: str | bytes) -> None:
        self._receive_ws(data)


def _framed_v3(out: Outgoing, base64: bool) -> Outgoing:
    """``out`` as a v3 WebSocket writes it: the same object when it is all text, else a copy
    whose binary messages have their v3 form, made once and kept on ``out``."""
    key = "v3-base64" if base64 else "v3"
    variants: dict[str, Outgoing] | None = getattr(out, "variants", None)
    if variants is not None:
        found = variants.get(key)
        if found is not None:
            return found
    if all(type(p) is str for p in out.packets):
        framed = out
    else:
        encode: Any = payload_v3.encode_base64 if base64 else payload_v3.encode_binary
        framed = Outgoing(
            [p if type(p) is str else encode(p) for p in out.packets],
            volatile=out.volatile,
            compress=out.compress,
        )
    if variants is None:
        variants = out.variants = {}
    variants[key] = framed
    return framed
