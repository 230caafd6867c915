"""The command line, run as ``python -m aiosocketio`` in subprocesses.

``connect`` talks to a server started in the test's event loop; ``serve`` runs in a
subprocess that the asyncio client connects to, and is stopped with SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket as std_socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import ConnectionRefused, Server, Socket
from aiosocketio.cli import main
from aiosocketio.cli.common import format_value
from aiosocketio.cli.connect import parse_command
from aiosocketio.client import connect
from servers import free_port

TIMEOUT = 45.0  # a Python process started per call: slow on a loaded machine
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+)/) \(Socket\.IO path: (\S+)\)")
CLIENTS = re.compile(r"clients connect to (http://\S+)")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


async def cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    """Run ``python -m aiosocketio ARGS`` to the end (the test's loop keeps serving)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiosocketio",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    data = stdin.encode() if stdin is not None else None
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


@dataclass
class Target:
    """The server the ``connect`` tests talk to, and what it saw."""

    url: str
    io: Server
    handshakes: list[Any]
    received: list[tuple[str, str, tuple[Any, ...]]]


def app_server(target: Target) -> None:
    io = target.io

    def on_connection(socket: Socket) -> None:
        target.handshakes.append(socket.handshake)
        socket.emit("welcome", {"id": socket.id}, b"\x00\x01\x02")
        socket.on_any(lambda event, *args: target.received.append((socket.nsp.name, event, args)))
        socket.on("add", lambda a, b: a + b)
        socket.on("many", lambda: (1, None, b"xy"))
        socket.on("nothing", lambda: None)
        socket.on("chat", lambda *args: socket.emit("reply", *args))
        socket.on("silent", lambda ack: None)  # asks for an ack it never sends
        socket.on("kick", lambda: socket.disconnect())

    io.on("connection", on_connection)
    io.of("/chat").on("connection", on_connection)

    @io.of("/secret").use
    def refuse(socket: Socket) -> None:
        raise ConnectionRefused("not authorized", {"code": 401})


@pytest.fixture
async def server() -> AsyncIterator[Target]:
    io = Server()
    target = Target("", io, [], [])
    app_server(target)
    standalone = await io.start("127.0.0.1", 0)
    target.url = f"http://127.0.0.1:{standalone.port}"
    try:
        yield target
    finally:
        await io.close()


# ---------------------------------------------------------------------- usage
async def test_help_exits_0() -> None:
    for args in ([], ["serve"], ["connect"]):
        result = await cli(*args, "--help")
        assert result.code == 0, result.err
        assert "usage: aiosocketio" in result.out
    result = await cli("connect", "--help")
    assert "exit codes:" in result.out
    assert "/ack EVENT" in result.out


def test_serve_help_refers_to_the_engine_options_where_they_are(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    group = out.index("engine options (without --app):")
    note = out.index("the engine options above")
    assert group < note
    assert "options below" not in out


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["nonsense"],
        ["connect"],
        ["connect", "http://x", "--data", "1"],
        ["connect", "http://x", "--ack"],
        ["connect", "http://x", "--emit", "e", "--data", "{bad"],
        ["connect", "http://x", "--auth", "[1]"],
        ["connect", "http://x", "--header", "no colon"],
        ["connect", "http://x", "--query", "novalue"],
        ["connect", "http://x", "--transports", "carrier-pigeon"],
        ["connect", "http://x", "--timeout", "0"],
        ["connect", "http://x", "--listen", "0"],
        ["connect", "http://x:99999"],
        ["serve", "--port", "http"],
        ["serve", "--log-level", "loud"],
    ],
)
def test_bad_arguments_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert "usage: aiosocketio" in capsys.readouterr().err


async def test_bad_arguments_exit_2_from_the_command_line() -> None:
    result = await cli("connect", "http://x", "--data", "1")
    assert result.code == 2
    assert "--data needs --emit" in result.err
    assert result.out == ""


