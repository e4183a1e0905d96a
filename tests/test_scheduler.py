"""The APScheduler wiring: the job's settings, the background scheduler of `feedsvc run`, the
lease between schedulers, and the `feedsvc scheduler` / `feedsvc run` processes (SIGTERM)."""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from feedsvc.catalog import Scope
from feedsvc.scheduler import CollectJob, add_collect_job, start_background, stop_background
from feedsvc.service import Service
from feedsvc.settings import Settings

from .conftest import poll_until

ALL = Scope("all", "tin-moi-nhat", "Tin mới nhất")
FEEDSVC = Path(sys.executable).parent / "feedsvc"


def wait_for(condition: Callable[[], object], timeout_s: float = 30.0) -> None:
    poll_until(condition, timeout_s)


def test_scheduler_job_is_configured_from_settings(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        schedule={"every_minutes": 15, "jitter_seconds": 30, "misfire_grace_seconds": 120}
    )
    sched = BackgroundScheduler(timezone=UTC)
    first = datetime.now(UTC)
    add_collect_job(
        sched, CollectJob(Service(settings), threading.Event()), settings, first_run=first
    )
    (job,) = sched.get_jobs()
    assert job.max_instances == 1 and job.coalesce is True
    assert job.misfire_grace_time == 120
    assert job.trigger.interval == timedelta(minutes=15)
    assert job.trigger.jitter == 30
    assert job.next_run_time == first  # a collection at start-up


def test_scheduler_without_first_run_waits_one_interval(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    service = Service(settings)
    stop = threading.Event()
    sched, job = start_background(service, stop)
    try:
        (scheduled,) = sched.get_jobs()
        assert scheduled.next_run_time > datetime.now(UTC) + timedelta(minutes=8)
    finally:
        assert stop_background(sched, job, stop)
    assert job.runs == 0


def test_scheduler_background_collects_then_stops_cleanly(settings: Settings) -> None:
    service = Service(settings)
    stop = threading.Event()
    sched, job = start_background(service, stop, first_run_in=timedelta(0))
    try:
        wait_for(lambda: job.runs >= 1 and job.idle.is_set())
    finally:
        assert stop_background(sched, job, stop)
    assert len(service.store.latest(ALL, 100)) == 48
    assert service.store.lease() is None
    assert not sched.running


def test_scheduler_job_skips_while_another_collector_holds_the_lease(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    service = Service(settings)
    holder = f"{socket.gethostname()}:{os.getpid()}:other"
    service.store.acquire_lease(holder, 300, now=datetime.now(UTC))
    job = CollectJob(service, threading.Event())
    with caplog.at_level(logging.INFO, logger="feedsvc"):
        job()  # never raises into APScheduler
    assert service.store.latest(ALL, 10) == []
    assert any(
        "schedule.skip" in r.getMessage() and holder in r.getMessage() for r in caplog.records
    )
    assert service.store.lease().owner == holder  # type: ignore[union-attr]


def test_scheduler_job_outlives_a_failing_run(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    service = Service(settings)
    service.store.init()
    import sqlalchemy as sa

    with service.store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE leases"))  # the store fails under the run
    job = CollectJob(service, threading.Event())
    with caplog.at_level(logging.INFO, logger="feedsvc"):
        job()
    assert job.idle.is_set() and job.runs == 1


# -- the processes --------------------------------------------------------------------------------


def spawn(*args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    return subprocess.Popen(
        [str(FEEDSVC), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=cwd,
    )


def test_cli_scheduler_collects_at_start_up_and_exits_0_on_sigterm(settings: Settings) -> None:
    proc = spawn("--config", str(settings.path), "scheduler")
    service = Service(settings)
    try:
        wait_for(lambda: service.store.source_state("baohoabinh").last_finished is not None)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "schedule.start" in out and "schedule.exit clean=True" in out
    assert len(service.store.latest(ALL, 100)) == 48
    assert service.store.lease() is None


def test_cli_run_collects_serves_and_exits_0_on_sigterm(settings: Settings) -> None:
    proc = spawn("--config", str(settings.path), "run", "--port", "0")
    assert proc.stdout is not None
    url = None
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            m = re.search(r"serving on (http://\S+/)", line)
            if m:
                url = m.group(1)
                break
        assert url, "".join(lines)
        with urllib.request.urlopen(url + "feeds/tin-moi-nhat.json?limit=100", timeout=10) as r:
            import json

            assert len(json.load(r)["items"]) == 48
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(lines) + (out or "")
    assert any("48 new" in line for line in lines)
