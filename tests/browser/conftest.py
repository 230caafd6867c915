"""Fixtures for the demo chat's tests: the demo server in a subprocess (the command of
``scripts/demo``), a fresh copy of the demo app in-process, and what the browser test needs.

The browser test is skipped (with the reason) without ``/usr/bin/chromium`` (see
``scripts/install-browser``), ``node``, or the npm packages of ``examples/demo``
(``npm ci`` there).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import pytest

from servers import free_port

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo"
DEMO_MODULES = DEMO / "node_modules"
CHROMIUM = Path("/usr/bin/chromium")


def browser_requirement_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"the browser tests need Chromium at {CHROMIUM}: run scripts/install-browser"
    if shutil.which("node") is None:
        return "the browser tests need Node.js: `node` is not on PATH"
    for package in ("playwright-core", "socket.io-client"):
        if not (DEMO_MODULES / package / "package.json").is_file():
            return f"the browser tests need the npm packages: run `npm ci` in {DEMO} ({package})"
    return None


@pytest.fixture
def node() -> str:
    """The ``node`` executable; skips the test when the browser test's requirements are not
    all there."""
    reason = browser_requirement_missing()
    if reason is not None:
        pytest.skip(reason)
    path = shutil.which("node")
    assert path is not None
    return path


@pytest.fixture
def demo_app() -> Iterator[ModuleType]:
    """A fresh copy of ``examples/demo/app.py`` (its own ``io`` server, not started)."""
    spec = importlib.util.spec_from_file_location("demo_app_under_test", DEMO / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module


class DemoProcess:
    """The demo server as ``scripts/demo`` runs it, in a subprocess on ``port``; its output
    goes to ``log_path`` (kept across restarts)."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def start(self, timeout: float = 10.0) -> None:
        assert self.proc is None, "already started"
        self._log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aiosocketio",
            "serve",
            "--app",
            "examples.demo.app:io",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            cwd=str(ROOT),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.proc.returncode is not None:
                raise AssertionError(f"the demo server exited:\n{self.log()}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                if loop.time() > deadline:
                    raise AssertionError(f"the demo server did not listen:\n{self.log()}") from None
                await asyncio.sleep(0.05)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    async def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (a graceful stop), SIGKILL after ``timeout`` seconds."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


@pytest.fixture
async def demo_server(tmp_path: Path) -> AsyncIterator[DemoProcess]:
    """The demo server, started, in a subprocess on a free port (stopped at the end)."""
    server = DemoProcess(free_port(), tmp_path / "demo-server.log")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


Answer = Callable[[str], Awaitable[str]]


async def run_script(
    node: str, script: Path, *args: str, timeout: float, answer: Answer | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """Run a browser-driving script of this directory: ``(result, lines, stderr)``, the
    result being its last line (``{"done": ...}`` or ``{"error": ...}``). Each
    ``{"need": what}`` it prints is answered with the line ``await answer(what)``."""
    proc = await asyncio.create_subprocess_exec(
        node,
        str(script),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stderr_task = asyncio.ensure_future(proc.stderr.read())
    lines: list[dict[str, Any]] = []

    async def drive() -> dict[str, Any]:
        assert proc.stdin is not None and proc.stdout is not None
        while line := await proc.stdout.readline():
            step = json.loads(line)
            lines.append(step)
            if "need" in step and answer is not None:
                proc.stdin.write((await answer(step["need"])).encode() + b"\n")
            elif "done" in step or "error" in step:
                return dict(step)
        return {"error": "the script ended without a result"}

    try:
        result = await asyncio.wait_for(drive(), timeout)
    except TimeoutError:
        result = {"error": f"no result within {timeout} s"}
    finally:
        # the script exits by itself once it reported; killing it first could reap it under
        # asyncio's feet ("Unknown child process pid")
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    return result, lines, (await stderr_task).decode(errors="replace")