# ---------------------------------------------------------------------- connect: scripts
async def test_emit_with_ack_prints_the_ack_as_json(server: Target) -> None:
    result = await cli(
        "connect", server.url, "--emit", "add", "--data", "1", "--data", "2", "--ack"
    )
    assert (result.code, result.out) == (0, "[3]\n"), result.err
    result = await cli("connect", server.url, "-e", "many", "-a", "--transports", "websocket")
    assert result.code == 0, result.err
    assert json.loads(result.out) == [1, None, {"$binary": "eHk="}]
    result = await cli("connect", server.url, "--emit", "nothing", "--ack")
    assert (result.code, result.out) == (0, "[]\n")


async def test_emit_without_ack_is_delivered(server: Target) -> None:
    result = await cli(
        "connect", server.url, "--emit", "note", "--data", '{"a":[1,"x"]}', "--quiet"
    )
    assert (result.code, result.out, result.err) == (0, "", "")
    received = server.received
    assert ("/", "note", ({"a": [1, "x"]},)) in received


async def test_ack_timeout_exits_3(server: Target) -> None:
    result = await cli("connect", server.url, "--emit", "silent", "--ack", "--timeout", "0.5")
    assert result.code == 3
    assert "no acknowledgement within 0.5s" in result.err


async def test_listen_prints_events_as_json_lines(server: Target) -> None:
    result = await cli("connect", server.url + "/chat", "--listen", "1")
    assert result.code == 0, result.err
    [line] = result.lines
    event = json.loads(line)
    assert event["nsp"] == "/chat"
    assert event["event"] == "welcome"
    assert event["args"][1] == {"$binary": "AAEC"}

    result = await cli("connect", server.url, "--emit", "chat", "--data", '"hi"', "--listen", "2")
    assert result.code == 0, result.err
    assert [json.loads(line)["event"] for line in result.lines] == ["welcome", "reply"]
    assert json.loads(result.lines[1])["args"] == ["hi"]


async def test_listen_for_more_events_than_come_exits_3(server: Target) -> None:
    result = await cli("connect", server.url, "--listen", "2", "--wait", "0.3")
    assert result.code == 3
    assert len(result.lines) == 1
    assert "1 of 2 events within 0.3s" in result.err


async def test_wait_prints_events_for_a_while(server: Target) -> None:
    result = await cli("connect", server.url, "--wait", "0.3")
    assert result.code == 0, result.err
    assert [json.loads(line)["event"] for line in result.lines] == ["welcome"]


async def test_namespace_auth_query_and_headers_reach_the_server(server: Target) -> None:
    result = await cli(
        "connect",
        server.url,
        "--namespace",
        "chat",
        "--auth",
        '{"token":"abc"}',
        "--query",
        "room=7",
        "--header",
        "X-Test: yes",
        "--emit",
        "add",
        "--data",
        "2",
        "--data",
        "2",
        "--ack",
    )
    assert (result.code, result.out) == (0, "[4]\n"), result.err
    handshake = server.handshakes[-1]
    assert handshake.auth == {"token": "abc"}
    assert handshake.query["room"] == "7"
    assert handshake.headers["x-test"] == "yes"
    assert ("/chat", "add", (2, 2)) in server.received


# ---------------------------------------------------------------------- connect: interactive
async def test_piped_session(server: Target) -> None:
    commands = "\n".join(
        [
            "# a comment, then a blank line",
            "",
            'chat "hello" {"a":1}',
            "/wait reply",
            "/ack add 2 3",
            "/ack many",
            '"two words" [1,2] {"$binary":"AAEC"}',
            "/wait welcome",
            "/quit",
            "never-sent 1",
        ]
    )
    result = await cli("connect", server.url, stdin=commands + "\n")
    assert result.code == 0, result.err
    assert result.lines[0].startswith('< / welcome {"id":')
    assert result.lines[0].endswith("} <3 bytes>")
    assert result.lines[1:] == [
        '< / reply "hello" {"a":1}',
        "< ack 5",
        "< ack 1 null <2 bytes>",
    ]
    assert "connected to http://127.0.0.1:" in result.err
    received = server.received
    assert ("/", "two words", ([1, 2], b"\x00\x01\x02")) in received
    assert not [r for r in received if r[1] == "never-sent"]


