"""Driving sockets from outside their handlers: an HTTP API next to Socket.IO reaches a
client by its id, and a background task started by the ASGI server's lifespan."""

import asyncio
import json
import urllib.request

import uvicorn

from aiosocketio import Server, client

io = Server()
tasks = set()


async def heartbeat():
    beat = 0
    while True:
        await asyncio.sleep(0.05)
        beat += 1
        io.to("watchers").emit("beat", beat)


def start():  # when the ASGI server starts (its lifespan): the event loop runs
    tasks.add(asyncio.create_task(heartbeat()))


def stop():
    for task in tasks:
        task.cancel()


async def api(scope, receive, send):
    """Another ASGI app beside Socket.IO: /<action>?<socket id>."""
    action, sid = scope["path"].strip("/"), scope["query_string"].decode()
    if action == "notify":
        io.to(sid).emit("notice", "from HTTP")  # each socket is in the room of its id
    elif action == "watch":
        io.in_(sid).sockets_join("watchers")  # on every server of a cluster
    elif action == "kick":
        io.in_(sid).disconnect_sockets()
    socket = io.sockets.sockets.get(sid)  # the Socket itself, when it is on this server
    answer = {"rooms": sorted(socket.rooms - {sid}) if socket else None}
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


app = io.asgi_app(api, on_startup=[start], on_shutdown=[stop])


def http(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


async def main():
    server = uvicorn.Server(uvicorn.Config(app, port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    sock = await client.connect(url, reconnection=False)
    sock.keep_unheard()  # the events no listener takes wait for receive()
    beats = []
    sock.on("beat", beats.append)
    print(await asyncio.to_thread(http, f"{url}/notify?{sock.id}"))
    print("notice:", await sock.receive(timeout=5))
    print(await asyncio.to_thread(http, f"{url}/watch?{sock.id}"))
    while len(beats) < 2:
        await asyncio.sleep(0.01)
    print("beats:", beats[1] == beats[0] + 1)
    await asyncio.to_thread(http, f"{url}/kick?{sock.id}")
    print("disconnected:", await sock.wait(timeout=5))
    server.should_exit = True
    await serving


if __name__ == "__main__":
    asyncio.run(main())
