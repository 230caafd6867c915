"""The app of the deployment examples of docs/deploying.md (systemd, a container, nginx with
TLS in front, several machines): ``aiosocketio serve --app chat:io --workers auto``.

On one machine the workers share broadcasts through the inter-worker adapter (the default
in workers mode). With ``REDIS_URL`` set, every worker of every machine joins one Redis
cluster instead (``REDIS_KEY`` names it, default ``chat``).

Events from the clients, each answered with an acknowledgement:

- ``echo <payload>``: ``{"payload", "pid"}``, the payload and the worker that holds the session;
- ``ask-me <n>``: the server asks the client ``ask <n>`` and answers with the client's answer;
- ``broadcast <text>``: ``news <text>`` to every client, on every worker and machine; ``true``.
"""

import os

from aiosocketio import Server


def adapter():
    """Redis across machines (REDIS_URL), else the default."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return None  # the inter-worker adapter in workers mode, in memory otherwise
    from aiosocketio.adapters.redis import RedisAdapter

    return RedisAdapter.factory(url, key=os.environ.get("REDIS_KEY", "chat"))


io = Server(adapter=adapter())


@io.on_event("echo")
def echo(socket, payload):
    return {"payload": payload, "pid": os.getpid()}


@io.on_event("ask-me")
async def ask_me(socket, n):
    return await socket.timeout(5).emit_with_ack("ask", n)


@io.on_event("broadcast")
def broadcast(socket, text):
    io.emit("news", text)
    return True


app = io.asgi_app()  # for uvicorn, gunicorn or hypercorn in workers mode
