"""Fault injection with a real source: the demo snapshot served over HTTP on 127.0.0.1, the
service reading it with the production HttpFetcher and serving feeds over HTTP too.

Each test breaks the source in one way (500s, timeouts, connection resets, garbage, an empty
listing, a half page, a slow site, a crash of the collector ...) and checks that the feeds
still serve the last good articles, that /healthz tells the truth, and that the next good run
picks up where the last one left off.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from feedsvc import create_app
from feedsvc.catalog import Scope
from feedsvc.scheduler import start_background, stop_background
from feedsvc.service import Service
from feedsvc.settings import Settings, load_settings
from feedsvc.store import Store
from feedsvc.web import get_service

from .conftest import LiveServer, poll_until
from .demosite import DemoSite, site_config
from .httpfixture import HttpFixture, Reply

ALL = Scope("all", "tin-moi-nhat", "Tin mới nhất")
SECTIONS = ["kinh-te"]  # 6 articles on 2 listing pages: enough, and quick
FEEDSVC = Path(sys.executable).parent / "feedsvc"


def wait_for(condition: Callable[[], object], timeout_s: float = 60.0) -> None:
    poll_until(condition, timeout_s)


@pytest.fixture
def site() -> Iterator[DemoSite]:
    with HttpFixture() as server:
        yield DemoSite(server)


def site_settings(tmp_path: Path, site: DemoSite, **tables: Any) -> Settings:
    source = {"sections": SECTIONS, **tables.pop("source", {})}
    return load_settings(site_config(tmp_path, site, source=source, **tables), env={})


class Running:
    """The service as it runs: the app served over HTTP, read like an aggregator would."""

    def __init__(self, app: Flask, server: LiveServer) -> None:
        self.app = app
        self.server = server
        self.service: Service = get_service(app)

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.server.url + path, timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def feed_ids(self, slug: str = "tin-moi-nhat") -> set[str]:
        status, body = self.get(f"/feeds/{slug}.json?limit=100")
        assert status == 200
        return {item["id"] for item in body["items"]}

    def health(self) -> tuple[int, dict[str, Any]]:
        return self.get("/healthz")

    def source_health(self) -> dict[str, Any]:
        status, body = self.health()
        assert status == 200, body
        src: dict[str, Any] = body["sources"]["baohoabinh"]
        return src

    def collect(self) -> Any:
        (result,) = self.service.collect()
        return result


@pytest.fixture
def running(tmp_path: Path, site: DemoSite) -> Iterator[Running]:
    app = create_app(site_settings(tmp_path, site))
    with LiveServer(app) as server:
        yield Running(app, server)


def article_paths(site: DemoSite, prefixes: tuple[str, ...] = ("/4/",)) -> list[str]:
    """The article pages of the sections collected (kinh-te is category 4)."""
    return [p for p in site.article_paths() if p.startswith(prefixes)]


def half_page(site: DemoSite) -> Callable[[str], Reply]:
    """A page cut short inside the article's text, sent as if complete (its Content-Length
    is that of the part sent)."""

    def reply(path: str) -> Reply:
        body = site.page(path)
        first = body.index(b"</p>", body.index(b"news-content"))
        return Reply(body=body[: body.index(b"</p>", first + 4) + 4])  # two paragraphs

    return reply


def garbage(_path: str) -> Reply:
    return Reply(
        body=b"\x00\xff\xfe\x89PNG\r\n\x1a\n" * 64, content_type="application/octet-stream"
    )


ARTICLE_FAULTS: dict[str, Callable[[DemoSite], Any]] = {
    "http-500": lambda site: Reply(status=500, body="Internal Server Error"),
    "http-503-retry-after": lambda site: Reply(status=503, headers={"Retry-After": "3600"}),
    "timeout": lambda site: Reply(delay_s=3),
    "connection-reset": lambda site: Reply(reset=True),
    "truncated-transfer": lambda site: lambda path: Reply(body=site.page(path), truncate_at=400),
    "garbage-body": lambda site: garbage,
    "error-page-with-200": lambda site: Reply(
        body="<html><body><h1>Lỗi hệ thống</h1></body></html>"
    ),
}


# -- article faults -------------------------------------------------------------------------------


def test_fault_articles_failing_every_way_are_recorded_feeds_keep_serving_then_recover(
    tmp_path: Path, site: DemoSite
) -> None:
    """One article per kind of fault (500, 503 with a long Retry-After, a timeout, a reset,
    a cut transfer, garbage, an error page answered 200), the others good."""
    sections = {"sections": ["chinh-tri", "kinh-te"]}
    app = create_app(site_settings(tmp_path, site, source=sections))
    paths = article_paths(site, ("/11/", "/4/"))
    broken = dict(zip(sorted(ARTICLE_FAULTS), paths[::2], strict=False))  # never 3 in a row
    assert len(broken) == len(ARTICLE_FAULTS)
    for fault, path in broken.items():
        site.fault(path, ARTICLE_FAULTS[fault](site))
    with LiveServer(app) as server:
        running = Running(app, server)
        first = running.collect()
        n = len(broken)
        assert first.ok and first.failed == n and first.new == len(paths) - n
        good = running.feed_ids()
        assert len(good) == len(paths) - n
        src = running.source_health()
        assert src["status"] == "degraded" and src["broken"] is None
        assert src["failed_articles"] == {"retrying": n, "given_up": 0}
        assert src["last_run"]["failed"] == n and src["last_run"]["new"] == len(paths) - n
        failures = {f["url"].split("/", 3)[3]: f for f in running.service.store.failures()}
        assert {"/" + k for k in failures} == set(broken.values())
        assert {f["attempts"] for f in failures.values()} == {1}
        said = {fault: failures[path[1:]]["last_error"] for fault, path in broken.items()}
        assert "HTTP 500" in said["http-500"]
        assert (
            "Retry-After" in said["http-503-retry-after"] or "503" in said["http-503-retry-after"]
        )
        assert "timed out" in said["timeout"]
        assert "reset" in said["connection-reset"].lower()
        assert "complete message body" in said["truncated-transfer"]
        assert "body" in said["garbage-body"] and "body" in said["error-page-with-200"]

        # still failing: retried (retry_seconds is tiny here), nothing lost, attempts counted
        second = running.collect()
        assert second.failed == n and running.feed_ids() == good
        assert {f["attempts"] for f in running.service.store.failures()} == {2}

        # the source recovers: the next run picks them up, and /healthz says all is well
        site.clear()
        third = running.collect()
        assert third.ok and third.new == n and third.failed == 0
        assert running.feed_ids() > good and len(running.feed_ids()) == len(paths)
        assert running.source_health()["status"] == "ok"
        assert running.service.store.failures() == []


def test_fault_half_page_sent_as_complete_is_mended_by_the_recheck(
    tmp_path: Path, site: DemoSite
) -> None:
    """A page cut short but sent with a matching Content-Length is valid HTTP; the parser
    may find a body in it. What was stored is replaced when the article is re-checked."""
    app = create_app(site_settings(tmp_path, site, collector={"recheck_days": 100_000}))
    server = LiveServer(app).__enter__()
    running = Running(app, server)
    path = article_paths(site)[0]
    site.fault(path, half_page(site))
    running.collect()
    store = running.service.store
    aid = "tag:baohoabinh.com.vn,2006:" + path.split("/")[2]
    first = store.get(aid)
    site.clear()
    from feedsvc.collector import run_collection, utcnow

    # a re-check is due recheck_hours later: run the collection "then"
    later = running.service.settings.collector.recheck_hours + 1
    (r,) = run_collection(
        store,
        running.service.make_sources,
        running.service.pipeline(),
        settings=running.service.settings.collector,
        retention=running.service.settings.retention,
        now=lambda: utcnow() + timedelta(hours=later),
    )
    mended = store.get(aid)
    assert first is not None and mended is not None
    assert len(mended.content_html) > len(first.content_html)  # the whole text now
    assert r.updated >= 1
    assert aid in running.feed_ids()
    server.__exit__()


# -- listing faults -------------------------------------------------------------------------------


def test_fault_listing_500_keeps_the_last_good_articles(running: Running, site: DemoSite) -> None:
    assert running.collect().ok
    good = running.feed_ids()
    site.fault("listing", Reply(status=500, body="down"))
    result = running.collect()
    assert result.error and "500" in result.error
    assert running.feed_ids() == good
    status, body = running.health()
    assert status == 200 and body["status"] == "degraded"
    src = body["sources"]["baohoabinh"]
    assert src["status"] == "failing" and src["consecutive_failures"] == 1
    assert "500" in src["last_error"]["message"]
    assert src["last_success"] is not None and src["next_attempt"] is not None
    site.clear()
    assert running.collect().ok
    src = running.source_health()
    assert src["status"] == "ok" and src["consecutive_failures"] == 0
    assert running.feed_ids() == good


def test_fault_listing_that_lists_nothing_marks_the_source_broken(
    running: Running, site: DemoSite
) -> None:
    assert running.collect().ok
    good = running.feed_ids()
    # a redesign: the listing pages answer 200 with markup the profile does not know
    site.fault("listing", Reply(body="<html><body><div class='new-layout'>Tin</div></body></html>"))
    result = running.collect()
    assert result.error and result.broken
    assert running.feed_ids() == good
    src = running.source_health()
    assert src["status"] == "broken" and "layout" in src["broken"]
    site.clear()
    assert running.collect().ok
    assert running.source_health()["status"] == "ok"


def test_fault_articles_without_body_raise_the_alarm(tmp_path: Path, site: DemoSite) -> None:
    app = create_app(site_settings(tmp_path, site, collector={"parse_alarm": 3}))
    with LiveServer(app) as server:
        run = Running(app, server)
        # the article template changes: the pages keep a title but lose the body block
        redesigned = "<html><head><title>Tin - Báo Hòa Bình</title></head><body><h1>Tin</h1>"
        site.fault("article", Reply(body=redesigned + "</body></html>"))
        result = run.collect()
        assert result.failed == len(article_paths(site)) and result.broken
        src = run.source_health()
        assert src["status"] == "broken" and "in a row" in src["broken"]
        site.clear()
        result = run.collect()
        assert result.ok and result.broken is None
        assert run.source_health()["status"] == "ok"
        assert len(run.feed_ids()) == len(article_paths(site))


def test_fault_site_resets_every_connection(running: Running, site: DemoSite) -> None:
    assert running.collect().ok
    good = running.feed_ids()
    site.fault("*", Reply(reset=True))
    result = running.collect()
    assert result.error and "reset" in result.error.lower()
    assert running.feed_ids() == good
    assert running.source_health()["status"] == "failing"


def test_fault_slow_site_the_collection_stops_at_its_deadline(
    tmp_path: Path, site: DemoSite
) -> None:
    settings = site_settings(tmp_path, site, source={"deadline_seconds": 1})
    app = create_app(settings)
    with LiveServer(app) as server:
        run = Running(app, server)
        site.fault("article", lambda path: Reply(body=site.page(path), delay_s=0.2))
        result = run.collect()  # returns: never hangs past the deadline
        assert result.error and "deadline" in result.error
        saved = run.feed_ids()
        assert len(saved) < len(article_paths(site))
        assert run.source_health()["status"] == "failing"
    site.clear()
    roomy = site_settings(tmp_path, site, source={"deadline_seconds": 60})
    (result,) = Service(roomy).collect()
    assert result.ok
    after = {a.id for a in Store(roomy.database.url).latest(ALL, 100)}
    assert after > saved and len(after) == len(article_paths(site))


def test_fault_takedown_410_at_recheck_leaves_every_feed(tmp_path: Path, site: DemoSite) -> None:
    from feedsvc.collector import run_collection, utcnow

    # the demo's articles are from 2024: re-check articles of any age
    app = create_app(site_settings(tmp_path, site, collector={"recheck_days": 100_000}))
    server = LiveServer(app).__enter__()
    running = Running(app, server)
    assert running.collect().ok
    path = article_paths(site)[0]
    aid = "tag:baohoabinh.com.vn,2006:" + path.split("/")[2]
    assert aid in running.feed_ids()
    site.fault(path, Reply(status=410, body="Gone"))
    service = running.service
    (r,) = run_collection(
        service.store,
        service.make_sources,
        service.pipeline(),
        settings=service.settings.collector,
        retention=service.settings.retention,
        now=lambda: utcnow() + timedelta(hours=7),
    )
    assert r.gone == 1
    assert aid not in running.feed_ids()
    for slug in ("chinh-tri", "kinh-te"):
        assert aid not in running.feed_ids(slug)
    (event,) = service.store.events(aid)
    assert event.action == "gone" and "410" in event.reason
    assert running.source_health()["last_run"]["gone"] == 1
    server.__exit__()


def test_fault_store_locked_by_a_long_reader(running: Running, site: DemoSite) -> None:
    db = running.service.settings.database.url.split("///", 1)[1]
    reader = sqlite3.connect(db, timeout=0.1)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM articles").fetchone()
        result = running.collect()  # the reader's open transaction never blocks the writer
        assert result.ok and result.new == len(article_paths(site))
        assert len(running.feed_ids()) == len(article_paths(site))
        assert running.source_health()["status"] == "ok"
    finally:
        reader.rollback()
        reader.close()


# -- the service running through failure and recovery ---------------------------------------------


def test_fault_scheduler_drives_the_source_through_failure_and_recovery(
    tmp_path: Path, site: DemoSite
) -> None:
    """The judged scenario: a scheduler collecting every ~0.6 s while the source fails in
    turn, readers polling the feed and /healthz all along. The feed never loses an item,
    /healthz always answers 200 and names the failure, and recovery needs nothing but time."""
    settings = site_settings(
        tmp_path,
        site,
        schedule={"every_minutes": 0.01, "jitter_seconds": 0},
        collector={"backoff_seconds": 0.01, "backoff_max_seconds": 0.05},
    )
    app = create_app(settings)
    service = get_service(app)
    stop = threading.Event()
    seen: list[tuple[int, int]] = []  # (feed items, healthz status)
    named: list[str] = []
    reading = threading.Event()
    reading.set()

    with LiveServer(app) as server:
        run = Running(app, server)

        def reader() -> None:
            while reading.is_set():
                status, body = run.health()
                src = body.get("sources", {}).get("baohoabinh", {})
                if src.get("status") not in (None, "ok", "never"):
                    named.append(f"{src['status']}: {src.get('problem')}")
                seen.append((len(run.feed_ids()), status))
                time.sleep(0.01)

        sched, job = start_background(service, stop, first_run_in=timedelta(0))
        thread = threading.Thread(target=reader)
        thread.start()
        try:
            full = len(article_paths(site))
            wait_for(lambda: len(run.feed_ids()) == full)
            runs = job.runs
            site.fault("listing", Reply(status=500))
            wait_for(lambda: run.source_health()["status"] == "failing" and job.runs > runs + 1)
            site.fault("listing", Reply(reset=True))
            runs = job.runs
            wait_for(lambda: job.runs > runs + 1)
            site.clear()
            wait_for(lambda: run.source_health()["status"] == "ok")
        finally:
            reading.clear()
            thread.join()
            assert stop_background(sched, job, stop)
    counts = [n for n, _ in seen]
    first_full = counts.index(full)
    assert min(counts[first_full:]) == full  # never lost an item once it had them all
    assert {status for _, status in seen} == {200}
    assert any("500" in n for n in named) and any("failing" in n for n in named)
    assert service.store.lease() is None


# -- processes: two collectors, SIGKILL, SIGTERM --------------------------------------------------


def spawn(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    return subprocess.Popen(
        [str(FEEDSVC), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def slow_articles(site: DemoSite, delay_s: float = 0.1) -> None:
    site.fault("article", lambda path: Reply(body=site.page(path), delay_s=delay_s))


SLOW_OK = {"read_timeout_seconds": 5.0, "page_timeout_seconds": 10.0}  # slow is not failed


def saved_count(store: Store) -> int:
    try:
        return len(store.latest(ALL, 100))
    except Exception:
        return 0


def test_fault_two_collectors_started_together_one_collects(tmp_path: Path, site: DemoSite) -> None:
    settings = site_settings(tmp_path, site, fetch=SLOW_OK)
    Store(settings.database.url).init()
    slow_articles(site)
    config = str(settings.path)
    procs = [spawn("--config", config, "collect") for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 75], outs
    loser = next(o for p, o in zip(procs, outs, strict=True) if p.returncode == 75)
    assert "another collector holds the lease" in loser[1]
    store = Store(settings.database.url)
    assert saved_count(store) == len(article_paths(site))
    # every article was fetched once: the second collector fetched nothing
    requested = site.requested("article")
    assert len(requested) == len(set(requested)) == len(article_paths(site))
    assert store.lease() is None


def test_fault_sigkill_mid_run_leaves_a_consistent_store_and_the_next_run_continues(
    tmp_path: Path, site: DemoSite
) -> None:
    settings = site_settings(tmp_path, site, fetch=SLOW_OK)
    store = Store(settings.database.url)
    store.init()
    slow_articles(site, 0.2)
    proc = spawn("--config", str(settings.path), "collect")
    try:
        wait_for(lambda: saved_count(store) >= 3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    db = settings.database.url.split("///", 1)[1]
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    before = {a.id for a in store.latest(ALL, 100)}
    assert 3 <= len(before) < len(article_paths(site))
    for a in store.latest(ALL, 100):  # no half-written article
        assert a.title and a.content_html
    # the dead collector's lease is still there, its run never ended: /healthz says so
    lease = store.lease()
    assert lease is not None and f":{proc.pid}:" in lease.owner
    assert store.source_state("baohoabinh").running
    app = create_app(settings)
    health = app.test_client().get("/healthz").get_json()
    assert health["collector"]["running"] is False
    assert health["collector"]["lease"]["holder_dead"] is True
    assert health["sources"]["baohoabinh"]["running"] is False
    assert health["status"] == "degraded"
    assert any("process is gone" in p for p in health["problems"])

    # restarted at once: the lease of a dead process on this machine is taken over
    site.clear()
    again = spawn("--config", str(settings.path), "collect")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    after = {a.id for a in store.latest(ALL, 100)}
    assert before < after and len(after) == len(article_paths(site))
    assert "lease.takeover" in err
    assert store.lease() is None
    state = store.source_state("baohoabinh")
    assert not state.running and state.consecutive_failures == 0
    health = app.test_client().get("/healthz").get_json()
    assert health["sources"]["baohoabinh"]["status"] == "ok"


def test_fault_sigterm_lets_the_current_article_finish_releases_the_lease_exits_0(
    tmp_path: Path, site: DemoSite
) -> None:
    settings = site_settings(tmp_path, site, fetch=SLOW_OK)
    store = Store(settings.database.url)
    store.init()
    slow_articles(site, 0.3)
    proc = spawn("--config", str(settings.path), "scheduler")
    try:
        wait_for(lambda: saved_count(store) >= 2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "schedule.stop signal=SIGTERM" in err and "collect.stop" in err
    assert store.lease() is None
    saved = {a.id for a in store.latest(ALL, 100)}
    assert len(saved) < len(article_paths(site))
    # the article in flight when the signal came was finished and saved
    last = site.requested("article")[-1]
    assert "tag:baohoabinh.com.vn,2006:" + last.split("/")[2] in saved
    # stopped, not failed: no failure recorded, and the next run continues
    assert store.source_state("baohoabinh").consecutive_failures == 0
    site.clear()
    (result,) = Service(settings).collect()
    assert result.ok and len(store.latest(ALL, 100)) == len(article_paths(site))
