"""One worker of ``serve --workers N``: ``python -m aiosocketio.workers.supervised``, started by
the supervisor (:mod:`aiosocketio.workers.supervisor`), which passes its settings in the
``AIOSOCKETIO_WORKER`` environment variable.

The worker loads the app as ``serve`` does, listens on the supervisor's port in workers mode
(``SO_REUSEPORT``, a slot of the run directory, the hand-off), tells the supervisor it is
ready, and drains on SIGTERM or SIGINT or when the supervisor goes away: it stops accepting,
answers the requests it is serving, closes its sessions (the clients reconnect), and exits
with 0. Its log records start with ``[worker N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from . import WORKERS_DIR_ENV, supervisor
from .supervisor import ENV_WORKER, EXIT_ERROR, EXIT_OK, EXIT_USAGE

__all__ = ["main"]

log = logging.getLogger("aiosocketio.cli")


class _Prefixed(logging.Formatter):
    def __init__(self, inner: logging.Formatter | None, prefix: str) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        return self.prefix + self.inner.format(record)


def _prefix_logs(prefix: str) -> None:
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_Prefixed(handler.formatter, prefix))


async def _serve(config: dict[str, Any], args: argparse.Namespace) -> int:
    from .. import cli

    run_dir = os.environ[WORKERS_DIR_ENV]
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    lifeline = int(config["lifeline"])

    def supervisor_gone() -> None:
        with contextlib.suppress(OSError):
            if os.read(lifeline, 1):
                return
        loop.remove_reader(lifeline)
        log.warning("the supervisor is gone: stopping")
        stop.set()

    loop.add_reader(lifeline, supervisor_gone)
    try:
        io = await cli._load_app(args.app) if args.app else cli._build_server(args)
    except cli._AppError as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    except Exception:
        log.exception("could not load %s", args.app)
        return EXIT_ERROR
    if io.workers_dir is None or Path(io.workers_dir).absolute() != Path(run_dir).absolute():
        log.error(
            "the app's Server has workers_dir=%r: under `serve --workers` leave it unset (the"
            " supervisor sets %s)",
            io.workers_dir,
            WORKERS_DIR_ENV,
        )
        return EXIT_USAGE
    try:
        # no TCP socket: the supervisor's router passes the connections
        standalone = await io.start(args.host, args.port, listen=False)
    except OSError as exc:
        log.error("could not start the worker: %s", exc)
        return EXIT_ERROR
    worker = io.worker
    assert worker is not None and worker.slot is not None
    ready_line = {
        "path": io.engine.path,
        "slot": worker.slot.number,
        "page": "/" in io.static_files,
    }
    with os.fdopen(int(config["ready"]), "w") as ready:
        ready.write(json.dumps(ready_line) + "\n")
    await stop.wait()
    handoff = standalone.handoff
    await standalone.close(timeout=float(config["grace"]))
    await io.close()  # and the slot goes back
    if handoff is not None:
        log.info(
            "stopped (connections handed to other workers: %d, received: %d, kept: %d)",
            handoff.sent,
            handoff.adopted,
            handoff.refused,
        )
    return EXIT_OK


def main() -> int:
    raw = os.environ.pop(ENV_WORKER, None)
    if raw is None:
        print(f"{__name__} is started by `serve --workers N`", file=sys.stderr)
        return EXIT_USAGE
    from .. import cli

    supervisor.in_worker = True
    config = json.loads(raw)
    for entry in reversed(config.get("import_path") or ()):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    args = argparse.Namespace(**config["settings"])
    cli._setup_logging(args.log_level, args.quiet)
    _prefix_logs(f"[worker {config['index']}] ")
    try:
        return cli._run(_serve(config, args))
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
