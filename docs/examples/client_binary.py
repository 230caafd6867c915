"""Binary data: bytes anywhere in the arguments, both ways."""

import asyncio
import hashlib

from aiosocketio import Server, connect

io = Server()


@io.on("connection")
def on_connection(socket):
    @socket.on("upload")
    def upload(meta, data):
        print("server:", meta["name"], type(data).__name__, len(data))
        return {"sha256": hashlib.sha256(data).hexdigest()[:12], "echo": data[:4]}


async def main():
    server = await io.start("127.0.0.1", 0)
    sock = await connect(f"http://127.0.0.1:{server.port}")
    answer = await sock.emit_with_ack("upload", {"name": "a.bin"}, bytes(range(256)) * 100)
    print("client:", answer)
    await sock.disconnect()
    await io.close()


asyncio.run(main())
