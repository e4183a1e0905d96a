"""Upstream feeds (``kind = "feed"``): RSS 0.9x/1.0/2.0, Atom 1.0 and JSON Feed 1.x, read safely.

A feed source costs one request per collection: ``list_latest()`` fetches the whole feed with
the polite fetcher, reads every item and keeps it in memory keyed by id; ``fetch(ref)`` hands
that item back as a ``RawArticle`` without asking the network again. A 304 costs nothing: no
refs, no error, ``not_modified`` set. An upstream that fails or answers with something that is
not a feed raises ``FetchError``/``ParseError``, so the collector records the source as failed
and leaves the stored articles alone.

What comes in is outside input, possibly hostile. XML goes through these steps before
feedparser sees it (docs/upstream-feeds.md says why each is there)::

    bytes ─ size cap ─ decode (BOM, HTTP charset, <?xml encoding?>; valid UTF-8 beats a
          ─ single-byte declaration; broken UTF-8 falls back to cp1258 or cp1252) ─ NFC
          ─ drop XML-illegal control characters
          ─ remove the DOCTYPE, internal subset and all: no DTD is ever loaded and no entity
            it declares is ever expanded (billion laughs, external entities, quadratic blowup)
          ─ rewrite references: HTML named entities become numeric ones, unknown names and bare
            "&" become text, references to illegal characters go (so the strict parser works)
          ─ cut the document after MAX_ITEMS items (a huge feed costs bounded time and memory)
          ─ feedparser on a BytesIO (never a string: a string may be read as a path or URL),
            with its own sanitiser and URI resolution off: our sanitiser runs at ingest

JSON Feed is read with ``json`` and every field's type is checked before use.

Each item then becomes a ``RawArticle``: the body is the full content (``content:encoded``,
Atom content, ``content_html``) or else the summary, with relative URLs made absolute against
``xml:base`` or the item's link; ``categories`` are the item's category terms and labels (JSON
Feed tags) for ``catalog.match_section``; dates without a zone are Vietnam time and impossible
dates fall back to the time of discovery.
"""

from __future__ import annotations

import codecs
import html
import html.entities
import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import html5lib
import lxml.etree
import lxml.html

from ..catalog import Catalog
from ..exceptions import FetchError, ParseError, SourceError
from ..model import ArticleRef, RawArticle
from ..sanitise import clean_url
from ..settings import Settings, SourceSettings
from ..text import clean_line, nfc, squash_spaces, strip_controls
from .dates import VIETNAM, find_day_first, local_to_utc
from .fetch import (
    Fetcher,
    ValidatorStore,
    charset_name,
    charset_param,
    decode_leniently,
    http_fetcher_from_settings,
)

log = logging.getLogger(__name__)

#: Items read from one feed, in document order (feeds list newest first); the rest is cut
#: before parsing, so a feed of 100,000 items costs what one of 500 does.
MAX_ITEMS = 500
#: A feed body larger than this is refused before parsing (the fetcher's ``max_bytes`` cap
#: normally stops it first; this holds for bytes that come from elsewhere).
MAX_FEED_BYTES = 10 * 1024 * 1024
#: An id longer than this is not an identifier anyone meant to publish.
MAX_ID_CHARS = 2048
#: A publication date further ahead than this is impossible (a wrong year or zone).
MAX_FUTURE = timedelta(days=1)
#: A publication date before this is impossible for an online newspaper (a CMS placeholder).
MIN_YEAR = 1990
#: Length of a title made from the text when an item has none.
UNTITLED_CHARS = 120

