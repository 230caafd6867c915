"""SyncClient: the same client for code without an event loop (scripts, threads)."""

import asyncio
import threading

from aiosocketio import Server, SyncClient

io = Server()


@io.on("connection")
def on_connection(socket):
    socket.on("add", lambda a, b: a + b)
    socket.on("subscribe", lambda: socket.emit("news", "extra, extra"))


def blocking_code(url):
    got_news = threading.Event()
    with SyncClient(url, transports=["websocket"]) as sio:  # connects, disconnects at exit
        print("connected:", sio.connected)

        @sio.on("news")  # handlers run on the client's own thread
        def news(text):
            print("news:", text)
            got_news.set()

        print("1 + 2 =", sio.call("add", 1, 2, timeout=5))  # emit and wait for the ack
        sio.emit("subscribe")
        got_news.wait(5)
    print("connected:", sio.connected)


async def main():
    server = await io.start("127.0.0.1", 0)
    # the server needs this event loop to keep running: the blocking code gets a thread
    await asyncio.to_thread(blocking_code, f"http://127.0.0.1:{server.port}")
    await io.close()


asyncio.run(main())
