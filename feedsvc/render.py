"""Feed bodies: RSS 2.0 and Atom 1.0 (the only caller of feedgen) and JSON Feed 1.1.

What each format carries and why is written down in docs/feeds.md. The rules that shape
this module:

- Same articles in, same bytes out: lastBuildDate/updated are the newest item's time, never
  "now", so a body's ETag changes only when its content does.
- One bad article never breaks a feed: every text is cleaned of XML-illegal characters here
  again (the sanitiser did it once at ingest), an article that cannot be prepared is logged
  and skipped, and if serialisation still fails the entries are built one by one and the
  failing ones dropped.
- Valid for the W3C Feed Validation Service without warnings: ids that are canonical URIs,
  percent-encoded links, an ``enclosure`` length of 0 when the size is unknown (RSS Best
  Practices Profile), distinct Atom ``updated`` values, a feed-level Atom author.
- Under ``max_bytes`` (Google News reads at most 2 MB): an article's HTML longer than
  ``max_item_bytes`` is cut at a block boundary with a link to the full text, and a feed
  still too big loses its oldest items.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html.entities import name2codepoint
from typing import Any, Literal
from urllib.parse import quote, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import feedgen.entry
import feedgen.feed
import lxml.etree
import lxml.html
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator

from .catalog import Catalog, Scope
from .model import Article
from .text import nfc, squash_spaces, strip_xml_illegal

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
LANGUAGE = "vi"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
# An empty feed still needs an updated/lastBuildDate: a fixed instant, never "now".
EPOCH = datetime(2006, 1, 1, tzinfo=UTC)
# Ids never change, whatever public_url becomes (tag: URIs, RFC 4151).
TAG_PREFIX = "tag:baohoabinh.com.vn,2006:"
FEED_ID_PREFIX = TAG_PREFIX + "feeds/"
ITEM_ID_PREFIX = TAG_PREFIX + "item:"
SECTION_SCHEME = TAG_PREFIX + "sections"
DISTRICT_SCHEME = TAG_PREFIX + "districts"
DC_NS = "http://purl.org/dc/elements/1.1/"
MEDIA_NS = "http://search.yahoo.com/mrss/"
DEFAULT_MAX_BYTES = 2_000_000
DEFAULT_MAX_ITEM_BYTES = 1_000_000
TITLE_FALLBACK_CHARS = 120
# The lead image's type, from its file name. Unknown: no <enclosure> (it needs a type),
# media:content without a type.
IMAGE_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "jpe": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "svg": "image/svg+xml",
}

# Anything clean_text() may have to remove, in one character class: one fast scan finds
# nothing in nearly every text. XML-illegal characters (C0 controls, surrogates, U+FFFE/F),
# DEL and C1 controls and Unicode noncharacters (legal XML, but invalid in HTML: the feed
# validator's strict HTML parse rejects them), U+FFFD (mojibake, flagged as BadCharacters).
# Astral characters only send the text to the slower exact pass below.
_SUSPECT = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffd-\uffff"
    "\U00010000-\U0010ffff]"
)
_UNWANTED = re.compile(
    "[\x7f-\x9f\ufdd0-\ufdef\ufffd\ud800-\udfff"
    + "".join(f"{chr(p + 0xFFFE)}{chr(p + 0xFFFF)}" for p in range(0x10000, 0x110000, 0x10000))
    + "]"
)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
# What the feed validator takes for markup in a plain-text element (its nonhtml check):
# "<" before a letter or "/", and "&word" when the word is an entity name or not a word.
_LT_MARKUP = re.compile(r"<(?=[A-Za-z/])")
_AMP_WORD = re.compile(r"&(?=(#?\w+))")
_SPACES = re.compile(r"\s+")
# A URI the validators accept as it is (RFC 2396 characters after a scheme).
_URI_OK = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[A-Za-z0-9;/?:@&=+$.\-_!~*'(),%#]+$")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# The common case, accepted without parsing: http(s), an ASCII host, RFC 2396 characters.
_HTTP_URI_OK = re.compile(
    r"^https?://[A-Za-z0-9.\-]+(?::\d{1,5})?"
    r"(?:[/?#](?:[A-Za-z0-9;/?:@&=+$.\-_!~*'(),#]|%[0-9A-Fa-f]{2})*)?$"
)
_URI_SAFE = ";/?:@&=+$,!~*'()%#"
# Ids kept as they are: already canonical URIs (what the feed validator's NonCanonicalURI
# check compares against). Anything else is wrapped into ITEM_ID_PREFIX + percent-encoding.
_CANONICAL_ID = re.compile(
    r"^(?:tag:[a-z0-9.\-]+,\d{4}(?:-\d\d(?:-\d\d)?)?:[A-Za-z0-9;/?:@&=+$.\-_!~*'(),]+"
    r"|https?://[a-z0-9\-]+(?:\.[a-z0-9\-]+)*(?::\d+)?/[A-Za-z0-9;/?:@&=+$.\-_!~*'(),]*"
    r"|urn:[a-z0-9][a-z0-9\-]{1,31}:[A-Za-z0-9()+,\-.:=@;$_!*']+)$"
)
_DEFAULT_PORT = re.compile(r"^http://[^/]+:80/|^https://[^/]+:443/")
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|$|\?)")
# What the validator treats as a relative reference in HTML (its absUrlMixin): an img src
# or a href that does not start with a scheme.
_REL_REF = re.compile(
    r"""(<(?:img\s[^>]*?src|a\s+href)=)(?:"(?!\w+:)([^"]*)"|'(?!\w+:)([^']*)')""",
    re.IGNORECASE,
)


