"""Optional dependencies: an import that fails for want of one names the extra to install."""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator

__all__ = ["needs_extra"]


@contextlib.contextmanager
def needs_extra(what: str, packages: tuple[str, ...], *extras: str) -> Iterator[None]:
    """Imports in the block that miss one of ``packages`` raise a ModuleNotFoundError that
    says which ``pip install 'aiosocketio[EXTRA]'`` brings it. Other errors (a module of an
    installed package that fails) pass as they are.

        with needs_extra("the Redis adapter", ("redis",), "redis"):
            from redis.asyncio import Redis
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        package = (exc.name or "").partition(".")[0]
        if package not in packages or not _missing(package):
            raise
        install = " or ".join(f"pip install 'aiosocketio[{extra}]'" for extra in extras)
        raise ModuleNotFoundError(
            f"{what} needs the {package} package: {install}", name=exc.name
        ) from exc


def _missing(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is None
    except (ImportError, ValueError):
        return True
