"""AFTER: psio_chat.py on aiosocketio (the migration guide's right column)."""

import asyncio

import uvicorn

from aiosocketio import ConnectionRefused, Server, client

io = Server()
app = io.asgi_app()


@io.use
def authenticate(socket):
    auth = socket.handshake.auth
    if auth.get("token") != "s3cret":
        raise ConnectionRefused("not authorized")
    socket.data["name"] = auth["name"]


@io.on("connection")
def on_connection(socket):
    @socket.on("join")
    def join(room):
        socket.join(room)
        socket.to(room).emit("joined", socket.data["name"])
        return "welcome to " + room

    @socket.on("say")
    def say(data):
        socket.to(data["room"]).emit("said", socket.data["name"], data["text"])

    @socket.on("quiz")
    async def quiz():
        answer = await socket.emit_with_ack("question", "2 + 2?", timeout=5)
        return "right" if answer == 4 else "wrong"

    @socket.on("disconnect")
    def disconnect(reason):
        print("server: a client left:", reason)


async def run_clients(url):
    alice = client.io(url, auth={"token": "s3cret", "name": "alice"})
    bob = client.io(url, auth={"token": "s3cret", "name": "bob"})
    said = asyncio.Event()

    @bob.on("said")
    def on_said(name, text):
        print("bob got:", name, text)
        said.set()

    @alice.on("question")
    def on_question(question):
        return 4

    await alice.wait_connected()
    await bob.wait_connected()
    print(await alice.emit_with_ack("join", "lobby"))
    await bob.emit_with_ack("join", "lobby")
    alice.emit("say", {"room": "lobby", "text": "hi"})
    await said.wait()
    print("quiz:", await alice.emit_with_ack("quiz"))
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
    await asyncio.sleep(0.1)  # let the server see the disconnections
    server.should_exit = True
    await serving


if __name__ == "__main__":
    asyncio.run(main())
