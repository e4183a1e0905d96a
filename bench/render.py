"""Cold render time of one feed body, against baselines measured in the same run.

    .venv/bin/python bench/render.py [--items 30] [--repeat 200]

Articles are the sanitiser's golden reference article (the paper's real markup after
cleaning) padded with body paragraphs to about 8 KB, each with an image, caption, author,
section and a district: what a typical feed item carries.

Baselines, over the same articles:
- bare feedgen: title, link, guid, description, content:encoded and pubDate per entry, then
  ``rss_str(pretty=True)``; what the least an RSS body built with feedgen costs.
- ``json.dumps`` of the same fields: the floor for the JSON Feed.

Prints the median CPU time of ``--repeat`` renders per format and the ratio to the baseline.
The serving layer's budget for a cold render of a 30-item feed is 30 ms median, store
query included.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedgen.feed import FeedGenerator

from feedsvc.catalog import load_catalog
from feedsvc.model import Article, PlaceTag
from feedsvc.render import FeedContext, render_feed
from feedsvc.service import paper_pages
from feedsvc.settings import settings_from_dict

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "data" / "sanitise" / "reference-article.out.html"
PARAGRAPH = (
    "<p>Song song với phát huy vai trò của các tổ chức cơ sở Đảng, huyện Mai Châu đã thực hiện "
    "có hiệu quả việc đổi mới và nâng cao hiệu lực quản lý của chính quyền cơ sở, quản lý đất "
    'đai, địa giới hành chính. <a href="https://baohoabinh.com.vn/11/169100/Bai-khac.htm">'
    "Xem thêm</a></p>\n"
)
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def build_articles(count: int) -> list[Article]:
    body = REFERENCE.read_text(encoding="utf-8")
    while len(body.encode()) < 8_000:
        body += PARAGRAPH
    return [
        Article(
            id=f"tag:baohoabinh.com.vn,2006:{190000 - n}",
            source="baohoabinh",
            url=f"https://baohoabinh.com.vn/11/{190000 - n}/Doi-moi-he-thong-chinh-tri.htm",
            title=f"CB, CC xã Vạn Mai (Mai Châu) đổi mới cách làm, phục vụ nhân dân tốt hơn {n}",
            summary="(HBĐT) - Xác định hệ thống chính trị ở cơ sở là nơi gần dân nhất, Đảng ủy "
            "xã Vạn Mai những năm gần đây đã tập trung củng cố tổ chức.",
            content_html=body,
            published=T0 - timedelta(minutes=7 * n),
            updated=T0 - timedelta(minutes=7 * n),
            author="Bình Giang",
            section="chinh-tri",
            places=(PlaceTag("mai-chau", "xã Vạn Mai (Mai Châu)", "title", "Vạn Mai"),),
            image=f"https://ims.baohoabinh.com.vn/NewsImg/4_2024/{190000 - n}_anh1.jpg",
            image_caption="Cán bộ, công chức xã Vạn Mai hướng dẫn người dân làm thủ tục.",
        )
        for n in range(count)
    ]


def bare_feedgen(articles: list[Article]) -> bytes:
    fg = FeedGenerator()
    fg.title("Báo Hòa Bình - Chính trị")
    fg.link(href="https://baohoabinh.com.vn/")
    fg.description("Tin Chính trị")
    fg.lastBuildDate(articles[0].updated)
    for a in articles:
        fe = fg.add_entry(order="append")
        fe.guid(a.id, permalink=False)
        fe.title(a.title)
        fe.link(href=a.url)
        fe.description(a.summary)
        fe.content(a.content_html, type="CDATA")
        fe.pubDate(a.published)
    body: bytes = fg.rss_str(pretty=True)
    return body


def bare_json(articles: list[Article]) -> bytes:
    items = [
        {
            "id": a.id,
            "url": a.url,
            "title": a.title,
            "content_html": a.content_html,
            "summary": a.summary,
            "date_published": a.published.isoformat(),
        }
        for a in articles
    ]
    return json.dumps({"version": "1.1", "items": items}, ensure_ascii=False, indent=1).encode()


def median_ms(fn: Callable[[], bytes], repeat: int) -> tuple[float, int]:
    """Median CPU time of this thread: other processes on a shared machine add wall time to
    a run, not CPU time."""
    size = len(fn())  # warm-up: imports, regex compilation
    times = []
    for _ in range(repeat):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return statistics.median(times) * 1000, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    catalog = load_catalog(settings_from_dict({}, env={}))
    ctx = FeedContext(
        public_url="https://feeds.baohoabinh.example",
        site_url="https://baohoabinh.com.vn/",
        logo_url="https://baohoabinh.com.vn/Images/logo.png",
        ttl_minutes=10,
        catalog=catalog,
        icon_url="https://baohoabinh.com.vn/favicon.ico",
        page_urls=paper_pages(
            catalog, "https://baohoabinh.com.vn/", "/{category_id}/page/1/{listing}.htm"
        ),
    )
    scope = catalog.lookup("chinh-tri")
    articles = build_articles(args.items)

    base_xml, base_xml_size = median_ms(lambda: bare_feedgen(articles), args.repeat)
    base_json, base_json_size = median_ms(lambda: bare_json(articles), args.repeat)
    print(f"{args.items} items of ~8 KB, median of {args.repeat} cold renders")
    print(f"  baseline bare feedgen RSS : {base_xml:7.2f} ms  {base_xml_size:>9,} bytes")
    print(f"  baseline json.dumps       : {base_json:7.2f} ms  {base_json_size:>9,} bytes")
    for fmt in ("rss", "atom", "json"):
        ms, size = median_ms(
            lambda fmt=fmt: render_feed(scope, articles, ctx, fmt).body,
            args.repeat,
        )
        base = base_json if fmt == "json" else base_xml
        print(f"  render_feed {fmt:<4}          : {ms:7.2f} ms  {size:>9,} bytes  x{ms / base:.2f}")


if __name__ == "__main__":
    main()
