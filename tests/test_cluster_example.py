"""End to end: the cluster example (examples/cluster/run.py) with real processes and Redis.

``run.py --servers 3`` is started on free ports, with each front (nginx, installed by
scripts/install-nginx when missing and root, and the built-in proxy) and each stickiness
(client address, cookie). 24 official Node clients (tests/interop/scenarios/cluster_clients.js:
polling only, websocket only, upgrade) and 6 aiosocketio clients connect through the front;
the test checks that the clients are spread over the servers, that every client keeps its
server and session through several round trips (no "Session ID unknown"), that a broadcast
reaches every client exactly once and a message to a room spanning servers exactly its
members, and that SIGTERM stops every process of the cluster.

Skipped when Redis is unreachable; needs Node and tests/interop/node_modules (the interop
tests' packages).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import ClientSocket, connect
from helpers import node_or_skip

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "examples" / "cluster"
RUN = CLUSTER / "run.py"
INSTALL_NGINX = ROOT / "scripts" / "install-nginx"
INTEROP = ROOT / "tests" / "interop"
SCENARIO = INTEROP / "scenarios" / "cluster_clients.js"
REDIS_URL = os.environ.get("AIOSOCKETIO_REDIS_URL", "redis://127.0.0.1:6379")

SERVERS = 3
NODE_CLIENTS = 24
NETWORKS = 10  # source networks 127.0.1.1 .. 127.0.10.1 of the Node clients (sticky=ip)
ROUNDS = 4

pytestmark = [pytest.mark.slow, pytest.mark.interop]


def _load_run_module() -> Any:
    spec = importlib.util.spec_from_file_location("cluster_run", RUN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_py = _load_run_module()


# ----------------------------------------------------------------------------- requirements
@pytest.fixture(scope="module")
def redis_url() -> str:
    problem = run_py.redis_problem(REDIS_URL)
    if problem is not None:
        pytest.skip(f"the cluster example needs Redis: {problem}")
    return REDIS_URL


@pytest.fixture(scope="module")
def node() -> str:
    return node_or_skip()


@pytest.fixture(scope="module")
def nginx() -> str:
    """nginx, installed with scripts/install-nginx when missing (as root)."""
    if run_py.find_nginx() is None and hasattr(os, "geteuid") and os.geteuid() == 0:
        subprocess.run([str(INSTALL_NGINX)], check=False, timeout=240)
    path = run_py.find_nginx()
    if path is None:
        pytest.skip("nginx is not installed and scripts/install-nginx could not install it")
    return str(path)


def _free_base(count: int) -> int:
    """A port such that it and the next ``count`` ones are free on 127.0.0.1."""
    for _ in range(100):
        base = random.randrange(20000, 60000)
        sockets = []
        try:
            for port in range(base, base + count + 1):
                sock = socket.socket()
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free ports")


# ------------------------------------------------------------------------------ processes
def _descendants(pid: int) -> set[int]:
    """The processes below ``pid`` (from /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has exited


class Cluster:
    """``run.py`` as a subprocess: its output, the front's URL and its processes."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}"
        self.output: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def wait_ready(self, timeout: float = 30.0) -> None:
        assert self.proc.stdout is not None
        stdout = self.proc.stdout

        async def until_ready() -> None:
            while line := (await stdout.readline()).decode():
                self.output.append(line.rstrip())
                if line.startswith("ready:"):
                    return
            raise AssertionError("run.py ended before it was ready:\n" + self.text())

        await asyncio.wait_for(until_ready(), timeout)
        self._reader = asyncio.ensure_future(self._read_rest())

    async def _read_rest(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.output.append(line.decode().rstrip())

    def text(self) -> str:
        return "\n".join(self.output)

    async def stop(self, timeout: float = 20.0) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        finally:
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)
        return code


async def _start_cluster(redis_url: str, front: str, sticky: str, stderr: Any) -> Cluster:
    port = _free_base(SERVERS)
    command = [sys.executable, str(RUN), "--servers", str(SERVERS), "--port", str(port)]
    command += ["--redis", redis_url, "--key", f"cluster-test-{uuid.uuid4().hex[:10]}"]
    command += ["--front", front, "--sticky", sticky, "--log-level", "warning"]
    proc = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=stderr
    )
    cluster = Cluster(proc, port)
    try:
        await cluster.wait_ready()
    except BaseException:
        await cluster.stop()
        raise
    return cluster


# -------------------------------------------------------------------------------- clients
class PyClient:
    """An aiosocketio client of the test, and what it saw."""

    def __init__(self, sock: ClientSocket, mode: str) -> None:
        self.sock = sock
        self.mode = mode
        self.errors: list[str] = []
        self.messages: list[str] = []
        self.whoami: list[dict[str, Any]] = []
        self.closing = False
        sock.on("message", lambda message: self.messages.append(message["text"]))
        sock.on("connect_error", lambda error: self.errors.append(f"connect_error: {error}"))
        sock.on("disconnect", self._on_disconnect)

    def _on_disconnect(self, reason: str, *_: Any) -> None:
        if not self.closing:
            self.errors.append(f"disconnect: {reason}")

    @property
    def transport(self) -> str | None:
        engine = self.sock.io.engine
        return engine.transport.name if engine is not None and engine.transport else None


PY_TRANSPORTS = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "upgrade": ["polling", "websocket"],
}


async def _python_clients(url: str, sticky: str) -> list[PyClient]:
    # behind a cookie-sticky front, polling needs the cookie jar (as withCredentials in Node)
    modes = ["polling", "websocket", "upgrade"]
    clients = []
    for i in range(6):
        mode = modes[i % len(modes)]
        sock = await connect(
            url,
            force_new=True,
            reconnection=False,
            transports=PY_TRANSPORTS[mode],
            with_credentials=sticky == "cookie",
            wait_timeout=10,
        )
        clients.append(PyClient(sock, mode))
    return clients


async def _run_node(node: str, config: dict[str, Any]) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        node,
        str(SCENARIO),
        json.dumps(config),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(INTEROP),
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, (
        f"cluster_clients.js exited with {proc.returncode}\n{stderr.decode(errors='replace')}"
    )
    result: dict[str, Any] = json.loads(stdout.decode())
    return result


async def _until(check: Any, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check() and loop.time() < deadline:
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------------------------- tests
@pytest.mark.parametrize(
    ("front", "sticky"),
    [("nginx", "ip"), ("nginx", "cookie"), ("proxy", "ip"), ("proxy", "cookie")],
)
async def test_cluster_through_the_front(
    redis_url: str,
    node: str,
    front: str,
    sticky: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    if front == "nginx":
        request.getfixturevalue("nginx")
    with (tmp_path / "cluster.log").open("w+b") as log:  # the servers' and nginx's stderr
        cluster: Cluster | None = None
        try:
            cluster = await _start_cluster(redis_url, front, sticky, log)
            pids = _descendants(cluster.proc.pid)
            await _check_cluster(cluster, node, front, sticky)
        except BaseException:
            if cluster is not None:
                await cluster.stop()
                print(cluster.text())
            log.seek(0)
            print(log.read().decode(errors="replace")[-5000:])
            raise
        code = await cluster.stop()
    assert code == 0, cluster.text()
    assert cluster.output[-1] == "stopped"
    assert len(pids) >= SERVERS + (1 if front == "nginx" else 0)
    assert not [pid for pid in pids if _running(pid)], "processes left running"


async def _check_cluster(cluster: Cluster, node: str, front: str, sticky: str) -> None:
    kind = "nginx" if front == "nginx" else "built-in proxy"
    assert any(line.startswith("front") and kind in line for line in cluster.output)
    nonce = uuid.uuid4().hex[:8]
    py_clients = await _python_clients(cluster.url, sticky)
    try:
        config = {
            "url": cluster.url,
            "count": NODE_CLIENTS,
            "sticky": sticky,
            "networks": NETWORKS,
            "nonce": nonce,
            "rounds": ROUNDS,
        }
        node_run = asyncio.ensure_future(_run_node(node, config))
        for _ in range(ROUNDS):  # meanwhile, the Python clients' round trips
            for client in py_clients:
                client.whoami.append(await client.sock.emit_with_ack("whoami", timeout=5))
            await asyncio.sleep(0.1)
        result = await node_run
        await _until(lambda: all(f"all-{nonce}" in c.messages for c in py_clients), 5)
        await asyncio.sleep(0.2)
        py_transports = [c.transport for c in py_clients]
    finally:
        for client in py_clients:
            client.closing = True
            await client.sock.disconnect()

    assert result["failures"] == []
    node_clients = result["clients"]
    # every client kept its server and its session, with no error ("Session ID unknown"
    # shows as an xhr poll/post error, then a disconnection)
    for c in node_clients:
        assert c["errors"] == [], c
        assert c["connected"], c
        assert len(c["whoami"]) == ROUNDS, c
        assert len({(w["server"], w["sid"]) for w in c["whoami"]}) == 1, c
        expected = "polling" if c["mode"] == "polling" else "websocket"
        assert c["transport"] == expected, c
    for client, transport in zip(py_clients, py_transports, strict=True):
        assert client.errors == [], (client.mode, client.errors)
        assert len({(w["server"], w["sid"]) for w in client.whoami}) == 1, client.whoami
        assert transport == ("polling" if client.mode == "polling" else "websocket")

    # spread over the servers
    servers = Counter(c["whoami"][0]["server"] for c in node_clients)
    assert len(servers) >= 2, servers
    assert set(servers) <= {f"s{i}" for i in range(1, SERVERS + 1)}

    # the broadcast reached every client, on every server, exactly once
    assert [c["everyone"] for c in node_clients] == [1] * NODE_CLIENTS
    assert [c.messages.count(f"all-{nonce}") for c in py_clients] == [1] * len(py_clients)

    # the room spans servers; its message reached its members exactly once, and no one else
    members = {c["whoami"][0]["sid"]: c["whoami"][0]["server"] for c in node_clients if c["member"]}
    assert len(members) == NODE_CLIENTS // 2
    assert {m["sid"]: m["server"] for m in result["roomMembers"]} == members
    assert len(set(members.values())) >= 2, members
    assert [c["inRoom"] for c in node_clients] == [int(c["member"]) for c in node_clients]
    assert all(f"in-{nonce}" not in c.messages for c in py_clients)


# ------------------------------------------------------------------ without Redis / config
def test_run_exits_when_redis_is_unreachable() -> None:
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{sock.getsockname()[1]}"
    port = _free_base(2)
    proc = subprocess.run(
        [sys.executable, str(RUN), "--servers", "2", "--port", str(port), "--redis", dead],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 1
    assert f"Redis is unreachable at {dead}" in proc.stderr
    assert "ready:" not in proc.stdout


@pytest.mark.parametrize("sticky", ["ip", "cookie"])
def test_rendered_nginx_conf(sticky: str, tmp_path: Path) -> None:
    servers = [(f"s{i}", 41000 + i) for i in range(1, 12)]
    text = run_py.render_nginx_conf(
        (CLUSTER / "nginx.conf").read_text(),
        host="127.0.0.1",
        port=41000,
        servers=servers,
        sticky=sticky,
    )
    assert "listen 127.0.0.1:41000;" in text
    assert text.count("server 127.0.0.1:41011;") == 2  # the cluster's upstream, io_s11's
    assert "s11      io_s11;" in text
    assert '~:41011$ "io_server=s11;' in text
    active = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in active if re.search(r":300[0-3]\b", line)]
    assert any("ip_hash;" in line for line in active) == (sticky == "ip")
    assert any("proxy_pass http://$io_upstream;" in line for line in active) == (sticky == "cookie")
    nginx = run_py.find_nginx()
    if nginx is None:
        return  # the test above checks the file with nginx itself when it is installed
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    tmp_path.chmod(0o755)
    check = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", "stderr", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert re.search(r"test is successful", check.stderr)
