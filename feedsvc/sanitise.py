"""The sanitiser: article HTML that is safe anywhere, clean, and faithful to the newsroom.

It runs once per article, at ingest (architecture decision 2): what the store keeps is
already safe, NFC, free of XML-illegal characters and with absolute URLs, so requests never
sanitise. It is also the only module that imports bleach.

How one article goes through it::

    html ─ html5lib parse (bleach's vendored html5lib, tags not filtered: the tree browsers
             build; <template> content dropped at token level, which html5lib 1.1 lacks)
         ─ convert to a small node tree, and on the way:
             drop code and page furniture WITH its content (script, style, template, noscript,
             iframe, object, embed, forms, svg, math, head/meta/link/base, hidden elements,
             comments); YouTube/Facebook/Vimeo/<video> embeds become links (YouTube: a linked
             thumbnail); text is cleaned of XML-illegal and invisible control characters and
             NFC-normalised; <img> gets a real src from data-src/data-original/srcset; 1x1
             tracking pixels go, and so do images whose src cannot name a picture ("x", "#",
             "/", the article page); URLs are checked against the scheme allow-list (also on
             a further-decoded reading: "jav%09ascript:") and made absolute
         ─ structure: image boxes (a table holding one image and its caption) become
             <figure>, layout containers (div, section, ...) become paragraphs or are unwrapped,
             blocks are lifted out of paragraphs, empty elements collapse
         ─ the paper's quirks: the duplicate caption paragraph goes, the trailing author line is
             lifted out into ``author`` (a byline block at the top names the author too but
             stays), the "(HBĐT) - " lead is recognised for the summary
         ─ bleach's BleachSanitizerFilter over the resulting token stream (the allow-list below is
             enforced a second time, by bleach) and bleach's serializer
         ─ NFC and XML-1.0 check of the final string

URLs that reach an article from outside its body (og:image, listing thumbnails, upstream feed
links) go through ``clean_url``, the same policy, in the collector.

Why one parse instead of "clean with lxml, then bleach.clean()": bleach.clean() parses again
with html5lib, which is where most of its time goes; feeding bleach's sanitizer filter the
token stream of our own html5lib tree gives browser-grade parsing, bleach as the last word on
what is allowed, and about the speed of a single bleach.clean() (see bench/sanitise.py).

The summary drops the "(HBĐT) - " marker: a feed reader already shows which paper an item comes
from, and the marker would open every summary in the feed. ``lead`` is likewise the lead's text
without the marker; the article HTML keeps it as published.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html import unescape as _unescape_entities
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote, urljoin, urlsplit

from bleach import html5lib_shim
from bleach.sanitizer import BleachSanitizerFilter

from .text import nfc, strip_xml_illegal

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_PROTOCOLS",
    "ALLOWED_TAGS",
    "LEAD_MARKER_RE",
    "WEB_PROTOCOLS",
    "Sanitised",
    "clean_url",
    "html_to_text",
    "sanitise_article",
    "strip_xml_illegal",
]

# ---------------------------------------------------------------------------------------------
# The allow-list (what may appear in the output) and the drop-list (what goes with its content)
# ---------------------------------------------------------------------------------------------

#: Elements the clean HTML may contain: what a news article needs and nothing that runs,
#: frames, restyles or phones home.
ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        # paragraphs, headings, line breaks, rules
        "p", "br", "hr", "h2", "h3", "h4", "h5", "h6",
        # emphasis and inline semantics
        "strong", "b", "em", "i", "u", "s", "del", "ins", "mark", "small", "sub", "sup",
        "abbr", "cite", "q", "code",
        # lists, quotes, preformatted text
        "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre",
        # tables
        "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
        # images with captions, links
        "figure", "figcaption", "img", "a",
    }
)  # fmt: skip

#: Attributes allowed per element; everything else (style, class, id, on*, srcdoc, ...) goes.
ALLOWED_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "a": ("href", "title"),
    "img": ("src", "alt", "width", "height"),
    "abbr": ("title",),
    "td": ("colspan", "rowspan"),
    "th": ("colspan", "rowspan"),
}

#: URL schemes that survive (checked after entity decoding and dropping whitespace/controls).
ALLOWED_PROTOCOLS: frozenset[str] = frozenset({"http", "https", "mailto"})
#: Schemes for images, and for the article's own URL and image (see clean_url).
WEB_PROTOCOLS: frozenset[str] = frozenset({"http", "https"})

#: Elements removed together with everything inside them: their text is code, a fallback for
#: something we do not carry, or page furniture (forms, embedded documents, head matter).
#: The raw-text elements xmp, noembed, noframes and plaintext go too: the parser reads their
#: content as text, never as elements; a browser shows it as literal markup (xmp, plaintext)
#: or not at all (noembed, noframes), which in an article is a code sample at best and a
#: parser-confusion trick at worst. What follows a "</noembed>" hidden in an attribute is a
#: real element for browsers too, and is sanitised as such.
DROP_WITH_CONTENT: frozenset[str] = frozenset(
    {
        "script", "style", "template", "noscript", "iframe", "frame", "frameset", "noframes",
        "object", "embed", "applet", "param", "svg", "math", "canvas", "audio", "video",
        "source", "track", "map", "area",
        "form", "input", "button", "select", "option", "optgroup", "textarea", "datalist",
        "output", "keygen", "isindex", "menuitem",
        "head", "title", "meta", "link", "base", "basefont", "bgsound",
        "xmp", "plaintext", "noembed", "dialog", "portal", "fencedframe", "slot",
    }
)  # fmt: skip

#: Layout containers: unwrapped, their loose text and inline content becoming paragraphs.
CONTAINER_TAGS: frozenset[str] = frozenset(
    {
        "div", "section", "article", "main", "header", "footer", "aside", "nav", "center",
        "address", "hgroup", "details", "summary", "fieldset", "legend", "body", "html",
        "marquee", "search",
    }
)  # fmt: skip

#: Renamed on the way in (h1 is the article's title, so a heading inside the body is an h2).
RENAMED_TAGS: dict[str, str] = {"h1": "h2", "strike": "s", "tt": "code", "kbd": "code"}

#: Lead marker of the paper: "(HBĐT) - " (English edition "(HBO) – "), hyphen, en or em dash.
LEAD_MARKER_RE = re.compile(r"^\s*\(\s*(?:HBĐT|HBO)\s*\)\s*[-–—]+\s*")

#: An image at most this many pixels wide or high is a tracking pixel or a spacer.
TRACKING_PIXEL_MAX_PX = 1
#: Deeper nesting than this is flattened to its text (hostile input, not journalism).
MAX_DEPTH = 120
#: A URL longer than this is not a link anyone meant to publish.
MAX_URL_CHARS = 4096

_VOID_TAGS = frozenset({"br", "hr", "img"})
_BLOCK_TAGS = frozenset(
    {
        "p", "h2", "h3", "h4", "h5", "h6", "hr", "ul", "ol", "li", "dl", "dt", "dd",
        "blockquote", "pre", "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
        "figure", "figcaption",
    }
)  # fmt: skip
#: Elements whose children may be blocks; loose inline content in them stays as it is, except
#: at the top level, where it is wrapped in paragraphs.
_FLOW_TAGS = frozenset({"blockquote", "li", "dd", "td", "th", "figure"})
#: Kept even when empty: removing a cell would shift the table.
_STRUCTURAL_TAGS = frozenset({"tr", "td", "th", "thead", "tbody", "tfoot"})
_LAZY_SRC_ATTRS = ("data-src", "data-original", "data-lazy-src", "data-lazy", "data-url")
_SRCSET_ATTRS = ("srcset", "data-srcset")
_HTML_NS = "http://www.w3.org/1999/xhtml"

# Hints carried from the input's presentational attributes, which the output drops.
_RIGHT = 1  # align=right / text-align:right
_CENTER = 2  # align=center / text-align:center
_BYLINE = 4  # class names a byline / author block
_CAPTION = 8  # class names an image caption
_VIDEO = 16  # a thumbnail we made for a video

# ---------------------------------------------------------------------------------------------
# Characters
# ---------------------------------------------------------------------------------------------

# What text.strip_xml_illegal drops, and invisible junk that is legal XML but never meant to be
# read in an article: C1 controls, DEL, BMP noncharacters, BOM, and the bidi
# embedding/override/isolate controls (text spoofing).
_JUNK_RE = re.compile(
    "[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufdcf\ufdf0-\ufffd\U00010000-\U0010ffff]"
    "|[\u202a-\u202e\u2066-\u2069\ufeff]"
)
_SPACE_RE = re.compile(r"[\s\u200b\u2060]+")
_BLANK_RE = re.compile(r"[\s\u200b-\u200d\u2060]*\Z")
_LEADING_BLANK_RE = re.compile(r"^[\s\u200b-\u200d\u2060]+")
_TRAILING_BLANK_RE = re.compile(r"[\s\u200b-\u200d\u2060]+\Z")
# Anything a browser ignores or that hides a scheme: whitespace, controls, zero-width, bidi.
# U+FFFD too: it is what "&#0;" decodes to; "java&#0;script:" should not even look like a link.
_URL_INVISIBLE_RE = re.compile(
    r"[\x00-\x20\x7f-\xa0\s\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff\ufffd]"
)
_URL_SCHEME_RE = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
_MARKUP_IN_URL_RE = re.compile(r"[<>]|%3[CcEe]")
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"
_HOST_RE = re.compile(r"^(?:[^@/?#\s]*@)?(?:[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")


def _clean_text(text: str) -> str:
    """Text as readers should get it: no junk characters, NFC."""
    if _JUNK_RE.search(text) is not None:
        text = _JUNK_RE.sub("", text)
    return nfc(text)


def _squash(text: str) -> str:
    """One line of plain text: whitespace runs (nbsp and zero-width included) become one space.

    NFC again: text pieces joined across elements (a letter, then a combining accent inside
    the next element) may compose.
    """
    return _clean_text(_SPACE_RE.sub(" ", text).strip())


def _is_blank(text: str) -> bool:
    return _BLANK_RE.match(text) is not None


# ---------------------------------------------------------------------------------------------
# The node tree our passes work on (html5lib's etree has no parent links and awkward tails)
# ---------------------------------------------------------------------------------------------


class _Node:
    __slots__ = ("tag", "attrs", "children", "hint")

    def __init__(
        self,
        tag: str,
        attrs: dict[str, str] | None = None,
        children: list[_Node | str] | None = None,
        hint: int = 0,
    ) -> None:
        self.tag = tag
        self.attrs = attrs if attrs is not None else {}
        self.children = children if children is not None else []
        self.hint = hint

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<{self.tag} {self.attrs} {self.children!r}>"


_Child = _Node | str


def _iter_nodes(children: Iterable[_Child]) -> Iterator[_Node]:
    for child in children:
        if isinstance(child, _Node):
            yield child
            yield from _iter_nodes(child.children)


def _text_of(children: Iterable[_Child]) -> str:
    parts: list[str] = []

    def walk(kids: Iterable[_Child]) -> None:
        for kid in kids:
            if isinstance(kid, str):
                parts.append(kid)
            elif kid.tag == "br":
                parts.append(" ")
            else:
                walk(kid.children)

    walk(children)
    return "".join(parts)


def _has_content(node: _Node) -> bool:
    """Whether a reader would see anything: text other than white space, or an image/rule."""
    for kid in node.children:
        if isinstance(kid, str):
            if not _is_blank(kid):
                return True
        elif kid.tag in ("img", "hr") or _has_content(kid):
            return True
    return False


def _is_block(child: _Child) -> bool:
    return isinstance(child, _Node) and child.tag in _BLOCK_TAGS


def _is_br(child: _Child) -> bool:
    return isinstance(child, _Node) and child.tag == "br"


def _is_blank_text(child: _Child) -> bool:
    return isinstance(child, str) and _is_blank(child)


# ---------------------------------------------------------------------------------------------
# URLs
# ---------------------------------------------------------------------------------------------


def _decoded_probe(probe: str) -> str | None:
    """The URL once more decoded (entities, then %-escapes), or None when that changes nothing.

    A browser decodes entities once and never %-decodes a scheme, but what reaches us has
    sometimes been through another serializer already: lxml writes href="jav&#x09;ascript:" as
    "jav%09ascript:" (libxml2 %-escapes URI attributes), and a value may carry one more layer
    of entities ("&amp;#106;avascript:"). Read literally such a URL is a dead relative link;
    it is meant as an attack, and it is judged on this reading too.
    """
    decoded = probe
    if "&" in decoded:
        decoded = _unescape_entities(decoded)
    if "%" in decoded:
        decoded = unquote(decoded)
    if decoded == probe:
        return None
    return _URL_INVISIBLE_RE.sub("", decoded)


def _has_bad_scheme(probe: str, protocols: frozenset[str]) -> bool:
    match = _URL_SCHEME_RE.match(probe)
    return match is not None and match.group(1).lower() not in protocols


def _clean_url(
    value: str, base: str | None, protocols: frozenset[str] = ALLOWED_PROTOCOLS
) -> str | None:
    """An absolute URL with a scheme from ``protocols``, or None.

    The scheme is judged the way a browser would read it, after entity decoding (the parser
    did that) and with whitespace and control characters removed: "jav&#x09;ascript:" and
    " JaVaScRiPt:" are both javascript:. It is judged again on a further-decoded reading
    (see _decoded_probe), and a URL holding "<" or ">", raw or %-escaped, is markup caught in
    an attribute value by a parser trick, not an address. A relative URL is resolved against
    the article URL.
    """
    probe = _URL_INVISIBLE_RE.sub("", value)
    if not probe or len(probe) > MAX_URL_CHARS:
        return None
    match = _URL_SCHEME_RE.match(probe)
    scheme = match.group(1).lower() if match else None
    if scheme is not None and scheme not in protocols:
        return None
    decoded = _decoded_probe(probe)
    if decoded is not None and _has_bad_scheme(decoded, protocols):
        return None
    if _MARKUP_IN_URL_RE.search(probe) is not None:
        return None
    url = value.strip(" \t\n\r\f\v\x00\xa0\u200b\ufeff")
    url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    if scheme != "mailto":
        url = url.replace("\\", "/")  # as browsers read http(s) URLs
    if scheme is None:
        if base is None:
            return None
        try:
            url = urljoin(base, url)
        except ValueError:  # "//[::1" names no host
            return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    final_scheme = parts.scheme.lower()
    if final_scheme not in protocols:
        return None
    if final_scheme != "mailto":
        if not parts.hostname:
            return None
        netloc = parts.netloc
        if not netloc.isascii():
            try:
                netloc = netloc.encode("idna").decode("ascii")
            except UnicodeError:
                return None
        if _HOST_RE.match(netloc) is None:
            return None
        url = f"{final_scheme}://{netloc}{parts.path or '/'}"
        if parts.query:
            url += "?" + parts.query
        if parts.fragment:
            url += "#" + parts.fragment
    # Percent-encode what must not stand raw in a URL (spaces, quotes, <>, non-ASCII): the
    # stored URL is then plain ASCII, immune to normalisation and safe in any attribute.
    return quote(url, safe=_URL_SAFE)


def _page_key(base: str | None) -> str | None:
    """The article's own address as _clean_url writes it, for comparing an image URL with."""
    page = _clean_url(base, None, WEB_PROTOCOLS) if base else None
    return page.partition("#")[0].rstrip("?") if page else None


