"""Broadcasts with acknowledgements: every client's answer, within a deadline."""

import asyncio

from aiosocketio import BroadcastAckError, Server, connect

io = Server()


async def main():
    server = await io.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}"
    alice = await connect(url)
    alice.on("vote", lambda question: "yes")
    bob = await connect(url)
    bob.on("vote", lambda question: "no")

    responses = await io.timeout(1.0).emit_with_ack("vote", "pizza?")
    print("votes:", sorted(responses))

    carol = await connect(url)  # carol does not answer
    try:
        await io.timeout(0.2).emit_with_ack("vote", "pasta?")
    except BroadcastAckError as exc:
        print("timed out, votes so far:", sorted(exc.responses))

    done = asyncio.get_running_loop().create_future()

    def tally(err, responses):  # the callback form: err is None or a BroadcastAckError
        done.set_result((err is None, sorted(responses)))

    io.except_(carol.id).timeout(1.0).emit("vote", "salad?", callback=tally)
    print("callback:", await done)

    for sock in (alice, bob, carol):
        await sock.disconnect()
    await io.close()


asyncio.run(main())
