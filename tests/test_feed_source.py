"""Upstream feeds (``kind = "feed"``): golden data files, hostile XML, the source over real HTTP,
and the whole service serving what an upstream feed of hostile Vietnamese articles brought.

Each ``tests/data/upstream/NAME.<ext>`` is a feed written for this project; ``NAME.expected.json``
next to it says what must come out (see tests/data/upstream/README.md for the keys). Items are
also run through the collector's ``build_article`` (the sanitiser and the district tagger on main),
so sections, districts, "text intact" and "nothing live" are checked on what would be stored.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import html5lib
import lxml.etree
import pytest
from flask import Flask

from feedsvc import create_app
from feedsvc.catalog import load_catalog
from feedsvc.collector import Pipeline, build_article, collect_source
from feedsvc.exceptions import FetchError, ParseError
from feedsvc.model import Article, RawArticle
from feedsvc.places import load_gazetteer
from feedsvc.render import atom_id
from feedsvc.settings import Settings, load_settings
from feedsvc.sources import make_source
from feedsvc.sources.feed import (
    MAX_ITEMS,
    FeedSource,
    cut_items,
    decode_feed,
    fix_references,
    parse_feed,
    parse_feed_date,
    read_feed,
    strip_doctype,
)
from feedsvc.sources.fetch import HttpFetcher
from feedsvc.store import Store
from feedsvc.text import squash_spaces
from feedsvc.web import get_service

from .conftest import DATA, LiveServer, write_config
from .httpfixture import HttpFixture, RecordedRequest, Reply

UPSTREAM = DATA / "upstream"
CASES = sorted(UPSTREAM.glob("*.expected.json"))
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RSS_TYPE = "application/rss+xml; charset=utf-8"
PNG = "image/png"

# What must never survive in served content: elements that run, frame, restyle or submit.
LIVE_ELEMENTS = {
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "svg",
    "math", "form", "input", "button", "textarea", "select", "base", "meta", "link",
    "noscript", "template", "video", "audio",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "xlink:href", "srcset"}
SAFE_SCHEMES = ("http:", "https:", "mailto:")


def input_for(expected: Path) -> Path:
    stem = expected.name.removesuffix(".expected.json")
    found = [p for p in UPSTREAM.glob(stem + ".*") if p != expected]
    assert len(found) == 1, f"{expected.name}: expected one input file, found {found}"
    return found[0]


def local(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso) if iso else None


def visible_text(html: str) -> str:
    """The text a browser would show of an HTML fragment, spaces squashed."""
    doc = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    return squash_spaces("".join(doc.itertext()))


def live_parts(html: str) -> list[str]:
    """Everything script-capable in ``html`` as a browser parses it (empty: nothing live)."""
    found = []
    doc = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.rsplit("}", 1)[-1].lower()
        if tag in LIVE_ELEMENTS:
            found.append(f"<{tag}>")
        for name, value in el.attrib.items():
            name = name.rsplit("}", 1)[-1].lower()
            if name.startswith("on") or name in ("style", "srcdoc"):
                found.append(f"<{tag} {name}>")
            if name in URL_ATTRIBUTES:
                # as a browser reads it (URL Standard): tabs and newlines removed, C0 controls
                # and spaces trimmed; a scheme is letters, digits, "+", "-", "." before ":"
                cleaned = re.sub("[\t\n\r]", "", value).strip("\x00- ").lower()
                scheme = re.match(r"[a-z][a-z0-9+.-]*:", cleaned)
                if scheme and not cleaned.startswith(SAFE_SCHEMES):
                    found.append(f"<{tag} {name}={value!r}>")
    return found


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """The collector's stages as configured on main: the shipped catalog and gazetteer."""
    settings = load_settings(env={})
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('pipe') / 'feedsvc.sqlite3'}")
    store.init()
    gazetteer = load_gazetteer(Path(settings.catalog.districts))
    yield Pipeline(store=store, catalog=load_catalog(settings), gazetteer=gazetteer)
    store.close()


