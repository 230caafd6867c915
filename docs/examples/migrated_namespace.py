"""AFTER: psio_namespace.py on aiosocketio: a namespace object instead of a class."""

import asyncio

import uvicorn

from aiosocketio import Server, client

io = Server()
app = io.asgi_app()
clock = io.of("/clock")


@clock.on("connection")
def on_connect(socket):
    socket.join("subscribers")

    @socket.on("stop")
    def stop():
        socket.leave("subscribers")
        socket.disconnect()


async def tick():
    for n in range(3):
        await asyncio.sleep(0.1)
        clock.to("subscribers").emit("tick", n)


async def run_client(url):
    sock = client.io(url + "/clock")
    ticks = asyncio.Queue()
    disconnected = asyncio.Event()
    sock.on("tick", ticks.put_nowait)
    sock.on("disconnect", lambda reason: disconnected.set())
    await sock.wait_connected()
    ticker = asyncio.create_task(tick())  # keep a reference to the task
    for _ in range(3):
        print("tick", await ticks.get())
    sock.emit("stop")
    await disconnected.wait()  # until the server disconnects this client
    print("disconnected")
    await ticker


async def main():
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    await run_client(f"http://127.0.0.1:{port}")
    server.should_exit = True
    await serving


if __name__ == "__main__":
    asyncio.run(main())
