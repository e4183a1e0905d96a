"""Every feed of the demo, and feeds of generated hostile articles, checked against the rules
of the W3C Feed Validation Service that our output can break (the full validator runs in
scripts/validate_feeds.py, outside the suite) and against JSON Feed 1.1."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.entities import name2codepoint
from typing import Any

import feedparser
import html5lib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feedsvc.catalog import Catalog, Scope
from feedsvc.model import Article, PlaceTag
from feedsvc.render import FeedContext, Format, render_feed
from feedsvc.service import Service
from feedsvc.settings import load_settings

from .conftest import write_config
from .jsonfeed import check_json_feed

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "media": "http://search.yahoo.com/mrss/",
}
# The validator's own patterns (feedvalidator/validators.py): rfc2396_full, rfc822, tag URIs.
FULL_URI = re.compile(r"^[a-zA-Z][0-9a-zA-Z+\-.]*:(//)?[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]+$")
RFC822_VN = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0700$"
)
RFC3339_VN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$")
# What its HTML check accepts (HTMLValidator.acceptable_elements, the ones we can emit).
ACCEPTABLE = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd",
    "del", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "ins", "li", "ol", "p", "picture", "pre", "q", "s", "small", "source",
    "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "u", "ul",
}  # fmt: skip
HTML_END_TAG = re.compile(r"</(\w+)>")
ENTITY_LIKE = re.compile(r"&(#?\w+)")
HTML_TAGS = ACCEPTABLE | {
    "address", "applet", "area", "article", "aside", "audio", "base", "basefont", "body",
    "button", "canvas", "center", "font", "footer", "form", "frame", "frameset", "head",
    "header", "html", "iframe", "input", "label", "link", "main", "map", "mark", "menu", "meta",
    "nav", "noscript", "object", "script", "section", "select", "style", "textarea", "title",
    "video", "embed", "tt", "var", "big",
}  # fmt: skip
REL_REF = re.compile(r"""<(?:img\s[^>]*src|a\s+href)=(?:"(.*?)"|'(.*?)')""", re.I)
C1_AND_REPLACEMENT = re.compile("[\x80-\x9f\ufffd]")
STRICT_HTML = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)


def check_html(value: str, where: str) -> list[str]:
    """The validator's safeHtml: a strict HTML5 parse, acceptable elements, no on* or style
    attributes, absolute references."""
    problems = []
    try:
        tree = STRICT_HTML.parseFragment(value)
    except (html5lib.html5parser.ParseError, KeyError) as e:  # html5lib lacks some messages
        return [f"{where}: not clean HTML: {e!r}"]
    for el in tree.iter():
        if not isinstance(el.tag, str) or el.tag == "DOCUMENT_FRAGMENT":
            continue
        if el.tag.lower() not in ACCEPTABLE:
            problems.append(f"{where}: element <{el.tag}> is a security risk to the validator")
        for name in el.attrib:
            if name.lower().startswith("on") or name.lower() == "style":
                problems.append(f"{where}: attribute {name} on <{el.tag}>")
    for m in REL_REF.finditer(value):
        ref = m.group(1) if m.group(1) is not None else m.group(2)
        if not re.match(r"\w+:", ref):
            problems.append(f"{where}: relative reference {ref!r}")
    return problems


def check_plain(value: str | None, where: str, *, rss: bool = False) -> list[str]:
    """The validator's nonhtml check (ContainsHTML, its RSS-profile CharacterData) and its
    BadCharacters check."""
    if value is None:
        return []
    problems = []
    if any(t.lower() in HTML_TAGS for t in HTML_END_TAG.findall(value)):
        problems.append(f"{where}: HTML in a plain-text element: {value!r}")
    elif any(
        v in name2codepoint or v == "apos" or not v.isalpha() for v in ENTITY_LIKE.findall(value)
    ):
        problems.append(f"{where}: entity-like text in a plain-text element: {value!r}")
    elif rss and re.search(r"&#[x0-9]|<[/a-zA-Z]", value):
        problems.append(f"{where}: markup-like text in an RSS text element: {value!r}")
    if C1_AND_REPLACEMENT.search(value):
        problems.append(f"{where}: C1 control or U+FFFD: {value!r}")
    return problems


def check_rss(body: bytes, self_url: str) -> list[str]:
    root = etree.fromstring(body)
    channel = root.find("channel")
    problems: list[str] = []
    self_links = [
        ln.get("href") for ln in channel.findall("atom:link", NS) if ln.get("rel") == "self"
    ]
    if self_links != [self_url]:
        problems.append(f"channel: self link {self_links} is not {self_url}")
    for tag in ("title", "link", "description", "language", "lastBuildDate"):
        if not (channel.findtext(tag) or "").strip():
            problems.append(f"channel: missing {tag}")
    if not RFC822_VN.match(channel.findtext("lastBuildDate") or ""):
        problems.append(f"channel: lastBuildDate {channel.findtext('lastBuildDate')!r}")
    image = channel.find("image")
    if image is not None and (
        image.findtext("title") != channel.findtext("title")
        or image.findtext("link") != channel.findtext("link")
    ):
        problems.append("channel: image title/link do not match the channel's")
    guids: set[str] = set()
    for i, item in enumerate(channel.findall("item")):
        w = f"item[{i}]"
        guid = item.find("guid")
        if guid is None or guid.get("isPermaLink") != "false" or not guid.text:
            problems.append(f"{w}: guid must be there with isPermaLink=false")
        elif guid.text in guids:
            problems.append(f"{w}: guid {guid.text} used twice")
        else:
            guids.add(guid.text)
            if len(guid.text) < 9 and guid.text.isdigit():
                problems.append(f"{w}: guid not sufficiently unique")
        if item.find("author") is not None:
            problems.append(f"{w}: <author> needs an e-mail address; use dc:creator")
        if not (item.findtext("title") or "").strip():
            problems.append(f"{w}: empty title")
        problems += check_plain(item.findtext("title"), f"{w}.title", rss=True)
        for el in item.findall("category") + item.findall("media:content/media:description", NS):
            problems += check_plain(el.text, f"{w}.{el.tag}", rss=True)
        if not RFC822_VN.match(item.findtext("pubDate") or ""):
            problems.append(f"{w}: pubDate {item.findtext('pubDate')!r}")
        link = item.findtext("link")
        if link is not None and not FULL_URI.match(link):
            problems.append(f"{w}: link {link!r}")
        enclosure = item.find("enclosure")
        if enclosure is not None:
            if not (enclosure.get("length") or "").isdigit() or not enclosure.get("type"):
                problems.append(f"{w}: enclosure needs a length >= 0 and a type")
            if not FULL_URI.match(enclosure.get("url") or ""):
                problems.append(f"{w}: enclosure url {enclosure.get('url')!r}")
        for media in item.findall("media:content", NS):
            if not FULL_URI.match(media.get("url") or ""):
                problems.append(f"{w}: media:content url {media.get('url')!r}")
        if item.find("description") is None:
            problems.append(f"{w}: description must come with content:encoded")
        problems += check_html(item.findtext("description") or "", f"{w}.description")
        content = item.findtext("content:encoded", namespaces=NS)
        if content is not None:
            problems += check_html(content, f"{w}.content:encoded")
    return problems


def check_atom(body: bytes, self_url: str) -> list[str]:
    root = etree.fromstring(body)
    problems: list[str] = []
    links = root.findall("atom:link", NS)
    if [ln.get("href") for ln in links if ln.get("rel") == "self"] != [self_url]:
        problems.append(f"feed: self link is not {self_url}")
    for tag in ("id", "title", "updated"):
        if not root.findtext(f"atom:{tag}", namespaces=NS):
            problems.append(f"feed: missing {tag}")
    has_author = root.find("atom:author/atom:name", NS) is not None
    ids: set[str] = set()
    updated: set[str] = set()
    for i, entry in enumerate(root.findall("atom:entry", NS)):
        w = f"entry[{i}]"
        entry_id = entry.findtext("atom:id", namespaces=NS) or ""
        if not FULL_URI.match(entry_id) or entry_id in ids:
            problems.append(f"{w}: id {entry_id!r} missing, not a URI or not unique")
        ids.add(entry_id)
        stamp = entry.findtext("atom:updated", namespaces=NS) or ""
        if not RFC3339_VN.match(stamp) or stamp in updated:
            problems.append(f"{w}: updated {stamp!r} missing, not +07:00 or shared")
        updated.add(stamp)
        if not RFC3339_VN.match(entry.findtext("atom:published", namespaces=NS) or ""):
            problems.append(f"{w}: published")
        if not has_author and entry.find("atom:author/atom:name", NS) is None:
            problems.append(f"{w}: no author (and none on the feed)")
        for tag in ("title", "summary"):
            problems += check_plain(entry.findtext(f"atom:{tag}", namespaces=NS), f"{w}.{tag}")
        alternates = [ln for ln in entry.findall("atom:link", NS) if ln.get("rel") == "alternate"]
        if len({ln.get("type") for ln in alternates}) != len(alternates):
            problems.append(f"{w}: duplicate alternate links")
        content = entry.find("atom:content", NS)
        if content is None or content.get("type") != "html":
            problems.append(f"{w}: content type=html expected")
        else:
            problems += check_html(content.text or "", f"{w}.content")
    return problems


def check_feed(fmt: Format, body: bytes, self_url: str) -> list[str]:
    if fmt == "json":
        return check_json_feed(json.loads(body))
    parsed = feedparser.parse(body)
    problems = [f"feedparser: {parsed.get('bozo_exception')}"] if parsed.bozo else []
    return problems + (check_rss(body, self_url) if fmt == "rss" else check_atom(body, self_url))


# --- the demo ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("validity")
    path = write_config(
        tmp / "feedsvc.toml",
        {
            "service": {"public_url": "https://feeds.baohoabinh.example"},
            "database": {"url": "sqlite:///feedsvc.sqlite3"},
            "sources": [
                {"name": "baohoabinh", "url": "https://baohoabinh.com.vn/", "snapshot": "demo"}
            ],
        },
    )
    service = Service(load_settings(path, env={}))
    service.store.init()
    results = service.collect()
    assert all(r.ok for r in results), results
    yield service
    service.close()


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_every_demo_feed_follows_the_validator_rules(demo: Service, fmt: Format) -> None:
    problems = []
    total = 0
    for scope in demo.catalog.scopes():
        for limit in (None, 100):
            articles = demo.store.latest(scope, limit or 30)
            feed = render_feed(scope, articles, demo.feed_context, fmt, limit=limit)
            total += feed.items
            self_url = demo.feed_context.feed_url(scope, fmt, limit)
            problems += [f"{self_url}: {p}" for p in check_feed(fmt, feed.body, self_url)]
    assert not problems, "\n".join(problems)
    assert total > 0


def test_checker_catches_what_the_validator_would_flag() -> None:
    assert check_html("<p>a</br></p>", "x")  # html5lib strict parse error
    assert check_html("<script>alert(1)</script>", "x")
    assert check_html('<p onclick="x()">a</p>', "x")
    assert check_html('<img src="/a.jpg">', "x")
    assert check_plain("Tiêu đề <b>đậm</b>", "x")
    assert check_plain("hỏng\x85", "x")
    assert not check_html(
        '<p><a href="https://x.vn/a">a</a><img src="https://x.vn/b.jpg" alt=""></p>', "x"
    )


# --- articles we have not seen ----------------------------------------------------------

T0 = datetime(2024, 4, 26, 2, 15, tzinfo=UTC)
TEXT = st.lists(
    st.characters(codec="utf-8", exclude_categories=("Cs",))
    | st.sampled_from(list("<>&\"'\x00\x01\x0b\x1f\x7f\x85\x9f\ufdd0\ufffe\uffff\ufffd áảđĐ\u0301"))
    | st.sampled_from(["<b>", "</p>", "&amp;", "&nbsp;", "&#39;", "]]>", "a<b"]),
    max_size=40,
).map("".join)
HTML = st.lists(
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<strong>",
            "</strong>",
            "<em>",
            "</em>",
            "<br>",
            '<img src="',
            '" alt="">',
            '<a href="',
            '">',
            "</a>",
            "/NewsImg/a b.jpg",
            "https://x.vn/ả.jpg",
            "]]>",
            "&",
            "&amp;",
            "<table><tr><td>",
            "</td></tr></table>",
            "\x00",
            "\x0c",
        ]
    )
    | TEXT,
    max_size=25,
).map("".join)
URL = st.sampled_from(
    [
        "https://baohoabinh.com.vn/11/1/Bai,-viet.htm",
        "https://baohoabinh.com.vn/3/2/bài viết có dấu.htm",
        "http://partner.example/a?x=1&y=ả#top",
        "https://baohoabinh.com.vn/a%zz",
        "/relative/only.htm",
        "",
    ]
)
IMAGE = st.none() | st.sampled_from(
    [
        "https://ims.baohoabinh.com.vn/NewsImg/4_2024/1_a.jpg",
        "https://ims.baohoabinh.com.vn/NewsImg/4_2024/ảnh đẹp.PNG",
        "https://ims.baohoabinh.com.vn/NewsImg/noext",
        "data:image/png;base64,xyz",
    ]
)
ID = st.sampled_from(
    ["tag:baohoabinh.com.vn,2006:{n}", "{n}", "https://partner.example/{n}", "guid {n} ả"]
)


@st.composite
def articles(draw: Any) -> list[Article]:
    count = draw(st.integers(0, 6))
    out = []
    for n in range(count):
        published = T0 - timedelta(minutes=draw(st.integers(0, 3)))
        out.append(
            Article(
                id=draw(ID).format(n=n),
                source="test",
                url=draw(URL),
                title=draw(TEXT),
                summary=draw(TEXT),
                content_html=draw(HTML),
                published=published,
                updated=published + timedelta(seconds=draw(st.integers(0, 2))),
                author=draw(st.none() | TEXT),
                section=draw(st.sampled_from([None, "chinh-tri", "van-hoa", "no-such-section"])),
                places=tuple(
                    PlaceTag(d, d, "title")
                    for d in draw(st.lists(st.sampled_from(["mai-chau", "kim-boi"]), max_size=2))
                ),
                image=draw(IMAGE),
                image_caption=draw(st.none() | TEXT),
            )
        )
    return out


@pytest.fixture(scope="module")
def hostile_ctx(demo: Service) -> tuple[Catalog, FeedContext]:
    return demo.catalog, demo.feed_context


@settings(
    deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=articles(), fmt=st.sampled_from(["rss", "atom", "json"]))
def test_unseen_articles_render_valid_feeds(
    hostile_ctx: tuple[Catalog, FeedContext], batch: list[Article], fmt: Format
) -> None:
    catalog, ctx = hostile_ctx
    scope: Scope = catalog.lookup("tin-moi-nhat")
    feed = render_feed(scope, batch, ctx, fmt)
    assert feed.items <= len(batch)
    problems = [
        p
        for p in check_feed(fmt, feed.body, ctx.feed_url(scope, fmt))
        # The article HTML is the sanitiser's (it runs at ingest): for it render guarantees
        # only XML safety and absolute references. The description is render's own.
        if not (re.search(r"\.content(:encoded)?: ", p) and "relative reference" not in p)
    ]
    assert not problems, problems
    assert render_feed(scope, batch, ctx, fmt).body == feed.body
