"""feedsvc: syndication feeds for Báo Hòa Bình, by section and by district."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from .settings import Settings

try:
    __version__ = version("feedsvc")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"


def create_app(settings: Settings | None = None) -> Flask:
    """The Flask app factory: tests pass their own settings; production reads the config."""
    from .web import build_app

    return build_app(settings)
