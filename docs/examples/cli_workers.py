"""Every core from Python: io.run(workers=N) is `aiosocketio serve --workers N`.

`python cli_workers.py 3000` serves until Ctrl-C. Run alone (as the docs tests run it), the
example starts itself that way on a free port, checks that each client stays with the worker
of its session (long-polling: every request is a new HTTP request) and that the clients
spread over both workers, and stops it with SIGTERM.
"""

import os
import re
import signal
import subprocess
import sys

from aiosocketio import Server, SyncClient

io = Server()


@io.on_event("whoami")
def whoami(socket):
    return os.getpid()


def demo():
    command = [sys.executable, __file__, "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as served:
        line = served.stdout.readline()  # listening on http://127.0.0.1:PORT/socket.io/
        url = re.search(r"http://[^/]+", line).group(0)
        workers = set()
        for _ in range(6):
            with SyncClient(url, transports=["polling"]) as sio:
                pids = {sio.call("whoami", timeout=5) for _ in range(5)}
                assert len(pids) == 1  # every request of a session reached its worker
                workers |= pids
        print("workers that served:", len(workers))
        served.send_signal(signal.SIGTERM)  # drain: clients reconnect elsewhere
        print("exit code:", served.wait(30))


if __name__ == "__main__" and len(sys.argv) == 2:
    io.run(port=int(sys.argv[1]), workers=2)  # or workers="auto": one per CPU
elif __name__ == "__main__":
    demo()