def _rfc822(dt: datetime) -> str:
    return format_datetime(dt)


# feedgen formats RSS dates with locale.setlocale() around strftime: process-global, not
# thread-safe under a threaded server, and slow. Its setters take no preformatted strings, so
# its formatter is swapped for the stdlib's locale-free one (same output: "Fri, 30 Aug 2024
# 09:30:00 +0700"). render.py is the only user of feedgen, so nothing else sees this.
feedgen.feed.formatRFC2822 = _rfc822
feedgen.entry.formatRFC2822 = _rfc822


@dataclass(frozen=True)
class FeedContext:
    """What a feed says about itself besides its articles."""

    public_url: str
    site_url: str
    logo_url: str
    ttl_minutes: int
    catalog: Catalog
    site_title: str = "Báo Hòa Bình"
    icon_url: str = ""
    # scope slug -> the matching page on the paper's site; missing: our preview page
    page_urls: Mapping[str, str] = field(default_factory=dict, compare=False)
    max_bytes: int = DEFAULT_MAX_BYTES
    max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES

    def feed_url(self, scope: Scope, fmt: Format, limit: int | None = None) -> str:
        url = f"{self.public_url.rstrip('/')}/feeds/{scope.slug}.{EXTENSIONS[fmt]}"
        return url if limit is None else f"{url}?limit={limit}"

    def preview_url(self, scope: Scope) -> str:
        return f"{self.public_url.rstrip('/')}/feeds/{scope.slug}"

    def page_url(self, scope: Scope) -> str:
        """The channel's link: the paper's page for this scope, else our preview page."""
        return self.page_urls.get(scope.slug) or self.preview_url(scope)

    def title(self, scope: Scope) -> str:
        return f"{self.site_title} - {scope.name}"

    def description(self, scope: Scope) -> str:
        if scope.kind == "section":
            section = self.catalog.section(scope.slug)
            if section and section.description:
                return section.description
        if scope.kind == "all":
            return f"Tin mới nhất của {self.site_title}"
        if scope.kind == "district":
            return f"Tin về {scope.name} trên {self.site_title}"
        return f"Tin {scope.name} của {self.site_title}"


@dataclass(frozen=True)
class RenderedFeed:
    body: bytes
    etag: str
    last_modified: datetime | None
    content_type: str
    items: int  # items actually in the body (after skipped and size-capped ones)


@dataclass(frozen=True)
class _Item:
    """One article as every format shows it: cleaned, NFC, +07:00, URIs encoded."""

    id: str
    url: str | None
    title: str
    summary: str
    content_html: str
    published: datetime
    updated: datetime
    author: str | None
    image: str | None
    image_type: str | None
    caption: str
    categories: tuple[tuple[str, str, str], ...]  # (term, label, scheme)


