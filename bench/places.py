"""Benchmark district tagging on the evaluation set (tests/data/places/), against a naive baseline.

    .venv/bin/python bench/places.py [--repeat 20] [--runs 3] [--processes 2]

Three kinds of article, each tagged by feedsvc.places.tag_places and by a naive tagger measured
in the same run (one regular expression per name, every name searched in every field, no
context rules):

- short: the evaluation set as it is (bodies of about 200 characters);
- dense: each body followed by the next 23 bodies of the set (about 4.7 KB, a place name every
  170 characters: far denser than the paper);
- realistic: 4 to 6 KB bodies like the paper's (issue 8 asks for >= 2,000 of these a second):
  each test article's body followed by paragraphs of a real article of the paper
  (../shared/reference/article-sample.txt, found beside the checkout; without it, the
  paragraphs of tests/data/sanitise/reference-article.in.html), with another test body after
  every second paragraph. All NFC, as the collector stores them.

Prints articles/s (median of the runs) in one process by the wall clock and per CPU-second of
that process (the 2 cores are shared with other work: the CPU figure is what the code costs,
the wall clock what the machine gave; they agree on an idle machine), the ratio of the CPU
figures of ours and of the naive tagger, the wall-clock rate of --processes worker processes
over the same articles, the load average, and the precision/recall of both taggers per
district. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import statistics
import sys
import time
import tomllib
import unicodedata
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedsvc.places import Gazetteer, load_gazetteer, tag_places  # noqa: E402

DATA = ROOT / "tests" / "data" / "places"
DISTRICTS = ROOT / "config" / "districts.toml"
SAMPLE_NAME = "article-sample.txt"
FALLBACK_SAMPLE = ROOT / "tests" / "data" / "sanitise" / "reference-article.in.html"

Article = tuple[str, str, str]
Tagger = Callable[[Article], set[str]]


def load_articles() -> list[tuple[Article, set[str]]]:
    out = []
    for path in sorted(DATA.glob("*.toml")):
        with path.open("rb") as f:
            a = tomllib.load(f)
        texts = (a["headline"], a["lead"], a["body"])
        if a.get("nfd"):
            texts = tuple(unicodedata.normalize("NFD", t) for t in texts)
        out.append((texts, set(a["expected"])))
    return out


def dense_articles(short: list[Article]) -> list[Article]:
    """Each body followed by the next 23 (kept as the earlier benchmark built them)."""
    bodies = [a[2] for a in short]
    return [(a[0], a[1], "\n\n".join(bodies[i : i + 24])) for i, a in enumerate(short)]


def sample_paragraphs() -> tuple[list[str], str]:
    """Paragraphs of prose from a real article of the paper, and where they come from."""
    for folder in (ROOT, *ROOT.parents):
        path = folder / "shared" / "reference" / SAMPLE_NAME
        if path.is_file():
            text = path.read_text(encoding="utf-8").split("Các tin khác")[0]
            paragraphs = [p.strip() for p in text.split("\n")]
            return [p for p in paragraphs if len(p) > 200], str(path)
    markup = FALLBACK_SAMPLE.read_text(encoding="utf-8")
    paragraphs = [
        " ".join(html.unescape(re.sub(r"<[^>]+>", "", p)).split())
        for p in re.findall(r"<p[^>]*>(.*?)</p>", markup, re.S)
    ]
    return [p for p in paragraphs if len(p) > 80], str(FALLBACK_SAMPLE)


def realistic_articles(short: list[Article], prose: list[str]) -> list[Article]:
    """4-6 KB bodies: the article's own body, real prose, another test body every 2 paragraphs."""
    nfc = [tuple(unicodedata.normalize("NFC", t) for t in a) for a in short]
    out = []
    for i, (title, lead, body) in enumerate(nfc):
        target = 4000 + (i * 613) % 2001  # spread over 4-6 KB
        parts, size, k = [body], len(body), 0
        while size < target:
            piece = prose[(i + k) % len(prose)]
            if k % 2 == 1:
                piece += "\n\n" + nfc[(i + 7 * k + 1) % len(nfc)][2]
            if size + len(piece) > 6000 and size >= 4000:
                break
            parts.append(piece)
            size += len(piece) + 2
            k += 1
        out.append((title, lead, "\n\n".join(parts)[:6000]))
    return out


def naive_tagger() -> Tagger:
    """What one would write first: every name of the gazetteer as its own regex."""
    with DISTRICTS.open("rb") as f:
        data = tomllib.load(f)
    names: dict[str, set[str]] = {}
    for d in data["districts"]:
        for n in (d["name"], d.get("short", d["name"]), *d.get("aliases", [])):
            names.setdefault(n, set()).add(d["slug"])
        for u in (*d.get("units", []), *d.get("former_districts", [])):
            for n in (u["name"], *u.get("aliases", [])):
                names.setdefault(n, set()).add(d["slug"])
    patterns = [
        (re.compile(r"(?<!\w)" + re.escape(n).replace(r"\ ", r"\s+") + r"(?!\w)", re.I), slugs)
        for n, slugs in names.items()
    ]

    def tag(article: Article) -> set[str]:
        found: set[str] = set()
        for text in article:
            text = unicodedata.normalize("NFC", text)
            for pattern, slugs in patterns:
                if pattern.search(text):
                    found |= slugs
        return found

    tag.count = len(patterns)  # type: ignore[attr-defined]
    return tag


