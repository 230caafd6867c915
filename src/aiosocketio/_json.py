"""JSON with orjson where it can, the standard library where orjson refuses.

orjson refuses integers beyond 64 bits; JavaScript peers send only doubles, but Python callers
may emit big integers, which the standard library writes exactly as JSON allows.

Both paths write Python values that JSON has no type for the same way (:func:`plain`): a
``datetime`` as JavaScript's ``Date.prototype.toISOString()`` writes it, a dataclass as an
object of its fields, a set as an array, and so on; docs/json.md has the whole table.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import math
import re
import uuid
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["ORJSON_OPTION", "JSONDecodeError", "dumps", "loads", "plain"]

JSONDecodeError = ValueError

_orjson_loads = orjson.loads


def plain(value: Any) -> Any:
    """What a value JSON has no type for is written as (every parser's ``default``).

    Raises TypeError for a value that is not sent (with what to do instead, when there is
    a choice the caller must make)."""
    if isinstance(value, _dt.datetime):
        return iso_datetime(value)
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        raise TypeError(
            "a Decimal is not sent: JavaScript has no decimal type. Convert it: "
            "str(value) keeps every digit, float(value) gives a number"
        )
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def iso_datetime(value: _dt.datetime) -> str:
    """``2026-12-06T09:42:33.740Z``, as a JavaScript Date is sent: UTC, milliseconds (cut,
    not rounded, as ``new Date()`` does with a fraction). A naive datetime is taken as UTC,
    as the msgpack parser does."""
    if value.tzinfo is not None:
        value = value.astimezone(_dt.UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
        f"{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


# orjson writes dates and times itself (RFC 3339, microseconds, +00:00): they go to plain().
# Called as _orjson_dumps(value, plain, ORJSON_OPTION): positional arguments are the fastest.
ORJSON_OPTION = orjson.OPT_PASSTHROUGH_DATETIME
_orjson_dumps = orjson.dumps


def dumps(value: Any) -> str:
    """Compact JSON text, as JavaScript's JSON.stringify writes it."""
    try:
        return _orjson_dumps(value, plain, ORJSON_OPTION).decode()
    except TypeError:
        pass  # big integers, non-string keys, lone surrogates, or a type refused below
    text = json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=False, default=plain)
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
