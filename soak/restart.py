#!/usr/bin/env python3
"""Server restarts under load: do clients come back without a thundering herd, and does
connection state recovery lose no broadcast?

    python soak/restart.py --clients 1000 --restarts 5 --down 2

In-memory recovery does not survive a process restart, so this runs a cluster of two
servers (``soak.py --role server``) on the Redis Streams adapter with connection state
recovery: the session of a socket and the broadcasts it missed are in Redis, so the server
that comes back restores them.

* server **B** broadcasts ``tick(origin, seq, ms)`` every ``--broadcast-interval`` (100 ms)
  and is never restarted;
* server **A** holds every client and is stopped with SIGTERM (``--signal KILL`` for a crash:
  then no session is saved and recovery cannot happen, by design), kept down ``--down``
  seconds, and started again on the same port, ``--restarts`` times;
* the clients are our asyncio client (``aiosocketio.client``) with the real reconnection
  backoff (socket.io-client's: 1 s doubling to 5 s, randomization 0.5), websocket only, in
  ``--client-procs`` processes. Each records every sequence number, whether each
  reconnection was recovered, and the wall time of every reconnection attempt.

Reported per restart: reconnection attempts over time after the stop (a histogram in
``--bin`` second bins: their spread, not one spike, is what keeps a restarted server from a
thundering herd), successful reconnections after the server is back, clients recovered or
not; and over the whole run the broadcasts each client missed (zero with recovery) and
duplicates. JSON summary on the last line of stdout; exit status 0 when it passed.
Needs a Redis at ``--redis`` (default ``redis://127.0.0.1:6379``); keys are prefixed by a
fresh name and removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from soak import (
    PYTHON,
    Child,
    Seqs,
    emit_json,
    free_port,
    install_uvloop,
    make_log_dir,
    raise_nofile,
    read_commands,
    rss_kb,
)

SOAK = str(Path(__file__).resolve().parent / "soak.py")


# ================================================================================== clients role
class Tracked:
    """What one client saw."""

    __slots__ = ("connects", "index", "not_recovered", "recovered", "seqs", "sock")

    def __init__(self, index: int, sock: Any) -> None:
        self.index = index
        self.sock = sock
        self.seqs = Seqs()
        self.connects = 0
        self.recovered = 0
        self.not_recovered = 0


async def run_clients(a: argparse.Namespace) -> None:
    from aiosocketio.client import io as client_io

    raise_nofile(a.clients + 1024)
    loop = asyncio.get_running_loop()
    url = f"http://127.0.0.1:{a.port}"
    tracked: list[Tracked] = []
    events: list[list[Any]] = []  # [kind, wall time, client, detail]
    done = asyncio.Event()
    counters = {"ticks": 0}

    def make(index: int) -> Tracked:
        sock = client_io(
            url,
            force_new=True,
            transports=["websocket"],
            reconnection_delay=a.reconnection_delay,
            reconnection_delay_max=a.reconnection_delay_max,
            randomization_factor=a.randomization_factor,
        )
        t = Tracked(index, sock)

        def on_tick(origin: Any, seq: int, *rest: Any) -> None:
            t.seqs.add(seq)
            counters["ticks"] += 1

        def on_connect() -> None:
            t.connects += 1
            if t.connects > 1:
                if sock.recovered:
                    t.recovered += 1
                else:
                    t.not_recovered += 1
                events.append(["connect", time.time(), index, sock.recovered])

        def on_disconnect(reason: str) -> None:
            events.append(["disconnect", time.time(), index, reason])

        def on_attempt(attempt: int) -> None:
            events.append(["attempt", time.time(), index, attempt])

        sock.on("tick", on_tick)
        sock.on("connect", on_connect)
        sock.on("disconnect", on_disconnect)
        sock.io.on("reconnect_attempt", on_attempt)
        return t

    async def handle(command: dict[str, Any]) -> None:
        cmd = command.get("cmd")
        if cmd == "progress":
            emit_json(progress())
        elif cmd == "final":
            n = int(command.get("expected", 0))
            missing = [n - t.seqs.count_upto(n) for t in tracked]
            emit_json(
                {
                    **progress(),
                    "event": "summary",
                    "expected_each": n,
                    "missing": sum(missing),
                    "clients_missing": sum(1 for m in missing if m),
                    "duplicates": sum(t.seqs.dups for t in tracked),
                    "recovered": sum(t.recovered for t in tracked),
                    "not_recovered": sum(t.not_recovered for t in tracked),
                    "events": events,
                }
            )
        elif cmd == "exit":
            done.set()

    def progress() -> dict[str, Any]:
        return {
            "event": "progress",
            "t": time.time(),
            "connected": sum(1 for t in tracked if t.sock.connected),
            "ticks": counters["ticks"],
            "rss_kb": rss_kb(os.getpid()),
        }

    async def commands() -> None:
        await read_commands(handle)
        done.set()

    command_task = asyncio.ensure_future(commands())
    t0 = loop.time()
    for i in range(a.clients):
        tracked.append(make(a.first + i))
        await asyncio.sleep(1 / a.rate)
    deadline = loop.time() + 60
    while sum(1 for t in tracked if t.sock.connected) < len(tracked) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    emit_json(
        {
            "event": "ready",
            "connected": sum(1 for t in tracked if t.sock.connected),
            "seconds": round(loop.time() - t0, 2),
        }
    )
    await done.wait()
    command_task.cancel()
    await asyncio.gather(*(t.sock.disconnect() for t in tracked), return_exceptions=True)


# ================================================================================== driver
def histogram(times: list[float], start: float, end: float, width: float) -> list[int]:
    bins = [0] * max(1, math.ceil((end - start) / width))
    for t in times:
        i = int((t - start) / width)
        if 0 <= i < len(bins):
            bins[i] += 1
    return bins


def bars(bins: list[int], start: float, width: float, scale_to: int = 50) -> str:
    top = max(bins) if bins else 0
    lines = []
    for i, n in enumerate(bins):
        if not n and all(not b for b in bins[i:]):
            break
        bar = "#" * (round(n / top * scale_to) if top else 0)
        lines.append(f"  {start + i * width:6.1f}-{start + (i + 1) * width:<6.1f} {n:6d} {bar}")
    return "\n".join(lines)


def quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"min": None, "p50": None, "p95": None, "max": None}
    v = sorted(values)

    def q(p: float) -> float:
        return round(v[min(len(v) - 1, int(p * len(v)))], 3)

    return {"min": round(v[0], 3), "p50": q(0.5), "p95": q(0.95), "max": round(v[-1], 3)}


async def drive(a: argparse.Namespace) -> int:
    import redis

    check = redis.Redis.from_url(a.redis, socket_connect_timeout=2)
    try:
        check.ping()
    except redis.RedisError as exc:
        print(f"restart: Redis is not reachable at {a.redis}: {exc}", file=sys.stderr)
        return 2
    finally:
        check.close()
    log_dir = make_log_dir(a.logs, "restart")
    prefix = f"soak-restart-{uuid.uuid4().hex[:10]}"
    loop = asyncio.get_running_loop()
    t_origin = loop.time()

    def say(text: str) -> None:
        if not a.quiet:
            print(f"[{loop.time() - t_origin:7.1f}s] {text}", file=sys.stderr, flush=True)

    def server_argv(origin: str, port: int, interval: float) -> list[str]:
        return [
            PYTHON,
            SOAK,
            "--role",
            "server",
            "--adapter",
            "streams",
            "--broker",
            a.redis,
            "--prefix",
            prefix,
            "--recovery",
            "--origin",
            origin,
            "--port",
            str(port),
            "--broadcast-interval",
            str(interval),
            "--status-interval",
            "0.5",
            "--ping-interval",
            str(a.ping_interval),
            "--ping-timeout",
            str(a.ping_timeout),
        ]

    port_a = free_port(stable=True)
    b = await Child.start("serverB", server_argv("B", 0, a.broadcast_interval), log_dir)
    servers_a: list[Child] = []
    clients: list[Child] = []
    restarts: list[dict[str, Any]] = []
    result: dict[str, Any] = {"ok": False}
    try:
        await b.wait("listening", 30)
        servers_a.append(await Child.start("serverA-0", server_argv("A", port_a, 0), log_dir))
        await servers_a[-1].wait("listening", 30)
        await b.wait("status", 15, where=lambda e: e.get("servers") == 2)
        say(f"servers up: A on port {port_a} (restarted), B broadcasting; logs in {log_dir}")
        per = [
            a.clients // a.client_procs + (1 if i < a.clients % a.client_procs else 0)
            for i in range(a.client_procs)
        ]
        first = 0
        for i, count in enumerate(per):
            clients.append(
                await Child.start(
                    f"clients{i}",
                    [
                        PYTHON,
                        str(Path(__file__).resolve()),
                        "--role",
                        "clients",
                        "--port",
                        str(port_a),
                        "--clients",
                        str(count),
                        "--first",
                        str(first),
                        "--rate",
                        str(a.rate / a.client_procs),
                        "--reconnection-delay",
                        str(a.reconnection_delay),
                        "--reconnection-delay-max",
                        str(a.reconnection_delay_max),
                        "--randomization-factor",
                        str(a.randomization_factor),
                    ],
                    log_dir,
                )
            )
            first += count
        ready = [await c.wait("ready", 90) for c in clients]
        connected = sum(r["connected"] for r in ready)
        say(f"{connected}/{a.clients} clients connected to A")
        b.send("start")
        await asyncio.sleep(a.warmup)

        async def all_connected(timeout: float) -> float | None:
            deadline = loop.time() + timeout
            while loop.time() < deadline:
                marks = [len(c.events) for c in clients]
                for c in clients:
                    c.send("progress")
                got = [
                    await c.wait("progress", 10, since=m)
                    for c, m in zip(clients, marks, strict=True)
                ]
                if sum(p["connected"] for p in got) == a.clients:
                    return time.time()
                await asyncio.sleep(0.1)
            return None

        for r in range(a.restarts):
            old = servers_a[-1]
            t_stop = time.time()
            old.proc.send_signal(signal.SIGTERM if a.signal == "TERM" else signal.SIGKILL)
            await old.proc.wait()
            t_exit = time.time()
            await asyncio.sleep(max(0.0, a.down - (t_exit - t_stop)))
            new = await Child.start(f"serverA-{r + 1}", server_argv("A", port_a, 0), log_dir)
            servers_a.append(new)
            await new.wait("listening", 30)
            t_listen = time.time()
            t_back = await all_connected(a.reconnect_timeout)
            restarts.append(
                {
                    "stop": t_stop,
                    "exit": t_exit,
                    "listening": t_listen,
                    "all_back": t_back,
                    "exit_status": old.proc.returncode,
                }
            )
            say(
                f"restart {r + 1}/{a.restarts}: A stopped in {t_exit - t_stop:.2f} s, down "
                f"{t_listen - t_stop:.2f} s, every client back "
                + (f"{t_back - t_listen:.2f} s after it listened" if t_back else "NOT in time")
            )
            await asyncio.sleep(a.interval)
        mark = len(b.events)
        b.send("stop")
        last_seq = (await b.wait("stopped", 30, since=mark))["seq"]
        await asyncio.sleep(a.drain)
        marks = [len(c.events) for c in clients]
        for c in clients:
            c.send("final", expected=last_seq)
        summaries = [
            await c.wait("summary", 60, since=m) for c, m in zip(clients, marks, strict=True)
        ]
        server_stats = [s.last.get("closed") or s.last.get("status") or {} for s in servers_a]
        result = summarize(a, restarts, summaries, last_seq, server_stats)
        result["logs"] = str(log_dir)
        result["server_log_errors"] = sum(s.log_count("ERROR", "CRITICAL") for s in [b, *servers_a])
    finally:
        for c in clients:
            await c.stop()
        for s in [*servers_a, b]:
            await s.stop()
        cleanup = redis.Redis.from_url(a.redis)
        try:
            keys = list(cleanup.scan_iter(f"{prefix}*", count=1000))
            if keys:
                cleanup.delete(*keys)
        except redis.RedisError:
            pass
        finally:
            cleanup.close()
    if not a.quiet:
        print(human(result), file=sys.stderr)
    print(json.dumps(result))
    return 0 if result.get("ok") else 1


def summarize(
    a: argparse.Namespace,
    restarts: list[dict[str, Any]],
    summaries: list[dict[str, Any]],
    last_seq: int,
    server_stats: list[dict[str, Any]],
) -> dict[str, Any]:
    events = sorted((e for s in summaries for e in s["events"]), key=lambda e: e[1])
    per_restart = []
    for i, r in enumerate(restarts):
        end = restarts[i + 1]["stop"] if i + 1 < len(restarts) else math.inf
        window = [e for e in events if r["stop"] <= e[1] < end]
        attempts = [e[1] - r["stop"] for e in window if e[0] == "attempt"]
        first_attempts: dict[int, float] = {}
        for e in window:
            if e[0] == "attempt":
                first_attempts.setdefault(e[2], e[1] - r["stop"])
        connects = [e for e in window if e[0] == "connect"]
        back = [e[1] - r["listening"] for e in connects]
        span = max([*attempts, 0.0]) + a.bin
        attempt_bins = histogram(attempts, 0.0, span, a.bin)
        back_bins = histogram(back, 0.0, max([*back, 0.0]) + a.bin, a.bin)
        per_restart.append(
            {
                "stopped_in_s": round(r["exit"] - r["stop"], 3),
                "down_s": round(r["listening"] - r["stop"], 3),
                "all_back_after_listening_s": (
                    None if r["all_back"] is None else round(r["all_back"] - r["listening"], 3)
                ),
                "attempts": len(attempts),
                "attempts_per_client": round(len(attempts) / a.clients, 2),
                "first_attempt_s": quantiles(list(first_attempts.values())),
                "attempt_bins": attempt_bins,
                "peak_attempts_per_bin": max(attempt_bins),
                "peak_attempt_share": round(max(attempt_bins) / a.clients, 3),
                "reconnected": len(connects),
                "recovered": sum(1 for e in connects if e[3]),
                "reconnect_after_listening_s": quantiles(back),
                "reconnect_bins": back_bins,
                "peak_reconnects_per_bin": max(back_bins),
                "peak_reconnect_share": round(max(back_bins) / a.clients, 3),
                "disconnect_reasons": sorted({e[3] for e in window if e[0] == "disconnect"}),
            }
        )
    missing = sum(s["missing"] for s in summaries)
    dups = sum(s["duplicates"] for s in summaries)
    recovered = sum(s["recovered"] for s in summaries)
    not_recovered = sum(s["not_recovered"] for s in summaries)
    expect_recovery = a.signal == "TERM"
    checks = {
        "every_client_back": all(r["all_back_after_listening_s"] is not None for r in per_restart),
        "no_broadcast_lost": missing == 0 or not expect_recovery,
        "no_duplicates": dups == 0,
        "all_recovered": (not_recovered == 0) or not expect_recovery,
        "no_herd": all(r["peak_attempt_share"] <= a.max_peak_share for r in per_restart),
    }
    return {
        "ok": all(checks.values()),
        "checks": checks,
        "clients": a.clients,
        "restarts": len(restarts),
        "signal": a.signal,
        "down_s": a.down,
        "broadcast_interval": a.broadcast_interval,
        "bin_s": a.bin,
        "backoff": {
            "delay": a.reconnection_delay,
            "delay_max": a.reconnection_delay_max,
            "randomization": a.randomization_factor,
        },
        "broadcasts": last_seq,
        "deliveries": {
            "expected": last_seq * a.clients,
            "lost": missing,
            "duplicates": dups,
            "clients_missing": sum(s["clients_missing"] for s in summaries),
        },
        "reconnections": {"recovered": recovered, "not_recovered": not_recovered},
        "per_restart": per_restart,
        "server_sessions_restored": sum(s.get("recovered", 0) for s in server_stats),
    }


def human(r: dict[str, Any]) -> str:
    if "per_restart" not in r:
        return f"restart: no result ({r})"
    lines = [
        f"clients {r['clients']}, {r['restarts']} restarts (SIG{r['signal']}, down "
        f"{r['down_s']:g} s), broadcast every {r['broadcast_interval']:g} s, backoff "
        f"{r['backoff']}",
    ]
    for i, p in enumerate(r["per_restart"]):
        lines += [
            f"restart {i + 1}: down {p['down_s']} s; {p['attempts']} reconnection attempts "
            f"({p['attempts_per_client']}/client), first attempt after stop {p['first_attempt_s']}"
            f"; peak {p['peak_attempts_per_bin']} attempts per {r['bin_s']} s "
            f"({p['peak_attempt_share']:.1%} of the clients)",
            f"  reconnected {p['reconnected']} ({p['recovered']} recovered), after the server "
            f"listened: {p['reconnect_after_listening_s']}; peak {p['peak_reconnects_per_bin']} "
            f"per {r['bin_s']} s",
        ]
        if i == 0 or r["restarts"] <= 2:
            lines += [
                "  reconnection attempts after the stop (s):",
                bars(p["attempt_bins"], 0.0, r["bin_s"]),
            ]
    d = r["deliveries"]
    lines += [
        f"broadcasts {r['broadcasts']} x {r['clients']} clients: {d['lost']} lost "
        f"({d['clients_missing']} clients missed some), {d['duplicates']} duplicates; "
        f"reconnections recovered {r['reconnections']['recovered']}, not recovered "
        f"{r['reconnections']['not_recovered']}",
        f"result {'PASS' if r['ok'] else 'FAIL'} {r['checks']}",
    ]
    return "\n".join(lines)


# ================================================================================== main
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--role", choices=["driver", "clients"], default="driver")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--client-procs", type=int, default=0, help="default: 1 per 250")
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--down", type=float, default=2.0, help="seconds A stays down")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between restarts")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--drain", type=float, default=2.0)
    parser.add_argument("--signal", choices=["TERM", "KILL"], default="TERM")
    parser.add_argument("--broadcast-interval", type=float, default=0.1)
    parser.add_argument(
        "--redis", default=os.environ.get("AIOSOCKETIO_REDIS_URL", "redis://127.0.0.1:6379")
    )
    parser.add_argument("--reconnection-delay", type=float, default=1.0)
    parser.add_argument("--reconnection-delay-max", type=float, default=5.0)
    parser.add_argument("--randomization-factor", type=float, default=0.5)
    parser.add_argument("--reconnect-timeout", type=float, default=60.0)
    parser.add_argument("--ping-interval", type=float, default=25.0)
    parser.add_argument("--ping-timeout", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=500.0, help="client connections per second")
    parser.add_argument("--bin", type=float, default=0.1, help="histogram bin width, seconds")
    parser.add_argument(
        "--max-peak-share",
        type=float,
        default=0.25,
        help="most attempts in one bin, as a share of the clients (no herd)",
    )
    parser.add_argument("--logs", default=None)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--port", type=int, default=0, help="(clients role) server port")
    parser.add_argument("--first", type=int, default=0, help="(clients role) first index")
    a = parser.parse_args(argv)
    if a.client_procs <= 0:
        a.client_procs = max(1, math.ceil(a.clients / 250))
    install_uvloop()
    if a.role == "clients":
        asyncio.run(run_clients(a))
        return 0
    return asyncio.run(drive(a))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
