"""Profile the client's per-message paths against a running server (ours or Node's).

    PORT=3917 node ../shared/bench/servers/node-socketio.js &     # any server with "echo"
    python benchmarks/profile_client.py PORT echo --seconds 4      # CPU per ack
    python benchmarks/profile_client.py PORT echo --profile        # + cProfile, by own time
    python benchmarks/profile_client.py PORT receive               # CPU per delivery
    python benchmarks/profile_client.py PORT binary                # 64 KiB binary echo

For changes to a hot path, count instructions instead of time (the count does not depend on
what else runs on the machine): ``--acks N`` runs exactly N acknowledged emits and exits, so
the difference between two runs under callgrind is the cost of the extra acks:

    for n in 1000 3000; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python benchmarks/profile_client.py PORT echo --acks $n 2>&1 | grep Collected
    done    # (second - first) / 2000 = instructions per ack

The echo loop is the shared client harness's (50 connections x 10 emits in flight, each
``emit_with_ack("echo", {"n": n, "s": "hello"}, timeout=30)``; ``--acks``: 10 x 10).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import resource
import time
from typing import Any

from aiosocketio.client import Socket, connect


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def open_many(url: str, n: int) -> list[Socket]:
    gate = asyncio.Semaphore(100)

    async def one() -> Socket:
        async with gate:
            return await connect(url, transports=["websocket"], force_new=True, reconnection=False)

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def echo(url: str, args: argparse.Namespace) -> tuple[int, Any]:
    binary = args.scenario == "binary"
    conns, window = (10, 4) if binary else (50, 10)
    if args.acks:
        conns = 4 if binary else 10
    socks = await open_many(url, conns)
    tail = os.urandom(65536)[8:]
    state = {"next": 0, "acked": 0, "stop": False}

    async def loop(sock: Socket) -> None:
        while not state["stop"]:
            n = state["next"]
            state["next"] = n + 1
            payload: Any = n.to_bytes(8, "little") + tail if binary else {"n": n, "s": "hello"}
            if await sock.emit_with_ack("echo", payload, timeout=30) != payload:
                raise AssertionError("the ack differs from the request")
            state["acked"] += 1
            if args.acks and state["acked"] >= args.acks:
                state["stop"] = True

    tasks = [asyncio.ensure_future(loop(s)) for s in socks for _ in range(window)]
    if args.acks:
        await asyncio.gather(*tasks)
        await asyncio.gather(*(s.disconnect() for s in socks))
        return state["acked"], None
    await asyncio.sleep(1)
    start = state["acked"]
    measured = await measure(args)
    ops = state["acked"] - start
    state["stop"] = True
    await asyncio.wait(tasks, timeout=10)
    await asyncio.gather(*(s.disconnect() for s in socks))
    return ops, measured


async def receive(url: str, args: argparse.Namespace) -> tuple[int, Any]:
    receivers = await open_many(url, 300)
    [sender] = await open_many(url, 1)
    counts: dict[int, int] = {}
    round_done: asyncio.Future[None] | None = None

    def on_bcast(payload: dict[str, Any]) -> None:
        k = payload["k"]
        seen = counts[k] = counts.get(k, 0) + 1
        if seen == len(receivers) and round_done is not None:
            round_done.set_result(None)

    for sock in receivers:
        sock.on("bcast", on_bcast)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.seconds
    profile = cProfile.Profile() if args.profile else None
    before = (cpu(), time.monotonic())
    if profile:
        profile.enable()
    k = 0
    while loop.time() < deadline:
        round_done = loop.create_future()
        sender.emit("broadcast", {"k": k, "s": "fanout"})
        await asyncio.wait_for(round_done, 10)
        k += 1
    if profile:
        profile.disable()
    after = (cpu(), time.monotonic())
    await asyncio.gather(*(s.disconnect() for s in [*receivers, sender]))
    return k * len(receivers), (before, after, profile)


async def measure(args: argparse.Namespace) -> Any:
    profile = cProfile.Profile() if args.profile else None
    before = (cpu(), time.monotonic())
    if profile:
        profile.enable()
    await asyncio.sleep(args.seconds)
    if profile:
        profile.disable()
    return before, (cpu(), time.monotonic()), profile


async def main(args: argparse.Namespace) -> None:
    url = f"http://127.0.0.1:{args.port}"
    run = receive if args.scenario == "receive" else echo
    ops, measured = await run(url, args)
    if measured is None:
        print(f"{args.scenario}: {ops} acks")
        return
    (cpu0, t0), (cpu1, t1), profile = measured
    print(
        f"{args.scenario}: {ops / (t1 - t0):.0f} ops/s, {(cpu1 - cpu0) / ops * 1e6:.1f} us CPU "
        f"per op, {100 * (cpu1 - cpu0) / (t1 - t0):.0f} % CPU"
    )
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("scenario", choices=["echo", "receive", "binary"])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--acks", type=int, default=0, help="run exactly this many acks")
    options = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(options))
    else:
        uvloop.run(main(options))
