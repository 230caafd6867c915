"""Socket.IO protocol v4 (socket.io-client 2.x): namespaces read as URLs, the query of a
CONNECT as its auth, refusals as socket.io 4.8 writes them for v3 clients."""

from __future__ import annotations

import math
from typing import Any

import pytest

from aiosocketio.errors import ProtocolError
from aiosocketio.socketio.packets import CONNECT, DISCONNECT, EVENT, Decoder, Packet
from aiosocketio.socketio.packets_v4 import DecoderV4, refusal_payload, split_namespace

# what ``new URL(nsp, "https://socket.io")`` gives in Node 20: pathname, searchParams
URLS: list[tuple[str, str, dict[str, str]]] = [
    ("/chat", "/chat", {}),
    ("/chat?a=1&b=2&a=3", "/chat", {"a": "3", "b": "2"}),
    ("/a b", "/a%20b", {}),
    ("/a/../b", "/b", {}),
    ("/a/./b/.", "/a/b/", {}),
    ("//evil.com/x?y", "/x", {"y": ""}),
    ("/\\x\\y", "/y", {}),
    ("/%2e%2E/x", "/x", {}),
    ("/a#frag?x=1", "/a", {}),
    ("/a?x=1#f", "/a", {"x": "1"}),
    ("/\t/a\nb", "/", {}),
    ("/é", "/%C3%A9", {}),
    ("/a?x=%zz&y=+1&z", "/a", {"x": "%zz", "y": " 1", "z": ""}),
    ("/a?&&=&x==", "/a", {"": "", "x": "="}),
    ("/..", "/", {}),
    ("/a/..", "/", {}),
    ("/a/.%2e", "/", {}),
    ("/a/%2e", "/a/", {}),
    ('/a<>"`{}|^', "/a%3C%3E%22%60%7B%7D|^", {}),
    ("/a?x=\u00e9", "/a", {"x": "é"}),
    ("/a\u0000b", "/a%00b", {}),
    ("/a ", "/a", {}),
    ("/a/ ", "/a/", {}),
    ("/a%", "/a%", {}),
    ("/:a@b", "/:a@b", {}),
    ("/a;b=c,d", "/a;b=c,d", {}),
    ("/[x]", "/[x]", {}),
    ("/a?q=1?2", "/a", {"q": "1?2"}),
    ("/a?__proto__=1", "/a", {"__proto__": "1"}),
    ("/v1.0/x", "/v1.0/x", {}),
    ("/a//b", "/a//b", {}),
]


@pytest.mark.parametrize(("nsp", "path", "query"), URLS)
def test_a_namespace_is_read_as_node_reads_a_url(
    nsp: str, path: str, query: dict[str, str]
) -> None:
    assert split_namespace(nsp) == (path, query)


@pytest.mark.parametrize("nsp", ["///", "//", "// /x", "//a b/"])
def test_a_namespace_that_is_no_url_is_refused(nsp: str) -> None:
    with pytest.raises(ProtocolError):
        split_namespace(nsp)


def decode(*texts: str) -> Packet | None:
    decoder = DecoderV4(Decoder())
    packet = None
    for text in texts:
        packet = decoder.decode_text(text)
    return packet


def test_the_query_of_a_connect_is_its_auth() -> None:
    assert decode("0/chat?token=abc&x=1,") == Packet(CONNECT, "/chat", {"token": "abc", "x": "1"})
    assert decode("0/chat,") == Packet(CONNECT, "/chat", {})


def test_a_connect_payload_is_ignored_as_node_does() -> None:
    assert decode('0/chat?a=1,{"token":"x"}') == Packet(CONNECT, "/chat", {"a": "1"})


def test_other_packets_lose_their_query() -> None:
    assert decode('2/chat?x=1,["a"]') == Packet(EVENT, "/chat", ["a"])
    assert decode("1/a/../chat,") == Packet(DISCONNECT, "/chat")
    assert decode('2["a"]') == Packet(EVENT, "/", ["a"])


def test_binary_packets_get_their_namespace_once_complete() -> None:
    decoder = DecoderV4(Decoder())
    assert decoder.decode_text('51-/chat?x,["a",{"_placeholder":true,"num":0}]') is None
    assert decoder.decode_binary(b"\x01") == Packet(5, "/chat", ["a", b"\x01"])


def test_a_bad_namespace_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        decode("0///,")


@pytest.mark.parametrize(
    ("data", "payload"),
    [
        (None, "no"),
        ({"code": 401}, {"code": 401}),
        ({}, {}),
        ([], []),
        ("", "no"),
        ("why", "why"),
        (0, "no"),
        (0.0, "no"),
        (math.nan, "no"),
        (2, 2),
        (False, "no"),
        (True, True),
    ],
)
def test_a_refusal_sends_the_data_when_truthy_else_the_message(data: Any, payload: Any) -> None:
    assert refusal_payload("no", data) == payload
