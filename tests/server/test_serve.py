"""``asyncio.run(io.serve(host, port))`` as a program's main line: it says where it listens,
stops cleanly on Ctrl-C (SIGINT) and SIGTERM, and an address in use is one line, not a
traceback. The programs run in subprocesses; signals are real."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import selectors
import signal
import socket as std_socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from aiosocketio import Server
from aiosocketio.client import connect
from aiosocketio.server.running import listening_lines
from servers import free_port

TIMEOUT = 10.0
BAD = ("Traceback", "KeyboardInterrupt", "CancelledError", "Exception ignored")

PROGRAM = """
import asyncio
import signal
import sys

from aiosocketio import Server

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # the tests run in the background
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as in a terminal

io = Server()


@io.on("connection")
def on_connection(socket):
    socket.on("ping", lambda: "pong")


{before}
asyncio.run(io.serve("127.0.0.1", int(sys.argv[1]){options}))
print("returned", flush=True)
"""


@contextlib.contextmanager
def program(
    tmp_path: Path, port: int, *, before: str = "", options: str = ""
) -> Iterator[subprocess.Popen[bytes]]:
    path = tmp_path / "serve_program.py"
    path.write_text(PROGRAM.format(before=textwrap.dedent(before), options=options))
    proc = subprocess.Popen(
        [sys.executable, str(path), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,  # unbuffered pipes: a line read leaves the next one in the pipe
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def read_line(stream: IO[bytes] | None, timeout: float = TIMEOUT) -> str:
    """The next line of a subprocess's (unbuffered) pipe, within ``timeout`` seconds."""
    assert stream is not None
    line = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            if not selector.select(max(0.0, deadline - time.monotonic())):
                raise AssertionError(f"no whole line within {timeout} s: {line!r}")
            byte = stream.read(1)
            if not byte:
                raise AssertionError(f"the pipe closed: {line!r}")
            line += byte
    return line.decode()


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            with std_socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_says_where_it_listens_and_stops_cleanly(tmp_path: Path, sig: int) -> None:
    port = free_port()
    with program(tmp_path, port) as proc:
        first = read_line(proc.stderr)
        assert first == f"listening on http://127.0.0.1:{port}/ (Socket.IO path: /socket.io/)\n"
        second = read_line(proc.stderr)
        assert second.startswith(f"clients connect to http://127.0.0.1:{port}/ ")
        answer = asyncio.run(ask(port))
        assert answer == "pong"
        proc.send_signal(sig)
        code, out, err = finish(proc)
    assert code == 0, err
    assert out == "returned\n"  # serve() returned: the program goes on after it
    assert not any(word in err for word in BAD), err


async def ask(port: int) -> object:
    sock = await connect(f"http://127.0.0.1:{port}", reconnection=False, wait_timeout=5)
    try:
        return await sock.emit_with_ack("ping", timeout=5)
    finally:
        await sock.disconnect()


def test_quiet_serve_prints_nothing(tmp_path: Path) -> None:
    port = free_port()
    with program(tmp_path, port, options=", quiet=True") as proc:
        wait_listening(port)
        proc.send_signal(signal.SIGINT)
        code, out, err = finish(proc)
    assert (code, out, err) == (0, "returned\n", "")


def test_a_handler_of_the_program_keeps_the_signal(tmp_path: Path) -> None:
    """A program that handles SIGINT itself keeps its handler; SIGTERM still stops."""
    before = """
    def mine(signum, frame):
        print("my handler", flush=True)

    signal.signal(signal.SIGINT, mine)
    """
    port = free_port()
    with program(tmp_path, port, before=before) as proc:
        wait_listening(port)
        proc.send_signal(signal.SIGINT)
        assert read_line(proc.stdout) == "my handler\n"
        assert proc.poll() is None  # still serving
        wait_listening(port)
        proc.send_signal(signal.SIGTERM)
        code, out, err = finish(proc)
    assert code == 0, err
    assert out == "returned\n"


def test_an_address_in_use_is_one_line(tmp_path: Path) -> None:
    with contextlib.closing(std_socket.socket()) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with program(tmp_path, port) as proc:
            code, out, err = finish(proc)
    assert code == 1
    assert out == ""
    assert err == f"cannot listen on 127.0.0.1 port {port}: address already in use\n"


async def test_start_and_serve_on_an_address_in_use() -> None:
    with contextlib.closing(std_socket.socket()) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        io = Server()
        with pytest.raises(OSError) as caught:
            await io.start("127.0.0.1", port)
        assert caught.value.errno == errno.EADDRINUSE
        message = f"cannot listen on 127.0.0.1 port {port}: address already in use"
        assert str(caught.value) == message
        with pytest.raises(SystemExit) as stopped:
            await io.serve("127.0.0.1", port)
        assert stopped.value.code == message
        await io.close()


async def test_serve_cancelled_closes_and_gives_the_signals_back() -> None:
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    io = Server()
    port = free_port()
    task = asyncio.ensure_future(io.serve("127.0.0.1", port, quiet=True))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while io._standalone is None:
        assert loop.time() < deadline and not task.done()
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert io._standalone is None  # closed
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


@pytest.mark.parametrize(
    ("host", "path", "page", "secure", "expected"),
    [
        (
            "0.0.0.0",
            "/socket.io",
            True,
            False,
            [
                "listening on http://0.0.0.0:3000/ (Socket.IO path: /socket.io/)",
                "open http://127.0.0.1:3000/ in a browser",
                "clients connect to http://127.0.0.1:3000/ (the path after the host is the "
                "namespace)",
            ],
        ),
        (
            "::",
            "/rt/",
            False,
            True,
            [
                "listening on https://[::]:3000/ (Socket.IO path: /rt/)",
                'clients connect to https://[::1]:3000/ with path="/rt" (the path after the '
                "host is the namespace)",
            ],
        ),
        (
            "example.com",
            "/",
            False,
            False,
            [
                "listening on http://example.com:3000/ (Socket.IO path: /)",
                'clients connect to http://example.com:3000/ with path="/" (the path after the '
                "host is the namespace)",
            ],
        ),
    ],
)
def test_listening_lines(
    host: str, path: str, page: bool, secure: bool, expected: list[str]
) -> None:
    assert listening_lines(host, 3000, path, page=page, secure=secure) == expected
