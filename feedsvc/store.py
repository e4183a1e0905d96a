"""The only place SQL lives. SQLAlchemy Core, so the same code runs on SQLite and PostgreSQL.

Times are stored as naive UTC datetimes (portable) and handed out timezone-aware.
Every save is its own transaction: a crash loses at most the article being written.
``version()`` is one indexed row read: web workers call it per request to learn whether
anything changed since they rendered.

Besides articles the store keeps what the collector process must share with the web
workers and with the next run: the collector lease (one collector at a time), each source's
state (last attempt, errors, backoff, alarms, run totals: what /healthz and /metrics show),
the articles that failed and when to retry them, who hid or unhid an article and why, and
the HTTP validators (ETag, Last-Modified) of the pages the sources fetched.

The schema carries a version in ``meta``; ``init()`` upgrades an older database in place
(``MIGRATIONS``) and refuses a newer one.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from .catalog import Scope
from .exceptions import NotFound, StoreError
from .model import Article, ArticleRef, PlaceTag

SCHEMA_VERSION = 3
LEASE_COLLECTOR = "collector"
#: Why an article is out of the feeds (articles.hidden_reason).
HIDDEN_NEWSROOM = "newsroom"  # `feedsvc hide`
HIDDEN_GONE = "gone"  # the source answered 404/410 at a re-check
HIDDEN_EXPIRED = "expired"  # retention: body dropped, the row stays so it is never re-collected

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
    sa.Column("hidden_reason", sa.String(20)),  # schema 2
    sa.Index("ix_articles_published", "published", "id"),
    sa.Index("ix_articles_section_published", "section", "published", "id"),
    sa.Index("ix_articles_source_fetched", "source", "last_fetched"),  # schema 2: re-checks
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

# -- schema 2 ---------------------------------------------------------------------------------

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False),  # host:pid:nonce
    sa.Column("acquired_at", sa.DateTime, nullable=False),
    sa.Column("renewed_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)

source_state = sa.Table(
    "source_state",
    metadata,
    sa.Column("source", sa.String(100), primary_key=True),
    sa.Column("last_attempt", sa.DateTime),
    sa.Column("last_finished", sa.DateTime),
    sa.Column("last_success", sa.DateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("last_error_at", sa.DateTime),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt", sa.DateTime),
    sa.Column("broken", sa.Text),
    sa.Column("parse_failure_streak", sa.Integer, nullable=False, default=0),
    sa.Column("last_seen", sa.Integer, nullable=False, default=0),
    sa.Column("last_new", sa.Integer, nullable=False, default=0),
    sa.Column("last_updated", sa.Integer, nullable=False, default=0),
    sa.Column("last_unchanged", sa.Integer, nullable=False, default=0),
    sa.Column("last_failed", sa.Integer, nullable=False, default=0),
    sa.Column("last_gone", sa.Integer, nullable=False, default=0),
    sa.Column("last_duration_s", sa.Float),
    sa.Column("runs_total", sa.Integer, nullable=False, default=0),
    sa.Column("failed_runs_total", sa.Integer, nullable=False, default=0),
    sa.Column("new_total", sa.Integer, nullable=False, default=0),
    sa.Column("updated_total", sa.Integer, nullable=False, default=0),
    sa.Column("failed_total", sa.Integer, nullable=False, default=0),
    sa.Column("gone_total", sa.Integer, nullable=False, default=0),
    # schema 3: the last run's upstream answered 304
    sa.Column(
        "last_not_modified", sa.Boolean, nullable=False, default=False, server_default=sa.false()
    ),
)

article_failures = sa.Table(
    "article_failures",
    metadata,
    sa.Column("article_id", sa.String(200), primary_key=True),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("ref", sa.Text, nullable=False),  # the ArticleRef as JSON, to retry it off-listing
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_failed", sa.DateTime, nullable=False),
    sa.Column("last_failed", sa.DateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=False),
    sa.Column("next_retry", sa.DateTime),  # NULL: attempts exhausted, given up
    sa.Index("ix_failures_source_retry", "source", "next_retry"),
)

article_events = sa.Table(
    "article_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("article_id", sa.String(200), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),  # hide | unhide | gone
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Index("ix_events_article", "article_id", "at"),
)

# -- schema 3 ---------------------------------------------------------------------------------

http_validators = sa.Table(
    "http_validators",
    metadata,
    sa.Column("url", sa.Text, primary_key=True),  # as the source asked for it
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.String(100)),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

SaveStatus = Literal["new", "updated", "unchanged"]

# Store.version()'s own SQLite connection: the statement and a lock serialising its use.
_VERSION_SQL = "SELECT value FROM meta WHERE key = 'data_version'"
_VERSION_LOCK = threading.Lock()


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds a lease and until when (times aware, UTC)."""

    name: str
    owner: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


