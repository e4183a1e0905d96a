"""The only place SQL lives. SQLAlchemy Core, so the same code runs on SQLite and PostgreSQL.

Times are stored as naive UTC datetimes (portable) and handed out timezone-aware.
Every save is its own transaction: a crash loses at most the article being written.
``version()`` is one indexed row read: web workers call it per request to learn whether
anything changed since they rendered.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from .catalog import Scope
from .exceptions import StoreError
from .model import Article, ArticleRef, PlaceTag

SCHEMA_VERSION = 1

metadata = sa.MetaData()

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False, default=""),
    sa.Column("content_html", sa.Text, nullable=False, default=""),
    sa.Column("author", sa.Text),
    sa.Column("section", sa.String(100)),
    sa.Column("image", sa.Text),
    sa.Column("image_caption", sa.Text),
    sa.Column("published", sa.DateTime, nullable=False),
    sa.Column("updated", sa.DateTime, nullable=False),
    sa.Column("date_source", sa.String(20), nullable=False, default="page"),
    sa.Column("first_seen", sa.DateTime, nullable=False),
    sa.Column("last_fetched", sa.DateTime, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("hidden", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_articles_published", "published", "id"),
    sa.Index("ix_articles_section_published", "section", "published", "id"),
)

article_places = sa.Table(
    "article_places",
    metadata,
    sa.Column("article_id", sa.String(200), sa.ForeignKey("articles.id"), primary_key=True),
    sa.Column("district", sa.String(100), primary_key=True),
    sa.Column("field", sa.String(20), primary_key=True),
    sa.Column("phrase", sa.Text, nullable=False),
    sa.Column("unit", sa.Text),
    # Denormalised so that a district feed is one index range scan.
    sa.Column("published", sa.DateTime, nullable=False),
    sa.Column("hidden", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_places_district_published", "district", "published", "article_id"),
)

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

SaveStatus = Literal["new", "updated", "unchanged"]

# Store.version()'s own SQLite connection: the statement and a lock serialising its use.
_VERSION_SQL = "SELECT value FROM meta WHERE key = 'data_version'"
_VERSION_LOCK = threading.Lock()


def _naive_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    return dt.astimezone(UTC).replace(tzinfo=None)


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def content_hash(article: Article) -> str:
    """What a reader would see change: text, metadata and places, not fetch times."""
    payload = [
        article.url,
        article.title,
        article.summary,
        article.content_html,
        article.author,
        article.section,
        article.image,
        article.image_caption,
        sorted((t.district, t.field, t.phrase, t.unit or "") for t in article.places),
    ]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def _sqlite_pragmas(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


class Store:
    """Articles, their places and the change counter."""

    def __init__(self, url: str, *, busy_timeout_s: float = 10.0) -> None:
        self.url = url
        try:
            if url.startswith("sqlite:"):
                path = url.split("///", 1)[-1]
                if path and path != ":memory:" and url.count("/") >= 3:
                    from pathlib import Path

                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                self.engine = sa.create_engine(
                    url, connect_args={"check_same_thread": False, "timeout": busy_timeout_s}
                )
                _sqlite_pragmas(self.engine, busy_timeout_s)
            else:
                self.engine = sa.create_engine(url, pool_pre_ping=True)
        except (sa.exc.SQLAlchemyError, OSError) as e:
            raise StoreError(f"database {url}: {e}") from e
        self._init_lock = threading.Lock()
        self._ready = False

    # -- schema -----------------------------------------------------------------------------

    def init(self) -> None:
        """Create the schema, or check the one that is there. Idempotent."""
        with self._init_lock:
            if self._ready:
                return
            try:
                metadata.create_all(self.engine)
                with self.engine.begin() as conn:
                    row = conn.execute(
                        sa.select(meta.c.value).where(meta.c.key == "schema_version")
                    ).first()
                    if row is None:
                        conn.execute(
                            meta.insert(),
                            [
                                {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                                {"key": "data_version", "value": "0"},
                            ],
                        )
                    elif int(row[0]) > SCHEMA_VERSION:
                        raise StoreError(
                            f"database {self.url} has schema version {row[0]}, newer than this "
                            f"feedsvc understands ({SCHEMA_VERSION}): upgrade feedsvc"
                        )
            except sa.exc.SQLAlchemyError as e:
                raise StoreError(f"database {self.url}: {e}") from e
            self._ready = True

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        self.init()
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as e:
            raise StoreError(f"database {self.url}: {e}") from e

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        self.init()
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as e:
            raise StoreError(f"database {self.url}: {e}") from e

    def close(self) -> None:
        self.engine.dispose()

    # -- change counter ---------------------------------------------------------------------

    def version(self) -> int:
        """Bumped in the same transaction as every visible change.

        Web workers ask on every request, so on SQLite this reads the counter row through a
        DBAPI connection of its own, kept open in autocommit mode: about 5 us, where a pooled
        SQLAlchemy connection costs about 90 us, a large share of serving a cached feed.
        """
        url = self.engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            with self._read() as conn:
                value = conn.execute(
                    sa.select(meta.c.value).where(meta.c.key == "data_version")
                ).scalar_one()
            return int(value)
        self.init()
        with _VERSION_LOCK:
            raw: Any = self.__dict__.get("_version_conn")
            try:
                if raw is None:
                    cargs, cparams = self.engine.dialect.create_connect_args(url)
                    cparams.update(check_same_thread=False, isolation_level=None)
                    raw = self.engine.dialect.loaded_dbapi.connect(*cargs, **cparams)
                    weakref.finalize(self, raw.close)
                    self.__dict__["_version_conn"] = raw
                row = raw.execute(_VERSION_SQL).fetchone()
            except Exception as e:  # the DBAPI's errors: reconnect next time
                self.__dict__.pop("_version_conn", None)
                if raw is not None:
                    raw.close()
                raise StoreError(f"database {self.url}: {e}") from e
        if row is None:
            raise StoreError(f"database {self.url}: no data_version row")
        return int(row[0])

    def _bump(self, conn: Connection) -> None:
        conn.execute(
            meta.update()
            .where(meta.c.key == "data_version")
            .values(value=sa.cast(sa.cast(meta.c.value, sa.Integer) + 1, sa.Text))
        )

    # -- writing ----------------------------------------------------------------------------

    def known_ids(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        out: set[str] = set()
        with self._read() as conn:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                out.update(
                    conn.execute(sa.select(articles.c.id).where(articles.c.id.in_(chunk))).scalars()
                )
        return out

    def needs_fetch(self, refs: Sequence[ArticleRef]) -> list[ArticleRef]:
        """The refs not stored yet, in the given order."""
        known = self.known_ids(r.id for r in refs)
        return [r for r in refs if r.id not in known]

    def save(self, article: Article, *, now: datetime) -> SaveStatus:
        """Insert or update one article in its own transaction."""
        digest = content_hash(article)
        now_n = _naive_utc(now)
        with self._tx() as conn:
            row = conn.execute(
                sa.select(articles.c.content_hash, articles.c.hidden).where(
                    articles.c.id == article.id
                )
            ).first()
            if row is not None and row.content_hash == digest:
                conn.execute(
                    articles.update().where(articles.c.id == article.id).values(last_fetched=now_n)
                )
                return "unchanged"
            values = {
                "source": article.source,
                "url": article.url,
                "title": article.title,
                "summary": article.summary,
                "content_html": article.content_html,
                "author": article.author,
                "section": article.section,
                "image": article.image,
                "image_caption": article.image_caption,
                "published": _naive_utc(article.published),
                "date_source": article.date_source,
                "last_fetched": now_n,
                "content_hash": digest,
            }
            hidden = bool(row.hidden) if row is not None else article.hidden
            if row is None:
                conn.execute(
                    articles.insert().values(
                        id=article.id,
                        updated=_naive_utc(article.updated),
                        first_seen=now_n,
                        hidden=hidden,
                        **values,
                    )
                )
                status: SaveStatus = "new"
            else:
                conn.execute(
                    articles.update()
                    .where(articles.c.id == article.id)
                    .values(updated=max(now_n, _naive_utc(article.updated)), **values)
                )
                conn.execute(
                    article_places.delete().where(article_places.c.article_id == article.id)
                )
                status = "updated"
            places: dict[tuple[str, str], PlaceTag] = {}
            for tag in article.places:
                places.setdefault((tag.district, tag.field), tag)
            if places:
                conn.execute(
                    article_places.insert(),
                    [
                        {
                            "article_id": article.id,
                            "district": t.district,
                            "field": t.field,
                            "phrase": t.phrase,
                            "unit": t.unit,
                            "published": values["published"],
                            "hidden": hidden,
                        }
                        for t in places.values()
                    ],
                )
            self._bump(conn)
        return status

    def set_hidden(self, article_id: str, hidden: bool) -> bool:
        with self._tx() as conn:
            n = conn.execute(
                articles.update().where(articles.c.id == article_id).values(hidden=hidden)
            ).rowcount
            conn.execute(
                article_places.update()
                .where(article_places.c.article_id == article_id)
                .values(hidden=hidden)
            )
            if n:
                self._bump(conn)
        return bool(n)

    # -- reading ----------------------------------------------------------------------------

    def _row_to_article(self, row: Any, places: list[PlaceTag]) -> Article:
        return Article(
            id=row.id,
            source=row.source,
            url=row.url,
            title=row.title,
            summary=row.summary,
            content_html=row.content_html,
            published=_aware(row.published),
            updated=_aware(row.updated),
            author=row.author,
            section=row.section,
            places=tuple(places),
            image=row.image,
            image_caption=row.image_caption,
            date_source=row.date_source,
            hidden=bool(row.hidden),
            fetched_at=_aware(row.last_fetched),
        )

    def _with_places(self, conn: Connection, rows: Sequence[Any]) -> list[Article]:
        ids = [r.id for r in rows]
        tags: dict[str, list[PlaceTag]] = {i: [] for i in ids}
        if ids:
            for p in conn.execute(
                sa.select(article_places)
                .where(article_places.c.article_id.in_(ids))
                .order_by(article_places.c.article_id, article_places.c.district)
            ):
                tags[p.article_id].append(
                    PlaceTag(district=p.district, phrase=p.phrase, field=p.field, unit=p.unit)
                )
        return [self._row_to_article(r, tags[r.id]) for r in rows]

    def latest_query(self, scope: Scope, limit: int) -> sa.Select[Any]:
        a = articles
        if scope.kind == "district":
            ids = (
                sa.select(article_places.c.article_id, article_places.c.published)
                .where(article_places.c.district == scope.slug, ~article_places.c.hidden)
                .distinct()
                .order_by(article_places.c.published.desc(), article_places.c.article_id.desc())
                .limit(limit)
                .subquery()
            )
            return (
                sa.select(a)
                .join(ids, ids.c.article_id == a.c.id)
                .order_by(a.c.published.desc(), a.c.id.desc())
            )
        q = sa.select(a).where(~a.c.hidden)
        if scope.kind == "section":
            q = q.where(a.c.section == scope.slug)
        return q.order_by(a.c.published.desc(), a.c.id.desc()).limit(limit)

    def latest(self, scope: Scope, limit: int = 30) -> list[Article]:
        """Newest first: what one feed shows."""
        with self._read() as conn:
            rows = conn.execute(self.latest_query(scope, limit)).all()
            return self._with_places(conn, rows)

    def get(self, article_id: str) -> Article | None:
        with self._read() as conn:
            rows = conn.execute(sa.select(articles).where(articles.c.id == article_id)).all()
            found = self._with_places(conn, rows)
        return found[0] if found else None

    def counts(self) -> dict[str, int]:
        """Visible articles per scope slug (all news under 'tin-moi-nhat')."""
        with self._read() as conn:
            out: dict[str, int] = {}
            total = conn.execute(
                sa.select(sa.func.count()).select_from(articles).where(~articles.c.hidden)
            ).scalar_one()
            out["tin-moi-nhat"] = int(total)
            for slug, n in conn.execute(
                sa.select(articles.c.section, sa.func.count())
                .where(~articles.c.hidden)
                .group_by(articles.c.section)
            ):
                if slug:
                    out[slug] = int(n)
            for slug, n in conn.execute(
                sa.select(
                    article_places.c.district,
                    sa.func.count(sa.distinct(article_places.c.article_id)),
                )
                .where(~article_places.c.hidden)
                .group_by(article_places.c.district)
            ):
                out[slug] = int(n)
        return out