# --- text, URIs, dates ------------------------------------------------------------------


def local(dt: datetime) -> datetime:
    """The paper's time zone, whole seconds (readers and validators need no microseconds).

    A naive datetime is an error, as in feedgen: astimezone() would silently read it as the
    server's local time."""
    if dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: times must carry their zone")
    return dt.astimezone(VIETNAM).replace(microsecond=0)


# Stricter than text.clean_line on purpose: what the feed validator flags goes too.
def clean_text(text: str | None) -> str:
    """NFC, without XML-illegal characters (strip_xml_illegal, as at ingest), C1 controls,
    noncharacters, U+FFFD or lone surrogates."""
    if not text:
        return ""
    if _SUSPECT.search(text) is not None:
        text = _UNWANTED.sub("", strip_xml_illegal(text))
    return nfc(text)


def plain_text(text: str | None) -> str:
    """A plain-text field (title, author, lead, labels): cleaned, entities decoded (upstream
    text is often escaped twice: "&amp;quot;"), one line. Text that looks like markup stays
    text: '<img src=x> Tin' is a title like any other, shown as written."""
    text = clean_text(text)
    if "&" in text:
        for _ in range(3):
            unescaped = html.unescape(text)
            if unescaped == text:
                break
            text = unescaped
        text = clean_text(text)
    return squash_spaces(text)


def markup_safe(text: str) -> str:
    """Plain text for an XML text element: what the feed validator would take for markup
    there (ContainsHTML, CharacterData) is spaced out: "a<b" -> "a< b", "</b>" -> "< /b>",
    "&nbsp" (no ";") -> "& nbsp". JSON Feed shows the text unchanged."""
    if "<" in text:
        text = _LT_MARKUP.sub("< ", text)
    if "&" in text:
        text = _AMP_WORD.sub(_space_entity_like, text)
    return text


def _space_entity_like(m: re.Match[str]) -> str:
    word = m.group(1)
    if word in name2codepoint or word == "apos" or not word.isalpha():
        return "& "
    return "&"


# Not sanitise.clean_url: stored URLs passed that policy; this is the encoding validators want.
def uri(url: str | None) -> str | None:
    """An absolute http(s) URL as an RFC 3986 URI (IDNA host, percent-encoded path), or None."""
    url = clean_text(url).strip()
    if not url:
        return None
    if _HTTP_URI_OK.match(url):
        return url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if _URI_OK.match(url) and not _STRAY_PERCENT.search(url):
        return url
    netloc = parts.netloc
    if not netloc.isascii():
        host = parts.hostname.encode("idna").decode("ascii")
        netloc = host if parts.port is None else f"{host}:{parts.port}"

    def enc(s: str) -> str:
        return quote(_STRAY_PERCENT.sub("%25", s), safe=_URI_SAFE)

    return urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            enc(parts.path) or "/",
            enc(parts.query),
            enc(parts.fragment),
        )
    )


def atom_id(article_id: str) -> str:
    """The Atom id of an article: its id when that is a canonical URI (ours always are), else
    ``tag:baohoabinh.com.vn,2006:item:<percent-encoded id>``: RFC 4287 wants an IRI there,
    and an upstream guid such as "bai-100" is none. Deterministic, so stable for ever."""
    if (
        _CANONICAL_ID.match(article_id)
        and not _DEFAULT_PORT.match(article_id)
        and not _DOT_SEGMENT.search(article_id)
    ):
        return article_id
    return ITEM_ID_PREFIX + quote(article_id, safe="")


def rss_guid(article_id: str) -> str:
    """The RSS guid: the id as it is (any string will do), except a short number, which the
    feed validator calls not unique enough (NotSufficientlyUnique): wrapped as for Atom."""
    if len(article_id) < 9 and article_id.isdigit():
        return atom_id(article_id)
    return article_id


def _image_type(url: str) -> str | None:
    path = urlsplit(url).path
    ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return IMAGE_TYPES.get(ext)


def _absolute_refs(content: str, base: str) -> str:
    """Relative src/href resolved against the article's URL (the sanitiser should have)."""

    def fix(m: re.Match[str]) -> str:
        ref = m.group(2) if m.group(2) is not None else m.group(3)
        raw = html.unescape(ref).strip()
        if re.match(r"\w+:", raw):  # a scheme once entities are decoded
            return m.group(0)
        absolute = uri(urljoin(base, raw)) or base
        return f'{m.group(1)}"{html.escape(absolute)}"'

    return _REL_REF.sub(fix, content)