_XML_DECL = re.compile(r"""^\s*<\?xml\b[^>]*?\?>""", re.I)
_XML_DECL_BYTES = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)
# Spans whose text is not markup: references and tags inside them are left as they are.
_PROTECTED = re.compile(r"<!\[CDATA\[.*?(?:\]\]>|\Z)|<!--.*?(?:-->|\Z)|<\?.*?(?:\?>|\Z)", re.S)
_REFERENCE = re.compile(r"&(?:#([0-9]{1,8});|#[xX]([0-9a-fA-F]{1,8});|([A-Za-z_][\w.-]{0,40});)?")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_ITEM_END = re.compile(r"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>")
# Tokens of a DOCTYPE declaration that matter for finding its end.
_DOCTYPE_TOKEN = re.compile(r""""[^"]*"|'[^']*'|<!--.*?-->|<\?.*?\?>|[\[\]>]""", re.S)
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_VOWELS = frozenset("aăâeêioôơuưyAĂÂEÊIOÔƠUƯY")
_WIDE = ("utf-16", "utf-32")
# What browsers (WHATWG Encoding) read for these labels: a superset (pages differ: fetch.py).
_FEED_ALIASES = {"iso8859-1": "cp1252", "ascii": "cp1252"}
_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")
# Attributes holding one URL, and those holding a srcset list, that we make absolute.
_URL_ATTRS = ("href", "src", "data-src", "data-original", "data-lazy-src", "poster", "cite")
_SRCSET_ATTRS = ("srcset", "data-srcset")
_IMG_SRC_ATTRS = ("data-src", "data-original", "data-lazy-src", "src")
_RELATIVE_URL_HINT = re.compile(
    r"""\b(?:href|src|data-src|data-original|data-lazy-src|poster|cite)\s*+=\s*+["']?+\s*+"""
    r"""(?![A-Za-z][A-Za-z0-9+.-]*:)|\bsrcset\s*=""",
    re.I,
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_CATEGORY_PARTS = re.compile(r"\s*(?:>|»|/|\|)\s*")


# --------------------------------------------------------------------------------------------
# The parsed feed


@dataclass
class FeedItem:
    """One upstream item, its fields checked and normalised; the HTML work waits for
    ``to_raw`` so items already stored cost nothing but this."""

    id: str
    url: str
    title: str
    body_html: str  # as published: not safe, URLs not yet absolute
    body_base: str  # what relative URLs in the body are relative to
    lead_html: str | None = None  # the summary, as HTML
    lead_text: str | None = None  # the summary, when the format says it is plain text
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    date_source: str = "feed"
    categories: tuple[str, ...] = ()
    images: tuple[str, ...] = ()  # absolute http(s) image URLs from media/enclosure/JSON

    def ref(self, source: str) -> ArticleRef:
        return ArticleRef(
            source=source,
            id=self.id,
            url=self.url,
            title=self.title,
            thumbnail=self.images[0] if self.images else None,
            published=self.published,
        )

    def to_raw(self, source: str, ref: ArticleRef | None = None) -> RawArticle:
        """The item as the collector takes it: body URLs absolute, lead as text, an image."""
        body, first_image = absolutise_html(self.body_html, self.body_base)
        lead = self.lead_text
        if lead is None and self.lead_html:
            lead = html_text(self.lead_html) or None
        images = self.images or ((first_image,) if first_image else ())
        return RawArticle(
            ref=ref or self.ref(source),
            url=self.url,
            title=self.title,
            body_html=nfc(body),
            lead=nfc(lead) if lead else None,
            author=self.author,
            published=self.published,
            updated=self.updated,
            date_source=self.date_source,
            image=images[0] if images else None,
            categories=self.categories,
        )


@dataclass
class ParsedFeed:
    """What one feed document holds: its items (newest first) and what was odd about it."""

    format: str  # feedparser's version ("rss20", "atom10", ...) or "json1"/"json1.1"
    title: str
    link: str | None
    items: list[FeedItem]
    warnings: list[str] = field(default_factory=list)
    total_items: int = 0  # items in the document before the cap


# --------------------------------------------------------------------------------------------
# Text and URLs


def html_text(fragment: str) -> str:
    """The text a reader sees of an HTML fragment (code elements dropped), on one line.

    Not sanitise.html_to_text, which keeps paragraphs and costs a full sanitiser pass: this
    is for titles and summaries of items that may never be stored.
    """
    if "<" not in fragment and "&" not in fragment:
        return clean_line(fragment)
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return clean_line(html.unescape(fragment))
    for el in root.xpath("//script|//style|//template|//noscript"):
        el.drop_tree()
    return clean_line(root.text_content())


def text_to_html(text: str) -> str:
    """Plain text as HTML: blank lines separate paragraphs, single newlines are line breaks."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line.strip()) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def http_url(value: Any, base: str | None = None) -> str | None:
    """``value`` as an absolute http(s) URL (resolved against ``base``), else None.

    For links, which keep their published form: an item without an id is known by its link,
    so normalising it here would give items already stored new ids. The collector passes
    every stored URL through the URL policy (``sanitise.clean_url``); image fields take it
    here already (``_image_url``).
    """
    if not isinstance(value, str):
        return None
    value = strip_controls(value).strip()
    if not value or len(value) > 4096:
        return None
    try:
        url = urljoin(base, value) if base else value
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def _image_url(value: Any, base: str) -> str | None:
    """An image field's URL as the URL policy keeps it (``sanitise.clean_url``), else None."""
    return clean_url(value, base, kind="link") if isinstance(value, str) else None


def _absolute(value: str, base: str) -> str:
    value = value.strip()
    try:
        if urlsplit(value).scheme:
            return value
        return urljoin(base, value)
    except ValueError:
        return value


def _absolute_srcset(value: str, base: str) -> str:
    out = []
    for candidate in value.split(","):
        parts = candidate.strip().split(None, 1)
        if parts:
            parts[0] = _absolute(parts[0], base)
            out.append(" ".join(parts))
    return ", ".join(out)


def _first_image(root: Any, base: str) -> str | None:
    for img in root.iter("img"):
        width, height = img.get("width", ""), img.get("height", "")
        if width.strip() in ("0", "1") or height.strip() in ("0", "1"):
            continue  # a tracking pixel or a spacer
        for attr in _IMG_SRC_ATTRS:
            url = _image_url(img.get(attr), base)
            if url:
                return url
    return None


def absolutise_html(fragment: str, base: str) -> tuple[str, str | None]:
    """``fragment`` with relative URLs made absolute against ``base``, and its first image.

    The fragment is only rewritten when it holds a relative URL, and then through html5lib,
    the parser the sanitiser uses, so the tree the sanitiser sees is the one the upstream sent.
    Nothing here makes the HTML safe: the sanitiser does that at ingest.
    """
    if "<" not in fragment:
        return fragment, None
    if not _RELATIVE_URL_HINT.search(fragment):
        try:
            root = lxml.html.fragment_fromstring(fragment, create_parent="div")
        except (lxml.etree.ParserError, ValueError):
            return fragment, None
        return fragment, _first_image(root, base)
    doc = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in _URL_ATTRS:
            value = el.get(attr)
            if value is not None:
                el.set(attr, _absolute(value, base))
        for attr in _SRCSET_ATTRS:
            value = el.get(attr)
            if value is not None:
                el.set(attr, _absolute_srcset(value, base))
    out = html5lib.serialize(
        doc,
        tree="etree",
        quote_attr_values="always",
        omit_optional_tags=False,
        resolve_entities=False,
    )
    return out, _first_image(doc, base)


# --------------------------------------------------------------------------------------------
# Dates

_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}  # fmt: skip
_ZONE_NAMES = {
    "z": 0, "ut": 0, "utc": 0, "gmt": 0, "ict": 7 * 60, "est": -5 * 60, "edt": -4 * 60,
    "cst": -6 * 60, "cdt": -5 * 60, "mst": -7 * 60, "mdt": -6 * 60, "pst": -8 * 60,
    "pdt": -7 * 60, "sgt": 8 * 60, "hkt": 8 * 60, "jst": 9 * 60, "kst": 9 * 60,
    "cet": 60, "cest": 2 * 60, "bst": 60,
}  # fmt: skip
_ISO_DATE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?\s*(.*)$"
)
_RFC822_DATE = re.compile(
    r"^(?:[A-Za-z]+\.?,?\s*)?(\d{1,2})[\s-]+([A-Za-z]{3,9})\.?,?[\s-]+(\d{2,4})"
    r"(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(.*)$"
)
# "Nov 27, 2026 08:00" (month first)
_US_DATE = re.compile(
    r"^(?:[A-Za-z]+,?\s*)?([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})"
    r"(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(.*)$"
)
# The time near a day-first date ("Thứ hai, 27/11/2026 - 08:00", "08h00 ngày 27-11-2026"). Unlike
# the page reader's: seconds are kept and no AM/PM is read (what follows may be a zone).
_TIME = re.compile(r"(?<!\d)(\d{1,2})\s*[:hg]\s*(\d{2})(?:\s*:\s*(\d{2}))?(?!\d)")
_ZONE = re.compile(
    r"(?:^|\s|\()(?:(?P<name>[A-Za-z]{1,5})\s*)?(?:(?P<sign>[+-])\s*(?P<h>\d{1,2})"
    r"(?::?(?P<m>\d{2}))?)?\)?\s*$"
)


