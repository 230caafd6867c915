"""What it costs to bring a request to the worker that owns its session, for each mechanism.

    python benchmarks/bench_routing.py [--requests 3000] [--concurrency 8] [--repeat 3]

Processes (each its own interpreter on uvloop): the owner B (a worker with a session), and,
for each mechanism, the process that first receives the client's connection:

- ``direct``: B itself (the baseline: a request that reached its owner);
- ``handoff``: worker A, which reads the request line, sees B's sid and passes the socket and
  the bytes read to B (SCM_RIGHTS): what a misrouted connection costs with ``SO_REUSEPORT``;
- ``router``: the router of ``serve --workers`` (:mod:`aiosocketio.workers.router`), which
  accepts every connection and passes it to its owner;
- ``forward``: a proxy (a prototype of the internal forward: httptools, one pooled Unix
  connection to B's HTTP endpoint per client connection) that relays each request to B and
  B's answer back.

The client (this process, not measured) sends Engine.IO polling POSTs for B's sessions,
either each on a new TCP connection (``new``: what the Node client does) or all on one
kept-alive connection per client task (``keep``: what browsers and proxies do). It prints
the CPU time (``/proc/PID/task/*/schedstat``) of the server-side processes per request, and the
extra over ``direct``: the cost of routing one misrouted request. Best of ``--repeat`` rounds.

First, in this process, the cost of the check itself on a request that needs no routing
(a polling POST for this worker's own session, on a kept-alive connection): the same
requests through ``HttpProtocol`` and through the workers' ``WorkerHttpProtocol``. Timings
move with the machine's load; instruction counts do not:

    for p in HttpProtocol WorkerHttpProtocol; do for n in 0 2000; do
      valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python benchmarks/bench_routing.py --common $p $n 2>&1 | grep Collected
    done; done     # (count at 2000 - count at 0) / 2000 = instructions per request
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

import httptools

from aiosocketio.engine.server import EngineServer
from aiosocketio.engine.socket import EngineSocket
from aiosocketio.transport import StandaloneServer
from aiosocketio.transport.http_protocol import HttpProtocol
from aiosocketio.transport.worker_http import WorkerHttpProtocol
from aiosocketio.workers.handoff import Handoff
from aiosocketio.workers.router import Router
from aiosocketio.workers.slots import WorkerDir, new_sid

MECHANISMS = ("direct", "handoff", "router", "forward")


# ---------------------------------------------------------------------- server roles
class _Ignore:
    def on_message(self, data: str | bytes) -> None:
        pass

    def on_close(self, reason: str, description: str | None) -> None:
        pass


def _engine(slot: int) -> EngineServer:
    def connected(esock: EngineSocket) -> None:
        esock.handler = _Ignore()

    engine = EngineServer(connected, path="/engine.io")
    engine.generate_id = lambda request: new_sid(slot)
    return engine


async def _worker(run_dir: str, slot_number: int, with_unix: bool) -> None:
    slot = WorkerDir(run_dir).claim(slot_number)
    server = StandaloneServer(_engine(slot_number), workers=slot)
    await server.start("127.0.0.1", 0)
    info: dict[str, Any] = {"port": server.port}
    unix = None
    if with_unix:  # B's HTTP endpoint for the forward prototype
        path = slot.path("http")
        loop = asyncio.get_running_loop()
        unix = await loop.create_unix_server(lambda: HttpProtocol(server), path, backlog=1024)
        info["unix"] = path
    print(json.dumps(info), flush=True)
    await asyncio.Event().wait()
    assert unix is not None


async def _router(run_dir: str, owner: int) -> None:
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    router = Router([listener], WorkerDir(run_dir))
    router.add(owner)
    router.start()
    print(json.dumps({"port": listener.getsockname()[1]}), flush=True)
    await asyncio.Event().wait()


class _Forward(asyncio.Protocol):
    """Relays each request of a client connection to the owner's Unix socket (one upstream
    connection per client connection, requests one at a time) and the answers back."""

    def __init__(self, unix_path: str) -> None:
        self.unix_path = unix_path
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self.pending: list[bytes] = []
        self.current = bytearray()
        self.answer = _Answer(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.connecting = asyncio.ensure_future(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        self.upstream, _ = await loop.create_unix_connection(lambda: self.answer, self.unix_path)
        for request in self.pending:
            self.upstream.write(request)
        self.pending.clear()

    def data_received(self, data: bytes) -> None:
        self.current += data
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        request = bytes(self.current)
        self.current.clear()
        if self.upstream is None:
            self.pending.append(request)
        else:
            self.upstream.write(request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream is not None:
            self.upstream.close()


class _Answer(asyncio.Protocol):
    def __init__(self, front: _Forward) -> None:
        self.front = front
        self.parser = httptools.HttpResponseParser(self)
        self.current = bytearray()

    def data_received(self, data: bytes) -> None:
        self.current += data
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        transport = self.front.transport
        if transport is not None:
            transport.write(bytes(self.current))
        self.current.clear()


async def _forward(unix_path: str) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Forward(unix_path), "127.0.0.1", 0, backlog=1024)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    await asyncio.Event().wait()


def role_main(args: list[str]) -> None:
    import uvloop

    role = args[0]
    if role == "worker":
        uvloop.run(_worker(args[1], int(args[2]), args[3] == "1"))
    elif role == "router":
        uvloop.run(_router(args[1], int(args[2])))
    else:
        uvloop.run(_forward(args[1]))


# ---------------------------------------------------------------------- the common case
class _NullTransport(asyncio.Transport):
    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def writelines(self, data: Any) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def common_case(rounds: int = 9, requests: int = 10000, only: str = "") -> None:
    """Microseconds per kept-alive polling POST for this worker: without and with the check
    (rounds interleaved, best of each). ``only``: run ``requests`` through that protocol
    once and print nothing (for ``valgrind --tool=callgrind``, which counts instructions)."""
    run_dir = tempfile.mkdtemp(prefix="aio-bench-")
    try:
        slot = WorkerDir(run_dir).claim(0)
        engine = _engine(0)
        server = StandaloneServer(engine, workers=slot)
        handoff = Handoff(slot, lambda sock, data: None)
        request = post(_session(engine))
        makers: dict[str, Any] = {
            "HttpProtocol": lambda: HttpProtocol(server),
            "WorkerHttpProtocol": lambda: WorkerHttpProtocol(server, handoff),
        }
        best = dict.fromkeys(makers, float("inf"))
        for _ in range(1 if only else rounds):
            for name, make in makers.items():
                if only and name != only:
                    continue
                proto = make()
                proto.connection_made(_NullTransport())
                start = time.perf_counter()
                for _ in range(requests):
                    proto.data_received(request)
                best[name] = min(best[name], time.perf_counter() - start)
                proto.connection_lost(None)
        engine.close_all()
        slot.release()
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    if only:
        return
    plain, worker = (best[name] / requests * 1e6 for name in makers)
    print("a request for this worker (kept-alive polling POST, in process, no kernel):")
    print(f"  HttpProtocol {plain:.2f} us, WorkerHttpProtocol {worker:.2f} us", end="")
    print(f" ({worker - plain:+.2f} us)")


def _session(engine: EngineServer) -> str:
    from aiosocketio.engine.http import Request

    answers: list[bytes] = []

    class Responder:
        def respond(self, status: int, headers: Any, body: bytes) -> None:
            answers.append(body)

    engine.handle_request(
        Request("GET", "/engine.io/", "EIO=4&transport=polling", {"host": "x"}), Responder()
    )
    return str(json.loads(answers[0][1:])["sid"])


# ---------------------------------------------------------------------- measuring
def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid`` (nanosecond resolution: schedstat)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


def spawn(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--role", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


async def handshake(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    body = await reader.readexactly(length)
    writer.close()
    return str(json.loads(body[1:])["sid"])


def post(sid: str) -> bytes:
    return (
        f"POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
        f"Host: x\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\n6"
    ).encode()


async def read_answer(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    await reader.readexactly(length)


async def client(port: int, sids: list[str], count: int, keep: bool) -> None:
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    for i in range(count):
        if conn is None:
            conn = await asyncio.open_connection("127.0.0.1", port)
        reader, writer = conn
        writer.write(post(sids[i % len(sids)]))
        await read_answer(reader)
        if not keep:
            writer.close()
            conn = None
    if conn is not None:
        conn[1].close()


async def measure(
    port: int, pids: list[int], sids: list[str], requests: int, concurrency: int, keep: bool
) -> float:
    each = requests // concurrency
    await asyncio.gather(*(client(port, sids, 20, keep) for _ in range(concurrency)))  # warm
    before = sum(cpu_seconds(pid) for pid in pids)
    await asyncio.gather(*(client(port, sids, each, keep) for _ in range(concurrency)))
    after = sum(cpu_seconds(pid) for pid in pids)
    return (after - before) / (each * concurrency) * 1e6


async def run(args: argparse.Namespace) -> None:
    await common_case()
    run_dir = tempfile.mkdtemp(prefix="aio-bench-")
    procs: list[subprocess.Popen[str]] = []
    try:
        owner, owner_info = spawn("worker", run_dir, "1", "1")
        procs.append(owner)
        other, other_info = spawn("worker", run_dir, "0", "0")
        procs.append(other)
        router, router_info = spawn("router", run_dir, "1")
        procs.append(router)
        forward, forward_info = spawn("forward", owner_info["unix"])
        procs.append(forward)
        entry = {
            "direct": (owner_info["port"], [owner.pid]),
            "handoff": (other_info["port"], [other.pid, owner.pid]),
            "router": (router_info["port"], [router.pid, owner.pid]),
            "forward": (forward_info["port"], [forward.pid, owner.pid]),
        }
        sids = [await handshake(owner_info["port"]) for _ in range(16)]
        results: dict[tuple[str, str], float] = {}
        for _ in range(args.repeat):
            for mode in ("new", "keep"):
                for name in MECHANISMS:
                    port, pids = entry[name]
                    cost = await measure(
                        port, pids, sids, args.requests, args.concurrency, mode == "keep"
                    )
                    key = (mode, name)
                    results[key] = min(results.get(key, cost), cost)
        print(f"server CPU per request, us (best of {args.repeat}; {args.requests} requests):")
        print(f"{'':10}{'connection':>12}{'mechanism':>12}{'total':>10}{'extra':>10}")
        for mode in ("new", "keep"):
            base = results[(mode, "direct")]
            for name in MECHANISMS:
                cost = results[(mode, name)]
                label = "new" if mode == "new" else "kept alive"
                print(f"{'':10}{label:>12}{name:>12}{cost:10.1f}{cost - base:10.1f}")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait()
        shutil.rmtree(run_dir, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--role":
        role_main(sys.argv[2:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--common":  # --common PROTOCOL REQUESTS
        import uvloop

        uvloop.run(common_case(requests=int(sys.argv[3]), only=sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import uvloop

    uvloop.run(run(args))


if __name__ == "__main__":
    main()
