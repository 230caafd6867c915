"""Real processes, real clients: the ASGI app under uvicorn, gunicorn and hypercorn with
several workers, and two standalone servers with TLS, in workers mode (one run directory).

The ASGI servers are started with the commands of docs/deploying.md (its ``sh`` blocks marked
``<!-- command: NAME -->``), on this test's port, run directory and app.

The official socket.io-client (Node, tests/interop/scenarios/workers_clients.js) connects a few
dozen clients per transport mode (polling only, WebSocket only, polling then upgrade) and
makes round trips: an event with an ack, and an event the server sends back with an ack of
the client's. Long-polling clients run twice: with a new connection for every request (so
that the requests of one session reach several workers), and with kept-alive connections.
Every connection must succeed and every round trip complete, with no request refused (the
app prints its connection errors) and no owner found unreachable; the workers must have
forwarded requests, and given their slots back at exit.

Broadcasts across workers need the inter-worker adapter: ``BROADCAST`` turns their check on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import Server, connect
from aiosocketio.workers import WORKERS_DIR_ENV
from aiosocketio.workers.slots import WorkerDir
from helpers import INTEROP, Proxy, node_or_skip
from servers import free_port
from test_docs import DOCS, blocks

from .procs import run_node

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCENARIO = INTEROP / "scenarios" / "workers_clients.js"

CLIENTS = 30  # per transport mode
ROUNDS = 3
# (transport mode, keep-alive connections): polling clients both ways, a new connection for
# every request (each may reach another worker), and kept-alive ones as browsers have
RUNS = (("polling", False), ("polling", True), ("websocket", True), ("upgrade", True))
BROADCAST = True  # True once the inter-worker adapter is the default in workers mode

pytestmark = [pytest.mark.slow, pytest.mark.interop, pytest.mark.timeout(150)]


@pytest.fixture(scope="module")
def node() -> str:
    return node_or_skip()


async def until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.05)


# ---------------------------------------------------------------------- the Node clients
async def run_clients(
    node: str, url: str, mode: str, keep_alive: bool = True, **config: Any
) -> dict[str, Any]:
    config = {
        "url": url,
        "mode": mode,
        "count": CLIENTS,
        "rounds": ROUNDS,
        "keepAlive": keep_alive,
        "broadcast": BROADCAST,
        "nonce": uuid.uuid4().hex,
        **config,
    }
    result = await run_node(node, SCENARIO, config, 60, cwd=INTEROP)
    result["mode"] = f"{mode} (keep-alive: {keep_alive})"
    return result


def check_clients(result: dict[str, Any], count: int = CLIENTS) -> set[int]:
    """Every client connected, made every round trip, saw no error; the owners' pids."""
    mode = result["mode"]
    clients = result["clients"]
    errors = {c["i"]: c["errors"] for c in clients if c["errors"]}
    assert not errors, f"{mode}: {len(errors)} clients saw errors: {list(errors.items())[:5]}"
    assert len(clients) == count
    assert all(c["connected"] for c in clients), mode
    expected = "polling" if mode.startswith("polling") else "websocket"
    assert {c["transport"] for c in clients} == {expected}, mode
    assert all(c["acks"] == ROUNDS and c["events"] == ROUNDS for c in clients), mode
    assert all(len(c["sids"]) == 1 and len(c["pids"]) == 1 for c in clients), mode
    if BROADCAST:
        assert result["failures"] == [], mode
        assert all(c["broadcasts"] == 1 for c in clients), mode
    return {pid for c in clients for pid in c["pids"]}


# ---------------------------------------------------------------------- ASGI servers
GUIDE_PORT = "8000"
GUIDE_APP = "chat:app"


def guide_command(server: str) -> tuple[str, list[str]]:
    """The guide's command for ``server``: the variable it exports, and the command line."""
    found = [b for b in blocks(DOCS / "deploying.md") if b.annotation == f"command: {server}"]
    assert len(found) == 1, f"docs/deploying.md has no single <!-- command: {server} --> block"
    export, command = found[0].text.splitlines()
    name, _, _ = export.removeprefix("export ").partition("=")
    return name, shlex.split(command)


