"""render.py: the exact elements of each format (the way Django's syndication tests assert
them), what feedparser reads back, NFC, byte-identical output, bad articles, size caps."""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import feedgen.entry
import feedgen.feed
import feedparser
import pytest
from feedgen.entry import FeedEntry
from lxml import etree

from feedsvc import render
from feedsvc.catalog import Catalog, Scope, load_catalog
from feedsvc.model import Article, PlaceTag
from feedsvc.render import (
    EPOCH,
    FeedContext,
    RenderedFeed,
    atom_id,
    distinct_updated,
    prepare_item,
    render_feed,
    rss_guid,
    uri,
)
from feedsvc.service import paper_pages
from feedsvc.settings import settings_from_dict

from .jsonfeed import check_json_feed

PUBLIC = "http://feeds.example.test"
T0 = datetime(2024, 4, 26, 2, 15, tzinfo=UTC)  # 09:15 in Hòa Bình
ATOM = "http://www.w3.org/2005/Atom"
NS = {
    "atom": ATOM,
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "media": "http://search.yahoo.com/mrss/",
}
RFC822_VN = re.compile(r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0700$")
RFC3339_VN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(settings_from_dict({}, env={}))


def make_ctx(catalog: Catalog, **kw: Any) -> FeedContext:
    base: dict[str, Any] = {
        "public_url": PUBLIC,
        "site_url": "https://baohoabinh.com.vn/",
        "logo_url": "https://baohoabinh.com.vn/Images/logo.png",
        "ttl_minutes": 10,
        "catalog": catalog,
        "icon_url": "https://baohoabinh.com.vn/favicon.ico",
        "page_urls": paper_pages(
            catalog, "https://baohoabinh.com.vn/", "/{category_id}/page/1/{listing}.htm"
        ),
    }
    base.update(kw)
    return FeedContext(**base)


@pytest.fixture(scope="module")
def ctx(catalog: Catalog) -> FeedContext:
    return make_ctx(catalog)


def article(n: int = 169105, **kw: Any) -> Article:
    """A full article: image with caption, author, section and a district."""
    base: dict[str, Any] = {
        "id": f"tag:baohoabinh.com.vn,2006:{n}",
        "source": "baohoabinh",
        "url": f"https://baohoabinh.com.vn/11/{n}/Bai-viet-{n}.htm",
        "title": "CB, CC xã Vạn Mai (Mai Châu) đổi mới cách làm",
        "summary": "(HBĐT) - Đảng ủy xã Vạn Mai tập trung củng cố tổ chức.",
        "content_html": (
            f'<p><img src="https://ims.baohoabinh.com.vn/NewsImg/4_2024/{n}_anh1.jpg" alt="">'
            "</p><p><em>Cán bộ xã Vạn Mai hướng dẫn người dân.</em></p>"
            "<p><strong>(HBĐT) - Đảng ủy xã Vạn Mai tập trung củng cố tổ chức.</strong></p>"
            "<p>Theo Bí thư Đảng ủy xã, điểm mấu chốt là ban hành nghị quyết sát thực tế.</p>"
        ),
        "published": T0,
        "updated": T0,
        "author": "Bình Giang",
        "section": "chinh-tri",
        "places": (PlaceTag("mai-chau", "xã Vạn Mai (Mai Châu)", "title", "Vạn Mai"),),
        "image": f"https://ims.baohoabinh.com.vn/NewsImg/4_2024/{n}_anh1.jpg",
        "image_caption": "Cán bộ xã Vạn Mai hướng dẫn người dân.",
    }
    base.update(kw)
    return Article(**base)


def bare_article(n: int, **kw: Any) -> Article:
    """No image, no author, no section, no district."""
    kw = {"author": None, "section": None, "places": (), "image": None, "image_caption": None, **kw}
    return article(n, **kw)


def many(count: int, **kw: Any) -> list[Article]:
    """Newest first, one minute apart, as the store returns them."""
    return [
        article(
            1000 + i, published=T0 - timedelta(minutes=i), updated=T0 - timedelta(minutes=i), **kw
        )
        for i in range(count)
    ]


def children(elem: Any) -> list[str]:
    """Child element names with namespace prefixes, in document order."""
    out = []
    for child in elem:
        qname = etree.QName(child)
        prefix = next((p for p, ns in NS.items() if ns == qname.namespace), None)
        out.append(f"{prefix}:{qname.localname}" if prefix else qname.localname)
    return out


def rss(scope: Scope, articles: list[Article], ctx: FeedContext) -> Any:
    return etree.fromstring(render_feed(scope, articles, ctx, "rss").body)


def atom(scope: Scope, articles: list[Article], ctx: FeedContext) -> Any:
    return etree.fromstring(render_feed(scope, articles, ctx, "atom").body)


# --- RSS 2.0 ----------------------------------------------------------------------------


def test_render_rss_channel_has_exact_elements(catalog: Catalog, ctx: FeedContext) -> None:
    scope = catalog.lookup("chinh-tri")
    root = rss(scope, [article()], ctx)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert children(channel) == [
        "title", "link", "description", "atom:link", "docs", "generator", "image",
        "language", "lastBuildDate", "ttl", "item",
    ]  # fmt: skip
    assert channel.findtext("title") == "Báo Hòa Bình - Chính trị"
    assert channel.findtext("link") == "https://baohoabinh.com.vn/11/page/1/CHINH-TRI.htm"
    self_link = channel.find("atom:link", NS)
    assert self_link.attrib == {
        "href": f"{PUBLIC}/feeds/chinh-tri.xml",
        "rel": "self",
        "type": "application/rss+xml",
    }
    assert channel.findtext("language") == "vi"
    assert channel.findtext("lastBuildDate") == "Fri, 26 Apr 2024 09:15:00 +0700"
    assert channel.findtext("ttl") == "10"
    assert channel.findtext("generator") == "feedsvc"
    image = channel.find("image")
    assert children(image) == ["url", "title", "link"]
    assert image.findtext("url") == ctx.logo_url
    # The validator wants the image's title and link to match the channel's.
    assert image.findtext("title") == channel.findtext("title")
    assert image.findtext("link") == channel.findtext("link")


def test_render_rss_item_has_exact_elements(catalog: Catalog, ctx: FeedContext) -> None:
    item = rss(catalog.lookup("chinh-tri"), [article()], ctx).find("channel/item")
    assert children(item) == [
        "title", "link", "description", "content:encoded", "guid", "category", "category",
        "enclosure", "pubDate", "dc:creator", "media:content",
    ]  # fmt: skip
    assert item.findtext("title") == "CB, CC xã Vạn Mai (Mai Châu) đổi mới cách làm"
    assert item.findtext("link") == "https://baohoabinh.com.vn/11/169105/Bai-viet-169105.htm"
    guid = item.find("guid")
    assert guid.text == "tag:baohoabinh.com.vn,2006:169105"
    assert guid.get("isPermaLink") == "false"
    assert item.findtext("pubDate") == "Fri, 26 Apr 2024 09:15:00 +0700"
    assert item.findtext("dc:creator", namespaces=NS) == "Bình Giang"
    assert item.find("author") is None  # RSS <author> needs an e-mail address
    cats = [(c.text, c.get("domain")) for c in item.findall("category")]
    assert cats == [
        ("Chính trị", "tag:baohoabinh.com.vn,2006:sections"),
        ("Mai Châu", "tag:baohoabinh.com.vn,2006:districts"),
    ]
    image = "https://ims.baohoabinh.com.vn/NewsImg/4_2024/169105_anh1.jpg"
    assert item.find("enclosure").attrib == {"url": image, "length": "0", "type": "image/jpeg"}
    media = item.find("media:content", NS)
    assert media.attrib == {"url": image, "type": "image/jpeg", "medium": "image"}
    assert children(media) == ["media:description"]
    assert media.findtext("media:description", namespaces=NS) == (
        "Cán bộ xã Vạn Mai hướng dẫn người dân."
    )
    description = item.findtext("description")
    link = "https://baohoabinh.com.vn/11/169105/Bai-viet-169105.htm"
    assert description == (
        f'<a href="{link}"><img src="{image}" alt="Cán bộ xã Vạn Mai hướng dẫn người dân." />'
        "</a><br />(HBĐT) - Đảng ủy xã Vạn Mai tập trung củng cố tổ chức."
    )
    content = item.findtext("content:encoded", namespaces=NS)
    assert content == article().content_html


def test_render_rss_item_without_image_author_or_places(catalog: Catalog, ctx: FeedContext) -> None:
    item = rss(catalog.lookup("tin-moi-nhat"), [bare_article(7)], ctx).find("channel/item")
    assert children(item) == [
        "title", "link", "description", "content:encoded", "guid", "pubDate",
    ]  # fmt: skip
    assert item.findtext("description") == "(HBĐT) - Đảng ủy xã Vạn Mai tập trung củng cố tổ chức."


def test_render_rss_content_keeps_cdata_terminator_as_text(
    catalog: Catalog, ctx: FeedContext
) -> None:
    tricky = article(content_html="<p>a ]]> b</p>")
    item = rss(catalog.lookup("tin-moi-nhat"), [tricky], ctx).find("channel/item")
    assert item.findtext("content:encoded", namespaces=NS) == "<p>a ]]&gt; b</p>"


# --- Atom 1.0 ---------------------------------------------------------------------------


def test_render_atom_feed_has_exact_elements(catalog: Catalog, ctx: FeedContext) -> None:
    root = atom(catalog.lookup("mai-chau"), [article()], ctx)
    assert root.tag == f"{{{ATOM}}}feed"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "vi"
    assert children(root) == [
        "atom:id", "atom:title", "atom:updated", "atom:author", "atom:link", "atom:link",
        "atom:generator", "atom:icon", "atom:logo", "atom:subtitle", "atom:entry",
    ]  # fmt: skip
    assert root.findtext("atom:id", namespaces=NS) == "tag:baohoabinh.com.vn,2006:feeds/mai-chau"
    assert root.findtext("atom:title", namespaces=NS) == "Báo Hòa Bình - Mai Châu"
    assert root.findtext("atom:updated", namespaces=NS) == "2024-04-26T09:15:00+07:00"
    assert root.findtext("atom:author/atom:name", namespaces=NS) == "Báo Hòa Bình"
    links = [ln.attrib for ln in root.findall("atom:link", NS)]
    assert links == [
        {"href": f"{PUBLIC}/feeds/mai-chau.atom", "rel": "self", "type": "application/atom+xml"},
        # A district has no page on the paper's site: our preview page.
        {"href": f"{PUBLIC}/feeds/mai-chau", "rel": "alternate", "type": "text/html"},
    ]
    assert root.findtext("atom:icon", namespaces=NS) == ctx.icon_url
    assert root.findtext("atom:logo", namespaces=NS) == ctx.logo_url


def test_render_atom_entry_has_exact_elements(catalog: Catalog, ctx: FeedContext) -> None:
    entry = atom(catalog.lookup("mai-chau"), [article()], ctx).find("atom:entry", NS)
    assert children(entry) == [
        "atom:id", "atom:title", "atom:updated", "atom:author", "atom:content", "atom:summary",
        "atom:category", "atom:category", "atom:published", "atom:link", "atom:link",
    ]  # fmt: skip
    assert entry.findtext("atom:id", namespaces=NS) == "tag:baohoabinh.com.vn,2006:169105"
    assert entry.findtext("atom:updated", namespaces=NS) == "2024-04-26T09:15:00+07:00"
    assert entry.findtext("atom:published", namespaces=NS) == "2024-04-26T09:15:00+07:00"
    assert entry.findtext("atom:author/atom:name", namespaces=NS) == "Bình Giang"
    content = entry.find("atom:content", NS)
    assert content.get("type") == "html" and content.text == article().content_html
    summary = entry.find("atom:summary", NS)
    assert summary.get("type") is None  # plain text
    assert summary.text == "(HBĐT) - Đảng ủy xã Vạn Mai tập trung củng cố tổ chức."
    cats = [c.attrib for c in entry.findall("atom:category", NS)]
    assert cats == [
        {
            "term": "chinh-tri",
            "scheme": "tag:baohoabinh.com.vn,2006:sections",
            "label": "Chính trị",
        },
        {"term": "mai-chau", "scheme": "tag:baohoabinh.com.vn,2006:districts", "label": "Mai Châu"},
    ]
    links = [ln.attrib for ln in entry.findall("atom:link", NS)]
    assert links == [
        {
            "rel": "alternate",
            "type": "text/html",
            "href": "https://baohoabinh.com.vn/11/169105/Bai-viet-169105.htm",
        },
        {
            "rel": "enclosure",
            "href": "https://ims.baohoabinh.com.vn/NewsImg/4_2024/169105_anh1.jpg",
            "type": "image/jpeg",
        },
    ]


def test_render_atom_entries_never_share_an_updated_value(
    catalog: Catalog, ctx: FeedContext
) -> None:
    same_minute = [article(n) for n in (12, 11, 10)]
    root = atom(catalog.lookup("tin-moi-nhat"), same_minute, ctx)
    stamps = {
        e.findtext("atom:id", namespaces=NS).rsplit(":", 1)[1]: e.findtext(
            "atom:updated", namespaces=NS
        )
        for e in root.findall("atom:entry", NS)
    }
    # The oldest id keeps the paper's time; the others take the next free seconds.
    assert stamps == {
        "10": "2024-04-26T09:15:00+07:00",
        "11": "2024-04-26T09:15:01+07:00",
        "12": "2024-04-26T09:15:02+07:00",
    }
    assert root.findtext("atom:updated", namespaces=NS) == "2024-04-26T09:15:02+07:00"
    # Published stays as the paper stamped it.
    published = {
        e.findtext("atom:published", namespaces=NS) for e in root.findall("atom:entry", NS)
    }
    assert published == {"2024-04-26T09:15:00+07:00"}


def test_distinct_updated_keeps_old_items_stable_when_newer_ones_arrive(ctx: FeedContext) -> None:
    older = [prepare_item(article(n), ctx) for n in (11, 10)]
    newer = [prepare_item(article(12), ctx), *older]
    assert distinct_updated(newer)[1:] == distinct_updated(older)


# --- JSON Feed 1.1 ----------------------------------------------------------------------


def test_render_json_feed_has_every_field(catalog: Catalog, ctx: FeedContext) -> None:
    feed = json.loads(render_feed(catalog.lookup("chinh-tri"), [article()], ctx, "json").body)
    assert check_json_feed(feed) == []
    assert list(feed) == [
        "version", "title", "home_page_url", "feed_url", "description", "language", "icon",
        "favicon", "authors", "items",
    ]  # fmt: skip
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "Báo Hòa Bình - Chính trị"
    assert feed["home_page_url"] == "https://baohoabinh.com.vn/11/page/1/CHINH-TRI.htm"
    assert feed["feed_url"] == f"{PUBLIC}/feeds/chinh-tri.json"
    assert feed["language"] == "vi"
    assert feed["authors"] == [{"name": "Báo Hòa Bình", "url": "https://baohoabinh.com.vn/"}]
    (item,) = feed["items"]
    assert item == {
        "id": "tag:baohoabinh.com.vn,2006:169105",
        "url": "https://baohoabinh.com.vn/11/169105/Bai-viet-169105.htm",
        "title": "CB, CC xã Vạn Mai (Mai Châu) đổi mới cách làm",
        "content_html": article().content_html,
        "summary": "(HBĐT) - Đảng ủy xã Vạn Mai tập trung củng cố tổ chức.",
        "image": "https://ims.baohoabinh.com.vn/NewsImg/4_2024/169105_anh1.jpg",
        "date_published": "2024-04-26T09:15:00+07:00",
        "date_modified": "2024-04-26T09:15:00+07:00",
        "authors": [{"name": "Bình Giang"}],
        "tags": ["Chính trị", "Mai Châu"],
        "language": "vi",
    }


def test_jsonfeed_check_finds_what_the_spec_forbids() -> None:
    bad = {
        "version": "https://jsonfeed.org/version/1",
        "title": "",
        "items": [
            {"id": 1, "title": 7, "date_published": "26/04/2024", "authors": [{}]},
            {"id": "a", "content_text": "x", "attachments": [{"url": "https://x.test/a"}]},
            {"id": "a", "content_text": "y", "colour": "red"},
        ],
    }
    problems = check_json_feed(bad)
    for expected in (
        "feed.version", "feed.title", "feed.home_page_url", "items[0].id: must be",
        "items[0].title: must be a string", "items[0]: needs content_html",
        "items[0].date_published",
        "items[0].authors[0]: needs at least one", "attachments[0].mime_type: required",
        "items[2].id: 'a' used twice", "unknown key 'colour'",
    ):  # fmt: skip
        assert any(expected in p for p in problems), (expected, problems)


# --- read back by a real reader ---------------------------------------------------------


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_feedparser_reads_every_field_back(
    catalog: Catalog, ctx: FeedContext, fmt: render.Format
) -> None:
    body = render_feed(catalog.lookup("chinh-tri"), [article(), bare_article(7)], ctx, fmt).body
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "Báo Hòa Bình - Chính trị"
    assert parsed.feed.language == "vi"
    if fmt == "rss":
        assert parsed.feed.image.href == ctx.logo_url
    else:
        assert parsed.feed.logo == ctx.logo_url and parsed.feed.icon == ctx.icon_url
    entry = parsed.entries[0]
    assert entry.title == "CB, CC xã Vạn Mai (Mai Châu) đổi mới cách làm"
    assert entry.link == "https://baohoabinh.com.vn/11/169105/Bai-viet-169105.htm"
    assert entry.id == "tag:baohoabinh.com.vn,2006:169105"
    assert entry.published_parsed[:6] == (2024, 4, 26, 2, 15, 0)  # 09:15 +07:00 in UTC
    raw = body.decode()
    assert ("+0700" if fmt == "rss" else "+07:00") in raw
    assert entry.author == "Bình Giang"
    assert [t.term if fmt == "atom" else t.term for t in entry.tags] == (
        ["chinh-tri", "mai-chau"] if fmt == "atom" else ["Chính trị", "Mai Châu"]
    )
    content = entry.content[0].value  # feedparser re-serialises the HTML
    assert "điểm mấu chốt là ban hành nghị quyết" in content
    assert 'src="https://ims.baohoabinh.com.vn/NewsImg/4_2024/169105_anh1.jpg"' in content
    assert "Đảng ủy xã Vạn Mai" in entry.summary
    image = "https://ims.baohoabinh.com.vn/NewsImg/4_2024/169105_anh1.jpg"
    assert [e.href for e in entry.enclosures] == [image]
    if fmt == "rss":
        assert entry.media_content[0]["url"] == image
    bare = parsed.entries[1]
    assert bare.title and bare.link and bare.id and bare.published_parsed
    assert not bare.get("enclosures")


def test_render_vietnamese_text_round_trips_in_nfc(catalog: Catalog, ctx: FeedContext) -> None:
    title = "Lễ hội Khai hạ Mường Bi ở huyện Tân Lạc, tỉnh Hoà Bình"
    decomposed = article(
        title=unicodedata.normalize("NFD", title),
        summary=unicodedata.normalize("NFD", "Đồng bào Mường đón Tết."),
        author=unicodedata.normalize("NFD", "Đinh Thắng"),
        content_html=unicodedata.normalize("NFD", "<p>Người Mường ở Tân Lạc.</p>"),
    )
    scope = catalog.lookup("tin-moi-nhat")
    for fmt in ("rss", "atom"):
        entry = feedparser.parse(render_feed(scope, [decomposed], ctx, fmt).body).entries[0]
        assert entry.title == title  # NFC, "Hoà" kept as written (old tone placement)
        assert entry.author == "Đinh Thắng"
        assert entry.content[0].value == "<p>Người Mường ở Tân Lạc.</p>"
        assert unicodedata.is_normalized("NFC", entry.summary)
    item = json.loads(render_feed(scope, [decomposed], ctx, "json").body)["items"][0]
    assert item["title"] == title and item["authors"] == [{"name": "Đinh Thắng"}]


# --- determinism, limits, emptiness -----------------------------------------------------


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_render_same_articles_render_byte_identical_feeds(
    catalog: Catalog, fmt: render.Format
) -> None:
    articles = [*many(5), bare_article(7)]
    scope = catalog.lookup("tin-moi-nhat")
    first = render_feed(scope, articles, make_ctx(catalog), fmt)
    second = render_feed(scope, list(articles), make_ctx(catalog), fmt)
    assert first.body == second.body and first.etag == second.etag
    assert first.last_modified == T0  # the newest item, not the time of rendering


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_render_empty_feed_is_valid(catalog: Catalog, ctx: FeedContext, fmt: render.Format) -> None:
    feed = render_feed(catalog.lookup("da-bac"), [], ctx, fmt)
    assert feed.items == 0 and feed.last_modified is None
    if fmt == "json":
        parsed = json.loads(feed.body)
        assert check_json_feed(parsed) == [] and parsed["items"] == []
        return
    root = etree.fromstring(feed.body)
    if fmt == "rss":
        assert root.find("channel/item") is None
        assert root.findtext("channel/lastBuildDate") == "Sun, 01 Jan 2006 07:00:00 +0700"
    else:
        assert root.find("atom:entry", NS) is None
        assert (
            root.findtext("atom:updated", namespaces=NS)
            == EPOCH.astimezone(render.VIETNAM).isoformat()
        )
    assert not feedparser.parse(feed.body).bozo


@pytest.mark.parametrize("count", [0, 1, 30, 100])
@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_render_any_number_of_items_from_0_to_100(
    catalog: Catalog, ctx: FeedContext, fmt: render.Format, count: int
) -> None:
    feed = render_feed(catalog.lookup("tin-moi-nhat"), many(count), ctx, fmt)
    assert feed.items == count
    if fmt == "json":
        assert len(json.loads(feed.body)["items"]) == count
    else:
        parsed = feedparser.parse(feed.body)
        assert not parsed.bozo and len(parsed.entries) == count
        assert len({e.id for e in parsed.entries}) == count


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_self_link_names_the_requested_limit(
    catalog: Catalog, ctx: FeedContext, fmt: render.Format
) -> None:
    scope = catalog.lookup("kinh-te")
    root = etree.fromstring(render_feed(scope, [], ctx, fmt, limit=100).body)
    self_link = root.find("channel/atom:link" if fmt == "rss" else "atom:link", NS)
    ext = "xml" if fmt == "rss" else "atom"
    assert self_link.get("href") == f"{PUBLIC}/feeds/kinh-te.{ext}?limit=100"
    feed = json.loads(render_feed(scope, [], ctx, "json", limit=100).body)
    assert feed["feed_url"] == f"{PUBLIC}/feeds/kinh-te.json"  # the feed's identity


def test_render_dates_do_not_touch_the_process_locale() -> None:
    # feedgen's own formatter calls locale.setlocale(): process-global, unsafe in threads.
    assert feedgen.feed.formatRFC2822 is render._rfc822
    assert feedgen.entry.formatRFC2822 is render._rfc822
    assert RFC822_VN.match(render._rfc822(render.local(T0)))


# --- bad articles -----------------------------------------------------------------------


def test_render_cleans_xml_illegal_characters_from_text(catalog: Catalog, ctx: FeedContext) -> None:
    dirty = article(
        title="Giá lúa\x00 tăng &amp;amp; ổn định\x85\ufffd",
        summary="Nông dân\x0b phấn khởi\ud800.",
        author="  Minh\x1f  Thu ",
        content_html="<p>Vụ mùa\x08 bội thu</p>",
        image_caption="Ảnh\x02: M.T",
    )
    for fmt in ("rss", "atom", "json"):
        body = render_feed(catalog.lookup("kinh-te"), [dirty], ctx, fmt).body
        text = body.decode("utf-8")
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x80-\x9f\ufffd]", text)
    entry = feedparser.parse(render_feed(catalog.lookup("kinh-te"), [dirty], ctx, "rss").body)
    (e,) = entry.entries
    assert e.title == "Giá lúa tăng & ổn định"  # escaped twice upstream: decoded
    assert e.author == "Minh Thu"
    assert e.content[0].value == "<p>Vụ mùa bội thu</p>"


