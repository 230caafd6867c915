"""RFC 6455 section 4: the opening handshake."""

from __future__ import annotations

import base64

import pytest

from aiosocketio.errors import ProtocolError
from aiosocketio.ws.handshake import (
    accept_key,
    build_request,
    build_response,
    check_request,
    check_response,
    client_request_headers,
    response_headers,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def request(**changes: str | None) -> dict[str, str]:
    headers = {
        "host": "example.com",
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-key": KEY,
        "sec-websocket-version": "13",
    }
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return headers


def refused(method: str, headers: dict[str, str], status: int = 400) -> None:
    with pytest.raises(ProtocolError) as info:
        check_request(method, headers)
    assert info.value.close_code == status


class TestAcceptKey:
    """Section 1.3 / 4.2.2: Sec-WebSocket-Accept."""

    def test_rfc_example(self) -> None:
        assert accept_key(KEY) == ACCEPT


class TestServerHandshake:
    """Section 4.2.1: reading the client's request."""

    def test_valid_request(self) -> None:
        assert check_request("GET", request()) == KEY

    def test_token_lists_and_case(self) -> None:
        headers = request(upgrade="h2c, WebSocket", connection="keep-alive, UPGRADE")
        assert check_request("get", headers) == KEY

    def test_blanks_around_values(self) -> None:
        headers = request(sec_websocket_key=f" {KEY} ", sec_websocket_version=" 13 ")
        assert check_request("GET", headers) == KEY

    @pytest.mark.parametrize("method", ["POST", "HEAD", "PUT"])
    def test_method(self, method: str) -> None:
        refused(method, request())

    @pytest.mark.parametrize("upgrade", [None, "", "h2c", "websockets"])
    def test_upgrade_header(self, upgrade: str | None) -> None:
        refused("GET", request(upgrade=upgrade))

    @pytest.mark.parametrize("connection", [None, "", "keep-alive", "upgrades"])
    def test_connection_header(self, connection: str | None) -> None:
        refused("GET", request(connection=connection))

    @pytest.mark.parametrize("version", [None, "", "8", "12", "13, 8", "14"])
    def test_version(self, version: str | None) -> None:
        refused("GET", request(sec_websocket_version=version), 426)

    @pytest.mark.parametrize(
        "key",
        [
            None,
            "",
            "not base64!",
            base64.b64encode(b"x" * 15).decode(),
            base64.b64encode(b"x" * 17).decode(),
            "dGhlIHNhbXBsZSBub25jZQ",  # no padding
            "dGhlIHNhbXBsZSBub25jZQ==x",
            "dGhlIHNhbXBsZSBub25jZQ==\u00e9",
        ],
    )
    def test_key(self, key: str | None) -> None:
        refused("GET", request(sec_websocket_key=key))

    def test_response_headers(self) -> None:
        assert response_headers(KEY) == [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", ACCEPT),
        ]
        assert response_headers(KEY, "permessage-deflate")[-1] == (
            "Sec-WebSocket-Extensions",
            "permessage-deflate",
        )

    def test_build_response(self) -> None:
        assert build_response(KEY) == (
            b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + ACCEPT.encode() + b"\r\n"
            b"\r\n"
        )

    def test_build_response_with_extras(self) -> None:
        response = build_response(KEY, "permessage-deflate", [("Set-Cookie", "a=b")])
        assert response.endswith(
            b"Sec-WebSocket-Extensions: permessage-deflate\r\nSet-Cookie: a=b\r\n\r\n"
        )

    @pytest.mark.parametrize(
        "header", [("X-Bad", "a\r\nInjected: 1"), ("X-Bad\n", "a"), ("X:Bad", "a"), ("X", "\x00")]
    )
    def test_header_injection(self, header: tuple[str, str]) -> None:
        with pytest.raises(ValueError):
            build_response(KEY, extra_headers=[header])


class TestClientHandshake:
    """Sections 4.1 and 4.2.2: the client's request and the server's answer."""

    def test_request_headers(self) -> None:
        key, headers = client_request_headers()
        assert len(base64.b64decode(key, validate=True)) == 16
        assert dict(headers) == {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Version": "13",
        }
        assert client_request_headers()[0] != key

    def test_request_passes_server_checks(self) -> None:
        key, headers = client_request_headers(extensions="permessage-deflate")
        lowered = {name.lower(): value for name, value in headers}
        assert lowered["sec-websocket-extensions"] == "permessage-deflate"
        assert check_request("GET", lowered) == key

    def test_fixed_key(self) -> None:
        assert client_request_headers(key=KEY)[0] == KEY

    def test_build_request(self) -> None:
        key, data = build_request("example.com:8080", "/socket.io/?EIO=4&transport=websocket")
        head, _, rest = data.partition(b"\r\n")
        assert head == b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1"
        assert rest.startswith(b"Host: example.com:8080\r\n")
        assert f"Sec-WebSocket-Key: {key}\r\n".encode() in rest
        assert rest.endswith(b"\r\n\r\n")

    def test_build_request_bad_target(self) -> None:
        with pytest.raises(ValueError):
            build_request("h", "/a b")

    def response(self, **changes: str | None) -> dict[str, str]:
        headers = {"upgrade": "websocket", "connection": "Upgrade", "sec-websocket-accept": ACCEPT}
        for name, value in changes.items():
            name = name.replace("_", "-")
            if value is None:
                headers.pop(name, None)
            else:
                headers[name] = value
        return headers

    def test_valid_response(self) -> None:
        assert check_response(101, self.response(), KEY) is None
        headers = self.response(sec_websocket_extensions="permessage-deflate")
        assert check_response(101, headers, KEY) == "permessage-deflate"

    def test_roundtrip_with_server(self) -> None:
        key, headers = client_request_headers()
        server_key = check_request("GET", {n.lower(): v for n, v in headers})
        answer = {n.lower(): v for n, v in response_headers(server_key)}
        assert check_response(101, answer, key) is None

    @pytest.mark.parametrize(
        ("status", "changes"),
        [
            (200, {}),
            (426, {}),
            (101, {"upgrade": None}),
            (101, {"upgrade": "h2c"}),
            (101, {"connection": "close"}),
            (101, {"sec_websocket_accept": None}),
            (101, {"sec_websocket_accept": accept_key("x" * 24)}),
        ],
    )
    def test_invalid_response(self, status: int, changes: dict[str, str | None]) -> None:
        with pytest.raises(ProtocolError) as info:
            check_response(status, self.response(**changes), KEY)
        assert info.value.close_code == 1002
