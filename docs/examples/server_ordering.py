"""Handler order: plain handlers run one after the other; coroutine handlers start in
arrival order and interleave at their awaits."""

import asyncio

from aiosocketio import Server, connect

io = Server()
done = asyncio.Event()


@io.on("connection")
def on_connection(socket):
    @socket.on("plain")
    def plain(n):
        print("plain", n)

    @socket.on("task")
    async def task(n, delay):
        print("task", n, "starts")
        await asyncio.sleep(delay)
        print("task", n, "ends")
        if n == 1:
            done.set()


async def main():
    server = await io.start("127.0.0.1", 0)
    sock = await connect(f"http://127.0.0.1:{server.port}")
    for n in (1, 2, 3):
        sock.emit("plain", n)
    sock.emit("task", 1, 0.2)
    sock.emit("task", 2, 0.1)
    await asyncio.wait_for(done.wait(), 5)
    await sock.disconnect()
    await io.close()


asyncio.run(main())
