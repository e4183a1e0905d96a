"""The whole service: collect the bundled demo snapshot, serve it over real HTTP on
127.0.0.1, read every feed back with feedparser."""

from __future__ import annotations

import tomllib
import urllib.request
from collections.abc import Iterator
from typing import Any

import feedparser
import pytest
from flask import Flask

from feedsvc import create_app
from feedsvc.settings import Settings
from feedsvc.web import get_service

from .conftest import DATA, LiveServer

VAN_MAI = "tag:baohoabinh.com.vn,2006:169105"
DISTRICTS = [
    "thanh-pho-hoa-binh", "da-bac", "luong-son", "kim-boi", "cao-phong", "tan-lac",
    "mai-chau", "lac-son", "yen-thuy", "lac-thuy",
]  # fmt: skip


def expected_demo() -> list[dict[str, Any]]:
    with (DATA / "demo_expected.toml").open("rb") as f:
        return list(tomllib.load(f)["articles"])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Flask]]:
    from .conftest import write_config

    tmp = tmp_path_factory.mktemp("e2e")
    path = write_config(
        tmp / "feedsvc.toml",
        {
            "database": {"url": "sqlite:///feedsvc.sqlite3"},
            "sources": [
                {"name": "baohoabinh", "url": "https://baohoabinh.com.vn/", "snapshot": "demo"}
            ],
        },
    )
    from feedsvc.settings import load_settings

    settings: Settings = load_settings(path, env={})
    app = create_app(settings)
    results = get_service(app).collect()
    assert all(r.ok for r in results), results
    assert results[0].failed == 0, results[0].errors
    with LiveServer(app) as server:
        yield server, app


def fetch(url: str) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read(), dict(resp.headers)


def read_feed(server: LiveServer, slug: str, ext: str) -> Any:
    body, _ = fetch(f"{server.url}/feeds/{slug}.{ext}?limit=100")
    parsed = feedparser.parse(body)
    assert not parsed.bozo, (slug, ext, parsed.get("bozo_exception"))
    return parsed


def ids(parsed: Any) -> set[str]:
    return {e.id for e in parsed.entries}


@pytest.mark.parametrize("ext", ["xml", "atom"])
def test_every_feed_reads_without_errors(served: tuple[LiveServer, Flask], ext: str) -> None:
    server, app = served
    for scope in get_service(app).catalog.scopes():
        parsed = read_feed(server, scope.slug, ext)
        for entry in parsed.entries:
            assert entry.title and entry.link and entry.id
            assert entry.get("published") or entry.get("updated")


@pytest.mark.parametrize("ext", ["xml", "atom"])
def test_van_mai_article_in_its_section_district_and_all_news(
    served: tuple[LiveServer, Flask], ext: str
) -> None:
    server, _ = served
    for slug in ("chinh-tri", "mai-chau", "tin-moi-nhat"):
        parsed = read_feed(server, slug, ext)
        entry = next((e for e in parsed.entries if e.id == VAN_MAI), None)
        assert entry is not None, f"Vạn Mai article missing from {slug}.{ext}"
        assert "xã Vạn Mai (Mai Châu)" in entry.title
        assert entry.author == "Bình Giang"
        raw = fetch(f"{server.url}/feeds/{slug}.{ext}")[0].decode()
        assert "+0700" in raw if ext == "xml" else "+07:00" in raw
        assert "Các tin khác" not in entry.content[0].value
        assert "Xem các tin đã đưa ngày" not in entry.content[0].value
    for slug in DISTRICTS:
        if slug != "mai-chau":
            assert VAN_MAI not in ids(read_feed(server, slug, ext)), slug


def test_demo_articles_filed_under_expected_section_and_districts(
    served: tuple[LiveServer, Flask],
) -> None:
    server, _ = served
    feeds = {slug: ids(read_feed(server, slug, "xml")) for slug in DISTRICTS}
    everything = ids(read_feed(server, "tin-moi-nhat", "xml"))
    wrong = []
    for art in expected_demo():
        art_id = f"tag:baohoabinh.com.vn,2006:{art['id']}"
        assert art_id in everything, art["id"]
        got = sorted(slug for slug in DISTRICTS if art_id in feeds[slug])
        if got != sorted(art["districts"]):
            wrong.append((art["id"], art["title"], "expected", art["districts"], "got", got))
    assert not wrong, "\n".join(map(str, wrong))


def test_province_wide_articles_are_in_no_district_feed(served: tuple[LiveServer, Flask]) -> None:
    server, _ = served
    province_wide = [a for a in expected_demo() if not a["districts"]]
    assert province_wide
    in_districts = set().union(*(ids(read_feed(server, s, "xml")) for s in DISTRICTS))
    for art in province_wide:
        assert f"tag:baohoabinh.com.vn,2006:{art['id']}" not in in_districts, art["title"]


def test_collecting_twice_changes_nothing(served: tuple[LiveServer, Flask]) -> None:
    server, app = served
    service = get_service(app)
    before = fetch(f"{server.url}/feeds/tin-moi-nhat.xml")[0]
    version = service.store.version()
    results = service.collect()
    assert results[0].new == 0 and results[0].updated == 0
    assert service.store.version() == version
    assert fetch(f"{server.url}/feeds/tin-moi-nhat.xml")[0] == before
