"""Event handlers and acknowledgements on the server."""

import asyncio

from aiosocketio import Server, connect

io = Server()


@io.on("connection")
def on_connection(socket):
    # a plain function: runs at once, in arrival order; its return value is the ack
    @socket.on("add")
    def add(a, b):
        return a + b

    # a tuple acknowledges with several arguments, None with none
    @socket.on("divmod")
    def divide(a, b):
        return divmod(a, b)

    # a coroutine function: started as a task; the ack is sent when it returns
    @socket.on("slow_add")
    async def slow_add(a, b):
        await asyncio.sleep(0.1)
        return a + b

    # a keyword parameter named `ack`: answer when you like (a no-op when no ack was asked)
    @socket.on("upload")
    def upload(data, *, ack):
        ack("received", len(data))

    # without the decorator: socket.on(event, handler)
    socket.on("echo", lambda *args: args)


# one handler for an event of every socket of the namespace: handler(socket, *args)
@io.on_event("whoami")
def whoami(socket):
    return socket.data.get("name", "anonymous")


async def main():
    server = await io.start("127.0.0.1", 0)
    sock = await connect(f"http://127.0.0.1:{server.port}")
    print(await sock.emit_with_ack("add", 1, 2))
    print(await sock.emit_with_ack("divmod", 7, 2))
    print(await sock.emit_with_ack("slow_add", 3, 4))
    print(await sock.emit_with_ack("upload", b"\x00" * 1024))
    print(await sock.emit_with_ack("echo", "a", {"b": [1, 2]}))
    print(await sock.emit_with_ack("whoami"))
    await sock.disconnect()
    await io.close()


asyncio.run(main())