async def test_piped_session_ends_at_end_of_input(server: Target) -> None:
    result = await cli(
        "connect", server.url + "/chat", "--transports", "websocket", stdin="/wait\n"
    )
    assert result.code == 0, result.err
    assert result.lines[0].startswith("< /chat welcome ")
    assert "websocket" in result.err


@pytest.mark.parametrize(
    ("command", "code", "message"),
    [
        ("chat {bad", 2, "bad JSON at '{bad'"),
        ("/frobnicate", 2, "unknown command /frobnicate"),
        ("connect 1", 2, "'connect' is a reserved event name"),
        ("/ack silent", 3, "no acknowledgement within 0.5s"),
        ("/wait never", 3, "no event 'never' within 0.5s"),
        ("kick", 1, "disconnected: io server disconnect"),
    ],
)
async def test_piped_failure_ends_the_session(
    server: Target, command: str, code: int, message: str
) -> None:
    stdin = f"{command}\n/sleep 2\nafter\n"
    result = await cli("connect", server.url, "--timeout", "0.5", stdin=stdin)
    assert result.code == code
    assert message in result.err
    assert not [r for r in server.received if r[1] == "after"]


# ---------------------------------------------------------------------- connect: failures
async def test_refused_connection_prints_message_and_data(server: Target) -> None:
    result = await cli("connect", server.url + "/secret", stdin="")
    assert result.code == 1
    assert "connect_error: not authorized" in result.err
    assert 'data: {"code":401}' in result.err
    assert result.out == ""
    result = await cli("connect", server.url, "-n", "/secret", "--emit", "x", "--quiet")
    assert result.code == 1
    assert "connect_error: not authorized" in result.err


async def test_the_socketio_path_in_the_url_gets_a_hint(server: Target) -> None:
    result = await cli("connect", server.url + "/socket.io/", "--emit", "x")
    assert result.code == 1
    assert "connect_error: Invalid namespace" in result.err
    assert "the path after the host is the namespace" in result.err
    assert f"connect to {server.url}/ " in result.err


async def test_unreachable_server_exits_3() -> None:
    port = free_port()
    result = await cli("connect", f"http://127.0.0.1:{port}", "--emit", "x", "--timeout", "2")
    assert result.code == 3
    assert f"could not connect to http://127.0.0.1:{port}/" in result.err
    assert result.out == ""


async def test_connect_timeout_exits_3() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, never answers
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await cli("connect", f"http://127.0.0.1:{port}", "--timeout", "0.5", stdin="")
    assert result.code == 3
    assert "could not connect" in result.err


# ---------------------------------------------------------------------- serve
class Served:
    def __init__(self, proc: asyncio.subprocess.Process, lines: list[str]) -> None:
        self.proc = proc
        self.lines = lines  # what it printed on stdout when it started
        match = LISTENING.fullmatch(lines[0])
        assert match, lines
        self.url = match.group(1)
        self.port = int(match.group(2))
        self.path = match.group(3)
        clients = CLIENTS.match(lines[-1])
        assert clients, lines
        self.connect_url = clients.group(1)
        self.err: list[str] = []

    async def read_err_until(self, text: str) -> None:
        assert self.proc.stderr is not None
        async with asyncio.timeout(TIMEOUT):
            while not any(text in line for line in self.err):
                line = await self.proc.stderr.readline()
                if not line:
                    raise AssertionError(f"{text!r} not in {self.err}")
                self.err.append(line.decode())

    async def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(TIMEOUT):
            return await self.proc.wait()


