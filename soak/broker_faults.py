#!/usr/bin/env python3
"""Broker faults under traffic: Redis stopped and started, PostgreSQL restarted, while two
servers of a cluster broadcast to each other's clients.

    python soak/broker_faults.py --faults 3 --down 3
    python soak/broker_faults.py --adapters streams --faults 1 --down 2

For each adapter (``--adapters``: ``redis`` (classic Pub/Sub), ``redis-sharded``,
``streams``, ``postgres``) two servers A and B (``soak.py --role server``) share the broker;
raw clients (``soak.py --role load``), ``--clients`` on each server, count every event. Both
servers broadcast ``tick(origin, seq)`` every ``--interval`` seconds and a broadcast with
acknowledgements (``ping-all``, deadline ``--ack-timeout``) every ``--ack-interval``. Then,
``--faults`` times, the broker goes away for ``--down`` seconds and comes back:

* Redis: ``redis-cli shutdown nosave``, then the same ``redis-server`` command again (an
  empty Redis: what it held is gone, as after a crash without persistence);
* PostgreSQL: stopped (fast shutdown) and started again: a restart.

The servers are never restarted: they must find the broker again by themselves (checked:
each one's link is connected again and counts 2 servers). At the end every event is accounted
for, per adapter:

* **delivered**: every client received it;
* **reported**: not delivered everywhere, and the sender knows: a broadcast dropped from a
  full queue is counted in the adapter's ``dropped``; a broadcast with acks that missed
  clients ended with an error (``BroadcastAckError`` after its deadline, or ClusterError);
* **silent**: missed by some client without any report, the failure this checks for.

Where the broker runs (``--broker``):

* ``private`` (default): a redis-server started here on a free port, and a PostgreSQL
  cluster made here with ``initdb`` in a temporary directory (as the ``postgres`` user when
  run as root), on a free port. Nothing shared is touched;
* ``shared``: the machine's Redis on 6379 and PostgreSQL cluster (``/etc/postgresql/<v>/
  main``): Redis is stopped with ``redis-cli shutdown nosave`` and started again with the
  command of ``.ci/run``; PostgreSQL is restarted with ``pg_ctlcluster
  --skip-systemctl-redirect <v> main restart``. This disturbs everything else using them;
* ``terminate`` (PostgreSQL only): no restart, the adapters' connections are killed with
  ``pg_terminate_backend`` on the shared server: the closest fault that disturbs no one.

JSON summary on the last line of stdout; exit status 0 when no event was lost silently and
every server recovered by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from soak import PYTHON, Child, free_port, install_uvloop, make_log_dir

SOAK = str(Path(__file__).resolve().parent / "soak.py")
REPO = Path(__file__).resolve().parent.parent

# the command .ci/run starts the shared Redis with
CI_REDIS = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]


async def run(
    *argv: str, timeout: float = 60.0, check: bool = True, log: Path | None = None
) -> str:
    """Run a command; its output is returned, or appended to ``log`` (for commands that
    start daemons, which would keep a pipe open)."""
    if log is not None:
        with open(log, "ab") as f:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=f, stderr=f
            )
    else:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.communicate()
        raise
    text = (out or b"").decode(errors="replace")
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}: {text.strip()}")
    return text


def as_postgres(argv: list[str]) -> list[str]:
    """Run as the postgres user when we are root (initdb and pg_ctl refuse root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def pg_version() -> str:
    versions = sorted(
        (p.name for p in Path("/usr/lib/postgresql").glob("*") if (p / "bin" / "initdb").exists()),
        key=lambda v: int(v) if v.isdigit() else 0,
    )
    if not versions:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return versions[-1]


# ================================================================================== brokers
class RedisBroker:
    """A Redis the adapters use, which can be stopped and started."""

    kind = "redis"

    def __init__(self, mode: str, log_dir: Path) -> None:
        self.mode = mode
        self.log_dir = log_dir
        self.port = 6379 if mode == "shared" else free_port(stable=True)
        self.url = f"redis://127.0.0.1:{self.port}"
        self.proc: asyncio.subprocess.Process | None = None
        self.dir = Path(tempfile.mkdtemp(prefix="aiosocketio-redis-"))

    def describe(self) -> str:
        if self.mode == "shared":
            return "shared Redis on 6379: redis-cli shutdown nosave, then the .ci/run command"
        return f"private redis-server on port {self.port}: shutdown nosave, then started again"

    async def ping(self) -> bool:
        try:
            out = await run(
                "redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "ping", timeout=5, check=False
            )
        except TimeoutError:
            return False
        return out.strip() == "PONG"

    async def start(self) -> None:
        if self.mode == "shared":
            await run(*CI_REDIS, log=self.log_dir / "redis-start.log")
        else:
            with open(self.log_dir / "redis.log", "ab") as log:
                self.proc = await asyncio.create_subprocess_exec(
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    str(self.dir),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
        for _ in range(200):
            if await self.ping():
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"Redis did not start on port {self.port}")

    async def stop(self) -> None:
        await run(
            "redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "shutdown", "nosave", check=False
        )
        if self.proc is not None:
            await asyncio.wait_for(self.proc.wait(), 10)
            self.proc = None
        for _ in range(100):
            if not await self.ping():
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("Redis did not stop")

    async def fault(self, down: float) -> float:
        """Stop, wait ``down`` seconds, start; returns when it answers again (the time)."""
        await self.stop()
        await asyncio.sleep(down)
        await self.start()
        return time.time()

    async def close(self) -> None:
        if self.mode != "shared" and self.proc is not None:
            await self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresBroker:
    """A PostgreSQL the adapter uses, which can be restarted (or whose connections of the
    adapters can be terminated)."""

    kind = "postgres"

    def __init__(self, mode: str, log_dir: Path) -> None:
        self.mode = mode
        self.log_dir = log_dir
        self.version = pg_version()
        self.bin = Path("/usr/lib/postgresql") / self.version / "bin"
        self.dir: Path | None = None
        if mode == "private":
            self.port = free_port(stable=True)
        else:
            self.port = 5432
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.app_names: list[str] = []

    def describe(self) -> str:
        if self.mode == "shared":
            return (
                f"shared PostgreSQL {self.version}: pg_ctlcluster --skip-systemctl-redirect "
                f"{self.version} main stop / start"
            )
        if self.mode == "terminate":
            return "shared PostgreSQL: pg_terminate_backend on the adapters' connections"
        return (
            f"private PostgreSQL {self.version} (initdb) on port {self.port}: stop -m fast, start"
        )

    def _ctl(self, *args: str) -> list[str]:
        assert self.dir is not None
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )
        return as_postgres(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.dir / "data"),
                "-l",
                str(self.dir / "postgres.log"),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                *args,
            ]
        )

    async def setup(self) -> None:
        if self.mode != "private":
            return
        self.dir = Path(tempfile.mkdtemp(prefix="aiosocketio-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        await run(
            *as_postgres(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.dir / "data"),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ]
            )
        )

    async def ready(self) -> bool:
        out = await run(
            str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), check=False
        )
        return "accepting connections" in out

    async def start(self) -> None:
        if self.mode == "private":
            if self.dir is None:
                await self.setup()
            await run(*self._ctl("start"), log=self.log_dir / "pg_ctl.log")
        elif self.mode == "shared":
            await run(
                "pg_ctlcluster",
                "--skip-systemctl-redirect",
                self.version,
                "main",
                "start",
                log=self.log_dir / "pg_ctl.log",
            )
        for _ in range(200):
            if await self.ready():
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"PostgreSQL did not start on port {self.port}")

    async def fault(self, down: float) -> float:
        if self.mode == "terminate":
            import psycopg

            async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                for name in self.app_names:
                    await conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name LIKE %s",
                        (name + "-%",),
                    )
            await asyncio.sleep(down)
            return time.time()
        if self.mode == "private":
            await run(*self._ctl("-m", "fast", "stop"))
        else:
            await run(
                "pg_ctlcluster",
                "--skip-systemctl-redirect",
                self.version,
                "main",
                "stop",
                "-m",
                "fast",
            )
        await asyncio.sleep(down)
        await self.start()
        return time.time()

    async def close(self) -> None:
        if self.mode == "private" and self.dir is not None:
            await run(*self._ctl("-m", "immediate", "stop"), check=False)
            shutil.rmtree(self.dir, ignore_errors=True)


