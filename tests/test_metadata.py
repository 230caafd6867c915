"""The package's metadata as installed (importlib.metadata), its LICENSE, and --version."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import aiosocketio
from aiosocketio.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_license_file() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the aiosocketio authors" in text
    assert "WITHOUT WARRANTY OF ANY KIND" in text


def test_installed_metadata() -> None:
    meta = metadata.metadata("aiosocketio")
    assert meta["Version"] == aiosocketio.__version__
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Author"] == "the aiosocketio authors"
    classifiers = meta.get_all("Classifier") or []
    for expected in (
        "Development Status :: 3 - Alpha",
        "Framework :: AsyncIO",
        "Intended Audience :: Developers",
        "Programming Language :: Python :: 3 :: Only",
        "Topic :: Internet :: WWW/HTTP",
        "Typing :: Typed",
    ):
        assert expected in classifiers


SCRIPT = Path(sys.executable).with_name("aiosocketio")  # the console script


@pytest.mark.parametrize(
    "command", [[sys.executable, "-m", "aiosocketio"], [str(SCRIPT)]], ids=["-m", "script"]
)
def test_version_option(command: list[str]) -> None:
    if not Path(command[0]).exists():
        pytest.skip(f"{command[0]} is not installed")
    done = subprocess.run(
        [*command, "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"aiosocketio {metadata.version('aiosocketio')}\n",
        "",
    )


def test_version_option_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"aiosocketio {aiosocketio.__version__}\n"
