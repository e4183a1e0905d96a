"""Progress of a long collection (``feedsvc collect --backfill N``), for the operator watching it.

A source reports what it plans and what it finished (listing pages, articles) to the
``Progress`` of the current context; the CLI installs one around a run with ``showing()``.
Outside such a block (the scheduler, the web app, tests) ``current()`` is a ``Progress`` that
shows nothing, so sources report unconditionally and never know who is watching.

On a terminal the state is one line rewritten in place; anywhere else (a log file, cron) it is
a plain log line per listing page and at most one per ``log_every_s`` for articles.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

log = logging.getLogger(__name__)

REDRAW_EVERY_S = 0.1
LOG_EVERY_S = 10.0


def format_duration(seconds: float) -> str:
    """``1:05:09``, ``5:09`` or ``9s``: what a person reads at a glance."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    if minutes:
        return f"{minutes}:{secs:02d}"
    return f"{secs}s"


class Progress:
    """Counters of one run: listing pages and articles, planned and done.

    ``stream`` None shows nothing (the counters still count). ``tty`` rewrites one line in
    place; otherwise each report is a log line (``INFO`` on this module's logger).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool = False,
        clock: Callable[[], float] = time.monotonic,
        log_every_s: float = LOG_EVERY_S,
    ) -> None:
        self.stream = stream
        self.tty = tty
        self.clock = clock
        self.log_every_s = log_every_s
        self.started = clock()
        self.pages_done = 0
        self.pages_total = 0
        self.articles_done = 0
        self.articles_total = 0
        self._listing_open = 0  # pages still planned: while > 0 the article total is a guess
        self._listed = 0  # articles the pages read so far listed
        self._last_draw = float("-inf")
        self._last_log = float("-inf")
        self._drawn = False

    # -- what sources report --------------------------------------------------------------

    def plan_pages(self, n: int) -> None:
        self.pages_total += n
        self._listing_open += n

    def page_done(self, what: str = "", found: int = 0) -> None:
        self.pages_done += 1
        self._listed += found
        self._listing_open = max(0, self._listing_open - 1)
        self._show(f"{what}: {found} listed" if what else "", force_log=True)

    def skip_pages(self, n: int) -> None:
        """Planned pages that will not be read (the walk stopped early)."""
        n = min(n, self._listing_open)
        self.pages_total -= n
        self._listing_open -= n
        self._show("")

    def plan_articles(self, n: int) -> None:
        """The listing is read: ``n`` articles are to be fetched."""
        self.articles_total += n
        self._show("listing read", force_log=True)

    def article_done(self, what: str = "") -> None:
        self.articles_done += 1
        self.articles_total = max(self.articles_total, self.articles_done)
        self._show(what, force_log=self.articles_done == self.articles_total)

    # -- reading it ----------------------------------------------------------------------------

    def seconds_left(self) -> float | None:
        """A linear estimate from the time one page or article has taken so far."""
        done = self.pages_done + self.articles_done
        if done == 0:
            return None
        articles = self.articles_total
        if self._listing_open and self.pages_done:
            # Pages still to read list about as many articles as those read so far.
            articles += round(
                self._listed / self.pages_done * (self.pages_done + self._listing_open)
            )
        total = self.pages_total + max(articles, self.articles_done)
        elapsed = self.clock() - self.started
        return elapsed / done * max(0, total - done)

    def line(self) -> str:
        left = self.seconds_left()
        return (
            f"pages {self.pages_done}/{self.pages_total} · "
            f"articles {self.articles_done}/{self.articles_total} · "
            f"{format_duration(self.clock() - self.started)} elapsed"
            + (f", about {format_duration(left)} left" if left is not None else "")
        )

    # -- showing it -----------------------------------------------------------------------------

    def _show(self, what: str, *, force_log: bool = False) -> None:
        if self.stream is None:
            return
        now = self.clock()
        if self.tty:
            if now - self._last_draw >= REDRAW_EVERY_S or force_log:
                self._last_draw = now
                self.stream.write("\r\x1b[2K" + self.line())
                self.stream.flush()
                self._drawn = True
        elif force_log or now - self._last_log >= self.log_every_s:
            self._last_log = now
            log.info("progress %s%s", self.line(), f" last={what}" if what else "")

    def close(self) -> None:
        """Clear the terminal line so that the summary starts on a clean one."""
        if self.stream is not None and self.tty and self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._drawn = False


_current: ContextVar[Progress | None] = ContextVar("feedsvc_progress", default=None)


def current() -> Progress:
    """The Progress installed by ``showing()``, else a fresh one that shows nothing."""
    found = _current.get()
    return found if found is not None else Progress()


class _ClearLine(logging.Filter):
    """Clears the progress line before a log record is written to the same terminal, so
    that log lines scroll above it; the next report draws it again."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress

    def filter(self, record: logging.LogRecord) -> bool:
        self.progress.close()
        return True


@contextmanager
def showing(progress: Progress) -> Iterator[Progress]:
    """Make ``progress`` the current one for the block (sources report to it)."""
    token = _current.set(progress)
    handlers = []
    if progress.tty and progress.stream is not None:
        clear = _ClearLine(progress)
        for handler in logging.getLogger().handlers:
            if getattr(handler, "stream", None) is progress.stream:
                handler.addFilter(clear)
                handlers.append((handler, clear))
    try:
        yield progress
    finally:
        _current.reset(token)
        for handler, clear in handlers:
            handler.removeFilter(clear)
        progress.close()


def for_stream(stream: TextIO, *, log_lines: bool) -> Progress:
    """A terminal line when ``stream`` is a TTY; else log lines if ``log_lines``, else nothing."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        return Progress(stream, tty=True)
    return Progress(stream if log_lines else None)