def our_tagger(gaz: Gazetteer | None = None) -> Tagger:
    gaz = gaz or load_gazetteer(DISTRICTS)

    def tag(article: Article) -> set[str]:
        title, summary, body = article
        return {t.district for t in tag_places(gaz, title=title, summary=summary, body=body)}

    return tag


def throughput(tag: Tagger, articles: list[Article], runs: int) -> tuple[float, float]:
    """Median articles/s of the runs: by the wall clock, and per CPU-second of this process."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        for article in articles:
            tag(article)
        cpu.append(len(articles) / max(time.process_time() - start_cpu, 1e-9))
        wall.append(len(articles) / (time.perf_counter() - start))
    return statistics.median(wall), statistics.median(cpu)


# --- worker processes: each loads the gazetteer once, then tags its share of the articles ----

_WORKER_TAGGER: list[Tagger] = []


def _worker_init() -> None:
    _WORKER_TAGGER.append(our_tagger())


def _worker_tag(articles: list[Article]) -> int:
    tag = _WORKER_TAGGER[0]
    for article in articles:
        tag(article)
    return len(articles)


def parallel_throughput(articles: list[Article], processes: int, runs: int) -> float:
    """Median wall-clock articles/s of `processes` workers sharing the articles."""
    shares = [articles[i::processes] for i in range(processes)]
    rates = []
    with ProcessPoolExecutor(max_workers=processes, initializer=_worker_init) as pool:
        list(pool.map(_worker_tag, [s[:5] for s in shares]))  # start and warm every worker
        for _ in range(runs):
            start = time.perf_counter()
            done = sum(pool.map(_worker_tag, shares))
            rates.append(done / (time.perf_counter() - start))
    return statistics.median(rates)


def scores(tag: Tagger, labelled: list[tuple[Article, set[str]]]) -> dict[str, list[int]]:
    """Per district [true positives, false positives, false negatives]; key "" = all."""
    out: dict[str, list[int]] = {}
    for article, expected in labelled:
        got = tag(article)
        for slug in got | expected:
            for key in (slug, ""):
                row = out.setdefault(key, [0, 0, 0])
                row[0] += slug in got and slug in expected
                row[1] += slug in got and slug not in expected
                row[2] += slug in expected and slug not in got
    return out


def pr(row: list[int]) -> tuple[float, float]:
    tp, fp, fn = row
    return (tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="times the short set is repeated")
    parser.add_argument("--runs", type=int, default=3, help="timed runs (median)")
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)

    labelled = load_articles()
    ours, naive = our_tagger(), naive_tagger()
    short = [a for a, _ in labelled]
    prose, prose_source = sample_paragraphs()
    kinds = {
        "short": short * args.repeat,
        "dense": dense_articles(short) * max(1, args.repeat // 4),
        "realistic": realistic_articles(short, prose) * max(1, args.repeat // 4),
    }
    load_before = load()
    print(f"places benchmark: {len(labelled)} test articles, median of {args.runs} runs,")
    print(f"{os.cpu_count()} CPUs, load average {load_before} (1, 5, 15 min) at the start")
    print(f"realistic bodies: test bodies and paragraphs of {prose_source}")
    print()
    print(
        f"  {'articles':<10} {'body KB':>7}   {'ours/s':>7} {'ours/CPU-s':>10}"
        f"   {'naive/CPU-s':>11} {'ratio':>6}   {f'{args.processes} processes/s':>14}"
    )
    for kind, articles in kinds.items():
        size = statistics.mean(len(a[2]) for a in articles) / 1000
        wall, cpu = throughput(ours, articles, args.runs)
        # The naive tagger is slow: it gets a tenth of the short articles and 20 long ones.
        few = articles[: len(articles) // 10 if kind == "short" else 20]
        _, naive_cpu = throughput(naive, few, args.runs)
        parallel = parallel_throughput(articles, args.processes, args.runs)
        print(
            f"  {kind:<10} {size:7.1f}   {wall:7.0f} {cpu:10.0f}"
            f"   {naive_cpu:11.0f} {cpu / naive_cpu:5.0f}x   {parallel:14.0f}"
        )
    print(f"  (naive: one regex per name, {naive.count} names)")  # type: ignore[attr-defined]
    print(f"load average {load()} at the end")

    ours_scores, naive_scores = scores(ours, labelled), scores(naive, labelled)
    print()
    print("precision / recall per district (micro, over (article, district) pairs)")
    print(
        f"  {'district':<20} {'n':>4}   {'ours P':>6} {'ours R':>6}   {'naive P':>7} {'naive R':>7}"
    )
    with DISTRICTS.open("rb") as f:
        slugs = [d["slug"] for d in tomllib.load(f)["districts"]]
    for slug in [*slugs, ""]:
        row = ours_scores.get(slug, [0, 0, 0])
        p, r = pr(row)
        np_, nr = pr(naive_scores.get(slug, [0, 0, 0]))
        print(
            f"  {slug or 'all':<20} {row[0] + row[2]:>4}   {p:6.3f} {r:6.3f}   {np_:7.3f} {nr:7.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
