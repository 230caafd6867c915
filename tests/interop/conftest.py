"""Fixtures for the interop tests: the official JavaScript client, run under Node, against an
aiosocketio server started in the test's own event loop.

The tests are skipped (with the reason) when ``node`` is not on PATH or when the npm packages
are not installed in ``tests/interop/node_modules`` (``npm ci`` in ``tests/interop``).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import Server
from sioclient import SioClient

INTEROP_DIR = Path(__file__).resolve().parent
SCENARIOS = INTEROP_DIR / "scenarios"
NODE_MODULES = INTEROP_DIR / "node_modules"

RunNode = Callable[..., Awaitable[list[dict[str, Any]]]]


def _missing_requirement() -> str | None:
    if shutil.which("node") is None:
        return "interop tests need Node.js: `node` is not on PATH"
    if not (NODE_MODULES / "socket.io-client" / "package.json").is_file():
        return (
            f"interop tests need the npm packages: run `npm ci` in {INTEROP_DIR} "
            f"({NODE_MODULES / 'socket.io-client'} is missing)"
        )
    return None


@pytest.fixture(scope="session")
def node() -> str:
    """The path of the ``node`` executable (the test is skipped when it or the packages are
    missing)."""
    reason = _missing_requirement()
    if reason is not None:
        pytest.skip(reason)
    path = shutil.which("node")
    assert path is not None
    return path


@pytest.fixture
def run_node(node: str) -> RunNode:
    """``await run_node("scenario", port, mode, *extra, timeout=15)``: run
    ``scenarios/<scenario>.js`` with those arguments and return the JSON lines it printed.

    Fails the test with the script's stderr when it exits with a non-zero status, prints
    something that is not JSON, or runs longer than ``timeout`` seconds (it is killed).
    """

    async def run(script: str, *args: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
        path = SCENARIOS / f"{script}.js"
        assert path.is_file(), f"no scenario {path}"
        proc = await asyncio.create_subprocess_exec(
            node,
            str(path),
            *(str(a) for a in args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(INTEROP_DIR),
        )
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            stdout, stderr = await proc.communicate()
            pytest.fail(
                f"{script}.js did not finish within {timeout} s\n"
                f"--- stdout\n{stdout.decode(errors='replace')}\n"
                f"--- stderr\n{stderr.decode(errors='replace')}"
            )
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.communicate()
            raise
        if proc.returncode != 0:
            pytest.fail(
                f"{script}.js exited with status {proc.returncode}\n"
                f"--- stdout\n{stdout.decode(errors='replace')}\n"
                f"--- stderr\n{stderr.decode(errors='replace')}"
            )
        lines: list[dict[str, Any]] = []
        for line in stdout.decode().splitlines():
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                pytest.fail(f"{script}.js printed a line that is not JSON: {line!r}")
            assert isinstance(value, dict), f"{script}.js printed {value!r}, not an object"
            lines.append(value)
        return lines

    return run


ServerFactory = Callable[..., Awaitable[tuple[Server, int]]]


@pytest.fixture
async def serve(node: str) -> AsyncIterator[ServerFactory]:
    """``io, port = await serve(**server_options)``: a Server on a free port of 127.0.0.1,
    closed when the test ends. Call ``io.on(...)`` before the client connects."""
    servers: list[Server] = []

    async def start(**options: Any) -> tuple[Server, int]:
        io = Server(**options)
        standalone = await io.start("127.0.0.1", 0)
        servers.append(io)
        return io, standalone.port

    yield start
    for io in servers:
        await io.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[SioClient]]:
    """Raw clients made by the test (to a Node server), aborted at its end."""
    made: list[SioClient] = []
    yield made
    for client in made:
        await client.abort()


class NodeServer:
    """One run of server.js; ``stop()`` ends it (closing its stdin)."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        proc = self.proc
        if proc.returncode is not None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)  # it waits up to 5 s for polling GETs
        except TimeoutError:
            proc.kill()
            await proc.wait()


StartNode = Callable[..., Awaitable[NodeServer]]
SERVER_JS = INTEROP_DIR / "node_server" / "server.js"


@pytest.fixture
async def node_server(node: str) -> AsyncIterator[StartNode]:
    """``server = await node_server(port=0, **options)`` (options of server.js)."""
    started: list[NodeServer] = []

    async def start(port: int = 0, *, script: Path = SERVER_JS, **options: Any) -> NodeServer:
        proc = await asyncio.create_subprocess_exec(
            node,
            str(script),
            str(port),
            json.dumps(options),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 10)
            server = NodeServer(proc, json.loads(line)["port"])
        except BaseException:
            proc.kill()
            await proc.wait()
            raise
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()
