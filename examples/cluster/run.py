"""Start a local cluster with one command: N Socket.IO servers sharing one Redis, behind a
sticky front.

    python examples/cluster/run.py --servers 3 --port 3000

starts the servers s1..sN (examples/cluster/app.py) on ports 3001..3000+N and the front on
3000: nginx, with examples/cluster/nginx.conf rendered for those ports, when it is installed
(scripts/install-nginx), else the small sticky proxy below. Clients connect to the front.
Ctrl-C or SIGTERM stops everything. ``--sticky ip`` (default) pins a client by its address,
``--sticky cookie`` by the cookie ``io_server`` (clients must keep cookies); see README.md.

Exit status: 0 when stopped by a signal, 1 when Redis is unreachable or a process fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import itertools
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
APP = HERE / "app.py"
NGINX_CONF = HERE / "nginx.conf"
SERVER_HOST = "127.0.0.1"
COOKIE = "io_server"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
MAX_BODY = 2 * 1024 * 1024  # as client_max_body_size in nginx.conf
LEVELS = ("debug", "info", "warning", "error")

Backend = tuple[str, int]  # (name, port)


def fail(message: str) -> int:
    print(f"run.py: {message}", file=sys.stderr, flush=True)
    return 1


# ------------------------------------------------------------------------------------ Redis
def redis_problem(url: str) -> str | None:
    """Why Redis at ``url`` cannot be used (None when it answers PING)."""
    try:
        import redis
    except ImportError:
        return "the redis package is missing: pip install 'aiosocketio[redis]'"
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return (
            f"Redis is unreachable at {url} ({exc}).\n"
            "Start one (redis-server, or: docker run -p 6379:6379 redis:7) or pass --redis URL."
        )
    finally:
        client.close()
    return None


# ------------------------------------------------------------------------------------ nginx
def render_nginx_conf(
    template: str, *, host: str, port: int, servers: list[Backend], sticky: str
) -> str:
    """nginx.conf for these ports and this stickiness (the trailing comments it reads are
    described at the top of nginx.conf)."""
    lines = [f"# rendered by examples/cluster/run.py: front {host}:{port}, sticky={sticky}"]
    group: list[str] = []  # the current run of "# server sN" lines

    def flush_group() -> None:
        if group:
            model = group[0]  # the s1 line
            for name, server_port in servers:
                line = re.sub(r"(?<![0-9A-Za-z])s1(?![0-9])", name, model)
                lines.append(line.replace(":3001", f":{server_port}"))
            group.clear()

    for line in template.splitlines():
        if re.search(r"#\s*server s\d+\s*$", line):
            group.append(line)
            continue
        flush_group()
        variant = re.search(r"#\s*sticky=(\w+)\s*$", line)
        if variant:
            if variant.group(1) != sticky:
                continue
            line = re.sub(r"^(\s*)#\s?", r"\1", line)  # uncomment
        if re.search(r"#\s*front\s*$", line):
            line = re.sub(r"listen\s+\S+;", f"listen {host}:{port};", line)
        lines.append(line)
    flush_group()
    return "\n".join(lines) + "\n"


def find_nginx() -> str | None:
    return shutil.which("nginx", path=os.pathsep.join([os.defpath, "/usr/sbin", "/sbin"]))


# ------------------------------------------------------------------------- the small proxy
class StickyProxy:
    """The front when nginx is missing: HTTP/1.1 pass-through with nginx.conf's two rules.

    * ``ip``: the server is chosen by a hash of the client's address;
    * ``cookie``: by the ``io_server`` cookie, else the next server in turn; every answer sets
      the cookie naming the server that answered.

    A server that refuses the connection is skipped (the next one answers). Each request
    goes to the server on a new connection (``Connection: close``); an answer ``101
    Switching Protocols`` (WebSocket) turns both connections into a tunnel. Request bodies
    need a Content-Length (as the Socket.IO clients send), of at most MAX_BODY bytes.
    """

    def __init__(self, servers: list[Backend], sticky: str) -> None:
        self.servers = servers
        self.sticky = sticky
        self._turn = itertools.cycle(range(len(servers)))
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve_client, host, port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._clients:
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)

    def _order(self, peer: str, cookie: str) -> list[int]:
        """The servers to try, the sticky one first."""
        n = len(self.servers)
        names = [name for name, _ in self.servers]
        if self.sticky == "ip":
            first = zlib.crc32(peer.encode()) % n
        else:
            found = re.search(rf"(?:^|;)\s*{COOKIE}=([^;\s]*)", cookie)
            first = names.index(found.group(1)) if found and found.group(1) in names else -1
            if first < 0:
                first = next(self._turn)
        return [(first + i) % n for i in range(n)]

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        peer = str(writer.get_extra_info("peername")[0])
        try:
            while await self._exchange(reader, writer, peer):
                pass
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self._clients.discard(task)
            writer.close()

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> bool:
        """Pass one request and its answer; whether the client connection goes on."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # the client closed the connection
        request_line, headers = _parse_head(head)
        upgrade = "upgrade" in headers
        if "transfer-encoding" in headers:
            writer.write(_simple_answer(411, "Length Required"))
            return False
        length = int(headers.get("content-length", "0"))
        if not 0 <= length <= MAX_BODY:
            writer.write(_simple_answer(413, "Content Too Large"))
            return False
        body = await reader.readexactly(length)
        for index in self._order(peer, headers.get("cookie", "")):
            name, port = self.servers[index]
            try:
                up_reader, up_writer = await asyncio.open_connection(SERVER_HOST, port)
                break
            except OSError:
                continue
        else:
            writer.write(_simple_answer(502, "Bad Gateway"))
            return False
        try:
            forwarded = [(k, v) for k, v in headers.items() if k not in ("connection", "host")]
            forwarded += [
                ("host", headers.get("host", f"{SERVER_HOST}:{port}")),
                ("connection", "upgrade" if upgrade else "close"),
                ("x-forwarded-for", peer),
            ]
            up_writer.write(_head(request_line, forwarded) + body)
            await up_writer.drain()
            status_line, answer = _parse_head(await up_reader.readuntil(b"\r\n\r\n"))
            extra = []
            if self.sticky == "cookie":
                extra.append(("set-cookie", f"{COOKIE}={name}; Path=/; HttpOnly; SameSite=Lax"))
            if upgrade and status_line.split()[1:2] == ["101"]:
                writer.write(_head(status_line, [*answer.items(), *extra]))
                await _tunnel(reader, writer, up_reader, up_writer)
                return False
            # the server closes its connection after the answer; the client's goes on when
            # the answer says where it ends
            framed = "content-length" in answer or "chunked" in answer.get("transfer-encoding", "")
            keep = framed and headers.get("connection", "").lower() != "close"
            kept = [(k, v) for k, v in answer.items() if k != "connection"]
            kept += [*extra, *([] if keep else [("connection", "close")])]
            writer.write(_head(status_line, kept))
            await _copy(up_reader, writer)
            return keep
        finally:
            up_writer.close()


