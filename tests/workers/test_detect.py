"""The warning for an app that runs as several workers without workers mode."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from aiosocketio import Server
from aiosocketio.engine.http import Request
from aiosocketio.workers.detect import SiblingCheck, sibling_workers
from helpers import http_request, poll_url

SPAWNED = "python\0-c\0from multiprocessing.spawn import spawn_main; spawn_main(pipe_handle={})\0"


def fake_proc(root: Path, processes: dict[int, tuple[int, str]]) -> Path:
    """A /proc with ``{pid: (parent pid, command line)}`` (NUL-separated arguments)."""
    for pid, (parent, cmdline) in processes.items():
        folder = root / str(pid)
        folder.mkdir(parents=True)
        # a command name with a space and a parenthesis, as they may be
        (folder / "stat").write_text(f"{pid} (py (worker) x) S {parent} {pid} 0 0\n")
        (folder / "cmdline").write_bytes(cmdline.encode())
    (root / "self").mkdir(exist_ok=True)  # not a process
    return root


def test_workers_with_the_same_command_line_are_siblings(tmp_path: Path) -> None:
    proc = fake_proc(
        tmp_path,
        {
            50: (1, "gunicorn\0-w\0002\0app:app\0"),
            100: (50, "gunicorn\0-w\0002\0app:app\0"),
            101: (50, "gunicorn\0-w\0002\0app:app\0"),
            102: (50, "python\0-c\0something else\0"),
            103: (7, "gunicorn\0-w\0002\0app:app\0"),  # another parent
        },
    )
    assert sibling_workers(proc, 100) == [101]
    assert sibling_workers(proc, 50) == []  # children of init are not one server's workers


def test_spawned_workers_are_siblings_but_not_the_resource_tracker(tmp_path: Path) -> None:
    proc = fake_proc(
        tmp_path,
        {
            200: (60, SPAWNED.format(7)),
            201: (60, SPAWNED.format(9)),
            202: (60, "python\0-c\0from multiprocessing.resource_tracker import main;main(5)\0"),
        },
    )
    assert sibling_workers(proc, 200) == [201]
    assert sibling_workers(proc, 202) == []


def test_no_proc_no_siblings(tmp_path: Path) -> None:
    assert sibling_workers(tmp_path / "missing", 1234) == []


def _request(sid: str) -> Request:
    return Request("GET", "/socket.io/", f"EIO=4&transport=polling&sid={sid}", {})


def test_the_warning_comes_once_and_names_the_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proc = fake_proc(tmp_path, {300: (70, "uvicorn\0app:app\0"), 301: (70, "uvicorn\0app:app\0")})
    check = SiblingCheck(proc, pid=300)
    with caplog.at_level(logging.WARNING, "aiosocketio.workers"):
        assert check.route_request(_request("abc"), None) is False  # type: ignore[arg-type]
        assert check.route_websocket(_request("def"), None) is False  # type: ignore[arg-type]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "'abc'" in warnings[0] and "pids 301" in warnings[0]
    assert "AIOSOCKETIO_WORKERS_DIR" in warnings[0] and "docs/deploying.md" in warnings[0]


def test_no_warning_without_siblings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    proc = fake_proc(tmp_path, {400: (80, "uvicorn\0app:app\0")})
    check = SiblingCheck(proc, pid=400)
    with caplog.at_level(logging.WARNING, "aiosocketio.workers"):
        check.route_request(_request("abc"), None)  # type: ignore[arg-type]
        # a sibling that appears later is seen at the next look, a minute on at the soonest
        fake_proc(proc, {401: (80, "uvicorn\0app:app\0")})
        check.route_request(_request("abc"), None)  # type: ignore[arg-type]
    assert caplog.records == []
    check._looked_at -= 61
    with caplog.at_level(logging.WARNING, "aiosocketio.workers"):
        check.route_request(_request("abc"), None)  # type: ignore[arg-type]
    assert len(caplog.records) == 1


async def test_the_server_asks_on_unknown_session_ids(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    io = Server()
    proc = fake_proc(tmp_path, {500: (90, "hypercorn\0app\0"), 501: (90, "hypercorn\0app\0")})
    io.engine.router = SiblingCheck(proc, pid=500)
    server = await io.start("127.0.0.1", 0)
    try:
        with caplog.at_level(logging.WARNING, "aiosocketio.workers"):
            response = await http_request(server.port, "GET", poll_url("x" * 20, "/socket.io/"))
        assert response.status == 400
        assert response.json()["message"] == "Session ID unknown"
        assert len(caplog.records) == 1
    finally:
        await io.close()
