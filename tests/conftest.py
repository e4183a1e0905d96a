"""Shared fixtures: settings written as real TOML files, a real SQLite store in tmp_path,
the app, and a live HTTP server on 127.0.0.1 (port 0)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from feedsvc import create_app
from feedsvc.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def write_config(path: Path, tables: dict[str, Any]) -> Path:
    """Write a TOML config: {"service": {...}, "sources": [{...}]}."""
    lines = []
    for name, table in tables.items():
        if isinstance(table, list):
            for item in table:
                lines.append(f"[[{name}]]")
                lines += [f"{k} = {toml_value(v)}" for k, v in item.items()]
        else:
            lines.append(f"[{name}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings from a real file in tmp_path: the demo snapshot and a fresh SQLite database."""

    def make(**tables: Any) -> Settings:
        base: dict[str, Any] = {
            "database": {"url": "sqlite:///feedsvc.sqlite3"},
            "sources": [
                {
                    "name": "baohoabinh",
                    "kind": "html",
                    "url": "https://baohoabinh.com.vn/",
                    "snapshot": "demo",
                }
            ],
        }
        for k, v in tables.items():
            if isinstance(v, dict) and isinstance(base.get(k), dict):
                base[k] = {**base[k], **v}
            else:
                base[k] = v
        return load_settings(write_config(tmp_path / "feedsvc.toml", base), env={})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def app(settings: Settings) -> Flask:
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


def poll_until(condition: Callable[[], object], timeout_s: float) -> None:
    """Poll until the condition holds (a guard against hanging, not a timed assertion)."""
    give_up = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError("condition not reached")
        time.sleep(0.02)