def _command(server: str, port: int, workers: int | None = None) -> tuple[list[str], int]:
    """The guide's command on ``port`` with the test's app (and ``workers`` workers instead
    of the guide's number); and its number of workers."""
    name, argv = guide_command(server)
    assert name == WORKERS_DIR_ENV
    assert argv[0] == server and GUIDE_APP in argv
    flag = next(f for f in ("--workers", "-w") if f in argv)
    if workers is not None:
        argv[argv.index(flag) + 1] = str(workers)
    command = [sys.executable, "-m", server]
    for arg in argv[1:]:
        arg = "workers_app:app" if arg == GUIDE_APP else arg
        command.append(re.sub(rf"(^|:){GUIDE_PORT}$", rf"\g<1>{port}", arg))
    assert str(port) in " ".join(command), "the guide's command names no port 8000"
    return command, int(argv[argv.index(flag) + 1])


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    port: int
    workers: int
    log: Path
    run: WorkerDir | None

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def asgi_workers(
    server: str, tmp_path: Path, *, workers_mode: bool = True, workers: int | None = None
) -> Iterator[Running]:
    """``server`` running tests/workers/workers_app.py as the guide says (with ``workers``
    workers: the guide's number by default); stopped with SIGTERM."""
    port = free_port()
    command, workers = _command(server, port, workers)
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    env.pop(WORKERS_DIR_ENV, None)
    if server == "hypercorn":  # its workers outlive the SIGTERM it ends them with (workers_app.py)
        env["WORKERS_APP_OUTLIVE_SIGTERM"] = "1"
    run = None
    if workers_mode:
        run = WorkerDir(tmp_path / "run")
        env[WORKERS_DIR_ENV] = str(run.path)
    log = tmp_path / f"{server}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=HERE, env=env, stdout=out, stderr=out, start_new_session=True
        )
    running = Running(proc, port, workers, log, run)
    try:
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
                pytest.fail(f"{server} did not stop on SIGTERM\n{running.stderr()}")
        # the workers (and multiprocessing's resource tracker) exit with their parent
        deadline = time.monotonic() + 10
        while _group_alive(proc.pid):
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail(f"{server} left processes behind\n{running.stderr()}")
            time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_ready(running: Running) -> None:
    """Every worker has started (its slot is claimed, or its startup is logged) and the port
    accepts connections."""

    def ready() -> bool:
        assert running.proc.poll() is None, running.stderr()
        if running.run is not None:
            return len(running.run.live_slots()) == running.workers
        return running.stderr().count("Application startup complete") >= running.workers

    await until(ready, 30, "the workers start")

    async def accepts() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", running.port)
        except OSError:
            return False
        writer.close()
        return True

    deadline = time.monotonic() + 10
    while not await accepts():
        assert time.monotonic() < deadline, running.stderr()
        await asyncio.sleep(0.05)


def check_stats(running: Running) -> None:
    """What the workers printed: no refused request, forwarding at work, no lost owner."""
    stderr = running.stderr()
    assert "CONNECTION_ERROR" not in stderr, stderr
    assert "Traceback" not in stderr, stderr
    stats = re.findall(r"STATS pid=(\d+) slot=(\d+) forwarded=(\d+) unreachable=(\d+)", stderr)
    assert len(stats) == running.workers, stderr
    assert sum(int(s[2]) for s in stats) > 0, stats
    assert all(s[3] == "0" for s in stats), stats


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn", "hypercorn"])
async def test_the_asgi_app_under_workers(server: str, tmp_path: Path, node: str) -> None:
    with asgi_workers(server, tmp_path) as running:
        await wait_ready(running)
        url = f"http://127.0.0.1:{running.port}"
        results = await asyncio.gather(*(run_clients(node, url, *run) for run in RUNS))
        pids: set[int] = set()
        for result in results:
            pids |= check_clients(result)
        assert len(pids) >= 2, pids  # sessions on several workers
    assert running.proc.returncode is not None
    check_stats(running)
    assert running.run is not None
    assert running.run.live_slots() == []
    assert not list(running.run.path.glob("*.http"))