def test_render_keeps_markup_like_titles_as_text(catalog: Catalog, ctx: FeedContext) -> None:
    """Text that looks like HTML is text: shown as written in JSON (the widget reads it),
    spaced out in XML text elements where the feed validator would take it for markup."""
    odd = article(title='<img src=x onerror="alert(1)"> Tin & "lạ" </b>', author="A&hellip")
    scope = catalog.lookup("chinh-tri")
    item = json.loads(render_feed(scope, [odd], ctx, "json").body)["items"][0]
    assert item["title"] == '<img src=x onerror="alert(1)"> Tin & "lạ" </b>'
    for fmt in ("rss", "atom"):
        root = etree.fromstring(render_feed(scope, [odd], ctx, fmt).body)
        title = root.findtext(
            "channel/item/title" if fmt == "rss" else "atom:entry/atom:title", namespaces=NS
        )
        assert title == '< img src=x onerror="alert(1)"> Tin & "lạ" < /b>'
    (e,) = feedparser.parse(render_feed(scope, [odd], ctx, "atom").body).entries
    assert e.author == "A& hellip"  # an entity name without ";": not decoded, spaced


def test_render_skips_an_article_that_cannot_be_rendered(
    catalog: Catalog, ctx: FeedContext, caplog: pytest.LogCaptureFixture
) -> None:
    naive = article(2, published=datetime(2024, 4, 26, 9, 15))  # no zone: refused
    untitled = bare_article(3, title="  ", summary="")
    good = [article(1), naive, untitled, article(4)]
    with caplog.at_level(logging.WARNING, logger="feedsvc.render"):
        for fmt in ("rss", "atom", "json"):
            feed = render_feed(catalog.lookup("tin-moi-nhat"), good, ctx, fmt)
            assert feed.items == 2
    skipped = [r.getMessage() for r in caplog.records]
    assert any("article=tag:baohoabinh.com.vn,2006:2 skipped" in m for m in skipped)
    assert any("article=tag:baohoabinh.com.vn,2006:3 skipped" in m for m in skipped)


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_drops_an_entry_that_makes_feedgen_raise(
    catalog: Catalog, ctx: FeedContext, fmt: render.Format, caplog: pytest.LogCaptureFixture
) -> None:
    scope = catalog.lookup("tin-moi-nhat")
    fg = render._feed_generator(scope, ctx, fmt, ctx.feed_url(scope, fmt))
    fg.lastBuildDate(render.local(T0))
    good = fg.add_entry(order="append")
    good.id("tag:baohoabinh.com.vn,2006:1")
    good.title("Tin tốt")
    good.content("<p>Nội dung</p>", type="html")
    good.published(render.local(T0))
    bad: FeedEntry = fg.add_entry(order="append")
    bad.id("tag:baohoabinh.com.vn,2006:2")
    bad.title("Tin \x00 hỏng")  # lxml refuses it when feedgen serialises
    bad.content("<p>x</p>", type="html")
    with caplog.at_level(logging.WARNING, logger="feedsvc.render"):
        body = render._serialise(fg, fmt, scope)
    parsed = feedparser.parse(body)
    assert not parsed.bozo
    assert [e.id for e in parsed.entries] == ["tag:baohoabinh.com.vn,2006:1"]
    assert any(
        "item=tag:baohoabinh.com.vn,2006:2 skipped" in r.getMessage() for r in caplog.records
    )


