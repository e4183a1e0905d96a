"""Collecting from a live site: whole collections against a local HTTP server.

``tests/data/livesite/NAME.case.json`` says where a case lives on the site and how the server
answers it (``replies``: status, headers, charset, delays, truncation, redirects); ``NAME.htm``
is its page when it has one; ``NAME.expected.json`` is the golden result: the article as
stored after a whole collection, or the error the collection recorded for it. Regenerate the
golden files after a deliberate change with ``FEEDSVC_REGENERATE=1 pytest tests/test_livesite.py``
and review the diff.

Every case is listed on the section's first listing page and the whole site is collected once
(``collected``), with sub-second timeouts and a small politeness delay: nothing may hang or
crash the collection, and the server's own clock shows the delay was kept.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feedsvc.catalog import load_catalog
from feedsvc.collector import Policy, build_article, collect
from feedsvc.model import CollectResult
from feedsvc.progress import Progress, format_duration
from feedsvc.sanitise import html_to_text
from feedsvc.service import Service
from feedsvc.settings import Settings, load_settings
from feedsvc.sources.fetch import HttpFetcher, user_agent_for
from feedsvc.sources.html import HtmlSource, extract_article, load_profile

from .conftest import DATA, ROOT, write_config
from .httpfixture import HttpFixture, RecordedRequest, Reply, redirect

CASES_DIR = DATA / "livesite"
CASES = sorted(p.name.removesuffix(".case.json") for p in CASES_DIR.glob("*.case.json"))
PROFILE = ROOT / "config" / "layouts" / "baohoabinh.toml"
NOW = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
MIN_DELAY_S = 0.02
FEEDSVC = Path(sys.executable).parent / "feedsvc"
ROBOTS = "User-agent: *\nDisallow: /9/\n"

#: [fetch] for tests: sub-second timeouts, one retry without backoff, a small body cap.
FETCH: dict[str, Any] = {
    "min_delay_seconds": MIN_DELAY_S,
    "connect_timeout_seconds": 0.5,
    "read_timeout_seconds": 0.3,
    "page_timeout_seconds": 1.0,
    "retries": 1,
    "backoff_seconds": 0,
    "max_bytes": 100_000,
    "max_retry_after_seconds": 2,
    "max_redirects": 3,
}


def article_id(path: str) -> str:
    m = re.match(r"/\d+/(\d+)/", path)
    assert m, path
    return f"tag:baohoabinh.com.vn,2006:{m.group(1)}"


def load_case(name: str) -> dict[str, Any]:
    case: dict[str, Any] = json.loads((CASES_DIR / f"{name}.case.json").read_text())
    page = CASES_DIR / f"{name}.htm"
    case["page"] = page.read_text(encoding="utf-8") if page.is_file() else None
    return case


def to_cp1258(text: str) -> bytes:
    """Windows-1258 keeps â ê ô ă ơ ư đ whole but writes tones as combining marks."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            out.append(ch.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", ch)
        letters = [m for m in marks if m in "\u0302\u0306\u031b"]  # circumflex, breve, horn
        tones = [m for m in marks if m not in letters]
        out.append(unicodedata.normalize("NFC", base + "".join(letters)).encode("cp1258"))
        out.append("".join(tones).encode("cp1258"))
    return b"".join(out)


