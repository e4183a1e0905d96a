"""The collection pipeline. One failure never stops the batch.

A run holds the collector lease (a row in the database: one collector at a time, renewed
while working, expiring when its holder dies). For each source::

    source.list_latest()     -> [ArticleRef]          newest first; empty is an alarm
    store.needs_fetch(refs)  -> the new ones, minus failed ones not due for a retry
      + store.due_retries()  -> failed articles due again (even off the listing)
      + store.due_rechecks() -> recent articles to fetch again (edits; 404/410 = taken down)
    source.fetch(ref)        -> RawArticle            boilerplate already removed
    sanitise_article(raw)    -> clean HTML, text, summary, image, author; no body = failure
    tag_places(article)      -> district tags with evidence
    store.save(article)      -> new | updated | unchanged   (one transaction each)

Between articles the run checks its deadline, renews the lease and honours a stop request
(SIGTERM: the current article finishes, nothing else starts). A failed article is recorded
with its attempts and next retry; a failed source backs off (doubling, capped) and resets on
success; several articles in a row that parse without a body, or a listing that suddenly
yields nothing, mark the source as probably broken. All of it lands in the store, where the
web workers read it for /healthz and /metrics.

The sanitiser runs here, once, at ingest: what is stored is already safe to serve.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .catalog import Catalog
from .exceptions import FeedsvcError, LeaseHeldError, NotFoundError, ParseError
from .logs import log_event
from .model import Article, ArticleRef, CollectResult, RawArticle
from .places import Gazetteer, tag_places
from .sanitise import clean_url, html_to_text, sanitise_article, strip_xml_illegal
from .settings import CollectorSettings, RetentionSettings
from .sources import Source
from .store import LeaseInfo, RetentionResult, SourceState, Store
from .text import nfc, squash_spaces

log = logging.getLogger(__name__)

LEASE_POLL_S = 1.0  # how often a waiting collector asks for the lease again

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class BodylessError(ParseError):
    """The page parsed, but its body holds no text and no image (the layout changed?)."""


def requires_body(source: Source) -> bool:
    """Whether the source's articles must have a body: pages scraped from the paper must (an
    empty one means the layout changed); an upstream feed item may be a bare headline. A
    source says so with a ``require_body`` attribute; by default only HtmlSource does."""
    flag = getattr(source, "require_body", None)
    if flag is not None:
        return bool(flag)
    from .sources.html import HtmlSource

    return isinstance(source, HtmlSource)


def has_body(article: Article) -> bool:
    return bool(html_to_text(article.content_html).strip()) or "<img" in article.content_html


@dataclass(frozen=True)
class Policy:
    """How hard the collector tries: backoff, retries, re-checks, alarms ([collector])."""

    backoff_s: float = 60
    backoff_max_s: float = 3600
    retry_s: float = 300
    retry_max_s: float = 21600
    max_attempts: int = 8
    recheck_every: timedelta = timedelta(hours=6)
    recheck_within: timedelta = timedelta(days=2)
    recheck_per_run: int = 20
    parse_alarm: int = 3

    @classmethod
    def from_settings(cls, c: CollectorSettings) -> Policy:
        return cls(
            backoff_s=c.backoff_seconds,
            backoff_max_s=c.backoff_max_seconds,
            retry_s=c.retry_seconds,
            retry_max_s=c.retry_max_seconds,
            max_attempts=c.max_attempts,
            recheck_every=timedelta(hours=c.recheck_hours),
            recheck_within=timedelta(days=c.recheck_days),
            recheck_per_run=c.recheck_per_run,
            parse_alarm=c.parse_alarm,
        )


def backoff_delay(failures: int, base_s: float, cap_s: float) -> float:
    """Seconds to wait after ``failures`` consecutive failures: base, 2x, 4x ... up to cap."""
    if failures <= 0:
        return 0.0
    return float(min(cap_s, base_s * 2 ** min(failures - 1, 30)))


def previous_run_complete(state: SourceState) -> bool:
    """Whether the source's last run went through to the end (its success time is its end
    time, set together by ``_SourceRun.finish``), and no run died since."""
    if state.last_finished is None or state.last_success != state.last_finished:
        return False
    return state.last_attempt is None or state.last_attempt <= state.last_finished


def default_owner() -> str:
    """host:pid:nonce: unique per process and run, and says where the holder lives."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(owner: str) -> bool:
    """True when the holder ran on this machine and its process is gone (a crash, kill -9):
    its lease can be taken at once instead of waiting for it to expire."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return False


class CollectorLease:
    """The collector lease held by this process: acquire, renew while working, release.

    ``ttl_s`` must exceed the longest step between two renewals (one listing or one article,
    bounded by the source deadline); the service makes sure of that.
    """

    def __init__(
        self, store: Store, ttl_s: float, *, owner: str | None = None, now: Clock = utcnow
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.owner = owner or default_owner()
        self.now = now
        self.held = False
        self._renewed = 0.0

    def try_acquire(self) -> LeaseInfo:
        """One attempt; returns the holder (``self.held`` says whether it is us)."""
        holder = self.store.acquire_lease(self.owner, self.ttl_s, now=self.now())
        if holder.owner != self.owner and holder_is_dead(holder.owner):
            log_event(log, logging.WARNING, "lease.takeover", dead_owner=holder.owner)
            holder = self.store.acquire_lease(
                self.owner, self.ttl_s, now=self.now(), take_from=holder.owner
            )
        self.held = holder.owner == self.owner
        if self.held:
            self._renewed = time.monotonic()
        return holder

    def acquire(self, *, wait_s: float = 0.0, stop: threading.Event | None = None) -> None:
        """Become the collector, waiting up to ``wait_s``; LeaseHeldError if another stays."""
        give_up = time.monotonic() + wait_s
        while True:
            holder = self.try_acquire()
            if self.held:
                log_event(log, logging.DEBUG, "lease.acquired", owner=self.owner)
                return
            left = give_up - time.monotonic()
            if left <= 0 or (stop is not None and stop.is_set()):
                raise LeaseHeldError(
                    f"another collector holds the lease: {holder.owner}, since "
                    f"{holder.acquired_at:%Y-%m-%d %H:%M:%S} UTC, expiring "
                    f"{holder.expires_at:%Y-%m-%d %H:%M:%S} UTC unless renewed"
                )
            if stop is not None:
                stop.wait(min(LEASE_POLL_S, left))
            else:
                time.sleep(min(LEASE_POLL_S, left))

    def renew(self, *, force: bool = False) -> None:
        """Push the expiry on (at most every ttl/6); LeaseHeldError when it was lost."""
        if not force and time.monotonic() - self._renewed < self.ttl_s / 6:
            return
        if not self.store.renew_lease(self.owner, self.ttl_s, now=self.now()):
            self.held = False
            raise LeaseHeldError(
                f"the collector lease was lost (held by {self.owner}, taken by another "
                "collector after it expired): stopping this run"
            )
        self._renewed = time.monotonic()

    def release(self) -> None:
        if self.held:
            self.store.release_lease(self.owner)
            self.held = False
            log_event(log, logging.DEBUG, "lease.released", owner=self.owner)


@dataclass
class RunControl:
    """What a run checks between two articles: a stop request and the lease."""

    stop: threading.Event = field(default_factory=threading.Event)
    lease: CollectorLease | None = None

    def interrupted(self) -> bool:
        """True when a stop was requested; renews the lease (LeaseHeldError when lost)."""
        if self.stop.is_set():
            return True
        if self.lease is not None:
            self.lease.renew()
        return False


@dataclass
class Pipeline:
    """What the stages need besides the source: the catalog, the gazetteer, the store."""

    store: Store
    catalog: Catalog
    gazetteer: Gazetteer
    summary_chars: int = 300


def build_article(raw: RawArticle, pipe: Pipeline, *, source: str, now: datetime) -> Article:
    """Sanitise and tag one raw article. Pure: no I/O."""
    # Page metadata (og:url/og:image, listing thumbnails, upstream feed links) passes the
    # sanitiser's URL policy like body URLs do: it is served as <link>, <img src>, JSON url.
    url = clean_url(raw.url, raw.ref.url, kind="link") or clean_url(
        raw.ref.url, raw.ref.url, kind="link"
    )
    if url is None:
        raise ParseError(f"{raw.ref.url}: the article's URL {raw.url[:200]!r} is not http(s)")
    clean = sanitise_article(raw.body_html, url, summary_chars=pipe.summary_chars)
    title = squash_spaces(strip_xml_illegal(nfc(raw.title)))
    summary = clean.summary or squash_spaces(strip_xml_illegal(nfc(raw.lead or "")))
    section = raw.section or raw.ref.section or pipe.catalog.match_section(*raw.categories)
    places = tag_places(pipe.gazetteer, title=title, summary=summary, body=clean.text)
    published = raw.published or raw.ref.published
    date_source = raw.date_source
    if published is None:
        published, date_source = now, "discovered"
    author = raw.author or clean.author
    images = (i for i in (raw.image, clean.image, raw.ref.thumbnail) if i)
    return Article(
        id=raw.ref.id,
        source=source,
        url=url,
        title=title,
        summary=summary,
        content_html=clean.html,
        published=published,
        updated=raw.updated or published,
        author=nfc(author) if author else None,
        section=section,
        places=tuple(places),
        image=next(filter(None, (clean_url(i, url, kind="image") for i in images)), None),
        image_caption=clean.image_caption,
        date_source=date_source,
        fetched_at=now,
    )


def collect_source(
    source: Source,
    pipe: Pipeline,
    *,
    deadline_s: float,
    now: Clock = utcnow,
    max_pages: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    policy: Policy | None = None,
    control: RunControl | None = None,
    respect_backoff: bool = False,
) -> CollectResult:
    """Collect one source and record how it went. Raises nothing: failures are recorded
    in the result and in the source's state."""
    policy = policy or Policy()
    run = _SourceRun(source, pipe, policy, now, control)
    started = now()
    try:
        run.state = pipe.store.source_state(source.name)
        if respect_backoff and run.state.next_attempt and run.state.next_attempt > started:
            run.result.skipped = (
                f"backing off after {run.state.consecutive_failures} failed runs "
                f"until {run.state.next_attempt:%Y-%m-%d %H:%M:%S} UTC"
            )
            log_event(
                log,
                logging.INFO,
                "collect.skip",
                source=source.name,
                reason="backoff",
                failures=run.state.consecutive_failures,
                until=run.state.next_attempt,
            )
            return run.result
        run.previous_complete = previous_run_complete(run.state)
        run.state.last_attempt = started
        pipe.store.save_source_state(run.state)
    except FeedsvcError as e:
        run.result.error = f"source {source.name}: {e}"
        log_event(log, logging.ERROR, "collect.source", source=source.name, error=str(e))
        return run.result
    t0 = time.monotonic()
    try:
        run.collect(deadline_s=deadline_s, max_pages=max_pages, progress=progress)
    except LeaseHeldError as e:  # the lease was lost: not the source's fault
        run.result.error = str(e)
        run.result.interrupted = True
    except Exception as e:  # the store failing, or a bug: record it, never raise
        run.result.error = f"source {source.name}: {type(e).__name__}: {e}"
        log.exception("collect source=%s unexpected error", source.name)
    run.finish(time.monotonic() - t0)
    return run.result


