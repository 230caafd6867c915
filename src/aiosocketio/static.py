"""Static files, served the same way by both front doors (``Server(static_files=...)``).

A key is an exact URL path (``"/"``, ``"/app.js"``) or, when it ends with ``/``, a URL
prefix: ``{"/static/": "public/"}`` serves ``public/css/site.css`` at
``/static/css/site.css`` and ``public/index.html`` at ``/static/``. A value is a file (or
directory) name, or ``{"filename": ..., "content_type": ...}``. Paths that would leave the
directory (``..``, absolute parts, backslashes, NUL) are not served.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Mapping
from pathlib import Path

__all__ = ["StaticFile", "find_static", "serve_static"]

StaticFile = str | Path | Mapping[str, str]


def find_static(path: str, static_files: Mapping[str, StaticFile]) -> tuple[str, str] | None:
    """The file name and content type to serve for a URL path, or None."""
    entry = static_files.get(path)
    rest = ""
    if entry is None or _is_dir(_filename(entry)):
        found = _longest_prefix(path, static_files)
        if found is None:
            return None
        key, prefix = found
        entry = static_files[key]
        rest = path[len(prefix) :]
        if not _safe(rest):
            return None
        filename = str(Path(_filename(entry)) / rest)
        if not rest or rest.endswith("/"):
            filename = str(Path(filename) / "index.html")
        content_type = None  # a file of a directory: from its own name
    else:
        filename = _filename(entry)
        content_type = entry.get("content_type") if isinstance(entry, Mapping) else None
    if content_type is None:
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return filename, content_type


async def serve_static(
    method: str, found: tuple[str, str]
) -> tuple[int, list[tuple[str, str]], bytes]:
    """The answer to a GET or HEAD of a file :func:`find_static` found: status, headers, body.

    The file is read off the event loop; one that cannot be read (gone since, unreadable) is
    a 404. A HEAD gets the headers of a GET and no body.
    """
    filename, content_type = found
    try:
        body = await asyncio.to_thread(Path(filename).read_bytes)
    except OSError:
        return 404, [("Content-Type", "text/plain; charset=utf-8")], b"Not Found"
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    return 200, headers, b"" if method == "HEAD" else body


def _filename(entry: StaticFile) -> str:
    return str(entry["filename"]) if isinstance(entry, Mapping) else str(entry)


def _longest_prefix(path: str, static_files: Mapping[str, StaticFile]) -> tuple[str, str] | None:
    """The longest key that names a directory and is a prefix of the path (as ``/static/``
    with or without its final slash), and that prefix with the slash."""
    best: tuple[str, str] | None = None
    for key, entry in static_files.items():
        prefix = key if key.endswith("/") else key + "/"
        longer = best is None or len(prefix) > len(best[1])
        if (path.startswith(prefix) or path == key) and longer and _is_dir(_filename(entry)):
            best = (key, prefix)
    return best


def _safe(rest: str) -> bool:
    if "\\" in rest or "\0" in rest or rest.startswith("/"):
        return False
    return all(part not in ("..", ".") for part in rest.split("/"))


def _is_dir(filename: str) -> bool:
    return filename.endswith("/") or Path(filename).is_dir()
