from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from feedsvc.catalog import Scope
from feedsvc.exceptions import StoreError
from feedsvc.model import Article, PlaceTag
from feedsvc.store import SCHEMA_VERSION, SourceState, Store

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


# -- schema versions ----------------------------------------------------------------------------

V1_SQL = Path(__file__).resolve().parent / "data" / "db" / "v1.sql"
#: Databases made by earlier versions (each file says which): every one opens in place.
OLD_DATABASES = sorted((Path(__file__).resolve().parent / "data" / "db").glob("v*.sql"))


@pytest.mark.parametrize("dump", OLD_DATABASES, ids=lambda p: p.stem)
def test_store_upgrades_an_old_database_in_place(tmp_path: Path, dump: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as con:
        con.executescript(dump.read_text(encoding="utf-8"))
    store = Store(f"sqlite:///{path}")
    store.init()
    assert store.schema_version() == SCHEMA_VERSION == 3
    # the articles are all there, the hidden one still hidden (as the newsroom's)
    assert [a.id.rsplit(":", 1)[1] for a in store.latest(ALL, 10)] == ["170053", "169105"]
    district = store.latest(Scope("district", "mai-chau", "Mai Châu"), 10)
    assert [a.title for a in district] == [
        "CB-CC xã Vạn Mai (Mai Châu) đổi mới cách làm, phục vụ nhân dân tốt hơn"
    ]
    assert store.article_status_counts()["newsroom"] == 1
    # what schema 2 added survives later upgrades
    if dump.stem >= "v2":
        (failure,) = store.failures()
        assert failure["attempts"] == 1 and "HTTP 500" in failure["last_error"]
        state = store.source_state("baohoabinh")
        assert state.runs_total == 3 and state.last_not_modified is False
    # the new tables and columns work on the upgraded file
    assert store.set_hidden("tag:baohoabinh.com.vn,2006:171701", False, actor="t")
    assert len(store.latest(ALL, 10)) == 3
    assert store.acquire_lease("me", 60, now=T0).owner == "me"
    store.save_source_state(SourceState("baohoabinh", last_attempt=T0, last_not_modified=True))
    state = store.source_state("baohoabinh")
    assert state.last_attempt == T0 and state.last_not_modified is True
    url = "https://baohoabinh.com.vn/11/page/1/CHINH-TRI.htm"
    store.save_validators("baohoabinh", {url: ('"v1"', None)}, now=T0)
    assert store.validators(url) == ('"v1"', None)
    # and opening it again is a no-op
    store.close()
    again = Store(f"sqlite:///{path}")
    again.init()
    assert again.schema_version() == SCHEMA_VERSION
    assert len(again.latest(ALL, 10)) == 3
    assert again.validators(url) == ('"v1"', None)


def test_store_upgrade_by_several_processes_at_once_runs_once(tmp_path: Path) -> None:
    import sqlite3
    import threading

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as con:
        con.executescript(V1_SQL.read_text(encoding="utf-8"))
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Store(f"sqlite:///{path}").init()
        except BaseException as e:  # pragma: no cover - the failure being tested for
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Store(f"sqlite:///{path}").schema_version() == SCHEMA_VERSION


# -- the collector lease --------------------------------------------------------------------------


def test_store_lease_one_holder_until_it_expires_or_is_released(store: Store) -> None:
    assert store.acquire_lease("a", 60, now=T0).owner == "a"
    held = store.acquire_lease("b", 60, now=T0 + timedelta(seconds=30))
    assert held.owner == "a" and held.expires_at == T0 + timedelta(seconds=60)
    # renewing pushes the expiry on; only the holder can renew
    assert store.renew_lease("a", 60, now=T0 + timedelta(seconds=50))
    assert not store.renew_lease("b", 60, now=T0 + timedelta(seconds=50))
    assert store.acquire_lease("b", 60, now=T0 + timedelta(seconds=100)).owner == "a"
    # a crashed holder stops renewing: its lease expires and the next one takes it
    assert store.acquire_lease("b", 60, now=T0 + timedelta(seconds=111)).owner == "b"
    assert not store.renew_lease("a", 60, now=T0 + timedelta(seconds=112))
    store.release_lease("a")  # not the holder: nothing happens
    assert store.lease() is not None
    store.release_lease("b")
    assert store.lease() is None
    assert store.acquire_lease("c", 60, now=T0).owner == "c"
    # take_from: the caller knows the holder is dead
    assert store.acquire_lease("d", 60, now=T0, take_from="c").owner == "d"


def test_store_lease_two_processes_racing_exactly_one_wins(tmp_path: Path) -> None:
    import threading

    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    Store(url).init()
    barrier = threading.Barrier(6)
    winners: list[str] = []

    def race(i: int) -> None:
        s = Store(url)
        barrier.wait()
        holder = s.acquire_lease(f"owner-{i}", 60, now=T0)
        if holder.owner == f"owner-{i}":
            winners.append(holder.owner)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


# -- failures, hide/unhide, takedowns -------------------------------------------------------------


def test_store_failure_backoff_doubles_and_gives_up(store: Store) -> None:
    from feedsvc.model import ArticleRef

    ref = ArticleRef("baohoabinh", "tag:baohoabinh.com.vn,2006:7", "https://x.test/7", "kinh-te")
    kw = {"retry_s": 100, "retry_max_s": 350, "max_attempts": 4}
    delays = []
    for i in range(4):
        now = T0 + timedelta(hours=i)
        attempts, retry = store.record_failure(ref, f"boom {i}", now=now, **kw)  # type: ignore[arg-type]
        assert attempts == i + 1
        delays.append(None if retry is None else (retry - now).total_seconds())
    assert delays == [100, 200, 350, None]
    assert store.needs_fetch([ref], now=T0 + timedelta(days=9)) == []  # given up
    assert store.due_retries("baohoabinh", now=T0 + timedelta(days=9)) == []
    (row,) = store.failures()
    assert row["attempts"] == 4 and row["last_error"] == "boom 3" and row["next_retry"] is None
    # saving the article clears its failure
    store.save(make_article(7), now=T0)
    assert store.failures() == []


def test_store_hide_unhide_recorded_with_who_when_why(store: Store) -> None:
    store.save(make_article(169105), now=T0)
    aid = store.resolve_article_id("169105")
    assert aid == "tag:baohoabinh.com.vn,2006:169105"
    assert store.resolve_article_id(aid) == aid
    assert store.set_hidden(aid, True, actor="bientap", reason="sai tên", now=T0)
    assert not store.set_hidden(aid, True, actor="bientap", now=T0)  # already hidden
    assert store.latest(ALL, 10) == []
    assert store.latest(Scope("district", "mai-chau", ""), 10) == []
    assert store.set_hidden(aid, False, actor="thuky", reason="đã sửa", now=T0 + timedelta(1))
    assert [a.id for a in store.latest(ALL, 10)] == [aid]
    events = store.events(aid)
    assert [(e.action, e.actor, e.reason) for e in events] == [
        ("unhide", "thuky", "đã sửa"),
        ("hide", "bientap", "sai tên"),
    ]
    assert events[1].at == T0


def test_store_resolve_unknown_or_ambiguous_id(store: Store) -> None:
    from feedsvc.exceptions import NotFound

    with pytest.raises(NotFound, match="no such article"):
        store.resolve_article_id("999")
    store.save(make_article(5, id="tag:a,2006:5"), now=T0)
    store.save(make_article(5, id="tag:b,2006:5"), now=T0)
    with pytest.raises(StoreError, match="several articles match"):
        store.resolve_article_id("5")


def test_store_mark_gone_leaves_every_feed_and_is_recorded(store: Store) -> None:
    store.save(make_article(1), now=T0)
    assert store.mark_gone("tag:baohoabinh.com.vn,2006:1", reason="HTTP 410", now=T0)
    assert store.latest(ALL, 10) == []
    assert store.latest(Scope("district", "mai-chau", ""), 10) == []
    (event,) = store.events()
    assert (event.action, event.actor, event.reason) == ("gone", "collector", "HTTP 410")
    assert store.article_status_counts()["gone"] == 1


# -- retention ------------------------------------------------------------------------------------


def test_store_retention_by_age_never_drops_the_newest_of_any_feed(store: Store) -> None:
    # 10 chinh-tri articles a day apart; one old kinh-te article, alone in its section
    for n in range(10):
        store.save(make_article(n, published=T0 - timedelta(days=10 - n), places=()), now=T0)
    store.save(
        make_article(100, section="kinh-te", published=T0 - timedelta(days=50), places=()),
        now=T0,
    )
    v = store.version()
    done = store.apply_retention(now=T0, days=5, keep=2)
    # older than 5 days: n = 0..4 and 100; n = 0..4 are not among the newest 2 anywhere,
    # but 100 is the newest (only) kinh-te article: it stays
    assert done.expired == 5
    assert store.version() > v
    ids = {a.id.rsplit(":", 1)[1] for a in store.latest(ALL, 100)}
    assert ids == {"5", "6", "7", "8", "9", "100"}
    gone = store.get("tag:baohoabinh.com.vn,2006:0")
    assert gone is not None and gone.hidden and gone.content_html == ""
    # an expired article is known: the collector will not fetch it again
    from feedsvc.model import ArticleRef

    ref = ArticleRef("baohoabinh", gone.id, gone.url)
    assert store.needs_fetch([ref], now=T0) == []
    with pytest.raises(StoreError, match="retention"):
        store.set_hidden(gone.id, False)
    assert store.apply_retention(now=T0, days=5, keep=2).expired == 0


def test_store_retention_by_count_per_feed(store: Store) -> None:
    place = (PlaceTag("kim-boi", "Kim Bôi", "title"),)
    for n in range(6):
        store.save(make_article(n, places=place if n == 0 else ()), now=T0)
    done = store.apply_retention(now=T0, max_per_scope=3, keep=1)
    # n = 0 is the only kim-boi article: the newest of that feed stays
    assert done.expired == 2
    ids = sorted(int(a.id.rsplit(":", 1)[1]) for a in store.latest(ALL, 100))
    assert ids == [0, 3, 4, 5]


def test_store_retention_off_by_default(store: Store) -> None:
    store.save(make_article(1, published=T0 - timedelta(days=3000)), now=T0)
    assert store.apply_retention(now=T0).expired == 0


# -- concurrency ----------------------------------------------------------------------------------


def test_store_long_reader_never_blocks_the_collector(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "db.sqlite3"
    store = Store(f"sqlite:///{path}", busy_timeout_s=0.2)
    store.init()
    store.save(make_article(1), now=T0)
    reader = sqlite3.connect(path, timeout=0.1)
    try:
        reader.execute("BEGIN")
        (before,) = reader.execute("SELECT count(*) FROM articles").fetchone()
        # the reader's transaction stays open while the collector writes
        assert store.save(make_article(2), now=T0) == "new"
        assert store.acquire_lease("collector", 60, now=T0).owner == "collector"
        store.save_source_state(SourceState("baohoabinh", last_attempt=T0))
        assert store.set_hidden("tag:baohoabinh.com.vn,2006:1", True)
        (during,) = reader.execute("SELECT count(*) FROM articles").fetchone()
        assert before == during == 1  # the reader keeps its snapshot
    finally:
        reader.rollback()
        reader.close()
    assert len(store.latest(ALL, 10)) == 1


def test_store_writer_lock_held_too_long_is_a_store_error(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "db.sqlite3"
    store = Store(f"sqlite:///{path}", busy_timeout_s=0.1)
    store.init()
    other = sqlite3.connect(path, timeout=0.1)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match="locked"):
            store.save(make_article(1), now=T0)
    finally:
        other.rollback()
        other.close()
    assert store.save(make_article(1), now=T0) == "new"