def shorten_html(content: str, max_bytes: int, url: str | None, site_title: str) -> str:
    """Cut HTML to at most max_bytes (UTF-8) at a top-level block boundary, then link to the
    full text; a first block too big on its own becomes its truncated plain text."""
    more = ""
    if url:
        more = (
            f'<p><a href="{html.escape(url)}">'
            f"Đọc toàn bộ bài viết trên {html.escape(site_title)}</a></p>"
        )
    budget = max(0, max_bytes - len(more.encode()))
    kept: list[str] = []
    used = 0
    root: Any = None
    try:
        root = lxml.html.fragment_fromstring(content, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        root = None
    if root is not None:
        lead = html.escape(root.text or "")
        if lead.strip():
            kept.append(lead)
            used += len(lead.encode())
        for child in root:
            part = lxml.html.tostring(child, encoding="unicode")
            size = len(part.encode())
            if used + size > budget:
                break
            kept.append(part)
            used += size
    if not any(p.strip() for p in kept):
        text = _SPACES.sub(" ", root.text_content() if root is not None else _TAG.sub(" ", content))
        cut = text.encode()[: max(0, budget - 20)].decode("utf-8", "ignore")
        cut = cut.rsplit(" ", 1)[0] if " " in cut else cut
        kept = [f"<p>{html.escape(cut.strip())}…</p>"]
    return "".join(kept) + more


# --- articles -> items ------------------------------------------------------------------


def _categories(article: Article, catalog: Catalog) -> tuple[tuple[str, str, str], ...]:
    out = []
    if article.section:
        section = catalog.section(article.section)
        out.append((article.section, section.name if section else article.section, SECTION_SCHEME))
    for slug in article.districts:
        out.append((slug, catalog.district_name(slug), DISTRICT_SCHEME))
    return tuple((clean_text(t), plain_text(label) or t, s) for t, label, s in out)


def prepare_item(article: Article, ctx: FeedContext) -> _Item:
    """Everything every format needs from one article; raises ValueError when it cannot be
    shown at all (no title, no text)."""
    # A relative article URL (a parser slip) is read against the paper's site.
    raw_url = article.url.strip()
    if raw_url and not raw_url.startswith(("https://", "http://")):
        raw_url = urljoin(ctx.site_url, raw_url)
    url = uri(raw_url)
    article_id = clean_text(article.id).strip()
    if not article_id:
        raise ValueError("article has no id")
    summary = plain_text(article.summary)
    content = clean_text(article.content_html).strip()
    title = plain_text(article.title)
    if not title and summary:
        title = summary[:TITLE_FALLBACK_CHARS].rsplit(" ", 1)[0] + "…"
    if not title:
        raise ValueError("article has no title and no summary")
    if not content:
        content = f"<p>{html.escape(summary or title)}</p>"
    content = _absolute_refs(content, url or ctx.site_url)
    item_cap = min(ctx.max_item_bytes, ctx.max_bytes // 2)
    if len(content) > item_cap // 4 and len(content.encode()) > item_cap:
        log.info("render article=%s content_bytes=%d shortened", article.id, len(content.encode()))
        content = shorten_html(content, item_cap, url, ctx.site_title)
    published = local(article.published)
    image = uri(article.image)
    return _Item(
        id=article_id,
        url=url,
        title=title,
        summary=summary,
        content_html=content,
        published=published,
        updated=max(published, local(article.updated)),
        author=plain_text(article.author) or None,
        image=image,
        image_type=_image_type(image) if image else None,
        caption=plain_text(article.image_caption),
        categories=_categories(article, ctx.catalog),
    )


def prepare_items(scope: Scope, articles: Sequence[Article], ctx: FeedContext) -> list[_Item]:
    items: list[_Item] = []
    seen: set[str] = set()
    for article in articles:
        if article.hidden:
            continue
        try:
            item = prepare_item(article, ctx)
        except Exception as e:  # one bad article never breaks a feed
            log.warning("render feed=%s article=%s skipped error=%r", scope.slug, article.id, e)
            continue
        if item.id in seen:
            continue
        seen.add(item.id)
        items.append(item)
    return items


def _description_html(item: _Item) -> str:
    """The RSS description: the thumbnail <img> (linked) that Vietnamese aggregators read,
    then the plain-text lead."""
    text = html.escape(item.summary or item.title, quote=False)
    if not item.image:
        return text
    img = f'<img src="{html.escape(item.image)}" alt="{html.escape(item.caption or item.title)}" />'
    if item.url:
        img = f'<a href="{html.escape(item.url)}">{img}</a>'
    return f"{img}<br />{text}"


def distinct_updated(items: Sequence[_Item]) -> list[datetime]:
    """Atom updated values with no two alike.

    The paper stamps articles to the minute, so several share one; the feed validator warns
    on equal atom:updated values (DuplicateUpdated). Within such a group the oldest id keeps
    the true time and the others move on by whole seconds, still inside the stamped minute
    in practice. Newcomers (higher ids) take the later seconds, so an item's value does not
    change when the feed gains items.
    """
    out: list[datetime] = [it.updated for it in items]
    used: set[datetime] = set()
    for i in sorted(range(len(items)), key=lambda i: (items[i].updated, items[i].id)):
        t = items[i].updated
        while t in used:
            t += timedelta(seconds=1)
        used.add(t)
        out[i] = t
    return out


# --- RSS and Atom (feedgen) -------------------------------------------------------------


class _RssExtension(BaseExtension):
    """Declares dc: and media: on the RSS root element."""

    def extend_ns(self) -> dict[str, str]:
        return {"dc": DC_NS, "media": MEDIA_NS}


class _AtomExtension(BaseExtension):
    """Atom needs no extra namespace."""


class _EntryExtension(BaseEntryExtension):
    """What feedgen 1.0 cannot write itself: RSS dc:creator and media:content with the
    caption as media:description (its media extension has no description), and Atom entry
    links (its atom_entry() drops their rel and type attributes)."""

    def __init__(self) -> None:
        self.creator: str | None = None
        self.image: str | None = None
        self.image_type: str | None = None
        self.caption: str = ""
        self.links: list[dict[str, str]] = []

    def extend_rss(self, item: Any) -> Any:
        if self.creator:
            lxml.etree.SubElement(item, f"{{{DC_NS}}}creator").text = self.creator
        if self.image:
            media = lxml.etree.SubElement(item, f"{{{MEDIA_NS}}}content", url=self.image)
            if self.image_type:
                media.set("type", self.image_type)
            media.set("medium", "image")
            if self.caption:
                desc = lxml.etree.SubElement(media, f"{{{MEDIA_NS}}}description", type="plain")
                desc.text = self.caption
        return item

    def extend_atom(self, entry: Any) -> Any:
        # feedgen writes Atom elements without a namespace (the root carries a literal xmlns
        # attribute); the links follow suit.
        ns = entry.nsmap.get(None)
        tag = f"{{{ns}}}link" if ns else "link"
        for attrs in self.links:
            lxml.etree.SubElement(entry, tag, attrs)
        return entry


def _feed_generator(scope: Scope, ctx: FeedContext, fmt: Format, self_url: str) -> Any:
    fg = FeedGenerator()
    title = clean_text(ctx.title(scope))
    page = uri(ctx.page_url(scope)) or ctx.preview_url(scope)
    self_type = "application/rss+xml" if fmt == "rss" else "application/atom+xml"
    fg.id(FEED_ID_PREFIX + scope.slug)
    fg.title(title)
    # feedgen: the RSS channel <link> is the last link added, so "self" goes first.
    fg.link(href=self_url, rel="self", type=self_type)
    fg.link(href=page, rel="alternate", type="text/html")
    fg.description(clean_text(ctx.description(scope)))
    fg.language(LANGUAGE)
    fg.generator(GENERATOR)
    if fmt == "rss":
        fg.register_extension("feedsvc", _RssExtension, _EntryExtension, atom=False)
        fg.ttl(ctx.ttl_minutes)
        if ctx.logo_url:
            fg.image(url=ctx.logo_url, title=title, link=page)
    else:
        fg.register_extension("feedsvc", _AtomExtension, _EntryExtension, rss=False)
        fg.subtitle(clean_text(ctx.description(scope)))
        fg.author(name=clean_text(ctx.site_title), uri=ctx.site_url)
        if ctx.logo_url:
            fg.logo(ctx.logo_url)
        if ctx.icon_url:
            fg.icon(ctx.icon_url)
    return fg


def _add_rss_item(fg: Any, item: _Item) -> None:
    fe = fg.add_entry(order="append")
    try:
        fe.guid(rss_guid(item.id), permalink=False)
        fe.title(markup_safe(item.title))
        if item.url:
            fe.link(href=item.url)
        fe.description(_description_html(item))
        # CDATA cannot hold "]]>"; in HTML text and attribute values "&gt;" means the same.
        fe.content(item.content_html.replace("]]>", "]]&gt;"), type="CDATA")
        fe.pubDate(item.published)
        for term, label, scheme in item.categories:
            fe.category(term=term, label=markup_safe(label), scheme=scheme)
        if item.image and item.image_type:
            # The size of the image is unknown: 0, as the RSS Best Practices Profile says.
            fe.enclosure(url=item.image, length="0", type=item.image_type)
        ext = fe.feedsvc
        ext.creator = markup_safe(item.author) if item.author else None
        ext.image = item.image
        ext.image_type = item.image_type
        ext.caption = markup_safe(item.caption)
    except Exception:
        fg.remove_entry(fe)
        raise


def _add_atom_entry(fg: Any, item: _Item, updated: datetime) -> None:
    fe = fg.add_entry(order="append")
    try:
        fe.id(atom_id(item.id))
        fe.title(markup_safe(item.title))
        fe.updated(updated)
        fe.published(item.published)
        if item.author:
            fe.author(name=markup_safe(item.author))
        links = fe.feedsvc.links
        if item.url:
            links.append({"rel": "alternate", "type": "text/html", "href": item.url})
        if item.image:
            enclosure = {"rel": "enclosure", "href": item.image}
            if item.image_type:
                enclosure["type"] = item.image_type
            links.append(enclosure)
        if item.summary:
            fe.summary(markup_safe(item.summary))
        fe.content(item.content_html, type="html")
        for term, label, scheme in item.categories:
            fe.category(term=term, label=markup_safe(label), scheme=scheme)
    except Exception:
        fg.remove_entry(fe)
        raise


def _serialise(fg: Any, fmt: Format, scope: Scope) -> bytes:
    """The XML body; an entry that still fails here is found, logged and left out."""
    to_bytes: Callable[..., bytes] = fg.rss_str if fmt == "rss" else fg.atom_str
    try:
        return to_bytes(pretty=True)
    except Exception:
        for fe in list(fg.entry()):
            try:
                fe.rss_entry() if fmt == "rss" else fe.atom_entry()
            except Exception as e:
                log.warning("render feed=%s item=%s skipped error=%r", scope.slug, fe.id(), e)
                fg.remove_entry(fe)
        return to_bytes(pretty=True)


def _build_xml(
    scope: Scope, items: Sequence[_Item], ctx: FeedContext, fmt: Format, self_url: str
) -> tuple[bytes, Any]:
    fg = _feed_generator(scope, ctx, fmt, self_url)
    if fmt == "rss":
        newest = max((it.updated for it in items), default=local(EPOCH))
        fg.lastBuildDate(newest)
        for item in items:
            try:
                _add_rss_item(fg, item)
            except Exception as e:
                log.warning("render feed=%s item=%s skipped error=%r", scope.slug, item.id, e)
    else:
        updated = distinct_updated(items)
        fg.updated(max(updated, default=local(EPOCH)))
        for item, when in zip(items, updated, strict=True):
            try:
                _add_atom_entry(fg, item, when)
            except Exception as e:
                log.warning("render feed=%s item=%s skipped error=%r", scope.slug, item.id, e)
    return _serialise(fg, fmt, scope), fg


def _built_count(built: Any, fmt: Format) -> int:
    return len(built) if fmt == "json" else len(built.entry())


def _xml_item_sizes(fg: Any, fmt: Format) -> list[int]:
    sizes = []
    for fe in fg.entry():
        elem = fe.rss_entry() if fmt == "rss" else fe.atom_entry()
        sizes.append(len(lxml.etree.tostring(elem, encoding="utf-8", pretty_print=True)))
    return sizes


# --- JSON Feed 1.1 ----------------------------------------------------------------------


def _json_item(item: _Item) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item.id}
    if item.url:
        out["url"] = item.url
    out["title"] = item.title
    out["content_html"] = item.content_html
    if item.summary:
        out["summary"] = item.summary
    if item.image:
        out["image"] = item.image
    out["date_published"] = item.published.isoformat()
    out["date_modified"] = item.updated.isoformat()
    if item.author:
        out["authors"] = [{"name": item.author}]
    if item.categories:
        out["tags"] = [label for _, label, _ in item.categories]
    out["language"] = LANGUAGE
    return out


def _dump_json(obj: Any) -> bytes:
    # Compact: json's C encoder runs only without indent (twice as fast), and smaller.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _build_json(scope: Scope, items: Sequence[_Item], ctx: FeedContext) -> tuple[bytes, Any]:
    entries = [_json_item(it) for it in items]
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": clean_text(ctx.title(scope)),
        "home_page_url": uri(ctx.page_url(scope)) or ctx.preview_url(scope),
        "feed_url": ctx.feed_url(scope, "json"),
        "description": clean_text(ctx.description(scope)),
        "language": LANGUAGE,
    }
    if ctx.icon_url or ctx.logo_url:
        feed["icon"] = ctx.icon_url or ctx.logo_url
    if ctx.icon_url:
        feed["favicon"] = ctx.icon_url
    feed["authors"] = [{"name": clean_text(ctx.site_title), "url": ctx.site_url}]
    feed["items"] = entries
    return _dump_json(feed), entries