def test_render_resolves_relative_references_in_content(catalog: Catalog, ctx: FeedContext) -> None:
    rel = article(
        content_html='<p><img src="/NewsImg/4_2024/a.jpg" alt=""><a href=\'x.htm\'>x</a></p>'
    )
    item = prepare_item(rel, ctx)
    assert item.content_html == (
        '<p><img src="https://baohoabinh.com.vn/NewsImg/4_2024/a.jpg" alt="">'
        '<a href="https://baohoabinh.com.vn/11/169105/x.htm">x</a></p>'
    )


# --- size caps --------------------------------------------------------------------------


def big_article(n: int, kb: int, **kw: Any) -> Article:
    para = "<p>" + "Đồng bào các dân tộc tỉnh Hòa Bình. " * 28 + "</p>"  # ~1 KB
    return article(
        n,
        content_html=para * kb,
        published=T0 - timedelta(hours=n),
        updated=T0 - timedelta(hours=n),
        **kw,
    )


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_render_drops_oldest_items_to_stay_under_max_bytes(
    catalog: Catalog, fmt: render.Format
) -> None:
    ctx = make_ctx(catalog, max_bytes=400_000, max_item_bytes=150_000)
    articles = [big_article(n, 60) for n in range(1, 11)]  # ~60 KB each, ~600 KB in all
    feed = render_feed(catalog.lookup("tin-moi-nhat"), articles, ctx, fmt)
    assert len(feed.body) <= 400_000
    assert 3 <= feed.items < 10
    if fmt == "json":
        ids = [i["id"] for i in json.loads(feed.body)["items"]]
    else:
        parsed = feedparser.parse(feed.body)
        assert not parsed.bozo
        ids = [e.id for e in parsed.entries]
    assert ids == [a.id for a in articles[: feed.items]]  # the newest kept, in order
    assert feed.last_modified == articles[0].updated


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_render_shortens_an_article_over_max_item_bytes(
    catalog: Catalog, fmt: render.Format
) -> None:
    ctx = make_ctx(catalog, max_bytes=2_000_000, max_item_bytes=100_000)
    huge = big_article(1, 3000)  # ~3 MB of HTML
    feed = render_feed(catalog.lookup("tin-moi-nhat"), [huge, article(2)], ctx, fmt)
    assert feed.items == 2 and len(feed.body) < 400_000
    if fmt == "json":
        content = json.loads(feed.body)["items"][0]["content_html"]
    else:
        content = feedparser.parse(feed.body).entries[0].content[0].value
    assert len(content.encode()) <= 100_000
    assert content.startswith("<p>Đồng bào")
    assert content.endswith(
        f'<p><a href="{huge.url}">Đọc toàn bộ bài viết trên Báo Hòa Bình</a></p>'
    )


