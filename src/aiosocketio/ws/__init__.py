"""WebSocket protocol (RFC 6455) with permessage-deflate (RFC 7692), sans-I/O.

Bytes in, messages out: :class:`FrameParser` parses received frames, the ``*_frame``
helpers build frames to send, :class:`Connection` holds the rules of the closing handshake
and of control frames, and :mod:`.handshake` / :mod:`.deflate` cover the opening
handshake and compression negotiation. Nothing here does I/O.
"""

from .connection import Connection, State
from .deflate import Deflate, DeflateParams, client_offer, negotiate_client, negotiate_server
from .frames import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    PONG,
    TEXT,
    FrameParser,
    Message,
    apply_mask,
    binary_frame,
    close_frame,
    encode_frame,
    parse_close,
    ping_frame,
    pong_frame,
    text_frame,
)
from .handshake import (
    accept_key,
    build_request,
    build_response,
    check_request,
    check_response,
    client_request_headers,
    response_headers,
)

__all__ = [
    "BINARY",
    "CLOSE",
    "CONT",
    "PING",
    "PONG",
    "TEXT",
    "Connection",
    "Deflate",
    "DeflateParams",
    "FrameParser",
    "Message",
    "State",
    "accept_key",
    "apply_mask",
    "binary_frame",
    "build_request",
    "build_response",
    "check_request",
    "check_response",
    "client_offer",
    "client_request_headers",
    "close_frame",
    "encode_frame",
    "negotiate_client",
    "negotiate_server",
    "parse_close",
    "ping_frame",
    "pong_frame",
    "response_headers",
    "text_frame",
]