class _SourceRun:
    """One source's collection: the loop, the per-article outcome, the state at the end."""

    def __init__(
        self,
        source: Source,
        pipe: Pipeline,
        policy: Policy,
        now: Clock,
        control: RunControl | None,
    ) -> None:
        self.source = source
        self.name = source.name
        self.pipe = pipe
        self.store = pipe.store
        self.policy = policy
        self.now = now
        self.control = control
        self.result = CollectResult(source=source.name)
        self.state = SourceState(source.name)
        self.listed = False  # the listing was read (whatever it held)
        self.require_body = requires_body(source)
        self.previous_complete = True
        self.streak = 0

    def collect(
        self,
        *,
        deadline_s: float,
        max_pages: int | None,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        result, store, started = self.result, self.store, self.now()
        self.streak = self.state.parse_failure_streak
        deadline = time.monotonic() + deadline_s
        try:
            # A paged listing stops where known articles begin; after a run that did not end
            # (stopped, deadline, crash) older unknown ones may lie below known ones: walk it
            # all (up to max_pages) once.
            known = store.known_ids if self.previous_complete else None
            kwargs: dict[str, object] = {"deadline": deadline, "known": known}
            if max_pages is not None:
                kwargs["max_pages"] = max_pages
            refs = self.source.list_latest(**kwargs)  # type: ignore[arg-type]
        except FeedsvcError as e:
            result.error = str(e)
            if isinstance(e, ParseError):  # the listing came but could not be understood
                result.broken = f"{e} (has the site's layout changed?)"
            log_event(log, logging.WARNING, "collect.list", source=self.name, error=str(e))
            return
        result.seen = len(refs)
        if not refs and getattr(self.source, "not_modified", False):
            # the upstream answered 304: nothing new, and no alarm (retries still run)
            result.not_modified = True
            log_event(log, logging.INFO, "collect.not_modified", source=self.name)
            todo: list[ArticleRef] = []
        elif not refs:
            result.error = result.broken = (
                f"source {self.name}: the listing yielded no articles "
                "(has the site's layout changed?)"
            )
            return
        else:
            self.listed = True
            todo = store.needs_fetch(refs, now=started)
            result.unchanged = len(store.known_ids(r.id for r in refs))
        listed = {r.id for r in refs}
        failed_before = store.failed_ids(r.id for r in todo)
        work: list[tuple[ArticleRef, str]] = [
            (r, "retry" if r.id in failed_before else "new") for r in todo
        ]
        work += [
            (r, "retry") for r in store.due_retries(self.name, now=started) if r.id not in listed
        ]
        work += [
            (r, "recheck")
            for r in store.due_rechecks(
                self.name,
                now=started,
                every=self.policy.recheck_every,
                within=self.policy.recheck_within,
                limit=self.policy.recheck_per_run,
            )
        ]
        for i, (ref, why) in enumerate(work, 1):
            if self.control is not None and self.control.interrupted():
                result.interrupted = True
                log_event(
                    log, logging.INFO, "collect.stop", source=self.name, left=len(work) - i + 1
                )
                break
            if time.monotonic() > deadline:
                result.error = (
                    f"source {self.name}: deadline of {deadline_s:g}s reached with "
                    f"{len(work) - i + 1} articles left (they are collected next time)"
                )
                break
            self.one(ref, why, deadline)
            if progress is not None:
                progress(i, len(work))

    def one(self, ref: ArticleRef, why: str, deadline: float) -> None:
        """Fetch, build and save one article; record what went wrong, never raise
        (except LeaseHeldError, which ends the run)."""
        result = self.result
        try:
            raw = self.source.fetch(ref, deadline=deadline)
            article = build_article(raw, self.pipe, source=self.name, now=self.now())
            if self.require_body and not has_body(article):
                # refused: what it would replace stays; a run of them raises the alarm
                raise BodylessError(f"{ref.url}: the article parsed without a body")
            status = self.store.save(article, now=self.now())
        except NotFoundError as e:
            if why == "recheck":
                self.store.mark_gone(ref.id, reason=str(e), now=self.now())
                result.gone += 1
                log_event(
                    log, logging.INFO, "collect.gone", source=self.name, id=ref.id, url=ref.url
                )
            else:
                self.fail(ref, why, e)
            return
        except ParseError as e:
            if why != "retry":  # a retry failing again is no new evidence
                self.streak += 1
            self.fail(ref, why, e)
            return
        except LeaseHeldError:
            raise
        except FeedsvcError as e:
            self.fail(ref, why, e)
            return
        except Exception as e:  # a bug in one article must not stop the batch
            log.exception("collect source=%s url=%s unexpected error", self.name, ref.url)
            self.fail(ref, why, e)
            return
        self.streak = 0
        if status == "new":
            result.new += 1
        elif status == "updated":
            result.updated += 1
        elif why != "recheck":
            result.unchanged += 1  # a quiet re-check is not counted

    def fail(self, ref: ArticleRef, why: str, error: Exception) -> None:
        message = (
            str(error) if isinstance(error, FeedsvcError) else f"{type(error).__name__}: {error}"
        )
        if ref.url not in message:
            message = f"{ref.url}: {message}"
        self.result.failed += 1
        self.result.errors.append(message)
        attempts, retry = 0, None
        if why != "recheck":  # a stored article that fails a re-check is re-checked next run
            try:
                attempts, retry = self.store.record_failure(
                    ref,
                    message,
                    now=self.now(),
                    retry_s=self.policy.retry_s,
                    retry_max_s=self.policy.retry_max_s,
                    max_attempts=self.policy.max_attempts,
                )
            except FeedsvcError as e:
                log_event(
                    log, logging.ERROR, "collect.record_failure", source=self.name, error=str(e)
                )
        log_event(
            log,
            logging.WARNING,
            "collect.article",
            source=self.name,
            id=ref.id,
            url=ref.url,
            stage=why,
            attempts=attempts,
            next_retry=retry,
            error=message,
        )

    def finish(self, duration_s: float) -> None:
        """Fold the run into the source's state: errors, backoff, alarms, totals."""
        result, state, policy = self.result, self.state, self.policy
        end = self.now()
        state.last_finished = end
        state.last_duration_s = round(duration_s, 3)
        state.last_seen, state.last_new, state.last_updated = (
            result.seen,
            result.new,
            result.updated,
        )
        state.last_unchanged, state.last_failed = result.unchanged, result.failed
        state.last_gone = result.gone
        state.last_not_modified = result.not_modified
        state.runs_total += 1
        state.new_total += result.new
        state.updated_total += result.updated
        state.failed_total += result.failed
        state.gone_total += result.gone
        state.parse_failure_streak = self.streak
        if result.error is not None and not result.interrupted:
            state.consecutive_failures += 1
            state.failed_runs_total += 1
            state.last_error, state.last_error_at = result.error, end
            delay = backoff_delay(
                state.consecutive_failures, policy.backoff_s, policy.backoff_max_s
            )
            state.next_attempt = end + timedelta(seconds=delay)
        elif not result.interrupted:
            state.consecutive_failures = 0
            state.last_success = end
            state.next_attempt = None
            if result.errors:
                state.last_error, state.last_error_at = result.errors[-1], end
        if result.broken is not None:
            state.broken = result.broken
        elif self.streak >= policy.parse_alarm:
            state.broken = (
                f"source {self.name}: {self.streak} articles in a row could not be parsed "
                f"or had no body (has the site's layout changed?); last: {result.errors[-1]}"
                if result.errors
                else state.broken
            )
        elif self.listed:
            state.broken = None
        result.broken = state.broken
        try:
            self.store.save_source_state(state)
        except FeedsvcError as e:
            log_event(log, logging.ERROR, "collect.state", source=self.name, error=str(e))
        log_event(
            log,
            logging.INFO if result.ok and not result.failed else logging.WARNING,
            "collect.source",
            source=self.name,
            seen=result.seen,
            new=result.new,
            updated=result.updated,
            unchanged=result.unchanged,
            failed=result.failed,
            gone=result.gone,
            interrupted=result.interrupted,
            duration_s=state.last_duration_s,
            failures=state.consecutive_failures,
            broken=state.broken,
            error=result.error,
        )


def collect(
    sources: Sequence[tuple[Source, float]],
    pipe: Pipeline,
    *,
    now: Clock = utcnow,
    max_pages: int | None = None,
    policy: Policy | None = None,
    control: RunControl | None = None,
    respect_backoff: bool = False,
) -> list[CollectResult]:
    """Collect every source; one failing source never stops another. A stop request or a
    lost lease ends the run between two articles."""
    results: list[CollectResult] = []
    for src, deadline_s in sources:
        if control is not None and (
            control.stop.is_set() or (control.lease is not None and not control.lease.held)
        ):
            results.append(CollectResult(source=src.name, interrupted=True))
            continue
        results.append(
            collect_source(
                src,
                pipe,
                deadline_s=deadline_s,
                now=now,
                max_pages=max_pages,
                policy=policy,
                control=control,
                respect_backoff=respect_backoff,
            )
        )
    return results


def run_collection(
    store: Store,
    make_sources: Callable[[], list[tuple[Source, float]]],
    pipe: Pipeline,
    *,
    settings: CollectorSettings,
    retention: RetentionSettings,
    now: Clock = utcnow,
    max_pages: int | None = None,
    respect_backoff: bool = False,
    stop: threading.Event | None = None,
    wait_s: float = 0.0,
    owner: str | None = None,
) -> list[CollectResult]:
    """One whole collection under the lease: every source, then retention.

    LeaseHeldError when another collector holds the lease (after waiting ``wait_s``). The
    lease is released however the run ends, a stop request included.
    """
    sources = make_sources()
    longest = max((d for _, d in sources), default=0.0)
    lease = CollectorLease(store, max(settings.lease_seconds, longest + 30), owner=owner, now=now)
    control = RunControl(stop=stop or threading.Event(), lease=lease)
    try:
        lease.acquire(wait_s=wait_s, stop=stop)
        results = collect(
            sources,
            pipe,
            now=now,
            max_pages=max_pages,
            policy=Policy.from_settings(settings),
            control=control,
            respect_backoff=respect_backoff,
        )
        if not control.stop.is_set() and lease.held:
            apply_retention(store, retention, now=now())
        return results
    finally:
        for src, _ in sources:
            try:
                src.close()
            except Exception:  # closing must not hide the run's outcome
                log.exception("closing source %s", src.name)
        try:
            lease.release()
        except FeedsvcError as e:
            log_event(log, logging.ERROR, "lease.release", owner=lease.owner, error=str(e))


def apply_retention(
    store: Store, retention: RetentionSettings, *, now: datetime
) -> RetentionResult:
    try:
        done = store.apply_retention(
            now=now, days=retention.days, max_per_scope=retention.max_per_scope, keep=retention.keep
        )
    except FeedsvcError as e:
        log_event(log, logging.ERROR, "retention", error=str(e))
        return RetentionResult(0, 0)
    if done.expired:
        log_event(log, logging.INFO, "retention", expired=done.expired, kept=done.kept)
    return done
