"""What the fuzz targets of ``fuzz/`` share: the atheris driver, and the ``Reader`` that turns
the fuzzer's bytes into choices. Not a target itself (``scripts/fuzz`` runs ``fuzz_*.py``).

A target imports it as ``_common``: ``fuzz/`` is on ``sys.path`` when the target runs as a
script, and the target adds it when ``tests/fuzz`` loads it from its file.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def instrumented(name: str) -> Any:
    """Coverage instrumentation of aiosocketio when the target runs by atheris (its
    ``__name__`` is ``name``), nothing when it is imported."""
    if name == "__main__":
        atheris = importlib.import_module("atheris")  # only needed to fuzz
        return atheris.instrument_imports(include=["aiosocketio"])
    return contextlib.nullcontext()


def fuzz(one_input: Callable[[bytes], None]) -> None:
    """Run ``one_input`` under atheris: libFuzzer options and corpus from the command line."""
    atheris = importlib.import_module("atheris")
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


class Reader:
    """Turns fuzzer bytes into choices; past the end every read gives zeros."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def more(self) -> bool:
        return self.pos < len(self.data)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        value = self.data[self.pos]
        self.pos += 1
        return value

    def pick(self, options: Sequence[T]) -> T:
        return options[self.byte() % len(options)]

    def chunk(self, limit: int = 64) -> bytes:
        size = self.byte() % (limit + 1)
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out

    def text(self, limit: int = 64) -> str:
        return self.chunk(limit).decode("utf-8", "replace")

    def mixed_text(self, pieces: Sequence[str], limit: int) -> str:
        """The rest of the input as text: known pieces and free text, alternately chosen."""
        parts: list[str] = []
        while self.more():
            parts.append(self.pick(pieces) if self.byte() % 2 else self.text(limit))
        return "".join(parts)

    def mixed_bytes(self, pieces: Sequence[bytes], limit: int) -> bytes:
        """The rest of the input as bytes: known pieces and free bytes."""
        parts: list[bytes] = []
        while self.more():
            parts.append(self.pick(pieces) if self.byte() % 2 else self.chunk(limit))
        return b"".join(parts)