def test_render_default_cap_is_two_megabytes(catalog: Catalog) -> None:
    ctx = make_ctx(catalog)
    assert ctx.max_bytes == 2_000_000 and ctx.max_item_bytes == 1_000_000
    articles = [big_article(n, 120) for n in range(1, 31)]  # ~3.6 MB of HTML
    feed = render_feed(catalog.lookup("tin-moi-nhat"), articles, ctx, "rss")
    assert len(feed.body) <= 2_000_000 < len(feed.body) + 130_000
    assert feed.items < 30


def test_shorten_html_falls_back_to_plain_text_for_one_giant_block() -> None:
    giant = "<div>" + "chữ " * 10_000 + "</div>"
    out = render.shorten_html(giant, 2_000, "https://baohoabinh.com.vn/1/2/a.htm", "Báo Hòa Bình")
    assert len(out.encode()) <= 2_000
    assert out.startswith("<p>chữ chữ") and "…</p><p><a href=" in out


# --- ids and URIs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, expected",
    [
        ("tag:baohoabinh.com.vn,2006:169105", None),
        ("https://partner.example/2024/04/bai-viet", None),
        ("urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427", None),
        ("12345", "item:12345"),
        ("bai-100", "item:bai-100"),
        ("HTTP://Partner.Example/a", "item:HTTP%3A%2F%2FPartner.Example%2Fa"),
        ("https://partner.example:443/a", "item:https%3A%2F%2Fpartner.example%3A443%2Fa"),
        ("bài viết 7", "item:b%C3%A0i%20vi%E1%BA%BFt%207"),
    ],
)  # fmt: skip
def test_atom_id_keeps_canonical_uris_and_wraps_the_rest(given: str, expected: str | None) -> None:
    """expected: None = kept as given; "item:..." = wrapped under our tag: prefix."""
    assert atom_id(given) == (given if expected is None else render.TAG_PREFIX + expected)


