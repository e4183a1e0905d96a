"""Getting bytes for a URL: from the network (HttpFetcher) or from a saved copy (DirectoryFetcher).

Both hand back a ``Page`` so that the same layout parser reads the live site and the bundled
demo: the demo exercises the production code path.

``HttpFetcher`` is the one polite HTTP client of the service (the newspaper's pages and upstream
feeds both go through it). What "polite" and "safe" mean here, in the order a ``get`` runs:

1. robots.txt of the URL's origin, fetched once and cached (404 = allow all, 5xx = disallow
   for now), with our honest User-Agent; ``Crawl-delay`` raises the per-host delay;
2. a minimum delay between two requests to one host (the end of one response to the start of
   the next), requests to one host serialised even when two threads share the fetcher;
3. conditional headers (If-None-Match / If-Modified-Since) from the validators of the last 200;
4. the exchange itself, every socket wait bounded by a per-response budget (so a server that
   trickles bytes cannot hold us past ``page_timeout_s``), the body streamed, decompressed in
   bounded steps and aborted past ``max_bytes``;
5. bounded retries with exponential backoff and jitter on timeouts, connection errors, 5xx and
   429, honouring ``Retry-After``;
6. at most ``max_redirects`` redirects, each to the same site only.

Everything above happens inside the caller's ``deadline`` (an absolute ``clock()`` value): a
wait that would pass it is not started but raised as ``DeadlineExceededError``. Every failure
leaves as a ``FetchError`` (``NotFoundError`` for 404/410) naming the URL, with the original
exception as its cause.
"""

from __future__ import annotations

import codecs
import email.utils
import logging
import random
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote, urljoin, urlsplit

import httpcore
import httpx

from ..exceptions import FetchError, NotFoundError
from ..text import nfc

log = logging.getLogger(__name__)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)

