"""Several worker processes of one server on one machine: slots, sticky routing, the
inter-worker adapter and the supervisor."""

WORKERS_DIR_ENV = "AIOSOCKETIO_WORKERS_DIR"
"""The environment variable that turns workers mode on: the run directory of the workers
(read by :class:`~aiosocketio.Server` when ``workers_dir`` is not given)."""
