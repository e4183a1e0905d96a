"""The newspaper's HTML pages, read through a layout profile kept in config.

The profile (config/layouts/baohoabinh.toml, described in docs/layout-profiles.md) holds XPath
selectors, each field a list tried in order (the site's own markup first, then generic
fallbacks such as og:title or article:published_time), and the parameters of general rules
this module applies to any page: drop furniture, cut the body at "Các tin khác", recognise
the "(HBĐT) - " lead, lift the right-aligned author line, drop paragraphs of non-breaking
spaces and captions printed twice. No selector lives here, so a redesign of the site is a
config edit (the RSS-Bridge XPathAbstract idea).

What the parser hands on is the article body with the furniture removed, NOT yet safe: the
sanitiser (sanitise.py) cleans it. URLs are resolved here only for the fields the parser fills
itself (lead image, thumbnails, the images it lists).
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import lxml.etree
import lxml.html

from .. import progress
from ..catalog import Catalog
from ..exceptions import FetchError, LayoutError, NotFoundError, ParseError, SourceError
from ..model import ArticleRef, RawArticle
from ..sanitise import clean_url
from ..settings import Settings, SourceSettings, read_toml
from ..text import nfc, squash_spaces
from .dates import DAY_FIRST_DATE, aware_to_utc, find_day_first, local_to_utc
from .fetch import DeadlineExceededError, DirectoryFetcher, Fetcher, Page, ValidatorStore

log = logging.getLogger(__name__)

DEMO_SNAPSHOT = Path(__file__).resolve().parent.parent / "demo" / "site"

#: Parsed articles and listings kept per source to answer a 304 (LRU, entries).
CACHE_ENTRIES = 512
#: A "lead" element longer than this is not a lead (a selector matching too much).
MAX_LEAD_CHARS = 1500

# Looser than dates.WORDS_DATE (the separator before the year may be missing): kept as the page
# reader has always read it.
_WORD_DATE_RE = re.compile(
    r"(?<!\d)(\d{1,2})\s+tháng\s+(\d{1,2})\s*(?:năm|,)?\s*(\d{4})(?!\d)", re.IGNORECASE
)
# Unlike the feed reader's: "SA"/"CH" (AM/PM) and any case ("09H15"); seconds are dropped.
_TIME_RE = re.compile(
    r"(?<!\d)(\d{1,2})\s*[:hg]\s*(\d{2})(?:\s*:\s*\d{2})?(?!\d)(?:\s*(AM|PM|SA|CH)\b)?",
    re.IGNORECASE,
)
_BLOCKS = frozenset(
    {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "section", "li",
     "blockquote", "article", "figure", "center", "pre"}
)  # fmt: skip
# What keeps an otherwise empty paragraph: media, tables, form furniture is not among them.
_CONTENT_TAGS = frozenset(
    {"img", "iframe", "video", "audio", "embed", "object", "table", "picture", "svg", "source",
     "canvas", "math"}
)  # fmt: skip
_BLANK = re.compile(r"[\s\u00a0\u200b\u200c\u200d\u2060\ufeff]*")
_NO_DATE_TAGS = frozenset({"script", "style", "option", "select", "title", "head", "meta"})
_IMAGE_ATTRS = ("data-src", "data-original", "data-lazy-src", "data-lazy", "src")
_URL_GAPS = re.compile(r"[\x00-\x20]+")
_PLACEHOLDER = re.compile(r"(?:^data:|blank\.gif$|spacer\.gif$|pixel\.gif$|/1x1\.)", re.I)


# --------------------------------------------------------------------------------------------
# The profile


@dataclass(frozen=True)
class Selector:
    """One XPath of a profile, with its text for messages."""

    text: str
    xpath: lxml.etree.XPath


_BASE_HREF = Selector("//head/base/@href", lxml.etree.XPath("//head/base/@href"))


@dataclass(frozen=True)
class ArticleRules:
    """Parameters of the general rules, from the profile's [article] table."""

    title_strip_suffix: tuple[str, ...] = ()
    cut_from_text: tuple[str, ...] = ()
    lead_marker: re.Pattern[str] | None = None
    lead_max_blocks: int = 8
    lead_in_body: bool = True
    drop_empty_paragraphs: bool = True
    drop_repeated_captions: bool = True
    author_line: bool = True
    author_max_chars: int = 60
    author_max_words: int = 8
    author_min_padding: int = 4
    image_from_body: bool = True
    image_ignore: re.Pattern[str] | None = None  # site furniture (a logo) is no lead image
    body_fallback: str = ""  # "" | "densest"
    date_scan: bool = True