@contextlib.asynccontextmanager
async def serving(*args: str, env: dict[str, str] | None = None) -> AsyncIterator[Served]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiosocketio",
        "serve",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        async with asyncio.timeout(TIMEOUT):
            while not lines or not lines[-1].startswith("clients connect to "):
                line = await proc.stdout.readline()
                assert line, f"stdout closed after {lines}"
                lines.append(line.decode().rstrip("\n"))
        yield Served(proc, lines)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_serve_prints_its_address_counts_connections_and_stops_on_sigterm() -> None:
    port = free_port()
    async with serving("--port", str(port), "--transports", "websocket") as served:
        assert served.port == port
        sock = await connect(
            f"http://127.0.0.1:{port}",
            force_new=True,
            reconnection=False,
            transports=["websocket"],
            wait_timeout=5,
        )
        await served.read_err_until("connections: 1, sockets: 1")
        await sock.disconnect()
        await served.read_err_until("connections: 0, sockets: 0")
        assert await served.stop() == 0


async def test_serve_quiet_says_nothing_on_stderr() -> None:
    async with serving("--port", "0", "--quiet") as served:
        base = f"http://127.0.0.1:{served.port}"
        sock = await connect(base, force_new=True, reconnection=False, wait_timeout=5)
        await asyncio.sleep(0.7)
        await sock.disconnect()
        assert await served.stop() == 0
        assert served.proc.stderr is not None
        assert await served.proc.stderr.read() == b""


PAGE_APP = """
from pathlib import Path

from aiosocketio import Server

page = Path(__file__).with_name("index.html")
page.write_text("<h1>hello</h1>")
io = Server(static_files={"/": str(page)})
io.on("connection", lambda socket: socket.on("whoami", lambda: "page app"))
"""


async def test_serve_prints_the_page_to_open_and_the_url_to_connect_to(tmp_path: Path) -> None:
    """The printed URLs work as printed: the page opens, `connect` reaches the main
    namespace (the Socket.IO path printed apart is not part of them)."""
    env = app_env(tmp_path, PAGE_APP)
    async with serving("--app", "cli_test_app", "--port", "0", env=env) as served:
        base = f"http://127.0.0.1:{served.port}/"
        assert served.lines == [
            f"listening on {base} (Socket.IO path: /socket.io/)",
            f"open {base} in a browser",
            f"clients connect to {base} (the path after the host is the namespace)",
        ]
        status, body = await http_get(served.port, "/")
        assert (status, body) == (200, b"<h1>hello</h1>")
        result = await cli("connect", served.connect_url, "--emit", "whoami", "--ack")
        assert (result.code, result.out) == (0, '["page app"]\n'), result.err
        assert await served.stop() == 0


async def test_serve_without_a_page_prints_no_page(tmp_path: Path) -> None:
    async with serving("--port", "0", "--quiet") as served:
        assert len(served.lines) == 2
        result = await cli("connect", served.connect_url, "--wait", "0.1")
        assert result.code == 0, result.err
        assert await served.stop() == 0


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        async with asyncio.timeout(TIMEOUT):
            response = await reader.read()
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def app_env(tmp_path: Path, source: str) -> dict[str, str]:
    (tmp_path / "cli_test_app.py").write_text(source)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    return env


APP = """
from aiosocketio import Server

def create():
    io = Server(path="/rt")

    @io.on("connection")
    def hello(socket):
        socket.on("whoami", lambda: "app")

    return io

io = create()
app = io.asgi_app()


async def create_app():
    return create().asgi_app()
"""


