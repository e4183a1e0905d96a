"""Pages for people: the directory, a feed's preview, the OPML list and the headline widget.

Feeds are for programs; these pages are for the people who choose them, and browsers no
longer render feeds themselves. Every HTML page links the feeds it shows with
``<link rel="alternate">`` so that a feed reader given the page's address finds them.

``/embed/<slug>`` is a tiny, script-free page made to be framed by other sites (district
and commune portals); ``/embed.js`` renders the same list into a host page from the JSON
Feed. Both are described on the directory with copy-paste snippets. Everything a page needs
is served from here (no CDN, no outside fonts).

Hrefs inside our pages are relative, so the pages work wherever they are served from; the
addresses people copy (feed URLs, OPML, snippets) are absolute, built from
``[service] public_url``.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from html import escape
from pathlib import Path
from typing import Any, Literal

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from lxml import etree
from markupsafe import Markup
from werkzeug.routing import BaseConverter

from ..catalog import ALL_SLUG, Scope
from ..exceptions import NotFound
from ..model import Article
from ..render import EXTENSIONS, Format, local
from ..service import Service
from . import get_service
from .feeds import feed_server
from .security import embed_csp

bp = Blueprint("pages", __name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE_CACHE = "public, max-age=60"
# Other sites paste /embed.js into their pages: a changed script reaches them within the hour.
SCRIPT_CACHE = "public, max-age=3600"
WIDGET_MAX_N = 20
WIDGET_DEFAULT_N = 5
EMBED_CACHE_SIZE = 512
CACHE_KEY = "feedsvc.pages"
OPML_MIMETYPE = "text/x-opml"
FORMAT_LABELS: dict[Format, str] = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}
LINK_TYPES: dict[Format, str] = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
GROUP_NAMES = {"all": "Tin mới nhất", "section": "Chuyên mục", "district": "Huyện, thành phố"}
Theme = Literal["light", "dark"]


class SlugConverter(BaseConverter):
    """A feed name with no dot, so ``/feeds/<slug>`` never swallows ``/feeds/<slug>.xml``."""

    regex = r"[a-z0-9]+(?:-[a-z0-9]+)*"


@bp.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    # Runs before this blueprint's rules are added, which need the converter to compile.
    state.app.url_map.converters.setdefault("slug", SlugConverter)


# -- helpers shared by the templates ---------------------------------------------------------


def vn_datetime(dt: datetime | None) -> str:
    """How the paper writes a time: dd/mm/yyyy HH:MM in Vietnam's time (+07:00)."""
    return local(dt).strftime("%d/%m/%Y %H:%M") if dt else ""


def iso_local(dt: datetime | None) -> str:
    return local(dt).isoformat() if dt else ""


def http_url(url: str | None) -> str | None:
    """Only http(s) addresses become links or images; anything else is dropped."""
    if url and url.split(":", 1)[0].lower() in ("http", "https"):
        return url
    return None


@cache
def _static_version(filename: str) -> str:
    return hashlib.blake2b((STATIC_DIR / filename).read_bytes(), digest_size=4).hexdigest()


def static_url(filename: str) -> str:
    """A static file's URL carrying its content hash, so a new release is never served stale."""
    return url_for("static", filename=filename, v=_static_version(filename))


@bp.app_template_global("public_base")
def public_base() -> str:
    return get_service(current_app).settings.service.public_url.rstrip("/")


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {
        "static_url": static_url,
        "vn_datetime": vn_datetime,
        "iso_local": iso_local,
        "http_url": http_url,
        "FORMAT_LABELS": FORMAT_LABELS,
        "EXTENSIONS": EXTENSIONS,
        "LINK_TYPES": LINK_TYPES,
    }


@dataclass(frozen=True)
class Alternate:
    """One ``<link rel="alternate">`` tag."""

    title: str
    type: str
    href: str


def alternates(scopes: Sequence[Scope]) -> list[Alternate]:
    """Autodiscovery for each feed a page shows, in all three formats, RSS first."""
    out = []
    for scope in scopes:
        for fmt, mimetype in LINK_TYPES.items():
            href = url_for("feeds.feed", slug=scope.slug, ext=EXTENSIONS[fmt])
            out.append(Alternate(f"{scope.title} ({FORMAT_LABELS[fmt]})", mimetype, href))
    return out


