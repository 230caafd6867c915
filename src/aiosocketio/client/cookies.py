"""The cookies a client keeps for its server (``with_credentials=True``), as the cookie jar of
engine.io-client under Node: every ``Set-Cookie`` of the server's HTTP answers is kept
(``Expires`` and ``Max-Age`` honoured, the other attributes ignored: one jar serves one
server), and every later request carries them. A load balancer that pins a client to a
server with a cookie needs this."""

from __future__ import annotations

import time
from collections.abc import Iterable
from email.utils import parsedate_to_datetime

__all__ = ["CookieJar"]


class CookieJar:
    def __init__(self) -> None:
        self._cookies: dict[str, tuple[str, float | None]] = {}

    def __len__(self) -> int:
        return len(self._live())

    def update(self, set_cookies: Iterable[str]) -> None:
        """Take in the values of ``Set-Cookie`` headers."""
        now = time.time()
        for header in set_cookies:
            parsed = _parse(header, now)
            if parsed is None:
                continue
            name, value, expires = parsed
            if expires is not None and expires <= now:
                self._cookies.pop(name, None)
            else:
                self._cookies[name] = (value, expires)

    def header(self) -> str | None:
        """The value of the ``Cookie`` header to send, or None when there is nothing."""
        live = self._live()
        return "; ".join(f"{name}={value}" for name, value in live.items()) or None

    def _live(self) -> dict[str, str]:
        now = time.time()
        return {
            name: value
            for name, (value, expires) in self._cookies.items()
            if expires is None or expires > now
        }


def _parse(header: str, now: float) -> tuple[str, str, float | None] | None:
    first, *attributes = header.split(";")
    name, sep, value = first.partition("=")
    name = name.strip()
    if not sep or not name:
        return None
    expires: float | None = None
    max_age: float | None = None
    for attribute in attributes:
        key, _, raw = attribute.partition("=")
        key = key.strip().lower()
        raw = raw.strip()
        if key == "max-age":
            try:
                max_age = now + int(raw)
            except ValueError:
                continue
        elif key == "expires":
            try:
                expires = parsedate_to_datetime(raw).timestamp()
            except (TypeError, ValueError):
                continue
    # Max-Age wins over Expires (RFC 6265, 5.3)
    return name, value.strip(), max_age if max_age is not None else expires