@pytest.mark.parametrize(
    "spec",
    [
        "cli_test_app:io",
        "cli_test_app:create",
        "cli_test_app",
        "cli_test_app:app",
        "cli_test_app:create_app",
    ],
)
async def test_serve_app_module(tmp_path: Path, spec: str) -> None:
    env = app_env(tmp_path, APP)
    async with serving("--app", spec, "--port", "0", env=env) as served:
        assert (served.url, served.path) == (f"http://127.0.0.1:{served.port}/", "/rt/")
        assert served.lines[1:] == [
            f'clients connect to http://127.0.0.1:{served.port}/ with path="/rt" '
            "(the path after the host is the namespace)"
        ]
        base = f"http://127.0.0.1:{served.port}"
        sock = await connect(base, path="/rt", force_new=True, reconnection=False, wait_timeout=5)
        assert await sock.emit_with_ack("whoami", timeout=5) == "app"
        await sock.disconnect()
        result = await cli("connect", base, "--path", "/rt", "--emit", "whoami", "--ack")
        assert (result.code, result.out) == (0, '["app"]\n'), result.err
        assert await served.stop() == 0


BAD_APPS = """
from aiosocketio.asgi import ASGIApp
from aiosocketio.engine.server import EngineServer

NUMBER = 3


def broken():
    raise RuntimeError("boom")


async def asgi(scope, receive, send):  # an ASGI app, but not the app of a Server
    pass


def three():
    return 3


engine_app = ASGIApp(EngineServer(lambda conn: None))
"""

EXPECTED = "an aiosocketio.Server, its asgi_app() or a function returning one"


async def test_serve_asgi_app_with_other_routes_warns(tmp_path: Path) -> None:
    source = APP + "\n\nasync def other(scope, receive, send):\n    pass\n\n"
    source += "with_routes = create().asgi_app(other)\n"
    env = app_env(tmp_path, source)
    async with serving("--app", "cli_test_app:with_routes", "--port", "0", env=env) as served:
        await served.read_err_until("not the ASGI app's other routes")
        assert await served.stop() == 0


@pytest.mark.parametrize(
    ("spec", "code", "message"),
    [
        ("no_such_module_xyz:io", 2, "no module named 'no_such_module_xyz'"),
        ("cli_test_app:missing", 2, "'missing' not found"),
        ("cli_test_app:NUMBER", 2, f"'cli_test_app:NUMBER' is an int, not {EXPECTED}"),
        ("cli_test_app:broken", 1, "could not load cli_test_app:broken"),
        (
            "cli_test_app:asgi",
            2,
            f"'cli_test_app:asgi' is a function that takes arguments, not {EXPECTED}",
        ),
        ("cli_test_app:three", 2, f"'cli_test_app:three' returned an int, not {EXPECTED}"),
        (
            "cli_test_app:engine_app",
            2,
            "'cli_test_app:engine_app' is the ASGI app of an EngineServer, not of a Server",
        ),
    ],
)
async def test_serve_bad_app(tmp_path: Path, spec: str, code: int, message: str) -> None:
    env = app_env(tmp_path, BAD_APPS)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiosocketio",
        "serve",
        "--app",
        spec,
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == code
    assert message in err.decode()
    assert out == b""


def test_serve_on_a_busy_port_exits_1() -> None:
    with contextlib.closing(std_socket.socket()) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "aiosocketio", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1 port {port}" in result.stderr


# ---------------------------------------------------------------------- pieces
def test_command_syntax() -> None:
    assert parse_command("   ") is None
    assert parse_command("# note") is None
    command = parse_command('chat "hello" {"a":1} [1, 2] null')
    assert command is not None
    assert (command.kind, command.event, command.args) == (
        "emit",
        "chat",
        ["hello", {"a": 1}, [1, 2], None],
    )
    command = parse_command('/ack "/odd name" {"$binary":"aGk="}')
    assert command is not None
    assert (command.kind, command.event, command.args) == ("ack", "/odd name", [b"hi"])
    for bad in ('chat "a""b"', "chat NaN", "/sleep x", "/wait a b", '"unterminated', "/nope"):
        with pytest.raises(ValueError):
            parse_command(bad)


def test_value_format() -> None:
    value = {"a": [1, "é", None, True], "b": b"\x00\x01"}
    assert format_value(value) == '{"a":[1,"é",null,true],"b":<2 bytes>}'
    assert format_value(value, binary="base64") == '{"a":[1,"é",null,true],"b":{"$binary":"AAE="}}'