def check_item(raw: RawArticle, article: Article, want: dict[str, Any], where: str) -> None:
    """Compare one item with its expectation: only the keys the expectation gives."""
    got = {
        "id": raw.ref.id,
        "url": raw.url,
        "title": raw.title,
        "date_source": raw.date_source,
        "author": raw.author,
        "image": raw.image,
        "categories": list(raw.categories),
        "lead": raw.lead,
        "section": article.section,
        "districts": sorted(article.districts),
    }
    for key, value in want.items():
        if key in got:
            expected = sorted(value) if key == "districts" else value
            assert got[key] == expected, f"{where}: {key}"
    for key in ("published", "updated"):
        if key in want:
            assert getattr(raw, key) == local(want[key]), f"{where}: {key}"
    for snippet in want.get("body_contains", []):
        assert snippet in raw.body_html, f"{where}: body lacks {snippet!r}"
    for snippet in want.get("body_excludes", []):
        assert snippet not in raw.body_html, f"{where}: body has {snippet!r}"
    if "max_body_chars" in want:
        assert len(raw.body_html) <= want["max_body_chars"], where
    if "max_title_chars" in want:
        assert len(raw.title) <= want["max_title_chars"], where
    text = visible_text(article.content_html)
    for phrase in want.get("text", []):
        assert squash_spaces(phrase) in text, f"{where}: text lacks {phrase!r}"


@pytest.mark.parametrize("expected_path", CASES, ids=[p.name.split(".")[0] for p in CASES])
def test_read_feed_golden(expected_path: Path, pipeline: Pipeline) -> None:
    want = json.loads(expected_path.read_text(encoding="utf-8"))
    content = input_for(expected_path).read_bytes()
    now = local(want.get("now")) or NOW
    kwargs: dict[str, Any] = {"content_type": want.get("content_type"), "now": now}
    if "error" in want:
        with pytest.raises(ParseError, match=re.escape(want["error"])):
            parse_feed(content, want["url"], **kwargs)
        return
    raws, parsed = parse_feed(content, want["url"], source="upstream", **kwargs)
    if "format" in want:
        assert parsed.format == want["format"]
    if "format_prefix" in want:
        assert parsed.format.startswith(want["format_prefix"])
    if "title" in want:
        assert parsed.title == want["title"]
    if not want.get("warnings"):
        assert parsed.warnings == []
    for warning in want.get("warnings", []):
        assert any(warning in w for w in parsed.warnings), (warning, parsed.warnings)
    assert [r.ref.id for r in raws] == [item["id"] for item in want["items"]]
    for raw, item in zip(raws, want["items"], strict=True):
        where = f"{expected_path.name} {raw.ref.id}"
        article = build_article(raw, pipeline, source="upstream", now=now)
        check_item(raw, article, item, where)
        # whatever the case: NFC text, no XML-illegal characters, nothing live once sanitised
        for text in (raw.title, raw.body_html, raw.lead or "", raw.author or ""):
            assert unicodedata.is_normalized("NFC", text), where
            assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", text), where
        assert raw.url.startswith(("http://", "https://")), where
        assert live_parts(article.content_html) == [], where
        if raw.published is None:
            assert raw.date_source == "discovered" and article.published == now, where


# ---------------------------------------------------------------------------------------------
# Pieces


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Fri, 27 Nov 2026 08:00:00 +0700", "2026-11-27T08:00:00+07:00"),
        ("Fri, 27 Nov 2026 08:00:00", "2026-11-27T08:00:00+07:00"),
        ("Fri, 27 Nov 2026 08:00:00 GMT+7", "2026-11-27T08:00:00+07:00"),
        ("Fri, 27 Nov 2026 01:00:00 GMT", "2026-11-27T08:00:00+07:00"),
        ("27 Nov 26 08:00 ICT", "2026-11-27T08:00:00+07:00"),
        ("Nov 27, 2026 08:00 AM", None),
        ("Nov 27, 2026 08:00", "2026-11-27T08:00:00+07:00"),
        ("2026-11-27T08:00:00+07:00", "2026-11-27T08:00:00+07:00"),
        ("2026-11-27T01:00:00.123Z", "2026-11-27T08:00:00+07:00"),
        ("2026-11-27 08:00", "2026-11-27T08:00:00+07:00"),
        ("2026-11-27", "2026-11-27T00:00:00+07:00"),
        ("Thứ hai, 27/11/2026 08:00", "2026-11-27T08:00:00+07:00"),
        ("08h00 ngày 27-11-2026", "2026-11-27T08:00:00+07:00"),
        ("27/11/2026 08:00 (GMT+7)", "2026-11-27T08:00:00+07:00"),
        ("ngày 27 tháng 11 năm 2026", "2026-11-27T00:00:00+07:00"),
        ("31/02/2026", None),
        ("2026-13-01T00:00:00", None),
        ("Fri, 27 Nov 2026 08:00:00 +2500", None),
        ("hôm qua", None),
        ("", None),
        (None, None),
        (1764000000, None),
    ],
)
def test_parse_feed_date_shapes(text: Any, iso: str | None) -> None:
    assert parse_feed_date(text) == local(iso)


