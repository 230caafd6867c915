"""The deployment examples of docs/deploying.md (examples/deploying/), each run as written
except for addresses, ports, paths, the user and the Redis key:

- chat.service: ``systemd-analyze verify`` accepts the unit (its paths and user made real on
  this machine), which is also parsed here; its ExecStart runs, and the official client
  connects with every transport;
- Dockerfile: built and run when a Docker daemon answers; its CMD always runs in the venv;
- nginx.conf: TLS ends in nginx (a self-signed certificate), which passes every request to
  ``serve --workers``; the official client over https and wss, ours checking the certificate;
- several machines: two ``serve --workers`` (two "machines" on two ports) share Redis; a
  broadcast from either reaches the clients of every worker of both;
- the blocks of docs/deploying.md that name a file of examples/deploying are that file.

The official client (tests/interop/scenarios/workers_clients.js, as in
test_workers_processes.py) runs polling with a new connection for every request, polling
with kept-alive connections, WebSocket only, and polling then upgrade; every round trip must
complete and a broadcast reach every client once.
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import grp
import json
import os
import pwd
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aiosocketio import ClientSocket, connect
from aiosocketio.workers.supervisor import cpu_count
from helpers import http_request, open_packet
from servers import free_port
from test_docs import DOCS, blocks, is_run_of

from .procs import Served, node_or_skip
from .test_workers_processes import RUNS, check_clients, run_clients, self_signed

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEPLOYING = ROOT / "examples" / "deploying"
GUIDE = DOCS / "deploying.md"
VENV_BIN = Path(sys.executable).parent
INSTALL_NGINX = ROOT / "scripts" / "install-nginx"
REDIS_URL = os.environ.get("AIOSOCKETIO_REDIS_URL", "redis://127.0.0.1:6379")
CLIENTS = 12  # per transport mode

pytestmark = [pytest.mark.slow, pytest.mark.interop, pytest.mark.timeout(180)]


# ---------------------------------------------------------------------- the guide's blocks
def test_the_guides_blocks_are_the_example_files() -> None:
    named = {}
    for block in blocks(GUIDE):
        annotation = block.annotation or ""
        if annotation.startswith("from examples/deploying/"):
            named[annotation.split(" ", 1)[1]] = block
            text = (ROOT / annotation.split(" ", 1)[1]).read_text(encoding="utf-8")
            assert is_run_of(block.text, text), f"{block.where()} is not a run of {annotation}"
    assert set(named) >= {
        "examples/deploying/chat.service",
        "examples/deploying/Dockerfile",
        "examples/deploying/nginx.conf",
    }


def guide_command(name: str) -> tuple[dict[str, str], list[str]]:
    """The guide's ``<!-- command: NAME -->`` block: the variables it exports, its command."""
    found = [b for b in blocks(GUIDE) if b.annotation == f"command: {name}"]
    assert len(found) == 1, f"docs/deploying.md has no single <!-- command: {name} --> block"
    exports: dict[str, str] = {}
    *lines, command = found[0].text.splitlines()
    for line in lines:
        key, _, value = line.removeprefix("export ").partition("=")
        exports[key] = value
    return exports, shlex.split(command)


# ---------------------------------------------------------------------- serving
def on_this_machine(argv: list[str]) -> list[str]:
    """``serve``'s arguments with the address made local and the port free (0)."""
    args = list(argv)
    for flag, value in (("--host", "127.0.0.1"), ("--port", "0")):
        assert flag in args, argv
        args[args.index(flag) + 1] = value
    return args


@contextlib.asynccontextmanager
async def serving(
    argv: list[str], cwd: Path, env: dict[str, str] | None = None
) -> AsyncIterator[Served]:
    """``argv`` (an ``aiosocketio serve --workers`` command) run in ``cwd`` until the end of
    the block, then stopped with SIGTERM: it must exit with 0 and log no traceback."""
    served = await Served.start_command(*on_this_machine(argv), env=env, cwd=cwd)
    try:
        yield served
    except BaseException:
        await served.kill()
        raise
    code = await served.stop(signal.SIGTERM)
    assert code == 0, served.log
    assert "Traceback" not in served.log, served.log