@dataclass
class SourceState:
    """What the collector remembers of one source between runs (and shows on /healthz)."""

    source: str
    last_attempt: datetime | None = None
    last_finished: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    next_attempt: datetime | None = None
    broken: str | None = None  # why the source looks broken (an alarm), or None
    parse_failure_streak: int = 0
    last_seen: int = 0
    last_new: int = 0
    last_updated: int = 0
    last_unchanged: int = 0
    last_failed: int = 0
    last_gone: int = 0
    last_duration_s: float | None = None
    runs_total: int = 0
    failed_runs_total: int = 0
    new_total: int = 0
    updated_total: int = 0
    failed_total: int = 0
    gone_total: int = 0
    last_not_modified: bool = False  # the last run's upstream answered 304 (nothing to do)

    @property
    def running(self) -> bool:
        """A run started and has not finished (or its process died)."""
        return self.last_attempt is not None and (
            self.last_finished is None or self.last_finished < self.last_attempt
        )


@dataclass(frozen=True)
class ArticleEvent:
    article_id: str
    action: str
    actor: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class RetentionResult:
    expired: int
    kept: int


def _migrate_1_to_2(conn: Connection) -> None:
    """Schema 2: why an article is hidden; leases, source state, failures, events."""
    conn.execute(sa.text("ALTER TABLE articles ADD COLUMN hidden_reason VARCHAR(20)"))
    conn.execute(articles.update().where(articles.c.hidden).values(hidden_reason=HIDDEN_NEWSROOM))
    for table in (leases, source_state, article_failures, article_events):
        table.create(conn, checkfirst=True)
    for index in articles.indexes:
        index.create(conn, checkfirst=True)


def _migrate_2_to_3(conn: Connection) -> None:
    """Schema 3: HTTP validators outlive the collector process; a 304 run is shown as such."""
    # a database upgraded from 1 got today's source_state table from _migrate_1_to_2
    columns = {c["name"] for c in sa.inspect(conn).get_columns("source_state")}
    if "last_not_modified" not in columns:
        conn.execute(
            sa.text(
                "ALTER TABLE source_state"
                " ADD COLUMN last_not_modified BOOLEAN NOT NULL DEFAULT FALSE"
            )
        )
    http_validators.create(conn, checkfirst=True)


#: MIGRATIONS[n] upgrades a database at schema n to n + 1, inside one transaction.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _migrate_1_to_2, 2: _migrate_2_to_3}


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


def _ref_to_json(ref: ArticleRef) -> str:
    data = asdict(ref)
    if ref.published is not None:
        data["published"] = ref.published.isoformat()
    return json.dumps(data, ensure_ascii=False)


