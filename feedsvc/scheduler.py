"""APScheduler wiring only: collect every N minutes with jitter, one run at a time."""

from __future__ import annotations

import logging
import signal
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from .service import Service
from .settings import Settings

log = logging.getLogger(__name__)


def run_blocking(settings: Settings) -> int:
    """The collector process: a collection at start-up, then on the schedule."""
    service = Service(settings)
    sched = BlockingScheduler(timezone="UTC")

    def job() -> None:
        results = service.collect()
        for r in results:
            log.info("scheduled collect source=%s new=%d error=%s", r.source, r.new, r.error)

    sched.add_job(
        job,
        "interval",
        minutes=settings.schedule.every_minutes,
        jitter=settings.schedule.jitter_seconds,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=300,
        next_run_time=__import__("datetime").datetime.now(__import__("datetime").UTC),
    )

    def stop(_sig: int, _frame: FrameType | None) -> None:
        sched.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0