def reply_from(spec: dict[str, Any], page: str | None) -> Reply:
    if "redirect" in spec:
        return redirect(spec["redirect"], status=spec.get("status", 302))
    body: str | bytes = spec.get("body", page or "")
    if isinstance(body, str) and body.startswith("filler:"):
        body = ("<p>" + "x" * 96 + "</p>\n") * (int(body[7:]) // 100)
    if spec.get("charset") == "cp1258":
        assert isinstance(body, str)
        body = to_cp1258(body)
    return Reply(
        status=spec.get("status", 200),
        body=body,
        headers=spec.get("headers", {}),
        content_type=spec.get("content_type", "text/html; charset=utf-8"),
        delay_s=spec.get("delay_s", 0.0),
        truncate_at=spec.get("truncate_at"),
    )


def listing_page(items: list[tuple[str, str, str | None]]) -> str:
    """A listing page in the paper's markup (docs/demo-layout.md): (href, title, date)."""
    rows = []
    for href, title, date in items:
        rows.append(
            '  <div class="news-item">\n'
            f'   <a class="thumb" href="{href}"><img src="/Images/blank.gif" alt=""></a>\n'
            f'   <h3><a class="title" href="{href}">{title}</a></h3>\n'
            + (f'   <span class="date">{date}</span>\n' if date else "")
            + f'   <p class="lead">(HBĐT) - Tóm tắt: {title}.</p>\n'
            "  </div>\n"
        )
    return (
        '<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8">'
        "<title>Chính trị - Báo Hòa Bình</title></head><body>\n"
        '<div id="main">\n <h2 class="cat-title">Chính trị</h2>\n <div class="list-news">\n'
        + "".join(rows)
        + " </div>\n</div>\n</body></html>\n"
    )


def live_settings(
    tmp_path: Path,
    base_url: str,
    fetch: dict[str, Any] | None = None,
    collector: dict[str, Any] | None = None,
    **source: Any,
) -> Settings:
    return load_settings(
        write_config(
            tmp_path / "feedsvc.toml",
            {
                "database": {"url": "sqlite:///feedsvc.sqlite3"},
                "fetch": {**FETCH, **(fetch or {})},
                "collector": collector or {},
                "sources": [
                    {
                        "name": "baohoabinh",
                        "kind": "html",
                        "url": base_url + "/",
                        "sections": ["chinh-tri"],
                        "deadline_seconds": 60,
                        **source,
                    }
                ],
            },
        ),
        env={},
    )


def run_collection(
    settings: Settings, *, now: datetime = NOW, max_pages: int | None = None
) -> tuple[Service, CollectResult]:
    service = Service(settings)
    sources = service.make_sources()
    policy = Policy.from_settings(settings.collector)
    try:
        (result,) = collect(
            sources, service.pipeline(), now=lambda: now, max_pages=max_pages, policy=policy
        )
    finally:
        for src, _ in sources:
            src.close()
    return service, result


# --------------------------------------------------------------------------------------------
# One whole collection of every case


@dataclass
class Collected:
    base: str
    service: Service
    result: CollectResult
    requests: list[RecordedRequest]


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collected]:
    tmp_path = tmp_path_factory.mktemp("livesite")
    with HttpFixture() as server:
        server.route("/robots.txt", Reply(body=ROBOTS, content_type="text/plain"))
        items: list[tuple[str, str, str | None]] = []
        for name in CASES:
            case = load_case(name)
            replies = [reply_from(spec, case["page"]) for spec in case.get("replies", [{}])]
            server.route(case["path"], *replies)
            for path, specs in case.get("routes", {}).items():
                server.route(path, *(reply_from(spec, case["page"]) for spec in specs))
            items.append((case.get("listed_as", case["path"]), name, case.get("listing_date")))
        # The same article again under another slug, category and query: never a second one.
        items.append(("/4/300001/Tieu-de-khac.htm?page=2#top", "normal again", None))
        server.route("/11/page/1/CHINH-TRI.htm", Reply(body=listing_page(items)))
        settings = live_settings(tmp_path, server.base_url)
        service, result = run_collection(settings)
        requests = list(server.requests)
    yield Collected(server.base_url, service, result, requests)
    service.close()


def stored(collected: Collected, path: str) -> dict[str, Any] | None:
    article = collected.service.store.get(article_id(path))
    if article is None:
        return None
    got = {
        "id": article.id,
        "url": article.url,
        "title": article.title,
        "published": article.published.astimezone(load_profile(PROFILE).timezone).isoformat(),
        "date_source": article.date_source,
        "author": article.author,
        "section": article.section,
        "image": article.image,
        "image_caption": article.image_caption,
        "summary": article.summary,
        "text": html_to_text(article.content_html),
    }
    return json.loads(json.dumps(got, ensure_ascii=False).replace(collected.base, "{base}"))


