"""Class-based namespaces on both sides, a catch-all event handler, and a catch-all
namespace. Written for python-socketio; run as it is and with the import changed."""

import asyncio

from _serve import serving, until

import socketio

sio = socketio.AsyncServer(async_mode="asgi", namespaces="*")
app = socketio.ASGIApp(sio)
log = []


class Game(socketio.AsyncNamespace):
    async def on_connect(self, sid, environ, auth):
        if (auth or {}).get("player") is None:
            raise socketio.exceptions.ConnectionRefusedError("who are you?")
        await self.save_session(sid, {"player": auth["player"], "score": 0})
        await self.enter_room(sid, "table")
        await self.emit("seated", auth["player"], to="table", skip_sid=sid)

    async def on_move(self, sid, square):
        async with self.session(sid) as session:
            session["score"] += square
            player, score = session["player"], session["score"]
        await self.emit("moved", (player, square), to="table", skip_sid=sid)
        return score

    def on_rooms(self, sid):
        return [r for r in self.rooms(sid) if r != sid]

    async def on_quit(self, sid):
        await self.leave_room(sid, "table")
        await self.disconnect(sid)

    def on_disconnect(self, sid):
        log.append("game: a player left")


class Lobby(socketio.AsyncNamespace):
    async def trigger_event(self, event, *args):
        """One method for every event (python-socketio's documented override)."""
        if event in ("connect", "disconnect"):
            return None
        _sid, *rest = args
        return f"lobby handled {event} with {rest}"


sio.register_namespace(Game("/game"))
sio.register_namespace(Lobby("/lobby"))


@sio.on("*", namespace="/chat")
async def chat_any(event, sid, *args):
    return f"chat caught {event}"


@sio.on("hello", namespace="/chat")
async def chat_hello(sid, name):
    return f"hello {name}"


@sio.on("jump", namespace="*")
async def jump_anywhere(namespace, sid, *args):
    return f"{namespace} caught jump{list(args)}"


class Player(socketio.AsyncClientNamespace):
    def __init__(self, namespace, name):
        super().__init__(namespace)
        self.name = name
        self.seen = []

    def on_connect(self):
        self.seen.append("connected")

    async def on_seated(self, who):
        self.seen.append(("seated", who))

    def on_moved(self, who, square):
        self.seen.append(("moved", who, square))

    def on_disconnect(self, reason):
        self.seen.append("disconnected")


async def main():
    async with serving(app) as url:
        ann, ben = Player("/game", "ann"), Player("/game", "ben")
        clients = []
        for player in (ann, ben):
            client = socketio.AsyncClient(reconnection=False)
            client.register_namespace(player)
            await client.connect(url, namespaces=["/game"], auth={"player": player.name})
            clients.append(client)
        await until(lambda: ("seated", "ben") in ann.seen)
        print("ann's score:", await clients[0].call("move", 4, namespace="/game"))
        print("ann's score:", await clients[0].call("move", 5, namespace="/game"))
        await until(lambda: len(ben.seen) == 3)
        print("ann saw:", ann.seen)
        print("ben saw:", ben.seen)
        print("rooms:", await clients[1].call("rooms", namespace="/game"))
        await clients[1].emit("quit", namespace="/game")
        await until(lambda: "disconnected" in ben.seen)
        print("ben after quitting:", ben.seen[-1], clients[1].connected)

        other = socketio.AsyncClient(reconnection=False)
        await other.connect(url, namespaces=["/lobby", "/chat", "/anything"])
        print(await other.call("sit", 3, namespace="/lobby"))
        print(await other.call("hello", "you", namespace="/chat"))
        print(await other.call("dance", namespace="/chat"))
        print(await other.call("jump", (1, 2), namespace="/anything"))
        stranger = socketio.AsyncClient(reconnection=False)
        try:
            await stranger.connect(url, namespaces=["/game"])
        except socketio.exceptions.ConnectionError as exc:
            print("refused:", exc)
        await other.disconnect()
        await clients[0].disconnect()
        await until(lambda: len(log) == 2)
        print("log:", log)


if __name__ == "__main__":
    asyncio.run(main())
