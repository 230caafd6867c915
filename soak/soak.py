#!/usr/bin/env python3
"""Soak test: many connections on one aiosocketio process for a long time.

    python soak/soak.py --connections 10000 --minutes 10 --broadcast-interval 1 \
        --ack-interval 5 --ping-interval 25

Three kinds of process, all started from this file:

* the **server** (``--role server``): our standalone server (``Server.start``, uvloop) with
  an ``echo`` event whose acknowledgement returns its argument; on command it broadcasts
  ``tick(origin, seq, ms)`` every ``--broadcast-interval`` seconds to every socket. It prints
  JSON status lines (sockets, disconnect reasons, event loop lag, adapter state);
* the **load** (``--role load``, ``--load-procs`` of them): raw WebSocket clients written
  out here (HTTP upgrade, frames, Engine.IO v4 and Socket.IO v5 by hand, one asyncio
  protocol object per connection, no task per connection) that answer the pings, count every
  broadcast per connection (sequence numbers: deliveries, losses, duplicates, latency) and
  send ``echo`` with an acknowledgement every ``--ack-interval`` seconds (acks, losses,
  latency), spread evenly over the interval;
* the **driver** (default role): starts the others, samples the server's RSS from
  ``/proc`` every ``--sample-interval`` seconds, runs the steady phase, drains, and prints a
  memory-over-time table and a JSON summary (last line of stdout). Exit status 0 when the run
  passed: no broadcast or ack lost, no heartbeat timeout, no unexpected close, memory flat.

The broadcasts start once every connection is up, so each connection expects every sequence
number from 1 to the last one. ``restart.py`` and ``broker_faults.py`` reuse the server and
load roles (the server then takes ``--adapter`` and a broker URL).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import math
import os
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


# ================================================================================== helpers
def emit_json(obj: dict[str, Any]) -> None:
    """One JSON line on stdout (the drivers read them)."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def rss_kb(pid: int) -> int | None:
    """Resident set size of a process in KiB (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def raise_nofile(wanted: int) -> int:
    """Raise the soft open-files limit towards ``wanted`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def install_uvloop() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


class Hist:
    """A latency histogram in milliseconds with ~5 % buckets (mergeable as JSON)."""

    __slots__ = ("buckets", "count", "max", "total")
    STEP = 20.0  # buckets per factor e
    BASE = 0.001  # ms

    def __init__(self) -> None:
        self.buckets: Counter[int] = Counter()
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, ms: float) -> None:
        ms = max(ms, self.BASE)
        self.buckets[int(math.log(ms / self.BASE) * self.STEP)] += 1
        self.count += 1
        self.total += ms
        if ms > self.max:
            self.max = ms

    def to_json(self) -> dict[str, Any]:
        return {
            "buckets": {str(k): v for k, v in self.buckets.items()},
            "count": self.count,
            "total": self.total,
            "max": self.max,
        }

    @classmethod
    def merged(cls, parts: Sequence[dict[str, Any]]) -> Hist:
        out = cls()
        for part in parts:
            for k, v in part.get("buckets", {}).items():
                out.buckets[int(k)] += v
            out.count += part.get("count", 0)
            out.total += part.get("total", 0.0)
            out.max = max(out.max, part.get("max", 0.0))
        return out

    def percentile(self, p: float) -> float | None:
        if not self.count:
            return None
        rank = p / 100 * self.count
        seen = 0
        for k in sorted(self.buckets):
            seen += self.buckets[k]
            if seen >= rank:
                return min(self.BASE * math.exp((k + 0.5) / self.STEP), self.max)
        return self.max

    def summary(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 2)

        return {
            "count": self.count,
            "mean_ms": r(self.total / self.count) if self.count else None,
            "p50_ms": r(self.percentile(50)),
            "p99_ms": r(self.percentile(99)),
            "p999_ms": r(self.percentile(99.9)),
            "max_ms": r(self.max) if self.count else None,
        }


class Child:
    """A child process speaking JSON lines: commands on stdin, events on stdout; stderr
    goes to a log file. Lines that are not JSON are kept as text."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self.name = name
        self.proc = proc
        self.log_path = log_path
        self.events: list[dict[str, Any]] = []
        self.last: dict[str, dict[str, Any]] = {}
        self.text: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(
        cls, name: str, argv: Sequence[str], log_dir: Path, env: dict[str, str] | None = None
    ) -> Child:
        log_path = log_dir / f"{name}.log"
        with open(log_path, "ab") as log_file:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
                env={**os.environ, **(env or {})},
                limit=1 << 24,
            )
        return cls(name, proc, log_path)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            text = line.decode(errors="replace").strip()
            if not text:
                continue
            try:
                event = json.loads(text)
            except ValueError:
                self.text.append(text)
                continue
            if isinstance(event, dict) and "event" in event:
                self.events.append(event)
                self.last[event["event"]] = event
                self._changed.set()
        self._changed.set()

    def send(self, command: str, **data: Any) -> None:
        if self.proc.returncode is not None or self.proc.stdin is None:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            self.proc.stdin.write((json.dumps({"cmd": command, **data}) + "\n").encode())

    async def wait(
        self,
        name: str,
        timeout: float,
        since: int = 0,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """The first event ``name`` at index >= ``since`` (that ``where`` accepts)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = since
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                if event.get("event") == name and (where is None or where(event)):
                    return event
            if self._reader.done():
                raise RuntimeError(
                    f"{self.name} exited (status {self.proc.returncode}) before {name!r}; "
                    f"see {self.log_path}:\n{self.log_tail()}"
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{self.name}: no {name!r} within {timeout:g} s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def log_count(self, *levels: str) -> int:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return 0
        return sum(1 for line in text.splitlines() if any(f" {lv} " in line for lv in levels))

    async def stop(self, timeout: float = 10.0, sig: int = signal.SIGTERM) -> int | None:
        """Ask it to exit (``exit`` command), then signal, then kill."""
        if self.proc.returncode is None:
            self.send("exit")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), timeout / 2)
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), timeout / 2)
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, 2.0)
        return self.proc.returncode


async def read_commands(handle: Callable[[dict[str, Any]], Any]) -> None:
    """Call ``handle(command)`` for each JSON line on stdin; returns at end of input."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        try:
            command = json.loads(line)
        except ValueError:
            command = {"cmd": line.decode(errors="replace").strip()}
        try:
            result = handle(command)
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            import traceback

            traceback.print_exc()
            emit_json({"event": "error", "command": command.get("cmd")})


def free_port(stable: bool = False) -> int:
    """A free TCP port of 127.0.0.1. ``stable``: outside the ephemeral range, so that no
    outgoing connection takes it while a server restarts (with thousands of connections
    open, one might)."""
    import random
    import socket

    if stable:
        try:
            with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
                low = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            low = 32768
        for _ in range(200):
            port = random.randrange(10000, max(10001, low))
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_log_dir(given: str | None, label: str) -> Path:
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return Path(tempfile.mkdtemp(prefix=f"aiosocketio-{label}-"))


# ================================================================================== server role
def server_parser(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("server role")
    g.add_argument("--host", default="127.0.0.1")
    g.add_argument("--port", type=int, default=0)
    g.add_argument("--origin", default="s", help="name in the tick events of this server")
    g.add_argument(
        "--adapter",
        default="memory",
        choices=["memory", "redis", "redis-sharded", "streams", "postgres"],
    )
    g.add_argument("--broker", default=None, help="Redis or PostgreSQL URL of the adapter")
    g.add_argument("--prefix", default="soak", help="channel/stream/key prefix of the adapter")
    g.add_argument("--recovery", action="store_true", help="connection state recovery")
    g.add_argument("--recovery-window", type=float, default=120.0)
    g.add_argument(
        "--ack-broadcast-interval",
        type=float,
        default=0.0,
        help="seconds between broadcasts with acks (ping-all), 0: none",
    )
    g.add_argument("--ack-broadcast-timeout", type=float, default=2.0)
    g.add_argument("--status-interval", type=float, default=1.0)
    g.add_argument("--backlog", type=int, default=4096)
    g.add_argument("--ticking", action="store_true", help="broadcast from the start")


REPORTS: list[list[Any]] = []
"""The delivery reports of this server's link: [kind, messages, since, until] (wall clock)."""


def keep_report(report: Any) -> None:
    REPORTS.append([report.kind, report.messages, report.since, report.until])


def make_adapter(a: argparse.Namespace) -> Any:
    if a.adapter == "memory":
        from aiosocketio.adapters.memory import MemoryAdapter

        return MemoryAdapter
    if a.adapter in ("redis", "redis-sharded"):
        from aiosocketio.adapters.redis import RedisAdapter

        return RedisAdapter.factory(
            a.broker or "redis://127.0.0.1:6379",
            key=a.prefix,
            sharded=a.adapter == "redis-sharded",
            request_timeout=2.0,
            on_report=keep_report,
        )
    if a.adapter == "streams":
        from aiosocketio.adapters.redis_streams import RedisStreamsAdapter

        return RedisStreamsAdapter.factory(
            a.broker or "redis://127.0.0.1:6379",
            stream_name=f"{a.prefix}-stream",
            channel_prefix=a.prefix,
            session_key_prefix=f"{a.prefix}-session:",
            request_timeout=2.0,
        )
    from aiosocketio.adapters.postgres import PostgresAdapter

    return PostgresAdapter.factory(
        a.broker or "postgresql://postgres@127.0.0.1/postgres",
        channel_prefix=a.prefix,
        request_timeout=2.0,
        on_report=keep_report,
    )


def link_state(io: Any) -> dict[str, Any] | None:
    link = getattr(io.sockets.adapter, "link", None)
    if link is None:
        return None
    out: dict[str, Any] = {}
    for name in ("connected", "reading", "writing", "dropped", "reconnects"):
        value = getattr(link, name, None)
        if value is not None:
            out[name] = value
    pubsub = getattr(link, "pubsub", None)
    if pubsub is not None:  # the streams link: its Pub/Sub part
        out["pubsub_connected"] = pubsub.connected
        out["pubsub_dropped"] = pubsub.dropped
        out["pubsub_reconnects"] = pubsub.reconnects
    name = getattr(link, "application_name", None)
    if name is not None:  # PostgreSQL: the prefix of its connections' application_name
        out["application_name"] = name
    # the connection that receives, to cut it alone (broker_faults.py --fault subscriber)
    for name in ("subscriber_name", "reader_name", "listener_pid"):
        value = getattr(link, name, None)
        if value is not None:
            out[name] = value
    queue = getattr(link, "_queue", None)
    if queue is not None:
        out["queued"] = len(queue)
    resync = getattr(link, "resync", None)
    if resync is not None:  # Pub/Sub links: held after an outage, and what they reported
        out["held"] = resync.held
        out["holds"] = resync.holds
        out["reported"] = dict(resync.reported)
        out["reports"] = REPORTS[-200:]
    return out


async def run_server(a: argparse.Namespace) -> None:
    import logging

    from aiosocketio import BroadcastAckError, ClusterError, RecoveryOptions, Server

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    raise_nofile(1 << 20)
    loop = asyncio.get_running_loop()
    recovery = RecoveryOptions(max_disconnection_duration=a.recovery_window) if a.recovery else None
    io = Server(
        ping_interval=a.ping_interval,
        ping_timeout=a.ping_timeout,
        adapter=make_adapter(a),
        connection_state_recovery=recovery,
    )
    reasons: Counter[str] = Counter()
    stats = {"connects": 0, "echoes": 0, "recovered": 0}

    def on_disconnect(reason: str) -> None:
        reasons[reason] += 1

    @io.on("connection")
    def on_connection(socket: Any) -> None:
        stats["connects"] += 1
        if getattr(socket, "recovered", False):
            stats["recovered"] += 1
        socket.on("disconnect", on_disconnect)

    @io.on_event("echo")
    def echo(socket: Any, value: Any = None) -> Any:
        stats["echoes"] += 1
        return value

    standalone = await io.start(a.host, a.port, server_options={"backlog": a.backlog})
    emit_json({"event": "listening", "port": standalone.port, "pid": os.getpid()})

    state: dict[str, Any] = {"seq": 0, "ack_seq": 0, "lag_max": 0.0, "emit_max": 0.0}
    late_ticks: dict[int, float] = {}  # seq -> when sent, for the ticks sent late (a busy loop)
    ack_results: list[list[Any]] = []
    tasks: dict[str, asyncio.Task[Any]] = {}
    stop = asyncio.Event()

    async def tick() -> None:
        interval = a.broadcast_interval
        started = loop.time()
        state.setdefault("tick_t0", time.time())
        n = 0
        while True:
            n += 1
            state["seq"] += 1
            t0 = time.perf_counter()
            sent = time.time()
            io.emit("tick", a.origin, state["seq"], sent * 1000)
            if sent - (state["tick_t0"] + (n - 1) * interval) > 0.01:
                late_ticks[state["seq"]] = sent
            state["emit_max"] = max(state["emit_max"], time.perf_counter() - t0)
            await asyncio.sleep(max(0.0, started + n * interval - loop.time()))

    async def ack_broadcast(seq: int) -> None:
        t0 = loop.time()
        try:
            responses = await io.timeout(a.ack_broadcast_timeout).emit_with_ack(
                "ping-all", a.origin, seq
            )
        except BroadcastAckError as exc:
            ack_results.append([seq, len(exc.responses), "timeout", round(loop.time() - t0, 3)])
        except ClusterError as exc:
            ack_results.append([seq, 0, f"cluster: {exc}", round(loop.time() - t0, 3)])
        else:
            ack_results.append([seq, len(responses), None, round(loop.time() - t0, 3)])

    async def ack_broadcasts() -> None:
        interval = a.ack_broadcast_interval
        started = loop.time()
        n = 0
        pending: set[asyncio.Task[None]] = set()
        try:
            while True:
                n += 1
                state["ack_seq"] += 1
                task = asyncio.ensure_future(ack_broadcast(state["ack_seq"]))
                pending.add(task)
                task.add_done_callback(pending.discard)
                await asyncio.sleep(max(0.0, started + n * interval - loop.time()))
        finally:
            if pending:
                await asyncio.wait(pending)

    async def watch_lag() -> None:
        while True:
            t0 = loop.time()
            await asyncio.sleep(0.1)
            state["lag_max"] = max(state["lag_max"], loop.time() - t0 - 0.1)

    async def status() -> dict[str, Any]:
        out: dict[str, Any] = {
            "event": "status",
            "t": time.time(),
            "sockets": len(io.sockets.sockets),
            "engine_clients": io.engine.clients_count,
            "seq": state["seq"],
            "ack_seq": state["ack_seq"],
            "ack_done": len(ack_results),
            "reasons": dict(reasons),
            "lag_max_ms": round(state["lag_max"] * 1000, 1),
            "emit_max_ms": round(state["emit_max"] * 1000, 1),
            **stats,
            "rss_kb": rss_kb(os.getpid()),
        }
        state["lag_max"] = state["emit_max"] = 0.0
        link = link_state(io)
        if link is not None:
            out["link"] = link
            try:
                out["servers"] = await asyncio.wait_for(io.sockets.adapter.server_count(), 1.0)
            except (ClusterError, TimeoutError, OSError) as exc:
                out["servers"] = None
                out["servers_error"] = type(exc).__name__
        return out

    async def report() -> None:
        while True:
            await asyncio.sleep(a.status_interval)
            emit_json(await status())

    def start_ticking() -> None:
        if "tick" not in tasks and a.broadcast_interval > 0:
            tasks["tick"] = asyncio.ensure_future(tick())
        if "ack" not in tasks and a.ack_broadcast_interval > 0:
            tasks["ack"] = asyncio.ensure_future(ack_broadcasts())

    async def stop_ticking() -> None:
        for name in ("tick", "ack"):
            task = tasks.pop(name, None)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        # let the broadcasts with acks still running finish (they have a deadline)
        deadline = loop.time() + a.ack_broadcast_timeout + 1.0
        while len(ack_results) < state["ack_seq"] and loop.time() < deadline:
            await asyncio.sleep(0.05)
        emit_json(
            {
                "event": "stopped",
                "seq": state["seq"],
                "tick_t0": state.get("tick_t0"),
                "broadcast_interval": a.broadcast_interval,
                "late_ticks": late_ticks,
                "ack_seq": state["ack_seq"],
                "ack_results": sorted(ack_results),
            }
        )

    async def handle(command: dict[str, Any]) -> None:
        cmd = command.get("cmd")
        if cmd == "start":
            start_ticking()
        elif cmd == "stop":
            await stop_ticking()
        elif cmd == "status":
            emit_json(await status())
        elif cmd == "exit":
            stop.set()

    async def commands() -> None:
        await read_commands(handle)
        stop.set()  # stdin closed: the driver is gone

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    helpers = [asyncio.ensure_future(c) for c in (watch_lag(), report(), commands())]
    if a.ticking:
        start_ticking()
    await stop.wait()
    for task in [*tasks.values(), *helpers]:
        task.cancel()
    t0 = loop.time()
    await io.close()
    emit_json(
        {
            "event": "closed",
            "seconds": round(loop.time() - t0, 3),
            **stats,
            "reasons": dict(reasons),
        }
    )


# ================================================================================== load role
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Seqs:
    """The sequence numbers one connection received from one origin."""

    __slots__ = ("bits", "dups", "received", "top")

    def __init__(self) -> None:
        self.bits = bytearray(16)
        self.received = 0
        self.dups = 0
        self.top = 0

    def count_upto(self, n: int) -> int:
        """How many distinct numbers from 1 to n were received."""
        if self.top <= n:
            return self.received
        return sum(1 for s in range(1, n + 1) if self.has(s))

    def add(self, seq: int) -> None:
        byte, bit = seq >> 3, 1 << (seq & 7)
        bits = self.bits
        if byte >= len(bits):
            bits.extend(bytes(max(byte + 1 - len(bits), len(bits))))
        if bits[byte] & bit:
            self.dups += 1
        else:
            bits[byte] |= bit
            self.received += 1
            if seq > self.top:
                self.top = seq

    def has(self, seq: int) -> bool:
        byte = seq >> 3
        return byte < len(self.bits) and bool(self.bits[byte] & (1 << (seq & 7)))


class RawConn(asyncio.Protocol):
    """One raw Socket.IO client over a WebSocket (transport=websocket, namespace /)."""

    __slots__ = (
        "accept",
        "acked",
        "buf",
        "closed",
        "frag",
        "ids",
        "index",
        "load",
        "pending",
        "seqs",
        "sid",
        "state",
        "target",
        "transport",
    )

    def __init__(self, load: Load, index: int, target: int) -> None:
        self.load = load
        self.index = index
        self.target = target
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.frag: bytearray | None = None
        self.state = "connecting"  # upgrading, open, closed
        self.sid: str | None = None
        self.accept = ""
        self.closed: str | None = None
        self.seqs: dict[str, Seqs] = {}
        self.acked: dict[str, Seqs] = {}
        self.pending: dict[int, float] = {}
        self.ids = 0

    # ------------------------------------------------------------------ transport
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  (uvloop's are not subclasses)
        host, port = self.load.targets[self.target][:2]
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.state = "upgrading"
        digest = hashlib.sha1((key + GUID).encode(), usedforsecurity=False).digest()
        self.accept = base64.b64encode(digest).decode()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed(f"connection lost ({exc})" if exc else "connection lost")

    def _closed(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
            self.state = "closed"
            self.load.on_close(self, reason)
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if self.state == "upgrading":
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            if not head.startswith("HTTP/1.1 101") or self.accept not in head:
                self._closed("upgrade refused: " + head.split("\r\n", 1)[0])
                return
            self.state = "open"
        self._frames()

    def _frames(self) -> None:
        buf = self.buf
        n = len(buf)
        pos = 0
        while n - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            header = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                header = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                header = 10
            if b1 & 0x80:
                self.load.protocol_errors += 1
                self._closed("masked frame from the server")
                return
            end = pos + header + length
            if end > n:
                break
            payload = bytes(buf[pos + header : end])
            pos = end
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            if opcode == 0x1 or opcode == 0x2:
                if not fin:
                    self.frag = bytearray(payload)
                    continue
                if opcode == 0x1:
                    self._text(payload.decode())
            elif opcode == 0x0:
                if self.frag is None:
                    self.load.protocol_errors += 1
                    continue
                self.frag += payload
                if fin:
                    whole, self.frag = bytes(self.frag), None
                    self._text(whole.decode())
            elif opcode == 0x8:
                self._send_frame(0x8, payload[:2])
                self._closed(f"ws close {int.from_bytes(payload[:2], 'big') if payload else ''}")
                return
            elif opcode == 0x9:
                self._send_frame(0xA, payload)
            if self.closed is not None:
                return
        if pos:
            del buf[:pos]

    def _send_frame(self, opcode: int, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        n = len(data)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
        # an all-zero masking key: valid framing, and no XOR to do here
        transport.write(head + b"\0\0\0\0" + data)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    # ------------------------------------------------------------------ Engine.IO / Socket.IO
    def _text(self, text: str) -> None:
        kind = text[:1]
        if kind == "4":
            sio = text[1:2]
            if sio == "2":
                i = 2
                while text[i].isdigit():
                    i += 1
                ack_id = int(text[2:i]) if i > 2 else None
                self.load.on_event(self, self.load.loads(text[i:]), ack_id)
            elif sio == "3":
                i = 2
                while text[i].isdigit():
                    i += 1
                self.load.on_ack(self, int(text[2:i]), self.load.loads(text[i:]))
            elif sio == "0":
                self.state = "connected"
                self.load.on_connected(self)
            elif sio == "1":
                self._closed("server namespace disconnect")
            elif sio == "4":
                self._closed("connect error: " + text[2:])
        elif kind == "2":
            self.send("3")
            self.load.pings += 1
        elif kind == "0":
            self.send("40")
        elif kind == "1":
            self._closed("engine close")

    def emit_echo(self, now_ms: float) -> None:
        self.ids += 1
        self.pending[self.ids] = now_ms
        self.send(f'42{self.ids}["echo",{now_ms}]')


class Load:
    """Raw clients against one or more servers (``targets``)."""

    def __init__(self, a: argparse.Namespace) -> None:
        import orjson

        self.a = a
        self.loads = orjson.loads
        self.targets: list[tuple[str, int, int]] = []
        for spec in a.target:
            host, port, count = spec.rsplit(":", 2)
            self.targets.append((host, int(port), int(count)))
        self.conns: list[RawConn] = []
        self.connected = 0
        self.failed = 0
        self.pings = 0
        self.protocol_errors = 0
        self.closes: Counter[str] = Counter()
        self.ticks = 0
        self.acks_sent = 0
        self.acks_received = 0
        self.acks_unknown = 0
        self.ack_hist = Hist()
        self.tick_hist = Hist()
        self.emitting = False
        self.final = False

    # ------------------------------------------------------------------ events
    def on_connected(self, conn: RawConn) -> None:
        self.connected += 1

    def on_close(self, conn: RawConn, reason: str) -> None:
        if not self.final:
            self.closes[reason.split(" (", 1)[0]] += 1

    def on_event(self, conn: RawConn, data: list[Any], ack_id: int | None) -> None:
        name = data[0]
        if name == "tick":
            origin, seq = data[1], data[2]
            seqs = conn.seqs.get(origin)
            if seqs is None:
                seqs = conn.seqs[origin] = Seqs()
            seqs.add(seq)
            self.ticks += 1
            self.tick_hist.add(time.time() * 1000 - data[3])
        elif name == "ping-all":
            origin, seq = data[1], data[2]
            seqs = conn.acked.get(origin)
            if seqs is None:
                seqs = conn.acked[origin] = Seqs()
            seqs.add(seq)
        if ack_id is not None:
            conn.send(f"43{ack_id}[]")

    def on_ack(self, conn: RawConn, ack_id: int, data: list[Any]) -> None:
        sent = conn.pending.pop(ack_id, None)
        if sent is None:
            self.acks_unknown += 1
            return
        self.acks_received += 1
        self.ack_hist.add(time.time() * 1000 - sent)

    # ------------------------------------------------------------------ phases
    async def open_all(self) -> None:
        loop = asyncio.get_running_loop()
        a = self.a
        plan = [t for t, (_h, _p, count) in enumerate(self.targets) for _ in range(count)]
        started = loop.time()
        timeout = a.connect_timeout

        async def open_one(conn: RawConn) -> None:
            host, port = self.targets[conn.target][:2]
            try:
                await asyncio.wait_for(loop.create_connection(lambda: conn, host, port), timeout)
            except (OSError, TimeoutError) as exc:
                conn.closed = f"connect failed: {type(exc).__name__}"
                self.failed += 1
                self.closes[conn.closed] += 1

        tasks = []
        for i, target in enumerate(plan):
            conn = RawConn(self, i, target)
            self.conns.append(conn)
            tasks.append(asyncio.ensure_future(open_one(conn)))
            # pace: a.rate connections per second, at most a.max_pending handshakes at once
            while i + 1 - self.connected - self.failed > a.max_pending:
                await asyncio.sleep(0.005)
            delay = started + (i + 1) / a.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        if tasks:
            await asyncio.wait(tasks)
        deadline = loop.time() + timeout
        while self.connected + self.failed < len(self.conns) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for conn in self.conns:  # opened but not connected in time: a failure
            if conn.state not in ("connected", "closed") and conn.closed is None:
                self.failed += 1
                conn._closed("handshake timeout")

    async def emit_loop(self) -> None:
        """Every connection emits once per ack interval; the connections are spread over
        ``slots`` slots of the interval, so the load is even."""
        loop = asyncio.get_running_loop()
        interval = self.a.ack_interval
        if interval <= 0:
            return
        slot_time = 0.05
        slots = max(1, round(interval / slot_time))
        slot_time = interval / slots
        conns = self.conns
        started = loop.time()
        n = 0
        while self.emitting:
            k = n % slots
            now_ms = time.time() * 1000
            for i in range(k, len(conns), slots):
                conn = conns[i]
                if conn.state == "connected":
                    conn.emit_echo(now_ms)
                    self.acks_sent += 1
            n += 1
            await asyncio.sleep(max(0.0, started + n * slot_time - loop.time()))

    def progress(self) -> dict[str, Any]:
        open_now = sum(1 for c in self.conns if c.state == "connected")
        return {
            "event": "progress",
            "t": time.time(),
            "connected": open_now,
            "failed": self.failed,
            "ticks": self.ticks,
            "acks_sent": self.acks_sent,
            "acks_received": self.acks_received,
            "pings": self.pings,
            "closes": dict(self.closes),
            "rss_kb": rss_kb(os.getpid()),
        }

    def summary(self, expected: dict[str, dict[str, int]]) -> dict[str, Any]:
        """Losses against the last sequence number of each origin (``expected["tick"]``,
        ``expected["ack"]``): every connection expects every number from 1."""
        self.final = True
        detail_cap = 2000
        out: dict[str, Any] = {"event": "summary", **self.progress()}
        out["event"] = "summary"
        for kind, attr in (("tick", "seqs"), ("ack", "acked")):
            last = expected.get(kind, {})
            per: dict[str, dict[str, Any]] = {}
            for origin in last:
                for t in range(len(self.targets)):
                    per[f"{origin}@{t}"] = {
                        "expected": 0,
                        "received": 0,
                        "dups": 0,
                        "missing": 0,
                        "missing_by_seq": {},
                    }
            for conn in self.conns:
                got: dict[str, Seqs] = getattr(conn, attr)
                for origin, n in last.items():
                    entry = per[f"{origin}@{conn.target}"]
                    seqs = got.get(origin)
                    entry["expected"] += n
                    if seqs is None:
                        entry["missing"] += n
                        missing = range(1, n + 1)
                    else:
                        entry["dups"] += seqs.dups
                        have = seqs.count_upto(n)
                        entry["received"] += have
                        entry["missing"] += n - have
                        missing = (
                            [s for s in range(1, n + 1) if not seqs.has(s)] if have < n else []
                        )
                    by_seq = entry["missing_by_seq"]
                    for s in missing:
                        if len(by_seq) >= detail_cap and s not in by_seq:
                            break
                        by_seq[s] = by_seq.get(s, 0) + 1
            out[kind] = per
        out["acks_lost"] = sum(len(c.pending) for c in self.conns)
        out["acks_unknown"] = self.acks_unknown
        out["ack_latency"] = self.ack_hist.to_json()
        out["tick_latency"] = self.tick_hist.to_json()
        out["protocol_errors"] = self.protocol_errors
        out["connections"] = len(self.conns)
        return out


async def run_load(a: argparse.Namespace) -> None:
    raise_nofile(sum(int(t.rsplit(":", 1)[1]) for t in a.target) + 1024)
    load = Load(a)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    emitter: list[asyncio.Task[None]] = []

    async def handle(command: dict[str, Any]) -> None:
        cmd = command.get("cmd")
        if cmd == "start-acks":
            if not load.emitting:
                load.emitting = True
                emitter.append(asyncio.ensure_future(load.emit_loop()))
        elif cmd == "stop-acks":
            load.emitting = False
            for task in emitter:
                await task
            emitter.clear()
        elif cmd == "progress":
            emit_json(load.progress())
        elif cmd == "final":
            emit_json(load.summary(command.get("expected", {})))
        elif cmd == "exit":
            done.set()

    async def commands() -> None:
        await read_commands(handle)
        done.set()

    async def report() -> None:
        while True:
            await asyncio.sleep(a.status_interval)
            emit_json(load.progress())

    command_task = asyncio.ensure_future(commands())
    t0 = loop.time()
    await load.open_all()
    emit_json(
        {
            "event": "ready",
            "connected": load.connected,
            "failed": load.failed,
            "seconds": round(loop.time() - t0, 2),
        }
    )
    reporter = asyncio.ensure_future(report())
    await done.wait()
    load.final = True
    reporter.cancel()
    command_task.cancel()
    for conn in load.conns:
        if conn.transport is not None:
            conn.transport.abort()
    await asyncio.sleep(0)


def load_parser(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("load role")
    g.add_argument(
        "--target", action="append", default=[], help="HOST:PORT:COUNT, repeatable (load role)"
    )
    g.add_argument("--rate", type=float, default=1000.0, help="new connections per second")
    g.add_argument("--max-pending", type=int, default=256, help="handshakes at once at most")
    g.add_argument("--connect-timeout", type=float, default=30.0)


# ================================================================================== driver
def steady_memory(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Flatness of the server's RSS over the steady phase: first/last/max, the growth from
    the first fifth to the last fifth (means), and the least-squares slope in MiB/min."""
    steady = [r for r in rows if r["phase"] == "steady" and r["rss_mb"] is not None]
    if len(steady) < 2:
        return {"samples": len(steady)}
    xs = [r["t"] for r in steady]
    ys = [r["rss_mb"] for r in steady]
    k = max(1, len(ys) // 5)
    head, tail = sum(ys[:k]) / k, sum(ys[-k:]) / k
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    return {
        "samples": len(steady),
        "first_mb": round(ys[0], 1),
        "last_mb": round(ys[-1], 1),
        "max_mb": round(max(ys), 1),
        "min_mb": round(min(ys), 1),
        "growth_mb": round(tail - head, 1),
        "slope_mb_per_min": round(slope * 60, 2),
    }


def memory_table(rows: list[dict[str, Any]], max_rows: int = 40) -> str:
    """The samples as a text table (thinned to about ``max_rows`` lines)."""
    step = max(1, math.ceil(len(rows) / max_rows))
    shown = rows[::step]
    if rows and shown[-1] is not rows[-1]:
        shown.append(rows[-1])
    lines = [
        f"{'t (s)':>7} {'phase':<8} {'server RSS MiB':>14} {'sockets':>8} {'seq':>6} "
        f"{'deliveries':>11} {'acks':>9} {'emit ms':>7} {'lag ms':>7} {'load RSS MiB':>12}"
    ]
    for r in shown:
        rss = "-" if r["rss_mb"] is None else f"{r['rss_mb']:.1f}"
        lines.append(
            f"{r['t']:7.0f} {r['phase']:<8} {rss:>14} {r['sockets']:>8} {r['seq']:>6} "
            f"{r['deliveries']:>11} {r['acks']:>9} {r['emit_ms']:>7} {r['lag_ms']:>7} "
            f"{r['load_rss_mb']:>12.1f}"
        )
    return "\n".join(lines)


async def drive(a: argparse.Namespace) -> int:
    seconds = a.seconds if a.seconds is not None else a.minutes * 60
    log_dir = make_log_dir(a.logs, "soak")
    me = [PYTHON, str(Path(__file__).resolve())]
    # the sampler asks for the status of each process: no periodic reports
    common = [
        "--ping-interval",
        str(a.ping_interval),
        "--ping-timeout",
        str(a.ping_timeout),
        "--status-interval",
        "3600",
    ]
    pin_server = ["taskset", "-c", a.server_cpu] if a.server_cpu else []
    pin_load = ["taskset", "-c", a.load_cpu] if a.load_cpu else []
    server = await Child.start(
        "server",
        [
            *pin_server,
            *me,
            "--role",
            "server",
            *common,
            "--broadcast-interval",
            str(a.broadcast_interval),
            "--origin",
            "s",
        ],
        log_dir,
    )
    loaders: list[Child] = []
    rows: list[dict[str, Any]] = []
    phase = "connect"
    loop = asyncio.get_running_loop()
    t_origin = loop.time()
    result: dict[str, Any] = {"ok": False}

    def say(text: str) -> None:
        if not a.quiet:
            print(f"[{loop.time() - t_origin:7.1f}s] {text}", file=sys.stderr, flush=True)

    async def sample() -> None:
        while True:
            server.send("status")
            for ld in loaders:
                ld.send("progress")
            await asyncio.sleep(0.2)
            status = server.last.get("status", {})
            progress = [ld.last.get("progress", {}) for ld in loaders]
            rss = rss_kb(server.pid)
            load_rss = sum(rss_kb(ld.pid) or 0 for ld in loaders)
            rows.append(
                {
                    "t": round(loop.time() - t_origin, 1),
                    "phase": phase,
                    "rss_mb": None if rss is None else rss / 1024,
                    "sockets": status.get("sockets", 0),
                    "seq": status.get("seq", 0),
                    "deliveries": sum(p.get("ticks", 0) for p in progress),
                    "acks": sum(p.get("acks_received", 0) for p in progress),
                    "lag_ms": status.get("lag_max_ms", 0),
                    "emit_ms": status.get("emit_max_ms", 0),
                    "load_rss_mb": load_rss / 1024,
                    "cpu_s": cpu_seconds(server.pid),
                }
            )
            await asyncio.sleep(max(0.0, a.sample_interval - 0.2))

    sampler: asyncio.Task[None] | None = None
    try:
        listening = await server.wait("listening", 30)
        port = listening["port"]
        say(f"server pid {server.pid} on port {port}; logs in {log_dir}")
        per = [
            a.connections // a.load_procs + (1 if i < a.connections % a.load_procs else 0)
            for i in range(a.load_procs)
        ]
        for i, count in enumerate(per):
            if count == 0:
                continue
            loaders.append(
                await Child.start(
                    f"load{i}",
                    [
                        *pin_load,
                        *me,
                        "--role",
                        "load",
                        "--target",
                        f"127.0.0.1:{port}:{count}",
                        "--rate",
                        str(a.rate / a.load_procs),
                        "--ack-interval",
                        str(a.ack_interval),
                        "--status-interval",
                        "3600",
                    ],
                    log_dir,
                )
            )
        sampler = asyncio.ensure_future(sample())
        ramp = a.connections / a.rate + 60
        ready = [await ld.wait("ready", ramp) for ld in loaders]
        connected = sum(r["connected"] for r in ready)
        failed = sum(r["failed"] for r in ready)
        say(f"{connected} connected, {failed} failed, in {max(r['seconds'] for r in ready)} s")
        await asyncio.sleep(1.0)
        server_stopped_at = len(server.events)
        phase = "steady"
        t_steady = loop.time()
        server.send("start")
        for ld in loaders:
            ld.send("start-acks")
        last_say = loop.time()
        while loop.time() - t_steady < seconds:
            await asyncio.sleep(min(1.0, seconds - (loop.time() - t_steady)))
            if loop.time() - last_say >= a.report_every and rows:
                last_say = loop.time()
                r = rows[-1]
                say(
                    f"steady {loop.time() - t_steady:5.0f}/{seconds:g} s: RSS {r['rss_mb']:.1f} "
                    f"MiB, sockets {r['sockets']}, seq {r['seq']}, deliveries {r['deliveries']}, "
                    f"acks {r['acks']}"
                )
        phase = "drain"
        for ld in loaders:
            ld.send("stop-acks")
        server.send("stop")
        stopped = await server.wait("stopped", 30, since=server_stopped_at)
        last_seq = stopped["seq"]
        # wait until every ack came back (or a few seconds)
        deadline = loop.time() + a.drain
        await asyncio.sleep(1.0)
        while loop.time() < deadline:
            marks = [len(ld.events) for ld in loaders]
            for ld in loaders:
                ld.send("progress")
            progress = [
                await ld.wait("progress", 10, since=m) for ld, m in zip(loaders, marks, strict=True)
            ]
            if all(p["acks_received"] >= p["acks_sent"] for p in progress):
                break
            await asyncio.sleep(0.5)
        marks = [len(ld.events) for ld in loaders]
        for ld in loaders:
            ld.send("final", expected={"tick": {"s": last_seq}})
        summaries = [
            await ld.wait("summary", 60, since=m) for ld, m in zip(loaders, marks, strict=True)
        ]
        mark = len(server.events)
        server.send("status")
        final_status = await server.wait("status", 10, since=mark)
        sampler.cancel()
        phase = "end"
        result = summarize(a, seconds, rows, ready, summaries, final_status, last_seq)
        result["logs"] = str(log_dir)
        result["server_log_warnings"] = server.log_count("WARNING", "ERROR", "CRITICAL")
    finally:
        if sampler is not None:
            sampler.cancel()
        for ld in loaders:
            await ld.stop()
        await server.stop()
    if not a.quiet:
        print("\nserver memory over time", file=sys.stderr)
        print(memory_table(rows), file=sys.stderr)
        print(file=sys.stderr)
        print(human(result), file=sys.stderr)
    result["samples"] = [
        {k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()} for r in rows
    ]
    print(json.dumps(result))
    return 0 if result.get("ok") else 1


def summarize(
    a: argparse.Namespace,
    seconds: float,
    rows: list[dict[str, Any]],
    ready: list[dict[str, Any]],
    summaries: list[dict[str, Any]],
    status: dict[str, Any],
    last_seq: int,
) -> dict[str, Any]:
    ticks = [s["tick"]["s@0"] for s in summaries]
    expected = sum(t["expected"] for t in ticks)
    delivered = sum(t["received"] for t in ticks)
    lost = sum(t["missing"] for t in ticks)
    dups = sum(t["dups"] for t in ticks)
    acks_sent = sum(s["acks_sent"] for s in summaries)
    acks_received = sum(s["acks_received"] for s in summaries)
    acks_lost = sum(s["acks_lost"] for s in summaries)
    closes: Counter[str] = Counter()
    for s in summaries:
        closes.update(s["closes"])
    reasons = status.get("reasons", {})
    heartbeat_timeouts = reasons.get("ping timeout", 0)
    memory = steady_memory(rows)
    cpu = [r["cpu_s"] for r in rows if r["phase"] == "steady" and r["cpu_s"] is not None]
    steady_rows = [r for r in rows if r["phase"] == "steady"]
    cpu_share = None
    if len(cpu) >= 2 and steady_rows[-1]["t"] > steady_rows[0]["t"]:
        cpu_share = round((cpu[-1] - cpu[0]) / (steady_rows[-1]["t"] - steady_rows[0]["t"]), 3)
    failed = sum(r["failed"] for r in ready)
    growth_limit = max(a.max_rss_growth_mb, 0.0)
    flat = memory.get("growth_mb", 0.0) <= growth_limit
    checks = {
        "all_connected": failed == 0 and sum(r["connected"] for r in ready) == a.connections,
        "no_broadcast_lost": lost == 0 and delivered == expected and expected > 0,
        "no_duplicates": dups == 0,
        "no_ack_lost": acks_lost == 0 and acks_received == acks_sent,
        "no_heartbeat_timeout": heartbeat_timeouts == 0,
        "no_unexpected_close": not closes and not reasons,
        "memory_flat": flat,
    }
    return {
        "ok": all(checks.values()),
        "checks": checks,
        "connections": a.connections,
        "steady_seconds": seconds,
        "broadcast_interval": a.broadcast_interval,
        "ack_interval": a.ack_interval,
        "ping_interval": a.ping_interval,
        "connect_seconds": max(r["seconds"] for r in ready),
        "connect_failures": failed,
        "broadcasts": last_seq,
        "deliveries": {
            "expected": expected,
            "delivered": delivered,
            "lost": lost,
            "duplicates": dups,
        },
        "broadcast_latency": Hist.merged([s["tick_latency"] for s in summaries]).summary(),
        "acks": {
            "sent": acks_sent,
            "received": acks_received,
            "lost": acks_lost,
            "unknown": sum(s["acks_unknown"] for s in summaries),
        },
        "ack_latency": Hist.merged([s["ack_latency"] for s in summaries]).summary(),
        "pings_answered": sum(s["pings"] for s in summaries),
        "heartbeat_timeouts": heartbeat_timeouts,
        "server_disconnect_reasons": reasons,
        "client_unexpected_closes": dict(closes),
        "protocol_errors": sum(s["protocol_errors"] for s in summaries),
        "memory": {**memory, "growth_limit_mb": growth_limit},
        "server_cpu_share": cpu_share,
        "max_loop_lag_ms": max((r["lag_ms"] for r in steady_rows), default=None),
        "max_broadcast_emit_ms": max((r["emit_ms"] for r in steady_rows), default=None),
    }


def human(r: dict[str, Any]) -> str:
    d, acks, mem = r["deliveries"], r["acks"], r["memory"]
    lines = [
        f"connections        {r['connections']} (connected in {r['connect_seconds']} s, "
        f"{r['connect_failures']} failed)",
        f"steady phase       {r['steady_seconds']:g} s, broadcast every "
        f"{r['broadcast_interval']:g} s, ack every {r['ack_interval']:g} s per connection",
        f"broadcasts         {r['broadcasts']}: {d['delivered']}/{d['expected']} deliveries, "
        f"{d['lost']} lost, {d['duplicates']} duplicates; latency {r['broadcast_latency']}",
        f"acks               {acks['received']}/{acks['sent']}, {acks['lost']} lost; "
        f"latency {r['ack_latency']}",
        f"heartbeats         {r['pings_answered']} pings answered, "
        f"{r['heartbeat_timeouts']} heartbeat timeouts",
        f"closes             server: {r['server_disconnect_reasons'] or 'none'}, "
        f"clients: {r['client_unexpected_closes'] or 'none'}",
        f"server RSS         {mem}",
        f"server CPU         {r['server_cpu_share']} cores; max loop lag "
        f"{r['max_loop_lag_ms']} ms, longest broadcast call {r['max_broadcast_emit_ms']} ms",
        f"result             {'PASS' if r['ok'] else 'FAIL'} {r['checks']}",
    ]
    return "\n".join(lines)


# ================================================================================== main
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--role", choices=["driver", "server", "load"], default="driver")
    g = parser.add_argument_group("soak (driver)")
    g.add_argument("--connections", type=int, default=10_000)
    g.add_argument("--minutes", type=float, default=10.0)
    g.add_argument("--seconds", type=float, default=None, help="instead of --minutes")
    g.add_argument("--broadcast-interval", type=float, default=1.0)
    g.add_argument("--ack-interval", type=float, default=5.0)
    g.add_argument("--ping-interval", type=float, default=25.0)
    g.add_argument("--ping-timeout", type=float, default=20.0)
    g.add_argument("--sample-interval", type=float, default=5.0)
    g.add_argument("--load-procs", type=int, default=0, help="default: 1 per 5000 connections")
    g.add_argument("--drain", type=float, default=10.0, help="seconds to wait for late acks")
    g.add_argument(
        "--max-rss-growth-mb",
        type=float,
        default=16.0,
        help="memory is flat when the steady-phase growth stays under this",
    )
    g.add_argument("--server-cpu", default=None, help="taskset CPU list of the server")
    g.add_argument("--load-cpu", default=None, help="taskset CPU list of the load processes")
    g.add_argument("--report-every", type=float, default=30.0)
    g.add_argument("--logs", default=None, help="directory of the processes' logs")
    g.add_argument("--quiet", action="store_true", help="only the JSON summary")
    server_parser(parser)
    load_parser(parser)
    a = parser.parse_args(argv)
    if a.load_procs <= 0:
        a.load_procs = max(1, math.ceil(a.connections / 5000))
    install_uvloop()
    if a.role == "server":
        asyncio.run(run_server(a))
        return 0
    if a.role == "load":
        asyncio.run(run_load(a))
        return 0
    return asyncio.run(drive(a))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
