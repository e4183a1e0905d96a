"""One exception hierarchy for the whole service.

Errors are converted where they enter (network, parser, SQL, config) and keep
their cause (``raise ... from e``), so callers only ever catch ``FeedsvcError``
subclasses. Each also subclasses the fitting builtin so generic code still works.
"""

from __future__ import annotations


class FeedsvcError(Exception):
    """Base of every error feedsvc raises on purpose."""


class ConfigError(FeedsvcError, ValueError):
    """A config file (or FEEDSVC_* variable) is missing, malformed or has a bad key/value.

    The message always names the file (or variable) and the key.
    """


class SourceError(FeedsvcError):
    """A source could not deliver: the message names the source and the URL."""


class FetchError(SourceError):
    """Fetching a URL failed (network, HTTP status, size cap, robots.txt, deadline)."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class NotFoundError(FetchError):
    """The source answered 404 or 410: the page is gone (a takedown, not a failure)."""


class ParseError(SourceError):
    """A page or feed could not be understood (layout changed, garbage body)."""


class LayoutError(ConfigError):
    """A layout profile fails to load or a selector in it is invalid."""


class StoreError(FeedsvcError):
    """The store failed (database unavailable, schema too new, ...)."""


class LeaseHeldError(StoreError):
    """Another collector holds the collection lease."""


class NotFound(FeedsvcError, LookupError):
    """A feed slug (or other public name) that does not exist."""
