"""A chat: token authentication, sessions, rooms, skip_sid, refusals, server-side
disconnects. Written for python-socketio; run as it is and with the import changed."""

import asyncio

from _serve import serving, until

import socketio

USERS = {"t-alice": "alice", "t-bob": "bob", "t-carol": "carol"}
log = []

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def connect(sid, environ, auth):
    token = (auth or {}).get("token")
    if token == "banned":
        return False
    if token not in USERS:
        raise socketio.exceptions.ConnectionRefusedError("unknown token", {"token": token})
    await sio.save_session(sid, {"name": USERS[token], "said": 0})
    assert environ["REQUEST_METHOD"] == "GET"
    assert environ["PATH_INFO"].startswith("/socket.io")


@sio.event
async def join(sid, room):
    await sio.enter_room(sid, room)
    session = await sio.get_session(sid)
    await sio.emit("joined", {"who": session["name"], "room": room}, to=room, skip_sid=sid)
    return "welcome", room


@sio.event
async def say(sid, room, text):
    async with sio.session(sid) as session:
        session["said"] += 1
        name = session["name"]
    await sio.emit("said", (name, text), room=room, skip_sid=sid)


@sio.event
async def shout(sid, text):
    session = await sio.get_session(sid)
    await sio.emit("shouted", f"{session['name']}: {text}")


@sio.event
async def whoami(sid):
    session = await sio.get_session(sid)
    rooms = [room for room in sio.rooms(sid) if room != sid]
    return {"name": session["name"], "said": session["said"], "rooms": rooms}


@sio.event
async def leave(sid, room):
    await sio.leave_room(sid, room)
    return sorted(r for r in sio.rooms(sid) if r != sid)


@sio.event
async def close(sid, room):
    await sio.emit("closing", room, to=room)
    await sio.close_room(room)


@sio.event
async def kick(sid, name):
    for other, session in list(SESSIONS.items()):
        if session == name:
            await sio.disconnect(other)


SESSIONS = {}


@sio.on("register")
async def register(sid):
    SESSIONS[sid] = (await sio.get_session(sid))["name"]


@sio.event
async def disconnect(sid, reason):
    SESSIONS.pop(sid, None)
    log.append(("server: left", reason))


def client(name):
    sio_client = socketio.AsyncClient(reconnection=False)
    inbox = []

    @sio_client.on("*")
    async def any_event(event, *args):
        inbox.append((event, *args))

    @sio_client.event
    async def disconnect(reason=None):
        inbox.append(("disconnected",))

    return sio_client, inbox


async def main():
    async with serving(app) as url:
        alice, alice_got = client("alice")
        bob, bob_got = client("bob")
        carol, carol_got = client("carol")
        await alice.connect(url, auth={"token": "t-alice"})
        await bob.connect(url, auth={"token": "t-bob"}, transports=["websocket"])
        await carol.connect(url, auth={"token": "t-carol"}, transports=["polling"])
        for c in (alice, bob, carol):
            await c.emit("register")
        print("alice joins:", await alice.call("join", "lobby"))
        print("bob joins:", await bob.call("join", "lobby"))
        await until(lambda: alice_got)
        print("alice saw:", alice_got.pop(0))
        print("carol joins:", await carol.call("join", "dev"))
        await alice.emit("say", ("lobby", "hello lobby"))
        await until(lambda: bob_got)
        print("bob saw:", bob_got.pop(0))
        await carol.emit("shout", "hi all")
        await until(lambda: alice_got and bob_got and carol_got)
        print("shout:", alice_got.pop(0), bob_got.pop(0), carol_got.pop(0))
        print("alice:", await alice.call("whoami"))
        print("bob leaves:", await bob.call("leave", "lobby"))
        await bob.call("join", "dev")
        await until(lambda: carol_got)
        print("carol saw:", carol_got.pop(0))
        await alice.emit("close", "dev")
        await until(lambda: len(bob_got) == 1 and len(carol_got) == 1)
        print("closing:", bob_got.pop(0), carol_got.pop(0))
        print("bob after close:", await bob.call("whoami"))
        await alice.emit("kick", "carol")
        await until(lambda: ("disconnected",) in carol_got)
        print("carol:", carol_got, carol.connected)
        await until(lambda: len(log) == 1)
        for token in ("banned", "nobody"):
            intruder = socketio.AsyncClient(reconnection=False)
            errors = []
            intruder.on("connect_error", errors.append)
            try:
                await intruder.connect(url, auth={"token": token})
            except socketio.exceptions.ConnectionError as exc:
                print("refused:", token, str(exc), errors)
        await alice.disconnect()
        await bob.disconnect()
        await until(lambda: len(log) == 3)
        print("server log:", log)


if __name__ == "__main__":
    asyncio.run(main())
