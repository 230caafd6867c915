"""scripts/setup skips what is up to date and redoes what is not (its stamps: scripts/stamp.py).

The checks run ``scripts/setup --check``, which installs nothing: on this tree (set up by
scripts/setup, as scripts/test does first) and on a copy of the files setup depends on, whose
.venv and node_modules are links to this tree's.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
PY_FILES = ["pyproject.toml", "setup.py", "src/aiosocketio/ws/_speedups.c", "scripts/setup"]
NPM_DIRS = ["tests/interop", "examples/demo"]


def load_stamp() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stamp", ROOT / "scripts" / "stamp.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / "scripts" / "setup"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_stamp_follows_the_files_and_words(tmp_path: Path, monkeypatch) -> None:
    stamp = load_stamp()
    monkeypatch.chdir(tmp_path)
    Path("a.toml").write_text("one")
    files = ["a.toml", "b.json"]  # b.json is missing
    assert stamp.check(Path("s"), files, ["3.11.7"]) == "no stamp"
    stamp.write(Path("s"), files, ["3.11.7"])
    assert stamp.check(Path("s"), files, ["3.11.7"]) is None
    assert stamp.check(Path("s"), files, ["3.12.0"]) == "changed since the last install"
    Path("b.json").write_text("")  # a missing file and an empty one differ
    assert stamp.check(Path("s"), files, ["3.11.7"]) == "changed since the last install"
    stamp.write(Path("s"), files, ["3.11.7"])
    Path("a.toml").write_text("two")
    assert stamp.check(Path("s"), files, ["3.11.7"]) == "changed since the last install"
    assert stamp.main(["check", "s", "--also", "3.11.7", *files]) == 1
    assert stamp.main(["write", "s", "--also", "3.11.7", *files]) == 0
    assert stamp.main(["check", "s", "--also", "3.11.7", *files]) == 0


def test_this_tree_is_up_to_date() -> None:
    done = check(ROOT)
    assert done.returncode == 0, f"{done.stdout}{done.stderr}(run scripts/setup)"
    assert "setup: python packages up to date (.venv)" in done.stdout
    if shutil.which("npm"):
        for directory in NPM_DIRS:
            assert f"setup: npm packages up to date ({directory})" in done.stdout


def copy_tree(tmp_path: Path) -> Path:
    """The files setup depends on, in a new tree without .venv or node_modules."""
    for name in [*PY_FILES, "scripts/stamp.py"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    for directory in NPM_DIRS:
        (tmp_path / directory).mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(ROOT / directory / name, tmp_path / directory / name)
    return tmp_path


def test_a_fresh_clone_needs_everything(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    done = check(tree)
    assert done.returncode == 1
    assert "setup: python packages out of date (no working .venv)" in done.stdout
    if shutil.which("npm"):
        for directory in NPM_DIRS:
            line = f"setup: npm packages of {directory} out of date (no node_modules)"
            assert line in done.stdout
    assert not (tree / ".venv").exists()  # --check installs nothing


@pytest.mark.parametrize("changed", [*PY_FILES, *(f"{d}/package-lock.json" for d in NPM_DIRS)])
def test_a_changed_file_redoes_its_install(tmp_path: Path, changed: str) -> None:
    tree = copy_tree(tmp_path)
    (tree / ".venv").symlink_to(ROOT / ".venv")
    npm = shutil.which("npm") is not None
    if npm:
        for directory in NPM_DIRS:
            (tree / directory / "node_modules").symlink_to(ROOT / directory / "node_modules")
    assert check(tree).returncode == 0, "the same files as this tree: up to date"
    with open(tree / changed, "a") as file:
        file.write("\n")
    done = check(tree)
    if changed in PY_FILES:
        assert done.returncode == 1
        assert "python packages out of date (changed since the last install)" in done.stdout
        assert "npm packages of" not in done.stdout
    elif npm:
        directory = changed.removesuffix("/package-lock.json")
        assert done.returncode == 1
        assert "setup: python packages up to date (.venv)" in done.stdout
        line = f"setup: npm packages of {directory} out of date (changed since the last install)"
        assert line in done.stdout
