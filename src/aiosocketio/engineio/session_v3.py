"""The Engine.IO v3 heartbeat: the client pings, the server answers.

A v3 client (socket.io-client 2.x) sends a ping (``2``) every ``ping_interval`` and expects a
pong (``3``) within ``ping_timeout``. The server never pings: it closes the session ("ping
timeout") when no ping arrived for ``ping_interval + ping_timeout``, counted from the
handshake, then from each ping. A pong from the client breaks the protocol.

Everything else (messages, close, upgrade) is the v4 state machine's.
"""

from __future__ import annotations

import math

from ..errors import ProtocolError
from .packets import PING, PONG
from .session import Action, EngineConfig, Session, State

__all__ = ["SessionV3"]


class SessionV3(Session):
    """One Engine.IO v3 session, server side."""

    __slots__ = ()

    protocol = 3

    def __init__(self, sid: str, transport: str, config: EngineConfig, now: float) -> None:
        super().__init__(sid, transport, config, now)
        self._ping_at = math.inf  # the server sends no pings
        self._pong_deadline = now + config.ping_interval + config.ping_timeout

    def receive(self, kind: int, data: str | bytes, now: float) -> Action:
        if kind == PING:
            if self.state is State.CLOSED:
                return Action.NONE
            cfg = self.config
            self._pong_deadline = now + cfg.ping_interval + cfg.ping_timeout
            return Action.SEND_PONG
        if kind == PONG:
            raise ProtocolError("invalid heartbeat direction")
        return super().receive(kind, data, now)
