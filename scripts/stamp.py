"""Stamps that let scripts/setup skip an install that is already up to date.

A stamp file holds one key: a hash of the files an install depends on (their names and
contents; a missing file counts as missing) and of extra words (a Python or Node version).

    python3 scripts/stamp.py check STAMP [--also WORD]... FILE...   # exit 0: up to date
    python3 scripts/stamp.py write STAMP [--also WORD]... FILE...

``check`` prints why an install is needed (no stamp, or what the stamp was made from has
changed). Only the standard library: it runs before the virtualenv exists.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path


def key(files: list[str], also: list[str]) -> str:
    digest = hashlib.sha256()
    for word in also:
        digest.update(b"also\0" + word.encode() + b"\0")
    for name in files:
        path = Path(name)
        content = path.read_bytes() if path.is_file() else b"(missing)"
        digest.update(b"file\0" + name.encode() + b"\0")
        digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()


def check(stamp: Path, files: list[str], also: list[str]) -> str | None:
    """None when ``stamp`` holds the current key, else why it does not."""
    if not stamp.is_file():
        return "no stamp"
    if stamp.read_text().strip() != key(files, also):
        return "changed since the last install"
    return None


def write(stamp: Path, files: list[str], also: list[str]) -> None:
    stamp.write_text(key(files, also) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=("check", "write"))
    parser.add_argument("stamp", type=Path)
    parser.add_argument("--also", action="append", default=[], metavar="WORD")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    if args.action == "write":
        write(args.stamp, args.files, args.also)
        return 0
    reason = check(args.stamp, args.files, args.also)
    if reason is None:
        return 0
    print(reason)
    return 1


if __name__ == "__main__":
    sys.exit(main())
