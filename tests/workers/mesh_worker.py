"""A worker process of the cross-process tests: a Server with the inter-worker adapter in a
slot of the run directory ``argv[1]``, on a free port of 127.0.0.1 (on uvloop when it is
installed). It prints ``{"port", "slot", "pid"}`` as one JSON line once it serves, and stops
when its standard input closes.

Its clients may emit ``shout`` (the worker broadcasts ``heard(slot, text)``), ``count`` (the
server count), ``fetch`` (the ids of every socket of every worker) and ``poll`` (a broadcast
``question`` whose answers come back)."""

import asyncio
import json
import os
import sys

from aiosocketio import Server
from aiosocketio.adapters.workers import workers_adapter
from aiosocketio.workers.slots import WorkerDir


async def main(run_dir: str) -> None:
    slot = WorkerDir(run_dir).claim()
    io = Server(adapter=workers_adapter(slot, request_timeout=2.0))

    @io.on("connection")
    def on_connection(socket):
        @socket.on("shout")
        def shout(text):
            io.emit("heard", slot.number, text)

        @socket.on("count")
        async def count():
            return await io.of("/").adapter.server_count()

        @socket.on("fetch")
        async def fetch():
            return sorted(s.id for s in await io.fetch_sockets())

        @socket.on("poll")
        async def poll():
            return sorted(await io.timeout(2.0).emit_with_ack("question"))

    server = await io.start("127.0.0.1", 0)
    print(json.dumps({"port": server.port, "slot": slot.number, "pid": os.getpid()}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await io.close()
    slot.release()


try:
    import uvloop  # as the standalone server runs when it is installed
except ImportError:
    asyncio.run(main(sys.argv[1]))
else:
    uvloop.run(main(sys.argv[1]))
