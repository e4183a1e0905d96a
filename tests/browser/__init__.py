"""Helpers for the headless Chromium tests: launch Debian's Chromium, keep the browser off the
network, serve a third-party host page from a second port."""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("FEEDSVC_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (make test installs Debian's chromium when run as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[test]')"
    return None


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG, made here so that no test needs an image library or the network."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


PLACEHOLDER_PNG = png(48, 32, (176, 190, 160))


def keep_off_network(context: Any, allowed_prefixes: list[str]) -> list[str]:
    """Answer every request outside our servers locally: pictures get a placeholder (article
    thumbnails live on the paper's image server), anything else a 404. Returns the list the
    outside URLs are recorded in."""
    outside: list[str] = []

    def handle(route: Any) -> None:
        url = route.request.url
        if any(url.startswith(p) for p in allowed_prefixes) or url.startswith("data:"):
            route.continue_()
            return
        outside.append(url)
        if route.request.resource_type == "image":
            route.fulfill(status=200, content_type="image/png", body=PLACEHOLDER_PNG)
        else:
            route.fulfill(status=404, content_type="text/plain", body="offline")

    context.route("**/*", handle)
    return outside


@contextmanager
def host_site(pages: dict[str, str]) -> Iterator[str]:
    """A stand-in for a commune portal: a tiny http.server on another port serving `pages`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            body = pages.get(self.path.split("?", 1)[0])
            if body is None:
                self.send_error(404)
                return
            data = body.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def demo_app(folder: Path, **service: Any) -> Any:
    """The app over the bundled demo, collected into a fresh SQLite file in `folder`."""
    from feedsvc import create_app
    from feedsvc.settings import load_settings
    from feedsvc.web import get_service

    from ..conftest import write_config

    path = write_config(
        folder / "feedsvc.toml",
        {
            "service": service or {"public_url": "https://rss.example.vn"},
            "database": {"url": "sqlite:///feedsvc.sqlite3"},
            "sources": [
                {"name": "baohoabinh", "url": "https://baohoabinh.com.vn/", "snapshot": "demo"}
            ],
        },
    )
    app = create_app(load_settings(path, env={}))
    results = get_service(app).collect()
    assert all(r.ok for r in results), results
    return app