def expected(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((CASES_DIR / f"{name}.expected.json").read_text())
    return found


@pytest.mark.parametrize("name", CASES)
def test_livesite_case_golden(collected: Collected, name: str) -> None:
    case = load_case(name)
    got = stored(collected, case["path"])
    if got is None:
        errors = [e for e in collected.result.errors if case["path"] in e]
        assert len(errors) == 1, (name, collected.result.errors)
        got = {"saved": False, "error": errors[0].replace(collected.base, "{base}")}
    expected_path = CASES_DIR / f"{name}.expected.json"
    if os.environ.get("FEEDSVC_REGENERATE"):
        expected_path.write_text(json.dumps(got, ensure_ascii=False, indent=2) + "\n")
    assert got == expected(name)
    if "text" in got:
        assert "Các tin khác" not in got["text"]
        assert "Xem các tin đã đưa ngày" not in got["text"]
        assert "\ufffd" not in got["text"] + got["title"]


def test_livesite_collection_survives_every_failure(collected: Collected) -> None:
    result = collected.result
    failures = [n for n in CASES if not expected(n).get("saved", True)]
    assert result.ok, result.error  # the source as a whole was read
    assert result.seen == len(CASES)  # the duplicate listing entry counted once
    assert result.failed == len(failures) == len(result.errors)
    assert result.new == len(CASES) - len(failures)


def test_livesite_site_never_hit_faster_than_min_delay(collected: Collected) -> None:
    times = sorted(r.time for r in collected.requests)
    assert len(times) > 20
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= MIN_DELAY_S


def test_livesite_retry_after_is_honoured(collected: Collected) -> None:
    times = [r.time for r in collected.requests if r.path == load_case("rate-limited")["path"]]
    assert len(times) == 2
    assert times[1] - times[0] >= 1.0


def test_livesite_robots_txt_path_is_never_requested(collected: Collected) -> None:
    assert [r.path for r in collected.requests if r.path.startswith("/9/")] == []
    assert [r.path for r in collected.requests].count("/robots.txt") == 1


def test_livesite_sends_honest_user_agent(collected: Collected) -> None:
    agents = {r.headers.get("User-Agent") for r in collected.requests}
    assert agents == {user_agent_for("http://127.0.0.1:8000")}


def test_livesite_one_article_per_id(collected: Collected) -> None:
    normal = collected.service.store.get(article_id("/11/300001/x.htm"))
    assert normal is not None and normal.url.endswith(
        "/11/300001/Huyen-Mai-Chau-tong-ket-nam-2024.htm"
    )
    redirected = load_case("redirected")
    article = collected.service.store.get(article_id(redirected["path"]))
    assert article is not None and article.url.endswith(redirected["path"])
    # Listed once, fetched once, however many addresses the listing gave it.
    assert sum(1 for r in collected.requests if "/300001/" in r.path) == 1


# --------------------------------------------------------------------------------------------
# The listing walk


def article_page(n: int, title: str, body: str = "Nội dung bài viết.") -> str:
    return (
        '<html><head><meta charset="utf-8"></head><body><div class="news-detail">'
        f'<h1 class="news-title">{title}</h1>'
        f'<div class="news-date">01/12/2025 08:{n % 60:02d}</div>'
        f'<div class="news-content"><p><strong>(HBĐT) - Tin số {n}.</strong></p><p>{body}</p>'
        "</div></div></body></html>"
    )


def serve_site(server: HttpFixture, pages: list[list[int]]) -> None:
    """Listing pages of article numbers (newest first), and each article's page."""
    for i, numbers in enumerate(pages, 1):
        items = [(f"/11/{n}/Tin-{n}.htm", f"Tin {n}", None) for n in numbers]
        server.route(f"/11/page/{i}/CHINH-TRI.htm", Reply(body=listing_page(items)))
        for n in numbers:
            server.route(f"/11/{n}/Tin-{n}.htm", Reply(body=article_page(n, f"Tin {n}")))


def listing_path(page: int) -> str:
    return f"/11/page/{page}/CHINH-TRI.htm"


def listing_hits(server: HttpFixture) -> list[int]:
    pages = [re.match(r"/11/page/(\d+)/", r.path) for r in server.requests]
    return [int(m.group(1)) for m in pages if m]


def test_livesite_walk_follows_pages_until_known_articles(tmp_path: Path) -> None:
    with HttpFixture() as server:
        serve_site(server, [[506, 505], [504, 503], [502, 501], [500]])
        settings = live_settings(tmp_path, server.base_url, max_pages=3)
        service, first = run_collection(settings)
        assert first.new == 6 and listing_hits(server) == [1, 2, 3]  # the cap
        server.requests.clear()
        serve_site(server, [[508, 507], [506, 505], [504, 503]])
        service, second = run_collection(settings)
        # Page 2 ends with a known article: older pages hold nothing new.
        assert (second.new, listing_hits(server)) == (2, [1, 2])
        assert second.ok
        service.close()


def test_livesite_backfill_walks_n_pages_even_when_known(tmp_path: Path) -> None:
    with HttpFixture() as server:
        serve_site(server, [[506, 505], [504, 503], [502, 501], [500]])
        settings = live_settings(tmp_path, server.base_url, max_pages=1)
        service, first = run_collection(settings)
        assert (first.new, listing_hits(server)) == (2, [1])
        server.requests.clear()
        service, backfill = run_collection(settings, max_pages=10)
        # Page 5 answers 404: the walk ends there, quietly.
        assert (backfill.new, listing_hits(server)) == (5, [1, 2, 3, 4, 5])
        assert backfill.ok and backfill.failed == 0
        service.close()


def test_livesite_listing_without_items_is_an_error_naming_the_selector(tmp_path: Path) -> None:
    with HttpFixture() as server:
        server.route(
            "/11/page/1/CHINH-TRI.htm",
            Reply(body='<html><body><div class="redesigned"><a href="/11/1/a.htm">a</a></div>'),
        )
        service, result = run_collection(live_settings(tmp_path, server.base_url))
        service.close()
    assert result.error is not None
    assert "[listing] item" in result.error and "baohoabinh.toml" in result.error
    assert "news-item" in result.error  # the selector itself


def test_livesite_unreachable_site_fails_the_source_not_the_run(tmp_path: Path) -> None:
    with HttpFixture() as server:
        server.route("/11/page/1/CHINH-TRI.htm", Reply(status=503, body="down"))
        service, result = run_collection(live_settings(tmp_path, server.base_url))
        service.close()
    assert result.error is not None and "HTTP 503" in result.error
    assert result.new == 0


def test_livesite_one_bad_section_does_not_stop_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with HttpFixture() as server:
        serve_site(server, [[601, 600]])  # chinh-tri; xa-hoi's listing is missing (404)
        settings = live_settings(tmp_path, server.base_url, sections=["chinh-tri", "xa-hoi"])
        service, result = run_collection(settings)
        service.close()
    assert result.ok and result.new == 2
    assert "/10/page/1/XA-HOI.htm: HTTP 404" in caplog.text


def test_livesite_deadline_ends_the_walk_without_hanging(tmp_path: Path) -> None:
    with HttpFixture() as server:
        for page in range(1, 10):
            items = [(f"/11/{610 + page}/Tin.htm", "Tin", None)]
            server.route(
                f"/11/page/{page}/CHINH-TRI.htm", Reply(delay_s=0.3, body=listing_page(items))
            )
        slow_ok = {"read_timeout_seconds": 5, "page_timeout_seconds": 5}
        settings = live_settings(tmp_path, server.base_url, slow_ok, deadline_seconds=1.0)
        service, result = run_collection(settings, max_pages=9)
        service.close()
    # Some pages came in time; the walk stopped at the deadline, and so did the run.
    assert result.error is not None and "deadline" in result.error, result.error
    assert 1 <= result.seen < 9 and result.new == 0


# --------------------------------------------------------------------------------------------
# Conditional requests, updates, identity


def make_source(server: HttpFixture, fetcher: HttpFetcher, settings: Settings) -> HtmlSource:
    profile = load_profile(PROFILE).with_base(server.base_url + "/")
    return HtmlSource(
        "baohoabinh", profile, fetcher, load_catalog(settings), sections=["chinh-tri"]
    )


def conditional(body: str, etag: str) -> Any:
    def answer(request: RecordedRequest) -> Reply:
        if request.headers.get("If-None-Match") == etag:
            return Reply(status=304, headers={"ETag": etag}, content_type=None)
        return Reply(body=body, headers={"ETag": etag})

    return answer


def test_livesite_not_modified_listing_and_article(tmp_path: Path) -> None:
    settings = live_settings(tmp_path, "http://127.0.0.1:1")
    listing, article = "/11/page/1/CHINH-TRI.htm", "/11/700/Tin-700.htm"
    with (
        HttpFixture() as server,
        HttpFetcher(user_agent="feedsvc-test", min_delay_s=0, respect_robots=False) as fetcher,
    ):
        items = [(article, "Tin 700", "01/12/2025 08:00")]
        server.route(listing, conditional(listing_page(items), '"l1"'))
        server.route(article, conditional(article_page(700, "Tin 700"), '"a1"'))
        source = make_source(server, fetcher, settings)
        refs = source.list_latest()
        first = source.fetch(refs[0])
        # Asked again, the server answers 304 to both: nothing new, the same article, and the
        # walk stops at the unchanged first page.
        server.requests.clear()
        again = source.list_latest()
        assert [r.id for r in again] == [r.id for r in refs]
        assert source.fetch(again[0]) == first
        asked = [(r.path, r.headers.get("If-None-Match")) for r in server.requests]
        assert asked == [(listing, '"l1"'), (article, '"a1"')]
        # A source without the earlier copy (same fetcher, same validators) asks again in full.
        server.requests.clear()
        fresh = make_source(server, fetcher, settings)
        assert fresh.fetch(refs[0]).title == "Tin 700"
        asked = [(r.path, r.headers.get("If-None-Match")) for r in server.requests]
        assert asked == [(article, '"a1"'), (article, None)]


def test_livesite_changed_article_updates_and_unchanged_touches_nothing(tmp_path: Path) -> None:
    settings = live_settings(tmp_path, "http://127.0.0.1:1")
    service = Service(settings)
    pipe = service.pipeline()
    with HttpFixture() as server:
        items = [("/11/800/Tin-800.htm", "Tin 800", None)]
        server.route("/11/page/1/CHINH-TRI.htm", Reply(body=listing_page(items)))
        server.route("/11/800/Tin-800.htm", Reply(body=article_page(800, "Tin 800", "Bản đầu.")))
        fetcher = HttpFetcher(user_agent="feedsvc-test", min_delay_s=0, respect_robots=False)
        source = make_source(server, fetcher, settings)
        (ref,) = source.list_latest(max_pages=1)

        def save(at: datetime) -> str:
            raw = source.fetch(ref)
            return service.store.save(build_article(raw, pipe, source="b", now=at), now=at)

        t0 = NOW
        assert save(t0) == "new"
        version = service.store.version()
        assert save(t0 + timedelta(hours=1)) == "unchanged"
        assert service.store.version() == version
        unchanged = service.store.get(ref.id)
        assert unchanged is not None and unchanged.updated == unchanged.published
        server.route("/11/800/Tin-800.htm", Reply(body=article_page(800, "Tin 800", "Bản sửa.")))
        t2 = t0 + timedelta(hours=2)
        assert save(t2) == "updated"
        article = service.store.get(ref.id)
        assert article is not None and "Bản sửa." in article.content_html
        assert article.updated == t2 and article.published == unchanged.published
        assert service.store.version() == version + 1
        fetcher.close()
    service.close()


def test_livesite_recheck_stores_edits_and_leaves_unchanged_articles_alone(
    tmp_path: Path,
) -> None:
    """Young articles are fetched again after [collector] recheck_hours: an edited one is
    updated (new ``updated`` time), an unchanged one touches nothing."""
    collector = {"recheck_hours": 1, "recheck_days": 60}
    with HttpFixture() as server:
        serve_site(server, [[851, 850]])
        settings = live_settings(tmp_path, server.base_url, collector=collector, max_pages=1)
        service, first = run_collection(settings)
        assert first.new == 2
        before = {i: service.store.get(f"tag:baohoabinh.com.vn,2006:{i}") for i in (850, 851)}
        version = service.store.version()
        service.close()

        edited = article_page(851, "Tin 851", "Nội dung đã sửa: thêm số liệu mới.")
        server.route("/11/851/Tin-851.htm", Reply(body=edited))
        server.requests.clear()
        # Too early for a re-check: nothing is fetched but the listing.
        service, early = run_collection(settings, now=NOW + timedelta(minutes=30))
        asked = [r.path for r in server.requests]
        assert (early.updated, asked) == (0, ["/robots.txt", listing_path(1)])
        service.close()

        later = NOW + timedelta(hours=2)
        service, second = run_collection(settings, now=later)
        assert second.ok and (second.new, second.updated, second.failed) == (0, 1, 0)
        after = {i: service.store.get(f"tag:baohoabinh.com.vn,2006:{i}") for i in (850, 851)}
        assert service.store.version() == version + 1  # one visible change
        service.close()
    changed, same, old_changed, old_same = after[851], after[850], before[851], before[850]
    assert changed and same and old_changed and old_same
    assert "Nội dung đã sửa" in changed.content_html
    assert (changed.updated, changed.published) == (later, old_changed.published)
    assert (same.updated, same.content_html) == (old_same.updated, old_same.content_html)


@pytest.mark.parametrize(
    "url",
    [
        "https://baohoabinh.com.vn/11/169105/CB-CC.htm",
        "http://baohoabinh.com.vn/11/169105/CB-CC.htm",
        "https://www.baohoabinh.com.vn/11/169105/CB-CC.htm",
        "https://baohoabinh.com.vn/11/169105/Another-Slug,-With_Commas.htm",
        "https://baohoabinh.com.vn/4/169105/CB-CC.htm",
        "https://baohoabinh.com.vn/11/169105/CB-CC.htm?utm_source=x&page=2",
        "https://baohoabinh.com.vn/11/169105/CB-CC.htm#comments",
        "/11/169105/CB-CC.html",
    ],
)
def test_livesite_article_id_ignores_scheme_www_slug_category_query(url: str) -> None:
    profile = load_profile(PROFILE)
    assert profile.article_id(url) == "tag:baohoabinh.com.vn,2006:169105"
    assert profile.with_base("http://127.0.0.1:5/").article_id(url) == profile.article_id(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://other.example/11/169105/CB-CC.htm",
        "https://en.baohoabinh.com.vn/11/169105/CB-CC.htm",
        "https://baohoabinh.com.vn/11/page/1/CHINH-TRI.htm",
        "https://baohoabinh.com.vn/11/abc/CB-CC.htm",
    ],
)
def test_livesite_article_id_rejects_other_sites_and_pages(url: str) -> None:
    assert load_profile(PROFILE).article_id(url) is None