@dataclass(frozen=True)
class LayoutProfile:
    """Selectors and rule parameters for one site; compiled once, checked at load."""

    path: str
    base_url: str
    hosts: tuple[str, ...]
    article_path: re.Pattern[str]
    id_template: str
    canonical_template: str
    listing_template: str
    timezone: ZoneInfo
    image_month: re.Pattern[str] | None
    listing_path: re.Pattern[str] | None
    listing: dict[str, list[Selector]]
    article: dict[str, list[Selector]]
    rules: ArticleRules = field(default_factory=ArticleRules)

    def with_base(self, url: str) -> LayoutProfile:
        """The same profile reading the site at ``url`` (a mirror, a test server): article
        links on that host count as the site's, and canonical URLs point there."""
        if not url:
            return self
        host = (urlsplit(url).hostname or "").lower()
        hosts = self.hosts if not host or host in self.hosts else (*self.hosts, host)
        return replace(self, base_url=url if url.endswith("/") else url + "/", hosts=hosts)

    def _host_ok(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        bare = host[4:] if host.startswith("www.") else host
        return any(h in (host, bare, "www." + bare) for h in self.hosts)

    # Not fetch.same_site (may a redirect go there?): this asks whether a URL is the paper's.
    def same_site(self, url: str, other: str) -> bool:
        """Both on the site's hosts, or on one host (a mirror, a test server)."""
        a, b = (urlsplit(u).hostname or "" for u in (url, other))
        return a == b or (self._host_ok(a) and self._host_ok(b))

    def article_key(self, url: str) -> tuple[str, str, str] | None:
        """(category, id, slug) of an article URL of this site, or None.

        Scheme, ``www.``, the slug, the query and the fragment never change the key's id.
        """
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host and not self._host_ok(host):
            return None
        m = self.article_path.match(parts.path)
        if not m:
            return None
        slug = parts.path.rsplit("/", 1)[-1]
        return m.group("category"), m.group("id"), slug

    def article_id(self, url: str) -> str | None:
        key = self.article_key(url)
        return self.id_template.format(category=key[0], id=key[1]) if key else None

    def canonical_url(self, url: str) -> str:
        key = self.article_key(url)
        if not key:
            return url
        return self.canonical_template.format(
            base=self.base_url, category=key[0], id=key[1], slug=key[2]
        )

    def selector_text(self, table: str, key: str) -> str:
        sels = (self.listing if table == "listing" else self.article).get(key, [])
        return " | ".join(s.text for s in sels) or "(none)"


_LISTING_SELECTORS = {"item", "link", "title", "lead", "thumbnail", "date"}
_ARTICLE_SELECTORS = {
    "title", "date", "updated", "body", "url", "image", "section_link", "category", "author",
    "captions", "lead", "drop",
}  # fmt: skip
_RULE_TYPES: dict[str, type] = {
    "title_strip_suffix": list,
    "cut_from_text": list,
    "lead_marker": str,
    "lead_max_blocks": int,
    "lead_in_body": bool,
    "drop_empty_paragraphs": bool,
    "drop_repeated_captions": bool,
    "author_line": bool,
    "author_max_chars": int,
    "author_max_words": int,
    "author_min_padding": int,
    "image_from_body": bool,
    "image_ignore": str,
    "body_fallback": str,
    "date_scan": bool,
}
_SITE_KEYS = {
    "base_url", "hosts", "article_path", "id_template", "canonical_template",
    "listing_template", "listing_path", "timezone", "image_month",
}  # fmt: skip


def _as_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise LayoutError(f"{where}: expected a string or a list of strings")


def _compile(selectors: list[str], where: str) -> list[Selector]:
    out = []
    for s in selectors:
        try:
            out.append(Selector(s, lxml.etree.XPath(s)))
        except lxml.etree.XPathSyntaxError as e:
            raise LayoutError(f"{where}: invalid XPath {s!r}: {e}") from e
    return out


def _regex(value: Any, where: str) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise LayoutError(f"{where}: expected a regular expression string")
    try:
        return re.compile(value)
    except re.error as e:
        raise LayoutError(f"{where}: invalid regular expression {value!r}: {e}") from e


def _rules(art: dict[str, Any], where: str) -> ArticleRules:
    values: dict[str, Any] = {}
    for key, tp in _RULE_TYPES.items():
        if key not in art:
            continue
        value = art[key]
        here = f"{where}: [article] {key}"
        if tp is list:
            values[key] = tuple(nfc(s) for s in _as_list(value, here))
        elif tp is bool:
            if not isinstance(value, bool):
                raise LayoutError(f"{here}: expected true or false, got {value!r}")
            values[key] = value
        elif tp is int:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise LayoutError(f"{here}: expected a whole number >= 0, got {value!r}")
            values[key] = value
        elif key in ("lead_marker", "image_ignore"):
            values[key] = _regex(value, here) if value else None
        elif key == "body_fallback":
            if value not in ("", "densest"):
                raise LayoutError(f'{here}: expected "" or "densest", got {value!r}')
            values[key] = value
    return ArticleRules(**values)


def load_profile(path: str | Path) -> LayoutProfile:
    """Read and check a profile: every error names the profile file and the key."""
    path = Path(path)
    where = f"layout profile {path}"
    data = read_toml(path, where=where, error=LayoutError)
    unknown_tables = set(data) - {"site", "listing", "article"}
    if unknown_tables:
        raise LayoutError(f"{where}: unknown table [{sorted(unknown_tables)[0]}]")
    for table, keys in (
        ("site", _SITE_KEYS),
        ("listing", _LISTING_SELECTORS),
        ("article", _ARTICLE_SELECTORS | set(_RULE_TYPES)),
    ):
        if not isinstance(data.get(table, {}), dict):
            raise LayoutError(f"{where}: [{table}] must be a table")
        unknown = set(data.get(table, {})) - keys
        if unknown:
            raise LayoutError(f"{where}: [{table}] {sorted(unknown)[0]}: unknown key")
    site = data.get("site", {})
    for key in ("base_url", "article_path", "id_template", "listing_template"):
        if key not in site:
            raise LayoutError(f"{where}: [site] {key}: missing")
    for key in ("base_url", "id_template", "listing_template", "canonical_template", "timezone"):
        if key in site and not isinstance(site[key], str):
            raise LayoutError(f"{where}: [site] {key}: expected a string")
    article_path = _regex(site["article_path"], f"{where}: [site] article_path")
    if not {"category", "id"} <= set(article_path.groupindex):
        raise LayoutError(f"{where}: [site] article_path: needs named groups 'category' and 'id'")
    listing_path = (
        _regex(site["listing_path"], f"{where}: [site] listing_path")
        if site.get("listing_path")
        else None
    )
    if listing_path is not None and "category" not in listing_path.groupindex:
        raise LayoutError(f"{where}: [site] listing_path: needs a named group 'category'")
    image_month = (
        _regex(site["image_month"], f"{where}: [site] image_month")
        if site.get("image_month")
        else None
    )
    if image_month is not None and not {"month", "year"} <= set(image_month.groupindex):
        raise LayoutError(f"{where}: [site] image_month: needs named groups 'month' and 'year'")
    for key, names in (
        ("id_template", {"category", "id"}),
        ("canonical_template", {"base", "category", "id", "slug"}),
        ("listing_template", {"category_id", "listing", "page"}),
    ):
        if key in site:
            try:
                site[key].format(**{n: "0" for n in names})
            except (KeyError, IndexError, ValueError) as e:
                raise LayoutError(
                    f"{where}: [site] {key}: bad template {site[key]!r} "
                    f"(fields: {', '.join(sorted(names))}): {e}"
                ) from None
    listing = {
        k: _compile(_as_list(v, f"{where}: [listing] {k}"), f"{where}: [listing] {k}")
        for k, v in data.get("listing", {}).items()
    }
    art = data.get("article", {})
    article = {
        k: _compile(_as_list(v, f"{where}: [article] {k}"), f"{where}: [article] {k}")
        for k, v in art.items()
        if k in _ARTICLE_SELECTORS
    }
    for table, sel, required in (
        ("listing", listing, ("item", "link")),
        ("article", article, ("title", "body")),
    ):
        for key in required:
            if not sel.get(key):
                raise LayoutError(f"{where}: [{table}] {key}: missing (a selector is required)")
    try:
        tz = ZoneInfo(site.get("timezone", "Asia/Ho_Chi_Minh"))
    except Exception as e:  # ZoneInfoNotFoundError, ValueError
        raise LayoutError(f"{where}: [site] timezone: {e}") from e
    base_url = site["base_url"]
    hosts = tuple(h.lower() for h in _as_list(site.get("hosts"), f"{where}: [site] hosts"))
    return LayoutProfile(
        path=str(path),
        base_url=base_url,
        hosts=hosts or ((urlsplit(base_url).hostname or "").lower(),),
        article_path=article_path,
        id_template=site["id_template"],
        canonical_template=site.get("canonical_template", "{base}{category}/{id}/{slug}"),
        listing_template=site["listing_template"],
        timezone=tz,
        image_month=image_month,
        listing_path=listing_path,
        listing=listing,
        article=article,
        rules=_rules(art, where),
    )


# --------------------------------------------------------------------------------------------
# Small tools


# XML-illegal characters stay: the collector strips them from titles, the sanitiser from bodies.
def _text_of(node: Any) -> str:
    if isinstance(node, lxml.etree._Element):
        return squash_spaces(nfc(node.text_content()))
    return squash_spaces(nfc(str(node)))


def _is_blank(text: str | None) -> bool:
    return not text or _BLANK.fullmatch(text) is not None


def _evaluate(sel: Selector, root: Any) -> list[Any]:
    try:
        result = sel.xpath(root)
    except lxml.etree.XPathEvalError:
        return []
    if isinstance(result, list):
        return result
    if isinstance(result, bool) or result is None:
        return []
    return [result]


def _matches(selectors: Iterable[Selector], root: Any) -> Iterator[tuple[int, Selector, Any]]:
    """Every non-empty result of every selector, in profile order: (index, selector, node)."""
    for i, sel in enumerate(selectors):
        for r in _evaluate(sel, root):
            if isinstance(r, lxml.etree._Element) or _text_of(r):
                yield i, sel, r


def _first(selectors: Iterable[Selector], root: Any) -> Any:
    """The first non-empty result of the first selector that yields one."""
    for _, _, r in _matches(selectors, root):
        return r
    return None


def _first_text(selectors: Iterable[Selector], root: Any) -> str:
    for _, _, r in _matches(selectors, root):
        text = _text_of(r)
        if text:
            return text
    return ""


def _hour(hour: int, marker: str | None) -> int:
    marker = (marker or "").upper()
    if marker in ("PM", "CH") and hour < 12:
        return hour + 12
    if marker in ("AM", "SA") and hour == 12:
        return 0
    return hour


def parse_date(text: str, tz: ZoneInfo) -> datetime | None:
    """``dd/mm/yyyy HH:MM`` and its variants (d/m, dots or dashes, "09h15", time first, seconds,
    SA/CH or AM/PM, "ngày 26 tháng 4 năm 2024"), or ISO 8601; read in the paper's zone when
    no zone is given. Returns UTC, or None when there is no complete, valid date."""
    text = nfc(text or "").strip()
    if not text:
        return None
    found = find_day_first(text, _WORD_DATE_RE)
    if found:
        year, month, day, rest = found
        t = _TIME_RE.search(rest)
        hour, minute = (_hour(int(t.group(1)), t.group(3)), int(t.group(2))) if t else (0, 0)
        return local_to_utc(year, month, day, hour, minute, tz=tz)
    try:
        iso = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return aware_to_utc(iso, tz)


def parse_html(text: str) -> Any:
    """lxml's HTML parser: no network, no entity expansion beyond HTML's own."""
    parser = lxml.html.HTMLParser(encoding=None, no_network=True, recover=True)
    try:
        doc = lxml.html.document_fromstring(text, parser=parser)
    except (lxml.etree.ParserError, ValueError) as e:
        raise ParseError(f"not an HTML document: {e}") from e
    return doc


def _remove_keep_tail(el: Any) -> None:
    parent = el.getparent()
    if parent is None:
        return
    if el.tail and el.tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _is_block(el: Any) -> bool:
    return isinstance(el.tag, str) and el.tag in _BLOCKS


def _leaf_blocks(body: Any) -> list[Any]:
    """Blocks holding no other block, in document order: the paragraphs a reader sees."""
    return [
        el
        for el in body.iter()
        if el is not body and _is_block(el) and not any(_is_block(d) for d in el.iterdescendants())
    ]


def _has_content(el: Any) -> bool:
    return any(isinstance(d.tag, str) and d.tag in _CONTENT_TAGS for d in el.iter())


def _cut_from(body: Any, markers: tuple[str, ...]) -> str | None:
    """Remove the first block whose text starts with a marker, and everything after it."""
    if not markers:
        return None
    for el in body.iter():
        if el is body or not _is_block(el):
            continue
        text = _text_of(el)
        marker = next((m for m in markers if text.startswith(m)), None)
        if marker is not None:
            node = el
            while node is not None and node is not body:
                parent = node.getparent()
                for sib in list(node.itersiblings()):
                    parent.remove(sib)
                node = parent
            _remove_keep_tail(el)
            return marker
    return None


def _inner_html(el: Any) -> str:
    parts = [el.text or ""]
    for child in el:
        parts.append(lxml.html.tostring(child, encoding="unicode"))
    return "".join(parts)


def web_url(base: str, value: str) -> str | None:
    """``value`` made absolute against ``base`` when the URL policy keeps it as an http(s)
    address (``sanitise.clean_url``: ``javascript:``, ``data:``, hidden schemes, markup and
    broken hosts are refused), else None. The collector applies the policy again, with the
    image rules for images, to what it stores."""
    # White space inside goes, unlike in body URLs: a field's text comes squashed, and a value
    # wrapped over lines ("…/NewsImg/ 5_2024/a.jpg") is one address.
    return clean_url(_URL_GAPS.sub("", value or ""), base, kind="link")


def image_url(img: Any, base: str) -> str | None:
    """The real address of an <img>: lazy-loading attributes first, placeholders skipped."""
    for attr in _IMAGE_ATTRS:
        value = (img.get(attr) or "").strip()
        if value and not _PLACEHOLDER.search(value):
            found = web_url(base, value)
            if found:
                return found
    return None


def _aligned_right(el: Any) -> bool:
    for node in (el, *el.iterdescendants()):
        if not isinstance(node.tag, str):
            continue
        if (node.get("align") or "").lower() == "right":
            return True
        style = (node.get("style") or "").replace(" ", "").lower()
        if "text-align:right" in style or "float:right" in style:
            return True
    return False


def _padding(el: Any) -> int:
    """How many spaces (mostly non-breaking) push the block's text to the right."""
    text = "".join(el.itertext())
    run = len(text) - len(text.lstrip(" \u00a0\t\r\n"))
    return run if "\u00a0" in text[:run] else 0


# --------------------------------------------------------------------------------------------
# Articles


@dataclass
class ArticleExtract:
    """What the profile found on one article page: the raw article and how it was found."""

    raw: RawArticle
    lead: str | None = None
    captions: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cut_at: str | None = None


class _Fields:
    """Selector lookups on one document that remember which selector each field came from,
    so that fallbacks and misses can be reported (``feedsvc parse`` shows them)."""

    def __init__(self, profile: LayoutProfile, root: Any) -> None:
        self.profile = profile
        self.root = root
        self.used: dict[str, int | None] = {}
        self.warnings: list[str] = []

    def note(self, key: str, index: int | None) -> None:
        self.used[key] = index

    def text(self, key: str, *, accept: Callable[[str], bool] = bool) -> str:
        for i, _, r in _matches(self.profile.article.get(key, []), self.root):
            text = _text_of(r)
            if accept(text):
                self.note(key, i)
                return text
        self.note(key, None)
        return ""

    def report(self, missing: dict[str, str]) -> list[str]:
        """Fallbacks used, then the fields still empty (``missing``: field -> why it matters)."""
        out = list(self.warnings)
        for key, index in self.used.items():
            sels = self.profile.article.get(key, [])
            if index is not None and index > 0 and sels:
                out.append(
                    f"[article] {key}: {sels[0].text!r} matched nothing; used {sels[index].text!r}"
                )
        for key, why in missing.items():
            if self.profile.article.get(key) or key in ("lead", "author", "date"):
                sel = self.profile.selector_text("article", key)
                out.append(f"[article] {key}: no selector matched ({sel}){why}")
        return out


_TEXT_CHILDREN = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "pre"})


