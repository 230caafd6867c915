"""A dashboard: a background task started by the ASGI startup hook pushes readings to a
room; static files from a directory; another ASGI app beside Socket.IO that reaches a
client by its sid. Written for python-socketio; run as it is and with the import changed."""

import asyncio
import json

from _serve import http_get, serving, until

import socketio

events = []

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
ticker = None


async def tick():
    n = 0
    while True:
        await sio.sleep(0.02)
        n += 1
        await sio.emit("reading", {"n": n, "load": n % 7}, to="watchers")


async def start():
    global ticker
    ticker = sio.start_background_task(tick)
    events.append("startup")


async def stop():
    ticker.cancel()
    events.append("shutdown")


async def api(scope, receive, send):
    """The other ASGI app: /api/poke?<sid> sends that client a notice."""
    if scope["type"] != "http":
        return
    await receive()
    sid = scope["query_string"].decode()
    status, payload = 404, {"error": "not found"}
    if scope["path"] == "/api/poke":
        await sio.emit("notice", "poked over HTTP", to=sid)
        status, payload = 200, {"poked": True}
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


app = socketio.ASGIApp(
    sio,
    api,
    static_files={"/": "public/index.html", "/static": "public"},
    on_startup=start,
    on_shutdown=stop,
)


@sio.event
async def subscribe(sid):
    await sio.enter_room(sid, "watchers")
    environ = sio.get_environ(sid)
    return sio.transport(sid), environ["HTTP_X_DASHBOARD"], "EIO=4" in environ["QUERY_STRING"]


@sio.event
async def unsubscribe(sid):
    await sio.leave_room(sid, "watchers")


async def main():
    async with serving(app) as url:
        print("events:", events)
        viewer = socketio.AsyncClient()
        readings = []
        notices = []
        viewer.on("reading", readings.append)
        viewer.on("notice", notices.append)
        await viewer.connect(url, headers={"X-Dashboard": "main"}, transports=["websocket"])
        print("subscribed:", await viewer.call("subscribe"))
        await until(lambda: len(readings) >= 3)
        numbers = [r["n"] for r in readings]
        print(
            "readings in order:",
            numbers == sorted(numbers),
            "loads:",
            all(r["load"] == r["n"] % 7 for r in readings),
        )
        print("poke:", await http_get(url, "/api/poke?" + viewer.get_sid()))
        await until(lambda: notices)
        print("notices:", notices)
        await viewer.call("unsubscribe")
        seen = len(readings)
        await viewer.sleep(0.1)
        print("no more readings:", len(readings) <= seen + 1)
        print("index:", await http_get(url, "/"))
        print("css:", await http_get(url, "/static/css/site.css"))
        print("other:", await http_get(url, "/api/other"))
        await viewer.disconnect()
    print("events:", events)


if __name__ == "__main__":
    asyncio.run(main())
