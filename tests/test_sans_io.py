"""Import contract: the protocol core (engineio, socketio, ws, reasons) is sans-I/O.

Each module is imported in a fresh interpreter, without running ``aiosocketio/__init__.py``
(which pulls in the asyncio server on purpose), and must not have loaded asyncio, socket,
ssl, selectors, nor the I/O layers of this package.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CORE_PACKAGES = [
    "aiosocketio.engineio",
    "aiosocketio.socketio",
    "aiosocketio.ws",
    "aiosocketio.reasons",
]
FORBIDDEN = ["asyncio", "socket", "ssl", "selectors", "_socket", "_ssl", "_asyncio"]
FORBIDDEN_OWN = ["aiosocketio.server", "aiosocketio.transport", "aiosocketio.adapters"]

# Runs in the child: register the top-level package without executing its __init__, import
# the package under test and every module inside it, print what got loaded.
CHILD = """
import importlib, importlib.util, json, pkgutil, sys, types
name = sys.argv[1]
spec = importlib.util.find_spec("aiosocketio")
root = types.ModuleType("aiosocketio")
root.__path__ = list(spec.submodule_search_locations)
root.__spec__ = spec
sys.modules["aiosocketio"] = root
before = set(sys.modules)
package = importlib.import_module(name)
imported = [name]
for info in pkgutil.walk_packages(getattr(package, "__path__", []), name + "."):
    importlib.import_module(info.name)
    imported.append(info.name)
print(json.dumps({"before": sorted(before), "after": sorted(sys.modules), "imported": imported}))
"""


def _package_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _import_in_fresh_interpreter(name: str) -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, name],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, list[str]] = json.loads(result.stdout)
    return data


def _is_forbidden(module: str) -> bool:
    top = module.split(".")[0]
    if top in FORBIDDEN:
        return True
    return any(module == own or module.startswith(own + ".") for own in FORBIDDEN_OWN)


@pytest.mark.parametrize("name", CORE_PACKAGES)
def test_core_package_imports_no_io_modules(name: str) -> None:
    assert _package_exists(name)
    data = _import_in_fresh_interpreter(name)
    assert not [m for m in data["before"] if _is_forbidden(m)], "the interpreter starts clean"
    loaded = sorted(m for m in data["after"] if _is_forbidden(m))
    assert loaded == [], f"importing {name} loaded {loaded}"
    assert name in data["imported"]


def test_child_detects_forbidden_imports() -> None:
    # the check itself works: importing the server layer is caught
    data = _import_in_fresh_interpreter("aiosocketio.server")
    assert "asyncio" in data["after"]


def test_import_linter_contracts() -> None:
    """The project's contracts (pyproject.toml), checked statically by import-linter: direct and
    indirect imports, which the fresh-interpreter test above only sees when they run."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        found = shutil.which("lint-imports")
        if found is None:
            pytest.skip("import-linter is not installed")
        lint_imports = Path(found)
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The protocol core is sans-I/O KEPT" in result.stdout
    assert " 0 broken" in result.stdout