def _densest_block(doc: Any) -> Any:
    """The element whose own paragraphs hold the most text: a body when no selector finds one.

    Only direct children count (paragraphs, and divs used as paragraphs), so a page-wide
    wrapper never beats the block that actually holds the text.
    """
    best, best_len = None, 0
    for el in doc.iter("div", "article", "section", "td", "main"):
        total = len((el.text or "").strip())
        for child in el:
            if not isinstance(child.tag, str):
                continue
            if child.tag in _TEXT_CHILDREN or (
                child.tag == "div" and not any(_is_block(d) for d in child.iterdescendants())
            ):
                total += len(_text_of(child))
        if total > best_len:
            best, best_len = el, total
    return best if best_len >= 200 else None


def _pick_body(profile: LayoutProfile, doc: Any, fields: _Fields, url: str) -> Any:
    sels = profile.article["body"]
    empty = None
    for i, _, r in _matches(sels, doc):
        if not isinstance(r, lxml.etree._Element):
            continue
        if _text_of(r) or r.find(".//img") is not None or r.find(".//iframe") is not None:
            fields.note("body", i)
            return r
        empty = empty if empty is not None else r
    if profile.rules.body_fallback == "densest":
        found = _densest_block(doc)
        if found is not None:
            fields.warnings.append(
                f"[article] body: no selector matched ({profile.selector_text('article', 'body')});"
                " used the block with the most paragraph text"
            )
            return found
    if empty is not None:
        fields.warnings.append("[article] body: the selected block holds no text")
        return empty
    raise ParseError(
        f"{url}: no article body: selector [article] body of {profile.path} matched nothing "
        f"({profile.selector_text('article', 'body')})"
    )