def _zone_offset(rest: str) -> tuple[bool, int | None]:
    """(recognised, minutes east of UTC or None when no zone) from what follows the time.

    "GMT+7", "UTC+07:00", "+0700", "+07:00", "Z", "GMT", "ICT", "(GMT+7)" and nothing at all.
    """
    rest = rest.strip().strip(",")
    if not rest:
        return True, None
    m = _ZONE.search(rest)
    if not m or (not m.group("name") and not m.group("sign")):
        return False, None
    offset = 0
    name = (m.group("name") or "").lower()
    if name:
        if name not in _ZONE_NAMES:
            return False, None
        offset = _ZONE_NAMES[name]
    if m.group("sign"):
        hours = int(m.group("h"))
        minutes = int(m.group("m") or 0)
        if len(m.group("h")) > 2 or hours > 14 or minutes > 59:
            return False, None
        delta = hours * 60 + minutes
        offset += delta if m.group("sign") == "+" else -delta
    return True, offset


def _build_date(
    year: int, month: int, day: int, hour: int, minute: int, second: int, offset: int | None
) -> datetime | None:
    tz = VIETNAM if offset is None else timezone(timedelta(minutes=offset))
    return local_to_utc(year, month, day, hour, minute, second, tz)


def parse_feed_date(text: Any) -> datetime | None:
    """A feed's date in any common shape, as UTC; None when it cannot be read or cannot exist.

    RFC 3339/ISO 8601, RFC 822 (with the usual mistakes: "GMT+7", no zone, full month names),
    and the Vietnamese day-first "27/11/2026 08:00" or "27 tháng 11 năm 2026". A date without
    a zone is Vietnam time. Weekday names are ignored (they are often wrong).
    """
    if not isinstance(text, str):
        return None
    s = squash_spaces(nfc(text))
    if not s or len(s) > 100:
        return None
    m = _ISO_DATE.match(s)
    if m:
        ok, offset = _zone_offset(m.group(7))
        if not ok:
            return None
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        h, mi, sec = (int(m.group(i) or 0) for i in (4, 5, 6))
        return _build_date(y, mo, d, h, mi, sec, offset)
    for pattern, order in ((_RFC822_DATE, "dmy"), (_US_DATE, "mdy")):
        m = pattern.match(s)
        if not m:
            continue
        day_s, month_s = (m.group(1), m.group(2)) if order == "dmy" else (m.group(2), m.group(1))
        month = _MONTHS.get(month_s.lower())
        if month is None:
            continue
        ok, offset = _zone_offset(m.group(7))
        if not ok:
            continue
        h, mi, sec = (int(m.group(i) or 0) for i in (4, 5, 6))
        year = int(m.group(3))
        if len(m.group(3)) == 2:  # RFC 822's two-digit years
            year += 2000 if year < 70 else 1900
        return _build_date(year, month, int(day_s), h, mi, sec, offset)
    found = find_day_first(s)
    if found:
        y, mo, d, rest = found
        t = _TIME.search(rest)
        h, mi, sec = (int(t.group(1)), int(t.group(2)), int(t.group(3) or 0)) if t else (0, 0, 0)
        ok, offset = _zone_offset(rest[t.end() :] if t else "")
        return _build_date(y, mo, d, h, mi, sec, offset if ok else None)
    return None


