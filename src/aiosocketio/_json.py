"""JSON with orjson where it can, the standard library where orjson refuses.

orjson refuses integers beyond 64 bits; JavaScript peers send only doubles, but Python callers
may emit big integers, which the standard library writes exactly as JSON allows.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["JSONDecodeError", "dumps", "loads"]

JSONDecodeError = ValueError

_orjson_dumps = orjson.dumps
_orjson_loads = orjson.loads
_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """Compact JSON text, as JavaScript's JSON.stringify writes it."""
    try:
        return _orjson_dumps(value, option=_OPTIONS).decode()
    except TypeError:
        # big integers, or subclasses orjson does not serialise
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_default)


def loads(text: str | bytes) -> Any:
    """Parse JSON text; raises ValueError on malformed input."""
    try:
        return _orjson_loads(text)
    except orjson.JSONDecodeError:
        # orjson rejects integers beyond 64 bits; the standard library reads them
        return json.loads(text)


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
