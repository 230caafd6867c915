"""The app of "Deploying on all cores" (docs/deploying.md), as chat.py there: one module for
one process or many. Run as a script, it starts `uvicorn --workers 2` on it in workers mode,
connects long-polling clients (whose requests reach both workers) and stops uvicorn."""

import asyncio
import os
import signal
import socket as sockets
import subprocess
import sys
import tempfile
from pathlib import Path

from aiosocketio import Server, connect

io = Server()  # workers mode when AIOSOCKETIO_WORKERS_DIR is set


@io.on("connection")
def on_connection(socket):
    socket.on("whoami", lambda: os.getpid())  # the worker that holds this session


app = io.asgi_app()


def free_port():
    with sockets.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accepts(port):
    with sockets.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def main(run_dir):
    port = free_port()
    env = {**os.environ, "AIOSOCKETIO_WORKERS_DIR": run_dir}
    command = [sys.executable, "-m", "uvicorn", "deploying_chat:app", "--workers", "2"]
    command += ["--port", str(port), "--log-level", "warning"]
    here = Path(__file__).parent
    server = subprocess.Popen(command, cwd=here, env=env)
    try:
        # each worker's socket, then the port (a worker listens after its startup)
        while len(list(Path(run_dir).glob("w*.http"))) < 2 or not accepts(port):
            assert server.poll() is None, "uvicorn stopped"
            await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        clients = [await connect(url, transports=["polling"]) for _ in range(6)]
        for client in clients:
            owners = {await client.emit_with_ack("whoami") for _ in range(5)}
            assert len(owners) == 1  # every request of a session reached its worker
        print("6 polling clients, 30 round trips: ok")
        for client in clients:
            await client.disconnect()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(main(folder))
