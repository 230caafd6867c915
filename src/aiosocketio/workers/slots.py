"""Worker slots: which process of one machine owns a session, told by the session id alone.

The workers of one server on one machine share a *run directory*. Each worker claims a slot
number there (the lowest free one, held by an exclusive ``flock`` that the kernel releases
when the process dies) and puts its sockets next to the lock::

    <dir>/w<slot>.lock    held for the worker's lifetime
    <dir>/w<slot>.http    forwarded requests (HTTP/1.1 and WebSocket over a Unix socket)
    <dir>/w<slot>.mesh    messages between workers (the inter-worker adapter)
    <dir>/w<slot>.fd      hand-off of accepted TCP connections (SCM_RIGHTS)

Every session id a worker makes starts with its slot in two URL-safe characters, followed by
18 random ones (108 bits), 20 characters in all like Node's. A request that carries a ``sid``
therefore names its owner without any shared table: :func:`slot_of`.

No asyncio here: this module is plain files and locks.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "MAX_SLOTS",
    "SOCKET_KINDS",
    "Slot",
    "WorkerDir",
    "new_sid",
    "slot_code",
    "slot_of",
]

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
MAX_SLOTS = len(_ALPHABET) ** 2
"""How many workers one run directory can hold (4096)."""

SOCKET_KINDS = ("http", "mesh", "fd")
"""The Unix sockets of a worker, by the suffix of their file name."""

log = logging.getLogger("aiosocketio.workers")

# sun_path holds 108 bytes on Linux (104 on the BSDs); "/w4095.mesh" takes 11 of them
_MAX_DIR_LENGTH = 90


def slot_code(slot: int) -> str:
    """The two characters that start the session ids of ``slot``."""
    if not 0 <= slot < MAX_SLOTS:
        raise ValueError(f"a worker slot is in [0, {MAX_SLOTS}), not {slot}")
    high, low = divmod(slot, len(_ALPHABET))
    return _ALPHABET[high] + _ALPHABET[low]


def slot_of(sid: str) -> int | None:
    """The slot a session id names, or None when it names none (too short, other characters)."""
    if len(sid) < 3:
        return None
    high = _INDEX.get(sid[0])
    low = _INDEX.get(sid[1])
    if high is None or low is None:
        return None
    return high * len(_ALPHABET) + low


def new_sid(slot: int) -> str:
    """A fresh session id owned by ``slot``."""
    return slot_code(slot) + secrets.token_urlsafe(15)[:18]


@dataclass(eq=False)
class Slot:
    """A claimed slot: the number and the open lock file that holds it."""

    dir: WorkerDir
    number: int
    _lock_fd: int | None = field(default=None, repr=False)
    _on_release: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def code(self) -> str:
        return slot_code(self.number)

    def path(self, kind: str) -> str:
        """The path of this worker's socket of ``kind`` (one of :data:`SOCKET_KINDS`)."""
        return self.dir.socket_path(self.number, kind)

    @property
    def held(self) -> bool:
        return self._lock_fd is not None

    def on_release(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when the slot is given back, before its files go (what lives
        on the slot's sockets stops with it)."""
        self._on_release.append(callback)

    def release(self) -> None:
        """Remove this worker's socket files and give the slot back (idempotent)."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is None:
            return
        callbacks, self._on_release = self._on_release, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("error in a callback of the release of slot %s", self.number)
        for kind in SOCKET_KINDS:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path(kind))
        os.close(fd)  # the lock goes with the descriptor; the file stays for the next owner


class WorkerDir:
    """The run directory shared by the workers of one server on one machine."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).absolute()
        if len(os.fsencode(self.path)) > _MAX_DIR_LENGTH:
            raise ValueError(
                f"the workers directory path is too long for Unix socket names "
                f"(at most {_MAX_DIR_LENGTH} bytes): {self.path}"
            )

    def __repr__(self) -> str:
        return f"WorkerDir({str(self.path)!r})"

    def socket_path(self, slot: int, kind: str) -> str:
        if kind not in SOCKET_KINDS:
            raise ValueError(f"unknown socket kind {kind!r} (one of {SOCKET_KINDS})")
        return str(self.path / f"w{slot}.{kind}")

    def _lock_path(self, slot: int) -> Path:
        return self.path / f"w{slot}.lock"

    def claim(self, preferred: int | None = None) -> Slot:
        """Claim ``preferred`` (waiting for nobody: ``BlockingIOError`` when it is held), or
        the lowest free slot. Stale socket files of a dead previous owner are removed."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        candidates = [preferred] if preferred is not None else range(MAX_SLOTS)
        for number in candidates:
            slot_code(number)  # range check
            fd = os.open(self._lock_path(number), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if preferred is not None:
                    raise BlockingIOError(
                        f"worker slot {number} of {self.path} is held by another process"
                    ) from None
                continue
            slot = Slot(self, number, fd)
            for kind in SOCKET_KINDS:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(slot.path(kind))
            return slot
        raise RuntimeError(f"every worker slot of {self.path} is taken ({MAX_SLOTS})")

    def live_slots(self) -> list[int]:
        """The slots held by a running process now (read from the locks, not from a table)."""
        live: list[int] = []
        if not self.path.is_dir():
            return live
        for entry in self.path.glob("w*.lock"):
            try:
                number = int(entry.name[1:-5])
            except ValueError:
                continue
            if self._held(entry):
                live.append(number)
        return sorted(live)

    def is_live(self, slot: int) -> bool:
        """Whether a running process holds ``slot`` now."""
        return self._held(self._lock_path(slot))

    @staticmethod
    def _held(lock: Path) -> bool:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)