def _scan_date(doc: Any, start: Any, body: Any, tz: ZoneInfo) -> datetime | None:
    """A short text with a full date and a time between the headline (``start``) and the
    body: the usual place of a date line, whatever its class. The header's clock (above the
    headline) and the date-archive picker (in the body) never count."""
    started = False
    for el in doc.iter():
        if el is body:
            return None
        if el is start:
            started = True
            continue
        if not started or not isinstance(el.tag, str) or el.tag in _NO_DATE_TAGS:
            continue
        if start in el.iterancestors():
            continue
        own = squash_spaces(nfc(" ".join(t for t in (el.text, *(c.tail for c in el)) if t)))
        if not own or len(own) > 80:
            continue
        if DAY_FIRST_DATE.search(own) and _TIME_RE.search(DAY_FIRST_DATE.sub(" ", own)):
            found = parse_date(own, tz)
            if found is not None:
                return found
    return None


def _author_line(body: Any, rules: ArticleRules) -> tuple[Any, str] | None:
    """The trailing signature: the last paragraph, pushed right (aligned or padded with
    non-breaking spaces), short, and only words."""
    for el in reversed(_leaf_blocks(body)):
        text = _text_of(el)
        if not text:
            if _has_content(el):
                return None
            continue
        if _has_content(el) or el.tag not in ("p", "div"):
            return None
        words = text.split()
        if len(text) > rules.author_max_chars or len(words) > rules.author_max_words:
            return None
        if text[-1] in ":;,?!" or not any(ch.isalpha() for ch in text):
            return None
        if rules.lead_marker is not None and rules.lead_marker.match(text):
            return None
        if _aligned_right(el) or (
            rules.author_min_padding and _padding(el) >= rules.author_min_padding
        ):
            return el, text
        return None
    return None


