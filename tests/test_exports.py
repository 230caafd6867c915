"""The public names: every name in ``__all__`` exists, the list is sorted, nothing private."""

from __future__ import annotations

import aiosocketio


def test_all_names_exist() -> None:
    for name in aiosocketio.__all__:
        assert hasattr(aiosocketio, name), name


def test_all_is_sorted_and_unique() -> None:
    assert aiosocketio.__all__ == sorted(set(aiosocketio.__all__))


def test_no_private_names_exported() -> None:
    assert [n for n in aiosocketio.__all__ if n.startswith("_") and n != "__version__"] == []


def test_public_classes_are_exported() -> None:
    exported = set(aiosocketio.__all__)
    for name in ("Server", "Socket", "Namespace", "ClientSocket", "Manager", "connect"):
        assert name in exported
