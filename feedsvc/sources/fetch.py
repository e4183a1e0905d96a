"""Getting bytes for a URL: from the network (HttpFetcher) or from a saved copy (DirectoryFetcher).

Both hand back a ``Page`` so that the same layout parser reads the live site and the bundled
demo: the demo exercises the production code path.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from ..exceptions import FetchError, NotFoundError

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)


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


def _charset_of(value: str | None) -> str | None:
    if not value:
        return None
    m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", value, re.I)
    return m.group(1) if m else None


def _known(encoding: str | bytes | None) -> str | None:
    if not encoding:
        return None
    if isinstance(encoding, bytes):
        encoding = encoding.decode("ascii", "replace")
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return None


def decode_text(content: bytes, content_type: str | None = None) -> str:
    """Decode a page: BOM, then the HTTP charset, then <meta>/<?xml?>, then UTF-8, then cp1258.

    A declared charset that fails to decode the bytes is a lie (common on old CMSes): we then
    try UTF-8 strictly before falling back. The result is always NFC.
    """
    if content.startswith(codecs.BOM_UTF8):
        return unicodedata.normalize("NFC", content[3:].decode("utf-8", "replace"))
    head = content[:4096]
    candidates = [
        _known(_charset_of(content_type)),
        _known(m.group(1)) if (m := _META_CHARSET.search(head)) else None,
        _known(m.group(1)) if (m := _XML_ENCODING.search(head)) else None,
        "utf-8",
    ]
    for enc in candidates:
        if not enc:
            continue
        try:
            text = content.decode(enc)
        except UnicodeDecodeError:
            continue
        return unicodedata.normalize("NFC", text)
    # Vietnamese legacy pages are mostly Windows-1258; decoding never fails with "replace".
    return unicodedata.normalize("NFC", content.decode("cp1258", "replace"))


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
