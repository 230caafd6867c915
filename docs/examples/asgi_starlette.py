"""Socket.IO mounted inside a Starlette application, at the engine's path."""

import asyncio
import urllib.request

import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from aiosocketio import Server, connect

io = Server()
io.on("connection", lambda socket: socket.on("add", lambda a, b: a + b))


async def home(request):
    return PlainTextResponse(f"{len(io.sockets.sockets)} connected")


app = Starlette(
    routes=[
        Route("/", home),
        Mount("/socket.io", app=io.asgi_app()),  # the same path as Server(path=...)
    ]
)


def get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


async def main():
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"

    sock = await connect(url)
    print("1 + 2 =", await sock.emit_with_ack("add", 1, 2))
    print(await asyncio.to_thread(get, url + "/"))
    await sock.disconnect()

    server.should_exit = True
    await serving


if __name__ == "__main__":
    asyncio.run(main())
