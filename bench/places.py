"""Benchmark district tagging on the evaluation set (tests/data/places/), against a naive baseline.

    .venv/bin/python bench/places.py [--repeat 20] [--runs 3]

Prints articles/s (median of the runs) for feedsvc.places.tag_places and for a naive tagger
measured in the same run (one regular expression per name, every name searched in every field,
no context rules), their ratio, the speed on long articles (bodies of about 4 KB), and the
precision/recall of both per district. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import tomllib
import unicodedata
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedsvc.places import load_gazetteer, tag_places  # noqa: E402

DATA = ROOT / "tests" / "data" / "places"
DISTRICTS = ROOT / "config" / "districts.toml"

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


def our_tagger() -> Tagger:
    gaz = load_gazetteer(DISTRICTS)

    def tag(article: Article) -> set[str]:
        title, summary, body = article
        return {t.district for t in tag_places(gaz, title=title, summary=summary, body=body)}

    return tag


def throughput(tag: Tagger, articles: list[Article], runs: int) -> float:
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        for article in articles:
            tag(article)
        rates.append(len(articles) / (time.perf_counter() - start))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="times the set is repeated")
    parser.add_argument("--runs", type=int, default=3, help="timed runs (median)")
    args = parser.parse_args(argv)

    labelled = load_articles()
    ours, naive = our_tagger(), naive_tagger()
    short = [a for a, _ in labelled]
    bodies = [a[2] for a in short]
    long = [(a[0], a[1], "\n\n".join(bodies[i : i + 24])) for i, a in enumerate(short)]
    long_chars = statistics.mean(len(a[2]) for a in long)
    # The naive tagger is slow: it gets a tenth of the work; the rates are per article.
    articles = short * args.repeat
    ours_rate = throughput(ours, articles, args.runs)
    naive_rate = throughput(naive, short * max(1, args.repeat // 10), args.runs)
    long_ours = throughput(ours, long * max(1, args.repeat // 4), args.runs)
    long_naive = throughput(naive, long[: len(long) // 4], args.runs)

    print(f"places benchmark: {len(labelled)} articles x {args.repeat} = {len(articles)} taggings,")
    print(f"median of {args.runs} runs")
    print(f"  ours  (one compiled trie regex):       {ours_rate:9.0f} articles/s")
    print(f"  naive (one regex per name, {naive.count}):     {naive_rate:9.0f} articles/s")  # type: ignore[attr-defined]
    print(f"  ratio ours/naive: {ours_rate / naive_rate:.1f}x")
    print(
        f"  long articles (body ~{long_chars / 1000:.1f} KB): ours {long_ours:.0f}/s,"
        f" naive {long_naive:.0f}/s, ratio {long_ours / long_naive:.1f}x"
    )
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
