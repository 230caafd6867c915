"""Without an optional dependency, the module that needs it says which extra to install.

Each case runs in a fresh interpreter where the dependency cannot be imported
(``sys.modules[name] = None`` blocks it, as if it were not installed).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

ADMIN_WITH_PASSWORD = """
from aiosocketio import Server
from aiosocketio.admin import instrument

# a bcrypt hash of "changeit" (checking it needs the bcrypt package)
HASH = "$2a$04$gBIu3/0bCCKBCXZ1LhNN0OrnFNdt.Tt5xaqYo1HB0Ht/0XyU2gWTO"
instrument(Server(), auth={"type": "basic", "username": "admin", "password": HASH})
"""


def run_without(package: str, code: str) -> subprocess.CompletedProcess[str]:
    source = f"import sys\nsys.modules[{package!r}] = None\n" + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize(
    ("package", "code", "extra"),
    [
        ("redis", "import aiosocketio.adapters.redis", "redis"),
        ("redis", "import aiosocketio.adapters.redis_streams", "redis"),
        ("msgpack", "import aiosocketio.adapters.redis", "redis"),
        ("msgpack", "import aiosocketio.emitter", "redis"),
        ("psycopg", "import aiosocketio.adapters.postgres", "postgres"),
        ("psycopg", "import aiosocketio.emitter_postgres", "postgres"),
        ("msgpack", "import aiosocketio.adapters.postgres", "postgres"),
        ("bcrypt", ADMIN_WITH_PASSWORD, "admin"),
        (
            "msgpack",
            "from aiosocketio.socketio.msgpack_parser import *; MsgpackParser()",
            "msgpack",
        ),
    ],
)
def test_a_missing_extra_is_named(package: str, code: str, extra: str) -> None:
    done = run_without(package, code)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(("ModuleNotFoundError: ", "ImportError: ")), done.stderr
    assert f"pip install 'aiosocketio[{extra}]'" in last, last
    assert package in last


def test_the_core_imports_without_any_extra() -> None:
    code = """
    import aiosocketio, aiosocketio.admin, aiosocketio.cli, aiosocketio.emitter
    """
    for package in ("redis", "psycopg", "bcrypt"):
        done = run_without(package, code)
        assert done.returncode == 0, done.stderr


def test_other_import_errors_pass_unchanged() -> None:
    """A broken installation of the package itself is not reported as a missing extra."""
    done = run_without(
        "redis.asyncio.retry",  # the package is there, one of its modules fails
        "import aiosocketio.adapters.redis",
    )
    assert done.returncode == 1
    assert "pip install" not in done.stderr
    assert "redis.asyncio.retry" in done.stderr