def _drop_empty(body: Any) -> None:
    for el in reversed(list(body.iter("p", "div", "span", "font", "strong", "em", "b", "i"))):
        if el is body or _has_content(el):
            continue
        if _is_blank(el.text_content()):
            _remove_keep_tail(el)


def _caption_key(text: str) -> str:
    return squash_spaces(text).rstrip(" .").casefold()


def extract_article(
    profile: LayoutProfile,
    text: str,
    url: str | None,
    *,
    ref: ArticleRef | None = None,
    catalog: Catalog | None = None,
    default_url: str | None = None,
) -> ArticleExtract:
    """Extract one article with everything the operator may want to see about it.

    ``url`` may be None for a saved file: the page's own canonical URL is used then, else
    ``default_url``, else the site's base URL.
    """
    rules = profile.rules
    doc = parse_html(text)
    fields = _Fields(profile, doc)
    page_url = web_url(profile.base_url, fields.text("url", accept=lambda t: "/" in t))
    if url is None:
        url = page_url or default_url or profile.base_url
    # A <base href> counts only when it stays on the site (a hostile one could send every
    # relative link elsewhere).
    base_href = web_url(url, _first_text([_BASE_HREF], doc))
    if base_href and not profile.same_site(base_href, url):
        base_href = None
    base = base_href or url

    body = _pick_body(profile, doc, fields, url)

    # Fields read from the page as published (before the body is touched).
    title_node = _first(profile.article["title"], doc)
    title = fields.text("title")
    for suffix in rules.title_strip_suffix:
        if title.endswith(suffix) and len(title) > len(suffix):
            title = title[: -len(suffix)].strip()
    if not title:
        raise ParseError(
            f"{url}: no title: selector [article] title of {profile.path} matched nothing "
            f"({profile.selector_text('article', 'title')})"
        )
    page_date = None
    for i, _, r in _matches(profile.article.get("date", []), doc):
        page_date = parse_date(_text_of(r), profile.timezone)
        if page_date is not None:
            fields.note("date", i)
            break
    else:
        fields.note("date", None)
        if rules.date_scan:
            start = title_node if isinstance(title_node, lxml.etree._Element) else None
            if start is None or start.tag in ("title", "meta"):
                start = doc.find(".//h1")
            if start is not None:
                page_date = _scan_date(doc, start, body, profile.timezone)
    updated = parse_date(fields.text("updated"), profile.timezone)
    ignore = rules.image_ignore
    image = fields.text(
        "image",
        accept=lambda t: web_url(base, t) is not None and not (ignore and ignore.search(t)),
    )
    author = fields.text("author", accept=lambda t: 0 < len(t) <= rules.author_max_chars) or None
    section_link = fields.text("section_link")
    category = fields.text("category")
    lead_node = None
    lead = None
    for i, _, r in _matches(profile.article.get("lead", []), doc):
        wraps_body = isinstance(r, lxml.etree._Element) and r in body.iterancestors()
        if _text_of(r) and not wraps_body and len(_text_of(r)) <= MAX_LEAD_CHARS:
            lead_node, lead = r, _text_of(r)
            fields.note("lead", i)
            break

    # The body: furniture out, then the paper's conventions.
    if base_href:
        body.make_links_absolute(base, resolve_base_href=False)
        for img in body.iter("img"):
            for attr in _IMAGE_ATTRS[:-1]:
                if img.get(attr):
                    img.set(attr, urljoin(base, img.get(attr)))
    for sel in profile.article.get("drop", []):
        for el in _evaluate(sel, body):
            if isinstance(el, lxml.etree._Element) and el is not body:
                _remove_keep_tail(el)
    cut_at = _cut_from(body, rules.cut_from_text)
    captions: list[str] = []
    caption_nodes: list[Any] = []
    for _, _, r in _matches(profile.article.get("captions", []), body):
        if isinstance(r, lxml.etree._Element):
            caption_nodes.append(r)
        c = _text_of(r)
        if c and c not in captions:
            captions.append(c)
    if rules.drop_repeated_captions and captions:
        keys = {_caption_key(c) for c in captions}
        inside = {id(d) for n in caption_nodes for d in n.iter()}
        for el in _leaf_blocks(body):
            if id(el) in inside or any(id(a) in inside for a in el.iterancestors()):
                continue
            if any(id(d) in inside for d in el.iterdescendants()):
                continue
            if not _has_content(el) and _caption_key(_text_of(el)) in keys:
                _remove_keep_tail(el)
    if rules.author_line:
        found = _author_line(body, rules)
        if found is not None:
            el, name = found
            author = author or name
            _remove_keep_tail(el)
    if rules.drop_empty_paragraphs:
        _drop_empty(body)
    marker_lead = None
    if rules.lead_marker is not None:
        for el in [b for b in _leaf_blocks(body) if _text_of(b)][: rules.lead_max_blocks]:
            block_text = _text_of(el)
            m = rules.lead_marker.match(block_text)
            if m:
                marker_lead = block_text[m.end() :].strip() or None
                break
    if lead is not None and rules.lead_marker is not None:
        m = rules.lead_marker.match(lead)
        lead = lead[m.end() :].strip() if m else lead
    in_body = lead_node is not None and (
        lead_node is body
        or (isinstance(lead_node, lxml.etree._Element) and body in lead_node.iterancestors())
    )
    if lead and not in_body and marker_lead is None and rules.lead_in_body:
        # A sapo printed above the body (its own element) belongs to the article's text.
        p = lxml.html.Element("p")
        strong = lxml.etree.SubElement(p, "strong")
        strong.text = lead
        p.tail = body.text
        body.text = None
        body.insert(0, p)
    lead = marker_lead or lead

    images: list[str] = []
    for img in body.iter("img"):
        src = image_url(img, base)
        if src and src not in images and not (ignore and ignore.search(src)):
            images.append(src)
    if image:
        image = web_url(base, image) or ""
    elif rules.image_from_body and images:
        image = images[0]

    published, date_source = page_date, "page"
    if published is None and ref is not None and ref.published is not None:
        published, date_source = ref.published, "listing"
    if published is None and profile.image_month is not None:
        for candidate in [image or "", *images]:
            m = profile.image_month.search(candidate)
            if m:
                month, year = int(m.group("month")), int(m.group("year"))
                if 1 <= month <= 12 and 1990 <= year <= 2100:
                    published = datetime(year, month, 1, tzinfo=profile.timezone).astimezone(UTC)
                    date_source = "image"
                    break
    if published is None:
        date_source = "discovered"

    canonical = profile.canonical_url(url)
    if ref is None:
        ref = ArticleRef(source="", id=profile.article_id(url) or url, url=canonical)
    final_id = profile.article_id(url)
    # A redirect to a new slug or category: same article, its newer address.
    article_url = canonical if final_id is not None and final_id == ref.id else ref.url

    section = ref.section
    if section is None and catalog is not None:
        category_id = None
        if section_link and profile.listing_path is not None:
            m = profile.listing_path.match(urlsplit(urljoin(url, section_link)).path)
            category_id = m.group("category") if m else None
        key = profile.article_key(url)
        for cid in (category_id, key[0] if key else None):
            found_section = catalog.section_by_category(cid) if cid else None
            if found_section:
                section = found_section.slug
                break
        if section is None and category:
            section = catalog.match_section(category)

    raw = RawArticle(
        ref=ref,
        url=article_url,
        title=title,
        body_html=nfc(_inner_html(body)),
        lead=lead,
        author=author,
        published=published,
        updated=updated,
        date_source=date_source,
        image=image or None,
        image_caption=captions[0] if captions else None,
        section=section,
        categories=(category,) if category else (),
    )
    missing = {
        "date": f"; the date is from the {date_source}"
        if date_source != "page"
        else "; read from a date line found above the body",
        "image": "" if not image else None,
        "author": "; no author line either" if not author else None,
        "lead": "; no paragraph starts with lead_marker either" if not lead else None,
        "section_link": "; the section is unknown" if catalog is not None and not section else None,
    }
    warnings = fields.report(
        {k: why for k, why in missing.items() if why is not None and fields.used.get(k) is None}
    )
    return ArticleExtract(
        raw=raw, lead=lead, captions=captions, images=images, warnings=warnings, cut_at=cut_at
    )


