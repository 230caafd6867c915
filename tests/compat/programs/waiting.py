"""Clients that wait and receive: the simple clients (asyncio and blocking) pull events with
receive(); an AsyncClient waits until the server ends the connection; a blocking Client
answers the server from its handlers. Written for python-socketio; run as it is and with
the import changed."""

import asyncio

from _serve import serving, until

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def connect(sid, environ, auth):
    await sio.emit("hello", (1, 2, {"hello": "you"}), to=sid)


@sio.event
async def ping_from_client(sid):
    await sio.emit("pong_from_server", to=sid)


@sio.event
async def countdown(sid, n):
    for i in range(n, 0, -1):
        await sio.emit("count", i, to=sid)
    await sio.emit("liftoff", to=sid)


@sio.event
async def bye(sid):
    await sio.disconnect(sid)


@sio.event
async def ask(sid):
    return await sio.call("question", "6 x 7?", to=sid, timeout=5)


async def simple(url):
    async with socketio.AsyncSimpleClient() as client:
        await client.connect(url, transports=["websocket"])
        print("simple connected:", client.connected, client.transport)
        print("simple got:", await client.receive(timeout=5))
        for _ in range(2):
            await client.emit("ping_from_client")
            print("simple got:", await client.receive(timeout=5))
        print("simple call:", await client.call("countdown", 3))
        events = [await client.receive(timeout=5) for _ in range(4)]
        print("simple got:", events)
        try:
            await client.receive(timeout=0.1)
        except socketio.exceptions.TimeoutError:
            print("simple: nothing more")
    print("simple after the with block:", client.connected)
    try:
        await client.receive(timeout=1)
    except socketio.exceptions.DisconnectedError:
        print("simple: receive() after disconnecting")


async def waits(url):
    client = socketio.AsyncClient()
    got = []

    @client.event
    def hello(a, b, c):
        got.append((a, b, c))

    @client.event
    async def disconnect(reason):
        got.append(("disconnect", reason))

    await client.connect(url)
    await until(lambda: got)
    await client.emit("bye")
    await client.wait()
    print("async client waited:", got, client.connected)


def blocking(url):
    with socketio.SimpleClient() as client:
        client.connect(url)
        print("blocking simple got:", client.receive(timeout=5))
        client.emit("countdown", 2)
        print("blocking simple got:", [client.receive(timeout=5) for _ in range(3)])
    client = socketio.Client(reconnection=False)
    asked = []

    @client.on("question")
    def question(text):
        asked.append(text)
        return 42

    client.connect(url)
    print("blocking client asked back:", client.call("ask"), asked)
    client.disconnect()


async def main():
    async with serving(app) as url:
        await simple(url)
        await waits(url)
        await asyncio.to_thread(blocking, url)


if __name__ == "__main__":
    asyncio.run(main())
