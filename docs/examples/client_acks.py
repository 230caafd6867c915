"""Acknowledgements from the client side: timeouts, a default deadline, retries."""

import asyncio

from aiosocketio import AckTimeout, Server, client, connect

io = Server()
attempts = {"flaky": 0}


@io.on("connection")
def on_connection(socket):
    socket.on("add", lambda a, b: a + b)

    @socket.on("never")
    def never(*, ack):
        pass  # takes the ack callback and never calls it

    @socket.on("flaky")
    def flaky(*, ack):  # answers only the third time
        attempts["flaky"] += 1
        if attempts["flaky"] == 3:
            ack("finally")


async def main():
    server = await io.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"
    sock = await connect(url)

    print(await sock.emit_with_ack("add", 1, 2, timeout=5.0))
    try:
        await sock.emit_with_ack("never", timeout=0.2)
    except AckTimeout:
        print("AckTimeout")

    done = asyncio.get_running_loop().create_future()
    # the callback form: error first once a timeout is set, as in socket.io-client
    sock.timeout(0.2).emit("never", callback=lambda err, *args: done.set_result(err))
    print("callback:", repr(await done))
    await sock.disconnect()

    # retries: sent again (in order, one at a time) until acknowledged; ack_timeout is the
    # deadline of every emit of this socket that asks for an acknowledgement
    sock = client.io(url, retries=3, ack_timeout=0.2)
    await sock.wait_connected()
    print(await sock.emit_with_ack("flaky"), "after", attempts["flaky"], "attempts")
    await sock.disconnect()
    await io.close()


asyncio.run(main())