def test_rss_guid_is_the_id_unless_a_short_number() -> None:
    assert rss_guid("bai-100") == "bai-100"
    assert rss_guid("https://partner.example/a b") == "https://partner.example/a b"
    assert rss_guid("123456789") == "123456789"
    assert rss_guid("12345") == "tag:baohoabinh.com.vn,2006:item:12345"


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_render_upstream_id_in_each_format(
    catalog: Catalog, ctx: FeedContext, fmt: render.Format
) -> None:
    body = render_feed(catalog.lookup("tin-moi-nhat"), [article(id="bai-100")], ctx, fmt).body
    got = (
        json.loads(body)["items"][0]["id"]
        if fmt == "json"
        else feedparser.parse(body).entries[0].id
    )
    assert got == ("tag:baohoabinh.com.vn,2006:item:bai-100" if fmt == "atom" else "bai-100")


@pytest.mark.parametrize(
    "given, expected",
    [
        ("https://baohoabinh.com.vn/11/1/a,-b.htm", "https://baohoabinh.com.vn/11/1/a,-b.htm"),
        ("https://baohoabinh.com.vn/ảnh đẹp.jpg", "https://baohoabinh.com.vn/%E1%BA%A3nh%20%C4%91%E1%BA%B9p.jpg"),
        ("https://baohoabinh.com.vn/a%2Fb%zz", "https://baohoabinh.com.vn/a%2Fb%25zz"),
        ("https://hòabình.vn/x", "https://xn--habnh-vsa3b.vn/x"),
        ("/relative/path.jpg", None),
        ("javascript:alert(1)", None),
        ("", None),
        (None, None),
    ],
)  # fmt: skip
def test_uri_percent_encodes_what_validators_refuse(
    given: str | None, expected: str | None
) -> None:
    assert uri(given) == expected