def _plausible(when: datetime | None, now: datetime) -> datetime | None:
    if when is None or when.year < MIN_YEAR or when > now + MAX_FUTURE:
        return None
    return when


def _dates(
    published_text: Any, updated_text: Any, now: datetime, where: str, warnings: list[str]
) -> tuple[datetime | None, datetime | None, str]:
    """(published, updated, date_source): the feed's dates when they can exist, else discovery."""
    published = _plausible(parse_feed_date(published_text), now)
    updated = _plausible(parse_feed_date(updated_text), now)
    for text, value, what in (
        (published_text, published, "date"),
        (updated_text, updated, "update date"),
    ):
        given = text.strip() if isinstance(text, str) else text
        if given not in (None, "") and value is None:
            warnings.append(f"{where}: impossible or unreadable {what} {text!r}")
    if published is None:
        published = updated
    if published is None:
        return None, None, "discovered"
    if updated is not None and updated < published:
        updated = published
    return published, updated, "feed"


# --------------------------------------------------------------------------------------------
# Bytes to text


def _looks_cp1258(content: bytes) -> bool:
    """Legacy Vietnamese (Windows-1258) rather than Western (Windows-1252)?

    cp1258 writes tones as combining marks after a vowel; bytes that cp1258 reads as tone
    marks after consonants are Western letters (ì, ò, Ì...) read in the wrong code page.
    """
    text = content.decode("cp1258", "replace")
    marks = bad = 0
    prev = ""
    for ch in text:
        if ch in _TONE_MARKS:
            marks += 1
            if prev not in _VOWELS:
                bad += 1
        prev = ch
    return marks > 0 and bad * 10 <= marks