def _ref_from_json(text: str) -> ArticleRef:
    data = json.loads(text)
    if data.get("published"):
        data["published"] = datetime.fromisoformat(data["published"])
    return ArticleRef(**data)


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
        """Create the schema, or upgrade the one that is there in place. Idempotent.

        Several processes may start at once (web workers, the collector): the upgrade takes
        the write lock first (a no-op UPDATE) and reads the version under it, so exactly one
        of them migrates and the others see the result.
        """
        with self._init_lock:
            if self._ready:
                return
            try:
                self._init_schema()
            except sa.exc.SQLAlchemyError as e:
                raise StoreError(f"database {self.url}: {e}") from e
            self._ready = True

    def _too_new(self, found: int) -> StoreError:
        return StoreError(
            f"database {self.url} has schema version {found}, newer than this "
            f"feedsvc understands ({SCHEMA_VERSION}): upgrade feedsvc"
        )

    def _init_schema(self) -> None:
        if not sa.inspect(self.engine).has_table("meta"):
            try:
                metadata.create_all(self.engine)
                with self.engine.begin() as conn:
                    conn.execute(
                        meta.insert(),
                        [
                            {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                            {"key": "data_version", "value": "0"},
                        ],
                    )
            except (sa.exc.IntegrityError, sa.exc.OperationalError):
                # another process created it at the same moment: use theirs
                if not sa.inspect(self.engine).has_table("meta"):
                    raise
        with self.engine.begin() as conn:
            version = int(
                conn.execute(
                    sa.select(meta.c.value).where(meta.c.key == "schema_version")
                ).scalar_one()
            )
        if version > SCHEMA_VERSION:
            raise self._too_new(version)
        while version < SCHEMA_VERSION:
            with self.engine.begin() as conn:
                # take the write lock, then read the version under it
                conn.execute(
                    meta.update().where(meta.c.key == "schema_version").values(value=meta.c.value)
                )
                version = int(
                    conn.execute(
                        sa.select(meta.c.value).where(meta.c.key == "schema_version")
                    ).scalar_one()
                )
                if version >= SCHEMA_VERSION:
                    break
                MIGRATIONS[version](conn)
                version += 1
                conn.execute(
                    meta.update().where(meta.c.key == "schema_version").values(value=str(version))
                )
        if version > SCHEMA_VERSION:
            raise self._too_new(version)
        metadata.create_all(self.engine)  # checkfirst: nothing to do on an up-to-date database

    def schema_version(self) -> int:
        with self._read() as conn:
            value = conn.execute(
                sa.select(meta.c.value).where(meta.c.key == "schema_version")
            ).scalar_one()
        return int(value)

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

    def _lock(self, conn: Connection) -> None:
        """Start a write transaction with a write, so that it takes the write lock at once.

        On SQLite (WAL) a transaction that reads first and writes later fails at once with
        "database is locked" when another writer committed in between; writing first makes
        it wait its turn (busy timeout) instead. On PostgreSQL it is a row lock.
        """
        conn.execute(meta.update().where(meta.c.key == "data_version").values(value=meta.c.value))

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

    def needs_fetch(
        self, refs: Sequence[ArticleRef], *, now: datetime | None = None
    ) -> list[ArticleRef]:
        """The refs not stored yet, in the given order; with ``now``, without those that
        failed before and are not due for a retry yet (or were given up)."""
        known = self.known_ids(r.id for r in refs)
        todo = [r for r in refs if r.id not in known]
        if now is None or not todo:
            return todo
        waiting = self._waiting_failures([r.id for r in todo], now)
        return [r for r in todo if r.id not in waiting]

    def _waiting_failures(self, ids: list[str], now: datetime | None) -> set[str]:
        """Of ``ids``, those with a failure record: all of them (``now`` None), or those
        whose retry is not due at ``now`` (or never: given up)."""
        f = article_failures
        out: set[str] = set()
        with self._read() as conn:
            for i in range(0, len(ids), 500):
                q = sa.select(f.c.article_id).where(f.c.article_id.in_(ids[i : i + 500]))
                if now is not None:
                    q = q.where(sa.or_(f.c.next_retry.is_(None), f.c.next_retry > _naive_utc(now)))
                out.update(conn.execute(q).scalars())
        return out

    def failed_ids(self, ids: Iterable[str]) -> set[str]:
        """Of ``ids``, those that failed before (a fetch of them is a retry)."""
        return self._waiting_failures(list(ids), None)

    def save(self, article: Article, *, now: datetime) -> SaveStatus:
        """Insert or update one article in its own transaction."""
        digest = content_hash(article)
        now_n = _naive_utc(now)
        with self._tx() as conn:
            # a write first (see _lock): a saved article is no longer a failed one
            conn.execute(
                article_failures.delete().where(article_failures.c.article_id == article.id)
            )
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

    def set_hidden(
        self,
        article_id: str,
        hidden: bool,
        *,
        actor: str = "feedsvc",
        reason: str = "",
        now: datetime | None = None,
        why: str = HIDDEN_NEWSROOM,
    ) -> bool:
        """Take an article out of every feed (or put it back), and record who, when and why.

        False when there is no such article, or nothing changed. An article whose body
        retention dropped cannot be put back.
        """
        now_n = _naive_utc(now or datetime.now(UTC))
        with self._tx() as conn:
            self._lock(conn)
            row = conn.execute(
                sa.select(articles.c.hidden, articles.c.hidden_reason).where(
                    articles.c.id == article_id
                )
            ).first()
            if row is None or bool(row.hidden) == hidden:
                return False
            if not hidden and row.hidden_reason == HIDDEN_EXPIRED:
                raise StoreError(
                    f"article {article_id} left the feeds by retention and its body was "
                    "dropped: it cannot be put back"
                )
            conn.execute(
                articles.update()
                .where(articles.c.id == article_id)
                .values(hidden=hidden, hidden_reason=why if hidden else None)
            )
            conn.execute(
                article_places.update()
                .where(article_places.c.article_id == article_id)
                .values(hidden=hidden)
            )
            action = ("gone" if why == HIDDEN_GONE else "hide") if hidden else "unhide"
            conn.execute(
                article_events.insert().values(
                    article_id=article_id, action=action, actor=actor, reason=reason, at=now_n
                )
            )
            self._bump(conn)
        return True

    def mark_gone(self, article_id: str, *, reason: str, now: datetime) -> bool:
        """The source answered 404/410 at a re-check: the article leaves every feed."""
        return self.set_hidden(
            article_id, True, actor="collector", reason=reason, now=now, why=HIDDEN_GONE
        )

    def resolve_article_id(self, text: str) -> str:
        """An article's full id from what an editor types: the full tag id, or the paper's
        numeric id (``169105`` finds ``tag:baohoabinh.com.vn,2006:169105``)."""
        text = text.strip()
        with self._read() as conn:
            if conn.execute(sa.select(articles.c.id).where(articles.c.id == text)).first():
                return text
            if text.isdigit():
                found = list(
                    conn.execute(
                        sa.select(articles.c.id).where(articles.c.id.like(f"%:{text}")).limit(5)
                    ).scalars()
                )
                if len(found) == 1:
                    return str(found[0])
                if len(found) > 1:
                    raise StoreError(
                        f"article {text}: several articles match ({', '.join(found)}): "
                        "give the full id"
                    )
        raise NotFound(f"article {text}: no such article in {self.url}")

    def events(self, article_id: str | None = None, limit: int = 100) -> list[ArticleEvent]:
        """Hides, unhides and takedowns, newest first."""
        q = sa.select(article_events).order_by(
            article_events.c.at.desc(), article_events.c.id.desc()
        )
        if article_id is not None:
            q = q.where(article_events.c.article_id == article_id)
        with self._read() as conn:
            rows = conn.execute(q.limit(limit)).all()
        return [ArticleEvent(r.article_id, r.action, r.actor, r.reason, _aware(r.at)) for r in rows]

    # -- the collector lease ----------------------------------------------------------------

    def acquire_lease(
        self,
        owner: str,
        ttl_s: float,
        *,
        now: datetime,
        name: str = LEASE_COLLECTOR,
        take_from: str | None = None,
    ) -> LeaseInfo:
        """Try to become the holder; returns the holder after the attempt (compare owners).

        A lease is taken when it is free, expired, already ours, or held by ``take_from``
        (a holder the caller knows is dead). One conditional UPDATE or one INSERT: two
        processes trying at once cannot both win.
        """
        now_n = _naive_utc(now)
        expires = now_n + timedelta(seconds=ttl_s)
        free = sa.or_(leases.c.expires_at <= now_n, leases.c.owner == owner)
        if take_from is not None:
            free = sa.or_(free, leases.c.owner == take_from)
        with self._tx() as conn:
            taken = conn.execute(
                leases.update()
                .where(leases.c.name == name, free)
                .values(owner=owner, acquired_at=now_n, renewed_at=now_n, expires_at=expires)
            ).rowcount
        if not taken:
            try:
                with self._tx() as conn:
                    conn.execute(
                        leases.insert().values(
                            name=name,
                            owner=owner,
                            acquired_at=now_n,
                            renewed_at=now_n,
                            expires_at=expires,
                        )
                    )
            except StoreError as e:
                if not isinstance(e.__cause__, sa.exc.IntegrityError):
                    raise  # an IntegrityError means the row is there: somebody else holds it
        holder = self.lease(name)
        if holder is None:  # released between our attempt and this read: try again
            return self.acquire_lease(owner, ttl_s, now=now, name=name, take_from=take_from)
        return holder

    def renew_lease(
        self, owner: str, ttl_s: float, *, now: datetime, name: str = LEASE_COLLECTOR
    ) -> bool:
        """Push the expiry on; False when the lease is no longer ours."""
        now_n = _naive_utc(now)
        with self._tx() as conn:
            n = conn.execute(
                leases.update()
                .where(leases.c.name == name, leases.c.owner == owner)
                .values(renewed_at=now_n, expires_at=now_n + timedelta(seconds=ttl_s))
            ).rowcount
        return bool(n)

    def release_lease(self, owner: str, *, name: str = LEASE_COLLECTOR) -> None:
        with self._tx() as conn:
            conn.execute(leases.delete().where(leases.c.name == name, leases.c.owner == owner))

    def lease(self, name: str = LEASE_COLLECTOR) -> LeaseInfo | None:
        with self._read() as conn:
            r = conn.execute(sa.select(leases).where(leases.c.name == name)).first()
        if r is None:
            return None
        return LeaseInfo(
            r.name, r.owner, _aware(r.acquired_at), _aware(r.renewed_at), _aware(r.expires_at)
        )

    # -- source state -----------------------------------------------------------------------

    _STATE_TIMES = (
        "last_attempt",
        "last_finished",
        "last_success",
        "last_error_at",
        "next_attempt",
    )

    def _state_from_row(self, row: Any) -> SourceState:
        values = dict(row._mapping)
        for key in self._STATE_TIMES:
            if values[key] is not None:
                values[key] = _aware(values[key])
        return SourceState(**{f.name: values[f.name] for f in fields(SourceState)})

    def source_state(self, source: str) -> SourceState:
        """The source's state; a fresh one for a source never collected."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(source_state).where(source_state.c.source == source)
            ).first()
        return self._state_from_row(row) if row is not None else SourceState(source)

    def source_states(self) -> dict[str, SourceState]:
        with self._read() as conn:
            rows = conn.execute(sa.select(source_state)).all()
        return {r.source: self._state_from_row(r) for r in rows}

    def save_source_state(self, state: SourceState) -> None:
        values = asdict(state)
        for key in self._STATE_TIMES:
            if values[key] is not None:
                values[key] = _naive_utc(values[key])
        with self._tx() as conn:
            n = conn.execute(
                source_state.update()
                .where(source_state.c.source == state.source)
                .values({k: v for k, v in values.items() if k != "source"})
            ).rowcount
            if not n:
                conn.execute(source_state.insert().values(values))

    # -- failed articles and re-checks ------------------------------------------------------

    def record_failure(
        self,
        ref: ArticleRef,
        error: str,
        *,
        now: datetime,
        retry_s: float,
        retry_max_s: float,
        max_attempts: int,
    ) -> tuple[int, datetime | None]:
        """Count one more failed attempt at an article; returns (attempts, next retry or None
        when given up). The delay doubles from ``retry_s`` up to ``retry_max_s``."""
        now_n = _naive_utc(now)
        f = article_failures
        with self._tx() as conn:
            self._lock(conn)
            row = conn.execute(sa.select(f.c.attempts).where(f.c.article_id == ref.id)).first()
            attempts = (row.attempts if row is not None else 0) + 1
            retry: datetime | None = None
            if attempts < max_attempts:
                delay = min(retry_max_s, retry_s * 2 ** (attempts - 1))
                retry = now_n + timedelta(seconds=delay)
            values = {
                "source": ref.source,
                "url": ref.url,
                "ref": _ref_to_json(ref),
                "attempts": attempts,
                "last_failed": now_n,
                "last_error": error[:2000],
                "next_retry": retry,
            }
            if row is None:
                conn.execute(f.insert().values(article_id=ref.id, first_failed=now_n, **values))
            else:
                conn.execute(f.update().where(f.c.article_id == ref.id).values(**values))
        return attempts, (_aware(retry) if retry is not None else None)

    def failures(self, source: str | None = None) -> list[dict[str, Any]]:
        """Failed articles, most recent first (for operators and tests)."""
        q = sa.select(article_failures).order_by(article_failures.c.last_failed.desc())
        if source is not None:
            q = q.where(article_failures.c.source == source)
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def failure_counts(self) -> dict[str, tuple[int, int]]:
        """Per source: (failed articles still retrying, failed articles given up)."""
        f = article_failures
        out: dict[str, tuple[int, int]] = {}
        with self._read() as conn:
            for source, given_up, n in conn.execute(
                sa.select(f.c.source, f.c.next_retry.is_(None), sa.func.count()).group_by(
                    f.c.source, f.c.next_retry.is_(None)
                )
            ):
                retrying, gave_up = out.get(source, (0, 0))
                out[source] = (retrying, gave_up + n) if given_up else (retrying + n, gave_up)
        return out

    def due_retries(self, source: str, *, now: datetime, limit: int = 100) -> list[ArticleRef]:
        """Failed articles whose retry is due, oldest failure first."""
        f = article_failures
        with self._read() as conn:
            rows = conn.execute(
                sa.select(f.c.ref)
                .where(f.c.source == source, f.c.next_retry <= _naive_utc(now))
                .order_by(f.c.next_retry)
                .limit(limit)
            ).scalars()
            return [_ref_from_json(r) for r in rows]

    def due_rechecks(
        self,
        source: str,
        *,
        now: datetime,
        every: timedelta,
        within: timedelta,
        limit: int,
    ) -> list[ArticleRef]:
        """Visible articles published within ``within`` and not fetched for ``every``:
        fetched again to see edits and takedowns. Longest unchecked first."""
        if limit <= 0:
            return []
        now_n = _naive_utc(now)
        a = articles
        with self._read() as conn:
            rows = conn.execute(
                sa.select(a.c.id, a.c.url, a.c.section, a.c.title, a.c.published)
                .where(
                    a.c.source == source,
                    a.c.last_fetched <= now_n - every,
                    a.c.published >= now_n - within,
                    ~a.c.hidden,
                )
                .order_by(a.c.last_fetched)
                .limit(limit)
            ).all()
        return [
            ArticleRef(
                source=source,
                id=r.id,
                url=r.url,
                section=r.section,
                title=r.title,
                published=_aware(r.published),
            )
            for r in rows
        ]

    # -- HTTP validators ----------------------------------------------------------------------

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) last remembered for ``url``, (None, None) when unknown."""
        v = http_validators
        with self._read() as conn:
            row = conn.execute(sa.select(v.c.etag, v.c.last_modified).where(v.c.url == url)).first()
        return (row.etag, row.last_modified) if row is not None else (None, None)

    def save_validators(
        self,
        source: str,
        found: Mapping[str, tuple[str | None, str | None]],
        *,
        now: datetime,
    ) -> None:
        """Remember the validators of some URLs in one transaction; (None, None) forgets one."""
        if not found:
            return
        v = http_validators
        now_n = _naive_utc(now)
        with self._tx() as conn:
            for url, (etag, last_modified) in found.items():
                conn.execute(v.delete().where(v.c.url == url))
                if etag or last_modified:
                    conn.execute(
                        v.insert().values(
                            url=url,
                            source=source,
                            etag=etag,
                            last_modified=last_modified,
                            updated_at=now_n,
                        )
                    )

    def forget_validators(self, *, before: datetime) -> int:
        """Drop validators not renewed since ``before`` (pages no source asks for any more)."""
        v = http_validators
        with self._tx() as conn:
            return int(
                conn.execute(v.delete().where(v.c.updated_at < _naive_utc(before))).rowcount or 0
            )

    # -- retention --------------------------------------------------------------------------

    def apply_retention(
        self, *, now: datetime, days: float = 0, max_per_scope: int = 0, keep: int = 100
    ) -> RetentionResult:
        """Take old articles out of the feeds, never the newest ``keep`` of any feed.

        An article goes when it is older than ``days`` (0: no age limit), or when it is
        beyond the newest ``max_per_scope`` of every feed it is in (0: no count limit). It
        stays as a row without body, so the collector never fetches it again.
        """
        if days <= 0 and max_per_scope <= 0:
            return RetentionResult(0, 0)
        a, p = articles, article_places
        with self._read() as conn:
            rows = conn.execute(
                sa.select(a.c.id, a.c.section, a.c.published)
                .where(~a.c.hidden)
                .order_by(a.c.published.desc(), a.c.id.desc())
            ).all()
            place_rows = conn.execute(
                sa.select(p.c.article_id, p.c.district)
                .where(~p.c.hidden)
                .distinct()
                .order_by(p.c.district, p.c.published.desc(), p.c.article_id.desc())
            ).all()
        # rank of each article in each feed it is in (0 = newest)
        ranks: dict[str, list[int]] = {r.id: [i] for i, r in enumerate(rows)}
        per_section: dict[str, int] = {}
        for r in rows:
            if r.section:
                n = per_section.get(r.section, 0)
                ranks[r.id].append(n)
                per_section[r.section] = n + 1
        per_district: dict[str, int] = {}
        for pr in place_rows:
            if pr.article_id in ranks:
                n = per_district.get(pr.district, 0)
                ranks[pr.article_id].append(n)
                per_district[pr.district] = n + 1
        cutoff = _naive_utc(now) - timedelta(days=days) if days > 0 else None
        doomed: list[str] = []
        for r in rows:
            rk = ranks[r.id]
            if min(rk) < keep:
                continue
            too_old = cutoff is not None and r.published < cutoff
            too_many = max_per_scope > 0 and min(rk) >= max_per_scope
            if too_old or too_many:
                doomed.append(r.id)
        for i in range(0, len(doomed), 200):
            chunk = doomed[i : i + 200]
            with self._tx() as conn:
                conn.execute(
                    a.update()
                    .where(a.c.id.in_(chunk), ~a.c.hidden)
                    .values(hidden=True, hidden_reason=HIDDEN_EXPIRED, content_html="")
                )
                conn.execute(p.delete().where(p.c.article_id.in_(chunk)))
                conn.execute(
                    article_failures.delete().where(article_failures.c.article_id.in_(chunk))
                )
                self._bump(conn)
        return RetentionResult(expired=len(doomed), kept=len(rows) - len(doomed))

    # -- figures for /metrics and /healthz --------------------------------------------------

    def article_status_counts(self) -> dict[str, int]:
        """Stored articles by status: visible, or why hidden; failures pending and given up."""
        out = {"visible": 0, HIDDEN_NEWSROOM: 0, HIDDEN_GONE: 0, HIDDEN_EXPIRED: 0}
        with self._read() as conn:
            for hidden, reason, n in conn.execute(
                sa.select(articles.c.hidden, articles.c.hidden_reason, sa.func.count()).group_by(
                    articles.c.hidden, articles.c.hidden_reason
                )
            ):
                key = "visible" if not hidden else (reason or HIDDEN_NEWSROOM)
                out[key] = out.get(key, 0) + int(n)
            for given_up, n in conn.execute(
                sa.select(article_failures.c.next_retry.is_(None), sa.func.count()).group_by(
                    article_failures.c.next_retry.is_(None)
                )
            ):
                out["failed_given_up" if given_up else "failed_retrying"] = int(n)
        out.setdefault("failed_retrying", 0)
        out.setdefault("failed_given_up", 0)
        return out

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
