"""The public import paths (docs/index.md, "Import paths"): the guides, their programs, the
examples and the README import only from them, and each of them imports."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INDEX = ROOT / "docs" / "index.md"
IMPORT = re.compile(
    r"^\s*(?:from\s+(aiosocketio[\w.]*)\s+import|import\s+(aiosocketio[\w.]*))", re.M
)


def public_modules() -> set[str]:
    text = INDEX.read_text()
    block = text.split("<!-- public modules -->", 1)[1].split("<!-- end of public modules -->", 1)[
        0
    ]
    items = re.split(r"^- ", block, flags=re.M)[1:]  # one list item each, continuations joined
    found: set[str] = set()
    for item in items:
        names = item.split("`:", 1)[0] + "`"  # the modules come before the first "`:"
        found.update(re.findall(r"`(aiosocketio[\w.]*)`", names))
    return found


def sources() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    files += sorted((ROOT / "docs" / "examples").rglob("*.py"))
    files += sorted((ROOT / "examples").rglob("*.py"))
    return [f for f in files if "node_modules" not in f.parts]


def test_the_list_names_the_expected_modules() -> None:
    public = public_modules()
    assert {"aiosocketio", "aiosocketio.parsers", "aiosocketio.adapters.redis"} <= public
    assert "aiosocketio.adapters.postgres" in public  # a name on a continuation line


@pytest.mark.parametrize("module", sorted(public_modules()))
def test_a_public_module_imports(module: str) -> None:
    importlib.import_module(module)


def test_docs_and_examples_import_only_public_modules() -> None:
    public = public_modules()
    internal = []
    for path in sources():
        for match in IMPORT.finditer(path.read_text()):
            module = match.group(1) or match.group(2)
            if module not in public:
                line = path.read_text().count("\n", 0, match.start()) + 1
                internal.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    assert not internal, "internal modules imported:\n" + "\n".join(internal)
