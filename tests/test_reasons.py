"""The disconnect reasons: Node's strings, one enum, no loose literals in the package."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pytest

import aiosocketio
from aiosocketio.reasons import ENGINE_REASONS, RECOVERABLE, DisconnectReason

NODE_MODULES = Path(__file__).parent / "interop" / "node_modules"
SRC = Path(aiosocketio.__file__).parent


def node_union(path: Path, pattern: str) -> set[str]:
    """The string members of a TypeScript union type in an installed package's declarations."""
    if not path.exists():
        pytest.skip(f"{path} is not installed (npm ci in tests/interop)")
    found = re.search(pattern + r'\s*=\s*((?:"[^"]+"\s*\|?\s*)+);', path.read_text())
    assert found, f"no {pattern} in {path}"
    return set(re.findall(r'"([^"]+)"', found.group(1)))


def test_server_reasons_are_node_servers() -> None:
    node = node_union(
        NODE_MODULES / "socket.io" / "dist" / "socket-types.d.ts", r"export type DisconnectReason"
    )
    ours = {str(r) for r in DisconnectReason if not r.name.startswith("IO_")}
    assert ours == node


def test_client_reasons_are_node_clients() -> None:
    node = node_union(
        NODE_MODULES / "socket.io-client" / "build" / "esm" / "socket.d.ts",
        r"type DisconnectReason",
    )
    client_side = {
        DisconnectReason.IO_SERVER_DISCONNECT,
        DisconnectReason.IO_CLIENT_DISCONNECT,
        DisconnectReason.PING_TIMEOUT,
        DisconnectReason.TRANSPORT_CLOSE,
        DisconnectReason.TRANSPORT_ERROR,
        DisconnectReason.PARSE_ERROR,
    }
    assert {str(r) for r in client_side} == node


def test_recoverable_reasons_are_node_servers() -> None:
    source = NODE_MODULES / "socket.io" / "dist" / "socket.js"
    if not source.exists():
        pytest.skip("socket.io is not installed (npm ci in tests/interop)")
    found = re.search(
        r"RECOVERABLE_DISCONNECT_REASONS = new Set\(\[(.*?)\]\)", source.read_text(), re.S
    )
    assert found
    assert {str(r) for r in RECOVERABLE} == set(re.findall(r'"([^"]+)"', found.group(1)))
    assert RECOVERABLE <= ENGINE_REASONS


@pytest.mark.parametrize("reason", list(DisconnectReason))
def test_a_reason_is_its_string_everywhere(reason: DisconnectReason) -> None:
    text = reason.value
    assert reason == text and hash(reason) == hash(text)
    assert f"{reason}" == text and str(reason) == text and type(str(reason)) is str
    assert json.dumps([reason]) == json.dumps([text])
    assert orjson.dumps([reason]) == orjson.dumps([text])
    assert {text: 1}[reason] == 1


def test_the_package_names_reasons_only_through_the_enum() -> None:
    """A reason typed as a string literal (where a typo silently turns recovery off) is refused."""
    literal = re.compile(r'"(' + "|".join(re.escape(r.value) for r in DisconnectReason) + r')"')
    offenders = []
    for path in SRC.rglob("*.py"):
        # compat speaks python-socketio's vocabulary, whose names happen to share some values
        if path.name == "reasons.py" or path.parent.name == "compat":
            continue
        in_doc = False
        for number, line in enumerate(path.read_text().splitlines(), 1):
            quotes = line.count('"""')
            if in_doc or quotes:
                in_doc = in_doc != (quotes % 2 == 1)
                continue
            code = line.split("  #", 1)[0]
            if not code.lstrip().startswith("#") and literal.search(code):
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_exported() -> None:
    assert aiosocketio.DisconnectReason is DisconnectReason