def parse_article(
    profile: LayoutProfile,
    text: str,
    url: str | None,
    *,
    ref: ArticleRef | None = None,
    catalog: Catalog | None = None,
) -> RawArticle:
    """Extract one article. Boilerplate is removed before anything else sees the body."""
    return extract_article(profile, text, url, ref=ref, catalog=catalog).raw


# --------------------------------------------------------------------------------------------
# Listings


def _strip_marker(text: str, profile: LayoutProfile) -> str:
    marker = profile.rules.lead_marker
    m = marker.match(text) if marker is not None else None
    return text[m.end() :].strip() if m else text


def parse_listing(
    profile: LayoutProfile,
    text: str,
    url: str,
    *,
    source: str,
    section: str | None,
    warnings: list[str] | None = None,
) -> list[ArticleRef]:
    """Article references of one listing page, in page order (newest first).

    A page on which ``[listing] item`` matches nothing is a ParseError naming the selector:
    the alarm that the site's layout changed (or that the section's URL is wrong). When only
    a fallback item selector matched, ``warnings`` (if given) says so.
    """
    doc = parse_html(text)
    sel = profile.listing
    items: list[Any] = []
    for index, s in enumerate(sel["item"]):
        items = [i for i in _evaluate(s, doc) if isinstance(i, lxml.etree._Element)]
        if items:
            if index > 0 and warnings is not None:
                warnings.append(
                    f"[listing] item: {sel['item'][0].text!r} matched nothing; used {s.text!r}"
                )
            break
    if not items:
        raise ParseError(
            f"{url}: selector [listing] item of {profile.path} matched nothing "
            f"({profile.selector_text('listing', 'item')}): has the site's layout changed?"
        )
    refs: list[ArticleRef] = []
    seen: set[str] = set()
    for item in items:
        absolute = article_id = None
        for _, _, r in _matches(sel["link"], item):
            candidate = urljoin(url, _text_of(r))
            article_id = profile.article_id(candidate)
            if article_id is not None:
                absolute = candidate
                break
        if absolute is None or article_id is None or article_id in seen:
            continue
        seen.add(article_id)
        thumb = None
        for _, _, r in _matches(sel.get("thumbnail", []), item):
            if isinstance(r, lxml.etree._Element):
                thumb = image_url(r, url) if r.tag == "img" else None
            else:
                value = _text_of(r)
                thumb = web_url(url, value) if value and not _PLACEHOLDER.search(value) else None
            if thumb:
                break
        lead = _first_text(sel.get("lead", []), item)
        published = None
        for _, _, r in _matches(sel.get("date", []), item):
            published = parse_date(_text_of(r), profile.timezone)
            if published is not None:
                break
        refs.append(
            ArticleRef(
                source=source,
                id=article_id,
                url=profile.canonical_url(absolute),
                section=section,
                title=_first_text(sel.get("title", []), item) or None,
                lead=_strip_marker(lead, profile) or None,
                thumbnail=thumb,
                published=published,
            )
        )
    return refs


