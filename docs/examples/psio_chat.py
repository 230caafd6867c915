"""BEFORE: a small chat on python-socketio (the migration guide's left column).

It is compiled by tests/test_docs.py, and run only where python-socketio, aiohttp and
uvicorn are installed (aiosocketio does not need them); migrated_chat.py is the same
program on aiosocketio.
"""

import asyncio

import uvicorn

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def connect(sid, environ, auth):
    if not auth or auth.get("token") != "s3cret":
        raise socketio.exceptions.ConnectionRefusedError("not authorized")
    await sio.save_session(sid, {"name": auth["name"]})


@sio.event
async def join(sid, room):
    await sio.enter_room(sid, room)
    session = await sio.get_session(sid)
    await sio.emit("joined", session["name"], to=room, skip_sid=sid)
    return "welcome to " + room


@sio.event
async def say(sid, data):
    session = await sio.get_session(sid)
    await sio.emit("said", (session["name"], data["text"]), to=data["room"], skip_sid=sid)


@sio.event
async def quiz(sid):
    answer = await sio.call("question", "2 + 2?", to=sid, timeout=5)
    return "right" if answer == 4 else "wrong"


@sio.event
async def disconnect(sid, reason):
    print("server: a client left:", reason)


async def run_clients(url):
    alice = socketio.AsyncClient()
    bob = socketio.AsyncClient()
    said = asyncio.Event()

    @bob.on("said")
    async def on_said(name, text):
        print("bob got:", name, text)
        said.set()

    @alice.on("question")
    async def on_question(question):
        return 4

    await alice.connect(url, auth={"token": "s3cret", "name": "alice"})
    await bob.connect(url, auth={"token": "s3cret", "name": "bob"})
    print(await alice.call("join", "lobby"))
    await bob.call("join", "lobby")
    await alice.emit("say", {"room": "lobby", "text": "hi"})
    await said.wait()
    print("quiz:", await alice.call("quiz"))
    await alice.disconnect()
    await bob.disconnect()


async def main():
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    await run_clients(f"http://127.0.0.1:{port}")
    server.should_exit = True
    await serving


if __name__ == "__main__":
    asyncio.run(main())
