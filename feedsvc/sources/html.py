"""The newspaper's HTML pages, read through a layout profile kept in config.

The profile (config/layouts/baohoabinh.toml) holds XPath selectors and parameters of general
rules (drop furniture, cut at "Các tin khác", the lead marker); this module holds no selector
of its own, so a redesign of the site is a config edit (the RSS-Bridge XPathAbstract idea).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import lxml.etree
import lxml.html

from ..catalog import Catalog
from ..exceptions import FetchError, LayoutError, NotFoundError, ParseError
from ..model import ArticleRef, RawArticle
from ..settings import Settings, SourceSettings
from ..text import nfc, squash_spaces
from .fetch import DirectoryFetcher, Fetcher

DEMO_SNAPSHOT = Path(__file__).resolve().parent.parent / "demo" / "site"

_DATE_RE = re.compile(r"(?<!\d)(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})(?!\d)")
_TIME_RE = re.compile(r"(?<!\d)(\d{1,2})\s*[:hg]\s*(\d{2})(?!\d)")
_BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "section", "li"}


def _as_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise LayoutError(f"{where}: expected a string or a list of strings")


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
    listing: dict[str, list[lxml.etree.XPath]]
    article: dict[str, list[lxml.etree.XPath]]
    title_strip_suffix: tuple[str, ...] = ()
    cut_from_text: tuple[str, ...] = ()
    lead_marker: re.Pattern[str] | None = None
    sources: dict[str, str] = field(default_factory=dict)  # selector name -> text, for errors

    def article_key(self, url: str) -> tuple[str, str, str] | None:
        """(category, id, slug) of an article URL of this site, or None."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host and host not in self.hosts:
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
        return self.canonical_template.format(category=key[0], id=key[1], slug=key[2])


_LISTING_KEYS = {"item", "link", "title", "lead", "thumbnail", "date"}
_ARTICLE_KEYS = {"title", "date", "body", "image", "section_link", "author", "drop", "url"}
_ARTICLE_PARAMS = {"title_strip_suffix", "cut_from_text", "lead_marker"}
_SITE_KEYS = {
    "base_url", "hosts", "article_path", "id_template", "canonical_template",
    "listing_template", "listing_path", "timezone", "image_month",
}  # fmt: skip


def _compile(selectors: list[str], where: str) -> list[lxml.etree.XPath]:
    out = []
    for s in selectors:
        try:
            out.append(lxml.etree.XPath(s))
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


