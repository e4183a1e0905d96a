"""Serving feeds over HTTP: validators, conditional requests, compression, caching headers,
the render cache, errors and the /rss/ redirect. Real SQLite files, real HTTP where it matters;
renders are counted through the server's hook, never timed."""

from __future__ import annotations

import gzip
import http.client
import shutil
import threading
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc import create_app
from feedsvc.cache import RenderCache
from feedsvc.catalog import ALL_SLUG
from feedsvc.exceptions import StoreError
from feedsvc.model import Article
from feedsvc.service import Service
from feedsvc.settings import Settings, load_settings
from feedsvc.store import Store
from feedsvc.web import get_service
from feedsvc.web.feeds import (
    FeedKey,
    accepts_gzip,
    feed_server,
    none_match,
    parse_if_none_match,
    parse_limit,
)

from .conftest import LiveServer, write_config

FEED = "/feeds/chinh-tri.xml"
VAN_MAI = "tag:baohoabinh.com.vn,2006:169105"
DB_NAME = "feedsvc.sqlite3"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo snapshot collected once; each test works on its own copy."""
    tmp = tmp_path_factory.mktemp("demo-db")
    config = write_config(
        tmp / "feedsvc.toml",
        {
            "database": {"url": f"sqlite:///{DB_NAME}"},
            "sources": [
                {"name": "baohoabinh", "url": "https://baohoabinh.com.vn/", "snapshot": "demo"}
            ],
        },
    )
    service = Service(load_settings(config, env={}))
    results = service.collect()
    assert all(r.ok for r in results), results
    service.close()
    return tmp / DB_NAME


@pytest.fixture
def make_app(
    demo_db: Path, tmp_path: Path, make_settings: Callable[..., Settings]
) -> Callable[..., Flask]:
    """An app over a fresh copy of the demo database; keyword arguments are config tables."""

    def make(**tables: Any) -> Flask:
        target = tmp_path / DB_NAME
        if not target.exists():
            for suffix in ("", "-wal"):
                if Path(f"{demo_db}{suffix}").exists():
                    shutil.copy(f"{demo_db}{suffix}", f"{target}{suffix}")
        app = create_app(make_settings(**tables))
        app.config["TESTING"] = True
        return app

    return make


@pytest.fixture
def demo_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(demo_app: Flask) -> FlaskClient:
    return demo_app.test_client()


def break_database(path: Path) -> None:
    """Overwrite the database (and its WAL files) in place with garbage: open connections
    fail too ("file is not a database"), whoever runs the test, root included."""
    for suffix in ("", "-wal", "-shm"):
        f = Path(f"{path}{suffix}")
        if f.exists():
            size = f.stat().st_size
            with f.open("r+b") as fh:
                fh.write((b"\x00not a database\xff" * (size // 16 + 1))[:size])


# -- 200: headers and validators ------------------------------------------------------------


def test_feed_200_carries_caching_validators_and_safety_headers(client: FlaskClient) -> None:
    resp = client.get(FEED)
    assert resp.status_code == 200
    h = resp.headers
    assert h["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert h["Cache-Control"] == (
        "public, max-age=600, stale-while-revalidate=300, stale-if-error=86400"
    )
    assert h["Vary"] == "Accept-Encoding"
    assert h["Access-Control-Allow-Origin"] == "*"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["ETag"].startswith('"') and h["ETag"].endswith('"')  # strong
    assert int(h["Content-Length"]) == len(resp.data)
    assert "Content-Encoding" not in h
    assert h["X-Cache"] == "MISS"
    assert client.get(FEED).headers["X-Cache"] == "HIT"


def test_feed_last_modified_is_the_newest_item(client: FlaskClient) -> None:
    import feedparser

    resp = client.get(FEED)
    parsed = feedparser.parse(resp.data)
    newest = max(
        parsedate_to_datetime(e.published) for e in parsed.entries
    )  # published == updated in the demo
    assert parsedate_to_datetime(resp.headers["Last-Modified"]) == newest


@pytest.mark.parametrize(
    ("ext", "content_type"),
    [
        ("xml", "application/rss+xml; charset=utf-8"),
        ("atom", "application/atom+xml; charset=utf-8"),
        ("json", "application/feed+json; charset=utf-8"),
    ],
)
def test_feed_every_format_has_cors_charset_and_nosniff(
    client: FlaskClient, ext: str, content_type: str
) -> None:
    resp = client.get(f"/feeds/tin-moi-nhat.{ext}")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == content_type
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_feed_etag_is_per_feed_format_and_limit_and_stable(
    make_app: Callable[..., Flask],
) -> None:
    first, second = make_app().test_client(), make_app().test_client()
    urls = [FEED, "/feeds/chinh-tri.atom", "/feeds/chinh-tri.json", "/feeds/kinh-te.xml"]
    urls += [FEED + "?limit=1", FEED + "?limit=2"]
    tags = [first.get(u).headers["ETag"] for u in urls]
    assert len(set(tags)) == len(tags)
    # Derived from the body: another worker (app) computes the same tags.
    assert [second.get(u).headers["ETag"] for u in urls] == tags


def test_feed_max_age_follows_the_schedule_or_the_config(make_app: Callable[..., Flask]) -> None:
    app = make_app(schedule={"every_minutes": 5})
    assert "max-age=300," in app.test_client().get(FEED).headers["Cache-Control"]
    app = make_app(cache={"max_age_seconds": 42, "stale_while_revalidate_seconds": 7})
    cc = app.test_client().get(FEED).headers["Cache-Control"]
    assert cc == "public, max-age=42, stale-while-revalidate=7, stale-if-error=86400"


# -- conditional requests -------------------------------------------------------------------


def assert_304(resp: Any, etag: str) -> None:
    assert resp.status_code == 304
    assert resp.data == b""
    assert resp.headers["ETag"] == etag
    assert resp.headers["Cache-Control"].startswith("public, max-age=")
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert resp.headers["Last-Modified"]
    assert "Content-Encoding" not in resp.headers


@pytest.mark.parametrize(
    "header",
    [
        "{etag}",
        "W/{etag}",
        '"nope", {etag}',
        '"nope",W/{etag} , "other"',
        "*",
    ],
)
def test_if_none_match_matching_is_304(client: FlaskClient, header: str) -> None:
    etag = client.get(FEED).headers["ETag"]
    resp = client.get(FEED, headers={"If-None-Match": header.format(etag=etag)})
    assert_304(resp, etag)


@pytest.mark.parametrize("header", ['"nope"', 'W/"nope", "other"', ""])
def test_if_none_match_not_matching_is_200(client: FlaskClient, header: str) -> None:
    full = client.get(FEED)
    resp = client.get(FEED, headers={"If-None-Match": header})
    assert resp.status_code == 200
    assert resp.data == full.data


def test_if_modified_since(client: FlaskClient) -> None:
    full = client.get(FEED)
    etag, lm = full.headers["ETag"], full.headers["Last-Modified"]
    before = format_datetime(
        parsedate_to_datetime(lm).replace(second=0, minute=0, hour=0), usegmt=True
    )
    assert_304(client.get(FEED, headers={"If-Modified-Since": lm}), etag)
    assert client.get(FEED, headers={"If-Modified-Since": before}).status_code == 200
    assert client.get(FEED, headers={"If-Modified-Since": "not a date"}).status_code == 200
    # If-None-Match, when sent, decides alone (RFC 9110 13.1.3).
    both = {"If-Modified-Since": lm, "If-None-Match": '"stale-copy"'}
    assert client.get(FEED, headers=both).status_code == 200
    both = {"If-Modified-Since": before, "If-None-Match": etag}
    assert client.get(FEED, headers=both).status_code == 304


def test_head_has_the_get_headers_and_no_body(client: FlaskClient) -> None:
    full = client.get(FEED)
    head = client.head(FEED)
    assert head.status_code == 200
    assert head.data == b""
    skip = {"X-Cache"}
    assert {k: v for k, v in head.headers if k not in skip} == {
        k: v for k, v in full.headers if k not in skip
    }
    assert int(head.headers["Content-Length"]) == len(full.data)
    assert_304(
        client.head(FEED, headers={"If-None-Match": full.headers["ETag"]}), full.headers["ETag"]
    )


def test_head_and_conditional_get_over_real_http(demo_app: Flask) -> None:
    with LiveServer(demo_app) as live:
        conn = http.client.HTTPConnection("127.0.0.1", live.server.server_port, timeout=10)
        conn.request("GET", FEED)
        resp = conn.getresponse()
        body, etag = resp.read(), resp.getheader("ETag")
        assert resp.status == 200 and len(body) == int(resp.getheader("Content-Length"))
        conn.request("HEAD", FEED)
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b""
        assert resp.getheader("Content-Length") == str(len(body))
        conn.request("GET", FEED, headers={"If-None-Match": etag})
        resp = conn.getresponse()
        assert resp.status == 304 and resp.read() == b""
        assert resp.getheader("ETag") == etag
        conn.close()


# -- compression ----------------------------------------------------------------------------


def test_gzip_served_when_accepted_with_its_own_etag(client: FlaskClient) -> None:
    plain = client.get(FEED)
    resp = client.get(FEED, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert resp.status_code == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert int(resp.headers["Content-Length"]) == len(resp.data)
    assert gzip.decompress(resp.data) == plain.data
    assert len(resp.data) < len(plain.data) / 2
    gz_etag = resp.headers["ETag"]
    assert gz_etag == plain.headers["ETag"][:-1] + '-gz"'
    # Each variant is validated by its own tag only: caches never mix them.
    accept = {"Accept-Encoding": "gzip"}
    assert_304(client.get(FEED, headers={**accept, "If-None-Match": gz_etag}), gz_etag)
    assert (
        client.get(FEED, headers={**accept, "If-None-Match": plain.headers["ETag"]}).status_code
        == 200
    )
    assert client.get(FEED, headers={"If-None-Match": gz_etag}).status_code == 200


def test_gzip_is_compressed_once_per_render(demo_app: Flask) -> None:
    client = demo_app.test_client()
    first = client.get(FEED, headers={"Accept-Encoding": "gzip"}).data
    for _ in range(3):
        assert client.get(FEED, headers={"Accept-Encoding": "gzip"}).data == first
    assert feed_server(demo_app).cache.builds == 1


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        ("gzip", True),
        ("GZIP;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("deflate, gzip;q=1.0, *;q=0.5", True),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("*;q=0, identity", False),
        ("gzip;q=0.5, identity;q=1", False),
        ("identity", False),
        ("br", False),
        ("", False),
        ("gzip;q=abc", False),
    ],
)
def test_accept_encoding_q_values(client: FlaskClient, accept: str, gzipped: bool) -> None:
    assert accepts_gzip(accept) is gzipped
    resp = client.get(FEED, headers={"Accept-Encoding": accept})
    assert resp.status_code == 200
    assert (resp.headers.get("Content-Encoding") == "gzip") is gzipped


def test_gzip_over_real_http(demo_app: Flask) -> None:
    with LiveServer(demo_app) as live:
        req = urllib.request.Request(live.url + FEED, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.headers["Content-Encoding"] == "gzip"
            assert gzip.decompress(resp.read()).startswith(b"<?xml")


# -- the render cache -----------------------------------------------------------------------


def test_cache_ignores_unknown_parameters_and_normalises_limit(demo_app: Flask) -> None:
    client = demo_app.test_client()
    cache = feed_server(demo_app).cache
    etag = client.get(FEED).headers["ETag"]
    for url in [FEED + "?_=1", FEED + "?utm_source=x&v=2", FEED + "?limit=30", FEED + "?limit=+30"]:
        resp = client.get(url)
        assert (resp.headers["X-Cache"], resp.headers["ETag"]) == ("HIT", etag), url
    assert cache.builds == 1
    client.get(FEED + "?limit=100")
    assert client.get(FEED + "?limit=5000").headers["X-Cache"] == "HIT"
    assert client.get(FEED + "?limit=-3&x=1").data.count(b"<item>") == 1
    assert client.get(FEED + "?limit=0").headers["X-Cache"] == "HIT"
    assert cache.builds == 3


def test_cache_renders_again_only_after_a_change(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    client = app.test_client()
    server = feed_server(app)
    before = client.get(FEED)
    assert VAN_MAI.encode() in before.data
    assert client.get(FEED).headers["X-Cache"] == "HIT"
    # The collector is another process: a Store of its own on the same file.
    collector = Store(get_service(app).settings.database.url)
    assert collector.set_hidden(VAN_MAI, True)
    after = client.get(FEED)
    assert after.headers["X-Cache"] == "MISS"
    assert VAN_MAI.encode() not in after.data
    assert after.headers["ETag"] != before.headers["ETag"]
    assert client.get(FEED, headers={"If-None-Match": before.headers["ETag"]}).status_code == 200
    assert server.cache.builds == 2
    collector.close()


def test_cache_trusts_its_version_for_version_check_seconds(make_app: Callable[..., Flask]) -> None:
    app = make_app(cache={"version_check_seconds": 3600})
    client = app.test_client()
    etag = client.get(FEED).headers["ETag"]
    collector = Store(get_service(app).settings.database.url)
    collector.set_hidden(VAN_MAI, True)
    resp = client.get(FEED)
    assert (resp.headers["X-Cache"], resp.headers["ETag"]) == ("HIT", etag)
    collector.close()


def test_cache_renders_once_for_concurrent_misses(demo_app: Flask) -> None:
    server = feed_server(demo_app)
    renders: list[FeedKey] = []
    release = threading.Event()
    n = 8

    def hold(key: FeedKey) -> None:
        renders.append(key)
        release.wait(30)

    server.on_render = hold
    results: list[tuple[int, str, str]] = []
    lock = threading.Lock()

    def fetch(i: int) -> None:
        # A reader's cache-buster on each: the same cache key all the same.
        with urllib.request.urlopen(f"{live.url}{FEED}?_={i}", timeout=30) as resp:
            with lock:
                results.append((resp.status, resp.headers["ETag"], resp.headers["X-Cache"]))

    with LiveServer(demo_app) as live:
        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        waited = 0
        while server.cache.waiting < n - 1 and waited < 3000:  # all but the renderer queued
            threading.Event().wait(0.01)
            waited += 1
        release.set()
        for t in threads:
            t.join(30)
    assert renders == [("chinh-tri", "rss", 30)]
    assert server.cache.builds == 1
    assert len(results) == n
    assert {r[:2] for r in results} == {(200, results[0][1])}
    assert sorted(r[2] for r in results) == ["HIT"] * (n - 1) + ["MISS"]


def test_cache_of_zero_bytes_still_serves(make_app: Callable[..., Flask]) -> None:
    app = make_app(cache={"max_bytes": 0})
    client = app.test_client()
    first, second = client.get(FEED), client.get(FEED)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.headers["X-Cache"] == "MISS" and first.data == second.data
    assert len(feed_server(app).cache) == 0


def test_render_cache_evicts_least_recently_used_by_bytes() -> None:
    cache: RenderCache[str, bytes] = RenderCache(max_bytes=250, size_of=len)
    builds: list[str] = []

    def build(key: str, size: int) -> Callable[[], bytes]:
        return lambda: builds.append(key) or b"x" * size  # type: ignore[func-returns-value]

    cache.get("a", 1, build("a", 100))
    cache.get("b", 1, build("b", 100))
    assert cache.get("a", 1, build("a", 100)) == (b"x" * 100, True)  # a is now the newest
    cache.get("c", 1, build("c", 100))  # 300 > 250: b, the least recently used, goes
    assert cache.peek("b") is None and cache.peek("a") is not None
    assert cache.bytes == 200 and cache.evictions == 1
    cache.get("huge", 1, build("huge", 1000))  # larger than the bound: served, not kept
    assert cache.peek("huge") is None and cache.bytes == 200
    assert cache.get("a", 2, build("a", 50)) == (b"x" * 50, False)  # newer version: rebuilt
    assert builds == ["a", "b", "c", "huge", "a"] and cache.bytes == 150


def test_render_cache_single_flight_shares_result_and_error() -> None:
    cache: RenderCache[str, str] = RenderCache(max_bytes=10_000, size_of=len)
    gate = threading.Event()
    calls: list[int] = []
    out: list[object] = []

    def slow() -> str:
        calls.append(1)
        gate.wait(30)
        if len(calls) == 1 and not out:
            raise StoreError("database down")
        return "body"

    def ask() -> None:
        try:
            out.append(cache.get("k", 1, slow))
        except StoreError as e:
            out.append(e)

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for t in threads:
        t.start()
    spins = 0
    while cache.waiting < 4 and spins < 3000:
        threading.Event().wait(0.01)
        spins += 1
    gate.set()
    for t in threads:
        t.join(30)
    assert len(calls) == 1
    assert len(out) == 5 and all(isinstance(o, StoreError) for o in out)
    assert cache.peek("k") is None
    assert cache.get("k", 1, slow) == ("body", False)


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/feeds/khong-co.xml", "/feeds/chinh-tri.rss", "/feeds/Chinh-Tri.xml", "/khong-co"]
)
def test_unknown_feed_is_a_vietnamese_404_listing_the_real_feeds(demo_app: Flask, url: str) -> None:
    resp = demo_app.test_client().get(url)
    assert resp.status_code == 404
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    page = resp.get_data(as_text=True)
    assert '<html lang="vi">' in page
    assert "Không tìm thấy" in page
    for scope in get_service(demo_app).catalog.scopes():
        for ext in ("xml", "atom", "json"):
            assert f'href="/feeds/{scope.slug}.{ext}"' in page
        assert scope.name in page
    assert "Mai Châu" in page and "Chính trị" in page


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("limit=abc", "limit must be an integer"),
        ("limit=1.5", "limit must be an integer"),
        ("limit=%D9%A3", "limit must be an integer"),  # an Arabic-Indic digit
        ("limit=5&limit=6", "more than once"),
    ],
)
def test_bad_parameters_are_400_with_the_reason(
    client: FlaskClient, query: str, reason: str
) -> None:
    resp = client.get(f"{FEED}?{query}")
    assert resp.status_code == 400
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert reason in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "limit"),
    [
        ("", 30),
        ("limit=", 30),
        ("limit=7", 7),
        ("limit=%37", 7),
        ("limit=0", 1),
        ("limit=-4", 1),
        ("limit=999999999999999999999", 100),
        ("limit=-999999999999999999999", 1),
        ("x=1&limit=12&y=2", 12),
        ("limits=5", 30),
    ],
)
def test_parse_limit_normalises(query: str, limit: int) -> None:
    assert parse_limit(query, 30, 100) == limit


def test_store_unavailable_serves_the_cached_body_stale(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    client = app.test_client()
    cached = client.get(FEED)
    break_database(Path(get_service(app).settings.database.url.removeprefix("sqlite:///")))
    resp = client.get(FEED)
    assert resp.status_code == 200
    assert resp.data == cached.data
    assert resp.headers["ETag"] == cached.headers["ETag"]
    assert resp.headers["X-Cache"] == "STALE"
    assert resp.headers["Cache-Control"] == "public, max-age=60"
    stale_304 = client.get(FEED, headers={"If-None-Match": cached.headers["ETag"]})
    assert stale_304.status_code == 304


def test_store_unavailable_without_a_cached_body_is_503(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    client = app.test_client()
    client.get(FEED)
    break_database(Path(get_service(app).settings.database.url.removeprefix("sqlite:///")))
    for url in ("/feeds/kinh-te.xml", FEED + "?limit=3"):
        resp = client.get(url)
        assert resp.status_code == 503
        assert resp.headers["Retry-After"] == "30"
        assert resp.headers["Cache-Control"] == "no-store"
        assert "store unavailable" in resp.get_data(as_text=True)


def test_render_failure_serves_the_last_good_body(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    client = app.test_client()
    good = client.get(FEED)
    collector = Store(get_service(app).settings.database.url)
    collector.set_hidden(VAN_MAI, True)  # a change: the next request re-renders

    def boom(key: FeedKey) -> None:
        raise RuntimeError("render bug")

    feed_server(app).on_render = boom
    resp = client.get(FEED)
    assert (resp.status_code, resp.headers["X-Cache"]) == (200, "STALE")
    assert resp.data == good.data
    with pytest.raises(RuntimeError):  # nothing to fall back on: a real error (500)
        client.get("/feeds/kinh-te.xml")
    collector.close()


# -- the /rss/ alias ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/rss/chinh-tri.rss", "/feeds/chinh-tri.xml"),
        ("/rss/mai-chau.rss?limit=5&utm_source=x", "/feeds/mai-chau.xml?limit=5"),
        (f"/rss/{ALL_SLUG}.rss?limit=a%26b", f"/feeds/{ALL_SLUG}.xml?limit=a%26b"),
    ],
)
def test_rss_alias_redirects_permanently(client: FlaskClient, url: str, location: str) -> None:
    resp = client.get(url)
    assert resp.status_code == 301
    assert resp.headers["Location"] == location


def test_rss_alias_of_an_unknown_feed_is_404(client: FlaskClient) -> None:
    assert client.get("/rss/khong-co.rss").status_code == 404


# -- parsing and the store's change counter -------------------------------------------------


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ('"a"', {'"a"'}),
        ('W/"a", "b"', {'"a"', '"b"'}),
        (' "a" ,W/"b",', {'"a"', '"b"'}),
        ("a", {'"a"'}),
        ("*", None),
        ("", set()),
    ],
)
def test_parse_if_none_match(header: str, tags: set[str] | None) -> None:
    parsed = parse_if_none_match(header)
    assert (None if parsed is None else set(parsed)) == tags
    assert none_match(header, '"a"') is (tags is None or '"a"' in tags)


def test_store_version_sees_other_connections_commits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    reader, writer = Store(url), Store(url)
    writer.init()
    v0 = reader.version()
    writer.set_hidden("no-such-article", True)  # no visible change: no bump
    assert reader.version() == v0
    when = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    article = Article(
        id="tag:baohoabinh.com.vn,2006:1",
        source="baohoabinh",
        url="https://baohoabinh.com.vn/11/1/Bai-1.htm",
        title="Bài 1",
        summary="Tóm tắt",
        content_html="<p>Nội dung</p>",
        published=when,
        updated=when,
    )
    assert writer.save(article, now=when) == "new"
    assert reader.version() == v0 + 1
    reader.close()
    writer.close()


def test_store_version_raises_store_error_on_a_broken_database(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = Store(f"sqlite:///{path}")
    store.version()
    break_database(path)
    with pytest.raises(StoreError):
        store.version()


def test_fast_path_passes_other_urls_to_flask(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.post(FEED).status_code == 405
    assert client.get("/").status_code == 200