def decode_feed(content: bytes, content_type: str | None = None) -> str:
    """The text of a feed: BOM, then the declared charsets, checked against the bytes; NFC.

    A declaration that lies is common: bytes that are valid UTF-8 (and not ASCII) are UTF-8
    whatever a single-byte declaration says, since multi-byte sequences do not happen by chance
    in legacy text; bytes declared UTF-8 that are not are read as legacy Vietnamese (cp1258) or
    Western (cp1252), whichever reads as real text.

    Built from fetch.decode_text's parts, not on it, on purpose: XML's rules (UTF-16/32 by BOM
    or by "<?" alone, only <?xml encoding?> besides HTTP, no <meta>) and feeds from anywhere
    (a Western cp1252 fallback beside cp1258; a declared single-byte charset always wins).
    """
    for bom, enc in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if content.startswith(bom):
            return nfc(content[len(bom) :].decode(enc, "replace"))
    if content.startswith(b"<\x00?\x00") or content.startswith(b"{\x00"):
        return nfc(content.decode("utf-16-le", "replace"))
    if content.startswith(b"\x00<\x00?") or content.startswith(b"\x00{"):
        return nfc(content.decode("utf-16-be", "replace"))
    m = _XML_DECL_BYTES.match(content[:1024])
    declared = [
        enc
        for enc in (
            charset_name(charset_param(content_type), _FEED_ALIASES),
            charset_name(m.group(1), _FEED_ALIASES) if m else None,
        )
        if enc
    ]
    for enc in declared:
        if enc.startswith(_WIDE):
            try:
                return nfc(content.decode(enc))
            except UnicodeDecodeError:
                continue
    try:
        return nfc(content.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    for enc in declared:
        if enc != "utf-8" and not enc.startswith(_WIDE):
            if enc == "cp1252" and _looks_cp1258(content):
                return nfc(content.decode("cp1258", "replace"))
            return nfc(content.decode(enc, "replace"))
    return decode_leniently(content, "cp1258" if _looks_cp1258(content) else "cp1252")


# --------------------------------------------------------------------------------------------
# Making XML safe to parse


def _doctype_end(text: str, start: int) -> tuple[int, bool]:
    """End of the DOCTYPE starting at ``start``, and whether it has an internal subset."""
    depth = 0
    subset = False
    for m in _DOCTYPE_TOKEN.finditer(text, start + len("<!DOCTYPE")):
        tok = m.group(0)
        if tok == "[":
            depth += 1
            subset = True
        elif tok == "]":
            depth = max(0, depth - 1)
        elif tok == ">" and depth == 0:
            return m.end(), subset
    raise ParseError("unterminated DOCTYPE declaration")


def strip_doctype(text: str, warnings: list[str]) -> str:
    """The document without its DOCTYPE: no DTD is loaded, no entity it declares expanded.

    Only the prolog is looked at: a DTD cannot appear anywhere else (and if it does, the XML
    parser rejects it as an error, it does not read it).
    """
    i = 0
    n = len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if text.startswith("<?", i):
            end = text.find("?>", i + 2)
            if end < 0:
                break
            i = end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            if end < 0:
                break
            i = end + 3
        elif text[i : i + 9].upper() == "<!DOCTYPE":
            end, subset = _doctype_end(text, i)
            if subset:
                warnings.append(
                    "DOCTYPE with an internal subset removed: entities it declares are not "
                    "expanded and show as text"
                )
            text = text[:i] + text[end:]
            n = len(text)
        else:
            break
    return text


def _segments(text: str) -> Iterator[tuple[str, bool]]:
    """(piece, is_markup): CDATA sections, comments and PIs are not markup."""
    pos = 0
    for m in _PROTECTED.finditer(text):
        if m.start() > pos:
            yield text[pos : m.start()], True
        yield m.group(0), False
        pos = m.end()
    if pos < len(text):
        yield text[pos:], True


def _wanted_char(cp: int) -> bool:
    return (
        cp in (0x9, 0xA, 0xD)
        or 0x20 <= cp <= 0x7E
        or 0xA0 <= cp <= 0xD7FF
        or 0xE000 <= cp <= 0xFFFD
        or 0x10000 <= cp <= 0x10FFFF
    ) or 0x80 <= cp <= 0x9F


def _fix_reference(m: re.Match[str]) -> str:
    dec, hexa, name = m.groups()
    if dec is not None or hexa is not None:
        cp = int(dec) if dec is not None else int(hexa, 16)
        return m.group(0) if _wanted_char(cp) else ""
    if name is None:
        return "&amp;"  # a bare ampersand
    if name in _XML_ENTITIES:
        return m.group(0)
    chars = html.entities.html5.get(name + ";")
    if chars:
        return "".join(f"&#{ord(c)};" for c in chars)
    return "&amp;" + name + ";"  # unknown (or DTD-declared): shown as written


def fix_references(text: str) -> str:
    """References the strict XML parser accepts without a DTD (see the module docstring)."""
    return "".join(
        _REFERENCE.sub(_fix_reference, piece) if markup else piece
        for piece, markup in _segments(text)
    )


def cut_items(text: str, max_items: int) -> tuple[str, int]:
    """(the document keeping only its first ``max_items`` items, how many it had).

    Items (``<item>``, ``<entry>``) are siblings in every feed format, so removing the run
    between the end of the last kept one and the end of the last one leaves a well-formed
    document with everything else (channel elements after the items too).
    """
    ends: list[int] = []
    offset = 0
    for piece, markup in _segments(text):
        if markup:
            ends.extend(offset + m.end() for m in _ITEM_END.finditer(piece))
        offset += len(piece)
    if len(ends) <= max_items:
        return text, len(ends)
    return text[: ends[max_items - 1]] + text[ends[-1] :], len(ends)


# --------------------------------------------------------------------------------------------
# RSS and Atom through feedparser


def _get(obj: Any, key: str) -> Any:
    """A feedparser value as parsed: plain ``dict.get`` skips FeedParserDict's key aliases
    (its ``updated`` falls back to ``published`` with a DeprecationWarning)."""
    return dict.get(obj, key) if isinstance(obj, dict) else None


def _detail_html(detail: Mapping[str, Any] | None) -> str | None:
    """A feedparser text construct as HTML (plain text escaped), None if unusable."""
    if not detail:
        return None
    value = detail.get("value")
    if not isinstance(value, str):
        return None
    kind = (detail.get("type") or "text/html").lower()
    if kind in _HTML_TYPES or "html" in kind:
        return value
    if kind.startswith("text"):
        return text_to_html(value)
    return None


def _detail_text(detail: Mapping[str, Any] | None, fallback: Any = None) -> str:
    if detail and isinstance(detail.get("value"), str):
        value = detail["value"]
        kind = (detail.get("type") or "").lower()
        if kind in _HTML_TYPES or "html" in kind:
            return html_text(value)
        return clean_line(html.unescape(value))
    return clean_line(html.unescape(fallback)) if isinstance(fallback, str) else ""


def _author_of(entry: Mapping[str, Any]) -> str | None:
    names: list[str] = []
    for person in _get(entry, "authors") or []:
        if isinstance(person, Mapping) and isinstance(person.get("name"), str):
            names.append(person["name"])
    if not names:
        detail = _get(entry, "author_detail")
        if isinstance(detail, Mapping) and isinstance(detail.get("name"), str):
            names.append(detail["name"])
        elif isinstance(_get(entry, "author"), str):
            names.append(entry["author"])
    cleaned: list[str] = []
    for name in names:
        text = clean_line(html.unescape(name))
        if text and not _EMAIL.match(text) and text not in cleaned:
            cleaned.append(text)
    return ", ".join(cleaned) or None


def _categories(names: Iterable[Any]) -> tuple[str, ...]:
    """Category names as given, then the parts of a path ("Thời sự > Chính trị"), deepest first."""
    out: dict[str, None] = {}
    for name in names:
        if not isinstance(name, str):
            continue
        text = clean_line(html.unescape(name))
        if not text or len(text) > 200:
            continue
        out.setdefault(text, None)
        parts = [p for p in _CATEGORY_PARTS.split(text) if p]
        if len(parts) > 1:
            for part in reversed(parts):
                out.setdefault(part, None)
    return tuple(out)


def _is_image(url: str | None, mime: Any, medium: Any = None) -> bool:
    if not url:
        return False
    if isinstance(mime, str) and mime:
        return mime.lower().startswith("image/")
    if isinstance(medium, str) and medium:
        return medium.lower() == "image"
    return urlsplit(url).path.lower().endswith(_IMAGE_EXTENSIONS)


def _entry_images(entry: Mapping[str, Any], base: str) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for media in _get(entry, "media_content") or []:
        if isinstance(media, Mapping):
            url = _image_url(_get(media, "url"), base)
            if url and _is_image(url, _get(media, "type"), _get(media, "medium")):
                found.setdefault(url, None)
    for thumb in _get(entry, "media_thumbnail") or []:
        if isinstance(thumb, Mapping):
            url = _image_url(_get(thumb, "url"), base)
            if url:
                found.setdefault(url, None)
    for link in _get(entry, "links") or []:  # enclosures are links with rel="enclosure"
        if isinstance(link, Mapping) and _get(link, "rel") == "enclosure":
            url = _image_url(_get(link, "href"), base)
            if url and _is_image(url, _get(link, "type")):
                found.setdefault(url, None)
    return tuple(found)


def _untitled(item_text: str, url: str) -> str:
    text = item_text.strip()
    if not text:
        return url
    if len(text) <= UNTITLED_CHARS:
        return text
    cut = text[:UNTITLED_CHARS].rsplit(" ", 1)[0]
    return cut + "…"


class _ItemCollector:
    """Ids, duplicates and the warnings about them, shared by the XML and JSON readers."""

    def __init__(self, warnings: list[str]) -> None:
        self.items: list[FeedItem] = []
        self.seen: set[str] = set()
        self.warnings = warnings

    def item_id(self, raw_id: Any, link: str | None, where: str) -> str | None:
        ident = clean_line(str(raw_id)) if isinstance(raw_id, str | int) else ""
        if isinstance(raw_id, bool):
            ident = ""
        if not ident:
            ident = link or ""
        if not ident:
            self.warnings.append(f"{where}: no id and no link: skipped")
            return None
        if len(ident) > MAX_ID_CHARS:
            self.warnings.append(f"{where}: id longer than {MAX_ID_CHARS} characters: skipped")
            return None
        if ident in self.seen:
            self.warnings.append(f"{where}: duplicate id {ident!r}: the first one is kept")
            return None
        self.seen.add(ident)
        return ident


def _read_xml(
    content: bytes, url: str, content_type: str | None, now: datetime, max_items: int
) -> ParsedFeed:
    warnings: list[str] = []
    text = decode_feed(content, content_type)
    text = strip_controls(text)
    text = _XML_DECL.sub("", text, count=1)
    text = strip_doctype(text, warnings)
    text = fix_references(text)
    text, total = cut_items(text, max_items)
    if total > max_items:
        warnings.append(f"{total} items: only the first {max_items} are read")
    data = text.encode("utf-8")
    try:
        result = feedparser.parse(
            io.BytesIO(data),
            # No Content-Location: feedparser "resolves" every id as a URI against the document's
            # base ("ngay-01" would become "https://host/ngay-01"); links we resolve ourselves.
            response_headers={"content-type": "application/xml; charset=utf-8"},
            resolve_relative_uris=False,
            sanitize_html=False,
        )
    except Exception as e:  # feedparser's own bugs on hostile input
        raise ParseError(f"{url}: the feed could not be parsed: {type(e).__name__}: {e}") from e
    entries = result.get("entries") or []
    version = result.get("version") or ""
    if not entries and (result.get("bozo") or not version):
        why = result.get("bozo_exception")
        raise ParseError(
            f"{url}: not an RSS/Atom feed" + (f" ({type(why).__name__}: {why})" if why else "")
        )
    if result.get("bozo"):
        why = result.get("bozo_exception")
        warnings.append(f"malformed feed, read leniently: {type(why).__name__}: {why}")
    feed = result.get("feed") or {}
    feed_link = http_url(_get(feed, "link"), url)
    items = _ItemCollector(warnings)
    for n, entry in enumerate(entries, 1):
        where = f"item {n}"
        link = http_url(_get(entry, "link"), url)
        ident = items.item_id(_get(entry, "id"), link, where)
        if ident is None:
            continue
        item_url = link or feed_link or url
        contents = [c for c in _get(entry, "content") or [] if isinstance(c, Mapping)]
        contents.sort(key=lambda c: 0 if (c.get("type") or "") in _HTML_TYPES else 1)
        body_detail = next((c for c in contents if _detail_html(c) is not None), None)
        summary_detail = _get(entry, "summary_detail")
        summary_html = _detail_html(summary_detail)
        body = _detail_html(body_detail) if body_detail else summary_html
        detail = body_detail or summary_detail or {}
        # The xml:base in effect (feedparser tracks it, joined through nested elements); the
        # document itself has no base here, so any value was declared by the feed.
        declared_base = _get(detail, "base")
        body_base = http_url(declared_base, url) if declared_base else None
        body_base = body_base or item_url
        title = _detail_text(_get(entry, "title_detail"), _get(entry, "title"))
        published, updated, date_source = _dates(
            _get(entry, "published"), _get(entry, "updated"), now, where, warnings
        )
        tags = _get(entry, "tags") or []
        names: list[Any] = []
        for tag in tags:
            if isinstance(tag, Mapping):
                names += [tag.get("label"), tag.get("term")]
        item = FeedItem(
            id=ident,
            url=item_url,
            title=title,
            body_html=body or "",
            body_base=body_base,
            lead_html=summary_html,
            author=_author_of(entry),
            published=published,
            updated=updated,
            date_source=date_source,
            categories=_categories(names),
            images=_entry_images(entry, body_base),
        )
        if not item.title:
            item.title = _untitled(html_text(body or ""), item_url)
        items.items.append(item)
    if not items.items and result.get("bozo"):
        why = result.get("bozo_exception")
        raise ParseError(
            f"{url}: a malformed feed with no usable item ({type(why).__name__}: {why})"
        )
    title = _detail_text(_get(feed, "title_detail"), _get(feed, "title"))
    return ParsedFeed(
        format=version or "unknown",
        title=title,
        link=feed_link,
        items=items.items,
        warnings=warnings,
        total_items=max(total, len(entries)),
    )


# --------------------------------------------------------------------------------------------
# JSON Feed


def _str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _json_authors(item: Mapping[str, Any], feed: Mapping[str, Any]) -> str | None:
    people: list[Any] = []
    for source in (item, feed):
        authors = source.get("authors")
        if isinstance(authors, list):
            people = authors
        elif isinstance(source.get("author"), Mapping):
            people = [source["author"]]
        if people:
            break
    names: list[str] = []
    for person in people:
        if isinstance(person, Mapping) and isinstance(person.get("name"), str):
            name = clean_line(person["name"])
            if name and not _EMAIL.match(name) and name not in names:
                names.append(name)
    return ", ".join(names) or None


def read_json_feed(
    content: bytes, url: str, content_type: str | None, now: datetime, max_items: int
) -> ParsedFeed:
    """JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1), every field type-checked."""
    text = strip_controls(decode_feed(content, content_type))
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ParseError(f"{url}: not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise ParseError(f"{url}: not a JSON Feed (the top level is not an object)")
    version = doc.get("version")
    if not isinstance(version, str) or not version.startswith("https://jsonfeed.org/version/"):
        raise ParseError(f"{url}: not a JSON Feed (version {version!r})")
    raw_items = doc.get("items")
    if not isinstance(raw_items, list):
        raise ParseError(f"{url}: not a JSON Feed (no items list)")
    warnings: list[str] = []
    total = len(raw_items)
    if total > max_items:
        warnings.append(f"{total} items: only the first {max_items} are read")
    home = http_url(doc.get("home_page_url"), url)
    base = home or url
    collector = _ItemCollector(warnings)
    for n, item in enumerate(raw_items[:max_items], 1):
        where = f"item {n}"
        if not isinstance(item, dict):
            warnings.append(f"{where}: not an object: skipped")
            continue
        link = http_url(item.get("url"), base) or http_url(item.get("external_url"), base)
        raw_id = item.get("id")
        ident = collector.item_id(raw_id, link, where)
        if ident is None:
            continue
        item_url = link or home or url
        content_html = _str(item, "content_html")
        content_text = _str(item, "content_text")
        summary = _str(item, "summary")
        if content_html is not None:
            body = content_html
        elif content_text is not None:
            body = text_to_html(content_text)
        else:
            body = text_to_html(summary) if summary else ""
        images: dict[str, None] = {}
        for key in ("image", "banner_image"):
            found = _image_url(item.get(key), item_url)
            if found:
                images.setdefault(found, None)
        attachments = item.get("attachments")
        if isinstance(attachments, list):
            for att in attachments:
                if isinstance(att, Mapping):
                    found = _image_url(att.get("url"), item_url)
                    if found and _is_image(found, att.get("mime_type")):
                        images.setdefault(found, None)
        published, updated, date_source = _dates(
            item.get("date_published"), item.get("date_modified"), now, where, warnings
        )
        tags = item.get("tags")
        title_raw = _str(item, "title")
        feed_item = FeedItem(
            id=ident,
            url=item_url,
            title=clean_line(title_raw) if title_raw else "",
            body_html=body,
            body_base=item_url,
            lead_text=clean_line(summary) if summary else None,
            author=_json_authors(item, doc),
            published=published,
            updated=updated,
            date_source=date_source,
            categories=_categories(tags if isinstance(tags, list) else []),
            images=tuple(images),
        )
        if not feed_item.title:
            feed_item.title = _untitled(html_text(body), item_url)
        collector.items.append(feed_item)
    name = "json" + version.rsplit("/", 1)[-1]
    title_raw = _str(doc, "title")
    return ParsedFeed(
        format=name,
        title=clean_line(title_raw) if title_raw else "",
        link=home,
        items=collector.items,
        warnings=warnings,
        total_items=total,
    )


# --------------------------------------------------------------------------------------------
# The entry point


def _is_json(content: bytes, content_type: str | None) -> bool:
    head = content[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return True
    kind = (content_type or "").split(";")[0].strip().lower()
    return kind.endswith("json") and not head.startswith(b"<")


def read_feed(
    content: bytes,
    url: str,
    *,
    content_type: str | None = None,
    now: datetime | None = None,
    max_items: int = MAX_ITEMS,
    max_bytes: int = MAX_FEED_BYTES,
) -> ParsedFeed:
    """Read one feed document (RSS, Atom or JSON Feed); its items come back newest first.

    ``url`` is where the document came from: relative links resolve against it. ``now`` is
    the time of discovery (the future limit of a plausible date). Raises ParseError for
    anything that is not a feed.
    """
    now = now or datetime.now(UTC)
    if len(content) > max_bytes:
        raise ParseError(f"{url}: {len(content)} bytes is more than the cap of {max_bytes}")
    if not content.strip():
        raise ParseError(f"{url}: empty body")
    if _is_json(content, content_type):
        parsed = read_json_feed(content, url, content_type, now, max_items)
    else:
        parsed = _read_xml(content, url, content_type, now, max_items)
    parsed.items.sort(key=lambda it: it.published or now, reverse=True)
    return parsed


def parse_feed(
    content: bytes,
    url: str,
    *,
    source: str = "",
    content_type: str | None = None,
    now: datetime | None = None,
    max_items: int = MAX_ITEMS,
) -> tuple[list[RawArticle], ParsedFeed]:
    """Every item as a RawArticle (newest first), with the parsed feed: for tests and tools."""
    parsed = read_feed(content, url, content_type=content_type, now=now, max_items=max_items)
    return [item.to_raw(source) for item in parsed.items], parsed


# --------------------------------------------------------------------------------------------
# The source


def utcnow() -> datetime:
    return datetime.now(UTC)


class FeedSource:
    """An upstream feed: one request per collection, every item from that one response."""

    def __init__(
        self,
        name: str,
        url: str,
        fetcher: Fetcher,
        catalog: Catalog | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        max_items: int = MAX_ITEMS,
    ) -> None:
        self.name = name
        self.url = url
        self.fetcher = fetcher
        self.catalog = catalog
        self.clock = clock
        self.max_items = max_items
        self.not_modified = False
        self.warnings: list[str] = []
        self.last_feed: ParsedFeed | None = None
        self._items: dict[str, FeedItem] = {}

    def list_latest(
        self,
        *,
        deadline: float | None = None,
        known: Callable[[Sequence[str]], AbstractSet[str]] | None = None,
        max_pages: int | None = None,
    ) -> list[ArticleRef]:
        """The feed's items, newest first; [] with ``not_modified`` set on a 304.

        ``known`` and ``max_pages`` (for paged listings) mean nothing for one document.
        """
        self.not_modified = False
        self.warnings = []
        try:
            page = self.fetcher.get(self.url, deadline=deadline)
        except FetchError as e:
            raise type(e)(f"source {self.name}: {e}", url=e.url or self.url, status=e.status) from e
        if page.not_modified:
            self.not_modified = True
            log.info("feed source=%s url=%s not modified", self.name, self.url)
            return []
        try:
            parsed = read_feed(
                page.content,
                page.url or self.url,
                content_type=page.headers.get("content-type"),
                now=self.clock(),
                max_items=self.max_items,
            )
        except ParseError as e:
            raise ParseError(f"source {self.name}: {e}") from e
        self.last_feed = parsed
        self.warnings = list(parsed.warnings)
        for warning in self.warnings:
            log.warning("feed source=%s url=%s warning=%s", self.name, self.url, warning)
        self._items = {item.id: item for item in parsed.items}
        log.info(
            "feed source=%s url=%s format=%s items=%d",
            self.name,
            self.url,
            parsed.format,
            len(parsed.items),
        )
        return [item.ref(self.name) for item in parsed.items]

    def fetch(self, ref: ArticleRef, *, deadline: float | None = None) -> RawArticle:
        """The item from the last listing: no request."""
        item = self._items.get(ref.id)
        if item is None:
            raise SourceError(f"source {self.name}: {ref.id!r} is not in the last listing")
        try:
            return item.to_raw(self.name, ref)
        except (RecursionError, ValueError, lxml.etree.LxmlError) as e:
            raise ParseError(f"source {self.name}: item {ref.id!r}: {e}") from e

    def close(self) -> None:
        self.fetcher.close()


def make_feed_source(
    src: SourceSettings,
    settings: Settings,
    catalog: Catalog,
    *,
    validators: ValidatorStore | None = None,
) -> FeedSource:
    fetcher = http_fetcher_from_settings(settings, validators=validators)
    return FeedSource(src.name, src.url, fetcher, catalog)


__all__ = [
    "FeedItem",
    "FeedSource",
    "ParsedFeed",
    "decode_feed",
    "make_feed_source",
    "parse_feed",
    "parse_feed_date",
    "read_feed",
]
