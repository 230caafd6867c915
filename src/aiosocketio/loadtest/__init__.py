"""``python -m aiosocketio bench URL``: a load generator for any Socket.IO server, built on
the asyncio client (docs/bench.md).

- :mod:`.settings`: what a run is asked to do, and how its clients connect;
- :mod:`.scenarios`: the clients of echo, listen and churn;
- :mod:`.run`: the ramp, the stop conditions, the end of a run;
- :mod:`.stats` and :mod:`.histogram`: the counters and the latency histogram;
- :mod:`.report`: the JSON summary, the table, the progress line, the exit code;
- :mod:`.command`: the command's options.
"""

from __future__ import annotations

from .command import add_bench_parser, run_bench
from .histogram import Histogram
from .run import BenchError, Run
from .settings import Settings
from .stats import Stats

__all__ = ["BenchError", "Histogram", "Run", "Settings", "Stats", "add_bench_parser", "run_bench"]
