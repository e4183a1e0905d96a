"""The bundled demo snapshot served over real HTTP on 127.0.0.1, with faults to inject.

    with HttpFixture() as server:
        site = DemoSite(server)
        site.fault("article", Reply(status=500))       # every article page answers 500
        site.fault("listing", Reply(body="<html></html>"))  # listings list nothing
        site.fault(site.article_paths()[3], Reply(reset=True))
        site.clear()                                    # the source recovers

A fault is a Reply or a function of the path returning one (or None: serve the page). Faults
apply by path first, then by kind ("listing", "article", "home"), then "*".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from feedsvc.sources.html import DEMO_SNAPSHOT

from .conftest import write_config
from .httpfixture import HttpFixture, RecordedRequest, Reply

Fault = Reply | Callable[[str], Reply | None]

#: Fetching as fast as a test needs, with sub-second timeouts.
FAST_FETCH: dict[str, Any] = {
    "min_delay_seconds": 0,
    "connect_timeout_seconds": 0.5,
    "read_timeout_seconds": 0.3,
    "page_timeout_seconds": 1.0,
    "retries": 0,
    "backoff_seconds": 0,
    "max_retry_after_seconds": 1,
}


def kind_of(path: str) -> str:
    """home, listing, article, or other (robots.txt ...)."""
    if path in ("/", "/index.htm"):
        return "home"
    if "/page/" in path:
        return "listing"
    parts = path.split("/")
    return "article" if len(parts) == 4 and parts[1].isdigit() and parts[2].isdigit() else "other"


class DemoSite:
    def __init__(self, server: HttpFixture, root: Path = DEMO_SNAPSHOT) -> None:
        self.server = server
        self.root = root
        self.faults: dict[str, Fault] = {}
        self.lock = threading.Lock()
        self.paths: dict[str, Path] = {}
        for file in sorted(root.rglob("*.htm")):
            path = "/" + file.relative_to(root).as_posix()
            self.paths[path] = file
            for variant in {path, quote(path, safe="/-_.~")}:
                server.route(variant, self._script(path))
        server.route("/", self._script("/index.htm"))

    def _script(self, path: str) -> Callable[[RecordedRequest], Reply]:
        def answer(_request: RecordedRequest) -> Reply:
            return self.answer(path)

        return answer

    @property
    def url(self) -> str:
        return self.server.base_url + "/"

    def article_paths(self) -> list[str]:
        return [p for p in self.paths if kind_of(p) == "article"]

    def listing_paths(self) -> list[str]:
        return [p for p in self.paths if kind_of(p) == "listing"]

    def page(self, path: str) -> bytes:
        return self.paths[path].read_bytes()

    def fault(self, where: str, fault: Fault) -> None:
        with self.lock:
            self.faults[where] = fault

    def clear(self, where: str | None = None) -> None:
        with self.lock:
            if where is None:
                self.faults.clear()
            else:
                self.faults.pop(where, None)

    def answer(self, path: str) -> Reply:
        with self.lock:
            fault = self.faults.get(path) or self.faults.get(kind_of(path)) or self.faults.get("*")
        if fault is not None:
            reply = fault(path) if callable(fault) else fault
            if reply is not None:
                return reply
        return Reply(body=self.page(path))

    def requested(self, kind: str) -> list[str]:
        """Paths of this kind requested so far, in order."""
        return [r.path for r in self.server.requests if kind_of(r.path) == kind]


def site_config(
    tmp_path: Path, site: DemoSite, *, source: dict[str, Any] | None = None, **tables: Any
) -> Path:
    """A config reading the demo site over HTTP into tmp_path/feedsvc.sqlite3."""
    base: dict[str, Any] = {
        "database": {"url": "sqlite:///feedsvc.sqlite3", "busy_timeout_seconds": 5.0},
        "schedule": {"every_minutes": 10, "jitter_seconds": 0},
        "fetch": dict(FAST_FETCH),
        "collector": {"retry_seconds": 0.01, "backoff_seconds": 0.01, "lease_seconds": 60},
        "sources": [
            {
                "name": "baohoabinh",
                "kind": "html",
                "url": site.url,
                "deadline_seconds": 30,
                **(source or {}),
            }
        ],
    }
    for name, table in tables.items():
        base[name] = {**base.get(name, {}), **table}
    return write_config(tmp_path / "feedsvc.toml", base)