# --- the whole feed ---------------------------------------------------------------------


def _build(
    scope: Scope, items: Sequence[_Item], ctx: FeedContext, fmt: Format, self_url: str
) -> tuple[bytes, Any]:
    if fmt == "json":
        return _build_json(scope, items, ctx)
    return _build_xml(scope, items, ctx, fmt, self_url)


def _fit(
    scope: Scope, items: list[_Item], ctx: FeedContext, fmt: Format, self_url: str
) -> tuple[bytes, int]:
    """The body, without its oldest items while it is over max_bytes (at least one stays)."""
    body, built = _build(scope, items, ctx, fmt, self_url)
    if len(body) <= ctx.max_bytes or len(items) <= 1:
        return body, _built_count(built, fmt)
    if fmt == "json":
        sizes = [len(_dump_json(e)) for e in built]
    else:
        sizes = _xml_item_sizes(built, fmt)
    overhead = max(0, len(body) - sum(sizes))
    keep = len(sizes)
    while keep > 1 and overhead + sum(sizes[:keep]) > ctx.max_bytes:
        keep -= 1
    while True:
        body, built = _build(scope, items[:keep], ctx, fmt, self_url)
        if len(body) <= ctx.max_bytes or keep <= 1:
            break
        keep -= 1
    count = _built_count(built, fmt)
    log.info(
        "render feed=%s format=%s items=%d kept=%d bytes=%d max_bytes=%d",
        scope.slug, fmt, len(items), count, len(body), ctx.max_bytes,
    )  # fmt: skip
    return body, count


def render_feed(
    scope: Scope,
    articles: Sequence[Article],
    ctx: FeedContext,
    fmt: Format,
    *,
    limit: int | None = None,
) -> RenderedFeed:
    """One feed body, newest article first (the order given).

    ``limit``: pass the request's ``?limit=`` when it had one, so the self link names the
    document actually served (validators compare it with the URL they fetched); ``None``
    gives the plain feed URL.
    """
    items = prepare_items(scope, articles, ctx)
    self_url = ctx.feed_url(scope, fmt, limit)
    body, count = _fit(scope, items, ctx, fmt, self_url)
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    kept = items[:count]
    newest = max((it.updated for it in kept), default=None)
    return RenderedFeed(
        body=body,
        etag=etag,
        last_modified=newest.astimezone(UTC) if newest else None,
        content_type=CONTENT_TYPES[fmt],
        items=count,
    )
