"""The server asks one client and waits for its acknowledgement."""

import asyncio

from aiosocketio import AckTimeout, Server, client

io = Server()
done = asyncio.Event()


@io.on("connection")
async def on_connection(socket):
    answer = await socket.emit_with_ack("confirm", "delete everything?", timeout=5.0)
    print("answer:", answer)

    try:
        await socket.timeout(0.2).emit_with_ack("unanswered")
    except AckTimeout:
        print("no answer within 0.2 s")

    # the callback form: error first with a timeout, as in Node
    socket.timeout(5.0).emit("confirm", "really?", callback=lambda err, *args: print(err, args))
    # without a timeout, the callback gets the arguments only (and may never be called)
    socket.emit("confirm", "sure?", callback=lambda *args: done.set())


async def main():
    server = await io.start("127.0.0.1", 0)
    sock = client.io(f"http://127.0.0.1:{server.port}")
    sock.on("confirm", lambda question: (question.endswith("?"), "checked"))
    await sock.wait_connected()
    await asyncio.wait_for(done.wait(), 5)
    await sock.disconnect()
    await io.close()


asyncio.run(main())
