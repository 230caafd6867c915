"""The documentation cannot drift from the code.

1. Every ``docs/examples/*.py`` runs (each starts its own server on a free port, runs a
   client against it, checks what happens and exits 0), in subprocesses, several at once,
   and writes nothing alarming on stderr (a traceback, an "Exception ignored", a task
   destroyed while pending).
2. A page shows an example's real output in a ```` ```text ```` block preceded by
   ``<!-- output: NAME.py -->``: that block must be exactly what the example printed.
3. Every ```` ```python ```` block of the guides (``PAGES``) is preceded by
   ``<!-- example: NAME.py -->`` and is byte-identical to a run of whole lines of that file
   (with their common indentation removed). ```` ```python no-test ```` marks the rare
   fragment that is not taken from an example. On the other pages of ``docs/``, the blocks
   that name their source (``<!-- example: NAME.py -->``, or ``<!-- from PATH -->`` for a
   file of the repository) are checked the same way; the others are listed in the skip
   reason of ``test_other_pages_unchecked_blocks``.
4. README.md's python blocks are taken from ``docs/examples/readme_*.py`` the same way
   (README.md has no comments: any readme file may hold a block), and the README's server
   and client are run together, on a free port in place of the README's 3000.
5. ``psio_*.py`` are the python-socketio side of the migration guide: compiled always, run
   only where python-socketio, aiohttp and uvicorn are installed (they are not
   dependencies of aiosocketio).
"""

from __future__ import annotations

import ast
import functools
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
README = ROOT / "README.md"

# the guides: each of their python blocks comes from docs/examples
PAGES = [
    "index.md",
    "getting-started.md",
    "server.md",
    "client.md",
    "rooms.md",
    "security.md",
    "migrating-from-python-socketio.md",
    "deploying.md",
    "legacy-clients.md",
]

EXAMPLE_TIMEOUT = 90.0  # each; 8 run at once on a loaded 2-core machine
BAD_STDERR = ("Traceback (most recent call last)", "Exception ignored", "Task was destroyed")


def other_pages() -> list[str]:
    return sorted(p.name for p in DOCS.glob("*.md") if p.name not in PAGES)


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.py"))


@functools.cache
def has_python_socketio() -> bool:
    """Whether the examples' interpreter has what psio_*.py import (asked of a fresh
    interpreter: in this one, tests/socketio/ shadows the name)."""
    check = "import aiohttp, socketio.async_server, uvicorn"
    done = subprocess.run(
        [sys.executable, "-c", check], cwd=EXAMPLES, capture_output=True, check=False
    )
    return done.returncode == 0


def runnable(path: Path) -> bool:
    if path.name.startswith("readme_"):
        return False  # run by test_readme_server_and_client
    return not path.name.startswith("psio_") or has_python_socketio()


# ---------------------------------------------------------------------- markdown
@dataclass
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    info: str  # the fence's info string: "python", "python no-test", "text", ...
    annotation: str | None  # the HTML comment just above the fence, without <!-- -->
    text: str  # the block's content, ending with a newline

    @property
    def language(self) -> str:
        words = self.info.split()
        return words[0] if words else ""

    @property
    def fragment(self) -> bool:
        return "no-test" in self.info.split()[1:]

    def source(self) -> Path | None:
        """The file the block names as its source, if it names one."""
        annotation = self.annotation or ""
        if annotation.startswith("example:"):
            return EXAMPLES / annotation.split(":", 1)[1].strip()
        if annotation.startswith("from "):
            return ROOT / annotation.split(" ", 1)[1].strip()
        return None

    def where(self) -> str:
        return f"{self.page}:{self.line}"


FENCE = re.compile(r"^(`{3,})(.*)$")
COMMENT = re.compile(r"^<!--\s*(.*?)\s*-->$")