# Labels that browsers (WHATWG Encoding) read as a superset. ISO-8859-1 is not mapped for
# pages (it stays iso8859-1) though feeds map it to cp1252 (feed.py): one table for both would
# change how such pages read bytes 0x80-0x9F.
PAGE_ALIASES = {"ascii": "cp1252", "iso8859-9": "cp1254"}
# Codecs that turn bytes into text but are no document's charset (they raise on most bytes).
_NOT_CHARSETS = frozenset({"idna", "punycode"})
# Encodings that are not ASCII-compatible: valid UTF-8 bytes say nothing against them.
_WIDE_ENCODINGS = ("utf-16", "utf-32")

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 20.0
PAGE_TIMEOUT_S = 60.0
MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
MIN_DELAY_S = 1.0
RETRIES = 2
BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
MAX_RETRY_AFTER_S = 120.0
MAX_CRAWL_DELAY_S = 30.0
ROBOTS_TTL_S = 24 * 3600.0
ROBOTS_ERROR_TTL_S = 600.0
ROBOTS_MAX_BYTES = 512 * 1024

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/feed+json,application/json;q=0.9,application/xml;q=0.9,*/*;q=0.5"
)


@dataclass
class Page:
    """One fetched resource."""

    url: str  # the final URL, after redirects
    status: int
    content: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    not_modified: bool = False

    @property
    def text(self) -> str:
        return decode_text(self.content, self.headers.get("content-type"))


class Fetcher(Protocol):
    """Anything that turns a URL into a Page (or raises FetchError/NotFoundError)."""

    def get(self, url: str, *, deadline: float | None = None) -> Page: ...

    def close(self) -> None: ...


def charset_param(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, as written."""
    if not content_type:
        return None
    m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", content_type, re.I)
    return m.group(1) if m else None


def charset_name(
    label: str | bytes | None, aliases: Mapping[str, str] = PAGE_ALIASES
) -> str | None:
    """Python's codec for a declared charset, then ``aliases``; None when there is none.

    Codecs that are not charsets (base64, rot13, idna...) count as unknown: a hostile
    declaration must not make decoding raise.
    """
    if not label:
        return None
    if isinstance(label, bytes):
        label = label.decode("ascii", "replace")
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    if not info._is_text_encoding or info.name in _NOT_CHARSETS:
        return None
    return aliases.get(info.name, info.name)


def mostly_utf8(content: bytes) -> bool:
    """True when the bytes are UTF-8 with a few broken sequences (a page cut mid-character).

    Legacy single-byte Vietnamese text (cp1258) is almost never valid UTF-8 beyond ASCII, so
    many well-formed multi-byte characters against few errors is a reliable sign.
    """
    text = content.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return good > 0 and bad * 10 <= good


def decode_leniently(content: bytes, legacy: str = "cp1258") -> str:
    """Bytes no declared charset reads: mostly-UTF-8 stays UTF-8 with U+FFFD, anything else is
    the ``legacy`` code page (Windows-1258, Vietnamese, unless the caller knows better); NFC."""
    if mostly_utf8(content):
        return nfc(content.decode("utf-8", "replace"))
    return nfc(content.decode(legacy, "replace"))


def decode_text(content: bytes, content_type: str | None = None) -> str:
    """Decode a page: BOM, then the HTTP charset, then <meta>/<?xml?>, then UTF-8, then cp1258.

    A declared charset that fails to decode the bytes is a lie (common on old CMSes): we then
    try the next candidate. A single-byte charset never fails, so a page declared "ISO-8859-1"
    whose bytes are valid, non-ASCII UTF-8 is read as UTF-8 (multi-byte UTF-8 sequences do not
    occur by chance in legacy text). Mostly-UTF-8 bytes (a truncated page) keep UTF-8 with
    replacement characters; anything else falls back to Windows-1258, the legacy Vietnamese
    code page, which never fails with "replace". The result is always NFC.
    """
    if content.startswith(codecs.BOM_UTF8):
        return nfc(content[3:].decode("utf-8", "replace"))
    head = content[:4096]
    candidates = [
        charset_name(charset_param(content_type)),
        charset_name(m.group(1)) if (m := _META_CHARSET.search(head)) else None,
        charset_name(m.group(1)) if (m := _XML_ENCODING.search(head)) else None,
        "utf-8",
    ]
    utf8_ok: bool | None = None
    for enc in candidates:
        if not enc:
            continue
        if enc != "utf-8" and not enc.startswith(_WIDE_ENCODINGS):
            if utf8_ok is None:
                try:
                    content.decode("utf-8")
                    utf8_ok = not content.isascii()
                except UnicodeDecodeError:
                    utf8_ok = False
            if utf8_ok:
                enc = "utf-8"
        try:
            text = content.decode(enc)
        except UnicodeDecodeError:
            continue
        return nfc(text)
    # Vietnamese legacy pages are mostly Windows-1258; decoding never fails with "replace".
    return decode_leniently(content)


class DirectoryFetcher:
    """Serves a saved copy of a site: ``https://host/a/b.htm`` is ``<root>/a/b.htm``.

    The host is ignored (a snapshot holds one site); ``/`` is ``index.htm``. A missing file is a
    NotFoundError, like a 404 from the live site.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FetchError(f"snapshot folder {self.root} does not exist", url=str(self.root))

    def path_for(self, url: str) -> Path:
        path = unquote(urlsplit(url).path).lstrip("/") or "index.htm"
        candidate = (self.root / path).resolve()
        if self.root not in candidate.parents and candidate != self.root:
            raise NotFoundError(f"{url} is outside the snapshot", url=url, status=404)
        return candidate

    def get(self, url: str, *, deadline: float | None = None) -> Page:
        path = self.path_for(url)
        if not path.is_file():
            raise NotFoundError(f"{url}: no such page in snapshot {self.root}", url=url, status=404)
        return Page(url=url, status=200, content=path.read_bytes(), headers={})

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------------------------
# HTTP


class DeadlineExceededError(FetchError):
    """The caller's deadline came (or a wait would have passed it) before the page did.

    Never retried: there is no time left to retry in.
    """


class ValidatorStore(Protocol):
    """Where conditional-request validators outlive the process (e.g. the collector's database).

    ``get`` answers ``(etag, last_modified)`` for a URL, either of them None when unknown.
    """

    def get(self, url: str) -> tuple[str | None, str | None]: ...

    def set(self, url: str, etag: str | None, last_modified: str | None) -> None: ...


def package_version() -> str:
    try:
        return metadata.version("feedsvc")
    except metadata.PackageNotFoundError:
        return "0"


def user_agent_for(public_url: str, version: str | None = None) -> str:
    """The honest User-Agent: ``feedsvc/<version> (+<public_url>)`` tells a webmaster who we are."""
    return f"feedsvc/{version or package_version()} (+{public_url})"


def same_site(origin_url: str, target_url: str) -> bool:
    """May a redirect from ``origin_url`` go to ``target_url``?

    Only to the same host, where ``www.example`` and ``example`` count as one, and only keeping
    the scheme or upgrading http to https (with the port then moving from 80 to 443). We do
    not guess registrable domains (no public suffix list): ``en.`` or ``m.`` sub-sites are
    other sites.
    """
    a, b = urlsplit(origin_url), urlsplit(target_url)
    if b.scheme not in ("http", "https") or not a.hostname or not b.hostname:
        return False
    if _bare_host(a.hostname) != _bare_host(b.hostname):
        return False
    if a.scheme == b.scheme:
        return _port(a) == _port(b)
    if a.scheme == "http" and b.scheme == "https":
        return _port(a) in (80, None) and _port(b) in (443, None)
    return False  # https -> http: a downgrade


def _bare_host(host: str) -> str:
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _port(parts: Any) -> int | None:
    try:
        port = parts.port
    except ValueError:
        return -1
    if port is None or (parts.scheme, port) in (("http", 80), ("https", 443)):
        return None
    return int(port)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = _port(parts)
    host = (parts.hostname or "").lower()
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def parse_retry_after(value: str | None, server_date: str | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), None if absent.

    An HTTP-date is measured against the response's own Date header when there is one, so our
    clock's skew against the server's does not matter.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    now = datetime.now(UTC)
    if server_date:
        try:
            now = email.utils.parsedate_to_datetime(server_date)
        except (TypeError, ValueError, IndexError):
            pass
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


# robots.txt (RFC 9309) ----------------------------------------------------------------------


def _robots_normalise(path: str) -> str:
    """Percent-encode the same way on both sides of a comparison (RFC 9309 section 2.2.2)."""
    return quote(unquote(path), safe="/?=&;:@!$'()*+,~%-._")


def _robots_pattern(pattern: str) -> re.Pattern[str]:
    anchored = pattern.endswith("$")
    body = _robots_normalise(pattern[:-1] if anchored else pattern)
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    return re.compile(regex + (r"\Z" if anchored else ""))


@dataclass
class RobotsRules:
    """The rules of one robots.txt that apply to us: the longest matching rule wins, Allow on a tie.

    Written for RFC 9309 (``*`` and ``$`` in paths, groups merged per user agent) rather than
    using ``urllib.robotparser``, which takes the first match and reads ``*`` literally.
    """

    rules: list[tuple[bool, int, re.Pattern[str]]] = field(default_factory=list)
    crawl_delay: float | None = None
    allow_all: bool = False
    disallow_all: bool = False
    why: str = ""

    @classmethod
    def parse(cls, text: str, product: str) -> RobotsRules:
        product = product.lower()
        groups: list[tuple[list[str], list[tuple[bool, str]], list[float]]] = []
        agents: list[str] | None = None
        in_rules = False
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            key, sep, value = line.partition(":")
            if not sep:
                continue
            key, value = key.strip().lower(), value.strip()
            if key == "user-agent":
                if agents is None or in_rules:
                    agents = []
                    groups.append((agents, [], []))
                    in_rules = False
                agents.append(value.lower())
            elif key in ("allow", "disallow") and agents is not None:
                in_rules = True
                if value:
                    groups[-1][1].append((key == "allow", value))
            elif key == "crawl-delay" and agents is not None:
                in_rules = True
                try:
                    groups[-1][2].append(float(value))
                except ValueError:
                    pass
        mine = [g for g in groups if product in g[0]] or [g for g in groups if "*" in g[0]]
        rules = [(allow, len(p), _robots_pattern(p)) for g in mine for allow, p in g[1]]
        delays = [d for g in mine for d in g[2] if d >= 0]
        return cls(rules=rules, crawl_delay=max(delays) if delays else None)

    def allows(self, url: str) -> bool:
        if self.disallow_all:
            return False
        parts = urlsplit(url)
        path = parts.path or "/"
        if self.allow_all or path == "/robots.txt":
            return True
        target = _robots_normalise(path + (f"?{parts.query}" if parts.query else ""))
        best: tuple[int, bool] | None = None
        for allow, length, pattern in self.rules:
            if pattern.match(target) and (best is None or (length, allow) > best):
                best = (length, allow)
        return True if best is None else best[1]


# Socket budget ------------------------------------------------------------------------------


class _Budget(threading.local):
    """The real-time instant (time.monotonic) past which this thread's socket waits must not go.

    Socket timeouts bound each wait; this bounds their sum, so a peer that sends one byte just
    before every read timeout still cannot hold a response beyond its budget.
    """

    until: float | None = None

    def clamp(self, timeout: float | None, exc: type[Exception]) -> float | None:
        if self.until is None:
            return timeout
        left = self.until - time.monotonic()
        if left <= 0:
            raise exc("the response's time budget is spent")
        return left if timeout is None else min(timeout, left)


class _BudgetStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, budget: _Budget) -> None:
        self._inner = inner
        self._budget = budget

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._budget.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._budget.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = self._budget.clamp(timeout, httpcore.ConnectTimeout)
        return _BudgetStream(
            self._inner.start_tls(ssl_context, server_hostname, timeout), self._budget
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _BudgetBackend(httpcore.NetworkBackend):
    def __init__(self, budget: _Budget) -> None:
        self._inner = httpcore.SyncBackend()
        self._budget = budget

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = self._budget.clamp(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _BudgetStream(stream, self._budget)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = self._budget.clamp(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_unix_socket(path, timeout, socket_options)
        return _BudgetStream(stream, self._budget)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _BudgetTransport(httpx.HTTPTransport):
    """httpx's own transport with its connection pool on the budget-aware network backend.

    httpx does not take a network backend as an argument, so the pool it built is replaced.
    ``test_fetch_slow_trickle_exceeds_page_budget[headers]`` fails if a new httpx ignores it.
    """

    def __init__(self, budget: _Budget) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=10,
            max_keepalive_connections=5,
            keepalive_expiry=5.0,
            network_backend=_BudgetBackend(budget),
        )


# Bounded decompression ----------------------------------------------------------------------


class _BodyDecoder:
    """Undoes Content-Encoding in bounded steps: never holds more than ``limit`` + 1 bytes."""

    def __init__(self, encoding: str, url: str, limit: int) -> None:
        self.url = url
        self.limit = limit
        self.out = bytearray()
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(f"{url}: unsupported Content-Encoding {encoding!r}", url=url)
        self.coding = codings[0] if codings else None
        self._zlib: Any = None
        self._format_known = False  # until the stream's first bytes decoded without error
        self._fed = bytearray()  # those first bytes, to start a "deflate" body again as raw
        self._ended = False

    def _new(self) -> Any:
        if self.coding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return zlib.decompressobj(zlib.MAX_WBITS)

    def _emit(self, data: bytes) -> None:
        self.out += data
        if len(self.out) > self.limit:
            raise FetchError(
                f"{self.url}: decoded body is larger than the cap of {self.limit} bytes"
                f" (Content-Encoding {self.coding})",
                url=self.url,
            )

    def feed(self, data: bytes) -> None:
        if self.coding is None:
            self._emit(data)
            return
        try:
            self._inflate(data)
        except zlib.error as e:
            raise FetchError(f"{self.url}: corrupt {self.coding} body: {e}", url=self.url) from e

    def _inflate(self, data: bytes) -> None:
        while data:
            if self._ended:
                # After a gzip member, only another member may follow; padding is ignored.
                if self.coding == "deflate" or not data.startswith(b"\x1f\x8b"):
                    return
                self._ended = False
                self._zlib = None
            if self._zlib is None:
                self._zlib = self._new()
            if not self._format_known:
                self._fed += data
            try:
                chunk = self._zlib.decompress(data, self.limit + 1 - len(self.out))
            except zlib.error:
                if self.coding != "deflate" or self._format_known:
                    raise
                # Some servers send raw deflate (no zlib header) as "deflate": start again raw.
                self._format_known = True
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                data, self._fed = bytes(self._fed), bytearray()
                continue
            if len(self._fed) >= 2:  # the zlib/gzip header has been read and accepted
                self._format_known, self._fed = True, bytearray()
            self._emit(chunk)
            if self._zlib.eof:
                self._ended = True
                data = self._zlib.unused_data
            else:
                data = self._zlib.unconsumed_tail  # empty unless _emit raised

    def finish(self) -> bytes:
        if self.coding is not None and not self._ended:
            if self._zlib is None:
                return bytes(self.out)  # an empty body
            raise FetchError(f"{self.url}: {self.coding} body is truncated", url=self.url)
        return bytes(self.out)


# The fetcher --------------------------------------------------------------------------------


@dataclass
class _Response:
    url: str
    status: int
    headers: dict[str, str]
    content: bytes


class _TransientError(FetchError):
    """A failure worth retrying (timeout, connection error); converted when retries run out."""


class _BudgetSpentError(_TransientError):
    """The response took its whole time budget (a slow or trickling server)."""


class HttpFetcher:
    """The polite, bounded HTTP client behind both kinds of source (see the module docstring).

    ``clock`` and ``sleep`` are injectable so tests of waits need not wait: every delay, backoff
    and Retry-After goes through ``sleep``, and ``deadline`` is read on ``clock``. Socket waits
    are real time, bounded by the smaller of ``page_timeout_s`` and what is left to the deadline.

    One fetcher is meant for one collector thread; sharing it between threads is safe (requests
    to one host are serialised, the caches are locked) but not faster.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
        page_timeout_s: float = PAGE_TIMEOUT_S,
        max_bytes: int = MAX_BYTES,
        max_redirects: int = MAX_REDIRECTS,
        min_delay_s: float = MIN_DELAY_S,
        retries: int = RETRIES,
        backoff_s: float = BACKOFF_S,
        max_retry_after_s: float = MAX_RETRY_AFTER_S,
        respect_robots: bool = True,
        validators: ValidatorStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not user_agent.strip() or any(c in user_agent for c in "\r\n"):
            raise ValueError(f"user_agent must be one non-empty line, not {user_agent!r}")
        for name, value in (
            ("connect_timeout_s", connect_timeout_s),
            ("read_timeout_s", read_timeout_s),
            ("page_timeout_s", page_timeout_s),
            ("max_bytes", max_bytes),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be positive, not {value!r}")
        for name, value in (
            ("max_redirects", max_redirects),
            ("min_delay_s", min_delay_s),
            ("retries", retries),
            ("backoff_s", backoff_s),
            ("max_retry_after_s", max_retry_after_s),
        ):
            if value < 0:
                raise ValueError(f"{name} must not be negative, not {value!r}")
        self.user_agent = user_agent.strip()
        self.product = self.user_agent.split("/", 1)[0].split()[0].lower()
        self.page_timeout_s = page_timeout_s
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.min_delay_s = min_delay_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_retry_after_s = max_retry_after_s
        self.respect_robots = respect_robots
        self.validators = validators
        self.clock = clock
        self.sleep = sleep
        self._rng = rng or random.Random()

        self._budget = _Budget()
        self._client = httpx.Client(
            transport=_BudgetTransport(self._budget),
            headers={
                "User-Agent": self.user_agent,
                "Accept": _ACCEPT,
                "Accept-Encoding": "gzip, deflate",
            },
            timeout=httpx.Timeout(
                connect=connect_timeout_s,
                read=read_timeout_s,
                write=read_timeout_s,
                pool=connect_timeout_s,
            ),
            follow_redirects=False,
            trust_env=False,
        )
        self._lock = threading.Lock()  # guards every dict below
        self._closed = False
        self._memory: dict[str, tuple[str | None, str | None, str]] = {}
        self._host_locks: dict[str, threading.Lock] = {}
        self._host_free_at: dict[str, float] = {}  # clock() at which the host may be asked again
        self._host_delay: dict[str, float] = {}  # raised by robots.txt Crawl-delay
        self._robots: dict[str, tuple[RobotsRules, float]] = {}  # origin -> (rules, expires)
        self._robots_locks: dict[str, threading.Lock] = {}

    # -- public ------------------------------------------------------------------------------

    def get(self, url: str, *, deadline: float | None = None, conditional: bool = True) -> Page:
        """Fetch ``url``; a 304 (only when ``conditional``) is ``Page(not_modified=True)``.

        ``deadline`` is an absolute ``clock()`` value covering robots.txt, retries and waits.
        """
        if self._closed:
            raise FetchError(f"{url}: the fetcher is closed", url=url)
        try:
            return self._get(url, deadline, conditional)
        except FetchError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as e:
            raise FetchError(f"{url}: {type(e).__name__}: {e}", url=url) from e

    def close(self) -> None:
        self._closed = True
        self._client.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def robots_rules(self, url: str, *, deadline: float | None = None) -> RobotsRules:
        """The robots.txt rules for ``url``'s origin (fetched once, then cached)."""
        return self._robots_for(_origin(url), deadline)

    # -- the steps of a get ------------------------------------------------------------------

    def _get(self, url: str, deadline: float | None, conditional: bool) -> Page:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"{url}: not an http(s) URL", url=url)
        etag, last_modified, previous_url = (
            self._validators_for(url) if conditional else (None,) * 3
        )
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified

        current = url
        seen = {str(httpx.URL(url).copy_with(fragment=None))}
        for hop in range(self.max_redirects + 1):
            if self.respect_robots:
                rules = self._robots_for(_origin(current), deadline)
                if not rules.allows(current):
                    why = f" ({rules.why})" if rules.why else ""
                    raise FetchError(
                        f"{current}: robots.txt disallows it for {self.product}{why}", url=current
                    )
            resp = self._with_retries(current, deadline, headers, self.max_bytes)
            if resp.status in _REDIRECT_STATUSES:
                location = resp.headers.get("location")
                if not location:
                    raise FetchError(
                        f"{current}: HTTP {resp.status} without a Location", url=current
                    )
                target = str(httpx.URL(urljoin(current, location.strip())).copy_with(fragment=None))
                if not same_site(url, target):
                    raise FetchError(
                        f"{url}: redirected off-site from {current} to {target}",
                        url=url,
                        status=resp.status,
                    )
                if target in seen:
                    raise FetchError(
                        f"{url}: redirect loop ({current} -> {target})", url=url, status=resp.status
                    )
                if hop == self.max_redirects:
                    raise FetchError(
                        f"{url}: more than {self.max_redirects} redirects",
                        url=url,
                        status=resp.status,
                    )
                seen.add(target)
                current = target
                continue
            return self._page(url, resp, previous_url)
        raise AssertionError("unreachable")  # pragma: no cover

    def _page(self, url: str, resp: _Response, previous_url: str | None) -> Page:
        if resp.status == 304:
            return Page(
                url=previous_url or resp.url,
                status=304,
                content=b"",
                headers=resp.headers,
                not_modified=True,
            )
        if resp.status in (404, 410):
            raise NotFoundError(f"{resp.url}: HTTP {resp.status}", url=resp.url, status=resp.status)
        if not 200 <= resp.status < 300:
            raise FetchError(f"{resp.url}: HTTP {resp.status}", url=resp.url, status=resp.status)
        self._remember(url, resp)
        return Page(url=resp.url, status=resp.status, content=resp.content, headers=resp.headers)

    def _with_retries(
        self, url: str, deadline: float | None, headers: dict[str, str], max_bytes: int
    ) -> _Response:
        attempt = 0
        while True:
            attempts = f"{attempt + 1} attempt" + ("s" if attempt else "")
            try:
                resp = self._exchange(url, deadline, headers, max_bytes)
            except _TransientError as e:
                if attempt >= self.retries:
                    raise FetchError(f"{e} (gave up after {attempts})", url=url) from e.__cause__
                wait, why = self._backoff(attempt), str(e)
            else:
                if resp.status != 429 and resp.status < 500:
                    return resp
                if attempt >= self.retries:
                    raise FetchError(
                        f"{url}: HTTP {resp.status} (gave up after {attempts})",
                        url=url,
                        status=resp.status,
                    )
                why = f"HTTP {resp.status}"
                wait = self._backoff(attempt)
                if resp.status in _RETRY_AFTER_STATUSES:
                    after = parse_retry_after(
                        resp.headers.get("retry-after"), resp.headers.get("date")
                    )
                    if after is not None:
                        if after > self.max_retry_after_s:
                            raise FetchError(
                                f"{url}: HTTP {resp.status} asks to retry after {after:.0f} s,"
                                f" more than max_retry_after {self.max_retry_after_s:.0f} s",
                                url=url,
                                status=resp.status,
                            )
                        wait, why = after, f"HTTP {resp.status} with Retry-After {after:.0f} s"
            log.info(
                "fetch retry url=%s attempt=%d wait_s=%.2f reason=%s", url, attempt + 1, wait, why
            )
            self._wait(wait, deadline, url, f"retrying after {why}")
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        base = min(MAX_BACKOFF_S, self.backoff_s * 2**attempt)
        return base / 2 + self._rng.uniform(0, base / 2)

    def _wait(self, seconds: float, deadline: float | None, url: str, why: str) -> None:
        if seconds <= 0:
            return
        if deadline is not None:
            left = deadline - self.clock()
            if seconds > left:
                raise DeadlineExceededError(
                    f"{url}: {why} would wait {seconds:.2f} s, past the deadline"
                    f" ({max(left, 0):.2f} s left)",
                    url=url,
                )
        self.sleep(seconds)

    def _exchange(
        self, url: str, deadline: float | None, headers: dict[str, str], max_bytes: int
    ) -> _Response:
        """One request and its whole body, alone on its host and after the host's delay."""
        host = _bare_host(urlsplit(url).hostname or "")
        with self._lock:
            host_lock = self._host_locks.setdefault(host, threading.Lock())
        self._acquire(host_lock, deadline, url, f"another request to {host} ran")
        sent = False
        try:
            with self._lock:
                free_at = self._host_free_at.get(host)
            if free_at is not None:
                why = f"the delay between requests to {host}"
                self._wait(free_at - self.clock(), deadline, url, why)
            budget = self.page_timeout_s
            limited_by_deadline = False
            if deadline is not None:
                left = deadline - self.clock()
                if left <= 0:
                    raise DeadlineExceededError(f"{url}: the deadline has passed", url=url)
                if left < budget:
                    budget, limited_by_deadline = left, True
            sent = True
            try:
                return self._transfer(url, headers, max_bytes, budget)
            except _BudgetSpentError as e:
                if limited_by_deadline:
                    raise DeadlineExceededError(
                        f"{url}: the deadline passed during the request", url=url
                    ) from e.__cause__
                raise
        finally:
            if sent:
                with self._lock:
                    delay = self._host_delay.get(host, self.min_delay_s)
                    self._host_free_at[host] = self.clock() + delay
            host_lock.release()

    def _acquire(self, lock: threading.Lock, deadline: float | None, url: str, why: str) -> None:
        if deadline is None:
            lock.acquire()
        elif not lock.acquire(timeout=max(0.0, deadline - self.clock())):
            raise DeadlineExceededError(f"{url}: the deadline passed while {why}", url=url)

    def _transfer(
        self, url: str, headers: dict[str, str], max_bytes: int, budget: float
    ) -> _Response:
        started = time.monotonic()
        self._budget.until = started + budget
        try:
            request = self._client.build_request("GET", url, headers=headers)
            response = self._client.send(request, stream=True)
            try:
                content = self._read_body(response, url, max_bytes)
            finally:
                response.close()
        except httpx.TimeoutException as e:
            if time.monotonic() - started >= budget:
                raise _BudgetSpentError(
                    f"{url}: the response took longer than its budget of {budget:.2f} s", url=url
                ) from e
            raise _TransientError(f"{url}: timed out ({type(e).__name__})", url=url) from e
        except (httpx.NetworkError, httpx.RemoteProtocolError) as e:
            raise _TransientError(
                f"{url}: connection failed: {e or type(e).__name__}", url=url
            ) from e
        except httpx.HTTPError as e:
            raise FetchError(f"{url}: {type(e).__name__}: {e}", url=url) from e
        finally:
            self._budget.until = None
        # One line per exchange, ours: httpx's own INFO line per request is silenced in
        # logs.configure.
        log.debug(
            "fetch request url=%s status=%d bytes=%d seconds=%.3f",
            url,
            response.status_code,
            len(content),
            time.monotonic() - started,
        )
        return _Response(
            url=str(response.url),
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            content=content,
        )

    def _read_body(self, response: httpx.Response, url: str, max_bytes: int) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(
                f"{url}: body of {declared} bytes is larger than the cap of {max_bytes} bytes",
                url=url,
                status=response.status_code,
            )
        decoder = _BodyDecoder(response.headers.get("content-encoding", ""), url, max_bytes)
        received = 0
        for chunk in response.iter_raw():
            # The socket waits are already bounded by the budget; this also bounds the time
            # spent between them (and holds if a future httpx bypasses our network backend).
            if self._budget.until is not None and time.monotonic() > self._budget.until:
                raise httpx.ReadTimeout("the response's time budget is spent")
            received += len(chunk)
            if received > max_bytes:
                raise FetchError(
                    f"{url}: body is larger than the cap of {max_bytes} bytes (aborted)",
                    url=url,
                    status=response.status_code,
                )
            decoder.feed(chunk)
        return decoder.finish()

    # -- validators --------------------------------------------------------------------------

    def _validators_for(self, url: str) -> tuple[str | None, str | None, str | None]:
        with self._lock:
            known = self._memory.get(url)
        if known:
            return known
        if self.validators is not None:
            etag, last_modified = self.validators.get(url)
            return etag, last_modified, None
        return None, None, None

    def _remember(self, url: str, resp: _Response) -> None:
        etag, last_modified = resp.headers.get("etag"), resp.headers.get("last-modified")
        with self._lock:
            before = self._memory.get(url)
            if etag or last_modified:
                self._memory[url] = (etag, last_modified, resp.url)
            else:
                self._memory.pop(url, None)
        if self.validators is not None and (before or (None, None))[:2] != (etag, last_modified):
            self.validators.set(url, etag, last_modified)

    # -- robots.txt --------------------------------------------------------------------------

    def _robots_for(self, origin: str, deadline: float | None) -> RobotsRules:
        with self._lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        self._acquire(lock, deadline, origin, "another thread fetched its robots.txt")
        try:
            with self._lock:
                cached = self._robots.get(origin)
            if cached and cached[1] > self.clock():
                return cached[0]
            rules, ttl = self._fetch_robots(origin, deadline)
            with self._lock:
                self._robots[origin] = (rules, self.clock() + ttl)
                if rules.crawl_delay is not None:
                    delay = max(self.min_delay_s, min(rules.crawl_delay, MAX_CRAWL_DELAY_S))
                    self._host_delay[_bare_host(urlsplit(origin).hostname or "")] = delay
            return rules
        finally:
            lock.release()

    def _fetch_robots(self, origin: str, deadline: float | None) -> tuple[RobotsRules, float]:
        url = f"{origin}/robots.txt"
        try:
            resp = self._follow_plain(url, deadline)
        except DeadlineExceededError:
            raise
        except FetchError as e:
            log.warning("robots.txt unavailable url=%s error=%s", url, e)
            rules = RobotsRules(disallow_all=True, why=f"robots.txt unavailable: {e}")
            return rules, ROBOTS_ERROR_TTL_S
        if 200 <= resp.status < 300:
            return RobotsRules.parse(decode_text(resp.content), self.product), ROBOTS_TTL_S
        if 400 <= resp.status < 500:
            return RobotsRules(allow_all=True), ROBOTS_TTL_S
        why = f"robots.txt answered HTTP {resp.status}"
        return RobotsRules(disallow_all=True, why=why), ROBOTS_ERROR_TTL_S

    def _follow_plain(self, url: str, deadline: float | None) -> _Response:
        """GET robots.txt: retries and same-site redirects, but no robots check or validators."""
        current = url
        seen = {url}
        for _ in range(self.max_redirects + 1):
            resp = self._with_retries(current, deadline, {}, ROBOTS_MAX_BYTES)
            location = resp.headers.get("location")
            if resp.status not in _REDIRECT_STATUSES or not location:
                return resp
            target = str(httpx.URL(urljoin(current, location.strip())).copy_with(fragment=None))
            if not same_site(url, target) or target in seen:
                raise FetchError(f"{url}: bad redirect to {target}", url=url)
            seen.add(target)
            current = target
        raise FetchError(f"{url}: more than {self.max_redirects} redirects", url=url)


# Configuration ------------------------------------------------------------------------------


def _rule(check: Callable[[Any], bool], why: str) -> dict[str, Any]:
    return {"check": check, "why": why}


@dataclass(frozen=True)
class FetchSettings:
    """The ``[fetch]`` config table (see docs/fetching.md), in settings.py's table format.

    Register it with ``settings.register_table("fetch", FetchSettings)`` before loading the
    config; until then ``http_fetcher_from_settings`` uses these defaults.
    """

    user_agent: str = ""  # empty: feedsvc/<version> (+<[service] public_url>)
    connect_timeout_seconds: float = field(
        default=CONNECT_TIMEOUT_S, metadata=_rule(lambda v: v > 0, "must be > 0")
    )
    read_timeout_seconds: float = field(
        default=READ_TIMEOUT_S, metadata=_rule(lambda v: v > 0, "must be > 0")
    )
    page_timeout_seconds: float = field(
        default=PAGE_TIMEOUT_S, metadata=_rule(lambda v: v > 0, "must be > 0")
    )
    max_bytes: int = field(default=MAX_BYTES, metadata=_rule(lambda v: v >= 1024, ">= 1024"))
    max_redirects: int = field(default=MAX_REDIRECTS, metadata=_rule(lambda v: v >= 0, ">= 0"))
    min_delay_seconds: float = field(
        default=MIN_DELAY_S, metadata=_rule(lambda v: v >= 0, "must be >= 0")
    )
    retries: int = field(default=RETRIES, metadata=_rule(lambda v: 0 <= v <= 10, "0..10"))
    backoff_seconds: float = field(
        default=BACKOFF_S, metadata=_rule(lambda v: v >= 0, "must be >= 0")
    )
    max_retry_after_seconds: float = field(
        default=MAX_RETRY_AFTER_S, metadata=_rule(lambda v: v >= 0, "must be >= 0")
    )
    respect_robots: bool = True


def http_fetcher_from_settings(
    settings: Any, *, validators: ValidatorStore | None = None
) -> HttpFetcher:
    """An HttpFetcher configured by ``[fetch]`` (``settings.extra["fetch"]``) and the public URL."""
    extra = getattr(settings, "extra", None) or {}
    conf = extra.get("fetch")
    if not isinstance(conf, FetchSettings):
        conf = FetchSettings()
    user_agent = conf.user_agent or user_agent_for(settings.service.public_url)
    return HttpFetcher(
        user_agent=user_agent,
        connect_timeout_s=conf.connect_timeout_seconds,
        read_timeout_s=conf.read_timeout_seconds,
        page_timeout_s=conf.page_timeout_seconds,
        max_bytes=conf.max_bytes,
        max_redirects=conf.max_redirects,
        min_delay_s=conf.min_delay_seconds,
        retries=conf.retries,
        backoff_s=conf.backoff_seconds,
        max_retry_after_s=conf.max_retry_after_seconds,
        respect_robots=conf.respect_robots,
        validators=validators,
    )
