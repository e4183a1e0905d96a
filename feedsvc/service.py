"""Wiring: settings -> catalog, store, gazetteer, sources, feed context. Built once per process.

Both the web app and the CLI take a Service; tests build one from their own settings.

A long-running collector (``feedsvc scheduler``, ``feedsvc run``) sets ``keep_sources``: its
sources then outlive one collection, and with them what their fetchers learnt (robots.txt,
the delay owed to each host, the ETag/Last-Modified of every page and what was parsed from
it, which turn an unchanged page into a cheap 304). A one-shot ``feedsvc collect`` builds its
sources for the run and closes them after it. Either way the validators are also kept in the
database (``StoreValidators``), so that the next process asks conditionally too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from urllib.parse import urljoin

from .catalog import ALL_SLUG, Catalog, load_catalog
from .collector import Pipeline, requires_body, run_collection
from .exceptions import LeaseHeldError, StoreError
from .logs import log_event
from .model import ArticleRef, CollectResult, RawArticle
from .places import Gazetteer, load_gazetteer
from .render import FeedContext
from .settings import Settings, SourceSettings
from .sources import Source, make_source
from .store import Store

log = logging.getLogger(__name__)

#: Validators not renewed for this long are dropped: pages no source asks for any more.
VALIDATORS_KEPT = timedelta(days=30)
#: Longer URLs are not remembered (they are not worth a row, nor an index entry).
VALIDATORS_MAX_URL = 2000


def paper_pages(catalog: Catalog, site_url: str, section_page: str) -> dict[str, str]:
    """Scope slug -> the paper's own page for it: the home page for all news, a section's
    listing page; districts have none (their feeds link to our preview page)."""
    pages = {ALL_SLUG: site_url}
    if section_page:
        for s in catalog.sections:
            if s.category_id is not None and (s.listing or "{listing}" not in section_page):
                path = section_page.format(
                    category_id=s.category_id, listing=s.listing, slug=s.slug
                )
                pages[s.slug] = urljoin(site_url, path)
    return pages


class StoreValidators:
    """One source's HTTP validators (ETag, Last-Modified) in the database: the fetcher's
    ``ValidatorStore``.

    A 304 says "as it was when you last read it", and a source reads a 304 as "nothing new":
    an upstream feed hands out no items then, so an item that failed before could never be
    retried from it. Validators are therefore written only once what their pages led to has
    been handled: what a run learns waits here (``pending``) until ``commit``, which the
    Service calls after a run that went through to the end and left no failed article waiting
    for a retry; ``discard`` forgets it after a run that did not end. The fetcher keeps its
    own copy in memory, which the source's in-memory parses make safe within one process.

    A database that fails here never fails a fetch: the page is then fetched unconditionally.
    """

    def __init__(self, store: Store, source: str) -> None:
        self.store = store
        self.source = source
        self._pending: dict[str, tuple[str | None, str | None]] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> tuple[str | None, str | None]:
        with self._lock:
            if url in self._pending:
                return self._pending[url]
        try:
            return self.store.validators(url)
        except StoreError as e:
            log_event(log, logging.WARNING, "validators.read", source=self.source, error=str(e))
            return None, None

    def set(self, url: str, etag: str | None, last_modified: str | None) -> None:
        if len(url) <= VALIDATORS_MAX_URL:
            with self._lock:
                self._pending[url] = (etag, last_modified)

    @property
    def pending(self) -> Mapping[str, tuple[str | None, str | None]]:
        with self._lock:
            return dict(self._pending)

    def commit(self, now: datetime) -> int:
        """Write what is pending; returns how many URLs (kept pending if the write fails)."""
        found = self.pending
        try:
            self.store.save_validators(self.source, found, now=now)
        except StoreError as e:
            log_event(log, logging.WARNING, "validators.write", source=self.source, error=str(e))
            return 0
        with self._lock:
            for url, value in found.items():
                if self._pending.get(url) == value:
                    del self._pending[url]
        return len(found)

    def discard(self) -> None:
        with self._lock:
            self._pending.clear()


class _Lent:
    """A source lent to one collection. The collector closes the sources it is given when
    its run ends; for a source the Service keeps, that only ends the loan."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.name = source.name
        self.require_body = requires_body(source)

    @property
    def not_modified(self) -> bool:
        return bool(getattr(self.source, "not_modified", False))

    def list_latest(
        self,
        *,
        deadline: float | None = None,
        known: Callable[[Sequence[str]], AbstractSet[str]] | None = None,
        max_pages: int | None = None,
    ) -> list[ArticleRef]:
        return self.source.list_latest(deadline=deadline, known=known, max_pages=max_pages)

    def fetch(self, ref: ArticleRef, *, deadline: float | None = None) -> RawArticle:
        return self.source.fetch(ref, deadline=deadline)

    def close(self) -> None:
        pass


