"""Every front door of the benchmark servers starts after ``scripts/setup`` and answers an
Engine.IO handshake, and stops on SIGTERM without leaving a process behind.

Each server runs as the harness runs it (``PORT=... python benchmarks/bench_server.py ...``),
in its own process group, so that a leftover worker is found and killed.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from servers import free_port

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
DEADLINE = 60.0  # seconds to start or stop: generous, the CI machine is loaded


def handshake(port: int) -> tuple[int, bytes] | None:
    """The answer to a polling handshake, or None while nothing listens."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/socket.io/?EIO=4&transport=polling")
        response = conn.getresponse()
        return response.status, response.read()
    except OSError:
        return None
    finally:
        conn.close()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(proc: subprocess.Popen[str]) -> bool:
    """Wait for the process and every process of its group to end."""
    deadline = time.monotonic() + DEADLINE
    proc.wait(timeout=DEADLINE)
    while group_alive(proc.pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.timeout(3 * DEADLINE)
@pytest.mark.parametrize(
    "command",
    [
        ["bench_server.py"],
        ["bench_server.py", "--loop", "asyncio"],
        ["bench_server.py", "--async-echo"],
        ["bench_server.py", "--asgi"],
        ["bench_server.py", "--workers", "2"],
        ["bench_server.py", "--asgi", "--workers", "2"],
        ["bench_compat_server.py"],
        ["bench_compat_server.py", "--asgi"],
    ],
    ids=" ".join,
)
def test_front_door_answers_a_handshake(command: list[str]) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(BENCHMARKS / command[0]), *command[1:]],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + DEADLINE
        answer = None
        while answer is None:
            if proc.poll() is not None:
                pytest.fail(f"exited with {proc.returncode}:\n{proc.communicate()[0]}")
            assert time.monotonic() < deadline, "no answer within the deadline"
            time.sleep(0.05)
            answer = handshake(port)
        status, body = answer
        assert status == 200, body
        assert body.startswith(b'0{"sid":'), body
        proc.send_signal(signal.SIGTERM)
        assert wait_gone(proc), "a process of the server is still running after SIGTERM"
        output = proc.communicate()[0]
        assert "Traceback" not in output, output
    finally:
        if group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=DEADLINE)


@pytest.mark.parametrize("case", ["all", "asgi-polling"])
def test_the_callgrind_paths_run(case: str) -> None:
    """benchmarks/callgrind_paths.py (run under valgrind to count instructions) does its
    fixed work without an error, for each case (``all`` holds every case but asgi-polling)."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "callgrind_paths.py"), case, "5"],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert done.returncode == 0, done.stderr
