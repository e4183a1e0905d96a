"""HttpFetcher against a real local server (tests/httpfixture.py), plus decode_text and friends.

Every timeout here is sub-second and every wait that may be long goes through a fake clock, so
no test takes more than about a second; none can hang (the fixture ends its own waits on stop).
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from feedsvc.exceptions import ConfigError, FetchError, NotFoundError
from feedsvc.settings import ServiceSettings, Settings, build_table
from feedsvc.sources.fetch import (
    DeadlineExceededError,
    DirectoryFetcher,
    FetchSettings,
    HttpFetcher,
    RobotsRules,
    decode_text,
    http_fetcher_from_settings,
    parse_retry_after,
    same_site,
    user_agent_for,
)
from tests.httpfixture import HttpFixture, RecordedRequest, Reply, redirect

UA = "feedsvc/0.1.0 (+http://127.0.0.1:8000)"
VIET = "Báo Hòa Bình: xã Mường Động (Kim Bôi), Đà Bắc, Lạc Thủy – tiếng Việt"
_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def to_cp1258(text: str) -> bytes:
    """Windows-1258 bytes as a legacy CMS writes them: base letter, then a combining tone mark."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        marks = unicodedata.normalize("NFD", ch)
        tone = "".join(c for c in marks if c in _TONES)
        base = unicodedata.normalize("NFC", "".join(c for c in marks if c not in _TONES))
        out += base.encode("cp1258") + tone.encode("cp1258")
    return bytes(out)


class FakeClock:
    """Time that moves only when the fetcher sleeps: waits are recorded, never slept."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class DictValidators:
    """A ValidatorStore as the collector's database would be, in a dict."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[str | None, str | None]] = {}

    def get(self, url: str) -> tuple[str | None, str | None]:
        return self.data.get(url, (None, None))

    def set(self, url: str, etag: str | None, last_modified: str | None) -> None:
        self.data[url] = (etag, last_modified)


@pytest.fixture
def server() -> Iterator[HttpFixture]:
    with HttpFixture() as srv:
        yield srv


@pytest.fixture
def make_fetcher() -> Iterator[Callable[..., HttpFetcher]]:
    """Fetchers with sub-second timeouts and no delays unless a test asks; all closed after."""
    made: list[HttpFetcher] = []

    def make(**overrides: Any) -> HttpFetcher:
        settings: dict[str, Any] = {
            "user_agent": UA,
            "connect_timeout_s": 0.5,
            "read_timeout_s": 0.5,
            "page_timeout_s": 2.0,
            "min_delay_s": 0.0,
            "retries": 2,
            "backoff_s": 0.01,
            "max_retry_after_s": 60.0,
        }
        settings.update(overrides)
        if isinstance(settings.get("clock"), FakeClock) and "sleep" not in overrides:
            settings["sleep"] = settings["clock"].sleep
        fetcher = HttpFetcher(**settings)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()


# -- plain pages and charsets ---------------------------------------------------------------


def test_fetch_normal_page(server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]) -> None:
    server.route("/11/169105/Slug.htm", Reply(body=f"<html><body><p>{VIET}</p></body></html>"))
    page = make_fetcher().get(server.url("/11/169105/Slug.htm"))

    assert page.status == 200
    assert page.url == server.url("/11/169105/Slug.htm")
    assert not page.not_modified
    assert VIET in page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    sent = [r for r in server.requests if r.path == "/11/169105/Slug.htm"][0]
    assert sent.headers["User-Agent"] == UA
    assert sent.headers["Accept-Encoding"] == "gzip, deflate"
    assert "If-None-Match" not in sent.headers


