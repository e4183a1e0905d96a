"""The plain data that flows through the pipeline.

source.list_latest() -> ArticleRef; source.fetch(ref) -> RawArticle;
sanitise + tag_places -> Article; store.save(Article).
All datetimes are timezone-aware; stored and compared in UTC.
All text is NFC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

#: How an article's publish time was learnt, best first.
DATE_SOURCES = ("page", "feed", "listing", "image", "discovered")


@dataclass(frozen=True)
class ArticleRef:
    """An article seen in a listing (or upstream feed), not yet fetched."""

    source: str
    id: str  # the stable public id, e.g. tag:baohoabinh.com.vn,2006:169105
    url: str  # canonical URL
    section: str | None = None  # section slug, when the listing tells
    title: str | None = None
    lead: str | None = None
    thumbnail: str | None = None
    published: datetime | None = None


@dataclass
class RawArticle:
    """What a source extracted from one article page, before sanitising."""

    ref: ArticleRef
    url: str
    title: str
    body_html: str  # the article body only: boilerplate already removed, NOT yet safe
    lead: str | None = None
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    date_source: str = "page"
    image: str | None = None
    image_caption: str | None = None
    section: str | None = None
    categories: tuple[str, ...] = ()  # upstream category names, matched to a section later


@dataclass(frozen=True)
class PlaceTag:
    """One district an article concerns, with the evidence for it."""

    district: str  # district slug
    phrase: str  # the text that produced the tag, as written
    field: str  # "title" | "summary" | "body"
    unit: str | None = None  # the commune/ward named, when it was one


@dataclass
class Article:
    """A clean article, ready to store and render."""

    id: str
    source: str
    url: str
    title: str
    summary: str  # plain text
    content_html: str  # sanitised HTML
    published: datetime
    updated: datetime
    author: str | None = None
    section: str | None = None
    places: tuple[PlaceTag, ...] = ()
    image: str | None = None
    image_caption: str | None = None
    date_source: str = "page"
    hidden: bool = False
    fetched_at: datetime | None = None

    @property
    def districts(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for tag in self.places:
            seen.setdefault(tag.district, None)
        return tuple(seen)


@dataclass
class CollectResult:
    """What one collection of one source did."""

    source: str
    seen: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    gone: int = 0  # stored articles the source now answers 404/410 for (taken down)
    errors: list[str] = field(default_factory=list)
    error: str | None = None  # the source as a whole failed
    broken: str | None = None  # why the source looks broken (layout changed?), an alarm
    skipped: str | None = None  # why the source was not collected (backing off)
    interrupted: bool = False  # a stop request (SIGTERM) ended the run early
    not_modified: bool = False  # the upstream answered 304: nothing to do

    @property
    def ok(self) -> bool:
        return self.error is None
