"""Feed bodies: RSS 2.0 and Atom 1.0 (the only caller of feedgen) and JSON Feed 1.1.

A feed renders the same bytes for the same articles (lastBuildDate/updated = the newest
item, never "now"), so its ETag, derived from the body, changes only when content does.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from feedgen.feed import FeedGenerator

from .catalog import Catalog, Scope
from .model import Article
from .sanitise import strip_xml_illegal

log = logging.getLogger(__name__)

Format = Literal["rss", "atom", "json"]
FORMATS: dict[str, Format] = {"xml": "rss", "atom": "atom", "json": "json"}
CONTENT_TYPES: dict[Format, str] = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
EXTENSIONS: dict[Format, str] = {"rss": "xml", "atom": "atom", "json": "json"}
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
GENERATOR = "feedsvc"
EPOCH = datetime(2006, 1, 1, tzinfo=UTC)
# Feed ids never change, whatever public_url becomes.
FEED_ID_PREFIX = "tag:baohoabinh.com.vn,2006:feeds/"


@dataclass(frozen=True)
class FeedContext:
    """What a feed says about itself besides its articles."""

    public_url: str
    site_url: str
    logo_url: str
    ttl_minutes: int
    catalog: Catalog
    site_title: str = "Báo Hòa Bình"

    def feed_url(self, scope: Scope, fmt: Format) -> str:
        return f"{self.public_url.rstrip('/')}/feeds/{scope.slug}.{EXTENSIONS[fmt]}"

    def page_url(self, scope: Scope) -> str:
        return f"{self.public_url.rstrip('/')}/feeds/{scope.slug}"


@dataclass(frozen=True)
class RenderedFeed:
    body: bytes
    etag: str
    last_modified: datetime | None
    content_type: str
    items: int


def local(dt: datetime) -> datetime:
    return dt.astimezone(VIETNAM)


def _clean(text: str | None) -> str:
    return strip_xml_illegal(text or "")


def _newest(articles: Sequence[Article]) -> datetime | None:
    return max((max(a.published, a.updated) for a in articles), default=None)


def _categories(article: Article, ctx: FeedContext) -> list[tuple[str, str, str]]:
    """(term, label, domain) for the section and each district."""
    out = []
    base = ctx.public_url.rstrip("/")
    if article.section:
        section = ctx.catalog.section(article.section)
        out.append((article.section, section.name if section else article.section, f"{base}/"))
    for slug in article.districts:
        out.append((slug, ctx.catalog.district_name(slug), f"{base}/"))
    return out


def _description(article: Article) -> str:
    """The plain lead plus the thumbnail <img> that Vietnamese aggregators expect."""
    from html import escape

    parts = []
    if article.image:
        parts.append(f'<img src="{escape(article.image)}" alt="{escape(article.title)}" />')
    parts.append(escape(article.summary))
    return "".join(parts)


def _build(scope: Scope, articles: Sequence[Article], ctx: FeedContext, fmt: Format) -> bytes:
    fg = FeedGenerator()
    fg.load_extension("dc")
    newest = _newest(articles) or EPOCH
    fg.id(f"{FEED_ID_PREFIX}{scope.slug}")
    fg.title(_clean(scope.title))
    fg.link(href=ctx.feed_url(scope, fmt), rel="self")
    fg.link(href=ctx.page_url(scope), rel="alternate")
    fg.description(_clean(f"Tin {scope.name} của {ctx.site_title}"))
    fg.subtitle(_clean(f"Tin {scope.name} của {ctx.site_title}"))
    fg.language("vi")
    fg.lastBuildDate(local(newest))
    fg.updated(local(newest))
    fg.generator(GENERATOR)
    fg.logo(ctx.logo_url)
    fg.ttl(ctx.ttl_minutes)
    for article in articles:
        try:
            fe = fg.add_entry(order="append")
            fe.id(article.id)
            fe.guid(article.id, permalink=False)
            fe.title(_clean(article.title))
            fe.link(href=article.url, rel="alternate")
            fe.published(local(article.published))
            fe.updated(local(max(article.updated, article.published)))
            if fmt == "rss":
                fe.description(_clean(_description(article)))
            else:
                fe.summary(_clean(article.summary))
            fe.content(_clean(article.content_html), type="CDATA" if fmt == "rss" else "html")
            if article.author:
                fe.dc.dc_creator(_clean(article.author))
                if fmt == "atom":
                    fe.author(name=_clean(article.author))
            for term, label, domain in _categories(article, ctx):
                fe.category(term=term, label=label, scheme=domain)
        except Exception as e:  # one bad article never breaks a feed
            log.warning("render feed=%s article=%s error=%s", scope.slug, article.id, e)
            fg.remove_entry(fe)
    if fmt == "rss":
        return fg.rss_str(pretty=True)
    return fg.atom_str(pretty=True)


def _json(scope: Scope, articles: Sequence[Article], ctx: FeedContext) -> bytes:
    items = []
    for a in articles:
        item: dict[str, object] = {
            "id": a.id,
            "url": a.url,
            "title": a.title,
            "content_html": a.content_html,
            "summary": a.summary,
            "date_published": local(a.published).isoformat(),
            "date_modified": local(max(a.updated, a.published)).isoformat(),
            "tags": [label for _, label, _ in _categories(a, ctx)],
        }
        if a.image:
            item["image"] = a.image
        if a.author:
            item["authors"] = [{"name": a.author}]
        items.append(item)
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": scope.title,
        "home_page_url": ctx.page_url(scope),
        "feed_url": ctx.feed_url(scope, "json"),
        "language": "vi",
        "icon": ctx.logo_url,
        "authors": [{"name": ctx.site_title, "url": ctx.site_url}],
        "items": items,
    }
    return json.dumps(feed, ensure_ascii=False, indent=1).encode("utf-8")


def render_feed(
    scope: Scope, articles: Sequence[Article], ctx: FeedContext, fmt: Format
) -> RenderedFeed:
    body = _json(scope, articles, ctx) if fmt == "json" else _build(scope, articles, ctx, fmt)
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    return RenderedFeed(
        body=body,
        etag=etag,
        last_modified=_newest(articles),
        content_type=CONTENT_TYPES[fmt],
        items=len(articles),
    )
