"""Wiring: settings -> catalog, store, gazetteer, sources, feed context. Built once per process.

Both the web app and the CLI take a Service; tests build one from their own settings.
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from urllib.parse import urljoin

from .catalog import ALL_SLUG, Catalog, load_catalog
from .collector import Pipeline, run_collection
from .model import CollectResult
from .places import Gazetteer, load_gazetteer
from .render import FeedContext
from .settings import Settings
from .sources import Source, make_source
from .store import Store


def paper_pages(catalog: Catalog, site_url: str, section_page: str) -> dict[str, str]:
    """Scope slug -> the paper's own page for it: the home page for all news, a section's
    listing page; districts have none (their feeds link to our preview page)."""
    pages = {ALL_SLUG: site_url}
    if section_page:
        for s in catalog.sections:
            if s.category_id is not None and (s.listing or "{listing}" not in section_page):
                path = section_page.format(
                    category_id=s.category_id, listing=s.listing, slug=s.slug
                )
                pages[s.slug] = urljoin(site_url, path)
    return pages


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog: Catalog = load_catalog(settings)
        self.store = Store(
            settings.database.url, busy_timeout_s=settings.database.busy_timeout_seconds
        )
        self._lock = threading.Lock()

    @cached_property
    def gazetteer(self) -> Gazetteer:
        aliases = self.settings.catalog.place_aliases
        return load_gazetteer(
            Path(self.settings.catalog.districts), Path(aliases) if aliases else None
        )

    def pipeline(self) -> Pipeline:
        return Pipeline(
            store=self.store,
            catalog=self.catalog,
            gazetteer=self.gazetteer,
            summary_chars=self.settings.feeds.summary_chars,
        )

    def make_sources(self) -> list[tuple[Source, float]]:
        return [
            (make_source(src, self.settings, self.catalog), src.deadline_seconds)
            for src in self.settings.sources
        ]

    def collect(
        self,
        *,
        max_pages: int | None = None,
        respect_backoff: bool = False,
        stop: threading.Event | None = None,
        wait_s: float = 0.0,
    ) -> list[CollectResult]:
        """One collection under the collector lease (LeaseHeldError when another holds it)."""
        return run_collection(
            self.store,
            self.make_sources,
            self.pipeline(),
            settings=self.settings.collector,
            retention=self.settings.retention,
            max_pages=max_pages,
            respect_backoff=respect_backoff,
            stop=stop,
            wait_s=wait_s,
        )

    @cached_property
    def feed_context(self) -> FeedContext:
        s = self.settings.service
        feeds = self.settings.feeds
        return FeedContext(
            public_url=s.public_url,
            site_url=s.site_url,
            logo_url=s.logo_url,
            ttl_minutes=max(1, round(self.settings.schedule.every_minutes)),
            catalog=self.catalog,
            site_title=s.title,
            icon_url=feeds.icon_url,
            page_urls=paper_pages(self.catalog, s.site_url, feeds.section_page),
            max_bytes=feeds.max_bytes,
            max_item_bytes=feeds.max_item_bytes,
        )

    def close(self) -> None:
        self.store.close()
