"""Broadcast flags: volatile (may be dropped), local (this server only), compress."""

import asyncio

from aiosocketio import Server, connect

io = Server()


async def publish_positions():
    for x in range(10):
        # a client still busy with earlier packets skips this one: the next one replaces it
        io.volatile.emit("position", x)
        await asyncio.sleep(0.02)
    io.local.emit("done")  # only the clients of this server, not the rest of a cluster


async def main():
    server = await io.start("127.0.0.1", 0)
    sock = await connect(f"http://127.0.0.1:{server.port}")
    positions = []
    done = asyncio.Event()
    sock.on("position", positions.append)
    sock.on("done", done.set)
    await publish_positions()
    await done.wait()
    print("received", len(positions), "positions, the last:", positions[-1])
    await sock.disconnect()
    await io.close()


asyncio.run(main())