# --------------------------------------------------------------------------------------------
# Backfill progress


def test_livesite_cli_backfill_reports_progress_and_summary(tmp_path: Path) -> None:
    with HttpFixture() as server:
        serve_site(server, [[902, 901], [900]])
        config = tmp_path / "feedsvc.toml"
        live_settings(tmp_path, server.base_url)  # writes the config file
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
        result = subprocess.run(
            [str(FEEDSVC), "--config", str(config), "collect", "--backfill", "3"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("collect: baohoabinh: 3 seen, 3 new")
    progress_lines = [line for line in result.stderr.splitlines() if " progress " in line]
    # Not a terminal: plain log lines, one per listing page at least.
    assert any("pages 1/3" in line for line in progress_lines), result.stderr
    assert any("pages 3/3" in line or "pages 2/2" in line for line in progress_lines)
    assert "\r" not in result.stderr


class FakeTerminal:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


def test_progress_terminal_line_counts_and_estimates() -> None:
    clock = [100.0]
    term = FakeTerminal()
    shown = Progress(term, tty=True, clock=lambda: clock[0])  # type: ignore[arg-type]
    shown.plan_pages(4)
    clock[0] += 2
    shown.page_done("p1", 10)
    assert "pages 1/4 · articles 0/0" in term.text
    # 1 page in 2 s; 3 pages and about 40 articles (10 a page) to go: 43 units of 2 s.
    assert shown.seconds_left() == pytest.approx(86)
    shown.skip_pages(3)  # the walk stopped early
    shown.plan_articles(10)
    for _ in range(10):
        clock[0] += 1
        shown.article_done()
    assert shown.line().startswith("pages 1/1 · articles 10/10 · 12s elapsed, about 0s left")
    shown.close()
    assert term.text.endswith("\r\x1b[2K")


def test_progress_format_duration() -> None:
    assert [format_duration(s) for s in (0, 9.4, 65, 3725)] == ["0s", "9s", "1:05", "1:02:05"]


# --------------------------------------------------------------------------------------------
# The operator's tools: the example config, `feedsvc parse`, adapting the profile


def run_feedsvc(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    return subprocess.run(
        [str(FEEDSVC), *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_livesite_example_config_reads_the_live_site() -> None:
    settings = load_settings(ROOT / "config" / "examples" / "live.toml", env={})
    (src,) = settings.sources
    assert (src.kind, src.snapshot, src.url) == ("html", "", "https://baohoabinh.com.vn/")
    result = run_feedsvc(
        "--config", str(ROOT / "config" / "examples" / "live.toml"), "check-config"
    )
    assert result.returncode == 0, result.stderr


def test_livesite_cli_parse_shows_fields_and_fallback_warnings() -> None:
    result = run_feedsvc("parse", str(CASES_DIR / "redesign-fallbacks.htm"))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["kind"] == "article"
    assert out["lead"].startswith("Năm 2025, tỉnh Hòa Bình đón 3 triệu")
    assert out["captions"] == ["Du khách tham quan hồ Hòa Bình. Ảnh: T.H"]
    assert out["images"] == ["https://baohoabinh.com.vn/NewsImg/12_2025/300016_dulich.jpg"]
    warned = {w.split(":", 1)[0] for w in out["warnings"]}
    assert warned == {"[article] body", "[article] title", "[article] date"}


def test_livesite_cli_parse_reads_a_listing_file() -> None:
    page = next((ROOT / "feedsvc" / "demo" / "site" / "11" / "page" / "1").glob("*.htm"))
    result = run_feedsvc("parse", str(page))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["kind"] == "listing" and out["warnings"] == []
    assert out["url"] == "https://baohoabinh.com.vn/11/page/1/CHINH-TRI.htm"
    assert all(item["id"].startswith("tag:baohoabinh.com.vn,2006:") for item in out["items"])
    assert all(item["published"].endswith("+07:00") for item in out["items"])


def test_livesite_redesign_is_fixed_by_a_profile_edit(tmp_path: Path) -> None:
    """docs/layout-profiles.md's worked example: three selectors first, no warnings left."""
    head, article = PROFILE.read_text(encoding="utf-8").split("\n[article]\n")
    for key, new in (
        ("title", "//h1[contains(@class, 'post-title')]"),
        ("date", "//span[contains(@class, 'post-time')]"),
        ("body", "//div[contains(@class, 'post-body')]"),
    ):
        article = re.sub(rf"^{key} = \[", f'{key} = ["{new}", ', article, count=1, flags=re.M)
    edited = tmp_path / "edited.toml"
    edited.write_text(head + "\n[article]\n" + article, encoding="utf-8")
    page = (CASES_DIR / "redesign-fallbacks.htm").read_text(encoding="utf-8")
    url = "https://baohoabinh.com.vn/13/300016/Hoa-Binh-don-3-trieu-luot-khach.htm"
    before = extract_article(load_profile(PROFILE), page, url)
    after = extract_article(load_profile(edited), page, url)
    assert before.warnings and after.warnings == []
    assert after.raw.title == before.raw.title
    assert after.raw.published == before.raw.published
    assert after.raw.body_html.count("<p>") == before.raw.body_html.count("<p>")
