"""A scriptable Source for collector tests (STYLE.md: fakes and an injected clock, no mocks).

src = FakeSource("fake")
src.article(1)                      # listed, fetchable, newest first by number
src.fail()                          # the listing fails (FetchError) until src.recover()
src.fail(2, ParseError("garbled"))  # fetching article 2 fails
src.gone(1)                         # article 1 now answers 404
src.not_modified()                  # the next listing is "304 Not Modified"
src.empty()                         # the listing parses but holds nothing (layout changed)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from feedsvc.exceptions import FetchError, NotFoundError
from feedsvc.model import ArticleRef, RawArticle

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def article_id(n: int) -> str:
    return f"tag:baohoabinh.com.vn,2006:{n}"


@dataclass
class FakeItem:
    n: int
    title: str
    body: str
    published: datetime
    section: str | None


class FakeSource:
    require_body = True  # it stands for the paper's pages

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.items: dict[int, FakeItem] = {}
        self.listed: set[int] = set()
        self.listing_error: Exception | None = None
        self.listing_empty = False
        self.fetch_errors: dict[int, Exception] = {}
        self.fetched: list[int] = []
        self.list_calls = 0
        self.known_given: list[bool] = []  # per list_latest call: was ``known`` passed?
        self.not_modified_flag = False
        self.not_modified = False  # what the collector reads after list_latest()
        self.on_fetch: list[object] = []  # callables run before each fetch (tests hook here)
        self.closed = False

    # -- scripting --------------------------------------------------------------------------

    def article(
        self,
        n: int,
        *,
        title: str | None = None,
        body: str | None = None,
        published: datetime | None = None,
        section: str | None = "chinh-tri",
        listed: bool = True,
    ) -> ArticleRef:
        self.items[n] = FakeItem(
            n=n,
            title=title or f"Bài số {n}",
            body=body if body is not None else f"<p>Nội dung bài {n} ở Mai Châu.</p>",
            published=published or T0 + timedelta(minutes=n),
            section=section,
        )
        if listed:
            self.listed.add(n)
        return self.ref(n)

    def fail(self, n: int | None = None, error: Exception | None = None) -> None:
        if n is None:
            self.listing_error = error or FetchError(
                f"source {self.name}: https://fake.test/: HTTP 500", url="https://fake.test/"
            )
        else:
            self.fetch_errors[n] = error or FetchError(
                f"{self.url(n)}: HTTP 500", url=self.url(n), status=500
            )

    def gone(self, n: int) -> None:
        self.fetch_errors[n] = NotFoundError(
            f"{self.url(n)}: HTTP 404", url=self.url(n), status=404
        )

    def recover(self, n: int | None = None) -> None:
        if n is None:
            self.listing_error = None
            self.listing_empty = False
        else:
            self.fetch_errors.pop(n, None)

    def empty(self) -> None:
        self.listing_empty = True

    def unlist(self, n: int) -> None:
        self.listed.discard(n)

    def not_modified_next(self) -> None:
        self.not_modified_flag = True

    # -- the Source protocol ----------------------------------------------------------------

    def url(self, n: int) -> str:
        return f"https://baohoabinh.com.vn/11/{n}/Bai-{n}.htm"

    def ref(self, n: int) -> ArticleRef:
        item = self.items[n]
        return ArticleRef(
            source=self.name,
            id=article_id(n),
            url=self.url(n),
            section=item.section,
            title=item.title,
            published=item.published,
        )

    def list_latest(
        self, *, deadline: float | None = None, known: object = None, **_: object
    ) -> list[ArticleRef]:
        self.list_calls += 1
        self.known_given.append(known is not None)
        self.not_modified = False
        if self.listing_error is not None:
            raise self.listing_error
        if self.not_modified_flag:
            self.not_modified_flag = False
            self.not_modified = True
            return []
        if self.listing_empty:
            return []
        return [self.ref(n) for n in sorted(self.listed, reverse=True)]

    def fetch(self, ref: ArticleRef, *, deadline: float | None = None) -> RawArticle:
        n = int(ref.id.rsplit(":", 1)[1])
        for hook in self.on_fetch:
            hook(n)  # type: ignore[operator]
        self.fetched.append(n)
        if n in self.fetch_errors:
            raise self.fetch_errors[n]
        item = self.items[n]
        return RawArticle(
            ref=ref,
            url=self.url(n),
            title=item.title,
            body_html=item.body,
            published=item.published,
            section=item.section,
        )

    def close(self) -> None:
        self.closed = True