def _image_url(value: str, base: str | None, page: str | None) -> str | None:
    """An http(s) URL that can name an image, or None.

    Beyond the URL policy, sources that cannot name an image file go (hostile or broken
    markup: "<img src=x onerror=...>", "src=#", "src=/"), rather than becoming broken images
    pointing at the paper's site:
    - a fragment or a query alone ("#", "?a=1"): the article page itself;
    - one bare word with no "/", "." or ":" ("x", "null", "undefined"): not a file name;
    - a URL that resolves to the article page itself, or whose path ends in "/" with no
      query (the site root, a folder): a page, not a picture.
    """
    probe = _URL_INVISIBLE_RE.sub("", value)
    if probe[:1] in ("#", "?") or not any(c in probe for c in "/.:"):
        return None
    url = _clean_url(value, base, WEB_PROTOCOLS)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.path.endswith("/") and not parts.query:
        return None
    if page is not None and url.partition("#")[0].rstrip("?") == page:
        return None
    return url


def clean_url(url: str, base_url: str, *, kind: Literal["link", "image"]) -> str | None:
    """``url`` as the sanitiser would keep it in an article body, or None when it must go.

    For URLs that reach an article from outside its body (the page's og:image, a listing's
    thumbnail, an upstream feed's item link and images): they end up in <img src>, <link> and
    JSON Feed fields just like body URLs, so they pass the same policy. Entities decoded,
    whitespace and controls dropped as browsers do, then http(s) only for both kinds (mailto
    stays allowed for links inside bodies only: an article or an image is never a mailbox);
    relative URLs resolve against ``base_url`` (the article's URL; when that is not http(s),
    relative URLs are refused). Like body URLs, the value is taken as already decoded once
    (by lxml, feedparser, json): it is not entity-decoded again, which would turn a query's
    "&copy=2" into "©=2", but a scheme hidden behind another layer of entities or %-escapes
    is still refused. Images also follow the body's rule for sources that cannot name a
    picture (see _image_url). The result is absolute, ASCII and NFC-proof.
    """
    base = _check_base(base_url)
    text = _clean_text(url)
    if kind == "image":
        return _image_url(text, base, _page_key(base))
    return _clean_url(text, base, WEB_PROTOCOLS)


