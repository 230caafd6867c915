"""What aiosocketio.compat costs over the native API, in process (no sockets, no kernel): the
harness's echo (10 acked events per read) through the whole server stack, for the native
server (``bench_server.py``) and the compat server (``bench_compat_server.py``), plain and
coroutine echo handlers, measured alternately in one process (best of several rounds).

    python benchmarks/bench_compat_inproc.py [--rounds 7]

On a busy machine the times are noisy; instruction counts are not: ``--only NAME --reads N``
runs one server for N reads, once, for ``valgrind --tool=callgrind`` (the difference of two
runs with different N, divided by the events, is the cost of one event):

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python benchmarks/bench_compat_inproc.py --only "compat, plain echo" --reads 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_compat_server
import bench_server
from bench_inproc import connect, frame

READS = 1000
BATCH = b"".join(frame(f'42{i}["echo",{{"n":{i},"s":"hello"}}]') for i in range(10))


async def echo_round(ws: Any, coroutines: bool, reads: int = READS) -> float:
    """Seconds for ``reads`` reads of 10 echo events, every acknowledgement written."""
    start = time.perf_counter()
    for _ in range(reads):
        ws.data_received(BATCH)
        if coroutines:
            await asyncio.sleep(0)  # the handler tasks run (they do not wait for anything)
    if coroutines:
        await asyncio.sleep(0)
    return time.perf_counter() - start


SERVERS: dict[str, Callable[[], Any]] = {
    "native, plain echo": lambda: bench_server.create_server(),
    "compat, plain echo": lambda: bench_compat_server.create_server(True).server,
    "native, coroutine echo": lambda: bench_server.create_server(async_echo=True),
    "compat, coroutine echo": lambda: bench_compat_server.create_server(False).server,
}


async def one(name: str, reads: int) -> None:
    """One server, one round of ``reads`` reads (for an instruction count)."""
    ws = connect(SERVERS[name]())
    await asyncio.sleep(0.01)
    await echo_round(ws, "coroutine" in name, reads)


async def main(rounds: int) -> None:
    servers = SERVERS
    made = {name: make() for name, make in servers.items()}

    async def fresh() -> dict[str, Any]:
        """New connections (an old one would time out: nothing answers its pings)."""
        conns = {name: connect(io) for name, io in made.items()}
        await asyncio.sleep(0.01)  # the connection's middleware (compat: a task) runs
        return conns

    conns = await fresh()
    written = {}
    for name, ws in conns.items():  # every server writes the same acknowledgements
        before = ws.transport.written
        await echo_round(ws, "coroutine" in name)
        written[name] = ws.transport.written - before
    assert len(set(written.values())) == 1, written
    best = dict.fromkeys(servers, float("inf"))
    for _ in range(rounds):  # alternately: the machine's drift hits every server alike
        for name, ws in (await fresh()).items():
            best[name] = min(best[name], await echo_round(ws, "coroutine" in name))
            ws.transport.close()
    for name, seconds in best.items():
        print(f"{name}: {seconds / (READS * 10) * 1e6:.2f} us per acked event")
    for kind in ("plain", "coroutine"):
        native, compat = best[f"native, {kind} echo"], best[f"compat, {kind} echo"]
        print(f"compat / native, {kind} echo: {compat / native:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", choices=list(SERVERS), help="one server, one round")
    parser.add_argument("--reads", type=int, default=READS, help="with --only")
    args = parser.parse_args()
    if args.only:
        bench_server.run(one(args.only, args.reads))
    else:
        bench_server.run(main(args.rounds))
