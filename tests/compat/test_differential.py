"""Differential tests: python-socketio programs run twice, once on python-socketio from PyPI
and once with only the import changed (``import aiosocketio.compat as socketio``); the two
transcripts must be equal, except for the differences the migration guide lists.

The programs (``programs/*.py``) start a uvicorn server on a free port, run their clients
against it, and print what happens. They mirror python-socketio's own example programs for
the ASGI server and the asyncio clients (written here, not copied):

- ``chat.py``: examples/server/asgi/app.py (rooms: join, leave, close room, room events,
  broadcast, disconnect request), with authentication and sessions;
- ``dashboard.py``: app.py's background task, fastapi-fiddle.py's other ASGI app beside
  Socket.IO, fiddle.py's and latency.py's ``static_files`` with a directory;
- ``waiting.py``: fiddle.py and latency.py with examples/client/async/fiddle_client.py
  (``wait()``), examples/simple-client/async/latency_client.py (``receive()``) and the
  blocking simple client and client (examples/simple-client/sync, examples/client/sync);
- ``jobs.py``: ``call()`` both ways, with timeouts, and emit callbacks;
- ``classes.py``: class-based namespaces on both sides and the catch-alls.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PROGRAMS = Path(__file__).parent / "programs"
TIMEOUT = 60.0
IMPORT = re.compile(r"^import socketio$", re.M)
COMPAT_IMPORT = "import aiosocketio.compat as socketio"

# The differences the migration guide lists ("What still differs"), as (python-socketio,
# aiosocketio) pairs of transcript text.
DOCUMENTED = [
    # a client's disconnect(): python-socketio's client closes the connection before its
    # DISCONNECT packet is read; aiosocketio's sends it first
    ("'transport close'", "'client disconnect'"),
]


@functools.cache
def has_python_socketio() -> bool:
    """Asked of a fresh interpreter: in this one, tests/socketio/ shadows the name."""
    check = "import aiohttp, socketio.async_server, uvicorn"
    done = subprocess.run([sys.executable, "-c", check], cwd=PROGRAMS, capture_output=True)
    return done.returncode == 0


def run(source: str, name: str) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(PROGRAMS)}
    env.pop("PYTHONASYNCIODEBUG", None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(source, encoding="utf-8")
        try:
            done = subprocess.run(
                [sys.executable, str(path)],
                cwd=PROGRAMS,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            return -1, str(exc.stdout or ""), f"{exc.stderr or ''}\n(timed out)"
    return done.returncode, done.stdout, done.stderr


def normalized(transcript: str) -> str:
    for theirs, ours in DOCUMENTED:
        transcript = transcript.replace(theirs, ours)
    return transcript


def programs() -> list[str]:
    return sorted(p.name for p in PROGRAMS.glob("*.py") if not p.name.startswith("_"))


@pytest.mark.slow
@pytest.mark.parametrize("name", programs())
def test_same_transcript(name: str) -> None:
    if not has_python_socketio():
        pytest.skip("python-socketio (with aiohttp and uvicorn) is not installed")
    source = (PROGRAMS / name).read_text(encoding="utf-8")
    assert len(IMPORT.findall(source)) == 1, "a program imports socketio once, plainly"
    changed = IMPORT.sub(COMPAT_IMPORT, source)
    theirs = run(source, name)
    ours = run(changed, name)
    report = (
        f"--- python-socketio (exit {theirs[0]})\n{theirs[1]}{theirs[2]}"
        f"--- aiosocketio.compat (exit {ours[0]})\n{ours[1]}{ours[2]}"
    )
    assert theirs[0] == 0, report
    assert ours[0] == 0, report
    assert "Traceback" not in ours[2], report
    assert theirs[1].strip(), report
    assert normalized(theirs[1]) == ours[1], report
