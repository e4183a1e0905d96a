"""GET /feeds/<slug>.xml|.atom|.json: the hot path. render.py builds the bodies; this serves them.

Aggregators poll the same URLs every few minutes, forever, so a request should cost a version
check, a dict lookup and either the cached bytes or a 304. Everything that can be computed once
per render is computed then and kept in the render cache (feedsvc/cache.py): the gzip body, both
ETags and the header lists of every answer. ``FeedServer.respond`` is plain Python over the
request's few inputs; the Flask view below and the WSGI fast path (``FeedServer.wsgi``) only
adapt it.

Validators: one strong ETag per (feed, format, normalised limit), hashed from the body, with
``-gz`` appended for the gzip variant so that caches never mix the two; Last-Modified is the
newest item's time. Conditional requests follow RFC 9110 13.1-13.2: If-None-Match (weak
comparison, lists, ``*``) wins over If-Modified-Since.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import Any, cast
from urllib.parse import parse_qsl, quote

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request
from flask.blueprints import BlueprintSetupState

from ..cache import RenderCache
from ..exceptions import NotFound, StoreError
from ..render import EXTENSIONS, FORMATS, Format, RenderedFeed, render_feed
from ..service import Service
from . import get_service

log = logging.getLogger(__name__)

bp = Blueprint("feeds", __name__)

SERVER_KEY = "feedsvc.feeds"
GZIP_LEVEL = 6
RETRY_AFTER_S = 30  # 503: when to try again
STALE_MAX_AGE_S = 60  # a stale body (store down) should not stick in caches for long
NOT_FOUND_MAX_AGE_S = 60
REDIRECT_MAX_AGE_S = 86_400
ENTRY_OVERHEAD_BYTES = 2_048
NOT_FOUND_GROUPS = {
    "all": "Tất cả các tin",
    "section": "Theo chuyên mục",
    "district": "Theo huyện, thành phố",
}  # headers, ETags and bookkeeping beside the two bodies

FeedKey = tuple[str, Format, int]
Headers = list[tuple[str, str]]
Answer = tuple[int, Headers, bytes]

STATUS_LINES = {
    200: "200 OK",
    301: "301 Moved Permanently",
    304: "304 Not Modified",
    400: "400 Bad Request",
    404: "404 Not Found",
    503: "503 Service Unavailable",
}
_LIMIT_RE = re.compile(r"[+-]?[0-9]+")
_FEED_PATH_RE = re.compile(r"/feeds/([a-z0-9-]+)\.(xml|atom|json)")


class BadRequest(Exception):
    """A request parameter is wrong: the message is the reason shown to the client."""


# -- request parsing (pure, cached by header value: aggregators repeat the same headers) ------


def parse_limit(query: str, default: int, maximum: int) -> int:
    """The normalised ``limit``: the only parameter that selects a cache entry.

    Other parameters (a reader's cache-buster) are ignored. Not an integer, or given twice:
    BadRequest. Integers are clamped to 1..maximum, however many digits they have.
    """
    if "limit" not in query and "%" not in query:
        return default
    values = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "limit"]
    if not values:
        return default
    if len(values) > 1:
        raise BadRequest("limit chỉ được cho một lần (limit given more than once)")
    raw = values[0].strip()
    if raw == "":
        return default
    if not _LIMIT_RE.fullmatch(raw):
        raise BadRequest(f"limit phải là số nguyên (limit must be an integer), nhận được {raw!r}")
    digits = raw.lstrip("+-").lstrip("0")
    if len(digits) > 9:
        return 1 if raw.startswith("-") else maximum
    return min(max(int(raw), 1), maximum)


@lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """Whether to send gzip for this Accept-Encoding (RFC 9110 12.5.3): q=0 means "not"."""
    q_gzip: float | None = None
    q_identity: float | None = None
    q_any: float | None = None
    for part in accept_encoding.split(","):
        coding, _, params = part.partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            q_gzip = q if q_gzip is None else max(q_gzip, q)
        elif coding == "identity":
            q_identity = q
        elif coding == "*":
            q_any = q
    if q_gzip is None:
        q_gzip = q_any if q_any is not None else 0.0
    # Identity is always acceptable (RFC 9110 12.5.3); it wins only when preferred explicitly.
    return q_gzip > 0 and (q_identity is None or q_gzip >= q_identity)


@lru_cache(maxsize=1024)
def parse_if_none_match(header: str) -> frozenset[str] | None:
    """The entity-tags of If-None-Match, W/ dropped (weak comparison); None stands for ``*``.

    Lenient with broken clients: an unquoted tag is read as if quoted.
    """
    tags = set()
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == "*":
            return None
        if tag:
            tags.add(tag if tag.startswith('"') else f'"{tag}"')
    return frozenset(tags)


def none_match(header: str, etag: str) -> bool:
    """True when If-None-Match matches ``etag``: the client's copy is current."""
    tags = parse_if_none_match(header)
    return tags is None or etag in tags


@lru_cache(maxsize=256)
def parse_http_date(value: str) -> datetime | None:
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


# -- what the cache holds -----------------------------------------------------------------------


class ServedFeed:
    """One rendered feed variant with everything a response needs, built once per render."""

    __slots__ = (
        "body",
        "gzip_body",
        "etag",
        "gzip_etag",
        "last_modified",
        "size",
        "_common",
        "_headers",
    )

    def __init__(self, key: FeedKey, feed: RenderedFeed, cache_control: str) -> None:
        slug, fmt, limit = key
        self.body = feed.body
        self.gzip_body = gzip.compress(feed.body, compresslevel=GZIP_LEVEL, mtime=0)
        digest = hashlib.blake2b(
            f"{slug}.{EXTENSIONS[fmt]}?limit={limit}\n".encode() + feed.body, digest_size=16
        ).hexdigest()
        self.etag = f'"{digest}"'
        self.gzip_etag = f'"{digest}-gz"'
        lm = (
            feed.last_modified.astimezone(UTC).replace(microsecond=0)
            if feed.last_modified
            else None
        )
        self.last_modified = lm
        self._common: Headers = [("Content-Type", feed.content_type)]
        if lm is not None:
            self._common.append(("Last-Modified", format_datetime(lm, usegmt=True)))
        self._common += [
            ("Vary", "Accept-Encoding"),
            ("Access-Control-Allow-Origin", "*"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        self._headers: dict[tuple[int, bool, str, str], Headers] = {}
        self.size = len(self.body) + len(self.gzip_body) + ENTRY_OVERHEAD_BYTES
        self.headers(200, False, "MISS", cache_control)  # the first answer's, built eagerly

    def headers(self, status: int, gz: bool, state: str, cache_control: str) -> Headers:
        """The header list of one answer (memoised: a handful of combinations per entry)."""
        memo_key = (status, gz, state, cache_control)
        found = self._headers.get(memo_key)
        if found is not None:
            return found
        out: Headers = [("ETag", self.gzip_etag if gz else self.etag)]
        out.append(("Cache-Control", cache_control))
        if status == 304:
            # RFC 9110 15.4.5: what a 200 would carry of ETag, Cache-Control, Vary (and more).
            out += [h for h in self._common if h[0] != "Content-Type"]
        else:
            out += self._common
            if gz:
                out.append(("Content-Encoding", "gzip"))
            out.append(("Content-Length", str(len(self.gzip_body if gz else self.body))))
        out.append(("X-Cache", state))
        self._headers[memo_key] = out
        return out


def _size_of(entry: ServedFeed) -> int:
    return entry.size


# -- the server ---------------------------------------------------------------------------------


class FeedServer:
    """Serves feed URLs from a per-worker render cache kept current by ``Store.version()``."""

    def __init__(self, service: Service) -> None:
        self.service = service
        settings = service.settings
        self.default_limit = settings.feeds.default_limit
        self.max_limit = settings.feeds.max_limit
        cache = settings.cache
        max_age = cache.max_age_seconds
        if max_age < 0:
            max_age = max(60, round(settings.schedule.every_minutes * 60))
        parts = ["public", f"max-age={max_age}"]
        if cache.stale_while_revalidate_seconds:
            parts.append(f"stale-while-revalidate={cache.stale_while_revalidate_seconds}")
        if cache.stale_if_error_seconds:
            parts.append(f"stale-if-error={cache.stale_if_error_seconds}")
        self.cache_control = ", ".join(parts)
        self.stale_cache_control = f"public, max-age={min(max_age, STALE_MAX_AGE_S)}"
        self.version_check_s = cache.version_check_seconds
        self.cache: RenderCache[FeedKey, ServedFeed] = RenderCache(cache.max_bytes, _size_of)
        # Called with the key before each render (metrics; tests count and hold renders).
        self.on_render: Callable[[FeedKey], None] | None = None
        self._version = -1
        self._next_check = 0.0

    def version(self) -> int:
        """The store's change counter, asked at most once per ``version_check_seconds``."""
        if self.version_check_s > 0:
            now = time.monotonic()
            if now < self._next_check:
                return self._version
            self._version = self.service.store.version()
            self._next_check = now + self.version_check_s
            return self._version
        return self.service.store.version()

    def _render(self, key: FeedKey) -> ServedFeed:
        if self.on_render is not None:
            self.on_render(key)
        slug, fmt, limit = key
        scope = self.service.catalog.lookup(slug)
        articles = self.service.store.latest(scope, limit)
        # A non-default limit goes into the self link: validators compare it with the URL.
        shown = None if limit == self.default_limit else limit
        feed = render_feed(scope, articles, self.service.feed_context, fmt, limit=shown)
        return ServedFeed(key, feed, self.cache_control)

    def respond(
        self,
        method: str,
        slug: str,
        ext: str,
        query: str = "",
        if_none_match: str | None = None,
        if_modified_since: str | None = None,
        accept_encoding: str | None = None,
    ) -> Answer:
        """The answer to GET/HEAD /feeds/<slug>.<ext>?<query>. NotFound for an unknown feed."""
        fmt = FORMATS.get(ext)
        if fmt is None:
            raise NotFound(f"no feed format {ext!r}")
        self.service.catalog.lookup(slug)
        try:
            limit = parse_limit(query, self.default_limit, self.max_limit)
        except BadRequest as e:
            return self._error(400, str(e))
        key = (slug, fmt, limit)
        state = "HIT"
        cache_control = self.cache_control
        try:
            entry, hit = self.cache.get(key, self.version(), lambda: self._render(key))
            if not hit:
                state = "MISS"
        except Exception as e:
            # The store is down (StoreError) or, a bug, the render failed: the last good body
            # is better for a reader than an error.
            if not isinstance(e, StoreError):
                log.exception("feed=%s.%s limit=%d render failed", slug, ext, limit)
            stale = self.cache.peek(key)
            if stale is None:
                if not isinstance(e, StoreError):
                    raise
                log.warning("feed=%s.%s limit=%d store unavailable: %s", slug, ext, limit, e)
                return self._unavailable()
            log.warning("feed=%s.%s limit=%d serving stale: %s", slug, ext, limit, e)
            entry, state, cache_control = stale, "STALE", self.stale_cache_control
        gz = accepts_gzip(accept_encoding) if accept_encoding else False
        if if_none_match is not None:
            fresh = none_match(if_none_match, entry.gzip_etag if gz else entry.etag)
        elif if_modified_since is not None and entry.last_modified is not None:
            since = parse_http_date(if_modified_since)
            fresh = since is not None and since >= entry.last_modified
        else:
            fresh = False
        if fresh:
            return 304, entry.headers(304, gz, state, cache_control), b""
        headers = entry.headers(200, gz, state, cache_control)
        if method == "HEAD":
            return 200, headers, b""
        return 200, headers, entry.gzip_body if gz else entry.body

    def _error(self, status: int, reason: str) -> Answer:
        body = (reason + "\n").encode()
        return (
            status,
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                ("Access-Control-Allow-Origin", "*"),
                ("X-Content-Type-Options", "nosniff"),
            ],
            body,
        )

    def _unavailable(self) -> Answer:
        status, headers, body = self._error(
            503, "Kho dữ liệu tạm thời không truy cập được, xin thử lại sau. (store unavailable)"
        )
        return status, [*headers, ("Retry-After", str(RETRY_AFTER_S))], body

    def wsgi(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """WSGI middleware answering feed URLs before Flask; anything else goes to ``app``."""

        def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            method = environ["REQUEST_METHOD"]
            match = _FEED_PATH_RE.fullmatch(environ.get("PATH_INFO", ""))
            if match is None or (method != "GET" and method != "HEAD"):
                return app(environ, start_response)
            try:
                status, headers, body = self.respond(
                    method,
                    match[1],
                    match[2],
                    environ.get("QUERY_STRING", ""),
                    environ.get("HTTP_IF_NONE_MATCH"),
                    environ.get("HTTP_IF_MODIFIED_SINCE"),
                    environ.get("HTTP_ACCEPT_ENCODING"),
                )
            except NotFound:
                return app(environ, start_response)
            start_response(STATUS_LINES[status], list(headers))
            return [body] if body else []

        serve.__wrapped__ = app  # type: ignore[attr-defined]
        return serve


def feed_server(app: Flask) -> FeedServer:
    server: FeedServer = app.extensions[SERVER_KEY]
    return server


@bp.record_once
def _install(state: BlueprintSetupState) -> None:
    app = cast(Flask, state.app)
    server = FeedServer(get_service(app))
    app.extensions[SERVER_KEY] = server
    app.wsgi_app = server.wsgi(app.wsgi_app)  # type: ignore[method-assign]


# -- Flask routes -------------------------------------------------------------------------------


@bp.get("/feeds/<slug>.<ext>")
def feed(slug: str, ext: str) -> Response:
    """Reached when the fast path passes (unknown feeds) or is bypassed; same answers."""
    env = request.environ
    try:
        status, headers, body = feed_server(current_app).respond(
            request.method,
            slug,
            ext,
            env.get("QUERY_STRING", ""),
            env.get("HTTP_IF_NONE_MATCH"),
            env.get("HTTP_IF_MODIFIED_SINCE"),
            env.get("HTTP_ACCEPT_ENCODING"),
        )
    except NotFound:
        abort(404)
    return Response(body, status=status, headers=headers)


@bp.get("/rss/<slug>.rss")
def rss_alias(slug: str) -> Response:
    """What aggregators try first on Vietnamese papers: 301 to the RSS feed, keeping ?limit."""
    service = get_service(current_app)
    try:
        service.catalog.lookup(slug)
    except NotFound:
        abort(404)
    location = f"/feeds/{slug}.xml"
    limits = [v for k, v in parse_qsl(request.query_string.decode("latin-1")) if k == "limit"]
    if limits:
        location += "?" + "&".join(f"limit={quote(v, safe='')}" for v in limits)
    resp = Response(status=301, headers={"Location": location})
    resp.headers["Cache-Control"] = f"public, max-age={REDIRECT_MAX_AGE_S}"
    resp.autocorrect_location_header = False
    return resp


@bp.app_errorhandler(404)
def not_found(_error: Exception) -> tuple[str, int, dict[str, str]]:
    """Any unknown URL: a Vietnamese page listing the feeds that do exist."""
    service = get_service(current_app)
    scopes = service.catalog.scopes()
    page = render_template(
        "404.html",
        path=request.path,
        groups=[
            (kind, title, [s for s in scopes if s.kind == kind])
            for kind, title in NOT_FOUND_GROUPS.items()
        ],
        alternates=[],
        site_title=service.settings.service.title,
    )
    return (
        page,
        404,
        {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": f"public, max-age={NOT_FOUND_MAX_AGE_S}",
            "X-Content-Type-Options": "nosniff",
        },
    )
