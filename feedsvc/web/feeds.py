"""GET /feeds/<slug>.xml|.atom|.json: pick the scope, handle HTTP; render.py does the rest."""

from __future__ import annotations

import threading
from email.utils import format_datetime

from flask import Blueprint, Response, abort, current_app, request

from ..exceptions import NotFound
from ..render import FORMATS, Format, RenderedFeed, render_feed
from . import get_service

bp = Blueprint("feeds", __name__)

_cache: dict[tuple[str, Format, int], tuple[int, RenderedFeed]] = {}
_cache_lock = threading.Lock()


def parse_limit(default: int, maximum: int) -> int:
    raw = request.args.get("limit")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(Response(f"limit must be an integer, got {raw!r}\n", 400, mimetype="text/plain"))
    return min(max(value, 1), maximum)


def rendered(slug: str, fmt: Format, limit: int) -> RenderedFeed:
    service = get_service(current_app)
    scope = service.catalog.lookup(slug)
    version = service.store.version()
    key = (slug, fmt, limit)
    hit = _cache.get(key)
    if hit and hit[0] == version:
        return hit[1]
    feed = render_feed(scope, service.store.latest(scope, limit), service.feed_context, fmt)
    with _cache_lock:
        _cache[key] = (version, feed)
    return feed


@bp.get("/feeds/<slug>.<ext>")
def feed(slug: str, ext: str) -> Response:
    fmt = FORMATS.get(ext)
    if fmt is None:
        abort(404)
    service = get_service(current_app)
    limit = parse_limit(service.settings.feeds.default_limit, service.settings.feeds.max_limit)
    try:
        body = rendered(slug, fmt, limit)
    except NotFound:
        abort(404)
    resp = Response(body.body, content_type=body.content_type)
    resp.headers["ETag"] = body.etag
    if body.last_modified:
        resp.headers["Last-Modified"] = format_datetime(body.last_modified, usegmt=True)
    return resp
