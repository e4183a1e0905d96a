"""Conditional requests across collections: ETag/Last-Modified kept by the Service's sources
between runs and in the database between processes, so that an unchanged source costs 304s.

The demo snapshot is served over HTTP (tests/demosite.py) with validators added: each page's
ETag is a digest of its bytes, so a page answers 304 until a test changes it. Validators are
written to the database only after a run that handled everything its pages led to; a run that
did not end drops its sources, which the next run builds again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from feedsvc.scheduler import start_background, stop_background
from feedsvc.service import Service, StoreValidators
from feedsvc.settings import Settings, load_settings
from feedsvc.store import Store, http_validators
from feedsvc.web.ops import health

from .conftest import DATA, write_config
from .demosite import FAST_FETCH, DemoSite, kind_of, site_config
from .httpfixture import HttpFixture, RecordedRequest, Reply

T0 = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
LAST_MODIFIED = "Fri, 02 Jan 2026 01:00:00 GMT"
ROBOTS = "User-agent: *\nAllow: /\n"
SECTIONS = ["kinh-te"]  # 6 articles on 2 listing pages
LISTING_1 = "/4/page/1/KINH-TE.htm"
RSS = "application/rss+xml; charset=utf-8"


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


class ConditionalSite(DemoSite):
    """The demo site answering conditional requests: a 200 carries an ETag (a digest of the
    body) and a Last-Modified; a request whose If-None-Match matches gets a 304."""

    def _script(self, path: str) -> Callable[[RecordedRequest], Reply]:
        def answer(request: RecordedRequest) -> Reply:
            reply = self.answer(path)
            if reply.status != 200:
                return reply
            tag = etag_of(reply.body_bytes())
            headers = {"ETag": tag, "Last-Modified": LAST_MODIFIED}
            if request.headers.get("If-None-Match") == tag:
                return Reply(status=304, headers=headers, content_type=None)
            return replace(reply, headers={**dict(reply.header_items()), **headers})

        return answer

    def etag(self, path: str) -> str:
        return etag_of(self.page(path))

    def asked(self, kind: str) -> list[tuple[str, str | None, str | None]]:
        """(path, If-None-Match, If-Modified-Since) of the requests of one kind, in order."""
        return [
            (r.path, r.headers.get("If-None-Match"), r.headers.get("If-Modified-Since"))
            for r in self.server.requests
            if kind_of(r.path) == kind
        ]


@pytest.fixture
def site() -> Iterator[ConditionalSite]:
    with HttpFixture() as server:
        server.route("/robots.txt", Reply(body=ROBOTS, content_type="text/plain"))
        yield ConditionalSite(server)


@pytest.fixture
def settings(tmp_path: Path, site: ConditionalSite) -> Settings:
    return load_settings(site_config(tmp_path, site, source={"sections": SECTIONS}), env={})


@pytest.fixture
def service(settings: Settings) -> Iterator[Service]:
    svc = Service(settings, keep_sources=True)
    yield svc
    svc.close()


def stored_validators(store: Store) -> dict[str, tuple[str | None, str | None]]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(http_validators)).all()
    return {r.url.split("/", 3)[3]: (r.etag, r.last_modified) for r in rows}


def listing_paths(site: DemoSite) -> list[str]:
    return [p for p in site.listing_paths() if p.startswith("/4/")]


# -- one long-running Service ---------------------------------------------------------------------


def test_validators_second_collection_of_an_unchanged_site_is_304s_only(
    service: Service, site: ConditionalSite
) -> None:
    (first,) = service.collect()
    assert first.ok and first.new == 6 and first.failed == 0
    pages = [p for p, *_ in site.asked("listing")]
    assert pages == [*listing_paths(site), "/4/page/3/KINH-TE.htm"]  # 404: past the last
    assert all(inm is None for _, inm, _ in site.asked("listing"))
    assert len(site.asked("article")) == 6
    assert site.server.hits("/robots.txt") == 1
    version = service.store.version()

    site.server.requests.clear()
    (second,) = service.collect()
    assert second.ok and (second.new, second.updated, second.failed) == (0, 0, 0)
    # the first listing page is asked with its validators, answered 304, and the walk ends
    # there (nothing new below an unchanged first page); no article page, no robots.txt
    assert site.asked("listing") == [(LISTING_1, site.etag(LISTING_1), LAST_MODIFIED)]
    assert site.asked("article") == []
    assert [r.path for r in site.server.requests] == [LISTING_1]  # robots.txt: once in all
    assert service.store.version() == version  # nothing stored


def test_validators_a_changed_listing_is_read_again_and_only_its_new_article_fetched(
    service: Service, site: ConditionalSite
) -> None:
    (first,) = service.collect()
    assert first.new == 6
    # a new article on top of the first listing page: its bytes (and so its ETag) change
    fresh = "/10/178773/Xa-Muong-Bi-kham-benh-cap-thuoc-cho-gia-dinh-chinh-sach.htm"
    item = f'<div class="news-item"><h3><a class="title" href="{fresh}">Mới</a></h3></div>'
    old = site.page(LISTING_1)
    at = old.index(b'<div class="news-item">')
    site.fault(LISTING_1, Reply(body=old[:at] + item.encode() + old[at:]))
    site.server.requests.clear()
    (second,) = service.collect()
    assert second.ok and second.new == 1 and second.failed == 0
    # asked with the old validators, answered in full; the walk stops at known articles
    assert site.asked("listing") == [(LISTING_1, site.etag(LISTING_1), LAST_MODIFIED)]
    assert site.asked("article") == [(fresh, None, None)]


def test_validators_a_new_process_still_asks_conditionally(
    settings: Settings, site: ConditionalSite
) -> None:
    one = Service(settings, keep_sources=True)
    try:
        (first,) = one.collect()
    finally:
        one.close()
    assert first.ok and first.new == 6
    remembered = stored_validators(one.store)
    assert remembered[LISTING_1.lstrip("/")] == (site.etag(LISTING_1), LAST_MODIFIED)
    assert len(remembered) == len(listing_paths(site)) + 6  # listings and articles

    # A new process (a one-shot `feedsvc collect`) on the same database: the listing is asked
    # with the stored validators, and its 304 means "nothing new" even without the earlier
    # parse in memory (validators are stored only after everything a listing led to was
    # handled): one request, no article fetched, "not modified" rather than the alarm.
    site.server.requests.clear()
    two = Service(settings)
    try:
        (second,) = two.collect()
    finally:
        two.close()
    assert second.ok and second.new == 0 and second.failed == 0
    assert second.not_modified
    assert site.asked("listing") == [(LISTING_1, site.etag(LISTING_1), LAST_MODIFIED)]
    assert site.asked("article") == []
    state = two.store.source_state(second.source)
    assert state.last_not_modified and state.consecutive_failures == 0 and state.broken is None


def test_validators_a_failed_article_is_retried_behind_a_304_listing_then_remembered(
    service: Service, site: ConditionalSite
) -> None:
    """The listing case: its 304 means "nothing new" only once every article it listed was
    handled. Within the process the source hands the collector the listing it parsed last
    time, and the failure record retries the article; the database gets the validators
    only once no failed article waits for a retry."""
    broken = next(p for p in site.article_paths() if p.startswith("/4/"))
    site.fault(broken, Reply(status=500))
    (first,) = service.collect()
    assert first.ok and first.new == 5 and first.failed == 1
    assert stored_validators(service.store) == {}  # held back: an article waits for a retry

    site.clear()
    (failure,) = service.store.failures()
    _wait(lambda: datetime.now(UTC).replace(tzinfo=None) > failure["next_retry"])  # due
    site.server.requests.clear()
    (second,) = service.collect()
    assert second.ok and second.new == 1 and second.failed == 0
    assert site.asked("listing") == [(LISTING_1, site.etag(LISTING_1), LAST_MODIFIED)]
    assert [p for p, *_ in site.asked("article")] == [broken]
    assert service.store.failures() == []
    remembered = stored_validators(service.store)
    assert remembered[LISTING_1.lstrip("/")] == (site.etag(LISTING_1), LAST_MODIFIED)
    assert remembered[broken.lstrip("/")] == (site.etag(broken), LAST_MODIFIED)


def test_validators_a_run_that_fails_drops_its_sources_and_the_next_walks_everything(
    service: Service, site: ConditionalSite
) -> None:
    """After a run that did not end, the collector walks the whole listing once: a kept source
    would stop at the first page's 304, so the Service builds the source again (robots.txt
    read again, validators from the database, nothing parsed in memory)."""
    (first,) = service.collect()
    assert first.new == 6
    site.fault("listing", Reply(status=500))
    (failed,) = service.collect()
    assert not failed.ok
    site.clear()
    site.server.requests.clear()
    (third,) = service.collect()
    assert third.ok and third.new == 0 and third.failed == 0
    assert site.server.hits("/robots.txt") == 1  # the rebuilt source's fetcher read it
    asked = site.asked("listing")
    # every listing page: asked with the stored validators, answered 304, asked again in full
    for path in listing_paths(site):
        assert asked.count((path, site.etag(path), LAST_MODIFIED)) == 1
        assert asked.count((path, None, None)) == 1
    assert site.asked("article") == []


def test_validators_one_shot_collections_build_their_sources_each_time(
    settings: Settings, site: ConditionalSite
) -> None:
    service = Service(settings)  # `feedsvc collect`: nothing kept between runs
    try:
        service.collect()
        service.collect()
    finally:
        service.close()
    assert site.server.hits("/robots.txt") == 2


def test_validators_the_background_scheduler_keeps_its_sources_and_closes_them_at_the_end(
    settings: Settings, site: ConditionalSite
) -> None:
    import threading

    plain = Service(settings)  # as `feedsvc run` gets it from the app
    stop = threading.Event()
    try:
        sched, job = start_background(plain, stop, first_run_in=timedelta(0))
        try:
            assert plain.keep_sources
            _wait(lambda: job.runs == 1 and job.idle.is_set())  # the first run is done
            (again,) = plain.collect()
            assert again.ok and again.new == 0
            assert site.server.hits("/robots.txt") == 1
        finally:
            assert stop_background(sched, job, stop)
        (after,) = plain.collect()  # closed at the end: built again
        assert after.ok
        assert site.server.hits("/robots.txt") == 2
    finally:
        plain.close()


def _wait(condition: Callable[[], object], timeout_s: float = 30.0) -> None:
    """Poll until the condition holds (a guard against hanging, not a timed assertion)."""
    import time

    give_up = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


# -- an upstream feed -----------------------------------------------------------------------------


def feed_settings(tmp_path: Path, url: str) -> Settings:
    path = write_config(
        tmp_path / "feedsvc.toml",
        {
            "database": {"url": "sqlite:///feedsvc.sqlite3"},
            "fetch": dict(FAST_FETCH),
            "sources": [{"name": "doitac", "kind": "feed", "url": url, "deadline_seconds": 30}],
        },
    )
    return load_settings(path, env={})


def test_validators_an_upstream_feed_answering_304_costs_one_request_and_changes_nothing(
    tmp_path: Path,
) -> None:
    body = (DATA / "upstream" / "vnexpress-rss.xml").read_bytes()
    tag = etag_of(body)

    def answer(request: RecordedRequest) -> Reply:
        if request.headers.get("If-None-Match") == tag:
            return Reply(status=304, headers={"ETag": tag}, content_type=None)
        return Reply(body=body, content_type=RSS, headers={"ETag": tag})

    with HttpFixture() as server:
        server.route("/feed.xml", answer)
        settings = feed_settings(tmp_path, server.url("/feed.xml"))
        service = Service(settings, keep_sources=True)
        try:
            (first,) = service.collect()
            assert first.ok and first.new == 3 and not first.not_modified
            version = service.store.version()
            server.requests.clear()
            (second,) = service.collect()
            asked = [(r.path, r.headers.get("If-None-Match")) for r in server.requests]
            assert asked == [("/feed.xml", tag)]  # robots.txt was read by the first run
            assert second.ok and second.not_modified and second.failed == 0
            assert (second.seen, second.new, second.updated) == (0, 0, 0)
            assert service.store.version() == version
            body_, status = health(service)
            src: dict[str, Any] = body_["sources"]["doitac"]
            assert status == 200 and src["status"] == "ok" and src["problem"] is None
            assert src["last_run"]["not_modified"] is True
            assert src["consecutive_failures"] == 0 and src["last_error"] is None
        finally:
            service.close()

        # a new process: one request for robots.txt, one for the feed, answered 304
        server.requests.clear()
        again = Service(settings)
        try:
            (third,) = again.collect()
            assert third.ok and third.not_modified and third.new == 0
            asked = [(r.path, r.headers.get("If-None-Match")) for r in server.requests]
            assert asked == [("/robots.txt", None), ("/feed.xml", tag)]
            assert again.store.source_state("doitac").last_not_modified
        finally:
            again.close()


# -- the parts ------------------------------------------------------------------------------------


def test_validators_store_remembers_replaces_forgets_and_ages_out(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    a, b = "https://example.vn/a", "https://example.vn/b"
    assert store.validators(a) == (None, None)
    store.save_validators("s", {a: ('"1"', LAST_MODIFIED), b: (None, LAST_MODIFIED)}, now=T0)
    assert store.validators(a) == ('"1"', LAST_MODIFIED)
    assert store.validators(b) == (None, LAST_MODIFIED)
    later = T0 + timedelta(days=1)
    store.save_validators("s", {a: ('"2"', None)}, now=later)
    assert store.validators(a) == ('"2"', None)
    assert store.forget_validators(before=later) == 1  # b was not renewed since T0
    assert store.validators(b) == (None, None)
    store.save_validators("s", {a: (None, None)}, now=later)  # a 200 without validators
    assert store.validators(a) == (None, None)
    store.close()


def test_validators_adapter_holds_what_a_run_learns_until_commit(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    url = "https://example.vn/feed.xml"
    store.save_validators("s", {url: ('"old"', None)}, now=T0)
    adapter = StoreValidators(store, "s")
    assert adapter.get(url) == ('"old"', None)
    adapter.set(url, '"new"', None)
    assert adapter.get(url) == ('"new"', None)  # the run's own view
    assert store.validators(url) == ('"old"', None)  # the next process's view
    adapter.discard()
    assert adapter.get(url) == ('"old"', None)
    adapter.set(url, '"new"', None)
    adapter.set("https://example.vn/" + "x" * 3000, '"long"', None)  # not worth a row
    assert adapter.commit(T0) == 1
    assert store.validators(url) == ('"new"', None) and adapter.pending == {}
    store.close()
    # a database that cannot be read never fails a fetch: the page is asked unconditionally
    unreadable = Store(f"sqlite:///{tmp_path}")  # a folder, not a database file
    assert StoreValidators(unreadable, "s").get(url) == (None, None)
    unreadable.close()
