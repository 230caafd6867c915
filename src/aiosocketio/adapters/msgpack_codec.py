"""MessagePack as the Node cluster packages write it (notepack.io 3).

The Node adapters and emitters encode with notepack.io, whose mapping of JavaScript values is:

* ``Buffer`` / typed arrays -> ``bin`` (here: :class:`bytes`, and ``bytearray`` /
  ``memoryview`` are written as ``bin`` too);
* ``Date`` -> timestamp extension ``-1`` (here: an aware :class:`datetime.datetime` in UTC; a
  naive one is taken as UTC);
* ``undefined`` -> ``nil`` inside arrays, and a key whose value is ``undefined`` is left out
  of its map (here: ``None`` is always written as ``nil``);
* integral numbers -> the smallest integer format, other numbers -> ``float 64``.

Older notepack versions wrote ``undefined`` as the extension ``fixext 1`` of type 0 and
``ArrayBuffer`` as an extension of type 0; both are still read (as ``None`` and ``bytes``).
Any other extension is read as ``[type, bytes]``, as notepack does.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from .._extras import needs_extra

with needs_extra("the cluster adapters and emitters", ("msgpack",), "redis", "postgres"):
    import msgpack

__all__ = ["decode", "encode"]

_UTC = _dt.UTC


def _default(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_UTC)
        return msgpack.Timestamp.from_datetime(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as MessagePack")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == 0:
        # legacy notepack: fixext 1 of type 0 is `undefined`, other sizes an ArrayBuffer
        return None if len(data) == 1 else bytes(data)
    return [code, bytes(data)]


def encode(value: Any) -> bytes:
    """Encode a value; raises TypeError for a value that has no MessagePack form."""
    try:
        data: bytes = msgpack.packb(value, use_bin_type=True, default=_default)
    except (OverflowError, ValueError) as exc:  # integers beyond 64 bits, ...
        raise TypeError(str(exc)) from exc
    return data


def decode(data: bytes) -> Any:
    """Decode one value; raises ValueError on malformed input."""
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=False,
            ext_hook=_ext_hook,
            timestamp=3,
        )
    except ValueError:
        raise
    except Exception as exc:  # msgpack's own exception classes for truncated/extra data
        raise ValueError(f"malformed MessagePack: {exc}") from exc