def _check_base(base_url: str) -> str | None:
    try:
        parts = urlsplit(base_url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.hostname:
        return base_url.strip()
    return None


# ---------------------------------------------------------------------------------------------
# Embedded video: a link (YouTube: a linked thumbnail), never a live frame
# ---------------------------------------------------------------------------------------------

_YOUTUBE_RE = re.compile(
    r"^(?:https?:)?//(?:[a-z0-9-]+\.)?(?:youtube(?:-nocookie)?\.com/(?:embed/|v/|shorts/|live/|"
    r"watch\?(?:.*&)?v=)|youtu\.be/)([A-Za-z0-9_-]{11})(?![A-Za-z0-9_-])",
    re.IGNORECASE,
)
_VIMEO_RE = re.compile(r"^(?:https?:)?//(?:player\.)?vimeo\.com/(?:video/)?(\d+)", re.IGNORECASE)
_FACEBOOK_PLUGIN_RE = re.compile(
    r"^(?:https?:)?//(?:[a-z0-9-]+\.)?facebook\.com/plugins/(video|post)\.php", re.IGNORECASE
)
_FACEBOOK_TARGET_RE = re.compile(
    r"^https://(?:[a-z0-9-]+\.)?(?:facebook\.com|fb\.watch)/", re.IGNORECASE
)

VIDEO_LINK_TEXT = "Xem video trên {site}"
POST_LINK_TEXT = "Xem bài trên Facebook"


def _video_link(url: str, text: str) -> list[_Child]:
    return [_Node("a", {"href": url}, [text])]


def _youtube(video_id: str, title: str) -> list[_Child]:
    watch = f"https://www.youtube.com/watch?v={video_id}"
    thumb = _Node(
        "img",
        {
            "src": f"https://i.ytimg.com/vi/{video_id}/hqdefault.jpg",
            "alt": title or "Video YouTube",
        },
        hint=_VIDEO,
    )
    return [
        _Node("a", {"href": watch}, [thumb]),
        _Node("br"),
        _Node("a", {"href": watch}, [VIDEO_LINK_TEXT.format(site="YouTube")]),
    ]


def _embed_replacement(el: Any, tag: str, base: str | None) -> list[_Child] | None:
    """What an embed becomes in the clean article, or None when it is not a video we know."""
    attrs = el.attrib
    candidates: list[str] = []
    for name in ("src", "data-src", "data", "data-href", "href"):
        if attrs.get(name):
            candidates.append(attrs[name])
    if tag in ("object", "video"):
        for child in el.iter():
            if not isinstance(child.tag, str):
                continue
            local = child.tag.rsplit("}", 1)[-1].lower()
            if local == "param" and (child.get("name") or "").lower() in ("movie", "src"):
                candidates.append(child.get("value") or "")
            elif local in ("embed", "source") and child.get("src"):
                candidates.append(child.get("src"))
    title = _clean_text(_squash(attrs.get("title") or ""))
    if title.casefold() in ("youtube video player", "youtube"):
        title = ""
    for raw in candidates:
        url = _URL_INVISIBLE_RE.sub("", _clean_text(raw))
        if url.startswith("//"):
            url = "https:" + url
        if found := _YOUTUBE_RE.match(url):
            return _youtube(found.group(1), title)
        if found := _VIMEO_RE.match(url):
            return _video_link(
                f"https://vimeo.com/{found.group(1)}", VIDEO_LINK_TEXT.format(site="Vimeo")
            )
        if found := _FACEBOOK_PLUGIN_RE.match(url):
            target = (parse_qs(urlsplit(url).query).get("href") or [""])[0]
            clean = _clean_url(target, None) if _FACEBOOK_TARGET_RE.match(target) else None
            if clean:
                text = POST_LINK_TEXT if found.group(1).lower() == "post" else None
                return _video_link(clean, text or VIDEO_LINK_TEXT.format(site="Facebook"))
            return []
        if tag == "div" and _FACEBOOK_TARGET_RE.match(url):
            clean = _clean_url(url, None)
            return _video_link(clean, VIDEO_LINK_TEXT.format(site="Facebook")) if clean else []
    if tag == "video":
        for raw in candidates:
            clean = _clean_url(_clean_text(raw), base)
            if clean:
                return _video_link(clean, VIDEO_LINK_TEXT.format(site=urlsplit(clean).hostname))
        return []
    return None


# ---------------------------------------------------------------------------------------------
# Pass 1: html5lib tree -> node tree, dropping what must go
# ---------------------------------------------------------------------------------------------

_STYLE_COMMENT_RE = re.compile(r"/\*.*?\*/", re.DOTALL)


def _style(value: str | None) -> dict[str, str]:
    """Presentational hints from a style attribute (the attribute itself never survives)."""
    if not value:
        return {}
    props: dict[str, str] = {}
    for decl in _STYLE_COMMENT_RE.sub("", value).split(";"):
        name, sep, val = decl.partition(":")
        if sep:
            props[name.strip().lower()] = val.strip().lower()
    return props


def _pixels(value: str | None) -> int | None:
    if value is None:
        return None
    found = re.match(r"\s*(\d{1,6})(?:\.\d*)?\s*(px)?\s*$", value)
    return int(found.group(1)) if found else None


def _best_srcset(value: str) -> str | None:
    best: tuple[float, str] | None = None
    for i, candidate in enumerate(value.split(",")):
        parts = candidate.split()
        if not parts:
            continue
        size = -float(i)  # no descriptor: the first candidate wins
        if len(parts) > 1:
            found = re.match(r"^(\d+(?:\.\d+)?)[wx]$", parts[1].lower())
            if found:
                size = float(found.group(1))
        if best is None or size > best[0]:
            best = (size, parts[0])
    return best[1] if best else None


_PLACEHOLDER_RE = re.compile(
    r"(?:^|/)(?:blank|spacer|pixel|transparent|loading|lazy|placeholder|grey|gray)[^/]*"
    r"\.(?:gif|svg)(?:$|[?#])"
)


def _is_placeholder(src: str) -> bool:
    """A stand-in that lazy loading replaces with the real image: not a picture to keep."""
    probe = _URL_INVISIBLE_RE.sub("", src).lower()
    return (
        not probe
        or probe.startswith(("data:", "about:", "javascript:"))
        or _PLACEHOLDER_RE.search(probe) is not None
    )


def _flat_text(el: Any) -> str:
    """The readable text under an element, without recursion (for absurdly deep nesting)."""
    parts: list[str] = []
    stack: list[tuple[Any, bool]] = [(el, False)]
    while stack:
        node, tail_only = stack.pop()
        if tail_only:
            if node.tail:
                parts.append(node.tail)
            continue
        tag = node.tag
        if isinstance(tag, str) and tag[0] != "{" and tag.lower() not in DROP_WITH_CONTENT:
            if node.text:
                parts.append(node.text)
            for kid in reversed(list(node)):
                stack.append((kid, True))
                stack.append((kid, False))
    return _clean_text(" ".join(parts))


class _Converter:
    """Turns html5lib's etree into _Nodes; the first and biggest filtering pass."""

    def __init__(self, base: str | None) -> None:
        self.base = base
        self.page = _page_key(base)

    def children(self, el: Any, depth: int) -> list[_Child]:
        out: list[_Child] = []
        if el.text:
            out.append(_clean_text(el.text))
        for kid in el:
            out.extend(self.element(kid, depth + 1))
            if kid.tail:
                out.append(_clean_text(kid.tail))
        return out

    def element(self, el: Any, depth: int) -> list[_Child]:
        tag = el.tag
        if not isinstance(tag, str) or tag[0] == "{":
            return []  # comments, processing instructions, SVG and MathML (namespaced)
        tag = tag.lower()
        tag = RENAMED_TAGS.get(tag, tag)
        local = tag.rsplit(":", 1)[-1]
        attrs: dict[str, str] = {k: v for k, v in el.attrib.items() if isinstance(k, str)}
        style = _style(attrs.get("style"))
        if (
            "hidden" in attrs
            or style.get("display", "").startswith("none")
            or style.get("visibility", "").startswith("hidden")
        ):
            return []
        classes = (attrs.get("class") or "").lower()
        if tag in ("iframe", "object", "embed", "video") or (
            tag == "div" and ("fb-video" in classes or "fb-post" in classes)
        ):
            replacement = _embed_replacement(el, tag, self.base)
            if replacement is not None or tag != "div":
                return replacement or []
        if tag in DROP_WITH_CONTENT or local in DROP_WITH_CONTENT:
            return []
        if depth > MAX_DEPTH:
            return [_flat_text(el)]
        if tag == "img":
            return self.image(attrs, style)
        if tag == "picture":  # <source srcset> can be the only real image a picture holds
            extra = [s.get("srcset") or "" for s in el.iter() if s.tag == "source"]
            return [
                node
                for img in el.iter()
                if img.tag == "img"
                for node in self.image(dict(img.attrib), _style(img.get("style")), extra)
            ]

        hint = 0
        align = (attrs.get("align") or style.get("text-align") or "").strip().lower()
        if align == "right":
            hint |= _RIGHT
        elif align == "center":
            hint |= _CENTER
        if "byline" in classes or "author" in classes:
            hint |= _BYLINE
        if "caption" in classes:
            hint |= _CAPTION
        kept: dict[str, str] = {}
        if tag == "a":
            href = _clean_url(_clean_text(attrs.get("href") or ""), self.base)
            if href is None:
                tag = "span"  # not a usable link: keep its content, lose the link
            else:
                kept["href"] = href
                if attrs.get("title"):
                    kept["title"] = _squash(_clean_text(attrs["title"]))
        elif tag == "abbr" and attrs.get("title"):
            kept["title"] = _squash(_clean_text(attrs["title"]))
        elif tag in ("td", "th"):
            for name in ("colspan", "rowspan"):
                value = (attrs.get(name) or "").strip()
                if value.isdigit() and 1 < int(value) <= 100:
                    kept[name] = str(int(value))
        return [_Node(tag, kept, self.children(el, depth), hint)]

    def image(
        self, attrs: dict[str, str], style: dict[str, str], extra: Iterable[str] = ()
    ) -> list[_Child]:
        width = _pixels(attrs.get("width"))
        height = _pixels(attrs.get("height"))
        for size in (width, height, _pixels(style.get("width")), _pixels(style.get("height"))):
            if size is not None and size <= TRACKING_PIXEL_MAX_PX:
                return []  # a tracking pixel or a spacer
        candidates = [attrs.get(name) for name in _LAZY_SRC_ATTRS]
        candidates.append(attrs.get("src"))
        for srcset in [attrs.get(name) for name in _SRCSET_ATTRS] + list(extra):
            if srcset:
                candidates.append(_best_srcset(srcset))
        url = None
        for candidate in candidates:
            if candidate and not _is_placeholder(candidate):
                url = _image_url(_clean_text(candidate), self.base, self.page)
                if url:
                    break
        if url is None:
            return []
        kept = {"src": url, "alt": _squash(_clean_text(attrs.get("alt") or ""))}
        for name, size in (("width", width), ("height", height)):
            if size is not None and size <= 10000:
                kept[name] = str(size)
        return [_Node("img", kept)]


# ---------------------------------------------------------------------------------------------
# Pass 2: structure
# ---------------------------------------------------------------------------------------------


def _figure_from_table(table: _Node) -> _Node | None:
    """An "image box" (a table holding one image and maybe its caption) as a <figure>."""
    images = [n for n in _iter_nodes(table.children) if n.tag == "img"]
    if len(images) != 1 or any(n.tag == "table" for n in _iter_nodes(table.children)):
        return None
    image = images[0]
    holder: _Node = image
    for node in _iter_nodes(table.children):  # keep a link around the image
        if node.tag == "a" and image in node.children:
            holder = node
    caption = _squash(_text_of(_without(table.children, holder)))
    if len(caption) > 400:
        return None
    kids: list[_Child] = [holder]
    if caption:
        kids.append(_Node("figcaption", {}, [caption]))
    return _Node("figure", {}, kids)


def _without(children: list[_Child], target: _Node) -> list[_Child]:
    out: list[_Child] = []
    for kid in children:
        if kid is target:
            continue
        if isinstance(kid, _Node):
            out.append(_Node(kid.tag, kid.attrs, _without(kid.children, target), kid.hint))
        else:
            out.append(kid)
    return out


def _wrap_runs(children: list[_Child], hint: int = 0) -> list[_Child]:
    """Blocks stay; each run of loose inline content between them becomes a paragraph."""
    out: list[_Child] = []
    run: list[_Child] = []

    def flush() -> None:
        if any(isinstance(k, _Node) or not _is_blank(k) for k in run):
            out.append(_Node("p", {}, list(run), hint))
        run.clear()

    for kid in children:
        if _is_block(kid):
            flush()
            out.append(kid)
        else:
            run.append(kid)
    flush()
    return out


def _split_paragraph(p: _Node) -> list[_Child]:
    """A paragraph holding blocks (or <br><br>) is several paragraphs and blocks."""
    pieces: list[list[_Child]] = [[]]
    out: list[_Child] = []
    kids = p.children
    i = 0
    while i < len(kids):
        kid = kids[i]
        if _is_block(kid):
            out.extend(_Node("p", {}, run, p.hint) for run in pieces if run)
            pieces = [[]]
            out.append(kid)
        elif _is_br(kid):
            j = i + 1
            while j < len(kids) and _is_blank_text(kids[j]):
                j += 1
            if j < len(kids) and _is_br(kids[j]):  # two or more breaks: a paragraph break
                while j < len(kids) and (_is_br(kids[j]) or _is_blank_text(kids[j])):
                    j += 1
                pieces.append([])
                i = j
                continue
            pieces[-1].append(kid)
        else:
            pieces[-1].append(kid)
        i += 1
    if not out and len(pieces) == 1:
        return [p]
    out.extend(_Node("p", {}, run, p.hint) for run in pieces if run)
    return out


def _structure(children: list[_Child], flow: bool) -> list[_Child]:
    out: list[_Child] = []
    for kid in children:
        if isinstance(kid, str):
            out.append(kid)
            continue
        tag = kid.tag
        if tag == "table":
            figure = _figure_from_table(kid)
            if figure is not None:
                figure.children = _structure(figure.children, False)
                out.append(figure)
                continue
            cells = [n for n in _iter_nodes(kid.children) if n.tag in ("td", "th")]
            if len(cells) <= 1:  # a one-cell table is layout, not data
                tag = "div"
                kid = _Node("div", {}, cells[0].children if cells else [], kid.hint)
        if tag in CONTAINER_TAGS:
            inner = _structure(kid.children, True)
            if not flow:
                out.extend(inner)
            elif any(_is_block(k) for k in inner):
                out.extend(_wrap_runs(inner, kid.hint))
            else:
                out.append(_Node("p", {}, inner, kid.hint))
            continue
        if tag not in ALLOWED_TAGS:
            out.extend(_structure(kid.children, flow))  # span, font, unknown: unwrap
            continue
        kid.children = _structure(kid.children, tag in _FLOW_TAGS)
        if tag == "p":
            out.extend(_split_paragraph(kid))
        else:
            out.append(kid)
    if len(out) > 1:  # merge texts that unwrapping put side by side (NFC may join them)
        merged: list[_Child] = []
        for kid in out:
            if isinstance(kid, str) and merged and isinstance(merged[-1], str):
                merged[-1] = _clean_text(merged[-1] + kid)
            else:
                merged.append(kid)
        out = merged
    return out


def _collapse(children: list[_Child]) -> list[_Child]:
    """Empty elements go (a paragraph of &nbsp; included); table cells stay for the layout."""
    out: list[_Child] = []
    for kid in children:
        if isinstance(kid, _Node) and kid.tag not in _VOID_TAGS:
            kid.children = _collapse(kid.children)
            if kid.tag not in _STRUCTURAL_TAGS and not _has_content(kid):
                if kid.tag not in _BLOCK_TAGS and any(
                    isinstance(k, str) and k for k in kid.children
                ):
                    out.append(" ")  # an empty <em> </em> between words still separates them
                continue
        out.append(kid)
    return out


def _trim(node: _Node) -> None:
    """No white space or line breaks at the start and end of a block."""
    if node.tag == "pre":
        return
    for lead in (True, False):
        kids = node.children
        while kids:
            edge = kids[0] if lead else kids[-1]
            if isinstance(edge, str):
                stripped = (_LEADING_BLANK_RE if lead else _TRAILING_BLANK_RE).sub("", edge)
                if stripped:
                    kids[0 if lead else -1] = stripped
                    break
                kids.pop(0 if lead else -1)
            elif edge.tag == "br":
                kids.pop(0 if lead else -1)
            elif edge.tag not in _BLOCK_TAGS and edge.tag not in _VOID_TAGS:
                _trim_edge(edge, lead)
                break
            else:
                break
    for kid in node.children:
        if isinstance(kid, _Node) and kid.tag in _BLOCK_TAGS and kid.tag != "pre":
            _trim(kid)


def _trim_edge(node: _Node, lead: bool) -> None:
    kids = node.children
    while kids:
        edge = kids[0] if lead else kids[-1]
        if isinstance(edge, str):
            stripped = (_LEADING_BLANK_RE if lead else _TRAILING_BLANK_RE).sub("", edge)
            if stripped:
                kids[0 if lead else -1] = stripped
                return
            kids.pop(0 if lead else -1)
        elif edge.tag == "br":
            kids.pop(0 if lead else -1)
        else:
            if edge.tag not in _VOID_TAGS:
                _trim_edge(edge, lead)
            return


# ---------------------------------------------------------------------------------------------
# Pass 3: the paper's quirks (caption printed twice, author line, byline, lead)
# ---------------------------------------------------------------------------------------------

_NAME_WORD_RE = re.compile(r"^[(\[]?[^\W\d_][\w.'’\-]*[)\]]?$")
_NAME_JOINERS = frozenset({"-", "–", "—", "&", "/", "và"})
_MAX_AUTHOR_CHARS = 60
_MAX_AUTHOR_WORDS = 8


def _compare_key(text: str) -> str:
    return _squash(text).rstrip(" .").casefold()


def _looks_like_name(text: str, aligned: bool) -> bool:
    """A signature: a short line of capitalised words or initials ("Bình Giang", "M.T")."""
    words = text.split()
    if not words or len(text) > _MAX_AUTHOR_CHARS or len(words) > _MAX_AUTHOR_WORDS:
        return False
    if not aligned and (len(words) > 5 or len(text) > 40):
        return False
    if text[-1] in ":;,!?" or (text[-1] == "." and len(words[-1]) > 4):
        return False
    names = [w for w in words if w.lower() not in _NAME_JOINERS]
    if not names or not all(_NAME_WORD_RE.match(w) for w in names):
        return False
    capitalised = [w for w in names if w.lstrip("([")[:1].isupper()]
    if not aligned:  # just a short last paragraph: it must look like a name and nothing else
        initials = len(names) == 1 and "." in names[0]
        return (len(names) >= 2 or initials) and len(capitalised) == len(names)
    return names[0] in capitalised and len(capitalised) * 2 >= len(names)


def _is_padded(p: _Node) -> bool:
    """The paper pushes the author right with a run of &nbsp; instead of aligning it."""
    first = p.children[0] if p.children else None
    while isinstance(first, _Node) and first.children:
        first = first.children[0]
    if not isinstance(first, str):
        return False
    run = len(first) - len(first.lstrip(" \u00a0\t\n"))
    return run >= 4 and "\u00a0" in first[:run]


def _is_italic(p: _Node) -> bool:
    kids = [k for k in p.children if not (isinstance(k, str) and _is_blank(k))]
    return len(kids) == 1 and isinstance(kids[0], _Node) and kids[0].tag in ("em", "i")


def _lone_image(node: _Node) -> _Node | None:
    """The image (or linked image) a paragraph holds and nothing else."""
    kids = [k for k in node.children if not (isinstance(k, str) and _is_blank(k))]
    if len(kids) != 1 or not isinstance(kids[0], _Node):
        return None
    kid = kids[0]
    if kid.tag == "img" and not kid.hint & _VIDEO:
        return kid
    if kid.tag == "a" and _lone_image(kid) is not None:
        return kid
    return None


def _caption_of(figure: _Node) -> str:
    for kid in figure.children:
        if isinstance(kid, _Node) and kid.tag == "figcaption":
            return _squash(_text_of(kid.children))
    return ""


def _fix_captions(root: list[_Child]) -> None:
    """Image + caption: one <figure>; the caption the page prints a second time goes."""
    i = 0
    while i < len(root):
        node = root[i]
        nxt = root[i + 1] if i + 1 < len(root) else None
        if isinstance(node, _Node) and isinstance(nxt, _Node) and nxt.tag == "p":
            image = _lone_image(node) if node.tag == "p" else None
            if node.tag == "figure" or image is not None:
                caption = _caption_of(node) if node.tag == "figure" else ""
                text = _squash(_text_of(nxt.children))
                if caption and _compare_key(text) == _compare_key(caption):
                    del root[i + 1]  # the caption printed twice
                    continue
                if (
                    not caption
                    and text
                    and len(text) <= 300
                    and (nxt.hint & (_CENTER | _CAPTION) or _is_italic(nxt))
                    and LEAD_MARKER_RE.match(text) is None
                ):
                    if image is not None:
                        figure = _Node("figure", {}, [image])
                    else:
                        figure = node
                    figure.children.append(_Node("figcaption", {}, [text]))
                    root[i] = figure
                    del root[i + 1]
                    continue
        i += 1


def _find_lead(root: list[_Child]) -> tuple[int, str]:
    for i, node in enumerate(root[:8]):
        if isinstance(node, _Node) and node.tag == "p":
            text = _squash(_text_of(node.children))
            found = LEAD_MARKER_RE.match(text)
            if found:
                return i, text[found.end() :]
    return -1, ""


def _byline(root: list[_Child], lead_at: int) -> tuple[int, str] | None:
    """A signed byline block above the text: <p class="byline"><strong>NAME</strong><br>..."""
    stop = lead_at if lead_at >= 0 else min(len(root), 4)
    for i, node in enumerate(root[:stop]):
        if not isinstance(node, _Node) or node.tag != "p":
            continue
        kids = [k for k in node.children if not (isinstance(k, str) and _is_blank(k))]
        if not kids or not isinstance(kids[0], _Node) or kids[0].tag not in ("strong", "b"):
            continue
        name = _squash(_text_of(kids[0].children))
        followed_by_break = len(kids) > 1 and isinstance(kids[1], _Node) and kids[1].tag == "br"
        if name and (node.hint & _BYLINE or (followed_by_break and name.isupper())):
            if _looks_like_name(name, aligned=True):
                return i, name
    return None


def _lift_author(root: list[_Child]) -> str | None:
    """The trailing signature line, removed from the body and returned."""
    for i in range(len(root) - 1, -1, -1):
        node = root[i]
        if isinstance(node, str):
            if _is_blank(node):
                continue
            return None
        if node.tag != "p":
            return None
        if any(n.tag in ("img", "a") for n in _iter_nodes(node.children)):
            return None
        text = _squash(_text_of(node.children))
        aligned = bool(node.hint & _RIGHT) or _is_padded(node)
        if not aligned and any(n.tag == "br" for n in _iter_nodes(node.children)):
            return None
        if _looks_like_name(text, aligned):
            del root[i]
            return text
        return None
    return None


# ---------------------------------------------------------------------------------------------
# Text and summary
# ---------------------------------------------------------------------------------------------


def _plain_text(children: list[_Child]) -> str:
    """Plain text, one block a paragraph, paragraphs separated by blank lines."""
    paragraphs: list[str] = []
    line: list[str] = []

    def flush() -> None:
        text = "\n".join(_squash(part) for part in "".join(line).split("\n"))
        text = text.strip("\n")
        if text.strip():
            paragraphs.append(re.sub(r"\n{2,}", "\n", text))
        line.clear()

    def walk(kids: list[_Child]) -> None:
        for kid in kids:
            if isinstance(kid, str):
                line.append(kid)
            elif kid.tag == "br":
                line.append("\n")
            elif kid.tag in _BLOCK_TAGS:
                flush()
                walk(kid.children)
                flush()
            else:
                walk(kid.children)

    walk(children)
    flush()
    return _clean_text("\n\n".join(paragraphs))


def _truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary and marked with an ellipsis."""
    text = _squash(text)
    if len(text) <= limit:
        return text
    if limit < 2:
        return "…"[:limit]
    cut = text[: limit - 1]
    if not text[limit - 1].isspace():
        space = cut.rfind(" ")
        if space > 0:
            cut = cut[:space]
    cut = _clean_text(cut.rstrip(" ,;:-–—(\"“'‘"))[: limit - 1]
    return cut + "…"


def _summary_source(root: list[_Child], lead: str, byline_at: int | None) -> str:
    if lead:
        return lead
    parts: list[str] = []
    for i, node in enumerate(root):
        if not isinstance(node, _Node) or node.tag not in ("p", "blockquote", "ul", "ol"):
            continue
        if i == byline_at:
            continue
        text = _squash(_text_of(node.children))
        if text:
            parts.append(LEAD_MARKER_RE.sub("", text) if not parts else text)
        if sum(len(p) for p in parts) > 600:
            break
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# Serialising through bleach
# ---------------------------------------------------------------------------------------------

_local = threading.local()

# The tokenizer state the tree builder would switch to after these start tags.
_TEXT_STATES = {
    "script": "scriptDataState",
    "style": "rawtextState",
    "xmp": "rawtextState",
    "iframe": "rawtextState",
    "noembed": "rawtextState",
    "noframes": "rawtextState",
    "noscript": "rawtextState",
    "title": "rcdataState",
    "textarea": "rcdataState",
    "plaintext": "plaintextState",
}


class _Tokenizer(html5lib_shim.HTMLTokenizer):
    """html5lib's tokenizer (bleach's vendored copy), dropping <template> with its content.

    Not bleach's own BleachHTMLTokenizer: that one keeps a history of every character read,
    which only its tag-filtering mode needs, and would cost us an eighth of the time.

    html5lib 1.1 predates <template>: it builds it as an ordinary element, so a <p> inside one
    closes the paragraph around it and the template's inert content lands in the page. Browsers
    never render that content; we drop its tokens, switching into the raw-text states the tree
    builder would have chosen so that "</template>" inside a script string does not end it.
    """

    def __iter__(self) -> Iterator[dict[str, Any]]:
        depth = 0
        for token in super().__iter__():
            kind = token["type"]
            name = token.get("name") if kind in html5lib_shim.TAG_TOKEN_TYPES else None
            if name == "template":
                if kind == html5lib_shim.TAG_TOKEN_TYPE_START:
                    depth += 1
                    continue
                if kind == html5lib_shim.TAG_TOKEN_TYPE_END and depth:
                    depth -= 1
                    continue
            if depth:
                if kind == html5lib_shim.TAG_TOKEN_TYPE_START and name in _TEXT_STATES:
                    self.state = getattr(self, _TEXT_STATES[name])
                continue
            yield token


class _Parser(html5lib_shim.BleachHTMLParser):
    """bleach's html5lib parser, told not to filter tags itself (we want the browser's tree),
    with our tokenizer."""

    def __init__(self) -> None:
        super().__init__(tags=None, strip=False, consume_entities=True, namespaceHTMLElements=False)

    def _parse(
        self,
        stream: Any,
        innerHTML: bool = False,
        container: str = "div",
        scripting: bool = True,
        **kwargs: Any,
    ) -> None:
        # As BleachHTMLParser._parse; scripting=True parses <noscript> as browsers with
        # JavaScript do, as raw text.
        self.innerHTMLMode = innerHTML
        self.container = container
        self.scripting = scripting
        self.tokenizer = _Tokenizer(stream=stream, parser=self, **kwargs)
        self.reset()
        try:
            self.mainLoop()
        except html5lib_shim.ReparseException:
            self.reset()
            self.mainLoop()


def _parser() -> Any:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _Parser()
    return parser


def _serializer() -> Any:
    serializer = getattr(_local, "serializer", None)
    if serializer is None:
        # The options bleach.Cleaner uses.
        serializer = _local.serializer = html5lib_shim.BleachHTMLSerializer(
            quote_attr_values="always",
            omit_optional_tags=False,
            escape_lt_in_attrs=True,
            resolve_entities=False,
            sanitize=False,
            alphabetical_attributes=False,
        )
    return serializer


def _tokens(children: list[_Child], top: bool = False) -> Iterator[dict[str, Any]]:
    """Our tree as html5lib tokens, with "&" escaped the way bleach's own tokenizer leaves it
    (bleach keeps character references it finds, so a decoded "&copy;" must reach it as
    "&amp;copy;")."""
    for i, kid in enumerate(children):
        if top and i and _is_block(kid):
            yield {"type": "Characters", "data": "\n"}  # one block a line: readable source
        if isinstance(kid, str):
            if kid:
                yield {"type": "Characters", "data": kid.replace("&", "&amp;")}
            continue
        names = ALLOWED_ATTRIBUTES.get(kid.tag, ())
        data = {
            (None, name): kid.attrs[name].replace("&", "&amp;")
            for name in names
            if name in kid.attrs
        }
        if kid.tag in _VOID_TAGS:
            yield {"type": "EmptyTag", "name": kid.tag, "namespace": _HTML_NS, "data": data}
            continue
        yield {"type": "StartTag", "name": kid.tag, "namespace": _HTML_NS, "data": data}
        yield from _tokens(kid.children)
        yield {"type": "EndTag", "name": kid.tag, "namespace": _HTML_NS, "data": {}}


_BLEACH_ATTRIBUTES = {tag: list(names) for tag, names in ALLOWED_ATTRIBUTES.items()}


def _render(children: list[_Child]) -> str:
    stream = BleachSanitizerFilter(
        source=_tokens(children, top=True),
        allowed_tags=ALLOWED_TAGS,
        attributes=_BLEACH_ATTRIBUTES,
        allowed_protocols=ALLOWED_PROTOCOLS,
        strip_disallowed_tags=True,
        strip_html_comments=True,
    )
    html = _serializer().render(stream)
    # NFC would fuse ">" and a text node's leading U+0338 into "≯" and break the markup.
    html = html.replace(">\u0338", ">&#x338;")
    return strip_xml_illegal(nfc(html))


def _parse(html: str, base: str | None) -> list[_Child]:
    html = strip_xml_illegal(html)  # NUL and friends confuse parsers before anything else
    # The paper pads with dozens of &nbsp; per article and html5lib decodes entities slowly.
    # Same meaning in text and attribute values; raw-text contexts (script, style) are dropped.
    html = html.replace("&nbsp;", "\u00a0")
    fragment = _parser().parseFragment(html)
    return _Converter(base).children(fragment, 0)


# ---------------------------------------------------------------------------------------------
# Public interface
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sanitised:
    """One article, cleaned. Everything here is NFC and XML-1.0-legal."""

    html: str  # safe article HTML, absolute URLs, no author line, no inline styles
    text: str  # plain text of the whole body, paragraphs separated by blank lines
    summary: str  # plain-text lead without the "(HBĐT) - " marker, at most summary_chars
    lead: str  # the lead paragraph's text without the marker, "" when not recognisable
    image: str | None  # first content image (a video thumbnail only when there is no photo)
    image_caption: str | None
    images: tuple[str, ...]
    author: str | None


def sanitise_article(html: str, base_url: str, *, summary_chars: int = 300) -> Sanitised:
    """Clean one article body; ``base_url`` is the article's own URL (relative links resolve
    against it; when it is not an absolute http(s) URL, relative links are dropped)."""
    base = _check_base(base_url)
    root = _structure(_parse(html, base), True)
    root = _wrap_runs(root)
    root = _collapse(root)
    _fix_captions(root)

    lead_at, lead = _find_lead(root)
    byline_at, byline = _byline(root, lead_at) or (None, None)
    author = _lift_author(root) or byline
    for node in root:
        if isinstance(node, _Node):
            _trim(node)
    root = _collapse(root)

    images: list[str] = []
    photo: _Node | None = None
    video: _Node | None = None
    for node in _iter_nodes(root):
        if node.tag == "img":
            src = node.attrs["src"]
            if src not in images:
                images.append(src)
            if node.hint & _VIDEO:
                video = video or node
            else:
                photo = photo or node
    first = photo or video
    caption = None
    if first is not None:
        for node in _iter_nodes(root):
            if node.tag == "figure" and first in _iter_nodes(node.children):
                caption = _caption_of(node) or None
                break

    summary = _truncate(_summary_source(root, lead, byline_at), summary_chars)
    return Sanitised(
        html=_render(root),
        text=_plain_text(root),
        summary=summary,
        lead=lead,
        image=first.attrs["src"] if first is not None else None,
        image_caption=caption,
        images=tuple(images),
        author=author,
    )


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment, one block a paragraph, paragraphs separated by blank
    lines; scripts, styles and other non-text are left out."""
    root = _structure(_parse(html, None), True)
    return _plain_text(root)
