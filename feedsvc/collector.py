"""The collection pipeline. One failure never stops the batch.

For each source::

    source.list_latest()     -> [ArticleRef]          newest first
    store.needs_fetch(refs)  -> only the new ones
    source.fetch(ref)        -> RawArticle            boilerplate already removed
    sanitise_article(raw)    -> clean HTML, text, summary, image, author
    tag_places(article)      -> district tags with evidence
    store.save(article)      -> new | updated | unchanged   (one transaction each)

The sanitiser runs here, once, at ingest: what is stored is already safe to serve.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .catalog import Catalog
from .exceptions import FeedsvcError, NotFoundError, ParseError, SourceError
from .model import Article, CollectResult, RawArticle
from .places import Gazetteer, tag_places
from .sanitise import clean_url, sanitise_article, strip_xml_illegal
from .sources import Source
from .store import Store
from .text import nfc, squash_spaces

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Pipeline:
    """What the stages need besides the source: the catalog, the gazetteer, the store."""

    store: Store
    catalog: Catalog
    gazetteer: Gazetteer
    summary_chars: int = 300


def build_article(raw: RawArticle, pipe: Pipeline, *, source: str, now: datetime) -> Article:
    """Sanitise and tag one raw article. Pure: no I/O."""
    # Page metadata (og:url/og:image, listing thumbnails, upstream feed links) passes the
    # sanitiser's URL policy like body URLs do: it is served as <link>, <img src>, JSON url.
    url = clean_url(raw.url, raw.ref.url, kind="link") or clean_url(
        raw.ref.url, raw.ref.url, kind="link"
    )
    if url is None:
        raise ParseError(f"{raw.ref.url}: the article's URL {raw.url[:200]!r} is not http(s)")
    clean = sanitise_article(raw.body_html, url, summary_chars=pipe.summary_chars)
    title = squash_spaces(strip_xml_illegal(nfc(raw.title)))
    summary = clean.summary or squash_spaces(strip_xml_illegal(nfc(raw.lead or "")))
    section = raw.section or raw.ref.section or pipe.catalog.match_section(*raw.categories)
    places = tag_places(pipe.gazetteer, title=title, summary=summary, body=clean.text)
    published = raw.published or raw.ref.published
    date_source = raw.date_source
    if published is None:
        published, date_source = now, "discovered"
    author = raw.author or clean.author
    images = (i for i in (raw.image, clean.image, raw.ref.thumbnail) if i)
    return Article(
        id=raw.ref.id,
        source=source,
        url=url,
        title=title,
        summary=summary,
        content_html=clean.html,
        published=published,
        updated=raw.updated or published,
        author=nfc(author) if author else None,
        section=section,
        places=tuple(places),
        image=next(filter(None, (clean_url(i, url, kind="image") for i in images)), None),
        image_caption=clean.image_caption,
        date_source=date_source,
        fetched_at=now,
    )


def collect_source(
    source: Source,
    pipe: Pipeline,
    *,
    deadline_s: float,
    now: Clock = utcnow,
    max_pages: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CollectResult:
    """Collect one source. Raises nothing: failures are recorded in the result."""
    result = CollectResult(source=source.name)
    deadline = time.monotonic() + deadline_s
    try:
        kwargs: dict[str, object] = {"deadline": deadline, "known": pipe.store.known_ids}
        if max_pages is not None:
            kwargs["max_pages"] = max_pages
        refs = source.list_latest(**kwargs)  # type: ignore[arg-type]
    except FeedsvcError as e:
        result.error = str(e)
        log.warning("collect source=%s stage=list error=%s", source.name, e)
        return result
    result.seen = len(refs)
    if not refs and getattr(source, "not_modified", False):  # a 304: nothing new, no alarm
        result.not_modified = True
        log.info("collect source=%s not modified", source.name)
        return result
    todo = pipe.store.needs_fetch(refs)
    result.unchanged = len(refs) - len(todo)
    for i, ref in enumerate(todo, 1):
        if time.monotonic() > deadline:
            result.error = (
                f"source {source.name}: deadline of {deadline_s:g}s reached with "
                f"{len(todo) - i + 1} articles left (they are collected next time)"
            )
            break
        try:
            raw = source.fetch(ref, deadline=deadline)
            article = build_article(raw, pipe, source=source.name, now=now())
            status = pipe.store.save(article, now=now())
        except NotFoundError as e:
            result.failed += 1
            result.errors.append(str(e))
            log.info("collect source=%s url=%s gone=%s", source.name, ref.url, e)
            continue
        except (SourceError, FeedsvcError) as e:
            result.failed += 1
            result.errors.append(f"{ref.url}: {e}")
            log.warning("collect source=%s url=%s error=%s", source.name, ref.url, e)
            continue
        except Exception as e:  # a bug in one article must not stop the batch
            result.failed += 1
            result.errors.append(f"{ref.url}: unexpected {type(e).__name__}: {e}")
            log.exception("collect source=%s url=%s unexpected error", source.name, ref.url)
            continue
        if status == "new":
            result.new += 1
        elif status == "updated":
            result.updated += 1
        else:
            result.unchanged += 1
        if progress is not None:
            progress(i, len(todo))
    if not refs and result.error is None:
        result.error = (
            f"source {source.name}: the listing yielded no articles "
            "(has the site's layout changed?)"
        )
    log.info(
        "collect source=%s seen=%d new=%d updated=%d unchanged=%d failed=%d error=%s",
        source.name,
        result.seen,
        result.new,
        result.updated,
        result.unchanged,
        result.failed,
        result.error or "-",
    )
    return result


def collect(
    sources: Sequence[tuple[Source, float]],
    pipe: Pipeline,
    *,
    now: Clock = utcnow,
    max_pages: int | None = None,
) -> list[CollectResult]:
    """Collect every source; one failing source never stops another."""
    return [
        collect_source(src, pipe, deadline_s=deadline_s, now=now, max_pages=max_pages)
        for src, deadline_s in sources
    ]