def test_fetch_logs_each_request_once_at_debug(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher], caplog: pytest.LogCaptureFixture
) -> None:
    server.route("/old.htm", redirect("/11/169105/Slug.htm"))
    server.route("/11/169105/Slug.htm", Reply(body=f"<p>{VIET}</p>"))
    with caplog.at_level(logging.DEBUG):
        make_fetcher().get(server.url("/old.htm"))
    ours = [r for r in caplog.records if r.name == "feedsvc.sources.fetch"]
    assert [r.levelno for r in ours] == [logging.DEBUG] * len(server.requests)
    lines = [r.getMessage() for r in ours]
    assert lines[-1].startswith(f"fetch request url={server.url('/11/169105/Slug.htm')} status=200")
    assert f"bytes={len(f'<p>{VIET}</p>'.encode())} " in lines[-1]


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        pytest.param("text/html; charset=utf-8", VIET.encode(), VIET, id="declared-utf8"),
        pytest.param("text/html", VIET.encode(), VIET, id="missing-charset-utf8"),
        pytest.param(None, VIET.encode(), VIET, id="no-content-type"),
        pytest.param("text/html; charset=iso-8859-1", VIET.encode(), VIET, id="header-lies-latin1"),
        pytest.param(
            "text/html",
            b'<meta charset="windows-1258">' + to_cp1258(VIET),
            '<meta charset="windows-1258">' + VIET,
            id="missing-charset-meta-cp1258",
        ),
        pytest.param(
            "text/html; charset=utf-8",
            b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1258">'
            + to_cp1258(VIET),
            '<meta http-equiv="Content-Type" content="text/html; charset=windows-1258">' + VIET,
            id="header-lies-utf8-meta-right",
        ),
        pytest.param("text/html", to_cp1258(VIET), VIET, id="undeclared-cp1258"),
        pytest.param(
            "text/html; charset=utf-8",
            unicodedata.normalize("NFD", VIET).encode(),
            VIET,
            id="nfd-becomes-nfc",
        ),
        pytest.param(
            "text/html; charset=utf-8", VIET.encode()[:-2], VIET[:-2] + "\ufffd", id="truncated"
        ),
        pytest.param("text/html; charset=klingon", VIET.encode(), VIET, id="unknown-charset"),
    ],
)
def test_fetch_decodes_charsets(
    server: HttpFixture,
    make_fetcher: Callable[..., HttpFetcher],
    content_type: str | None,
    body: bytes,
    expected: str,
) -> None:
    server.route("/p.htm", Reply(body=body, content_type=content_type))
    page = make_fetcher().get(server.url("/p.htm"))
    assert page.text == expected
    assert page.text == unicodedata.normalize("NFC", page.text)


def test_decode_text_prefers_bom_and_keeps_wide_encodings() -> None:
    assert decode_text(b"\xef\xbb\xbf" + VIET.encode(), "text/html; charset=iso-8859-1") == VIET
    assert decode_text(VIET.encode("utf-16"), "text/plain; charset=utf-16") == VIET
    assert decode_text(b"plain ascii", "text/html; charset=windows-1258") == "plain ascii"


@pytest.mark.parametrize("label", ["base64", "rot13", "hex", "idna", "punycode"])
def test_decode_text_ignores_codecs_that_are_no_charset(label: str) -> None:
    assert decode_text(b"plain ascii", f"text/html; charset={label}") == "plain ascii"
    assert decode_text(to_cp1258(VIET), f"text/html; charset={label}") == VIET
    assert decode_text(f'<meta charset="{label}">'.encode() + to_cp1258(VIET)).endswith(VIET)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
def test_fetch_decompresses_body(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher], encoding: str
) -> None:
    body = ("<p>" + VIET + "</p>\n") * 500
    server.route("/z.htm", Reply(body=body, encoding=encoding))
    page = make_fetcher().get(server.url("/z.htm"))
    assert page.text == body
    assert page.headers["content-encoding"] == encoding.removeprefix("raw-")


