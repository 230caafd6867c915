"""The rules of one side of a WebSocket connection (RFC 6455 5.5, 7), sans I/O.

What to answer to a control frame, the closing handshake and when the TCP connection is to
close, for the server and the client alike (they differ only in masking their frames). The
I/O layer feeds it the control frames its :class:`~.frames.FrameParser` returns (data frames
go straight to the application: the hot path does not pass through here), writes what
:meth:`Connection.data_to_send` returns, and closes the TCP connection once :attr:`state` is
``CLOSED``.

The close echo is Node's ``ws``: the peer's code and reason are sent back, an empty close
(no status) gets an empty close.
"""

from __future__ import annotations

import enum

from ..errors import ProtocolError
from .frames import CLOSE, PING, close_frame, next_mask, parse_close, pong_frame

__all__ = ["NO_STATUS", "Connection", "State"]

NO_STATUS = 1005
"""The close code of an empty close frame: ``close(None)`` sends one."""


class State(enum.IntEnum):
    OPEN = 0
    """Messages go both ways."""
    CLOSING = 1
    """This side sent its close frame and sends nothing more; the peer's close is awaited."""
    CLOSED = 2
    """The closing handshake is over (or failed): the TCP connection is to close."""


class Connection:
    """One side of a WebSocket connection: ``Connection(client=True)`` masks its frames."""

    __slots__ = ("_out", "client", "close_code", "close_reason", "error", "state")

    def __init__(self, *, client: bool) -> None:
        self.client = client
        self.state = State.OPEN
        self.close_code: int | None = None
        """The code of the peer's close frame, once received (1005: it had none)."""
        self.close_reason = ""
        self.error: ProtocolError | None = None
        """What the peer broke, when a control frame of its ended the connection."""
        self._out: list[bytes] = []

    def data_to_send(self) -> list[bytes]:
        """The frames this side must send now, in order (pongs, close frames)."""
        out, self._out = self._out, []
        return out

    def _mask(self) -> bytes | None:
        return next_mask() if self.client else None

    def close(self, code: int | None = 1000, reason: str = "") -> None:
        """Start the closing handshake (nothing unless OPEN). ``code=None`` sends a close frame
        without a status; a code that may not be sent becomes 1011."""
        if self.state is not State.OPEN:
            return
        try:
            frame = close_frame(NO_STATUS if code is None else code, reason, mask=self._mask())
        except ValueError:
            frame = close_frame(1011, mask=self._mask())
        self._out.append(frame)
        self.state = State.CLOSING

    def fail(self, code: int) -> None:
        """The peer broke the protocol (``ProtocolError.close_code``): close with that code
        at once, without waiting for the peer's close."""
        self.close(code)
        self.state = State.CLOSED

    def receive_control(self, opcode: int, payload: bytes) -> None:
        """A control frame from the peer: a ping is answered while open, a close ends the
        connection (echoed if this side had not closed yet), a pong needs nothing."""
        if opcode == PING:
            if self.state is State.OPEN:
                self._out.append(pong_frame(payload, mask=self._mask()))
        elif opcode == CLOSE:
            try:
                code, reason = parse_close(payload)
            except ProtocolError as exc:
                self.error = exc
                self.fail(exc.close_code)
                return
            self.close_code, self.close_reason = code, reason
            if self.state is State.OPEN:
                try:
                    echo = close_frame(code, reason, mask=self._mask())
                except ValueError:
                    echo = close_frame(NO_STATUS, mask=self._mask())
                self._out.append(echo)
            self.state = State.CLOSED

    def abandon(self) -> None:
        """The TCP connection is gone (or dropped by this side): nothing more to send."""
        self._out = []
        self.state = State.CLOSED
