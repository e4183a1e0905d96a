"""Throughput of the sanitiser on typical article HTML, against baselines measured in the same run.

    .venv/bin/python bench/sanitise.py [--workers 2] [--articles 400] [--repeat 5]

Articles are built from the golden reference article (the paper's real markup quirks: image
box, duplicate caption, &nbsp; paragraphs, right-aligned author) padded with more body
paragraphs, lazy images, links and a YouTube embed to 5, 8 and 10 KB.

Baselines, each over the same articles with the same worker processes:
- ``bleach.clean`` with our allow-list, tags and protocols (``strip=True``): what a plain
  "just bleach it" sanitiser costs. This script is the only place outside feedsvc/sanitise.py
  that imports bleach, and only to measure it.
- lxml: parse + serialise, a floor for any tree-based cleaning.

Prints the median articles/s of ``--repeat`` runs and the ratio to each baseline.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "data" / "sanitise" / "reference-article.in.html"
BASE_URL = "https://baohoabinh.com.vn/11/169105/Doi-moi-he-thong-chinh-tri.htm"

EXTRA_PARAGRAPH = (
    '<p style="text-align: justify;">Song song với phát huy vai trò của các TCCS Đảng, huyện '
    "Mai Châu đã thực hiện có hiệu quả việc đổi mới và nâng cao hiệu lực quản lý của chính quyền "
    "cơ sở. Chính quyền các xã, thị trấn đã khẳng định vai trò trong việc điều hành, tổ chức thực "
    'hiện các chủ trương, <a href="/11/169100/Bai-khac.htm">đường lối của Đảng</a>, chính sách, '
    "pháp luật của Nhà nước, các mục tiêu KT – XH, quản lý hành chính như việc thu - chi ngân "
    "sách, quản lý đất đai, địa giới hành chính.</p>\n<p>&nbsp;</p>\n"
)
EXTRAS = (
    '<p style="text-align:center"><img src="data:image/gif;base64,R0lGOD" '
    'data-src="/NewsImg/4_2024/169105_anh2.jpg" alt="" width="600" height="400"></p>\n'
    '<p style="text-align:center"><em>Người dân xã Vạn Mai tham gia buổi sinh hoạt. '
    "Ảnh: M.T</em></p>\n"
    '<p><iframe width="560" height="315" src="https://www.youtube.com/embed/dQw4w9WgXcQ" '
    'frameborder="0" allowfullscreen></iframe></p>\n'
    '<img src="https://stats.example/pixel.gif" width="1" height="1">\n'
)


def build_articles() -> list[str]:
    """Three typical articles: about 5, 8 and 10 KB of UTF-8."""
    reference = REFERENCE.read_text(encoding="utf-8")
    head, sep, tail = reference.partition('   <p align="right">')
    articles = []
    for target in (5_000, 8_000, 10_000):
        body = head + EXTRAS
        while len((body + sep + tail).encode()) < target:
            body += EXTRA_PARAGRAPH
        articles.append(body + sep + tail)
    return articles


def run_ours(articles: list[str]) -> int:
    from feedsvc.sanitise import sanitise_article

    for html in articles:
        sanitise_article(html, BASE_URL)
    return len(articles)


def run_bleach(articles: list[str]) -> int:
    import bleach

    from feedsvc.sanitise import ALLOWED_ATTRIBUTES, ALLOWED_PROTOCOLS, ALLOWED_TAGS

    attributes = {tag: list(names) for tag, names in ALLOWED_ATTRIBUTES.items()}
    for html in articles:
        bleach.clean(
            html, tags=ALLOWED_TAGS, attributes=attributes, protocols=ALLOWED_PROTOCOLS, strip=True
        )
    return len(articles)


def run_lxml(articles: list[str]) -> int:
    import lxml.html

    for html in articles:
        lxml.html.tostring(lxml.html.fragment_fromstring(html, create_parent="div"))
    return len(articles)


def warm_up(_: int) -> None:
    run_ours(build_articles())
    run_bleach(build_articles()[:1])


def measure(
    pool: ProcessPoolExecutor, job: Callable[[list[str]], int], batch: list[str], workers: int
) -> float:
    """Articles per second for ``batch`` split evenly over the workers."""
    chunks = [batch[i::workers] for i in range(workers)]
    start = time.perf_counter()
    done = sum(pool.map(job, chunks))
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--articles", type=int, default=400, help="articles per run")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    articles = build_articles()
    sizes = ", ".join(f"{len(a.encode()) / 1000:.1f} KB" for a in articles)
    batch = [articles[i % len(articles)] for i in range(args.articles)]
    jobs = {
        "sanitise_article": run_ours,
        "bleach.clean": run_bleach,
        "lxml parse+serialise": run_lxml,
    }
    results: dict[str, list[float]] = {name: [] for name in jobs}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        list(pool.map(warm_up, range(args.workers)))
        for _ in range(args.repeat):
            for name, job in jobs.items():  # interleaved, so load changes hit all alike
                results[name].append(measure(pool, job, batch, args.workers))

    print(f"articles: {sizes} (mixed), {args.articles} per run, {args.workers} worker processes")
    medians = {name: statistics.median(runs) for name, runs in results.items()}
    for name, value in medians.items():
        spread = f"{min(results[name]):.0f}-{max(results[name]):.0f}"
        print(f"{name:>22}: {value:8.0f} articles/s  (median of {args.repeat}, range {spread})")
    ours = medians["sanitise_article"]
    print(f"ratio sanitise_article / bleach.clean: {ours / medians['bleach.clean']:.2f}")
    floor = medians["lxml parse+serialise"]
    print(f"ratio sanitise_article / lxml parse+serialise: {ours / floor:.3f}")


if __name__ == "__main__":
    main()
