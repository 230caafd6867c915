"""A URL whose path is the Socket.IO path (``http://host:3000/socket.io/``) names a namespace
of that name, which is legal but almost never meant: the client logs a warning, and the
refusal ("Invalid namespace") carries a note with the URL to use instead."""

from __future__ import annotations

import logging

import pytest

from aiosocketio import ConnectionRefused
from aiosocketio.client import Manager, connect, io

from . import running

LOGGER = "aiosocketio.client"


def hints(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and r.levelno == logging.WARNING and "namespace" in r.getMessage()
    ]


@pytest.mark.parametrize("suffix", ["/socket.io/", "/socket.io"])
async def test_the_socketio_path_as_namespace(
    caplog: pytest.LogCaptureFixture, suffix: str
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    async with running() as (_server, port):
        url = f"http://127.0.0.1:{port}{suffix}"
        with pytest.raises(ConnectionRefused) as caught:
            await connect(url, force_new=True, reconnection=False, wait_timeout=5)
    refused = caught.value
    assert refused.message == "Invalid namespace"  # what the server said, unchanged
    [note] = refused.__notes__
    assert f'"{suffix}"' in note
    assert "the path after the host is the namespace" in note
    assert f"connect to http://127.0.0.1:{port}/ " in note
    assert hints(caplog) == [note]


async def test_a_prefixed_socketio_path_suggests_the_path_option(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    manager = Manager("https://example.com/app/socket.io/?x=1", auto_connect=False)
    manager.socket("/app/socket.io/")
    [hint] = hints(caplog)
    assert 'connect to https://example.com/?x=1 with path="/app/socket.io"' in hint


async def test_a_custom_path_is_recognised(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    sock = io("http://localhost:3000/rt", path="/rt", auto_connect=False, force_new=True)
    assert sock.nsp == "/rt"
    [hint] = hints(caplog)
    assert "connect to http://localhost:3000/ " in hint


@pytest.mark.parametrize(
    "url", ["http://localhost:3000", "http://localhost:3000/chat", "http://h/socket.io-admin"]
)
async def test_other_namespaces_give_no_hint(caplog: pytest.LogCaptureFixture, url: str) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    io(url, auto_connect=False, force_new=True)
    assert hints(caplog) == []


async def test_a_refusal_of_another_namespace_has_no_note() -> None:
    async with running() as (_server, port):
        with pytest.raises(ConnectionRefused) as caught:
            await connect(
                f"http://127.0.0.1:{port}/nowhere",
                force_new=True,
                reconnection=False,
                wait_timeout=5,
            )
    assert caught.value.message == "Invalid namespace"
    assert not getattr(caught.value, "__notes__", None)
