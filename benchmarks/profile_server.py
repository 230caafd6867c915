"""Profile the benchmark server for a few seconds while a load generator runs against it.

    python benchmarks/profile_server.py PORT SECONDS [--asgi]
    (then run e.g. ../shared/bench/lib/loader.js --scenario echo --port PORT --quick)

Prints the top functions by own time (cProfile).
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])

import bench_server


async def run(port: int, seconds: float) -> None:
    io = bench_server.create_server()
    await io.start("127.0.0.1", port)
    await asyncio.sleep(seconds)
    await io.close()


def main() -> None:
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    profile = cProfile.Profile()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    profile.enable()
    runner(run(port, seconds))
    profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
