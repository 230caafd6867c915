"""The ASGI app under uvicorn: `uvicorn asgi_uvicorn:app --port 3000` (any ASGI server
will do). Run as a script, it starts uvicorn on a free port and connects a client."""

import asyncio

import uvicorn

from aiosocketio import Server, connect

io = Server()
io.on("connection", lambda socket: socket.on("add", lambda a, b: a + b))

app = io.asgi_app()


async def main():
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]

    sock = await connect(f"http://127.0.0.1:{port}", transports=["websocket"])
    print("1 + 2 =", await sock.emit_with_ack("add", 1, 2))
    await sock.disconnect()

    server.should_exit = True
    await serving


if __name__ == "__main__":
    asyncio.run(main())