def url_for_file(profile: LayoutProfile, path: Path) -> str | None:
    """The site URL a saved page stands for when it is stored like the site's paths
    (``.../<category>/<id>/<slug>.htm``, as in a snapshot folder), else None."""
    parts = path.resolve().parts
    for n in (3, 2, 4):
        if len(parts) > n:
            candidate = urljoin(profile.base_url, "/".join(parts[-n:]))
            if profile.article_key(candidate) is not None or (
                profile.listing_path is not None
                and profile.listing_path.match(urlsplit(candidate).path)
            ):
                return candidate
    return None


def _iso(dt: datetime | None, tz: ZoneInfo) -> str | None:
    return dt.astimezone(tz).isoformat() if dt is not None else None


def describe_page(
    profile: LayoutProfile,
    text: str,
    url: str | None,
    *,
    catalog: Catalog | None = None,
    default_url: str | None = None,
) -> dict[str, Any]:
    """What the profile extracts from one page, as JSON-ready data (``feedsvc parse``).

    A listing URL (``[site] listing_path``) is read as a listing; anything else as an
    article, and as a listing when it has no article body but listing items.
    """
    where = url or default_url or ""
    path = urlsplit(where).path
    is_listing = profile.listing_path is not None and bool(profile.listing_path.match(path))
    if not is_listing:
        try:
            return _describe_article(profile, text, url, catalog, default_url)
        except ParseError as e:
            if profile.article_key(where) is not None:
                raise
            try:
                return _describe_listing(profile, text, where or profile.base_url)
            except ParseError:
                raise e from None
    return _describe_listing(profile, text, where or profile.base_url)


def _describe_article(
    profile: LayoutProfile,
    text: str,
    url: str | None,
    catalog: Catalog | None,
    default_url: str | None,
) -> dict[str, Any]:
    found = extract_article(profile, text, url, catalog=catalog, default_url=default_url)
    raw = found.raw
    return {
        "kind": "article",
        "id": raw.ref.id,
        "url": raw.url,
        "title": raw.title,
        "published": _iso(raw.published, profile.timezone),
        "date_source": raw.date_source,
        "updated": _iso(raw.updated, profile.timezone),
        "author": raw.author,
        "section": raw.section,
        "category": raw.categories[0] if raw.categories else None,
        "lead": found.lead,
        "image": raw.image,
        "captions": found.captions,
        "images": found.images,
        "cut_at": found.cut_at,
        "warnings": found.warnings,
        "body_html": raw.body_html,
    }


def _describe_listing(profile: LayoutProfile, text: str, url: str) -> dict[str, Any]:
    warnings: list[str] = []
    refs = parse_listing(profile, text, url, source="", section=None, warnings=warnings)
    for key, attr in (("title", "title"), ("date", "published"), ("lead", "lead")):
        if profile.listing.get(key) and refs and all(getattr(r, attr) is None for r in refs):
            sel = profile.selector_text("listing", key)
            warnings.append(f"[listing] {key}: no selector matched in any item ({sel})")
    if profile.listing.get("thumbnail") and refs and all(r.thumbnail is None for r in refs):
        sel = profile.selector_text("listing", "thumbnail")
        warnings.append(f"[listing] thumbnail: no selector matched in any item ({sel})")
    return {
        "kind": "listing",
        "url": url,
        "items": [
            {
                "id": r.id,
                "url": r.url,
                "title": r.title,
                "published": _iso(r.published, profile.timezone),
                "lead": r.lead,
                "thumbnail": r.thumbnail,
            }
            for r in refs
        ],
        "warnings": warnings,
    }


# --------------------------------------------------------------------------------------------
# The source

KnownIds = Callable[[Sequence[str]], AbstractSet[str]]


