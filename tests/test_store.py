from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from feedsvc.catalog import Scope
from feedsvc.exceptions import StoreError
from feedsvc.model import Article, PlaceTag
from feedsvc.store import SCHEMA_VERSION, Store

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
ALL = Scope("all", "tin-moi-nhat", "Tin mới nhất")


def make_article(n: int, **kw: object) -> Article:
    base: dict[str, object] = {
        "id": f"tag:baohoabinh.com.vn,2006:{n}",
        "source": "baohoabinh",
        "url": f"https://baohoabinh.com.vn/11/{n}/Bai-{n}.htm",
        "title": f"Bài {n}",
        "summary": "Tóm tắt",
        "content_html": "<p>Nội dung</p>",
        "published": T0 + timedelta(minutes=n),
        "updated": T0 + timedelta(minutes=n),
        "section": "chinh-tri",
        "places": (PlaceTag("mai-chau", "xã Vạn Mai (Mai Châu)", "title", "Vạn Mai"),),
    }
    base.update(kw)
    return Article(**base)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    s.init()
    return s


def test_store_save_is_idempotent_and_bumps_version_only_on_change(store: Store) -> None:
    v0 = store.version()
    assert store.save(make_article(1), now=T0) == "new"
    v1 = store.version()
    assert v1 > v0
    assert store.save(make_article(1), now=T0) == "unchanged"
    assert store.version() == v1
    assert store.save(make_article(1, title="Bài 1 (sửa)"), now=T0) == "updated"
    assert store.version() > v1
    got = store.get("tag:baohoabinh.com.vn,2006:1")
    assert got is not None and got.title == "Bài 1 (sửa)"
    assert got.published.tzinfo is not None


def test_store_latest_by_scope_newest_first(store: Store) -> None:
    store.save(make_article(1), now=T0)
    store.save(make_article(2, section="kinh-te", places=()), now=T0)
    store.save(make_article(3), now=T0)
    assert [a.title for a in store.latest(ALL, 10)] == ["Bài 3", "Bài 2", "Bài 1"]
    section = Scope("section", "chinh-tri", "Chính trị")
    assert [a.title for a in store.latest(section, 10)] == ["Bài 3", "Bài 1"]
    district = Scope("district", "mai-chau", "Mai Châu")
    found = store.latest(district, 1)
    assert [a.title for a in found] == ["Bài 3"]
    assert found[0].districts == ("mai-chau",)
    assert store.latest(Scope("district", "kim-boi", "Kim Bôi"), 10) == []


def test_store_hidden_articles_leave_every_feed(store: Store) -> None:
    store.save(make_article(1), now=T0)
    assert store.set_hidden("tag:baohoabinh.com.vn,2006:1", True)
    assert store.latest(ALL, 10) == []
    assert store.latest(Scope("district", "mai-chau", "Mai Châu"), 10) == []
    # re-collecting a hidden article does not bring it back
    store.save(make_article(1, title="again"), now=T0)
    assert store.latest(ALL, 10) == []


def test_store_feed_queries_use_indexes(store: Store) -> None:
    for scope in (ALL, Scope("section", "chinh-tri", ""), Scope("district", "mai-chau", "")):
        q = store.latest_query(scope, 30)
        sql = str(q.compile(store.engine, compile_kwargs={"literal_binds": True}))
        with store.engine.connect() as conn:
            plan = " ".join(str(r[-1]) for r in conn.execute(sa.text("EXPLAIN QUERY PLAN " + sql)))
        assert "INDEX ix_" in plan, plan
        # never a full scan of a table: only index scans or searches
        assert "SCAN articles " not in plan.replace("SCAN articles USING", ""), plan
        assert "SCAN article_places" not in plan, plan


def test_store_refuses_newer_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    s = Store(url)
    s.init()
    with s.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE meta SET value = :v WHERE key = 'schema_version'"),
            {"v": str(SCHEMA_VERSION + 1)},
        )
    with pytest.raises(StoreError, match="newer than this feedsvc understands"):
        Store(url).init()
