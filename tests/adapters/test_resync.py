"""The hold-and-report state of a broker link (the adapters' tests run it against real
brokers: test_redis.py, test_postgres.py)."""

from __future__ import annotations

import logging
import time

import pytest

from aiosocketio.adapters.resync import DeliveryReport, Resync


async def test_hold_counts_once_and_release_reports_nothing_when_all_came_back() -> None:
    reports: list[DeliveryReport] = []
    resync = Resync("Redis", 1.0, reports.append)
    assert not resync.held
    resync.hold("the subscriber connection is lost")
    resync.hold("cannot publish")  # already held: one hold
    assert resync.held and resync.holds == 1
    resync.release()
    assert not resync.held and reports == []
    resync.release()  # not held: nothing happens
    assert resync.reported == {"short": 0, "unconfirmed": 0, "dropped": 0, "deaf": 0}


def test_timeout_counts_from_when_the_broker_is_reachable() -> None:
    now = [100.0]
    resync = Resync("PostgreSQL", 0.05, None)
    resync.clock = lambda: now[0]
    resync.hold("the listening connection is lost")
    now[0] += 0.08
    assert not resync.expired(False)  # unreachable: the wait has not started
    assert not resync.expired(True)  # reachable from now on
    now[0] += 0.03
    assert not resync.expired(True)
    assert not resync.expired(False)  # unreachable again: starts over
    assert not resync.expired(True)
    now[0] += 0.049
    assert not resync.expired(True)
    now[0] += 0.001
    assert resync.expired(True)


async def test_unconfirmed_release_reports_the_messages_and_the_missing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reports: list[DeliveryReport] = []
    resync = Resync("Redis", 0.5, reports.append)
    before = time.time()
    resync.hold("cannot publish")
    with caplog.at_level(logging.WARNING, "aiosocketio.adapters"):
        resync.release(7, "1 of 2 servers of /")
    [report] = reports
    assert report.kind == "unconfirmed" and report.messages == 7
    assert before <= report.since <= report.until <= time.time()
    assert report.detail == "missing: 1 of 2 servers of /"
    assert resync.reported["unconfirmed"] == 7
    assert "1 of 2 servers of / not subscribed again" in caplog.text


async def test_reports_count_and_a_failing_hook_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(report: DeliveryReport) -> None:
        raise RuntimeError("boom")

    resync = Resync("Redis", 1.0, broken)
    with caplog.at_level(logging.ERROR, "aiosocketio.adapters"):
        resync.report("short", 1, detail="/: 1 of 2 servers")
        resync.report("dropped", 1)
        resync.report("deaf", 0, time.time() - 1.0)
        resync.report("deaf", 0)
    assert resync.reported == {"short": 1, "unconfirmed": 0, "dropped": 1, "deaf": 2}
    assert caplog.text.count("error in the on_report hook") == 4


def test_report_is_a_frozen_record() -> None:
    report = DeliveryReport("short", 1, 1.0, 2.0, "x")
    with pytest.raises(AttributeError):
        report.messages = 2  # type: ignore[misc]
