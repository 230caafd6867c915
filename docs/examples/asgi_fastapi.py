"""Socket.IO next to a FastAPI application, under one ASGI server: an HTTP route emits
to the connected clients."""

import asyncio
import json
import urllib.request

import uvicorn
from fastapi import FastAPI

from aiosocketio import Server, client

io = Server()
api = FastAPI()


@api.post("/announce")
async def announce(text: str):
    io.emit("announcement", text)  # to every client of the main namespace
    return {"sent_to": len(io.sockets.sockets)}


# Socket.IO answers under /socket.io/, every other path goes to FastAPI
app = io.asgi_app(api)


def post(url):
    request = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


async def main():
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"

    sock = client.io(url)
    got = asyncio.get_running_loop().create_future()
    sock.on("announcement", got.set_result)
    await sock.wait_connected()
    print(await asyncio.to_thread(post, url + "/announce?text=hello"))
    print("client got:", await got)
    await sock.disconnect()

    server.should_exit = True
    await serving


if __name__ == "__main__":
    asyncio.run(main())
