"""The collector under failure, against a scriptable FakeSource and a real SQLite store, with an
injected clock: failure isolation, retries, backoff, alarms, takedowns, the lease, stopping,
and what /healthz says about each."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from feedsvc import create_app
from feedsvc.catalog import Scope
from feedsvc.collector import (
    CollectorLease,
    Pipeline,
    Policy,
    RunControl,
    backoff_delay,
    collect,
    collect_source,
    run_collection,
)
from feedsvc.exceptions import LeaseHeldError, ParseError
from feedsvc.service import Service
from feedsvc.settings import CollectorSettings, RetentionSettings, Settings
from feedsvc.store import Store
from feedsvc.web import get_service

from .fakesource import T0, FakeSource, article_id

ALL = Scope("all", "tin-moi-nhat", "Tin mới nhất")


class Clock:
    def __init__(self, start: datetime = T0 + timedelta(hours=1)) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> datetime:
        self.t += timedelta(**kw)
        return self.t


@pytest.fixture
def app(settings: Settings) -> Flask:
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def service(app: Flask) -> Service:
    return get_service(app)


@pytest.fixture
def pipe(service: Service) -> Pipeline:
    return service.pipeline()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def run(src: FakeSource, pipe: Pipeline, clock: Clock, **kw: Any) -> Any:
    kw.setdefault("deadline_s", 60)
    kw.setdefault("policy", Policy())
    return collect_source(src, pipe, now=clock, **kw)  # type: ignore[arg-type]


def titles(store: Store, scope: Scope = ALL) -> list[str]:
    return [a.title for a in store.latest(scope, 100)]


def healthz(app: Flask, clock: Clock | None = None) -> tuple[int, dict[str, Any]]:
    from feedsvc.web.ops import health

    if clock is not None:  # judge freshness by the test's clock
        body, status = health(get_service(app), now=clock())
        return status, body
    resp = app.test_client().get("/healthz")
    return resp.status_code, resp.get_json()


def use_fake_source(app: Flask, name: str) -> None:
    """/healthz reports the configured sources: point the config at the fake one."""
    service = get_service(app)
    src = service.settings.sources[0].__class__(name=name, url="https://fake.test/")
    service.settings = service.settings.replace(sources=(src,))


# -- failure isolation ----------------------------------------------------------------------------


def test_collect_keeps_last_good_articles_when_source_fails(
    app: Flask, pipe: Pipeline, clock: Clock
) -> None:
    use_fake_source(app, "fake")
    src = FakeSource()
    for n in (1, 2, 3):
        src.article(n)
    first = run(src, pipe, clock)
    assert (first.new, first.error) == (3, None)
    status, body = healthz(app, clock)
    assert status == 200 and body["status"] == "ok"
    assert body["sources"]["fake"]["last_run"]["new"] == 3

    src.fail()
    clock.advance(minutes=10)
    second = run(src, pipe, clock)
    assert second.error and "HTTP 500" in second.error
    assert titles(pipe.store) == ["Bài số 3", "Bài số 2", "Bài số 1"]
    status, body = healthz(app, clock)
    assert status == 200  # feeds are still servable
    fake = body["sources"]["fake"]
    assert fake["status"] == "failing" and body["status"] == "degraded"
    assert fake["consecutive_failures"] == 1
    assert "HTTP 500" in fake["last_error"]["message"]
    assert fake["last_error"]["at"] == clock().isoformat(timespec="seconds")
    assert fake["last_success"] == (clock() - timedelta(minutes=10)).isoformat(timespec="seconds")
    assert any("fake: failing" in p for p in body["problems"])


def test_collect_one_failing_article_is_recorded_and_retried_later(
    app: Flask, pipe: Pipeline, clock: Clock
) -> None:
    use_fake_source(app, "fake")
    src = FakeSource()
    for n in (1, 2, 3):
        src.article(n)
    src.fail(2)
    r = run(src, pipe, clock)
    assert (r.new, r.failed, r.error) == (2, 1, None)
    (failure,) = pipe.store.failures()
    assert failure["article_id"] == article_id(2) and failure["attempts"] == 1
    assert "HTTP 500" in failure["last_error"]
    _, body = healthz(app, clock)
    assert body["sources"]["fake"]["status"] == "degraded"
    assert body["sources"]["fake"]["failed_articles"] == {"retrying": 1, "given_up": 0}

    # not due yet: the next run leaves it alone
    src.fetched.clear()
    clock.advance(seconds=60)
    r = run(src, pipe, clock)
    assert src.fetched == [] and r.failed == 0
    # due (300 s after the failure): retried, still failing, the delay doubles
    clock.advance(seconds=300)
    r = run(src, pipe, clock)
    assert src.fetched == [2] and r.failed == 1
    (failure,) = pipe.store.failures()
    assert failure["attempts"] == 2
    # the source recovers: the next due retry saves it and clears the record
    src.recover(2)
    clock.advance(seconds=601)
    r = run(src, pipe, clock)
    assert r.new == 1 and pipe.store.failures() == []
    assert len(titles(pipe.store)) == 3
    _, body = healthz(app, clock)
    assert body["sources"]["fake"]["status"] == "ok"


def test_collect_retries_a_failed_article_after_it_left_the_listing(
    pipe: Pipeline, clock: Clock
) -> None:
    src = FakeSource()
    src.article(1)
    src.article(2)
    src.fail(1)
    run(src, pipe, clock)
    src.unlist(1)
    src.recover(1)
    clock.advance(seconds=301)
    r = run(src, pipe, clock)
    assert r.new == 1 and "Bài số 1" in titles(pipe.store)


def test_collect_gives_up_on_an_article_after_max_attempts(pipe: Pipeline, clock: Clock) -> None:
    src = FakeSource()
    src.article(1)
    src.article(2)
    src.fail(1)
    policy = Policy(retry_s=10, retry_max_s=10, max_attempts=3)
    for _ in range(5):
        run(src, pipe, clock, policy=policy)
        clock.advance(seconds=11)
    assert src.fetched.count(1) == 3
    (failure,) = pipe.store.failures()
    assert failure["next_retry"] is None


def test_collect_one_source_never_stops_another(pipe: Pipeline, clock: Clock) -> None:
    class Buggy(FakeSource):
        def list_latest(self, **kw: Any) -> list[Any]:
            raise RuntimeError("a bug in this adapter")

    good = FakeSource("good")
    good.article(1)
    bad_listing = FakeSource("down")
    bad_listing.fail()
    results = collect([(Buggy("buggy"), 60.0), (bad_listing, 60.0), (good, 60.0)], pipe, now=clock)
    assert [r.source for r in results] == ["buggy", "down", "good"]
    assert "a bug in this adapter" in (results[0].error or "")
    assert results[1].error and results[2].ok and results[2].new == 1


def test_collect_unexpected_error_in_one_article_does_not_stop_the_batch(
    pipe: Pipeline, clock: Clock
) -> None:
    src = FakeSource()
    src.article(1)
    src.article(2)
    src.fail(2, ZeroDivisionError("oops"))
    r = run(src, pipe, clock)
    assert (r.new, r.failed) == (1, 1)
    assert "ZeroDivisionError" in r.errors[0]


# -- backoff --------------------------------------------------------------------------------------


def test_backoff_delay_doubles_and_is_capped() -> None:
    assert [backoff_delay(n, 60, 1000) for n in range(7)] == [0, 60, 120, 240, 480, 960, 1000]
    assert backoff_delay(500, 60, 1000) == 1000


def test_collect_source_backs_off_and_resets_on_success(
    app: Flask, pipe: Pipeline, clock: Clock
) -> None:
    src = FakeSource()
    src.article(1)
    src.fail()
    policy = Policy(backoff_s=60, backoff_max_s=200)
    waits = []
    for _ in range(4):
        r = run(src, pipe, clock, policy=policy, respect_backoff=True)
        assert r.error and not r.skipped
        state = pipe.store.source_state("fake")
        assert state.next_attempt is not None
        waits.append((state.next_attempt - clock()).total_seconds())
        # before the next attempt is due, a scheduled run skips the source
        calls = src.list_calls
        clock.advance(seconds=1)
        skipped = run(src, pipe, clock, policy=policy, respect_backoff=True)
        assert skipped.skipped and "backing off" in skipped.skipped
        assert src.list_calls == calls
        clock.t = state.next_attempt
    assert waits == [60, 120, 200, 200]
    assert pipe.store.source_state("fake").consecutive_failures == 4
    # a manual collect does not wait for the backoff
    src.recover()
    clock.advance(seconds=-1)
    r = run(src, pipe, clock, policy=policy)
    assert r.ok and r.new == 1
    state = pipe.store.source_state("fake")
    assert state.consecutive_failures == 0 and state.next_attempt is None
    assert state.runs_total == 5 and state.failed_runs_total == 4


# -- alarms ---------------------------------------------------------------------------------------


def test_collect_empty_listing_marks_source_broken_until_it_lists_again(
    app: Flask, pipe: Pipeline, clock: Clock
) -> None:
    use_fake_source(app, "fake")
    src = FakeSource()
    src.article(1)
    run(src, pipe, clock)
    src.empty()
    clock.advance(minutes=10)
    r = run(src, pipe, clock)
    assert r.error and "yielded no articles" in r.error and r.broken
    status, body = healthz(app, clock)
    assert status == 200
    assert body["sources"]["fake"]["status"] == "broken"
    assert "layout" in body["sources"]["fake"]["broken"]
    assert titles(pipe.store) == ["Bài số 1"]
    src.recover()
    src.article(2)
    clock.advance(minutes=10)
    r = run(src, pipe, clock)
    assert r.ok and r.broken is None
    _, body = healthz(app, clock)
    assert body["sources"]["fake"]["status"] == "ok"


def test_collect_articles_without_body_raise_the_alarm_and_keep_the_old_text(
    app: Flask, pipe: Pipeline, clock: Clock
) -> None:
    use_fake_source(app, "fake")
    src = FakeSource()
    src.article(1)
    run(src, pipe, clock)
    # the site's layout changes: new articles parse without a body
    for n in (2, 3):
        src.article(n, body="<div class='ad'></div>")
    r = run(src, pipe, clock)
    assert r.failed == 2 and r.broken is None  # two is not yet an alarm
    src.article(4, body="   ")
    clock.advance(minutes=10)
    r = run(src, pipe, clock)
    assert r.broken and "3 articles in a row" in r.broken and "without a body" in r.broken
    _, body = healthz(app, clock)
    assert body["sources"]["fake"]["status"] == "broken"
    assert titles(pipe.store) == ["Bài số 1"]
    # an article with a body again clears the alarm
    src.article(5)
    clock.advance(minutes=10)
    r = run(src, pipe, clock)
    assert r.new == 1 and r.broken is None
    _, body = healthz(app, clock)
    assert body["sources"]["fake"]["broken"] is None


def test_collect_parse_errors_count_towards_the_alarm(pipe: Pipeline, clock: Clock) -> None:
    src = FakeSource()
    for n in (1, 2, 3):
        src.article(n)
        src.fail(n, ParseError(f"{src.url(n)}: no article body"))
    r = run(src, pipe, clock, policy=Policy(parse_alarm=3))
    assert r.broken and "3 articles in a row" in r.broken


def test_collect_not_modified_upstream_is_no_alarm(pipe: Pipeline, clock: Clock) -> None:
    src = FakeSource()
    src.article(1)
    run(src, pipe, clock)
    src.not_modified_next()
    r = run(src, pipe, clock)
    assert r.ok and r.broken is None and r.seen == 0


# -- takedowns ------------------------------------------------------------------------------------


def test_collect_recheck_of_a_gone_article_takes_it_out_of_every_feed(
    app: Flask, pipe: Pipeline, clock: Clock
) -> None:
    src = FakeSource()
    src.article(1)
    src.article(2)
    run(src, pipe, clock)
    district = Scope("district", "mai-chau", "Mai Châu")
    before = titles(pipe.store, district)
    src.gone(2)
    src.unlist(2)
    # not due for a re-check yet
    r = run(src, pipe, clock)
    assert r.gone == 0
    clock.advance(hours=7)
    r = run(src, pipe, clock)
    assert r.gone == 1 and r.failed == 0
    assert titles(pipe.store) == ["Bài số 1"]
    assert "Bài số 2" not in titles(pipe.store, district)
    assert len(before) >= len(titles(pipe.store, district))
    (event,) = pipe.store.events(article_id(2))
    assert (event.action, event.actor) == ("gone", "collector") and "404" in event.reason
    assert pipe.store.source_state("fake").gone_total == 1


def test_collect_recheck_picks_up_an_edit(pipe: Pipeline, clock: Clock) -> None:
    src = FakeSource()
    src.article(1)
    run(src, pipe, clock)
    src.article(1, title="Bài số 1 (đã sửa)")
    clock.advance(hours=7)
    r = run(src, pipe, clock)
    assert r.updated == 1 and titles(pipe.store) == ["Bài số 1 (đã sửa)"]


def test_collect_recheck_only_recent_articles(pipe: Pipeline, clock: Clock) -> None:
    src = FakeSource()
    src.article(1, published=clock() - timedelta(days=30))
    run(src, pipe, clock)
    src.gone(1)
    clock.advance(hours=7)
    assert run(src, pipe, clock).gone == 0


# -- stopping, deadlines, the lease ---------------------------------------------------------------


def test_collect_stop_request_lets_the_current_article_finish(pipe: Pipeline, clock: Clock) -> None:
    src = FakeSource()
    for n in (1, 2, 3, 4):
        src.article(n)
    control = RunControl()
    src.on_fetch.append(lambda n: control.stop.set() if n == 3 else None)
    r = run(src, pipe, clock, control=control)
    assert src.fetched == [4, 3]  # newest first; 3 was in flight when the stop came
    assert (r.new, r.interrupted, r.error) == (2, True, None)
    state = pipe.store.source_state("fake")
    assert state.consecutive_failures == 0 and state.last_success is None
    # the next run continues where this one stopped
    r = run(src, pipe, clock)
    assert r.new == 2 and len(titles(pipe.store)) == 4


def test_collect_deadline_leaves_the_rest_for_next_time(pipe: Pipeline, clock: Clock) -> None:
    src = FakeSource()
    for n in (1, 2, 3):
        src.article(n)
    r = run(src, pipe, clock, deadline_s=0)
    assert r.new == 0 and r.error and "deadline" in r.error
    r = run(src, pipe, clock)
    assert r.new == 3


def settings_for_run(**kw: Any) -> CollectorSettings:
    return CollectorSettings(**kw)


def test_run_collection_refuses_while_another_collector_holds_the_lease(
    pipe: Pipeline, clock: Clock
) -> None:
    store = pipe.store
    other = f"{socket.gethostname()}:{os.getpid()}:other"  # alive: this very process
    store.acquire_lease(other, 300, now=clock())
    src = FakeSource()
    src.article(1)
    with pytest.raises(LeaseHeldError, match="another collector holds the lease") as e:
        run_collection(
            store,
            lambda: [(src, 60.0)],
            pipe,
            settings=CollectorSettings(),
            retention=RetentionSettings(),
            now=clock,
        )
    assert other in str(e.value)
    assert src.list_calls == 0 and src.closed
    # its holder stops renewing (a crash on another machine): after expiry we take over
    clock.advance(seconds=301)
    results = run_collection(
        store,
        lambda: [(src, 60.0)],
        pipe,
        settings=CollectorSettings(),
        retention=RetentionSettings(),
        now=clock,
    )
    assert results[0].new == 1
    assert store.lease() is None  # released at the end


def test_lease_of_a_dead_process_on_this_machine_is_taken_at_once(
    pipe: Pipeline, clock: Clock
) -> None:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = f"{socket.gethostname()}:{child.pid}:x"
    pipe.store.acquire_lease(dead, 300, now=clock())
    lease = CollectorLease(pipe.store, 300, now=clock)
    lease.acquire()
    assert lease.held and pipe.store.lease().owner == lease.owner  # type: ignore[union-attr]


def test_lease_on_another_machine_is_waited_for(pipe: Pipeline, clock: Clock) -> None:
    pipe.store.acquire_lease("elsewhere:1:x", 300, now=clock())
    lease = CollectorLease(pipe.store, 300, now=clock)
    with pytest.raises(LeaseHeldError, match="elsewhere:1:x"):
        lease.acquire(wait_s=0.05)


def test_collect_waiting_for_the_lease_gets_it_when_released(pipe: Pipeline, clock: Clock) -> None:
    store = pipe.store
    store.acquire_lease("elsewhere:1:x", 300, now=clock())
    src = FakeSource()
    src.article(1)
    releaser = threading.Timer(0.2, lambda: store.release_lease("elsewhere:1:x"))
    releaser.start()
    try:
        results = run_collection(
            store,
            lambda: [(src, 60.0)],
            pipe,
            settings=CollectorSettings(),
            retention=RetentionSettings(),
            now=clock,
            wait_s=30,
        )
    finally:
        releaser.join()
    assert results[0].new == 1


def test_collect_stops_when_its_lease_is_lost(pipe: Pipeline, clock: Clock) -> None:
    store = pipe.store
    src = FakeSource()
    for n in (1, 2, 3):
        src.article(n)
    lease = CollectorLease(store, 60, now=clock)
    lease.acquire()

    def steal(n: int) -> None:
        if n == 2:  # our lease expires and another collector takes it
            clock.advance(seconds=61)
            store.acquire_lease("thief:1:x", 60, now=clock())
            lease._renewed = 0.0  # make the next check renew at once

    src.on_fetch.append(steal)
    r = run(src, pipe, clock, control=RunControl(lease=lease))
    assert r.interrupted and r.error and "lease was lost" in r.error
    assert src.fetched == [3, 2]
    assert store.source_state("fake").consecutive_failures == 0


def test_run_collection_applies_retention(pipe: Pipeline, clock: Clock) -> None:
    src = FakeSource()
    for n in range(1, 6):
        src.article(n, published=clock() - timedelta(days=100 - n))
    results = run_collection(
        pipe.store,
        lambda: [(src, 60.0)],
        pipe,
        settings=CollectorSettings(),
        retention=RetentionSettings(days=30, keep=2),
        now=clock,
    )
    assert results[0].new == 5
    assert titles(pipe.store) == ["Bài số 5", "Bài số 4"]
    # and the expired ones are not collected again
    r = run(src, pipe, clock)
    assert r.new == 0 and src.fetched.count(1) == 1


# -- /healthz -------------------------------------------------------------------------------------


def test_healthz_never_collected_and_stale(app: Flask, service: Service, clock: Clock) -> None:
    status, body = healthz(app)
    assert status == 200
    assert body["sources"]["baohoabinh"]["status"] == "never"
    service.collect()
    status, body = healthz(app)
    assert body["status"] == "ok", body["problems"]
    src = body["sources"]["baohoabinh"]
    assert src["last_run"]["new"] == 48 and src["last_run"]["seen"] == 48
    assert body["collector"] == {"lease": None, "running": False}
    # no collection for an hour: is the scheduler running?
    later = Clock(datetime.fromisoformat(src["last_attempt"]) + timedelta(hours=1))
    _, body = healthz(app, later)
    assert body["sources"]["baohoabinh"]["status"] == "stale"
    assert "scheduler" in body["sources"]["baohoabinh"]["problem"]


def test_healthz_503_when_the_store_cannot_be_read(app: Flask, service: Service) -> None:
    import sqlalchemy as sa

    with service.store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE meta"))
    status, body = healthz(app)
    assert status == 503
    assert body["status"] == "error" and body["servable"] is False
    assert "store" in body["problems"][0]


def test_healthz_shows_the_lease_holder(app: Flask, service: Service, clock: Clock) -> None:
    service.store.acquire_lease("host:1:x", 300, now=clock())
    _, body = healthz(app, clock)
    assert body["collector"]["running"] is True
    assert body["collector"]["lease"]["owner"] == "host:1:x"


# -- web workers never schedule -------------------------------------------------------------------


def test_create_app_starts_no_scheduler(make_settings: Callable[..., Settings]) -> None:
    before = {t.name for t in threading.enumerate()}
    create_app(make_settings())
    after = {t.name for t in threading.enumerate()}
    assert not any("APScheduler" in t or "apscheduler" in t.lower() for t in after - before)


# -- /metrics -------------------------------------------------------------------------------------


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text exposition, or None."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def test_metrics_counts_requests_by_route_and_reads_collections_from_the_store(
    app: Flask, service: Service
) -> None:
    client = app.test_client()
    before = client.get("/metrics").get_data(as_text=True)
    route = {"route": "/feeds/<slug>.<ext>", "method": "GET", "status": "200"}
    n0 = metric_value(before, "feedsvc_http_requests_total", **route) or 0
    hits0 = metric_value(before, "feedsvc_render_cache_total", result="hit") or 0
    misses0 = metric_value(before, "feedsvc_render_cache_total", result="miss") or 0
    assert metric_value(before, "feedsvc_collections_total", source="baohoabinh") == 0
    service.collect()
    for slug in ("tin-moi-nhat", "mai-chau", "tin-moi-nhat"):
        assert client.get(f"/feeds/{slug}.xml").status_code == 200
    assert client.get("/feeds/khong-co.xml").status_code == 404
    assert client.get("/healthz").status_code == 200
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.content_type.startswith("text/plain; version=0.0.4")
    text = resp.get_data(as_text=True)
    assert metric_value(text, "feedsvc_http_requests_total", **route) == n0 + 3
    assert metric_value(text, "feedsvc_render_cache_total", result="miss") == misses0 + 2
    assert metric_value(text, "feedsvc_render_cache_total", result="hit") == hits0 + 1
    assert metric_value(text, "feedsvc_http_requests_total", route="/healthz", status="200")
    assert metric_value(
        text, "feedsvc_http_requests_total", route="/feeds/<slug>.<ext>", status="404"
    )
    assert metric_value(
        text, "feedsvc_http_request_duration_seconds_count", route="/feeds/<slug>.<ext>"
    )
    assert metric_value(text, "feedsvc_store_up") == 1
    assert metric_value(text, "feedsvc_collections_total", source="baohoabinh") == 1
    assert metric_value(text, "feedsvc_collection_failures_total", source="baohoabinh") == 0
    assert (
        metric_value(text, "feedsvc_collected_articles_total", source="baohoabinh", status="new")
        == 48
    )
    assert metric_value(text, "feedsvc_articles", status="visible") == 48
    assert metric_value(text, "feedsvc_source_broken", source="baohoabinh") == 0
    assert metric_value(text, "feedsvc_collector_lease_held") == 0
    assert (metric_value(text, "feedsvc_source_last_success_timestamp_seconds") or 0) > 0


def test_metrics_render_cache_counter() -> None:
    from prometheus_client import REGISTRY

    from feedsvc import metrics

    def count(result: str) -> float:
        return REGISTRY.get_sample_value("feedsvc_render_cache_total", {"result": result}) or 0

    hits, misses = count("hit"), count("miss")
    metrics.render_cache(True)
    metrics.render_cache(False)
    metrics.render_cache(True)
    assert (count("hit"), count("miss")) == (hits + 2, misses + 1)


def test_metrics_only_for_allowed_networks(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings())
    client = app.test_client()
    assert client.get("/metrics").status_code == 200  # 127.0.0.1
    outside = client.get("/metrics", environ_overrides={"REMOTE_ADDR": "203.0.113.9"})
    assert outside.status_code == 403
    assert b"[metrics] allow" in outside.data
    assert client.get("/metrics", environ_overrides={"REMOTE_ADDR": "::1"}).status_code == 200
    # through the local reverse proxy: the client it forwards for must be allowed too
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"})
    assert proxied.status_code == 403
    local = client.get("/metrics", headers={"X-Forwarded-For": "10.9.9.9, 127.0.0.1"})
    assert local.status_code == 200
    app = create_app(make_settings(metrics={"allow": ["10.0.0.0/8", "2001:db8::/32"]}))
    client = app.test_client()
    assert client.get("/metrics", environ_overrides={"REMOTE_ADDR": "10.2.3.4"}).status_code == 200
    assert (
        client.get("/metrics", environ_overrides={"REMOTE_ADDR": "2001:db8::7"}).status_code == 200
    )
    assert client.get("/metrics").status_code == 403  # loopback is no longer listed


def test_metrics_bad_network_in_config_is_a_config_error(
    make_settings: Callable[..., Settings],
) -> None:
    from feedsvc.exceptions import ConfigError

    with pytest.raises(ConfigError, match=r"\[metrics\]\.allow"):
        make_settings(metrics={"allow": ["10.0.0.0/33"]})


# -- the command line -----------------------------------------------------------------------------


def cli(*args: str, env: dict[str, str] | None = None) -> Any:
    import subprocess
    import sys
    from pathlib import Path

    feedsvc = Path(sys.executable).parent / "feedsvc"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    full_env.update(env or {})
    return subprocess.run(
        [str(feedsvc), *args], capture_output=True, text=True, env=full_env, timeout=120
    )


def test_cli_collect_exits_75_while_another_collector_holds_the_lease(
    settings: Settings, clock: Clock
) -> None:
    from datetime import UTC

    store = Store(settings.database.url)
    holder = f"{socket.gethostname()}:{os.getpid()}:pytest"  # this process: alive
    store.acquire_lease(holder, 300, now=datetime.now(UTC))
    config = str(settings.path)
    result = cli("--config", config, "collect")
    assert result.returncode == 75, result.stderr
    assert "another collector holds the lease" in result.stderr and holder in result.stderr
    assert "--wait" in result.stderr
    result = cli("--config", config, "collect", "--wait", "0.3")
    assert result.returncode == 75
    assert store.latest(ALL, 10) == []
    store.release_lease(holder)
    result = cli("--config", config, "collect")
    assert result.returncode == 0, result.stderr
    assert store.lease() is None


def test_cli_hide_and_unhide_record_who_and_why(settings: Settings) -> None:
    config = str(settings.path)
    assert cli("--config", config, "collect").returncode == 0
    store = Store(settings.database.url)
    aid = "tag:baohoabinh.com.vn,2006:169105"
    n = len(store.latest(ALL, 100))
    result = cli("--config", config, "hide", "169105", "--reason", "đính chính", "--by", "bientap")
    assert result.returncode == 0, result.stderr
    assert "hidden from every feed" in result.stdout
    assert aid not in {a.id for a in store.latest(ALL, 100)}
    assert len(store.latest(ALL, 100)) == n - 1
    result = cli("--config", config, "unhide", aid, "--by", "thuky")
    assert result.returncode == 0 and "back in its feeds" in result.stdout
    assert aid in {a.id for a in store.latest(ALL, 100)}
    assert [(e.action, e.actor, e.reason) for e in store.events(aid)] == [
        ("unhide", "thuky", ""),
        ("hide", "bientap", "đính chính"),
    ]
    missing = cli("--config", config, "hide", "99999999")
    assert missing.returncode == 1 and "no such article" in missing.stderr


def test_cli_health_prints_the_healthz_document(settings: Settings) -> None:
    import json

    result = cli("--config", str(settings.path), "health")
    assert result.returncode == 0
    assert json.loads(result.stdout)["sources"]["baohoabinh"]["status"] == "never"


def test_collect_unparseable_listing_marks_source_broken(
    app: Flask, pipe: Pipeline, clock: Clock
) -> None:
    use_fake_source(app, "fake")
    src = FakeSource()
    src.fail(None, ParseError("listing: selector [listing] item matched nothing"))
    r = run(src, pipe, clock)
    assert r.error and r.broken and "layout" in r.broken
    _, body = healthz(app, clock)
    assert body["sources"]["fake"]["status"] == "broken"


def test_collect_after_an_unfinished_run_walks_the_whole_listing(
    pipe: Pipeline, clock: Clock
) -> None:
    """A paged listing stops where known articles begin. A run that stopped half-way saved
    the newest first: older unknown ones may lie below known ones, so the next run walks
    every page once (the source gets no ``known``)."""
    src = FakeSource()
    for n in (1, 2, 3, 4):
        src.article(n)

    def later(**kw: Any) -> Any:
        clock.advance(seconds=1)
        return run(src, pipe, clock, **kw)

    later()  # never collected before: a full walk
    later()  # after a complete run: stop at known articles
    control = RunControl()
    src.article(5)
    src.article(6)
    src.on_fetch.append(lambda n: control.stop.set())
    later(control=control)  # stopped after one article
    src.on_fetch.clear()
    later()
    later()
    assert src.known_given == [False, True, True, False, True]
    # a run that died (kill -9) leaves last_attempt after last_finished: the same
    state = pipe.store.source_state("fake")
    state.last_attempt = clock() + timedelta(seconds=1)
    pipe.store.save_source_state(state)
    clock.advance(seconds=2)
    run(src, pipe, clock)
    assert src.known_given[-1] is False


def test_metrics_under_gunicorn_with_several_workers_sum_every_worker(
    settings: Settings, tmp_path: Path
) -> None:
    """Production's set-up: gunicorn with deploy/gunicorn.conf.py, two workers, and
    PROMETHEUS_MULTIPROC_DIR; the collector ran in another process. Whichever worker answers
    /metrics, the request count is the sum over workers, and collection figures are there."""
    import subprocess
    import sys
    import urllib.request

    Service(settings).collect()  # "the collector", in this process
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    multiproc = tmp_path / "prometheus"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(FEEDSVC_CONFIG=str(settings.path), PROMETHEUS_MULTIPROC_DIR=str(multiproc))
    root = Path(__file__).resolve().parent.parent
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen(
        [str(gunicorn), "-c", "deploy/gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "-w", "2"]
        + ["--access-logfile", "/dev/null", "wsgi:app"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> str:
        with urllib.request.urlopen(base + path, timeout=10) as r:
            return str(r.read().decode())

    try:
        give_up = time.monotonic() + 60
        while True:
            try:
                get("/healthz")
                break
            except OSError:
                if time.monotonic() > give_up or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        # hold one worker busy with a request sent slowly, so the other serves the next ones
        held = socket.create_connection(("127.0.0.1", port), timeout=10)
        held.sendall(b"GET /feeds/tin-moi-nhat.xml HTTP/1.1\r\nHost: t\r\n")
        for _ in range(10):
            get("/feeds/tin-moi-nhat.xml")
        held.sendall(b"Connection: close\r\n\r\n")
        while held.recv(65536):
            pass
        held.close()
        for _ in range(9):
            get("/feeds/tin-moi-nhat.xml")
        pids = set()
        route = {"route": "/feeds/<slug>.<ext>", "method": "GET", "status": "200"}
        for _ in range(6):  # several scrapes: different workers answer, all say the same
            text = get("/metrics")
            assert metric_value(text, "feedsvc_http_requests_total", **route) == 20
            assert metric_value(text, "feedsvc_collections_total", source="baohoabinh") == 1
            assert metric_value(text, "feedsvc_articles", status="visible") == 48
            hits = metric_value(text, "feedsvc_render_cache_total", result="hit") or 0
            misses = metric_value(text, "feedsvc_render_cache_total", result="miss") or 0
            assert hits + misses == 20 and 1 <= misses <= 2  # one miss per worker at most
            pids.update(p.name for p in multiproc.glob("counter_*.db"))
        assert len(pids) == 2  # both workers counted
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_healthz_a_run_that_died_is_not_running_and_goes_stale(
    app: Flask, service: Service, clock: Clock
) -> None:
    state = service.store.source_state("baohoabinh")
    state.last_attempt = clock()  # started, never finished, and nobody holds the lease
    service.store.save_source_state(state)
    _, body = healthz(app, clock)
    assert body["sources"]["baohoabinh"]["running"] is False
    clock.advance(hours=1)
    _, body = healthz(app, clock)
    assert body["sources"]["baohoabinh"]["status"] == "stale"
