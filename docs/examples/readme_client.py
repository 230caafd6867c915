"""README.md, "A client": the block as the README shows it, run by tests/test_docs.py
on a free port in place of 3000."""

import asyncio

from aiosocketio import connect


async def main():
    socket = await connect("http://127.0.0.1:3000/")  # socket.io-client semantics
    socket.on("chat", lambda sender, text: print(sender, text))
    print(await socket.emit_with_ack("join", "lobby"))
    await socket.disconnect()


asyncio.run(main())
