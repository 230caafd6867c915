"""The WebSocket connection rules (ws.connection), without sockets: pings, the closing
handshake both ways, protocol failures, and masking by side."""

from __future__ import annotations

import pytest

from aiosocketio.ws.connection import NO_STATUS, Connection, State
from aiosocketio.ws.frames import (
    CLOSE,
    PING,
    PONG,
    FrameParser,
    close_frame,
    pong_frame,
)


def frames_of(data: list[bytes], *, masked: bool) -> list[tuple[int, object]]:
    """Parse what one side sent, as the other side would (a server expects masked frames)."""
    parser = FrameParser(max_message_size=1 << 20, client_side=not masked)
    out: list[tuple[int, object]] = []
    for chunk in data:
        out.extend(parser.feed(chunk))
    return out


def test_a_ping_is_answered_while_open() -> None:
    conn = Connection(client=False)
    conn.receive_control(PING, b"hi")
    assert conn.data_to_send() == [pong_frame(b"hi")]
    assert conn.data_to_send() == []  # taken once
    conn.receive_control(PONG, b"")  # nothing to do
    assert conn.data_to_send() == [] and conn.state is State.OPEN


def test_the_peer_closes_first_its_code_and_reason_are_echoed() -> None:
    conn = Connection(client=False)
    conn.receive_control(CLOSE, close_frame(4001, "bye")[2:])
    assert conn.data_to_send() == [close_frame(4001, "bye")]
    assert (conn.state, conn.close_code, conn.close_reason, conn.error) == (
        State.CLOSED,
        4001,
        "bye",
        None,
    )
    conn.receive_control(PING, b"")  # closed: nothing more is sent
    assert conn.data_to_send() == []


def test_an_empty_close_is_echoed_empty() -> None:
    conn = Connection(client=False)
    conn.receive_control(CLOSE, b"")
    assert conn.data_to_send() == [close_frame(NO_STATUS)]
    assert conn.close_code == NO_STATUS and conn.state is State.CLOSED


def test_this_side_closes_first() -> None:
    conn = Connection(client=False)
    conn.close(1001, "going away")
    assert conn.data_to_send() == [close_frame(1001, "going away")]
    assert conn.state is State.CLOSING
    conn.close(1000)  # once only
    conn.receive_control(PING, b"x")  # no pong after our close
    assert conn.data_to_send() == []
    conn.receive_control(CLOSE, close_frame(1001)[2:])  # the peer's answer: not echoed
    assert conn.data_to_send() == [] and conn.state is State.CLOSED and conn.close_code == 1001


def test_close_without_status_and_with_a_code_that_may_not_be_sent() -> None:
    conn = Connection(client=False)
    conn.close(None)
    assert conn.data_to_send() == [close_frame(NO_STATUS)]
    other = Connection(client=False)
    other.close(1006)  # reserved: never on the wire
    assert other.data_to_send() == [close_frame(1011)]


@pytest.mark.parametrize("payload", [b"\x03", b"\x03\xed", b"\x03\xe8\xff"])
def test_a_bad_close_payload_fails_the_connection(payload: bytes) -> None:
    conn = Connection(client=False)
    conn.receive_control(CLOSE, payload)
    assert conn.error is not None and conn.state is State.CLOSED
    assert conn.close_code is None
    assert conn.data_to_send() == [close_frame(conn.error.close_code)]


def test_fail_closes_at_once_with_the_code() -> None:
    conn = Connection(client=False)
    conn.fail(1009)
    assert conn.data_to_send() == [close_frame(1009)] and conn.state is State.CLOSED
    conn.fail(1002)  # already closed: nothing more
    assert conn.data_to_send() == []


def test_a_client_masks_its_frames() -> None:
    conn = Connection(client=True)
    conn.receive_control(PING, b"hi")
    conn.receive_control(CLOSE, close_frame(1000, "done")[2:])
    sent = conn.data_to_send()
    assert all(frame[1] & 0x80 for frame in sent)  # the MASK bit
    assert frames_of(sent, masked=True) == [(PONG, b"hi"), (CLOSE, close_frame(1000, "done")[2:])]


def test_abandon() -> None:
    conn = Connection(client=False)
    conn.receive_control(PING, b"")
    conn.abandon()
    assert conn.data_to_send() == [] and conn.state is State.CLOSED