@dataclass
class _Kept:
    """A source with its validators, as the Service holds it between collections."""

    source: Source
    deadline_s: float
    validators: StoreValidators

    def close(self) -> None:
        try:
            self.source.close()
        except Exception:  # closing must not hide anything else
            log.exception("closing source %s", self.source.name)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Service:
    def __init__(self, settings: Settings, *, keep_sources: bool = False) -> None:
        self.settings = settings
        self.catalog: Catalog = load_catalog(settings)
        self.store = Store(
            settings.database.url, busy_timeout_s=settings.database.busy_timeout_seconds
        )
        self._lock = threading.Lock()
        #: Keep the sources from one collection to the next (a long-running collector).
        self.keep_sources = keep_sources
        self._kept: dict[str, _Kept] = {}
        self._sources_lock = threading.Lock()  # guards _kept
        self._collecting = threading.Lock()  # one collection at a time in this process

    @cached_property
    def gazetteer(self) -> Gazetteer:
        aliases = self.settings.catalog.place_aliases
        return load_gazetteer(
            Path(self.settings.catalog.districts), Path(aliases) if aliases else None
        )

    def pipeline(self) -> Pipeline:
        return Pipeline(
            store=self.store,
            catalog=self.catalog,
            gazetteer=self.gazetteer,
            summary_chars=self.settings.feeds.summary_chars,
        )

    def make_sources(self) -> list[tuple[Source, float]]:
        """Fresh sources, owned by the caller, remembering nothing of earlier runs."""
        return [
            (make_source(src, self.settings, self.catalog), src.deadline_seconds)
            for src in self.settings.sources
        ]

    def _build(self, src: SourceSettings) -> _Kept:
        validators = StoreValidators(self.store, src.name)
        source = make_source(src, self.settings, self.catalog, validators=validators)
        return _Kept(source, src.deadline_seconds, validators)

    def _sources_for_run(self) -> list[_Kept]:
        """The kept sources, built when missing (at the first run, or after one was dropped)."""
        if not self.keep_sources:
            built: list[_Kept] = []
            try:
                for src in self.settings.sources:
                    built.append(self._build(src))
            except BaseException:
                for kept in built:
                    kept.close()
                raise
            return built
        with self._sources_lock:
            for src in self.settings.sources:
                if src.name not in self._kept:
                    self._kept[src.name] = self._build(src)
            return [self._kept[src.name] for src in self.settings.sources]

    def collect(
        self,
        *,
        max_pages: int | None = None,
        respect_backoff: bool = False,
        stop: threading.Event | None = None,
        wait_s: float = 0.0,
    ) -> list[CollectResult]:
        """One collection under the collector lease (LeaseHeldError when another holds it)."""
        got = (
            self._collecting.acquire(timeout=wait_s)
            if wait_s > 0
            else self._collecting.acquire(blocking=False)
        )
        if not got:
            raise LeaseHeldError("a collection of this process is running")
        try:
            sources = self._sources_for_run()
            lent: list[tuple[Source, float]] = [(_Lent(k.source), k.deadline_s) for k in sources]
            try:
                results = run_collection(
                    self.store,
                    lambda: lent,
                    self.pipeline(),
                    settings=self.settings.collector,
                    retention=self.settings.retention,
                    max_pages=max_pages,
                    respect_backoff=respect_backoff,
                    stop=stop,
                    wait_s=wait_s,
                )
            except LeaseHeldError:
                raise  # another collector holds the lease: nothing ran, nothing changed
            except BaseException:
                self._settle(sources, None)
                raise
            finally:
                if not self.keep_sources:
                    for kept in sources:
                        kept.close()
            self._settle(sources, results)
            return results
        finally:
            self._collecting.release()

    def _settle(self, sources: list[_Kept], results: list[CollectResult] | None) -> None:
        """After a run: write the validators of each source whose run ended cleanly; forget
        those of a run that did not end, and drop its source (rebuilt at the next run).

        A run that did not end (deadline, stop, a listing or store error, a bug) left pages
        unread; a kept source would answer their 304s from its in-memory parses and stop its
        listing walk early, where the collector asks for a whole walk after such a run.
        """
        now = _utcnow()
        by_name = {r.source: r for r in results or ()}
        retrying: dict[str, tuple[int, int]] | None = None
        wrote = False
        for kept in sources:
            name = kept.source.name
            result = by_name.get(name)
            if result is not None and result.skipped:
                continue  # backing off: not run, nothing learnt
            if result is None or result.error is not None or result.interrupted:
                kept.validators.discard()
                if self.keep_sources:
                    self._drop(name, kept, "the run did not end" if result else "no result")
                continue
            if retrying is None:
                try:
                    retrying = self.store.failure_counts()
                except StoreError as e:  # unknown: hold every source's validators back
                    log_event(log, logging.WARNING, "validators.write", error=str(e))
                    retrying = {k.source.name: (1, 0) for k in sources}
            if retrying.get(name, (0, 0))[0]:
                continue  # failed articles wait for a retry: keep the validators pending
            wrote = kept.validators.commit(now) > 0 or wrote
        if wrote:
            try:
                self.store.forget_validators(before=now - VALIDATORS_KEPT)
            except StoreError as e:
                log_event(log, logging.WARNING, "validators.forget", error=str(e))

    def _drop(self, name: str, kept: _Kept, why: str) -> None:
        with self._sources_lock:
            if self._kept.get(name) is kept:
                del self._kept[name]
        log_event(log, logging.INFO, "collect.rebuild", source=name, reason=why)
        kept.close()

    def close_sources(self) -> None:
        """Close the kept sources (their fetchers and connections); the next run rebuilds."""
        with self._sources_lock:
            kept, self._kept = list(self._kept.values()), {}
        for k in kept:
            k.close()

    @cached_property
    def feed_context(self) -> FeedContext:
        s = self.settings.service
        feeds = self.settings.feeds
        return FeedContext(
            public_url=s.public_url,
            site_url=s.site_url,
            logo_url=s.logo_url,
            ttl_minutes=max(1, round(self.settings.schedule.every_minutes)),
            catalog=self.catalog,
            site_title=s.title,
            icon_url=feeds.icon_url,
            page_urls=paper_pages(self.catalog, s.site_url, feeds.section_page),
            max_bytes=feeds.max_bytes,
            max_item_bytes=feeds.max_item_bytes,
        )

    def close(self) -> None:
        self.close_sources()
        self.store.close()
