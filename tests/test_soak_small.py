"""Short CI versions of the reliability runs of ``soak/`` (each well under 30 s).

* soak: 500 raw connections on one server process for 15 s, broadcasts every 0.5 s, an
  emit with ack per connection every second, heartbeats every 2 s: nothing lost, no
  heartbeat timeout, memory flat;
* restart: 200 clients (our client, real reconnection backoff) on a Redis Streams cluster
  with connection state recovery; one server is stopped and started under a 100 ms
  broadcast: every client comes back recovered, nothing lost or twice, reconnections spread
  out (with 200 clients restoring at once, the restore races fixed in the streams adapter
  showed: a broadcast lost or replayed twice now and then);
* broker faults: a private ``redis-server`` on a free port is shut down (``nosave``) and
  started again, and a private PostgreSQL cluster (``initdb`` in a temporary directory) is
  stopped and started, under traffic between two servers: the servers recover by
  themselves and every lost event is accounted for (see ``soak/broker_faults.py``). The
  shared Redis and PostgreSQL of the test session are never touched (the restart test only
  uses the shared Redis, under keys of its own).

The scripts run as subprocesses; each prints its JSON summary as the last line of stdout.
The long versions: ``scripts/soak`` (see ``soak/README.md``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.conftest import REDIS_URL, redis_unreachable_reason

# each script runs for 10 to 30 s; a loaded machine may take several times that
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parent.parent
SOAK = ROOT / "soak"


def run_script(script: str, *args: str, logs: Path, timeout: float = 180.0) -> dict[str, Any]:
    """Run ``soak/<script>`` (its processes' logs in ``logs``) and return its JSON summary.
    How long it takes is not checked (a loaded machine is slower); ``timeout`` stops a hang."""
    proc = subprocess.run(
        [sys.executable, str(SOAK / script), *args, "--quiet", "--logs", str(logs)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        pytest.fail(
            f"{script} printed no summary (status {proc.returncode})\n"
            f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def brief(result: dict[str, Any]) -> str:
    """The summary without the bulky parts, for assertion messages."""
    return json.dumps({k: v for k, v in result.items() if k not in ("samples",)})[:4000]


def test_soak_500_connections(tmp_path: Path) -> None:
    result = run_script(
        "soak.py",
        "--connections", "500",
        "--seconds", "15",
        "--broadcast-interval", "0.5",
        "--ack-interval", "1",
        "--ping-interval", "2",
        "--ping-timeout", "5",
        "--sample-interval", "1",
        "--drain", "5",
        "--max-rss-growth-mb", "8",
        logs=tmp_path,
    )  # fmt: skip
    assert result["ok"], brief(result)
    deliveries = result["deliveries"]
    assert deliveries["lost"] == 0 and deliveries["duplicates"] == 0
    assert deliveries["delivered"] == deliveries["expected"] == 500 * result["broadcasts"]
    assert result["broadcasts"] >= 25
    acks = result["acks"]
    assert acks["lost"] == 0 and acks["received"] == acks["sent"] >= 500 * 12
    assert result["heartbeat_timeouts"] == 0
    # a ping every 2 s (~9 per connection): the next ping is due ping_interval after the
    # pong, also when ping_timeout (5 s) is the longer of the two
    assert result["pings_answered"] >= 500 * 6
    assert not result["server_disconnect_reasons"] and not result["client_unexpected_closes"]
    assert result["memory"]["growth_mb"] <= 8


@pytest.fixture(scope="module")
def shared_redis() -> str:
    reason = redis_unreachable_reason(REDIS_URL)
    if reason is not None:
        pytest.skip(reason)
    return REDIS_URL


def test_restart_under_load(shared_redis: str, tmp_path: Path) -> None:
    result = run_script(
        "restart.py",
        "--redis", shared_redis,
        "--clients", "200",
        "--restarts", "1",
        "--down", "1",
        "--interval", "1",
        "--warmup", "1",
        "--max-peak-share", "0.3",
        logs=tmp_path,
    )  # fmt: skip
    assert result["ok"], brief(result)
    [restart] = result["per_restart"]
    assert result["deliveries"]["lost"] == 0 and result["deliveries"]["duplicates"] == 0
    assert result["broadcasts"] >= 30  # every 100 ms, around the restart
    assert result["reconnections"] == {"recovered": 200, "not_recovered": 0}
    assert restart["reconnected"] == restart["recovered"] == 200
    # the real backoff (1 s, randomization 0.5): the first attempts spread over 0.5..1.5 s
    first = restart["first_attempt_s"]
    assert first["min"] >= 0.4 and first["max"] <= 2.5 and first["max"] - first["min"] >= 0.5
    # no thundering herd: at most 30 % of the clients in any 100 ms (they spread over ten
    # such bins, about 12 % at the peak; without randomization they would all be in one)
    assert restart["peak_attempt_share"] <= 0.3


def private_postgres_possible() -> str | None:
    """Why a private PostgreSQL cluster cannot be made here (None when it can)."""
    if not Path("/usr/lib/postgresql").is_dir():
        return "no PostgreSQL server binaries under /usr/lib/postgresql"
    if not any(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return "initdb is not installed"
    if os.geteuid() == 0 and (shutil.which("runuser") is None or _no_user("postgres")):
        return "running as root without a postgres user to run initdb as"
    return None


def _no_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return True
    return False


def need_private_broker(adapter: str) -> None:
    pytest.importorskip("msgpack")
    if adapter == "postgres":
        pytest.importorskip("psycopg")
        reason = private_postgres_possible()
        if reason is not None:
            pytest.skip(reason)
    else:
        pytest.importorskip("redis")
        if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
            pytest.skip("redis-server and redis-cli are needed to start a private Redis")


@pytest.mark.parametrize("adapter", ["redis", "streams", "postgres"])
def test_broker_fault(adapter: str, tmp_path: Path) -> None:
    need_private_broker(adapter)
    result = run_script(
        "broker_faults.py",
        "--adapters", adapter,
        "--broker", "private",
        "--faults", "1",
        "--down", "2",
        "--clients", "10",
        "--warmup", "1",
        "--between", "1",
        "--drain", "2",
        "--recover-timeout", "12",
        logs=tmp_path,
    )  # fmt: skip
    [r] = result["results"]
    assert "error" not in r, brief(r)
    assert r["ok"], brief(r)
    checks = r["checks"]
    # the servers found the broker again by themselves, clients never noticed
    assert checks["servers_recovered_by_themselves"], r["faults"]
    assert all(f["servers_saw_the_fault"] == {"A": True, "B": True} for f in r["faults"])
    assert checks["clients_stayed_connected"]
    # local delivery never stops; nothing is lost silently: the streams adapter keeps the
    # broadcasts in Redis, the Pub/Sub ones hold their queue after the outage until the other
    # server is subscribed again and report what they cannot confirm
    assert checks["no_local_loss"] and checks["no_silent_loss"]
    b = r["broadcasts"]
    assert b["delivered"] + b["reported"] + b["in_deaf_window"] + b["silent"] == b["broadcasts"]
    assert b["broadcasts"] > 0 and b["silent"] == 0 and b["duplicates"] == 0
    # a full outage (every server saw it): the hold delivers everything, nothing to report
    assert b["delivered"] == b["broadcasts"], brief(r)
    # broadcasts with acks: answered by all, or ended with an error (reported)
    k = r["ack_broadcasts"]
    assert k["complete"] + k["reported"] + k["silent_partial"] == k["broadcasts"] > 0


@pytest.mark.parametrize("adapter", ["redis", "postgres"])
def test_receiver_cut(adapter: str, tmp_path: Path) -> None:
    """Only server B's receiving connection is cut, 3 times: A notices nothing and keeps
    publishing; what B misses is reported, by A (Redis counts the receivers of each
    message) or by B (PostgreSQL: the windows it was not listening)."""
    need_private_broker(adapter)
    result = run_script(
        "broker_faults.py",
        "--adapters", adapter,
        "--fault", "subscriber",
        "--faults", "3",
        "--between", "0.5",
        "--clients", "10",
        "--warmup", "1",
        "--drain", "2",
        logs=tmp_path,
    )  # fmt: skip
    [r] = result["results"]
    assert "error" not in r, brief(r)
    assert r["ok"], brief(r)
    assert all(f["servers_saw_the_fault"] == {"A": False, "B": True} for f in r["faults"])
    b = r["broadcasts"]
    assert b["silent"] == 0 and b["missed_locally"] == 0 and b["duplicates"] == 0
    a = r["per_origin"]["A"]
    if adapter == "redis":
        # A reported what B missed. A's count is of every message that reached fewer
        # servers, the broadcasts with acks included, so it may be more; and a broadcast
        # Redis counted just before the cut took it from B's buffer falls in B's deaf window
        missed = a["missed_remotely"] - a["in_receiver_deaf_window"]
        assert a["sender_reported_counters"]["short"] >= missed, brief(r)
    else:  # B reported each cut as a window, and every miss falls in one
        assert len(a["receiver_deaf_windows_s"]) == 3
        assert a["in_receiver_deaf_window"] == a["missed_remotely"], brief(r)