def test_fetch_decompresses_concatenated_gzip_members(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    raw = gzip.compress(b"first ") + gzip.compress(b"second")
    server.route("/two.gz", Reply(body=raw, headers={"Content-Encoding": "gzip"}))
    assert make_fetcher().get(server.url("/two.gz")).content == b"first second"


def test_fetch_truncated_gzip_is_an_error(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    raw = gzip.compress(VIET.encode() * 100)[:-20]
    server.route("/cut.gz", Reply(body=raw, headers={"Content-Encoding": "gzip"}))
    with pytest.raises(FetchError, match="truncated"):
        make_fetcher().get(server.url("/cut.gz"))


def test_fetch_unsupported_content_encoding_is_an_error(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/br", Reply(body=b"\x00\x01", headers={"Content-Encoding": "br"}))
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'"):
        make_fetcher().get(server.url("/br"))


# -- statuses and retries -------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
def test_fetch_gone_page_is_not_found(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher], status: int
) -> None:
    server.route("/gone.htm", Reply(status=status, body="gone"))
    with pytest.raises(NotFoundError) as caught:
        make_fetcher().get(server.url("/gone.htm"))
    assert caught.value.status == status
    assert caught.value.url == server.url("/gone.htm")
    assert server.hits("/gone.htm") == 1  # a takedown is not retried


def test_fetch_other_4xx_is_a_fetch_error_without_retry(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/forbidden", Reply(status=403))
    with pytest.raises(FetchError) as caught:
        make_fetcher().get(server.url("/forbidden"))
    assert not isinstance(caught.value, NotFoundError)
    assert caught.value.status == 403
    assert server.hits("/forbidden") == 1


def test_fetch_retries_500_then_succeeds(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    clock = FakeClock()
    server.route("/flaky", Reply(status=500), Reply(body="ok"))
    page = make_fetcher(clock=clock, backoff_s=2.0).get(server.url("/flaky"))
    assert page.text == "ok"
    assert server.hits("/flaky") == 2
    assert len(clock.sleeps) == 1 and 1.0 <= clock.sleeps[0] <= 2.0  # backoff with jitter


def test_fetch_gives_up_on_500_after_bounded_attempts(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    clock = FakeClock()
    server.route("/broken", Reply(status=500))
    with pytest.raises(FetchError, match=r"HTTP 500 \(gave up after 4 attempts\)") as caught:
        make_fetcher(clock=clock, retries=3, backoff_s=1.0).get(server.url("/broken"))
    assert caught.value.status == 500
    assert server.hits("/broken") == 4
    # exponential: each wait within [base/2, base] for base = 1, 2, 4
    assert [0.5 <= s <= 1 for s in clock.sleeps[:1]] == [True]
    assert 1 <= clock.sleeps[1] <= 2 and 2 <= clock.sleeps[2] <= 4


def test_fetch_honours_retry_after_seconds_on_429(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    clock = FakeClock()
    server.route("/busy", Reply(status=429, headers={"Retry-After": "7"}), Reply(body="ok"))
    page = make_fetcher(clock=clock).get(server.url("/busy"))
    assert page.text == "ok"
    assert clock.sleeps == [7.0]


def test_fetch_honours_small_retry_after_for_real(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/busy", Reply(status=429, headers={"Retry-After": "0"}), Reply(body="ok"))
    assert make_fetcher().get(server.url("/busy")).text == "ok"
    assert server.hits("/busy") == 2


def test_fetch_honours_retry_after_http_date_on_503(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    clock = FakeClock()
    now = datetime(2024, 4, 26, 2, 15, tzinfo=UTC)
    headers = {
        "Date": format_datetime(now, usegmt=True),
        "Retry-After": format_datetime(now + timedelta(seconds=30), usegmt=True),
    }
    server.route("/maint", Reply(status=503, headers=headers), Reply(body="back"))
    assert make_fetcher(clock=clock).get(server.url("/maint")).text == "back"
    assert clock.sleeps == [30.0]


def test_fetch_refuses_retry_after_beyond_cap(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    clock = FakeClock()
    server.route("/later", Reply(status=503, headers={"Retry-After": "3600"}))
    with pytest.raises(FetchError, match="retry after 3600 s, more than max_retry_after"):
        make_fetcher(clock=clock, max_retry_after_s=120).get(server.url("/later"))
    assert clock.sleeps == []
    assert server.hits("/later") == 1


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    past = format_datetime(datetime(2001, 1, 1, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(past) == 0.0


# -- slow and hostile servers ---------------------------------------------------------------


def test_fetch_server_too_slow_to_answer(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/slow", Reply(delay_s=5, body="too late"))
    fetcher = make_fetcher(read_timeout_s=0.2, retries=1, respect_robots=False)
    with pytest.raises(FetchError, match="timed out") as caught:
        fetcher.get(server.url("/slow"))
    assert "gave up after 2 attempts" in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)
    assert server.hits("/slow") == 2


@pytest.mark.parametrize("trickle_headers", [False, True], ids=["body", "headers"])
def test_fetch_slow_trickle_exceeds_page_budget(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher], trickle_headers: bool
) -> None:
    # One byte every 50 ms never trips the 0.5 s read timeout; the 0.3 s page budget stops it.
    # Headers and body each take over 10 s to trickle out in full.
    reply = Reply(
        body="x" * 200,
        headers={"X-Padding": "p" * 200},
        trickle_s=0.05,
        trickle_headers=trickle_headers,
    )
    server.route("/drip", reply)
    fetcher = make_fetcher(page_timeout_s=0.3, retries=0, respect_robots=False)
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than its budget of 0.30 s") as caught:
        fetcher.get(server.url("/drip"))
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)
    assert time.monotonic() - started < 3  # generous: the point is "not after 10 s"


@pytest.mark.parametrize("content_length", [True, False], ids=["declared", "streamed"])
def test_fetch_aborts_oversize_body(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher], content_length: bool
) -> None:
    server.route("/big", Reply(body=b"a" * 300_000, content_length=content_length))
    with pytest.raises(FetchError, match="larger than the cap of 100000 bytes") as caught:
        make_fetcher(max_bytes=100_000).get(server.url("/big"))
    assert server.url("/big") in str(caught.value)
    assert server.hits("/big") == 1  # a size cap is not retried


def test_fetch_gzip_bomb_fails_safely(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    bomb = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    raw = bomb.compress(b"\0" * 50_000_000) + bomb.flush()  # 50 MB of zeros in ~50 KB
    assert len(raw) < 100_000
    server.route("/bomb", Reply(body=raw, headers={"Content-Encoding": "gzip"}))
    with pytest.raises(FetchError, match="decoded body is larger than the cap of 1000000") as e:
        make_fetcher(max_bytes=1_000_000).get(server.url("/bomb"))
    assert server.url("/bomb") in str(e.value)


def test_fetch_connection_reset_is_retried_then_reported(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/rst", Reply(reset=True))
    with pytest.raises(FetchError, match="connection failed") as caught:
        make_fetcher(retries=1, respect_robots=False).get(server.url("/rst"))
    assert server.url("/rst") in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx.TransportError)
    assert server.hits("/rst") == 2


def test_fetch_connection_reset_then_success(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/rst", Reply(reset=True), Reply(body=b"x" * 10, truncate_at=3), Reply(body="ok"))
    assert make_fetcher(retries=2).get(server.url("/rst")).text == "ok"
    assert server.hits("/rst") == 3


def test_fetch_connection_refused_is_a_fetch_error(
    make_fetcher: Callable[..., HttpFetcher],
) -> None:
    with HttpFixture() as gone:
        url = gone.url("/x")
    with pytest.raises(FetchError, match="connection failed") as caught:
        make_fetcher(retries=0, respect_robots=False).get(url)
    assert caught.value.url == url


# -- redirects ------------------------------------------------------------------------------


def test_fetch_follows_same_site_redirect(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/old.htm", redirect("/new.htm", status=301))
    server.route("/new.htm", Reply(body="moved"))
    page = make_fetcher().get(server.url("/old.htm"))
    assert page.text == "moved"
    assert page.url == server.url("/new.htm")


def test_fetch_redirect_loop_is_an_error(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/a", redirect("/b"))
    server.route("/b", redirect(server.url("/a")))
    with pytest.raises(FetchError, match="redirect loop"):
        make_fetcher().get(server.url("/a"))
    assert server.hits("/a") == 1 and server.hits("/b") == 1


def test_fetch_too_many_redirects_is_an_error(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    for n in range(5):
        server.route(f"/r{n}", redirect(f"/r{n + 1}"))
    with pytest.raises(FetchError, match="more than 2 redirects"):
        make_fetcher(max_redirects=2).get(server.url("/r0"))
    assert server.hits("/r3") == 0


def test_fetch_off_site_redirect_is_an_error(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/out", redirect("http://ads.example.invalid/landing"))
    with pytest.raises(FetchError, match="redirected off-site") as caught:
        make_fetcher().get(server.url("/out"))
    assert "ads.example.invalid" in str(caught.value)


@pytest.mark.parametrize(
    ("origin", "target", "allowed"),
    [
        ("https://baohoabinh.com.vn/a", "https://baohoabinh.com.vn/b", True),
        ("https://baohoabinh.com.vn/a", "https://www.baohoabinh.com.vn/a", True),
        ("https://www.baohoabinh.com.vn/a", "https://BAOHOABINH.com.vn/a", True),
        ("http://baohoabinh.com.vn/a", "https://baohoabinh.com.vn/a", True),
        ("http://baohoabinh.com.vn/a", "https://www.baohoabinh.com.vn:443/a", True),
        ("https://baohoabinh.com.vn/a", "http://baohoabinh.com.vn/a", False),
        ("https://baohoabinh.com.vn/a", "https://en.baohoabinh.com.vn/a", False),
        ("https://baohoabinh.com.vn/a", "https://baohoabinh.com.vn.evil.example/a", False),
        ("https://baohoabinh.com.vn/a", "https://baohoabinh.com.vn:8443/a", False),
        ("https://baohoabinh.com.vn/a", "ftp://baohoabinh.com.vn/a", False),
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:8001/a", False),
    ],
)
def test_same_site_rules(origin: str, target: str, allowed: bool) -> None:
    assert same_site(origin, target) is allowed


# -- robots.txt -----------------------------------------------------------------------------


def test_fetch_robots_disallow_is_honoured_and_cached(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route(
        "/robots.txt",
        Reply(body="User-agent: *\nDisallow: /private/\n", content_type="text/plain"),
    )
    server.route("/private/x.htm", Reply(body="secret"))
    server.route("/public.htm", Reply(body="ok"))
    fetcher = make_fetcher()
    with pytest.raises(FetchError, match="robots.txt disallows it for feedsvc"):
        fetcher.get(server.url("/private/x.htm"))
    assert fetcher.get(server.url("/public.htm")).text == "ok"
    assert fetcher.get(server.url("/public.htm")).text == "ok"
    assert server.hits("/private/x.htm") == 0
    assert server.hits("/robots.txt") == 1
    robots = [r for r in server.requests if r.path == "/robots.txt"][0]
    assert robots.headers["User-Agent"] == UA


def test_fetch_robots_404_allows_everything(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/anything.htm", Reply(body="ok"))
    assert make_fetcher().get(server.url("/anything.htm")).text == "ok"
    assert server.hits("/robots.txt") == 1


def test_fetch_robots_5xx_disallows_for_now(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    clock = FakeClock()
    server.route("/robots.txt", Reply(status=503), Reply(body="User-agent: *\nAllow: /\n"))
    server.route("/page.htm", Reply(body="ok"))
    fetcher = make_fetcher(clock=clock, retries=0)
    with pytest.raises(FetchError, match="robots.txt disallows.*HTTP 503"):
        fetcher.get(server.url("/page.htm"))
    with pytest.raises(FetchError, match="robots.txt disallows"):
        fetcher.get(server.url("/page.htm"))  # still cached
    clock.now += 3600  # the short error TTL has run out: robots.txt is asked again
    assert fetcher.get(server.url("/page.htm")).text == "ok"
    assert server.hits("/robots.txt") == 2
    assert server.hits("/page.htm") == 1


def test_fetch_robots_crawl_delay_raises_the_host_delay(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    clock = FakeClock()
    server.route("/robots.txt", Reply(body="User-agent: feedsvc\nCrawl-delay: 3\n"))
    server.route("/p.htm", Reply(body="ok"))
    fetcher = make_fetcher(clock=clock, min_delay_s=1.0)
    fetcher.get(server.url("/p.htm"))
    fetcher.get(server.url("/p.htm"))
    assert clock.sleeps == [1.0, 3.0]  # robots.txt -> page at the default, then Crawl-delay


def test_fetch_ignores_robots_when_told(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/robots.txt", Reply(body="User-agent: *\nDisallow: /\n"))
    server.route("/p.htm", Reply(body="ok"))
    assert make_fetcher(respect_robots=False).get(server.url("/p.htm")).text == "ok"
    assert server.hits("/robots.txt") == 0


ROBOTS = """\
# comments and unknown lines are ignored
Sitemap: https://baohoabinh.com.vn/sitemap.xml

User-agent: Googlebot
Disallow: /

User-agent: *
Disallow: /admin
Disallow: /*.aspx$
Allow: /admin/public
Disallow: /search?
Crawl-delay: 2

User-agent: FeedSvc
User-agent: otherbot
Disallow: /tmp/
Allow: /tmp/ok
Crawl-delay: 5
"""


@pytest.mark.parametrize(
    ("product", "path", "allowed"),
    [
        ("feedsvc", "/11/169105/Slug.htm", True),
        ("feedsvc", "/tmp/x", False),
        ("feedsvc", "/tmp/ok/x", True),  # the longer Allow wins
        ("feedsvc", "/admin", True),  # our own group replaces "*"
        ("feedsvc", "/robots.txt", True),
        ("somebot", "/admin/x", False),
        ("somebot", "/admin/public/x", True),
        ("somebot", "/Default.aspx", False),
        ("somebot", "/Default.aspx?x=1", True),  # "$" anchors the end
        ("somebot", "/search?q=Hòa Bình", False),
        ("somebot", "/searching", True),
        ("googlebot", "/anything", False),
    ],
)
def test_robots_rules_match_rfc9309(product: str, path: str, allowed: bool) -> None:
    rules = RobotsRules.parse(ROBOTS, product)
    assert rules.allows("https://baohoabinh.com.vn" + path) is allowed


def test_robots_rules_crawl_delay_per_group() -> None:
    assert RobotsRules.parse(ROBOTS, "feedsvc").crawl_delay == 5
    assert RobotsRules.parse(ROBOTS, "somebot").crawl_delay == 2
    assert RobotsRules.parse("", "feedsvc").allows("https://x.example/anything")


# -- conditional requests -------------------------------------------------------------------


def _conditional(request: RecordedRequest) -> Reply:
    if request.headers.get("If-None-Match") == '"v1"':
        return Reply(status=304, headers={"ETag": '"v1"'})
    return Reply(
        body="first",
        headers={"ETag": '"v1"', "Last-Modified": "Fri, 26 Apr 2024 02:15:00 GMT"},
    )


def test_fetch_conditional_get_returns_not_modified(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/c.htm", _conditional)
    fetcher = make_fetcher()
    first = fetcher.get(server.url("/c.htm"))
    second = fetcher.get(server.url("/c.htm"))

    assert (first.status, first.text, first.not_modified) == (200, "first", False)
    assert (second.status, second.content, second.not_modified) == (304, b"", True)
    assert second.url == first.url
    sent = [r for r in server.requests if r.path == "/c.htm"]
    assert sent[1].headers["If-None-Match"] == '"v1"'
    assert sent[1].headers["If-Modified-Since"] == "Fri, 26 Apr 2024 02:15:00 GMT"
    assert fetcher.get(server.url("/c.htm"), conditional=False).text == "first"


def test_fetch_validators_outlive_the_fetcher_through_the_store(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/c.htm", _conditional)
    store = DictValidators()
    make_fetcher(validators=store).get(server.url("/c.htm"))
    assert store.data == {server.url("/c.htm"): ('"v1"', "Fri, 26 Apr 2024 02:15:00 GMT")}

    page = make_fetcher(validators=store).get(server.url("/c.htm"))  # a new process, say
    assert page.not_modified and page.url == server.url("/c.htm")


# -- politeness in time, deadlines ----------------------------------------------------------


def test_fetch_spaces_requests_to_one_host_by_min_delay(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/p.htm", Reply(body="ok"))
    fetcher = make_fetcher(min_delay_s=0.2, respect_robots=False)
    fetcher.get(server.url("/p.htm"))
    fetcher.get(server.url("/p.htm"))
    first, second = server.times("/p.htm")
    assert second - first >= 0.2  # server-side arrival times


def test_fetch_min_delay_goes_through_the_injected_sleep(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    clock = FakeClock()
    server.route("/p.htm", Reply(body="ok"))
    fetcher = make_fetcher(clock=clock, min_delay_s=1.0, respect_robots=False)
    for _ in range(3):
        fetcher.get(server.url("/p.htm"))
    assert clock.sleeps == [1.0, 1.0]


def test_fetch_shared_between_threads_stays_polite(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/p.htm", Reply(body="ok"))
    fetcher = make_fetcher(min_delay_s=0.05)
    texts: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                texts.append(fetcher.get(server.url("/p.htm")).text)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == [] and texts == ["ok"] * 6
    assert server.hits("/robots.txt") == 1
    times = sorted(r.time for r in server.requests)
    assert all(b - a >= 0.05 for a, b in zip(times, times[1:], strict=False))


def test_fetch_deadline_refuses_a_wait_that_would_pass_it(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    clock = FakeClock()
    server.route("/maint", Reply(status=503, headers={"Retry-After": "30"}))
    deadline = clock() + 10
    with pytest.raises(DeadlineExceededError, match="past the deadline"):
        make_fetcher(clock=clock).get(server.url("/maint"), deadline=deadline)
    assert clock() <= deadline
    assert clock.sleeps == []


def test_fetch_deadline_covers_the_delay_between_requests(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    clock = FakeClock()
    server.route("/p.htm", Reply(body="ok"))
    fetcher = make_fetcher(clock=clock, min_delay_s=10)
    fetcher.get(server.url("/p.htm"), deadline=clock() + 60)  # robots.txt, 10 s, the page
    with pytest.raises(DeadlineExceededError, match="delay between requests"):
        fetcher.get(server.url("/p.htm"), deadline=clock() + 5)
    assert clock.sleeps == [10]


def test_fetch_deadline_cuts_a_slow_response(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    server.route("/slow", Reply(delay_s=5, body="late"))
    fetcher = make_fetcher(read_timeout_s=5, page_timeout_s=5, respect_robots=False)
    deadline = time.monotonic() + 0.3
    with pytest.raises(DeadlineExceededError, match="deadline passed during the request"):
        fetcher.get(server.url("/slow"), deadline=deadline)
    assert time.monotonic() < deadline + 2  # generous: the point is "not after 5 s"
    assert server.hits("/slow") == 1  # no retry without time left


def test_fetch_past_deadline_sends_nothing(
    server: HttpFixture, make_fetcher: Callable[..., HttpFetcher]
) -> None:
    clock = FakeClock()
    with pytest.raises(DeadlineExceededError):
        make_fetcher(clock=clock).get(server.url("/p.htm"), deadline=clock() - 1)
    assert server.requests == []


# -- the edges ------------------------------------------------------------------------------


def test_fetch_rejects_non_http_urls(make_fetcher: Callable[..., HttpFetcher]) -> None:
    for url in ("ftp://baohoabinh.com.vn/x", "file:///etc/passwd", "not a url"):
        with pytest.raises(FetchError, match="not an http"):
            make_fetcher().get(url)


def test_fetch_after_close_is_an_error(make_fetcher: Callable[..., HttpFetcher]) -> None:
    fetcher = make_fetcher()
    fetcher.close()
    with pytest.raises(FetchError, match="closed"):
        fetcher.get("http://127.0.0.1:9/")


def test_fetch_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="user_agent"):
        HttpFetcher(user_agent="feedsvc\r\nX-Evil: 1")
    with pytest.raises(ValueError, match="max_bytes"):
        HttpFetcher(user_agent=UA, max_bytes=0)


def test_user_agent_names_the_service() -> None:
    assert user_agent_for("https://feeds.example.vn", "1.2.3") == (
        "feedsvc/1.2.3 (+https://feeds.example.vn)"
    )
    assert user_agent_for("https://feeds.example.vn").startswith("feedsvc/")


def test_directory_fetcher_still_serves_a_snapshot(tmp_path: Path) -> None:
    (tmp_path / "11" / "169105").mkdir(parents=True)
    (tmp_path / "11" / "169105" / "Slug.htm").write_bytes(VIET.encode())
    (tmp_path / "index.htm").write_text("home", encoding="utf-8")
    fetcher = DirectoryFetcher(tmp_path)
    assert fetcher.get("https://baohoabinh.com.vn/11/169105/Slug.htm").text == VIET
    assert fetcher.get("https://baohoabinh.com.vn/").text == "home"
    with pytest.raises(NotFoundError):
        fetcher.get("https://baohoabinh.com.vn/nope.htm")
    with pytest.raises(NotFoundError):
        fetcher.get("https://baohoabinh.com.vn/../../etc/passwd")


def test_fetch_settings_table_validates_keys() -> None:
    conf = build_table(
        FetchSettings, {"min_delay_seconds": 2, "respect_robots": False}, "x.toml: [fetch]"
    )
    assert conf.min_delay_seconds == 2.0 and conf.respect_robots is False
    with pytest.raises(ConfigError, match=r"\[fetch\]\.min_delay_seconds: bad value -1"):
        build_table(FetchSettings, {"min_delay_seconds": -1}, "x.toml: [fetch]")
    with pytest.raises(ConfigError, match="unknown key"):
        build_table(FetchSettings, {"min_delay": 1}, "x.toml: [fetch]")


def test_http_fetcher_from_settings_uses_fetch_table_and_public_url(
    server: HttpFixture,
) -> None:
    settings = Settings(
        path=None,
        service=ServiceSettings(public_url="https://feeds.example.vn"),
        extra={"fetch": FetchSettings(min_delay_seconds=0, retries=0, respect_robots=False)},
    )
    server.route("/p.htm", Reply(body="ok"))
    with http_fetcher_from_settings(settings) as fetcher:
        assert fetcher.get(server.url("/p.htm")).text == "ok"
        assert fetcher.retries == 0 and fetcher.max_bytes == FetchSettings().max_bytes
    agent = server.requests[0].headers["User-Agent"]
    assert agent.startswith("feedsvc/") and agent.endswith(" (+https://feeds.example.vn)")
    assert server.hits("/robots.txt") == 0
    with http_fetcher_from_settings(Settings(path=None)) as default:
        assert default.min_delay_s == 1.0 and default.respect_robots
