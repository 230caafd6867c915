"""JSON with orjson where it can, the standard library where orjson refuses.

orjson refuses integers beyond 64 bits; JavaScript peers send only doubles, but Python callers
may emit big integers, which the standard library writes exactly as JSON allows.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

__all__ = ["JSONDecodeError", "dumps", "loads"]

JSONDecodeError = ValueError

_orjson_dumps = orjson.dumps
_orjson_loads = orjson.loads


def dumps(value: Any) -> str:
    """Compact JSON text, as JavaScript's JSON.stringify writes it."""
    try:
        return _orjson_dumps(value).decode()
    except TypeError:
        # big integers, non-string keys, lone surrogates, or types orjson does not serialise
        text = json.dumps(
            _finite(value), separators=(",", ":"), ensure_ascii=False, default=_default
        )
        if _SURROGATE.search(text) is None:
            return text
        # JSON.stringify joins surrogate pairs and escapes lone surrogates as \udxxx
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def loads(text: str | bytes | bytearray) -> Any:
    """Parse JSON text; raises ValueError on malformed input."""
    try:
        return _orjson_loads(text)
    except orjson.JSONDecodeError:
        # orjson rejects what JSON.parse accepts (lone surrogate escapes, 1e400); the
        # standard library reads them, but must refuse NaN/Infinity as JSON.parse does
        # and must not leak RecursionError on deeply nested input
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def _finite(value: Any) -> Any:
    """Replace NaN and infinities with None, as JSON.stringify writes them as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
