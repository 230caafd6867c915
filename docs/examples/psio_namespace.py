"""BEFORE: a class-based namespace and a background task on python-socketio (run only
where python-socketio, aiohttp and uvicorn are installed); migrated_namespace.py is the
same program on aiosocketio."""

import asyncio

import uvicorn

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


class Clock(socketio.AsyncNamespace):
    async def on_connect(self, sid, environ):
        await self.enter_room(sid, "subscribers")

    async def on_stop(self, sid):
        await self.leave_room(sid, "subscribers")
        await self.disconnect(sid)


sio.register_namespace(Clock("/clock"))


async def tick():
    for n in range(3):
        await sio.sleep(0.1)
        await sio.emit("tick", n, to="subscribers", namespace="/clock")


async def run_client(url):
    sock = socketio.AsyncClient()
    ticks = asyncio.Queue()
    sock.on("tick", ticks.put_nowait, namespace="/clock")
    await sock.connect(url, namespaces=["/clock"])
    sio.start_background_task(tick)
    for _ in range(3):
        print("tick", await ticks.get())
    await sock.emit("stop", namespace="/clock")
    await sock.wait()  # until the server disconnects this client
    print("disconnected")


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