def test_decode_feed_trusts_valid_utf8_over_a_single_byte_declaration() -> None:
    text = "Hòa Bình – Đà Bắc"
    doc = f'<?xml version="1.0" encoding="windows-1252"?><rss><title>{text}</title></rss>'
    assert text in decode_feed(doc.encode("utf-8"))
    assert text in decode_feed(doc.encode("utf-8"), "text/xml; charset=iso-8859-1")


def test_decode_feed_reads_a_declared_single_byte_charset() -> None:
    doc = '<?xml version="1.0" encoding="windows-1258"?><rss><title>Đà – Lương Sơn</title></rss>'
    assert "Đà – Lương Sơn" in decode_feed(doc.encode("cp1258"))


@pytest.mark.parametrize("label", ["base64", "rot13", "idna", "punycode"])
def test_decode_feed_ignores_codecs_that_are_no_charset(label: str) -> None:
    """A codec that is no charset (it would raise on the bytes) counts as an unknown label."""
    doc = '<?xml version="1.0" encoding="{}"?><rss><title>Đà – Lương Sơn</title></rss>'
    for encoding in ("utf-8", "cp1258"):
        got = decode_feed(doc.format(label).encode(encoding), f"text/xml; charset={label}")
        unknown = decode_feed(doc.format("klingon").encode(encoding), "text/xml; charset=klingon")
        assert got == unknown.replace("klingon", label)
    assert "Đà – Lương Sơn" in decode_feed(doc.format(label).encode(), f"text/xml; charset={label}")


def test_strip_doctype_keeps_what_surrounds_it() -> None:
    warnings: list[str] = []
    doc = (
        '<?xml version="1.0"?>\n<!-- a comment with <!DOCTYPE inside -->\n'
        '<?xml-stylesheet href="s.xsl"?>\n<!DOCTYPE rss [<!ENTITY a "x>]y"> <!-- ] > -->]>\n'
        "<rss><title>&a;</title></rss>"
    )
    out = strip_doctype(doc, warnings)
    assert "<!DOCTYPE rss" not in out and "ENTITY" not in out
    assert out.endswith("<rss><title>&a;</title></rss>")
    assert "<!-- a comment with <!DOCTYPE inside -->" in out
    assert len(warnings) == 1


def test_strip_doctype_ignores_a_doctype_after_the_root() -> None:
    doc = '<rss><description><![CDATA[<!DOCTYPE html [<!ENTITY x "y">]>]]></description></rss>'
    assert strip_doctype(doc, []) == doc


def test_strip_doctype_refuses_an_unterminated_doctype() -> None:
    with pytest.raises(ParseError, match="unterminated DOCTYPE"):
        strip_doctype('<!DOCTYPE rss [<!ENTITY a "x">', [])


def test_fix_references_makes_html_entities_xml_and_leaves_cdata_alone() -> None:
    doc = "<t>A &amp; B & C &nbsp;&eacute;&#1;&#233;&bogus;</t><![CDATA[&nbsp; & <b>]]>"
    assert fix_references(doc) == (
        "<t>A &amp; B &amp; C &#160;&#233;&#233;&amp;bogus;</t><![CDATA[&nbsp; & <b>]]>"
    )


def huge_feed(items: int) -> bytes:
    body = "Nội dung bài viết về huyện Mai Châu, dài để tài liệu nặng vài MB. " * 12
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        "<title>Rất nhiều tin</title><link>https://nhieu.example.vn/</link>"
    ]
    for i in range(items):
        parts.append(
            f"<item><guid isPermaLink='false'>tin-{i}</guid><title>Tin số {i}</title>"
            f"<link>https://nhieu.example.vn/{i}.html</link>"
            f"<pubDate>Fri, 27 Nov 2026 08:00:00 +0700</pubDate>"
            f"<description><![CDATA[<p>{body}</p><!-- </item> -->]]></description></item>"
        )
    parts.append("<lastBuildDate>Fri, 27 Nov 2026 08:00:00 +0700</lastBuildDate></channel></rss>")
    return "".join(parts).encode("utf-8")


