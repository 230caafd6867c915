"""Fixed work on the server's hot paths, for instruction counts under callgrind (which do not
depend on the machine's load, unlike timings).

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python benchmarks/callgrind_paths.py CASE N

CASE: ``echo`` (20 reads of 10 acked events), ``fanout`` (``io.emit`` to all 200 sockets),
``room`` (``io.to(room).emit`` to 100 of them), ``ack`` (the same with an acknowledgement),
or ``all``; each done N times. Run it with N and with 0 (setup only) and divide the
difference of the two totals (``summary:`` in the output file) by N. Set
``PYTHONHASHSEED=0`` for repeatable counts. Connections are those of bench_inproc.py.
"""

from __future__ import annotations

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_inproc

CASES = ("echo", "fanout", "room", "ack", "all")


async def main(case: str, rounds: int) -> None:
    io = bench_inproc.bench_server.create_server()
    conns = [bench_inproc.connect(io) for _ in range(200)]
    await asyncio.sleep(0)
    for i, sid in enumerate(list(io.sockets.sockets)):
        if i % 2 == 0:
            io.sockets.sockets[sid].join("even")
    ws = conns[0]
    batch = b"".join(
        bench_inproc.frame(f'42{i}["echo",{{"n":{i},"s":"hello"}}]') for i in range(10)
    )
    payload = {"k": 1, "s": "fanout"}
    for _ in range(rounds):
        if case in ("all", "echo"):
            for _ in range(20):
                ws.data_received(batch)
        if case in ("all", "fanout"):
            io.emit("bcast", payload)
        if case in ("all", "room"):
            io.to("even").emit("bcast", payload)
        if case in ("all", "ack"):
            io.to("even").timeout(5).emit("q", 1, callback=lambda err, responses: None)
    await io.close()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in CASES or not sys.argv[2].isdigit():
        sys.exit(f"usage: callgrind_paths.py {{{'|'.join(CASES)}}} N")
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
