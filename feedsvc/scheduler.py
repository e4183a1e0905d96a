"""APScheduler wiring only: collect every N minutes with jitter, one run at a time.

``feedsvc scheduler`` runs ``run_blocking`` (the production collector process, exactly one);
``feedsvc run`` starts ``start_background`` beside its web server (a single machine, the demo).
Web workers (``create_app``, gunicorn) never build a scheduler. Even so, two schedulers by
mistake do no harm: each run takes the collector lease in the database first, and a run that
finds it held is skipped with a log line.

SIGTERM (and Ctrl-C) sets the stop event: the collection in progress finishes its current
article, releases the lease, and the process exits 0.

Both keep their sources from one run to the next (``Service(keep_sources=True)``): robots.txt,
the per-host delay and the validators behind 304s carry over; they are closed at shutdown.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .exceptions import LeaseHeldError
from .logs import log_event
from .service import Service
from .settings import Settings

log = logging.getLogger(__name__)

JOB_ID = "collect"


class CollectJob:
    """The scheduled job: one collection under the lease; never raises into APScheduler."""

    def __init__(self, service: Service, stop: threading.Event) -> None:
        self.service = service
        self.stop = stop
        self.idle = threading.Event()
        self.idle.set()
        self.runs = 0

    def __call__(self) -> None:
        if self.stop.is_set():
            return
        self.idle.clear()
        try:
            self.runs += 1
            results = self.service.collect(respect_backoff=True, stop=self.stop)
            log_event(
                log,
                logging.INFO,
                "schedule.run",
                sources=len(results),
                ok=sum(1 for r in results if r.ok and not r.skipped),
                failed=sum(1 for r in results if not r.ok),
                skipped=sum(1 for r in results if r.skipped),
                interrupted=any(r.interrupted for r in results),
                new=sum(r.new for r in results),
            )
        except LeaseHeldError as e:
            log_event(log, logging.WARNING, "schedule.skip", reason="lease", detail=str(e))
        except Exception:  # the scheduler must outlive any failure of one run
            log.exception("schedule.run unexpected error")
        finally:
            self.idle.set()

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        return self.idle.wait(timeout_s)


def add_collect_job(
    sched: BaseScheduler, job: CollectJob, settings: Settings, *, first_run: datetime | None
) -> None:
    """Collect on the interval with jitter; never two at once; a late run is run once
    (coalesced) if it is less than the misfire grace time late, else skipped."""
    s = settings.schedule
    when = {"next_run_time": first_run} if first_run is not None else {}  # None would pause it
    sched.add_job(
        job,
        IntervalTrigger(minutes=s.every_minutes, jitter=s.jitter_seconds or None, timezone=UTC),
        id=JOB_ID,
        name="collect every source",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, round(s.misfire_grace_seconds)),
        replace_existing=True,
        **when,
    )


def _longest_run_s(settings: Settings) -> float:
    return max((s.deadline_seconds for s in settings.sources), default=60.0) + 60.0


def run_blocking(settings: Settings, *, stop: threading.Event | None = None) -> int:
    """The collector process: a collection at start-up, then on the schedule, until SIGTERM."""
    service = Service(settings, keep_sources=True)
    service.store.init()  # a schema newer than this code stops us here, with the reason
    stop = stop or threading.Event()
    job = CollectJob(service, stop)
    sched = BlockingScheduler(timezone=UTC)
    add_collect_job(sched, job, settings, first_run=datetime.now(UTC))

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log_event(log, logging.INFO, "schedule.stop", signal=signal.Signals(signum).name)
        stop.set()
        if sched.running:
            sched.shutdown(wait=False)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    log_event(
        log,
        logging.INFO,
        "schedule.start",
        every_minutes=settings.schedule.every_minutes,
        jitter_seconds=settings.schedule.jitter_seconds,
        sources=",".join(s.name for s in settings.sources),
    )
    try:
        if not stop.is_set():
            sched.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        finished = job.wait_idle(_longest_run_s(settings))
        service.close()
    log_event(log, logging.INFO, "schedule.exit", clean=finished)
    return 0 if finished else 1


def start_background(
    service: Service, stop: threading.Event, *, first_run_in: timedelta | None = None
) -> tuple[BackgroundScheduler, CollectJob]:
    """The scheduler beside a web server (``feedsvc run``), in a daemon thread."""
    service.keep_sources = True
    job = CollectJob(service, stop)
    sched = BackgroundScheduler(timezone=UTC, daemon=True)
    first = datetime.now(UTC) + first_run_in if first_run_in is not None else None
    add_collect_job(sched, job, service.settings, first_run=first)
    sched.start()
    return sched, job


def stop_background(sched: BackgroundScheduler, job: CollectJob, stop: threading.Event) -> bool:
    """Stop the background scheduler; the run in progress finishes its current article."""
    stop.set()
    if sched.running:
        sched.shutdown(wait=False)
    finished = job.wait_idle(_longest_run_s(job.service.settings))
    job.service.close_sources()
    return finished