class _Lru(OrderedDict[str, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class HtmlSource:
    """The paper's site: walks each section's listing pages, fetches article pages.

    The walk reads each section's first listing page and follows the next ones while they
    still hold articles the store does not know (``known``), at most ``max_pages``; a
    backfill (``max_pages`` given to ``list_latest``) walks that many pages whatever it finds.
    A 304 answer reuses what this source parsed from the page last time (nothing new). With
    nothing to reuse (a new process sending validators kept in the database), a 304 listing
    still means "nothing new": the store keeps a listing's validators only after a run that
    handled everything the listing led to. A 304 article page with nothing to reuse is asked
    again without validators (re-checks are rare; the parse is needed to compare).
    When every listing answers 304, ``not_modified`` is set: the collector then records
    "not modified" instead of raising the empty-listing alarm.
    """

    def __init__(
        self,
        name: str,
        profile: LayoutProfile,
        fetcher: Fetcher,
        catalog: Catalog,
        *,
        sections: Iterable[str] = (),
        max_pages: int = 3,
    ) -> None:
        self.name = name
        self.profile = profile
        self.fetcher = fetcher
        self.catalog = catalog
        wanted = set(sections)
        self.sections = [
            s
            for s in catalog.sections
            if s.category_id is not None and s.listing and (not wanted or s.slug in wanted)
        ]
        self.max_pages = max_pages
        self.pages_fetched = 0
        self._listings = _Lru(CACHE_ENTRIES)
        self._articles = _Lru(CACHE_ENTRIES)
        self._warned: set[str] = set()
        self.not_modified = False

    def listing_url(self, category_id: int, listing: str, page: int) -> str:
        path = self.profile.listing_template.format(
            category_id=category_id, listing=listing, page=page
        )
        return urljoin(self.profile.base_url, path.lstrip("/"))

    def _get(
        self, url: str, deadline: float | None, cache: _Lru, *, empty_304: bool = False
    ) -> tuple[Page, Any]:
        """The page, or (a 304 page, what was parsed from it before).

        With ``empty_304``, a 304 with nothing parsed before gives an empty list: nothing new.
        """
        page = self.fetcher.get(url, deadline=deadline)
        if page.not_modified:
            if url in cache:
                cache.move_to_end(url)
                return page, cache[url]
            if empty_304:
                return page, []
            log.debug("source=%s url=%s 304 without a cached copy: asking again", self.name, url)
            page = cast(Any, self.fetcher).get(url, deadline=deadline, conditional=False)
        return page, None

    def list_latest(
        self,
        *,
        deadline: float | None = None,
        known: KnownIds | None = None,
        max_pages: int | None = None,
    ) -> list[ArticleRef]:
        """Each section's first page; further pages while they still hold unknown articles.

        One section failing is logged and the others go on; only when no section could be read
        at all does the failure reach the collector (naming the URL and, for a layout change,
        the selector).
        """
        backfill = max_pages is not None
        # Walking everything (a backfill, or no `known` after a run that did not end) needs
        # each page's items: only an ordinary walk may take a bare 304 as "nothing new".
        empty_304 = known is not None and not backfill
        pages = max(1, max_pages or self.max_pages)
        shown = progress.current()
        shown.plan_pages(len(self.sections) * pages)
        refs: list[ArticleRef] = []
        seen: set[str] = set()
        errors: list[SourceError] = []
        out_of_time = False
        answered_304 = answered = 0
        self.not_modified = False
        for section in self.sections:
            assert section.category_id is not None and section.listing
            done = 0
            for page in range(1, pages + 1):
                if out_of_time:
                    break
                url = self.listing_url(section.category_id, section.listing, page)
                try:
                    fetched, cached = self._get(url, deadline, self._listings, empty_304=empty_304)
                    if cached is not None:
                        page_refs = [replace(r, section=section.slug) for r in cached]
                    else:
                        warnings: list[str] = []
                        page_refs = parse_listing(
                            self.profile,
                            fetched.text,
                            fetched.url or url,
                            source=self.name,
                            section=section.slug,
                            warnings=warnings,
                        )
                        self._listings.remember(url, page_refs)
                        self._warn(url, warnings)
                except DeadlineExceededError as e:
                    errors.append(e)
                    out_of_time = True
                    break
                except NotFoundError as e:
                    if page == 1:
                        errors.append(e)
                    break  # past the last page
                except (FetchError, ParseError) as e:
                    if page == 1 or not isinstance(e, ParseError):
                        errors.append(e)
                    break  # a page past the last may list nothing
                self.pages_fetched += 1
                answered += 1
                answered_304 += bool(fetched.not_modified)
                done += 1
                shown.page_done(url, len(page_refs))
                fresh = [r for r in page_refs if r.id not in seen]
                seen.update(r.id for r in fresh)
                refs.extend(fresh)
                if cached is not None and not backfill:
                    break  # not modified since we last read it: nothing new below either
                if not fresh:
                    break  # the site repeats its last page
                if (
                    not backfill
                    and known is not None
                    and page_refs[-1].id in known([page_refs[-1].id])
                ):
                    break  # reached articles we have: the rest is older
            shown.skip_pages(pages - done)
        for err in errors:
            log.warning("collect source=%s stage=listing error=%s", self.name, err)
        if not refs and errors:
            first = errors[0]
            message = f"source {self.name}: no listing could be read: {first}"
            if isinstance(first, FetchError):
                raise type(first)(message, url=first.url, status=first.status) from first
            raise type(first)(message) from first
        self.not_modified = not refs and answered > 0 and answered_304 == answered
        refs.sort(key=lambda r: r.published or datetime.min.replace(tzinfo=UTC), reverse=True)
        planned = len(refs) - (len(known([r.id for r in refs])) if known is not None else 0)
        shown.plan_articles(planned)
        return refs

    def fetch(self, ref: ArticleRef, *, deadline: float | None = None) -> RawArticle:
        try:
            page, cached = self._get(ref.url, deadline, self._articles)
            if cached is not None:
                return replace(cast(RawArticle, cached), ref=ref)
            try:
                found = extract_article(
                    self.profile, page.text, page.url or ref.url, ref=ref, catalog=self.catalog
                )
            except ParseError as e:
                raise ParseError(f"source {self.name}: {e}") from e
            self._warn(
                ref.url,
                [w for w in found.warnings if w.startswith(("[article] body", "[article] title"))],
            )
            self._articles.remember(ref.url, found.raw)
            return found.raw
        finally:
            progress.current().article_done(ref.url)

    def _warn(self, url: str, warnings: list[str]) -> None:
        """Log a layout drift (a fallback selector was needed) once per field and source."""
        for warning in warnings:
            key = warning.split(":", 1)[0]
            if key not in self._warned:
                self._warned.add(key)
                log.warning("collect source=%s url=%s layout=%s", self.name, url, warning)

    def close(self) -> None:
        self.fetcher.close()


def make_fetcher(
    src: SourceSettings, settings: Settings, *, validators: ValidatorStore | None = None
) -> Fetcher:
    if src.snapshot:
        root = DEMO_SNAPSHOT if src.snapshot == "demo" else Path(src.snapshot)
        return DirectoryFetcher(root)
    from .fetch import http_fetcher_from_settings

    return http_fetcher_from_settings(settings, validators=validators)


def make_html_source(
    src: SourceSettings,
    settings: Settings,
    catalog: Catalog,
    *,
    validators: ValidatorStore | None = None,
) -> HtmlSource:
    profile = load_profile(src.layout).with_base(src.url)
    return HtmlSource(
        src.name,
        profile,
        make_fetcher(src, settings, validators=validators),
        catalog,
        sections=src.sections,
        max_pages=src.max_pages,
    )