def cached_response(
    body: str | bytes,
    mimetype: str,
    cache_control: str,
    last_modified: datetime | None = None,
) -> Response:
    """ETag from the body, Cache-Control and Last-Modified, answered with 304 when they match."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    resp = Response(data, mimetype=mimetype)
    resp.set_etag(hashlib.blake2b(data, digest_size=16).hexdigest())
    if last_modified:
        resp.last_modified = last_modified
    resp.headers["Cache-Control"] = cache_control
    resp.make_conditional(request)  # turns resp into a 304 in place when the client has it
    return resp


# -- what the directory shows about each feed ------------------------------------------------


@dataclass(frozen=True)
class FeedInfo:
    scope: Scope
    count: int
    last_change: datetime | None


def newest_change(articles: Sequence[Article]) -> datetime | None:
    """When a feed last changed: its newest publication or edit (the feed's Last-Modified)."""
    return max((max(a.published, a.updated) for a in articles), default=None)


class PageCache:
    """What the pages rebuild only when the store changed; one per app (per worker)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.directory: tuple[int, list[FeedInfo]] | None = None
        self.embeds: OrderedDict[tuple[str, WidgetOptions], _Rendered] = OrderedDict()


def page_cache(app: Flask) -> PageCache:
    cache: PageCache = app.extensions.setdefault(CACHE_KEY, PageCache())
    return cache


def feed_infos(service: Service) -> list[FeedInfo]:
    """Every feed with its article count and last change, recomputed only when data changed."""
    version = service.store.version()
    cache = page_cache(current_app)
    hit = cache.directory
    if hit and hit[0] == version:
        return hit[1]
    counts = service.store.counts()
    limit = service.settings.feeds.default_limit
    infos = [
        FeedInfo(s, counts.get(s.slug, 0), newest_change(service.store.latest(s, limit)))
        for s in service.catalog.scopes()
    ]
    with cache.lock:
        cache.directory = (version, infos)
    return infos


# -- widget options --------------------------------------------------------------------------


@dataclass(frozen=True)
class WidgetOptions:
    """What a site embedding our headlines may choose. The defaults are left out of URLs."""

    n: int = WIDGET_DEFAULT_N
    thumbs: bool = False
    dates: bool = True
    theme: Theme = "light"

    def query(self) -> str:
        parts = []
        if self.n != WIDGET_DEFAULT_N:
            parts.append(f"n={self.n}")
        if self.thumbs:
            parts.append("thumbs=1")
        if not self.dates:
            parts.append("dates=0")
        if self.theme != "light":
            parts.append(f"theme={self.theme}")
        return "?" + "&".join(parts) if parts else ""

    @property
    def iframe_height(self) -> int:
        """A height that fits the list in a column about 300px wide; the page scrolls beyond."""
        row = 98 if self.thumbs else 88
        return 40 + self.n * row


class BadOption(ValueError):
    pass


_FLAGS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False}
_FLAGS |= {"no": False, "off": False, "": False}


def parse_widget_options(args: Mapping[str, str]) -> WidgetOptions:
    """Strict: a value that is not understood is a BadOption naming it; n is clamped to 1..20."""
    opts = WidgetOptions()
    raw_n = args.get("n")
    if raw_n:
        try:
            n = int(raw_n)
        except ValueError:
            why = f"n must be an integer from 1 to {WIDGET_MAX_N}, got {raw_n!r}"
            raise BadOption(why) from None
        opts = replace(opts, n=min(max(n, 1), WIDGET_MAX_N))
    flags = {}
    for name in ("thumbs", "dates"):
        raw = args.get(name)
        if raw is not None:
            if raw.lower() not in _FLAGS:
                raise BadOption(f"{name} must be 1 or 0, got {raw!r}")
            flags[name] = _FLAGS[raw.lower()]
    opts = replace(opts, thumbs=flags.get("thumbs", opts.thumbs), dates=flags.get("dates", True))
    theme = args.get("theme")
    if theme:
        if theme not in ("light", "dark"):
            raise BadOption(f"theme must be light or dark, got {theme!r}")
        opts = replace(opts, theme=theme)  # type: ignore[arg-type]
    return opts


def lenient_widget_options(args: Mapping[str, str]) -> WidgetOptions:
    """For the directory's form: anything not understood falls back to the defaults."""
    try:
        return parse_widget_options(args)
    except BadOption:
        return WidgetOptions()


def widget_name(scope: Scope, title: str) -> str:
    return f"Tin {scope.name} - {title}" if scope.slug != ALL_SLUG else f"Tin mới nhất - {title}"


def iframe_snippet(base: str, scope: Scope, opts: WidgetOptions, title: str) -> str:
    """No ``sandbox`` attribute: the widget runs no script (its CSP says script-src 'none'),
    so a sandbox would add nothing but a longer snippet (and in Chromium, console noise when
    a link is clicked). A host that wants one adds allow-popups allow-popups-to-escape-sandbox.
    """
    src = f"{base}/embed/{scope.slug}{opts.query()}"
    return (
        f'<iframe src="{escape(src)}" title="{escape(widget_name(scope, title))}"'
        f' width="100%" height="{opts.iframe_height}" style="border:0" loading="lazy"></iframe>'
    )


def script_snippet(base: str, scope: Scope, opts: WidgetOptions, title: str) -> str:
    attrs = f'data-feedsvc="{scope.slug}" data-n="{opts.n}"'
    if opts.thumbs:
        attrs += ' data-thumbs="1"'
    if not opts.dates:
        attrs += ' data-dates="0"'
    page = f"{base}/feeds/{scope.slug}"
    return (
        f'<div {attrs}><a href="{escape(page)}">{escape(widget_name(scope, title))}</a></div>\n'
        f'<script src="{escape(base)}/embed.js" async></script>'
    )


# -- the directory ---------------------------------------------------------------------------


@bp.get("/")
def directory() -> Response:
    service = get_service(current_app)
    infos = feed_infos(service)
    opts = lenient_widget_options(request.args)
    try:
        widget_scope = service.catalog.lookup(request.args.get("feed") or ALL_SLUG)
    except NotFound:
        widget_scope = service.catalog.lookup(ALL_SLUG)
    base = public_base()
    title = service.settings.service.title
    html = render_template(
        "directory.html",
        groups=[
            (kind, GROUP_NAMES[kind], [i for i in infos if i.scope.kind == kind])
            for kind in ("all", "section", "district")
        ],
        alternates=alternates([i.scope for i in infos]),
        scopes=[i.scope for i in infos],
        widget_scope=widget_scope,
        opts=opts,
        max_n=WIDGET_MAX_N,
        iframe_code=iframe_snippet(base, widget_scope, opts, title),
        script_code=script_snippet(base, widget_scope, opts, title),
        widget_title=widget_name(widget_scope, title),
        opml_url=f"{base}/feeds.opml",
        site_title=title,
    )
    newest = max((i.last_change for i in infos if i.last_change), default=None)
    return cached_response(html, "text/html", PAGE_CACHE, newest)


# -- one feed's preview ----------------------------------------------------------------------


@bp.get("/feeds/<slug:slug>")
def preview(slug: str) -> Response:
    service = get_service(current_app)
    try:
        scope = service.catalog.lookup(slug)
    except NotFound:
        abort(404)
    articles = service.store.latest(scope, service.settings.feeds.default_limit)
    counts = service.store.counts()
    base = public_base()
    title = service.settings.service.title
    opts = WidgetOptions()
    last_change = newest_change(articles)
    html = render_template(
        "preview.html",
        scope=scope,
        articles=articles,
        count=counts.get(scope.slug, 0),
        last_change=last_change,
        alternates=alternates([scope]),
        feed_urls=[(fmt, f"{base}/feeds/{scope.slug}.{EXTENSIONS[fmt]}") for fmt in LINK_TYPES],
        section_names={s.slug: s.name for s in service.catalog.sections},
        iframe_code=iframe_snippet(base, scope, opts, title),
        script_code=script_snippet(base, scope, opts, title),
        site_title=title,
    )
    return cached_response(html, "text/html", PAGE_CACHE, last_change)


# -- OPML ------------------------------------------------------------------------------------


def render_opml(service: Service, infos: Sequence[FeedInfo]) -> bytes:
    """OPML 2.0 (http://opml.org/spec2.opml): one folder per kind of feed, RSS addresses."""
    base = service.settings.service.public_url.rstrip("/")
    title = service.settings.service.title
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = f"{title} - các nguồn tin RSS"
    newest = max((i.last_change for i in infos if i.last_change), default=None)
    if newest:
        etree.SubElement(head, "dateModified").text = local(newest).strftime(
            "%a, %d %b %Y %H:%M:%S %z"
        )
    etree.SubElement(head, "ownerName").text = title
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")
    for kind in ("all", "section", "district"):
        group = etree.SubElement(body, "outline", text=GROUP_NAMES[kind], title=GROUP_NAMES[kind])
        for info in infos:
            if info.scope.kind != kind:
                continue
            etree.SubElement(
                group,
                "outline",
                type="rss",
                version="RSS2",
                text=info.scope.title,
                title=info.scope.title,
                xmlUrl=f"{base}/feeds/{info.scope.slug}.xml",
                htmlUrl=f"{base}/feeds/{info.scope.slug}",
                language="vi",
            )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@bp.get("/feeds.opml")
def opml() -> Response:
    service = get_service(current_app)
    infos = feed_infos(service)
    resp = cached_response(render_opml(service, infos), OPML_MIMETYPE, PAGE_CACHE)
    resp.headers["Content-Disposition"] = 'inline; filename="baohoabinh-feeds.opml"'
    return resp


# -- the widget ------------------------------------------------------------------------------


@cache
def embed_css() -> tuple[Markup, str]:
    """The widget's stylesheet, inlined (one request per iframe), and its CSP hash."""
    css = (STATIC_DIR / "embed.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return Markup(css), f"sha256-{digest}"


@dataclass(frozen=True)
class _Rendered:
    version: int
    body: bytes
    last_modified: datetime | None


def render_embed(service: Service, scope: Scope, opts: WidgetOptions) -> _Rendered:
    """The widget's bytes, rebuilt only when the store changed (like the feeds)."""
    version = service.store.version()
    key = (scope.slug, opts)
    cache = page_cache(current_app)
    with cache.lock:
        hit = cache.embeds.get(key)
        if hit and hit.version == version:
            cache.embeds.move_to_end(key)
            return hit
    articles = service.store.latest(scope, opts.n)
    css, _ = embed_css()
    html = render_template(
        "embed.html",
        scope=scope,
        articles=articles,
        opts=opts,
        css=css,
        alternates=alternates([scope]),
        site_title=service.settings.service.title,
        name=widget_name(scope, service.settings.service.title),
    )
    rendered = _Rendered(version, html.encode("utf-8"), newest_change(articles))
    with cache.lock:
        cache.embeds[key] = rendered
        while len(cache.embeds) > EMBED_CACHE_SIZE:
            cache.embeds.popitem(last=False)
    return rendered


@bp.get("/embed/<slug:slug>")
def embed(slug: str) -> Response:
    service = get_service(current_app)
    try:
        scope = service.catalog.lookup(slug)
    except NotFound:
        abort(404)
    try:
        opts = parse_widget_options(request.args)
    except BadOption as e:
        abort(Response(f"{e}\n", 400, mimetype="text/plain"))
    rendered = render_embed(service, scope, opts)
    # Cached like the feeds it shows: the same Cache-Control ([cache] settings).
    cache_control = feed_server(current_app).cache_control
    resp = cached_response(rendered.body, "text/html", cache_control, rendered.last_modified)
    resp.headers["Content-Security-Policy"] = embed_csp(embed_css()[1])
    return resp


@cache
def _static_bytes(filename: str) -> bytes:
    return (STATIC_DIR / filename).read_bytes()


@bp.get("/embed.js")
def embed_script() -> Response:
    """At a fixed address (not under /static/) because other sites paste it into their pages."""
    return cached_response(_static_bytes("embed.js"), "text/javascript", SCRIPT_CACHE)
