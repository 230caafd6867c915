"""Real processes for the workers tests: ``serve --workers N`` and Node clients."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE.parent / "interop" / "node_modules"
CLIENTS = HERE / "node" / "clients.js"
DEADLINE = 30.0


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("needs Node.js: `node` is not on PATH")
    if not (NODE_MODULES / "socket.io-client" / "package.json").is_file():
        pytest.skip(f"needs the npm packages: run `npm ci` in {NODE_MODULES.parent}")
    return node


async def until(check: Callable[[], Any], timeout: float = DEADLINE, what: str = "") -> Any:
    """Wait until ``check()`` is true (polling); fail with ``what`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if loop.time() > end:
            pytest.fail(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


async def run_node(
    node: str, script: Path, config: dict[str, Any], timeout: float, cwd: Path | None = None
) -> dict[str, Any]:
    """``node SCRIPT CONFIG`` (the config as JSON) to its end: its last line on stdout, as
    JSON. Fails when it exits with an error, killed after ``timeout`` seconds."""
    proc = await asyncio.create_subprocess_exec(
        node,
        str(script),
        json.dumps(config),
        cwd=None if cwd is None else str(cwd),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, f"{script.name}: {stderr.decode(errors='replace')}"
    result: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    return result


def unix_sockets_under(folder: str) -> list[str]:
    """The Unix sockets bound under ``folder`` that a process still holds open."""
    lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    return [line.split()[-1] for line in lines if line.split()[-1].startswith(folder + "/")]


class Served:
    """``python -m aiosocketio serve --workers N ...`` run from this directory."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.port = 0
        self._readers = [
            asyncio.ensure_future(self._read(proc.stdout, self.stdout)),
            asyncio.ensure_future(self._read(proc.stderr, self.stderr)),
        ]

    @classmethod
    async def start(
        cls, *args: str, env: dict[str, str] | None = None, ready: bool = True
    ) -> Served:
        """``python -m aiosocketio serve --port 0 ARGS`` from this directory."""
        command = [sys.executable, "-m", "aiosocketio", "serve", "--port", "0", *args]
        return await cls.start_command(*command, env=env, ready=ready)

    @classmethod
    async def start_command(
        cls,
        *command: str,
        env: dict[str, str] | None = None,
        ready: bool = True,
        cwd: Path = HERE,
    ) -> Served:
        """Any command that prints the listening line of ``serve`` (run in ``cwd``)."""
        proc = await asyncio.create_subprocess_exec(
            *command,
            cwd=str(cwd),
            env={**os.environ, **(env or {})},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        served = cls(proc)
        if ready:  # on stdout (aiosocketio serve), or stderr (io.serve() in one process)
            try:
                line = await served.wait_line(None, r"listening on http://[^:]+:(\d+)/")
            except BaseException:
                await served.kill()  # nothing left running when it does not start
                raise
            served.port = int(re.search(r":(\d+)/", line).group(1))  # type: ignore[union-attr]
        return served

    async def _read(self, stream: asyncio.StreamReader | None, into: list[str]) -> None:
        assert stream is not None
        while line := await stream.readline():
            into.append(line.decode(errors="replace").rstrip("\n"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return "\n".join(self.stderr)

    async def wait_line(
        self, lines: list[str] | None, pattern: str, timeout: float = DEADLINE
    ) -> str:
        """The first line of ``lines`` (None: stdout or stderr) that matches ``pattern``."""
        regex = re.compile(pattern)

        def found() -> str | None:
            seen = self.stdout + self.stderr if lines is None else lines
            line = next((x for x in seen if regex.search(x)), None)
            if line is None and self.proc.returncode is not None:
                pytest.fail(f"the server exited ({self.proc.returncode}):\n{self.log}")
            return line

        result: str = await until(found, timeout, f"{pattern!r} in\n{self.log}")
        return result

    def workers(self) -> list[int]:
        return children(self.proc.pid)

    async def run_dir(self) -> str:
        """The run directory the supervisor logs (on stderr, just after the listening line
        on stdout: the two pipes are read apart, so it is waited for)."""
        line = await self.wait_line(self.stderr, r"run directory (\S+)")
        return re.search(r"run directory (\S+)", line).group(1)  # type: ignore[union-attr]

    async def stop(self, sig: int | None = signal.SIGTERM, timeout: float = DEADLINE) -> int:
        """Send ``sig`` (None: nothing) and wait for the exit code."""
        if sig is not None and self.proc.returncode is None:
            self.proc.send_signal(sig)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        finally:
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
            await asyncio.gather(*self._readers)
        return code

    async def kill(self) -> None:
        """Last resort at the end of a test: the supervisor and its workers."""
        pids = [self.proc.pid, *self.workers()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.returncode is None:
            await self.proc.wait()
        await asyncio.gather(*self._readers)
        match = re.search(r"run directory (\S+)", self.log)
        if match:  # the supervisor killed could not remove it
            shutil.rmtree(match.group(1), ignore_errors=True)

    def handed_off(self) -> int:
        """Connections the workers handed to each other (from their last log lines)."""
        counts = re.findall(r"handed to other workers: (\d+)", self.log)
        return sum(int(c) for c in counts)

    def routed_to_owner(self) -> int:
        """Connections the router passed to the worker of their session (its last line)."""
        match = re.search(r"routed to their session's worker: (\d+)", self.log)
        assert match, self.log
        return int(match.group(1))


class Clients:
    """``node clients.js CONFIG``: the official client's sockets, driven through stdin."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self.stderr = b""
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, node: str, **config: Any) -> Clients:
        proc = await asyncio.create_subprocess_exec(
            node,
            str(CLIENTS),
            json.dumps(config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        errors = asyncio.ensure_future(self.proc.stderr.read())
        while line := await self.proc.stdout.readline():
            self.events.append(json.loads(line))
        self.stderr = await errors

    async def event(self, name: str, timeout: float = DEADLINE) -> dict[str, Any]:
        """The first event ``name`` (waiting for it)."""

        def found() -> dict[str, Any] | None:
            if self._reader.done() and not any(e["ev"] == name for e in self.events):
                pytest.fail(f"clients.js ended without {name!r}: {self.stderr.decode()}")
            return next((e for e in self.events if e["ev"] == name), None)

        result: dict[str, Any] = await until(found, timeout, f"the clients' {name!r}")
        return result

    def count(self, name: str) -> int:
        return sum(1 for e in self.events if e["ev"] == name)

    async def summary(self) -> list[dict[str, Any]]:
        before = self.count("summary")
        self.send("summary")
        await until(lambda: self.count("summary") > before, DEADLINE, "the summary")
        last = [e for e in self.events if e["ev"] == "summary"][-1]
        clients: list[dict[str, Any]] = last["clients"]
        return clients

    async def summary_when(
        self, check: Callable[[list[dict[str, Any]]], bool], what: str, timeout: float = DEADLINE
    ) -> list[dict[str, Any]]:
        """The first summary for which ``check(summary)`` is true (asking again until then)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not check(summary := await self.summary()):
            if loop.time() > end:
                pytest.fail(f"timed out waiting for {what}: {summary}")
            await asyncio.sleep(0.1)
        return summary

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")

    async def quit(self) -> None:
        if self.proc.returncode is None:
            try:
                self.send("quit")
                await asyncio.wait_for(self.proc.wait(), 10)
            except (TimeoutError, ConnectionError):
                self.proc.kill()
                await self.proc.wait()
        await self._reader