def _parse_head(head: bytes) -> tuple[str, dict[str, str]]:
    """The first line and the headers (names in lower case). Repeated headers are joined
    (Set-Cookie ones by a newline: :func:`_head` writes them back as separate headers)."""
    first, *rest = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers: dict[str, str] = {}
    for line in rest:
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"bad header line {line!r}")
        key, value = key.strip().lower(), value.strip()
        if key in headers:
            joiner = {"set-cookie": "\n", "cookie": "; "}.get(key, ", ")
            value = headers[key] + joiner + value
        headers[key] = value
    return first, headers


def _head(first: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [first]
    for key, value in headers:
        lines.extend(f"{key}: {v}" for v in value.split("\n"))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _simple_answer(status: int, reason: str) -> bytes:
    return f"HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


async def _tunnel(
    a_reader: asyncio.StreamReader,
    a_writer: asyncio.StreamWriter,
    b_reader: asyncio.StreamReader,
    b_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways until one side closes."""
    tasks = [
        asyncio.ensure_future(_copy(a_reader, b_writer)),
        asyncio.ensure_future(_copy(b_reader, a_writer)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# ------------------------------------------------------------------------------ processes
def _die_with_parent() -> None:
    """In a child, before exec (Linux): get SIGTERM when run.py dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # prctl(PR_SET_PDEATHSIG, SIGTERM)


async def spawn(*command: str, pipe: bool = False) -> asyncio.subprocess.Process:
    """A child in its own session (Ctrl-C reaches run.py only, which stops it in order);
    with ``pipe``, its stdout is a pipe (see :func:`wait_line`)."""
    return await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE if pipe else None,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )


async def wait_line(
    proc: asyncio.subprocess.Process, what: str, stopping: asyncio.Event
) -> asyncio.Task[None] | None:
    """Wait for the first line of the child's stdout ("... listening on ..."), then pass the
    rest on to ours (the task returned does it)."""
    assert proc.stdout is not None
    reading = asyncio.ensure_future(proc.stdout.readline())
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait(
            [reading, stopped], timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        stopped.cancel()
    if not reading.done():
        reading.cancel()
        if stopping.is_set():
            return None
        raise RuntimeError(f"{what} did not start in {START_TIMEOUT:g} s")
    if b"listening" not in reading.result():
        await proc.wait()
        raise RuntimeError(f"{what} exited with status {proc.returncode} while starting")
    return asyncio.ensure_future(_forward(proc.stdout))


async def _forward(stream: asyncio.StreamReader) -> None:
    while line := await stream.readline():
        sys.stdout.write(line.decode(errors="replace"))
        sys.stdout.flush()


async def wait_listening(
    host: str, port: int, proc: asyncio.subprocess.Process, what: str, stopping: asyncio.Event
) -> None:
    """Wait until the port accepts connections (fails if ``proc`` exits)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while not stopping.is_set():
        if proc.returncode is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} while starting")
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            if loop.time() > deadline:
                raise RuntimeError(
                    f"{what} is not listening on port {port} after {START_TIMEOUT:g} s"
                ) from None
            await asyncio.sleep(0.05)
        else:
            writer.close()
            return


def ports_in_use(host: str, ports: list[int]) -> list[int]:
    """Those of the ports something listens on already."""
    busy = []
    for port in ports:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do
            try:
                sock.bind((host, port))
            except OSError:
                busy.append(port)
    return busy


async def stop(procs: list[tuple[str, asyncio.subprocess.Process]]) -> None:
    """SIGTERM to each process, SIGKILL to those still running after STOP_TIMEOUT."""
    for _, proc in procs:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()

    async def reap(what: str, proc: asyncio.subprocess.Process) -> None:
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            print(f"run.py: {what} did not stop in {STOP_TIMEOUT:g} s: killed", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    await asyncio.gather(*(reap(what, proc) for what, proc in procs))


# ------------------------------------------------------------------------------------ main
async def run(args: argparse.Namespace) -> int:
    problem = redis_problem(args.redis)
    if problem is not None:
        return fail(problem)
    servers = [(f"s{i}", args.port + i) for i in range(1, args.servers + 1)]
    nginx = find_nginx() if args.front in ("auto", "nginx") else None
    if args.front == "nginx" and nginx is None:
        return fail("nginx is not installed (scripts/install-nginx installs it)")
    busy = ports_in_use(SERVER_HOST, [port for _, port in servers])
    busy += ports_in_use(args.host, [args.port])
    if busy:
        return fail(f"port(s) in use already: {', '.join(map(str, sorted(busy)))}")

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)

    procs: list[tuple[str, asyncio.subprocess.Process]] = []
    front: list[tuple[str, asyncio.subprocess.Process]] = []  # nginx
    proxy: StickyProxy | None = None
    forwarding: list[asyncio.Task[None] | None] = []  # the servers' stdout to ours
    workdir = tempfile.TemporaryDirectory(prefix="aiosocketio-cluster-")
    status = 0
    try:
        print(f"Redis        {args.redis}  (channels {args.key}#...)", flush=True)
        for name, port in servers:
            command = [sys.executable, str(APP), "--name", name, "--port", str(port)]
            command += ["--redis", args.redis, "--key", args.key, "--log-level", args.log_level]
            procs.append((f"server {name}", await spawn(*command, pipe=True)))
        for (name, port), (what, proc) in zip(servers, procs, strict=True):
            forwarding.append(await wait_line(proc, what, stopping))
            print(f"server {name:<5} http://{SERVER_HOST}:{port}  (pid {proc.pid})", flush=True)

        rule = "client address" if args.sticky == "ip" else f"cookie {COOKIE}"
        if nginx is not None:
            os.chmod(workdir.name, 0o755)  # nginx workers (nobody when run by root) go in
            conf = Path(workdir.name, "nginx.conf")
            text = NGINX_CONF.read_text()
            conf.write_text(
                render_nginx_conf(
                    text, host=args.host, port=args.port, servers=servers, sticky=args.sticky
                )
            )
            command = [nginx, "-p", workdir.name, "-e", "stderr", "-c", str(conf)]
            front.append(("nginx", await spawn(*command, "-g", "daemon off;")))
            probe = SERVER_HOST if args.host in ("0.0.0.0", "::") else args.host
            await wait_listening(probe, args.port, front[0][1], "nginx", stopping)
            kind = f"nginx, sticky by {rule}, {conf}, pid {front[0][1].pid}"
        else:
            proxy = StickyProxy(servers, args.sticky)
            await proxy.start(args.host, args.port)
            kind = f"built-in proxy, sticky by {rule}"
        print(f"front        http://{args.host}:{args.port}  ({kind})", flush=True)
        if not stopping.is_set():
            print(
                f"ready: connect the clients to http://{args.host}:{args.port}"
                "  (Ctrl-C stops the cluster)",
                flush=True,
            )

        # until a signal, or until a process dies
        waiters = [asyncio.ensure_future(proc.wait()) for _, proc in procs + front]
        stopped = asyncio.ensure_future(stopping.wait())
        await asyncio.wait([stopped, *waiters], return_when=asyncio.FIRST_COMPLETED)
        for task in [stopped, *waiters]:
            task.cancel()
        if not stopping.is_set():
            for what, proc in procs + front:
                if proc.returncode is not None:
                    status = fail(f"{what} exited with status {proc.returncode}")
    except RuntimeError as exc:
        status = fail(str(exc))
    except OSError as exc:
        status = fail(f"cannot listen on {args.host}:{args.port}: {exc}")
    finally:
        print("stopping the cluster", flush=True)
        # the front first (no new requests), then the servers
        if proxy is not None:
            await proxy.close()
        await stop(front)
        await stop(procs)
        for task in forwarding:
            if task is not None:
                await asyncio.wait([task], timeout=1)
        workdir.cleanup()
        print("stopped", flush=True)
    return status


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=3, help="how many servers (default: 3)")
    parser.add_argument(
        "--port", type=int, default=3000, help="port of the front; servers on the next ones"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address of the front")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis URL")
    parser.add_argument("--key", default="socket.io", help="Redis channel prefix")
    parser.add_argument(
        "--front",
        choices=("auto", "nginx", "proxy"),
        default="auto",
        help="nginx, the built-in proxy, or nginx when installed (default: auto)",
    )
    parser.add_argument(
        "--sticky", choices=("ip", "cookie"), default="ip", help="stickiness (default: ip)"
    )
    parser.add_argument(
        "--log-level", choices=LEVELS, default="info", help="servers' logging (default: info)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.servers <= 64:
        parser.error("--servers: 1 to 64")
    if not 0 < args.port < 65536 - args.servers:
        parser.error("--port: the front's port and the next N must be valid ports")
    try:
        sys.exit(asyncio.run(run(args)))
    except KeyboardInterrupt:  # before the cluster started
        sys.exit(130)


if __name__ == "__main__":
    main()