def test_rendered_feed_reports_its_content_type(catalog: Catalog, ctx: FeedContext) -> None:
    scope = catalog.lookup("tin-moi-nhat")
    got: dict[str, RenderedFeed] = {
        f: render_feed(scope, [], ctx, f) for f in ("rss", "atom", "json")
    }
    assert got["rss"].content_type == "application/rss+xml; charset=utf-8"
    assert got["atom"].content_type == "application/atom+xml; charset=utf-8"
    assert got["json"].content_type == "application/feed+json; charset=utf-8"


# --- wiring -----------------------------------------------------------------------------


def test_paper_pages_link_sections_and_all_news_to_the_paper(catalog: Catalog) -> None:
    pages = paper_pages(
        catalog, "https://baohoabinh.com.vn/", "/{category_id}/page/1/{listing}.htm"
    )
    assert pages["tin-moi-nhat"] == "https://baohoabinh.com.vn/"
    assert pages["chinh-tri"] == "https://baohoabinh.com.vn/11/page/1/CHINH-TRI.htm"
    assert "mai-chau" not in pages  # districts: our preview page
    assert paper_pages(catalog, "https://baohoabinh.com.vn/", "") == {
        "tin-moi-nhat": "https://baohoabinh.com.vn/"
    }


def test_feeds_settings_check_the_new_keys() -> None:
    from feedsvc.exceptions import ConfigError

    s = settings_from_dict({"feeds": {"section_page": "/c/{category_id}.htm"}}, env={})
    assert s.feeds.section_page == "/c/{category_id}.htm"
    for bad in ({"section_page": "/{nope}.htm"}, {"icon_url": "icon.png"}, {"max_item_bytes": 10}):
        with pytest.raises(ConfigError, match=r"\[feeds\]"):
            settings_from_dict({"feeds": bad}, env={})