async def every_transport(node: str, url: str, workers: int) -> None:
    """The official client with every transport, polling both ways: every round trip and a
    broadcast across the workers; sessions on several workers."""
    runs = [run_clients(node, url, *run, count=CLIENTS) for run in RUNS]
    pids: set[int] = set()
    for result in await asyncio.gather(*runs):
        pids |= check_clients(result, CLIENTS)
    if workers >= 2:
        assert len(pids) >= 2, pids


# ---------------------------------------------------------------------- systemd
UNIT = DEPLOYING / "chat.service"


def render_unit() -> str:
    """chat.service with this machine's paths (the venv, the example's directory) and user."""
    text = UNIT.read_text(encoding="utf-8")
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    for old, new in (
        ("/srv/chat/.venv/bin/", f"{VENV_BIN}/"),
        ("WorkingDirectory=/srv/chat\n", f"WorkingDirectory={DEPLOYING}\n"),
        ("User=chat\n", f"User={user}\n"),
        ("Group=chat\n", f"Group={group}\n"),
    ):
        assert old in text, f"chat.service has no {old!r}"
        text = text.replace(old, new)
    return text


def parse_unit(text: str) -> configparser.RawConfigParser:
    unit = configparser.RawConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(text)
    return unit


def test_the_systemd_unit_is_valid(tmp_path: Path) -> None:
    unit = parse_unit(UNIT.read_text(encoding="utf-8"))
    assert unit.sections() == ["Unit", "Service", "Install"]
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[1:3] == ["serve", "--app"] and "--workers" in argv
    # SIGTERM drains within --grace seconds; systemd waits longer before it kills
    grace = float(argv[argv.index("--grace") + 1])
    assert service["KillSignal"] == "SIGTERM" and float(service["TimeoutStopSec"]) > grace
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: the unit was only parsed")
    rendered = tmp_path / "chat.service"
    rendered.write_text(render_unit(), encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", str(rendered)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), done


async def test_the_units_command_serves_every_transport() -> None:
    node = node_or_skip()
    service = parse_unit(render_unit())["Service"]
    argv = shlex.split(service["ExecStart"])
    assert Path(argv[0]).is_file(), argv[0]  # the venv's aiosocketio command
    env = dict(line.split("=", 1) for line in service["Environment"].split())
    async with serving(argv, Path(service["WorkingDirectory"]), env) as served:
        assert len(served.workers()) == cpu_count()  # --workers auto
        await every_transport(node, served.url, cpu_count())


# ---------------------------------------------------------------------- the container
DOCKERFILE = DEPLOYING / "Dockerfile"


def dockerfile(instruction: str) -> list[str]:
    """The arguments of each ``instruction`` line of the Dockerfile."""
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    return [line.split(" ", 1)[1] for line in lines if line.startswith(f"{instruction} ")]


def docker_problem() -> str | None:
    """Why the image cannot be built here (None: a Docker daemon answers)."""
    docker = shutil.which("docker")
    if docker is None:
        return "docker is not installed"
    done = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        return "the Docker daemon does not answer (`docker info` fails)"
    return None


def test_the_dockerfile_is_well_formed() -> None:
    """What can be checked without a Docker daemon: each line is an instruction (no line
    continuations here), what it copies exists in the repository, exec-form CMD."""
    instructions = {"FROM", "RUN", "COPY", "WORKDIR", "ENV", "USER", "EXPOSE", "STOPSIGNAL", "CMD"}
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            assert line.split()[0] in instructions and not line.endswith("\\"), line
    for copy in dockerfile("COPY"):
        *sources, _ = copy.split()
        assert all((ROOT / source).exists() for source in sources), copy
    (cmd,) = dockerfile("CMD")
    assert isinstance(json.loads(cmd), list)  # exec form: SIGTERM reaches the server


async def test_the_containers_command_serves_every_transport() -> None:
    """The image's CMD, run in the venv from the directory of chat.py (the image's WORKDIR
    holds chat.py), with the image's environment."""
    node = node_or_skip()
    (cmd,) = dockerfile("CMD")
    argv = json.loads(cmd)
    assert argv[0] == "aiosocketio"
    env = dict(item.split("=", 1) for line in dockerfile("ENV") for item in line.split())
    async with serving([str(VENV_BIN / "aiosocketio"), *argv[1:]], DEPLOYING, env) as served:
        await every_transport(node, served.url, len(served.workers()))


async def test_the_container_image_builds_and_serves(tmp_path: Path) -> None:
    problem = docker_problem()
    if problem is not None:
        pytest.skip(
            f"{problem}: the image is not built here; its CMD runs in the venv instead "
            "(test_the_containers_command_serves_every_transport)"
        )
    node = node_or_skip()
    tag = f"aiosocketio-chat-test:{uuid.uuid4().hex[:12]}"
    build = ["docker", "build", "-f", str(DOCKERFILE), "-t", tag, str(ROOT)]
    subprocess.run(build, check=True, capture_output=True, timeout=900)
    port = free_port()
    try:
        run = ["docker", "run", "-d", "-p", f"127.0.0.1:{port}:8000", tag]
        container = subprocess.run(run, check=True, capture_output=True, text=True).stdout
        container = container.strip()
        try:
            await until_answers(port, 60)
            await every_transport(node, f"http://127.0.0.1:{port}", 1)
        finally:
            subprocess.run(["docker", "stop", container], capture_output=True, timeout=60)
            inspect = ["docker", "inspect", "-f", "{{.State.ExitCode}}", container]
            code = subprocess.run(inspect, capture_output=True, text=True).stdout.strip()
            logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True)
            subprocess.run(["docker", "rm", container], capture_output=True)
        assert code == "0", logs.stdout + logs.stderr  # drained on docker stop's SIGTERM
    finally:
        subprocess.run(["docker", "rmi", tag], capture_output=True)