async def test_without_workers_mode_a_warning_names_the_fix(tmp_path: Path, node: str) -> None:
    with asgi_workers("uvicorn", tmp_path, workers_mode=False) as running:
        await wait_ready(running)
        url = f"http://127.0.0.1:{running.port}"

        async def warned() -> bool:
            await run_clients(node, url, "polling", False, count=10, rounds=1)
            return "Turn workers mode on" in running.stderr()

        deadline = time.monotonic() + 60
        while not await warned():  # requests reach the wrong worker soon enough
            assert time.monotonic() < deadline, running.stderr()
    stderr = running.stderr()
    assert "AIOSOCKETIO_WORKERS_DIR" in stderr
    assert stderr.count("Turn workers mode on") <= running.workers  # once per worker at most


# ---------------------------------------------------------------------- our server, TLS
class RoundRobinProxy(Proxy):
    """A TCP front that sends each new connection to the next server in turn (TLS passes
    through it untouched): nothing sticks a session to its server."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__(ports[0])
        self.ports = ports
        self.connections = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.target_port = self.ports[self.connections % len(self.ports)]
        self.connections += 1
        await super()._serve(reader, writer)


def self_signed(folder: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("this test makes its certificate with the openssl command")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]
    command += ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


def tls_app(run: Path, errors: list[str]) -> Server:
    """The app of workers_app.py on a standalone server; its connection errors in
    ``errors``, except for the late requests of sessions closed by their clients."""
    io = Server(workers_dir=run)
    closed_by_clients: set[str] = set()

    def report(request: Any, code: int, message: str, context: dict[str, Any]) -> None:
        if context.get("sid") not in closed_by_clients:
            errors.append(message)

    io.on_connection_error(report)

    @io.on("connection")
    def on_connection(socket: Any) -> None:
        sid = socket.conn.sid

        def closed(reason: str, *_: Any) -> None:
            if reason == "client namespace disconnect":
                closed_by_clients.add(sid)

        socket.on("disconnect", closed)
        socket.on("echo", lambda payload: {"payload": payload, "pid": id(io)})

        async def ask_me(n: int) -> Any:
            return await socket.timeout(5).emit_with_ack("ask", n)

        socket.on("ask-me", ask_me)

        def broadcast(text: str) -> bool:
            io.emit("news", text)
            return True

        socket.on("broadcast", broadcast)

    return io


@pytest.fixture
async def tls_pair(tmp_path: Path) -> AsyncIterator[tuple[list[Server], RoundRobinProxy, Path]]:
    """Two standalone servers with TLS in one run directory, behind a round-robin front."""
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    errors: list[str] = []
    servers = [tls_app(tmp_path / "run", errors) for _ in range(2)]
    ports = [(await io.start("127.0.0.1", 0, ssl=context)).port for io in servers]
    proxy = RoundRobinProxy(ports)
    await proxy.start()
    try:
        yield servers, proxy, cert
    finally:
        await proxy.close()
        for io in servers:
            await io.close()
    assert errors == []
    assert WorkerDir(tmp_path / "run").live_slots() == []


def forwarded(servers: list[Server]) -> int:
    return sum(io.worker.forwarder.forwarded for io in servers if io.worker and io.worker.forwarder)


async def test_standalone_servers_with_tls_forward(
    tls_pair: tuple[list[Server], RoundRobinProxy, Path], node: str
) -> None:
    servers, proxy, _ = tls_pair
    url = f"https://localhost:{proxy.port}"
    results = await asyncio.gather(*(run_clients(node, url, *run) for run in RUNS))
    owners: set[int] = set()
    for result in results:
        owners |= check_clients(result)
    assert owners == {id(io) for io in servers}
    assert forwarded(servers) > 0
    assert all(io.worker and io.worker.forwarder.unreachable == 0 for io in servers)  # type: ignore[union-attr]


async def test_our_client_through_tls_and_the_wrong_server(
    tls_pair: tuple[list[Server], RoundRobinProxy, Path],
) -> None:
    servers, proxy, cert = tls_pair
    trust = ssl.create_default_context(cafile=cert)
    for transports in (["polling"], ["polling", "websocket"]):
        before = forwarded(servers)
        sock = await connect(f"https://localhost:{proxy.port}", ssl=trust, transports=transports)
        sock.on("ask", lambda n: n * 2)
        try:
            for n in range(5):
                assert await sock.timeout(10).emit_with_ack("ask-me", n) == n * 2
        finally:
            await sock.disconnect()
        assert forwarded(servers) > before