def load_profile(path: str | Path) -> LayoutProfile:
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise LayoutError(f"layout profile {path}: file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise LayoutError(f"layout profile {path}: not valid TOML: {e}") from e
    where = f"layout profile {path}"
    for table, keys in (
        ("site", _SITE_KEYS),
        ("listing", _LISTING_KEYS),
        ("article", _ARTICLE_KEYS | _ARTICLE_PARAMS),
    ):
        unknown = set(data.get(table, {})) - keys
        if unknown:
            raise LayoutError(f"{where}: [{table}] {sorted(unknown)[0]}: unknown key")
    unknown_tables = set(data) - {"site", "listing", "article"}
    if unknown_tables:
        raise LayoutError(f"{where}: unknown table [{sorted(unknown_tables)[0]}]")
    site = data.get("site", {})
    for key in ("base_url", "article_path", "id_template", "listing_template"):
        if key not in site:
            raise LayoutError(f"{where}: [site] {key}: missing")
    article_path = _regex(site["article_path"], f"{where}: [site] article_path")
    if not {"category", "id"} <= set(article_path.groupindex):
        raise LayoutError(f"{where}: [site] article_path: needs named groups 'category' and 'id'")
    listing = {
        k: _compile(_as_list(v, f"{where}: [listing] {k}"), f"{where}: [listing] {k}")
        for k, v in data.get("listing", {}).items()
    }
    art = data.get("article", {})
    article = {
        k: _compile(_as_list(v, f"{where}: [article] {k}"), f"{where}: [article] {k}")
        for k, v in art.items()
        if k in _ARTICLE_KEYS
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
    marker = art.get("lead_marker")
    return LayoutProfile(
        path=str(path),
        base_url=site["base_url"],
        hosts=tuple(_as_list(site.get("hosts"), f"{where}: [site] hosts"))
        or (urlsplit(site["base_url"]).hostname or "",),
        article_path=article_path,
        id_template=site["id_template"],
        canonical_template=site.get("canonical_template", "{url}"),
        listing_template=site["listing_template"],
        timezone=tz,
        image_month=_regex(site["image_month"], f"{where}: [site] image_month")
        if site.get("image_month")
        else None,
        listing_path=_regex(site["listing_path"], f"{where}: [site] listing_path")
        if site.get("listing_path")
        else None,
        listing=listing,
        article=article,
        title_strip_suffix=tuple(_as_list(art.get("title_strip_suffix"), where)),
        cut_from_text=tuple(nfc(s) for s in _as_list(art.get("cut_from_text"), where)),
        lead_marker=_regex(marker, f"{where}: [article] lead_marker") if marker else None,
    )


def _text_of(node: Any) -> str:
    if isinstance(node, str):
        return squash_spaces(nfc(str(node)))
    if isinstance(node, lxml.etree._Element):
        return squash_spaces(nfc(node.text_content()))
    return squash_spaces(nfc(str(node)))


def _first(selectors: Iterable[lxml.etree.XPath], root: Any) -> Any:
    """The first non-empty result of the first selector that yields one."""
    for xp in selectors:
        try:
            result = xp(root)
        except lxml.etree.XPathEvalError:
            continue
        if isinstance(result, list):
            for r in result:
                if _text_of(r) or isinstance(r, lxml.etree._Element):
                    return r
        elif result:
            return result
    return None


def _first_text(selectors: Iterable[lxml.etree.XPath], root: Any) -> str:
    node = _first(selectors, root)
    return _text_of(node) if node is not None else ""


def parse_date(text: str, tz: ZoneInfo) -> datetime | None:
    """``dd/mm/yyyy HH:MM`` and its variants (d/m, dots or dashes, "09h15", time first),
    or ISO 8601; read in the paper's zone when no zone is given. Returns UTC."""
    text = nfc(text or "").strip()
    if not text:
        return None
    m = _DATE_RE.search(text)
    if m:
        day, month, year = (int(g) for g in m.groups())
        rest = text[: m.start()] + " " + text[m.end() :]
        t = _TIME_RE.search(rest)
        hour, minute = (int(t.group(1)), int(t.group(2))) if t else (0, 0)
        try:
            local = datetime(year, month, day, hour, minute, tzinfo=tz)
        except ValueError:
            return None
        return local.astimezone(UTC)
    try:
        iso = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if iso.tzinfo is None:
        iso = iso.replace(tzinfo=tz)
    return iso.astimezone(UTC)


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


def _cut_from(body: Any, markers: tuple[str, ...]) -> None:
    """Remove the first block whose text starts with a marker, and everything after it."""
    if not markers:
        return
    for el in body.iter():
        if el is body or not isinstance(el.tag, str) or el.tag not in _BLOCKS:
            continue
        text = _text_of(el)
        if any(text.startswith(m) for m in markers):
            node = el
            while node is not None and node is not body:
                parent = node.getparent()
                for sib in list(node.itersiblings()):
                    parent.remove(sib)
                node = parent
            _remove_keep_tail(el)
            return


def _inner_html(el: Any) -> str:
    parts = [el.text or ""]
    for child in el:
        parts.append(lxml.html.tostring(child, encoding="unicode"))
    return "".join(parts)


def parse_article(
    profile: LayoutProfile,
    text: str,
    url: str | None,
    *,
    ref: ArticleRef | None = None,
    catalog: Catalog | None = None,
) -> RawArticle:
    """Extract one article. Boilerplate is removed before anything else sees the body.

    ``url`` may be None for a saved file: the page's own canonical URL is used then.
    """
    doc = parse_html(text)
    sel = profile.article
    page_url = _first_text(sel.get("url", []), doc)
    if url is None:
        url = urljoin(profile.base_url, page_url) if page_url else profile.base_url
    body = _first(sel["body"], doc)
    if body is None or not isinstance(body, lxml.etree._Element):
        raise ParseError(
            f"{url}: no article body: selector [article] body of {profile.path} matched nothing"
        )
    for xp in sel.get("drop", []):
        for el in xp(body):
            if isinstance(el, lxml.etree._Element) and el is not body:
                _remove_keep_tail(el)
    _cut_from(body, profile.cut_from_text)
    title = _first_text(sel["title"], doc)
    for suffix in profile.title_strip_suffix:
        if title.endswith(suffix):
            title = title[: -len(suffix)].strip()
    if not title:
        raise ParseError(f"{url}: no title: selector [article] title of {profile.path}")
    page_date = parse_date(_first_text(sel.get("date", []), doc), profile.timezone)
    image = _first_text(sel.get("image", []), doc) or None
    if image:
        image = urljoin(url, image)
    author = _first_text(sel.get("author", []), doc) or None
    section_link = _first_text(sel.get("section_link", []), doc)
    published, date_source = page_date, "page"
    if published is None and ref is not None and ref.published is not None:
        published, date_source = ref.published, "listing"
    if published is None and profile.image_month is not None:
        for candidate in [image or "", *body.xpath(".//img/@src | .//img/@data-src")]:
            m = profile.image_month.search(str(candidate))
            if m:
                month, year = int(m.group("month")), int(m.group("year"))
                if 1 <= month <= 12:
                    published = datetime(year, month, 1, tzinfo=profile.timezone).astimezone(UTC)
                    date_source = "image"
                    break
    if published is None:
        date_source = "discovered"
    ref = ref or ArticleRef(
        source="", id=profile.article_id(url) or url, url=profile.canonical_url(url)
    )
    section = ref.section
    if section is None and catalog is not None:
        category = None
        if section_link and profile.listing_path is not None:
            m = profile.listing_path.match(urlsplit(urljoin(url, section_link)).path)
            category = m.group("category") if m else None
        key = profile.article_key(url)
        for cid in (category, key[0] if key else None):
            found = catalog.section_by_category(cid) if cid else None
            if found:
                section = found.slug
                break
    return RawArticle(
        ref=ref,
        url=ref.url or profile.canonical_url(url),
        title=title,
        body_html=unicodedata.normalize("NFC", _inner_html(body)),
        lead=ref.lead,
        author=author,
        published=published,
        date_source=date_source,
        image=image,
        section=section,
    )


def parse_listing(
    profile: LayoutProfile, text: str, url: str, *, source: str, section: str | None
) -> list[ArticleRef]:
    """Article references of one listing page, in page order (newest first)."""
    doc = parse_html(text)
    sel = profile.listing
    refs: list[ArticleRef] = []
    seen: set[str] = set()
    for xp in sel["item"]:
        items = xp(doc)
        if items:
            break
    else:
        items = []
    for item in items:
        link = _first_text(sel["link"], item)
        if not link:
            continue
        absolute = urljoin(url, link)
        article_id = profile.article_id(absolute)
        if article_id is None or article_id in seen:
            continue
        seen.add(article_id)
        thumb = _first_text(sel.get("thumbnail", []), item)
        refs.append(
            ArticleRef(
                source=source,
                id=article_id,
                url=profile.canonical_url(absolute),
                section=section,
                title=_first_text(sel.get("title", []), item) or None,
                lead=_first_text(sel.get("lead", []), item) or None,
                thumbnail=urljoin(url, thumb) if thumb else None,
                published=parse_date(_first_text(sel.get("date", []), item), profile.timezone),
            )
        )
    return refs


class HtmlSource:
    """The paper's site: walks each section's listing pages, fetches article pages."""

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

    def listing_url(self, category_id: int, listing: str, page: int) -> str:
        path = self.profile.listing_template.format(
            category_id=category_id, listing=listing, page=page
        )
        return urljoin(self.profile.base_url, path)

    def list_latest(
        self,
        *,
        deadline: float | None = None,
        known: Callable[[str], bool] | None = None,
        max_pages: int | None = None,
    ) -> list[ArticleRef]:
        """Each section's first page; further pages while they still hold unknown articles."""
        refs: list[ArticleRef] = []
        seen: set[str] = set()
        errors: list[str] = []
        pages = max_pages or self.max_pages
        for section in self.sections:
            assert section.category_id is not None and section.listing
            for page in range(1, pages + 1):
                url = self.listing_url(section.category_id, section.listing, page)
                try:
                    fetched = self.fetcher.get(url, deadline=deadline)
                except NotFoundError:
                    if page == 1:
                        errors.append(f"{url}: listing page not found")
                    break
                except FetchError as e:
                    errors.append(str(e))
                    break
                self.pages_fetched += 1
                page_refs = parse_listing(
                    self.profile, fetched.text, url, source=self.name, section=section.slug
                )
                fresh = [r for r in page_refs if r.id not in seen]
                for r in fresh:
                    seen.add(r.id)
                refs.extend(fresh)
                if not page_refs or (known is not None and all(known(r.id) for r in page_refs)):
                    break
        if not refs and errors:
            raise FetchError(f"source {self.name}: no listing could be read: {errors[0]}")
        refs.sort(key=lambda r: r.published or datetime.min.replace(tzinfo=UTC), reverse=True)
        return refs

    def fetch(self, ref: ArticleRef, *, deadline: float | None = None) -> RawArticle:
        page = self.fetcher.get(ref.url, deadline=deadline)
        try:
            return parse_article(
                self.profile, page.text, page.url or ref.url, ref=ref, catalog=self.catalog
            )
        except ParseError as e:
            raise ParseError(f"source {self.name}: {e}") from e

    def close(self) -> None:
        self.fetcher.close()


def make_fetcher(src: SourceSettings, settings: Settings) -> Fetcher:
    if src.snapshot:
        root = DEMO_SNAPSHOT if src.snapshot == "demo" else Path(src.snapshot)
        return DirectoryFetcher(root)
    from . import fetch

    factory = getattr(fetch, "http_fetcher_from_settings", None)
    if factory is None:  # pragma: no cover - until the HTTP fetcher lands
        raise LayoutError(f"source {src.name}: live HTTP fetching is not available")
    return factory(settings)  # type: ignore[no-any-return,unused-ignore]


def make_html_source(src: SourceSettings, settings: Settings, catalog: Catalog) -> HtmlSource:
    profile = load_profile(src.layout)
    return HtmlSource(
        src.name,
        profile,
        make_fetcher(src, settings),
        catalog,
        sections=src.sections,
        max_pages=src.max_pages,
    )
