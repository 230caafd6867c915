"""Worker slots: the owner of a session is read from its id; slots are held by locks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosocketio.workers.slots import MAX_SLOTS, WorkerDir, new_sid, slot_code, slot_of


@given(st.integers(min_value=0, max_value=MAX_SLOTS - 1))
def test_a_sid_names_its_slot(slot: int) -> None:
    sid = new_sid(slot)
    assert len(sid) == 20
    assert sid.startswith(slot_code(slot))
    assert slot_of(sid) == slot


def test_sids_are_url_safe_and_random() -> None:
    sids = {new_sid(7) for _ in range(1000)}
    assert len(sids) == 1000
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert all(set(s) <= allowed for s in sids)


@pytest.mark.parametrize("sid", ["", "A", "AB", "!!xxxxxxxx", "A!xxxxxxx", "é1xxxxxxx"])
def test_ids_that_name_no_slot(sid: str) -> None:
    assert slot_of(sid) is None


@pytest.mark.parametrize("slot", [-1, MAX_SLOTS])
def test_slot_range(slot: int) -> None:
    with pytest.raises(ValueError, match="worker slot"):
        slot_code(slot)


def test_claims_take_the_lowest_free_slot(tmp_path: Path) -> None:
    wdir = WorkerDir(tmp_path / "run")
    first, second = wdir.claim(), wdir.claim()
    assert (first.number, second.number) == (0, 1)
    assert wdir.live_slots() == [0, 1]
    first.release()
    assert wdir.live_slots() == [1]
    again = wdir.claim()
    assert again.number == 0
    with pytest.raises(BlockingIOError, match="held by another process"):
        wdir.claim(1)
    for slot in (again, second):
        slot.release()
    assert wdir.live_slots() == []


def test_a_dead_process_gives_its_slot_back(tmp_path: Path) -> None:
    wdir = WorkerDir(tmp_path)
    code = (
        "import os, sys\n"
        "from aiosocketio.workers.slots import WorkerDir\n"
        "slot = WorkerDir(sys.argv[1]).claim(3)\n"
        "open(slot.path('mesh'), 'w').close()\n"
        "print(slot.number, flush=True)\n"
        "os._exit(0)  # no release: the kernel drops the lock\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "3"
    assert os.path.exists(wdir.socket_path(3, "mesh"))  # left behind by the dead owner
    assert wdir.live_slots() == []
    slot = wdir.claim(3)
    assert not os.path.exists(slot.path("mesh"))  # a new owner starts clean
    slot.release()


def test_release_removes_the_sockets(tmp_path: Path) -> None:
    slot = WorkerDir(tmp_path).claim()
    for kind in ("http", "mesh", "fd"):
        Path(slot.path(kind)).touch()
    slot.release()
    slot.release()  # idempotent
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w0.lock"]
    assert not slot.held


def test_a_too_long_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too long"):
        WorkerDir(tmp_path / ("x" * 100))


def test_unknown_socket_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown socket kind"):
        WorkerDir(tmp_path).socket_path(0, "pipe")
