"""Jobs: the server hands work to workers with call() and waits with a timeout; workers
answer with several values; emit callbacks; calls that time out on both sides. Written for
python-socketio; run as it is and with the import changed."""

import asyncio

from _serve import serving, until

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)
workers = {}
results = []


@sio.event
async def connect(sid, environ, auth):
    workers[auth["worker"]] = sid


@sio.event
async def disconnect(sid, reason):
    for name, worker in list(workers.items()):
        if worker == sid:
            del workers[name]


@sio.event
async def submit(sid, job):
    """A client submits a job; the server runs it on a worker and returns the outcome."""
    worker = workers[job["worker"]]
    try:
        total, count = await sio.call("run", job["numbers"], to=worker, timeout=job["timeout"])
    except socketio.exceptions.TimeoutError:
        return "timed out", job["worker"]
    return "done", total, count


@sio.event
async def divide(sid, a, b):
    return a // b, a % b


@sio.event
async def notify_all(sid, text):
    def done(*args):
        results.append(args)

    for name in sorted(workers):
        await sio.emit("notice", text, to=workers[name], callback=done)


@sio.on("message")
async def message(sid, data):
    await sio.send(f"echo: {data}", to=sid)


async def worker(url, name, delay):
    client = socketio.AsyncClient(reconnection=False)

    @client.on("run")
    async def run(numbers):
        await client.sleep(delay)
        return sum(numbers), len(numbers)

    @client.on("notice")
    def notice(text):
        return name, text.upper()

    await client.connect(url, auth={"worker": name})
    return client


async def main():
    async with serving(app) as url:
        fast = await worker(url, "fast", 0)
        slow = await worker(url, "slow", 1.0)
        boss = socketio.AsyncClient(reconnection=False)
        echoes = []
        boss.on("message", echoes.append)
        await boss.connect(url, auth={"worker": "boss"})
        job = {"worker": "fast", "numbers": [1, 2, 3, 4], "timeout": 5}
        print("fast:", await boss.call("submit", job))
        job = {"worker": "slow", "numbers": [5], "timeout": 0.2}
        print("slow:", await boss.call("submit", job))
        print("divide:", await boss.call("divide", (17, 5)))
        try:
            await boss.call("nobody-handles-this", timeout=0.2)
        except socketio.exceptions.TimeoutError:
            print("client call timed out")
        await boss.emit("notify_all", "heads up")
        await until(lambda: len(results) == 3)
        print("acks:", sorted(results))
        await boss.send("ping")
        await until(lambda: echoes)
        print("echoes:", echoes)
        answers = []
        await boss.emit("divide", (7, 2), callback=lambda *args: answers.append(args))
        await until(lambda: answers)
        print("callback:", answers)
        for client in (fast, slow, boss):
            await client.disconnect()
        await until(lambda: not workers)
        print("workers left:", workers)


if __name__ == "__main__":
    asyncio.run(main())
