"""Pages for people: the directory, feed previews, OPML, the widget, security headers.

Run against the demo snapshot collected into a fresh SQLite file, through Flask's test client
(the browser tests in test_browser.py drive the same pages in Chromium)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from feedsvc.model import Article
from feedsvc.settings import Settings
from feedsvc.web import get_service
from feedsvc.web.pages import (
    WIDGET_MAX_N,
    BadOption,
    parse_widget_options,
    vn_datetime,
)

from .browser import demo_app

PUBLIC = "https://rss.example.vn"
VAN_MAI = "tag:baohoabinh.com.vn,2006:169105"
FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/feed+json"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    app: Flask = demo_app(tmp_path_factory.mktemp("pages"), public_url=PUBLIC)
    return app


@pytest.fixture
def client(demo: Flask) -> FlaskClient:
    return demo.test_client()


def html_of(client: FlaskClient, path: str) -> Any:
    resp = client.get(path)
    assert resp.status_code == 200, (path, resp.status_code)
    assert resp.mimetype == "text/html"
    return lxml.html.fromstring(resp.get_data(as_text=True))


def alternates(doc: Any) -> list[tuple[str, str]]:
    return [(e.get("type"), e.get("href")) for e in doc.xpath('//head/link[@rel="alternate"]')]


# -- the directory -----------------------------------------------------------------------------


def test_directory_lists_every_feed_with_formats_count_and_last_change(
    client: FlaskClient, demo: Flask
) -> None:
    service = get_service(demo)
    doc = html_of(client, "/")
    assert doc.get("lang") == "vi"
    counts = service.store.counts()
    for scope in service.catalog.scopes():
        (item,) = doc.xpath(f'//li[@id="nguon-{scope.slug}"]')
        text = item.text_content()
        assert scope.name in text
        assert f"{counts.get(scope.slug, 0)} bài" in text
        hrefs = item.xpath(".//a/@href")
        for ext in ("xml", "atom", "json"):
            assert f"/feeds/{scope.slug}.{ext}" in hrefs
        assert f"/feeds/{scope.slug}" in hrefs  # the preview
        (field,) = item.xpath(".//input[@readonly]")
        assert field.get("value") == f"{PUBLIC}/feeds/{scope.slug}.xml"
        assert item.xpath(f'.//label[@for="{field.get("id")}"]')
        (button,) = item.xpath(".//button[@data-copy]")
        assert button.get("data-copy") == field.get("id")
        assert button.get("hidden") is not None  # shown by site.js only
        if counts.get(scope.slug):
            (when,) = item.xpath(".//time")
            assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", when.text)
            assert when.get("datetime").endswith("+07:00")
    groups = [h.text_content() for h in doc.xpath("//main//h2")]
    assert {"Tất cả các tin", "Theo chuyên mục", "Theo huyện, thành phố"} <= set(groups)


def test_directory_last_change_is_the_feeds_newest_item_in_vietnam_time(
    client: FlaskClient, demo: Flask
) -> None:
    service = get_service(demo)
    scope = service.catalog.lookup("mai-chau")
    newest = max(max(a.published, a.updated) for a in service.store.latest(scope, 30))
    doc = html_of(client, "/")
    (when,) = doc.xpath('//li[@id="nguon-mai-chau"]//time')
    assert when.text == vn_datetime(newest)


def test_vn_datetime_is_dd_mm_yyyy_hh_mm_at_plus_seven() -> None:
    assert vn_datetime(datetime(2024, 4, 26, 2, 15, tzinfo=UTC)) == "26/04/2024 09:15"
    assert vn_datetime(datetime(2024, 12, 31, 17, 30, tzinfo=UTC)) == "01/01/2025 00:30"


def test_directory_explains_feeds_and_links_the_opml(client: FlaskClient) -> None:
    doc = html_of(client, "/")
    text = doc.text_content()
    assert "Nguồn tin là gì?" in text
    assert "/feeds.opml" in doc.xpath("//a/@href")
    assert f"{PUBLIC}/feeds.opml" in text


def test_directory_shows_both_widget_snippets_with_public_addresses(client: FlaskClient) -> None:
    doc = html_of(client, "/")
    iframe_code = doc.get_element_by_id("ma-iframe").text_content()
    script_code = doc.get_element_by_id("ma-script").text_content()
    assert f'src="{PUBLIC}/embed/tin-moi-nhat"' in iframe_code
    assert 'loading="lazy"' in iframe_code and 'title="Tin mới nhất - Báo Hòa Bình"' in iframe_code
    assert 'data-feedsvc="tin-moi-nhat" data-n="5"' in script_code
    assert f'<script src="{PUBLIC}/embed.js" async></script>' in script_code
    # The snippets are text to copy, not markup of this page.
    assert not doc.xpath("//pre//iframe | //pre//script | //pre//div[@data-feedsvc]")


def test_directory_widget_form_builds_the_snippets_without_javascript(client: FlaskClient) -> None:
    doc = html_of(client, "/?feed=mai-chau&n=3&theme=dark&thumbs=1&dates=0")
    iframe_code = doc.get_element_by_id("ma-iframe").text_content()
    script_code = doc.get_element_by_id("ma-script").text_content()
    assert f"{PUBLIC}/embed/mai-chau?n=3&amp;thumbs=1&amp;dates=0&amp;theme=dark" in iframe_code
    assert 'data-feedsvc="mai-chau" data-n="3" data-thumbs="1" data-dates="0"' in script_code
    (preview,) = doc.xpath('//div[contains(@class,"demo-iframe")]/iframe')
    assert preview.get("src") == "/embed/mai-chau?n=3&thumbs=1&dates=0&theme=dark"
    # A checked "dates" box sends dates=1 before the hidden dates=0.
    doc = html_of(client, "/?feed=mai-chau&dates=1&dates=0")
    assert "dates=0" not in doc.get_element_by_id("ma-iframe").text_content()
    # Nonsense falls back to the defaults rather than failing the directory.
    doc = html_of(client, "/?feed=ha-noi&n=many&theme=pink")
    assert f'src="{PUBLIC}/embed/tin-moi-nhat"' in doc.get_element_by_id("ma-iframe").text_content()


# -- previews ----------------------------------------------------------------------------------


def test_preview_and_feed_routes_do_not_clash(client: FlaskClient) -> None:
    page = client.get("/feeds/mai-chau")
    assert page.status_code == 200 and page.mimetype == "text/html"
    expected = {
        "xml": "application/rss+xml",
        "atom": "application/atom+xml",
        "json": "application/feed+json",
    }
    for ext, mimetype in expected.items():
        resp = client.get(f"/feeds/mai-chau.{ext}")
        assert resp.status_code == 200 and resp.mimetype == mimetype, ext
    assert client.get("/feeds/mai-chau.html").status_code == 404
    assert client.get("/feeds/ha-noi").status_code == 404
    assert client.get("/feeds/Mai-Chau").status_code == 404
    assert client.get("/feeds/").status_code == 404
    assert client.get("/feeds.opml").mimetype == "text/x-opml"


def test_preview_shows_latest_headlines_with_dates_leads_and_thumbnails(
    client: FlaskClient, demo: Flask
) -> None:
    service = get_service(demo)
    scope = service.catalog.lookup("mai-chau")
    articles = service.store.latest(scope, 30)
    doc = html_of(client, "/feeds/mai-chau")
    assert doc.xpath("//h1")[0].text_content() == "Mai Châu"
    stories = doc.xpath('//ol[@class="articles"]/li')
    assert len(stories) == len(articles) > 0
    for story, article in zip(stories, articles, strict=True):
        (link,) = story.xpath(".//h3/a")
        assert link.text_content() == article.title
        assert link.get("href") == article.url
        assert story.xpath(".//time")[0].text == vn_datetime(article.published)
        if article.summary:
            assert article.summary in story.text_content()
        imgs = story.xpath('.//img[@class="thumb"]')
        assert [i.get("src") for i in imgs] == ([article.image] if article.image else [])
        for img in imgs:
            assert img.get("alt") == "" and img.get("width") and img.get("height")
    van_mai = next(a for a in articles if a.id == VAN_MAI)
    assert van_mai.title in doc.text_content()


def test_preview_has_subscribe_buttons_for_every_format(client: FlaskClient) -> None:
    doc = html_of(client, "/feeds/kim-boi")
    (box,) = doc.xpath('//div[@class="subscribe"]')
    hrefs = box.xpath(".//a/@href")
    for ext in ("xml", "atom", "json"):
        assert f"/feeds/kim-boi.{ext}" in hrefs
    assert box.xpath(".//input/@value") == [f"{PUBLIC}/feeds/kim-boi.xml"]
    assert any(h.startswith("https://feedly.com/i/subscription/feed%2F") for h in hrefs)


def test_every_html_page_carries_autodiscovery_for_the_feeds_it_shows(
    client: FlaskClient, demo: Flask
) -> None:
    scopes = get_service(demo).catalog.scopes()
    found = alternates(html_of(client, "/"))
    for scope in scopes:
        for ext in ("xml", "atom", "json"):
            assert any(href == f"/feeds/{scope.slug}.{ext}" for _, href in found)
    assert found[0] == ("application/rss+xml", "/feeds/tin-moi-nhat.xml")
    for path in ("/feeds/mai-chau", "/embed/mai-chau"):
        found = alternates(html_of(client, path))
        assert {t for t, _ in found} == FEED_TYPES, path
        assert {h for _, h in found} == {f"/feeds/mai-chau.{e}" for e in ("xml", "atom", "json")}
    for _, href in found:
        assert client.get(href).status_code == 200


def test_unknown_feed_pages_are_404(client: FlaskClient) -> None:
    for path in ("/feeds/ha-noi", "/embed/ha-noi", "/embed/ha-noi.json"):
        assert client.get(path).status_code == 404, path


# -- OPML --------------------------------------------------------------------------------------


def test_opml_is_opml_2_grouped_with_absolute_urls(client: FlaskClient, demo: Flask) -> None:
    resp = client.get("/feeds.opml")
    assert resp.status_code == 200
    assert resp.content_type == "text/x-opml; charset=utf-8"
    root = etree.fromstring(resp.data)
    assert root.tag == "opml" and root.get("version") == "2.0"
    (head,) = root.findall("head")
    assert head.findtext("title")
    assert head.findtext("docs") == "http://opml.org/spec2.opml"
    (body,) = root.findall("body")
    groups = body.findall("outline")
    assert [g.get("text") for g in groups] == ["Tin mới nhất", "Chuyên mục", "Huyện, thành phố"]
    scopes = get_service(demo).catalog.scopes()
    by_kind = {"all": groups[0], "section": groups[1], "district": groups[2]}
    for scope in scopes:
        outlines = by_kind[scope.kind].findall("outline")
        (outline,) = [o for o in outlines if o.get("xmlUrl", "").endswith(f"/{scope.slug}.xml")]
        # OPML 2.0: type="rss" outlines require text and xmlUrl.
        assert outline.get("type") == "rss"
        assert outline.get("text") == scope.title
        assert outline.get("xmlUrl") == f"{PUBLIC}/feeds/{scope.slug}.xml"
        assert outline.get("htmlUrl") == f"{PUBLIC}/feeds/{scope.slug}"
        for url in (outline.get("xmlUrl"), outline.get("htmlUrl")):
            assert client.get(urlsplit(url).path).status_code == 200
    assert len(body.findall("outline/outline")) == len(scopes)
    # Every outline has text (OPML 2.0 requires it), groups included.
    assert all(o.get("text") for o in root.iter("outline"))


# -- the widget --------------------------------------------------------------------------------


def headlines(client: FlaskClient, path: str) -> Any:
    return html_of(client, path).xpath("//body/ul/li")


def test_embed_shows_n_headlines_opening_in_a_new_tab(client: FlaskClient, demo: Flask) -> None:
    service = get_service(demo)
    everything = service.store.latest(service.catalog.lookup("tin-moi-nhat"), 30)
    items = headlines(client, "/embed/tin-moi-nhat")
    assert len(items) == 5
    for li, article in zip(items, everything, strict=False):
        (a,) = li.xpath(".//a")
        assert a.text_content() == article.title and a.get("href") == article.url
        assert a.get("target") == "_blank" and a.get("rel") == "noopener"
        assert li.xpath(".//time")[0].text == vn_datetime(article.published)
        assert not li.xpath(".//img")
    assert len(headlines(client, "/embed/tin-moi-nhat?n=2")) == 2
    assert len(headlines(client, "/embed/tin-moi-nhat?n=0")) == 1  # clamped
    assert len(headlines(client, "/embed/tin-moi-nhat?n=500")) == WIDGET_MAX_N  # clamped
    with_thumbs = headlines(client, "/embed/tin-moi-nhat?thumbs=1&dates=0&n=20")
    assert any(li.xpath(".//img") for li in with_thumbs)
    assert not any(li.xpath(".//time") for li in with_thumbs)
    doc = html_of(client, "/embed/tin-moi-nhat?theme=dark")
    assert doc.xpath("//body/@class") == ["dark"]


@pytest.mark.parametrize(
    "query, reason",
    [("n=five", "n must be an integer"), ("theme=blue", "theme must be"), ("thumbs=2", "thumbs")],
)
def test_embed_bad_option_is_400_with_the_reason(
    client: FlaskClient, query: str, reason: str
) -> None:
    resp = client.get(f"/embed/mai-chau?{query}")
    assert resp.status_code == 400
    assert reason in resp.get_data(as_text=True)


@settings(deadline=None, max_examples=200)
@given(st.text(max_size=12))
def test_widget_n_is_clamped_or_refused(raw: str) -> None:
    try:
        opts = parse_widget_options({"n": raw})
    except BadOption as e:
        assert "n must be an integer" in str(e)
    else:
        assert 1 <= opts.n <= WIDGET_MAX_N


def test_embed_has_no_script_and_only_its_hashed_inline_style(client: FlaskClient) -> None:
    resp = client.get("/embed/mai-chau?thumbs=1")
    doc = lxml.html.fromstring(resp.get_data(as_text=True))
    assert not doc.xpath("//script") and not doc.xpath("//@style")
    (style,) = doc.xpath("//style")
    digest = base64.b64encode(hashlib.sha256(style.text.encode()).digest()).decode()
    policy = resp.headers["Content-Security-Policy"]
    assert f"style-src 'sha256-{digest}'" in policy
    assert "script-src 'none'" in policy
    assert len(resp.data) < 8_000  # tiny


def test_embed_is_cached_like_the_feeds(client: FlaskClient, demo: Flask, tmp_path: Path) -> None:
    first = client.get("/embed/yen-thuy?n=3")
    etag = first.headers["ETag"]
    feed = client.get("/feeds/yen-thuy.json")
    assert first.headers["Cache-Control"] == feed.headers["Cache-Control"]
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    assert first.headers["Last-Modified"]
    again = client.get("/embed/yen-thuy?n=3", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/embed/yen-thuy?n=2", headers={"If-None-Match": etag}).status_code == 200
    # A change in the feed's articles changes the widget.
    store = get_service(demo).store
    newest = store.latest(get_service(demo).catalog.lookup("yen-thuy"), 1)[0]
    assert store.set_hidden(newest.id, True)
    try:
        changed = client.get("/embed/yen-thuy?n=3", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["ETag"] != etag
        assert newest.title not in changed.get_data(as_text=True)
    finally:
        store.set_hidden(newest.id, False)


def test_embed_script_is_isolated_and_never_parses_feed_text_as_html(client: FlaskClient) -> None:
    resp = client.get("/embed.js")
    assert resp.status_code == 200 and resp.mimetype == "text/javascript"
    assert resp.headers["ETag"] and "max-age" in resp.headers["Cache-Control"]
    source = resp.get_data(as_text=True)
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S).strip()
    assert code.startswith("(function () {\n  'use strict';")
    assert code.endswith("})();")
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert banned not in code, banned
    assert "textContent" in code and "document.currentScript" in code
    assert (
        client.get("/embed.js", headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304
    )


# -- security headers --------------------------------------------------------------------------


def policy_of(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


@pytest.mark.parametrize("path", ["/", "/feeds/mai-chau", "/feeds/ha-noi", "/?feed=kim-boi"])
def test_html_pages_send_a_strict_policy_and_may_be_framed_only_by_us(
    client: FlaskClient, path: str
) -> None:
    resp = client.get(path)
    assert resp.mimetype == "text/html"
    policy = policy_of(resp.headers["Content-Security-Policy"])
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'self'"
    assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_embed_may_be_framed_by_anyone(client: FlaskClient) -> None:
    resp = client.get("/embed/mai-chau")
    assert policy_of(resp.headers["Content-Security-Policy"])["frame-ancestors"] == "*"
    assert "X-Frame-Options" not in resp.headers
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"]


def test_every_response_is_nosniff(client: FlaskClient) -> None:
    for path in ("/feeds/mai-chau.xml", "/feeds/mai-chau.json", "/feeds.opml", "/embed.js"):
        assert client.get(path).headers["X-Content-Type-Options"] == "nosniff", path


@pytest.mark.parametrize("path", ["/", "/feeds/mai-chau", "/feeds/tin-moi-nhat"])
def test_pages_need_no_inline_code_and_no_outside_assets(client: FlaskClient, path: str) -> None:
    doc = html_of(client, path)
    assert not doc.xpath("//script[not(@src)]"), "inline script would be blocked by the CSP"
    assert not doc.xpath("//style | //@style"), "inline style would be blocked by the CSP"
    assert not doc.xpath("//@*[starts-with(name(), 'on')]"), "event handler attributes"
    assets = doc.xpath("//script/@src | //link[@rel='stylesheet']/@href | //iframe/@src")
    assert assets
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url
        with client.get(url) as resp:  # static files are streamed: close them
            assert resp.status_code == 200, url
    # Pictures are the articles' own (the paper's image server); nothing else comes from outside.
    for src in doc.xpath("//img/@src"):
        assert src.startswith("/") or urlsplit(src).netloc.endswith("baohoabinh.com.vn"), src


def test_static_files_carry_a_version_for_cache_busting(client: FlaskClient) -> None:
    doc = html_of(client, "/")
    (css,) = doc.xpath("//link[@rel='stylesheet']/@href")
    assert re.fullmatch(r"/static/site\.css\?v=[0-9a-f]{8}", css)


# -- hostile or missing data -------------------------------------------------------------------


def hostile_article(now: datetime) -> Article:
    return Article(
        id="tag:test,2024:evil",
        source="test",
        url="javascript:alert(1)",
        title='<img src=x onerror="alert(1)"> Tin & "lạ"',
        summary="<script>alert(2)</script>",
        content_html="<p>x</p>",
        published=now,
        updated=now,
        section="chinh-tri",
        image="javascript:alert(3)",
    )


def test_pages_escape_article_text_and_link_only_http(
    make_settings: Callable[..., Settings],
) -> None:
    from feedsvc import create_app

    app = create_app(make_settings())
    now = datetime.now(UTC) - timedelta(hours=1)
    get_service(app).store.save(hostile_article(now), now=now)
    client = app.test_client()
    for path in ("/feeds/chinh-tri", "/embed/chinh-tri?thumbs=1", "/"):
        body = client.get(path).get_data(as_text=True)
        assert "<img src=x" not in body and "<script>alert" not in body, path
        assert "javascript:" not in body, path
    story = html_of(client, "/feeds/chinh-tri").xpath('//ol[@class="articles"]/li')[0]
    assert story.xpath(".//h3")[0].text_content() == '<img src=x onerror="alert(1)"> Tin & "lạ"'
    assert not story.xpath(".//h3/a") and not story.xpath(".//img")


def test_pages_work_on_an_empty_store(app: Flask) -> None:
    client = app.test_client()
    doc = html_of(client, "/")
    assert "0 bài" in doc.text_content()
    assert "chưa có bài nào" in html_of(client, "/feeds/kim-boi").text_content()
    assert "Chưa có tin" in html_of(client, "/embed/kim-boi").text_content()
    root = etree.fromstring(client.get("/feeds.opml").data)
    assert root.find("head/dateModified") is None
    assert len(root.findall("body/outline/outline")) == len(get_service(app).catalog.scopes())