def test_read_feed_caps_a_huge_feed_before_parsing_it() -> None:
    content = huge_feed(5000)
    assert len(content) > 4_000_000
    parsed = read_feed(content, "https://nhieu.example.vn/rss", now=NOW)
    assert len(parsed.items) == MAX_ITEMS
    assert parsed.total_items == 5000
    assert [i.id for i in parsed.items[:2]] == ["tin-0", "tin-1"]  # document order, newest first
    assert any("5000 items" in w for w in parsed.warnings)


def test_cut_items_hands_the_parser_a_bounded_document() -> None:
    """What feedparser (about 1 ms and tens of KB per item) gets from a 5,000-item feed: the
    first MAX_ITEMS items and the channel's closing elements, well-formed."""
    text = huge_feed(5000).decode("utf-8")
    cut, total = cut_items(text, MAX_ITEMS)
    assert total == 5000
    assert len(cut) < len(text) * (MAX_ITEMS + 1) / 5000
    assert cut.count("<item>") == MAX_ITEMS
    assert cut.endswith("</lastBuildDate></channel></rss>")
    lxml.etree.fromstring(cut.encode("utf-8"))  # still well-formed
    assert cut_items(text, 10_000) == (text, 5000)


def test_read_feed_refuses_more_bytes_than_the_cap() -> None:
    with pytest.raises(ParseError, match="cap"):
        read_feed(b"<rss>" + b" " * 2000 + b"</rss>", "https://x.example.vn/", max_bytes=1000)


def test_json_feed_deep_nesting_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not valid JSON"):
        read_feed(b"{" + b'"a":[' * 100_000, "https://x.example.vn/feed.json")


# ---------------------------------------------------------------------------------------------
# Over real HTTP


@pytest.fixture
def server() -> Iterator[HttpFixture]:
    with HttpFixture() as srv:
        yield srv


@pytest.fixture
def feed_source() -> Iterator[Callable[..., FeedSource]]:
    """FeedSource over a real HttpFetcher (no delay, no retries), closed after the test."""
    made: list[FeedSource] = []

    def make(url: str, name: str = "doitac", **fetch: Any) -> FeedSource:
        fetcher = HttpFetcher(user_agent="feedsvc-test/1", min_delay_s=0, retries=0, **fetch)
        source = FeedSource(name, url, fetcher, clock=lambda: NOW)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


def hostile_entities_feed(server: HttpFixture) -> str:
    """A feed whose DTD reaches for a local file and for two URLs on the fixture server."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE rss SYSTEM "{server.url("/external.dtd")}" [
  <!ENTITY passwd SYSTEM "file:///etc/passwd">
  <!ENTITY secret SYSTEM "{server.url("/secret")}">
  <!ENTITY % remote SYSTEM "{server.url("/evil.dtd")}">
  %remote;
]>
<rss version="2.0"><channel><title>Thực thể ngoài</title><link>https://ngoai.example.vn/</link>
<item><guid isPermaLink="false">xxe-1</guid><title>Tin huyện Cao Phong &passwd;&secret;</title>
<link>https://ngoai.example.vn/1.html</link>
<description>&lt;p&gt;Nội dung về huyện Cao Phong.&lt;/p&gt;&secret;&passwd;&leak;</description>
</item></channel></rss>"""


def route_bait(server: HttpFixture) -> None:
    server.route("/secret", Reply(body="SECRET-FROM-SERVER", content_type="text/plain"))
    dtd = '<!ENTITY leak "LEAKED-BY-DTD">'
    server.route("/evil.dtd", Reply(body=dtd, content_type="application/xml-dtd"))
    server.route("/external.dtd", Reply(body=dtd, content_type="application/xml-dtd"))


def test_feed_source_never_requests_external_entities(
    server: HttpFixture, feed_source: Callable[..., FeedSource]
) -> None:
    route_bait(server)
    server.route("/feed.xml", Reply(body=hostile_entities_feed(server), content_type=RSS_TYPE))
    source = feed_source(server.url("/feed.xml"))
    refs = source.list_latest()
    raws = [source.fetch(ref) for ref in refs]
    assert [r.ref.id for r in raws] == ["xxe-1"]
    seen = " ".join(f"{r.title} {r.body_html} {r.lead}" for r in raws)
    for leaked in ("SECRET-FROM-SERVER", "LEAKED-BY-DTD", "root:"):
        assert leaked not in seen
    assert [r.path for r in server.requests] == ["/robots.txt", "/feed.xml"]
    assert any("DOCTYPE" in w for w in source.warnings)


