"""Sources: the Protocol every adapter follows, and the one place kinds are wired to adapters.

A source lists the latest articles (``ArticleRef``) and fetches one (``RawArticle``).
Fetching bytes (sources/fetch.py) and understanding them (html.py, feed.py) are separate,
so the bundled demo snapshot goes through the production parser.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Protocol

from ..catalog import Catalog
from ..exceptions import ConfigError
from ..model import ArticleRef, RawArticle
from ..settings import Settings, SourceSettings

if TYPE_CHECKING:
    from .fetch import ValidatorStore


class Source(Protocol):
    name: str

    def list_latest(
        self,
        *,
        deadline: float | None = None,
        known: Callable[[Sequence[str]], AbstractSet[str]] | None = None,
        max_pages: int | None = None,
    ) -> list[ArticleRef]:
        """Newest first. An empty list is an alarm (the layout changed?), unless the source
        sets ``self.not_modified = True`` first (its upstream answered 304).

        ``known`` answers which of some ids the store already has (a paged listing stops
        where they begin); ``max_pages`` asks a paged listing for a backfill of that many
        pages. A source without pages ignores both.
        """
        ...

    def fetch(self, ref: ArticleRef, *, deadline: float | None = None) -> RawArticle: ...

    def close(self) -> None: ...


class SourceFactory(Protocol):
    """Builds a source; ``validators`` is where its HTTP fetcher keeps ETag/Last-Modified
    between runs (None: in memory only)."""

    def __call__(
        self,
        src: SourceSettings,
        settings: Settings,
        catalog: Catalog,
        *,
        validators: ValidatorStore | None = None,
    ) -> Source: ...


_REGISTRY: dict[str, SourceFactory] = {}


def register(kind: str, factory: SourceFactory) -> None:
    _REGISTRY[kind] = factory


def make_source(
    src: SourceSettings,
    settings: Settings,
    catalog: Catalog,
    *,
    validators: ValidatorStore | None = None,
) -> Source:
    _load_builtin()
    try:
        factory = _REGISTRY[src.kind]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(
            f"source {src.name!r}: unknown kind {src.kind!r} (known: {known})"
        ) from None
    return factory(src, settings, catalog, validators=validators)


def _load_builtin() -> None:
    if "html" not in _REGISTRY:
        from . import html

        register("html", html.make_html_source)
    if "feed" not in _REGISTRY:
        from . import feed

        register("feed", feed.make_feed_source)