def blocks(path: Path) -> Iterator[Block]:
    """The fenced blocks of a Markdown file (fences at the start of a line), each with the
    HTML comment on the last non-blank line above it."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    i = 0
    annotation: str | None = None
    while i < len(lines):
        line = lines[i].rstrip("\n")
        match = FENCE.match(line)
        if match is None:
            comment = COMMENT.match(line.strip())
            if comment is not None:
                annotation = comment.group(1)
            elif line.strip():
                annotation = None
            i += 1
            continue
        fence, info = match.group(1), match.group(2).strip()
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].rstrip("\n").startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        yield Block(path.name, start + 1, info, annotation, "".join(body))
        annotation = None


def python_blocks(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.language in ("python", "py")]


def is_run_of(block: str, source: str) -> bool:
    """Whether ``block`` is a run of whole lines of ``source``, dedented."""
    wanted = block.splitlines()
    if not wanted or not wanted[0].strip():
        return False
    lines = source.splitlines(keepends=True)
    return any(
        line.strip() == wanted[0].strip()
        and textwrap.dedent("".join(lines[i : i + len(wanted)])) == block
        for i, line in enumerate(lines)
    )


def check_block(block: Block, candidates: list[Path]) -> str | None:
    """None when the block comes from one of the files, else what is wrong."""
    for path in candidates:
        if not path.is_file():
            return f"{block.where()}: {path} does not exist"
        if is_run_of(block.text, path.read_text(encoding="utf-8")):
            return None
    names = ", ".join(p.name for p in candidates)
    return f"{block.where()}: this python block is not a run of whole lines of {names}"


# ---------------------------------------------------------------------- running examples
@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def report(self) -> str:
        return f"exit code {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def run_file(path: Path, source: str | None = None, timeout: float = EXAMPLE_TIMEOUT) -> Run:
    """Run a Python file (or ``source`` under its name) in a fresh interpreter."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "default"}
    env.pop("PYTHONASYNCIODEBUG", None)
    with tempfile.TemporaryDirectory() as tmp:
        target = path
        if source is not None:
            target = Path(tmp) / path.name
            target.write_text(source, encoding="utf-8")
        try:
            done = subprocess.run(
                [sys.executable, str(target)],
                cwd=EXAMPLES,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
            return Run(-1, out, err + f"\n(timed out after {timeout} s)")
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def runs() -> dict[str, Run]:
    """Every runnable example, run once per session, several at a time."""
    paths = [p for p in example_files() if runnable(p)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip([p.name for p in paths], pool.map(run_file, paths), strict=True))


@pytest.mark.timeout(600)  # the first one waits for the session's runs of every example
@pytest.mark.parametrize("name", [p.name for p in example_files()])
def test_example_runs(name: str, runs: dict[str, Run]) -> None:
    path = EXAMPLES / name
    ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    if name.startswith("readme_"):
        return  # run by test_readme_server_and_client
    if name not in runs:
        pytest.skip("python-socketio (with aiohttp and uvicorn) is not installed")
    run = runs[name]
    assert run.returncode == 0, run.report()
    assert not any(bad in run.stderr for bad in BAD_STDERR), run.report()


def shown_outputs() -> list[tuple[str, Block]]:
    found = []
    for page in PAGES + other_pages():
        if not (DOCS / page).is_file():
            continue  # test_pages_exist tells
        for block in blocks(DOCS / page):
            if block.annotation and block.annotation.startswith("output:"):
                found.append((block.annotation.split(":", 1)[1].strip(), block))
    return found


@pytest.mark.parametrize(
    ("name", "block"), shown_outputs(), ids=[b.where() for _, b in shown_outputs()]
)
def test_shown_output_is_real(name: str, block: Block, runs: dict[str, Run]) -> None:
    assert (EXAMPLES / name).is_file(), f"{block.where()}: no docs/examples/{name}"
    if name not in runs:
        pytest.skip(f"{name} is not run here")
    assert runs[name].returncode == 0, runs[name].report()
    assert runs[name].stdout == block.text, f"{block.where()}: the output shown differs"


# ---------------------------------------------------------------------- the docs' code
def test_pages_exist() -> None:
    assert [page for page in PAGES if not (DOCS / page).is_file()] == []


@pytest.mark.parametrize("page", PAGES + other_pages())
def test_python_blocks_come_from_examples(page: str) -> None:
    strict = page in PAGES
    problems = []
    for block in python_blocks(DOCS / page):
        if block.fragment:
            continue
        source = block.source()
        if source is None:
            if strict:
                problems.append(f"{block.where()}: no <!-- example: NAME.py --> above it")
            continue
        problem = check_block(block, [source])
        if problem:
            problems.append(problem)
    assert not problems, "\n".join(problems)


def test_other_pages_unchecked_blocks() -> None:
    """The python blocks of the other pages that name no source: listed, not failed."""
    unchecked = [
        block.where()
        for page in other_pages()
        for block in python_blocks(DOCS / page)
        if not block.fragment and block.source() is None
    ]
    if unchecked:
        pytest.skip("python blocks not taken from a file: " + ", ".join(unchecked))


def test_no_test_fragments_are_rare() -> None:
    fragments = [b.where() for page in PAGES for b in python_blocks(DOCS / page) if b.fragment]
    assert len(fragments) <= 3, fragments


def test_links_between_pages_resolve() -> None:
    problems = []
    for page in PAGES:
        text = (DOCS / page).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" not in target and not (DOCS / target).exists():
                problems.append(f"{page}: broken link {target}")
    assert not problems, "\n".join(problems)


def test_anchors_resolve() -> None:
    """Links to a section (page.md#section) name a heading of that page."""

    def anchors(path: Path) -> set[str]:
        titles = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), flags=re.M)
        slugs = set()
        for title in titles:
            slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
            slugs.add(slug)
        return slugs

    problems = []
    for page in PAGES:
        text = (DOCS / page).read_text(encoding="utf-8")
        for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text):
            path = DOCS / (target or page)
            if path.suffix == ".md" and anchor not in anchors(path):
                problems.append(f"{page}: no section #{anchor} in {path.name}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------- README.md
def test_readme_blocks_come_from_examples() -> None:
    candidates = sorted(EXAMPLES.glob("readme_*.py"))
    problems = [
        problem
        for block in python_blocks(README)
        if (problem := check_block(block, candidates)) is not None
    ]
    assert not problems, "\n".join(problems)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


# runs a file with Ctrl-C as in a terminal (SIGINT is ignored when the tests run in the background)
AS_IN_A_TERMINAL = """
import runpy, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
runpy.run_path(sys.argv[1], run_name="__main__")
"""


def test_readme_server_and_client() -> None:
    """README's server and client, each as written (but on a free port)."""
    port = str(_free_port())
    server_source = (EXAMPLES / "readme_server.py").read_text(encoding="utf-8")
    client_source = (EXAMPLES / "readme_client.py").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        server_file = Path(tmp) / "readme_server.py"
        server_file.write_text(server_source.replace("3000", port), encoding="utf-8")
        server = subprocess.Popen(
            [sys.executable, "-c", AS_IN_A_TERMINAL, str(server_file)],
            cwd=EXAMPLES,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_listening(int(port))
            run = run_file(EXAMPLES / "readme_client.py", client_source.replace("3000", port))
        finally:
            server.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                _, server_stderr = server.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                _, server_stderr = server.communicate()
    report = f"{run.report()}\n--- server's stderr\n{server_stderr}"
    assert run.returncode == 0, report
    # the README's "join" handler returns nothing: an acknowledgement without arguments
    assert run.stdout == "joined lobby\n", report
    # the server said where it listens, and Ctrl-C stopped it without a traceback
    assert server_stderr.startswith(
        f"listening on http://127.0.0.1:{port}/ (Socket.IO path: /socket.io/)\n"
    ), report
    assert f"clients connect to http://127.0.0.1:{port}/ " in server_stderr, report
    assert not any(bad in server_stderr for bad in (*BAD_STDERR, "KeyboardInterrupt")), report
    assert server.returncode == 0, report
