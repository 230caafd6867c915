"""Runs an ASGI app under uvicorn on a free port for the programs of this folder (it does
not import socketio: the same for both runs)."""

import asyncio
import contextlib

import uvicorn


@contextlib.asynccontextmanager
async def serving(app, **options):
    options.setdefault("timeout_graceful_shutdown", 1)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def until(predicate, timeout=10.0):
    """Wait for a condition (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("the condition did not come true")
        await asyncio.sleep(0.01)