def test_feedparser_alone_requests_no_external_entity(server: HttpFixture) -> None:
    """Defence in depth: even without our DOCTYPE stripping, feedparser (SAX with external
    general entities off) must not reach the network or the file system."""
    route_bait(server)
    parsed = feedparser.parse(
        io.BytesIO(hostile_entities_feed(server).encode("utf-8")),
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    assert server.requests == []
    assert "SECRET" not in json.dumps(parsed.entries, default=str)
    assert "root:" not in json.dumps(parsed.entries, default=str)


def test_feed_source_fetches_each_item_without_another_request(
    server: HttpFixture, feed_source: Callable[..., FeedSource]
) -> None:
    server.route(
        "/feed.xml",
        Reply(body=(UPSTREAM / "vnexpress-rss.xml").read_bytes(), content_type=RSS_TYPE),
    )
    source = feed_source(server.url("/feed.xml"), "taybac")
    refs = source.list_latest()
    assert len(refs) == 3
    raws = [source.fetch(ref) for ref in refs]
    assert raws[0].categories == ("Du lịch",)
    assert server.hits("/feed.xml") == 1


def test_feed_source_not_modified_is_no_error(
    server: HttpFixture, pipeline: Pipeline, feed_source: Callable[..., FeedSource]
) -> None:
    body = (UPSTREAM / "vnexpress-rss.xml").read_bytes()

    def answer(req: RecordedRequest) -> Reply:
        if req.headers.get("If-None-Match") == '"v1"':
            return Reply(status=304, headers={"ETag": '"v1"'}, content_type=None)
        return Reply(body=body, content_type=RSS_TYPE, headers={"ETag": '"v1"'})

    server.route("/feed.xml", answer)
    source = feed_source(server.url("/feed.xml"), "taybac")
    first = collect_source(source, pipeline, deadline_s=30, now=lambda: NOW)
    assert first.ok and first.new == 3 and not first.not_modified
    second = collect_source(source, pipeline, deadline_s=30, now=lambda: NOW)
    assert second.ok and second.error is None
    assert second.not_modified and second.seen == 0 and second.new == 0
    assert source.not_modified
    assert server.hits("/feed.xml") == 2


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(status=500, body="lỗi"), FetchError),
        (Reply(status=404, body="không có"), FetchError),
        (Reply(body="<html><body><p>Bảo trì</p></body></html>"), ParseError),
        (Reply(body=b"\x89PNG\r\n\x1a\n" + bytes(range(256)), content_type=PNG), ParseError),
        (Reply(body=b"<rss>" + b"x" * 5000 + b"</rss>", content_type=RSS_TYPE), FetchError),
    ],
    ids=["http-500", "http-404", "html-page", "binary", "over-the-byte-cap"],
)
def test_feed_source_failures_raise(
    server: HttpFixture,
    feed_source: Callable[..., FeedSource],
    reply: Reply,
    error: type[Exception],
) -> None:
    server.route("/feed.xml", reply)
    source = feed_source(server.url("/feed.xml"), "hong", max_bytes=4096)
    with pytest.raises(error, match="source hong"):
        source.list_latest()


# ---------------------------------------------------------------------------------------------
# The whole service


def feed_settings(tmp_path: Path, url: str) -> Settings:
    path = write_config(
        tmp_path / "feedsvc.toml",
        {
            "database": {"url": "sqlite:///feedsvc.sqlite3"},
            "fetch": {"min_delay_seconds": 0, "retries": 0},
            "sources": [{"name": "doitac", "kind": "feed", "url": url, "deadline_seconds": 60}],
        },
    )
    return load_settings(path, env={})


def served_feed(server: LiveServer, slug: str, ext: str) -> Any:
    import urllib.request

    with urllib.request.urlopen(f"{server.url}/feeds/{slug}.{ext}?limit=100", timeout=10) as r:
        body = r.read()
    if ext == "json":
        return json.loads(body)
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def served_items(server: LiveServer, slug: str, ext: str) -> dict[str, str]:
    """id -> content HTML of one served feed."""
    feed = served_feed(server, slug, ext)
    if ext == "json":
        return {item["id"]: item.get("content_html", "") for item in feed["items"]}
    return {e.id: e.content[0].value if e.get("content") else "" for e in feed.entries}