# ================================================================================== one adapter
def link_healthy(status: dict[str, Any]) -> bool:
    link = status.get("link") or {}
    if not link.get("connected", False) or status.get("servers") != 2:
        return False
    return link.get("writing", True) and link.get("queued", 0) == 0 and not link.get("held")


def seq_ranges(seqs: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for s in sorted(seqs):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


async def run_adapter(a: argparse.Namespace, adapter: str, log_root: Path) -> dict[str, Any]:
    log_dir = log_root / adapter
    log_dir.mkdir(parents=True, exist_ok=True)
    loop = asyncio.get_running_loop()
    t_origin = loop.time()

    def say(text: str) -> None:
        if not a.quiet:
            print(
                f"[{adapter:>13} {loop.time() - t_origin:6.1f}s] {text}",
                file=sys.stderr,
                flush=True,
            )

    if adapter == "postgres":
        broker: RedisBroker | PostgresBroker = PostgresBroker(a.broker, log_dir)
    else:
        if a.broker == "terminate":
            return {"adapter": adapter, "skipped": "--broker terminate is for PostgreSQL only"}
        broker = RedisBroker(a.broker, log_dir)
    prefix = f"soakfault{uuid.uuid4().hex[:8]}"
    servers: dict[str, Child] = {}
    load: Child | None = None
    faults: list[dict[str, Any]] = []
    try:
        if broker.mode == "private":
            await broker.start()
        say(f"broker: {broker.describe()}")
        for origin in ("A", "B"):
            servers[origin] = await Child.start(
                f"server{origin}",
                [
                    PYTHON,
                    SOAK,
                    "--role",
                    "server",
                    "--adapter",
                    adapter,
                    "--broker",
                    broker.url,
                    "--prefix",
                    prefix,
                    "--origin",
                    origin,
                    "--status-interval",
                    "0.25",
                    "--broadcast-interval",
                    str(a.interval),
                    "--ack-broadcast-interval",
                    str(a.ack_interval),
                    "--ack-broadcast-timeout",
                    str(a.ack_timeout),
                ],
                log_dir,
            )
        ports = {o: (await s.wait("listening", 30))["port"] for o, s in servers.items()}
        for s in servers.values():
            status = await s.wait("status", 30, where=link_healthy)
            if isinstance(broker, PostgresBroker):
                broker.app_names.append(status["link"]["application_name"])
        load = await Child.start(
            "load",
            [
                PYTHON,
                SOAK,
                "--role",
                "load",
                "--ack-interval",
                "0",
                "--target",
                f"127.0.0.1:{ports['A']}:{a.clients}",
                "--target",
                f"127.0.0.1:{ports['B']}:{a.clients}",
            ],
            log_dir,
        )
        ready = await load.wait("ready", 60)
        say(f"servers A:{ports['A']} B:{ports['B']}, {ready['connected']} clients; logs {log_dir}")
        for s in servers.values():
            s.send("start")
        await asyncio.sleep(a.warmup)
        for i in range(a.faults):
            t_fault = time.time()
            marks = {o: len(s.events) for o, s in servers.items()}
            if a.fault == "subscriber":
                await cut_receiver(broker, servers["B"])
                t_up = time.time()
                say(f"fault {i + 1}/{a.faults}: B's receiving connection cut")
            else:
                t_up = await broker.fault(a.down)
                say(f"fault {i + 1}/{a.faults}: broker back after {t_up - t_fault:.2f} s")
            recovered: dict[str, float | None] = {}
            for o, s in servers.items():
                try:
                    event = await s.wait(
                        "status",
                        a.recover_timeout,
                        since=marks[o],
                        where=lambda e, up=t_up: e["t"] > up and link_healthy(e),
                    )
                    recovered[o] = round(event["t"] - t_up, 2)
                except TimeoutError:
                    recovered[o] = None
            saw_down = {
                o: bool(outage_windows(s.events[max(0, marks[o] - 1) :]))
                for o, s in servers.items()
            }
            faults.append(
                {
                    "fault_at": t_fault,
                    "broker_back_at": t_up,
                    "broker_down_s": round(t_up - t_fault, 2),
                    "recovered_after_s": recovered,
                    "servers_saw_the_fault": saw_down,
                }
            )
            say(f"  servers healthy again after the broker came back (s): {recovered}")
            await asyncio.sleep(a.between)
        stopped: dict[str, dict[str, Any]] = {}
        marks = {o: len(s.events) for o, s in servers.items()}
        for s in servers.values():
            s.send("stop")
        for o, s in servers.items():
            stopped[o] = await s.wait("stopped", 30, since=marks[o])
        await asyncio.sleep(a.drain)
        marks = {o: len(s.events) for o, s in servers.items()}
        for s in servers.values():
            s.send("status")
        final_status = {o: await s.wait("status", 10, since=marks[o]) for o, s in servers.items()}
        mark = len(load.events)
        load.send(
            "final",
            expected={
                "tick": {o: st["seq"] for o, st in stopped.items()},
                "ack": {o: st["ack_seq"] for o, st in stopped.items()},
            },
        )
        summary = await load.wait("summary", 60, since=mark)
        timelines = {o: list(s.events) for o, s in servers.items()}
        result = classify(a, adapter, broker, stopped, final_status, summary, faults, timelines)
        result["server_log_warnings"] = {
            o: s.log_count("WARNING", "ERROR", "CRITICAL") for o, s in servers.items()
        }
        result["logs"] = str(log_dir)
        return result
    finally:
        if load is not None:
            await load.stop()
        for s in servers.values():
            await s.stop()
        with contextlib.suppress(Exception):
            await cleanup_broker(broker, prefix)
        await broker.close()


async def cut_receiver(broker: RedisBroker | PostgresBroker, server: Child) -> None:
    """Cut the connection through which ``server`` receives (its Redis subscriber or stream
    reader, its PostgreSQL listener); the broker and the other connections stay up."""
    status = await server.wait("status", 10, since=len(server.events), where=link_healthy)
    link = status["link"]  # a fresh one: the listener's pid changes at each reconnection
    if isinstance(broker, PostgresBroker):
        import psycopg

        async with await psycopg.AsyncConnection.connect(broker.url, autocommit=True) as conn:
            await conn.execute("SELECT pg_terminate_backend(%s)", (link["listener_pid"],))
        return
    import redis.asyncio

    name = link.get("reader_name") or link["subscriber_name"]
    client = redis.asyncio.Redis.from_url(broker.url)
    try:
        for entry in await client.client_list():
            if entry.get("name") == name:
                await client.client_kill_filter(_id=entry["id"])
    finally:
        await client.aclose()


async def cleanup_broker(broker: RedisBroker | PostgresBroker, prefix: str) -> None:
    if isinstance(broker, RedisBroker) and broker.mode == "shared":
        import redis

        client = redis.Redis.from_url(broker.url)
        try:
            keys = list(client.scan_iter(f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


def outage_windows(events: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """When a server's link was not connected (its subscriber or listener was down, which
    it logs as a WARNING), from its status lines: from the last sample that was connected to
    the first that was again (so a window is never too short). An outage shorter than the
    sampling period shows as a reconnection counted between two connected samples."""
    windows: list[tuple[float, float]] = []
    last_up: float | None = None
    down_from: float | None = None
    reconnects: int | None = None
    for e in events:
        if e.get("event") != "status" or "link" not in e:
            continue
        link = e["link"]
        up = bool(link.get("connected"))
        count = link.get("reconnects", 0) + link.get("pubsub_reconnects", 0)
        if up:
            if down_from is not None:
                windows.append((down_from, e["t"]))
                down_from = None
            elif reconnects is not None and count > reconnects and last_up is not None:
                windows.append((last_up, e["t"]))
            last_up = e["t"]
        elif down_from is None:
            down_from = last_up if last_up is not None else e["t"]
        reconnects = count
    if down_from is not None:
        windows.append((down_from, float("inf")))
    return windows


def classify(
    a: argparse.Namespace,
    adapter: str,
    broker: RedisBroker | PostgresBroker,
    stopped: dict[str, dict[str, Any]],
    status: dict[str, dict[str, Any]],
    summary: dict[str, Any],
    faults: list[dict[str, Any]],
    timelines: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """Account for every broadcast: delivered everywhere, reported (counted as dropped by
    the sender's adapter, or a broadcast with acks that ended with an error), or silently
    lost; a silent loss is also placed in time: inside a window when the link of the
    receiving or the sending server was down (which it logged), or outside any (which
    nothing explains)."""
    targets = {"A": 0, "B": 1}
    other = {"A": "B", "B": "A"}
    clients_total = 2 * a.clients
    windows = {o: outage_windows(ev) for o, ev in timelines.items()}
    per_origin: dict[str, Any] = {}
    totals = {
        "broadcasts": 0,
        "delivered": 0,
        "reported": 0,
        "in_deaf_window": 0,
        "silent": 0,
        "silent_in_outage": 0,
        "silent_outside_outage": 0,
        "missed_locally": 0,
        "deliveries_expected": 0,
        "deliveries": 0,
        "duplicates": 0,
    }
    ack_totals = {
        "broadcasts": 0,
        "complete": 0,
        "reported": 0,
        "reported_but_delivered": 0,
        "silent_partial": 0,
        "silent_partial_outside_outage": 0,
    }
    for origin, st in stopped.items():
        n = st["seq"]
        link = status[origin].get("link") or {}
        dropped = link.get("dropped", 0) + link.get("pubsub_dropped", 0)
        # the Pub/Sub links report more: messages that reached fewer servers than before
        # (Redis), sent without every server confirmed back after an outage; and the windows
        # when the receiving server was not subscribed ("deaf")
        counts = link.get("reported") or {}
        sender_reported = (
            max(dropped, counts.get("dropped", 0))
            + counts.get("short", 0)
            + counts.get("unconfirmed", 0)
        )
        receiver_link = status[other[origin]].get("link") or {}
        deaf = [(r[2], r[3]) for r in receiver_link.get("reports", []) if r[0] == "deaf"]
        t0 = st.get("tick_t0") or 0.0
        interval = st.get("broadcast_interval") or a.interval
        # a loss is explained by a window when the receiving server's link was down (it
        # was not subscribed), or the sender's (its view of the cluster was wrong)
        receiver_down = windows.get(other[origin], [])
        either_down = sorted(receiver_down + windows.get(origin, []))

        def in_outage(t: float, down: list[tuple[float, float]] = either_down) -> bool:
            return any(lo - 0.05 <= t <= hi + 0.05 for lo, hi in down)

        local_missing: set[int] = set()
        remote_missing: set[int] = set()
        delivered = dups = 0
        for target_origin, t in targets.items():
            entry = summary["tick"][f"{origin}@{t}"]
            delivered += entry["received"]
            dups += entry["dups"]
            missing = {int(s) for s in entry["missing_by_seq"]}
            (local_missing if target_origin == origin else remote_missing).update(missing)
        missed = local_missing | remote_missing
        late = st.get("late_ticks") or {}  # when sent, where a busy sender was late
        sent_at = {s: late.get(str(s), t0 + (s - 1) * interval) for s in missed}
        remote_only = remote_missing - local_missing
        reported = min(len(remote_only), sender_reported)
        # what the sender did not report but fell in a window the receiver reported deaf
        in_deaf = sum(
            1 for s in remote_only if any(lo - 0.1 <= sent_at[s] <= hi + 0.1 for lo, hi in deaf)
        )
        in_deaf = min(in_deaf, len(remote_only) - reported)
        silent = len(missed) - reported - in_deaf
        outside = sorted(s for s in remote_missing if not in_outage(sent_at[s]))
        # a local miss is never explained; a remote one outside the receiver's outage only
        # when the sender's dropped counter does not cover it
        outside_count = len(local_missing) + max(0, len(set(outside) - local_missing) - reported)
        outside_count = min(outside_count, silent)
        missing_ranges = []
        for lo, hi in seq_ranges(sorted(missed)):
            back = min(
                (f["broker_back_at"] for f in faults),
                key=lambda b, t=sent_at[lo]: abs(b - t),
                default=None,
            )
            missing_ranges.append(
                {
                    "seqs": [lo, hi],
                    "count": hi - lo + 1,
                    "sent_from_s": None if back is None else round(sent_at[lo] - back, 2),
                    "sent_to_s": None if back is None else round(sent_at[hi] - back, 2),
                }
            )
        # broadcasts with acks
        acks = st.get("ack_results", [])
        ack_interval = a.ack_interval
        ack_t0 = t0  # both loops start together
        client_missed: dict[int, int] = {}
        for t in targets.values():
            entry = summary["ack"][f"{origin}@{t}"]
            for s, count in entry["missing_by_seq"].items():
                client_missed[int(s)] = client_missed.get(int(s), 0) + count
        complete = reported_acks = silent_partial = reported_but_delivered = 0
        partial_outside = []
        for seq, responses, error, _dt in acks:
            if error is None and responses >= clients_total:
                complete += 1
            elif error is not None:
                reported_acks += 1
                if client_missed.get(seq, 0) == 0:
                    reported_but_delivered += 1
            else:
                silent_partial += 1
                if not in_outage(ack_t0 + (seq - 1) * ack_interval):
                    partial_outside.append(seq)
        per_origin[origin] = {
            "broadcasts": n,
            "fully_delivered": n - len(missed),
            "missed_locally": len(local_missing),
            "missed_remotely": len(remote_missing),
            "reported_by_sender": reported,
            "in_receiver_deaf_window": in_deaf,
            "silently_lost": silent,
            "silent_outside_outage": outside_count,
            "outside_seqs": outside[:50],
            "adapter_dropped_counter": dropped,
            "sender_reported_counters": counts,
            "receiver_deaf_windows_s": [[round(lo - t0, 2), round(hi - t0, 2)] for lo, hi in deaf],
            "duplicates": dups,
            "missing_ranges": missing_ranges[:50],
            "receiver_outage_windows_s": [
                [round(lo - t0, 2), round(hi - t0, 2)] for lo, hi in receiver_down
            ],
            "own_outage_windows_s": [
                [round(lo - t0, 2), round(hi - t0, 2)] for lo, hi in windows.get(origin, [])
            ],
            "ack_broadcasts": {
                "sent": len(acks),
                "complete": complete,
                "error_reported": reported_acks,
                "error_but_all_clients_got_it": reported_but_delivered,
                "silent_partial": silent_partial,
                "silent_partial_outside_outage": partial_outside[:50],
            },
            "link": link,
        }
        totals["broadcasts"] += n
        totals["delivered"] += n - len(missed)
        totals["reported"] += reported
        totals["in_deaf_window"] += in_deaf
        totals["silent"] += silent
        totals["silent_outside_outage"] += outside_count
        totals["silent_in_outage"] += silent - outside_count
        totals["missed_locally"] += len(local_missing)
        totals["deliveries_expected"] += n * clients_total
        totals["deliveries"] += delivered
        totals["duplicates"] += dups
        ack_totals["broadcasts"] += len(acks)
        ack_totals["complete"] += complete
        ack_totals["reported"] += reported_acks
        ack_totals["reported_but_delivered"] += reported_but_delivered
        ack_totals["silent_partial"] += silent_partial
        ack_totals["silent_partial_outside_outage"] += len(partial_outside)
    recovered = all(all(v is not None for v in f["recovered_after_s"].values()) for f in faults)
    closes = summary.get("closes", {})
    checks = {
        "servers_recovered_by_themselves": recovered and bool(faults),
        "no_silent_loss": totals["silent"] == 0,
        "no_silent_partial_ack_broadcast": ack_totals["silent_partial"] == 0,
        "no_local_loss": totals["missed_locally"] == 0,
        "no_loss_outside_a_logged_outage": totals["silent_outside_outage"] == 0
        and ack_totals["silent_partial_outside_outage"] == 0,
        "clients_stayed_connected": not closes,
    }
    # what every adapter guarantees: each broadcast delivered everywhere or reported (the
    # streams adapter keeps them in Redis; the Pub/Sub ones hold their queue after an outage
    # until the other servers are subscribed again, and report the rest)
    required = [
        "servers_recovered_by_themselves",
        "no_local_loss",
        "no_silent_loss",
        "no_loss_outside_a_logged_outage",
        "clients_stayed_connected",
    ]
    return {
        "adapter": adapter,
        "broker": broker.describe(),
        "ok": all(checks[name] for name in required),
        "required": required,
        "checks": checks,
        "clients": clients_total,
        "faults": [
            {k: v for k, v in f.items() if k not in ("fault_at", "broker_back_at")} for f in faults
        ],
        "broadcasts": totals,
        "ack_broadcasts": ack_totals,
        "per_origin": per_origin,
        "client_closes": closes,
    }


def human(results: list[dict[str, Any]]) -> str:
    lines = [
        f"{'adapter':<14} {'broadcasts':>10} {'delivered':>9} {'reported':>8} {'deaf':>5} "
        f"{'silent (outside an outage)':>26} {'dups':>5} | {'ack bcasts':>10} {'complete':>8} "
        f"{'error':>6} {'short (outside)':>15} | servers healthy again after the broker (s)"
    ]
    for r in results:
        if "skipped" in r or "error" in r:
            lines.append(f"{r['adapter']:<14} {r.get('skipped') or r.get('error')}")
            continue
        b, k = r["broadcasts"], r["ack_broadcasts"]
        rec = " ".join(
            f"{f['recovered_after_s'].get('A')}/{f['recovered_after_s'].get('B')}"
            for f in r["faults"]
        )
        silent = f"{b['silent']} ({b['silent_outside_outage']})"
        short = f"{k['silent_partial']} ({k['silent_partial_outside_outage']})"
        lines.append(
            f"{r['adapter']:<14} {b['broadcasts']:>10} {b['delivered']:>9} {b['reported']:>8} "
            f"{b['in_deaf_window']:>5} "
            f"{silent:>26} {b['duplicates']:>5} | {k['broadcasts']:>10} {k['complete']:>8} "
            f"{k['reported']:>6} {short:>15} | {rec}   {'PASS' if r['ok'] else 'FAIL'}"
        )
    lines.append(
        "broadcasts: delivered = every client got it; reported = reported by the sender's "
        "adapter (dropped, short, unconfirmed); deaf = missed inside a window the receiving "
        "server reported it was not subscribed; silent = missed by some client with no "
        "report (outside: not even inside a "
        "window when a server had logged its link down). ack bcasts: complete = every client "
        "answered; error = ended with an error (reported); short = ended without error "
        "but with fewer answers than clients."
    )
    return "\n".join(lines)


# ================================================================================== main
async def drive(a: argparse.Namespace) -> int:
    log_root = make_log_dir(a.logs, "faults")
    results = []
    for adapter in a.adapters.split(","):
        try:
            results.append(await run_adapter(a, adapter.strip(), log_root))
        except Exception as exc:
            results.append(
                {"adapter": adapter, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
            )
            if not a.quiet:
                import traceback

                traceback.print_exc()
    if not a.quiet:
        for r in results:
            print(
                json.dumps({k: v for k, v in r.items() if k != "per_origin"}, indent=None),
                file=sys.stderr,
            )
        print(human(results), file=sys.stderr)
    ok = all(r.get("ok") or "skipped" in r for r in results)
    print(json.dumps({"ok": ok, "results": results}))
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--adapters",
        default="redis,streams,postgres",
        help="comma-separated: redis, redis-sharded, streams, postgres",
    )
    parser.add_argument("--broker", choices=["private", "shared", "terminate"], default="private")
    parser.add_argument(
        "--fault",
        choices=["broker", "subscriber"],
        default="broker",
        help="broker: stop and start the broker; subscriber: cut only server B's receiving "
        "connection (A does not notice; --down is not used)",
    )
    parser.add_argument("--faults", type=int, default=3)
    parser.add_argument("--down", type=float, default=3.0, help="seconds the broker stays down")
    parser.add_argument("--clients", type=int, default=20, help="clients on each server")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between ticks")
    parser.add_argument("--ack-interval", type=float, default=0.5)
    parser.add_argument("--ack-timeout", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--between", type=float, default=3.0, help="seconds after a recovery")
    parser.add_argument("--drain", type=float, default=3.0)
    parser.add_argument("--recover-timeout", type=float, default=30.0)
    parser.add_argument("--logs", default=None)
    parser.add_argument("--quiet", action="store_true")
    a = parser.parse_args(argv)
    install_uvloop()
    return asyncio.run(drive(a))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