async def until_answers(port: int, timeout: float) -> None:
    """Until a handshake on ``port`` gets a session."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        with contextlib.suppress(OSError, ValueError):
            response = await http_request(port, "GET", "/socket.io/?EIO=4&transport=polling")
            if response.status == 200 and open_packet(response.text)["sid"]:
                return
        assert loop.time() < deadline, f"no handshake on port {port} within {timeout} s"
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------------- nginx with TLS
NGINX_SITE = DEPLOYING / "nginx.conf"


@pytest.fixture(scope="module")
def nginx() -> str:
    """nginx, installed with scripts/install-nginx when missing (as root)."""

    def find() -> str | None:
        return shutil.which("nginx", path=os.pathsep.join([os.defpath, "/usr/sbin", "/sbin"]))

    if find() is None and os.geteuid() == 0:
        subprocess.run([str(INSTALL_NGINX)], check=False, timeout=240)
    path = find()
    if path is None:
        pytest.skip("nginx is not installed and scripts/install-nginx could not install it")
    return path


def render_nginx(folder: Path, front: int, upstream: int, cert: Path, key: Path) -> Path:
    """nginx.conf (the http block's content) for these ports and this certificate, in a
    main configuration whose files stay in ``folder``."""
    site = NGINX_SITE.read_text(encoding="utf-8")
    for old, new in (
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{front} ssl;"),
        ("/etc/ssl/chat/fullchain.pem", str(cert)),
        ("/etc/ssl/chat/privkey.pem", str(key)),
    ):
        assert old in site, f"nginx.conf has no {old!r}"
        site = site.replace(old, new)
    (folder / "chat.conf").write_text(site, encoding="utf-8")
    temp = " ".join(f"{name}_temp_path {name}_temp;" for name in ("client_body", "proxy"))
    user = f"user {pwd.getpwuid(os.getuid()).pw_name};" if os.geteuid() == 0 else ""
    main = folder / "nginx.conf"
    main.write_text(
        f"{user}\nworker_processes 1;\npid nginx.pid;\nerror_log stderr warn;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; {temp} include {folder / 'chat.conf'}; }}\n",
        encoding="utf-8",
    )
    return main


@contextlib.asynccontextmanager
async def running_nginx(nginx: str, folder: Path, conf: Path, port: int) -> AsyncIterator[None]:
    proc = await asyncio.create_subprocess_exec(
        nginx,
        "-p",
        str(folder),
        "-e",
        "stderr",
        "-c",
        str(conf),
        "-g",
        "daemon off;",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while True:
            assert proc.returncode is None, "nginx stopped"
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                assert loop.time() < deadline, "nginx does not listen"
                await asyncio.sleep(0.05)
                continue
            writer.close()
            break
        yield
    finally:
        if proc.returncode is None:
            proc.terminate()
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert "[emerg]" not in stderr.decode(errors="replace"), stderr


async def our_client(url: str, trust: ssl.SSLContext, transports: list[str]) -> None:
    """Our client through nginx, checking the certificate: round trips both ways, on the
    transport it ends on."""
    sock: ClientSocket = await connect(url, ssl=trust, transports=transports, wait_timeout=20)
    sock.on("ask", lambda n: n * 2)
    try:
        engine = sock.io.engine
        assert engine is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while engine.transport is None or engine.transport.name != transports[-1]:
            assert loop.time() < deadline, f"{transports}: not upgraded"
            await asyncio.sleep(0.05)
        for n in range(3):
            assert (await sock.timeout(10).emit_with_ack("echo", n))["payload"] == n
            assert await sock.timeout(10).emit_with_ack("ask-me", n) == n * 2
    finally:
        await sock.disconnect()


async def test_tls_in_nginx_in_front_of_serve_workers(tmp_path: Path, nginx: str) -> None:
    node = node_or_skip()
    cert, key = self_signed(tmp_path)  # for localhost
    front = free_port()
    argv = shlex.split(parse_unit(render_unit())["Service"]["ExecStart"])
    async with serving(argv, DEPLOYING) as served:
        conf = render_nginx(tmp_path, front, served.port, cert, key)
        async with running_nginx(nginx, tmp_path, conf, front):
            await every_transport(node, f"https://127.0.0.1:{front}", len(served.workers()))
            trust = ssl.create_default_context(cafile=str(cert))
            for transports in (["polling"], ["websocket"], ["polling", "websocket"]):
                await our_client(f"https://localhost:{front}", trust, transports)


# ---------------------------------------------------------------------- several machines
@pytest.fixture(scope="module")
def redis_url() -> str:
    try:
        import redis
    except ImportError:
        pytest.skip("needs the redis package")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"needs Redis at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


def slot(sock: ClientSocket) -> str:
    """The worker of the session: the first two characters of its id."""
    engine = sock.io.engine
    assert engine is not None and engine.id is not None
    return engine.id[:2]


async def clients_on_every_worker(url: str, workers: int) -> list[ClientSocket]:
    """Clients of ``url`` (WebSocket and long-polling) until every worker holds some."""
    clients: list[ClientSocket] = []
    for i in range(10 * workers + 4):
        transports = ["polling"] if i % 2 else ["websocket"]
        clients.append(await connect(url, transports=transports, wait_timeout=20))
        if i >= 3 and len({slot(c) for c in clients}) == workers:
            return clients
    pytest.fail(f"clients of {url} on {len({slot(c) for c in clients})} workers of {workers}")


async def broadcast_reaches(sender: ClientSocket, received: list[list[Any]]) -> str:
    """A broadcast from ``sender`` that every client received (a new one until then: each
    server counts for the others once Redis told it they are there); its text."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        text = uuid.uuid4().hex
        assert await sender.timeout(10).emit_with_ack("broadcast", text) is True
        until = loop.time() + 2
        while loop.time() < until:
            if all(text in got for got in received):
                return text
            await asyncio.sleep(0.02)
        assert loop.time() < deadline, [len(got) for got in received]


async def test_several_machines_share_redis(redis_url: str) -> None:
    node = node_or_skip()
    exports, argv = guide_command("machines")
    assert set(exports) == {"REDIS_URL"}
    assert argv[:2] == ["aiosocketio", "serve"]
    command = [str(VENV_BIN / "aiosocketio"), *argv[1:]]
    env = {"REDIS_URL": redis_url, "REDIS_KEY": f"chat-test-{uuid.uuid4().hex}"}
    async with (
        serving(command, DEPLOYING, env) as one,
        serving(command, DEPLOYING, env) as two,
    ):
        workers = len(one.workers())
        assert workers == len(two.workers()) == cpu_count()
        clients: list[ClientSocket] = []
        try:
            for machine in (one, two):
                clients += await clients_on_every_worker(machine.url, workers)
            received: list[list[Any]] = []
            for sock in clients:
                got: list[Any] = []
                sock.on("news", got.append)
                received.append(got)
            texts = [
                await broadcast_reaches(clients[0], received),  # from the first machine
                await broadcast_reaches(clients[-1], received),  # from the second
            ]
            assert all(got.count(text) == 1 for got in received for text in texts)
            # long-polling clients of one machine stay with their worker, Redis or not
            for machine in (one, two):
                result = await run_clients(node, machine.url, "polling", False, count=CLIENTS)
                check_clients(result, CLIENTS)
        finally:
            for sock in clients:
                await sock.disconnect()