def test_make_source_builds_a_feed_source(tmp_path: Path) -> None:
    settings = feed_settings(tmp_path, "https://doitac.example.vn/rss")
    source = make_source(settings.sources[0], settings, load_catalog(settings))
    try:
        assert isinstance(source, FeedSource)
        assert source.url == "https://doitac.example.vn/rss"
    finally:
        source.close()


@pytest.fixture
def upstream_app(tmp_path: Path, server: HttpFixture) -> Iterator[tuple[Flask, Callable[..., Any]]]:
    settings = feed_settings(tmp_path, server.url("/rss/tin-moi-nhat.rss"))
    app = create_app(settings)
    app.config["TESTING"] = True

    def serve(body: bytes, content_type: str = RSS_TYPE) -> None:
        server.route("/rss/tin-moi-nhat.rss", Reply(body=body, content_type=content_type))

    yield app, serve
    get_service(app).close()


def test_upstream_hostile_articles_served_in_the_right_feeds_with_nothing_live(
    upstream_app: tuple[Flask, Callable[..., Any]],
) -> None:
    app, serve = upstream_app
    serve((UPSTREAM / "hostile-html.xml").read_bytes())
    want = json.loads((UPSTREAM / "hostile-html.expected.json").read_text(encoding="utf-8"))
    service = get_service(app)
    results = service.collect()
    assert [r.ok for r in results] == [True], results
    assert results[0].new == len(want["items"]) and results[0].failed == 0, results[0].errors
    catalog = service.catalog
    sections = [s.slug for s in catalog.sections]
    districts = [d.slug for d in catalog.districts]
    with LiveServer(app) as live:
        for ext in ("xml", "atom", "json"):
            feeds = {slug: served_items(live, slug, ext) for slug in ["tin-moi-nhat"] + sections}
            feeds |= {slug: served_items(live, slug, ext) for slug in districts}
            for item in want["items"]:
                where = f"{ext} {item['id']}"
                # Atom ids must be URIs: render wraps a guid such as "doitac-901" (docs/feeds.md)
                item_id = atom_id(item["id"]) if ext == "atom" else item["id"]
                content = feeds["tin-moi-nhat"][item_id]
                assert live_parts(content) == [], (where, live_parts(content))
                text = visible_text(content)
                for phrase in item["text"]:
                    assert squash_spaces(phrase) in text, (where, phrase)
                in_sections = [s for s in sections if item_id in feeds[s]]
                assert in_sections == ([item["section"]] if item["section"] else []), where
                in_districts = [d for d in districts if item_id in feeds[d]]
                assert sorted(in_districts) == sorted(item["districts"]), where
            for slug, items in feeds.items():
                for item_id, content in items.items():
                    assert live_parts(content) == [], (ext, slug, item_id)


def test_upstream_garbage_keeps_the_articles_already_served(
    upstream_app: tuple[Flask, Callable[..., Any]],
) -> None:
    app, serve = upstream_app
    service = get_service(app)
    serve((UPSTREAM / "vnexpress-rss.xml").read_bytes())
    assert [r.ok for r in service.collect()] == [True]
    with LiveServer(app) as live:
        before = served_items(live, "tin-moi-nhat", "xml")
        assert len(before) == 3
        for garbage in ("<html><body>Trang bảo trì</body></html>".encode(), b"", b'{"items": 3}'):
            serve(garbage, "text/html; charset=utf-8")
            results = service.collect()
            assert results[0].error is not None and "doitac" in results[0].error
            assert served_items(live, "tin-moi-nhat", "xml") == before
            assert served_items(live, "chinh-tri", "xml").keys() == {
                "https://taybac.example.vn/thoi-su/nghi-quyet-dau-tu-cong-4810002.html"
            }


def test_example_upstream_config_has_a_feed_source() -> None:
    from .conftest import ROOT

    settings = load_settings(ROOT / "config" / "examples" / "upstream.toml", env={})
    kinds = {s.name: s.kind for s in settings.sources}
    assert kinds == {"baohoabinh": "html", "doitac": "feed"}
