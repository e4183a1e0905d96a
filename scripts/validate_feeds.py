"""Validate every feed of a running feedsvc with the W3C Feed Validation Service's own code.

Not part of the test suite: it needs the validator's source, fetched separately (never
committed here), and a Python with its dependencies (lxml, html5lib, rdflib):

    git clone https://github.com/w3c/feedvalidator /tmp/feedvalidator
    python3 -m venv /tmp/fv-venv && /tmp/fv-venv/bin/pip install lxml html5lib rdflib
    .venv/bin/feedsvc --config my.toml run --port 8765 &     # public_url = http://127.0.0.1:8765
    /tmp/fv-venv/bin/python scripts/validate_feeds.py --validator /tmp/feedvalidator \\
        --base http://127.0.0.1:8765

Every RSS and Atom feed named on the directory page (``GET /``) is fetched by the validator
itself (so the HTTP headers are judged too) at the "AA" level the online service reports:
errors and warnings. JSON feeds are checked against the JSON Feed 1.1 rules in
tests/jsonfeed.py. ``--limit N`` validates ``?limit=N`` instead. Exit status 0 only when no
feed has an error or a warning.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FEED_LINK = re.compile(r"/feeds/([a-z0-9]+(?:-[a-z0-9]+)*)\.(xml|atom|json)\b")


def load_validator(path: Path) -> Any:
    src = path / "src" if (path / "src" / "feedvalidator").is_dir() else path
    sys.path.insert(0, str(src))
    import feedvalidator  # type: ignore[import-not-found]

    return feedvalidator


def discover(base: str) -> list[tuple[str, str]]:
    with urllib.request.urlopen(base.rstrip("/") + "/", timeout=30) as resp:
        page = resp.read().decode("utf-8", "replace")
    seen: dict[tuple[str, str], None] = {}
    for m in FEED_LINK.finditer(page):
        seen.setdefault((m.group(1), m.group(2)), None)
    return list(seen)


def validate_xml(fv: Any, url: str) -> tuple[list[str], int, int]:
    from feedvalidator import compatibility
    from feedvalidator.formatter.text_plain import Formatter

    try:
        events = fv.validateURL(url, firstOccurrenceOnly=1)["loggedEvents"]
    except fv.logging.ValidationFailure as failure:
        events = [failure.event]
    events = compatibility.AA(events)
    errors = sum(isinstance(e, fv.logging.Error) for e in events)
    warnings = sum(isinstance(e, fv.logging.Warning) for e in events)
    return list(Formatter(events)), errors, warnings


def validate_json(url: str) -> tuple[list[str], int, int]:
    sys.path.insert(0, str(ROOT))
    from tests.jsonfeed import check_json_feed

    with urllib.request.urlopen(url, timeout=30) as resp:
        content_type = resp.headers.get("Content-Type", "")
        body = resp.read()
    problems = check_json_feed(json.loads(body.decode("utf-8")))
    if not content_type.startswith("application/feed+json"):
        problems.append(f"Content-Type is {content_type!r}, not application/feed+json")
    return problems, len(problems), 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validator", type=Path, required=True, help="w3c/feedvalidator checkout")
    parser.add_argument(
        "--base", required=True, help="the running service, e.g. http://127.0.0.1:8765"
    )
    parser.add_argument("--limit", type=int, help="validate ?limit=N")
    parser.add_argument("--formats", default="xml,atom,json", help="comma-separated: xml,atom,json")
    parser.add_argument(
        "--slugs", help="comma-separated slugs (default: all on the directory page)"
    )
    args = parser.parse_args(argv)

    fv = load_validator(args.validator)
    formats = set(args.formats.split(","))
    if args.slugs:
        feeds = [(slug, ext) for slug in args.slugs.split(",") for ext in sorted(formats)]
    else:
        feeds = [(slug, ext) for slug, ext in discover(args.base) if ext in formats]
    if not feeds:
        print("no feeds found", file=sys.stderr)
        return 2
    total_errors = total_warnings = 0
    for slug, ext in feeds:
        url = f"{args.base.rstrip('/')}/feeds/{slug}.{ext}"
        if args.limit is not None:
            url += f"?limit={args.limit}"
        if ext == "json":
            lines, errors, warnings = validate_json(url)
        else:
            lines, errors, warnings = validate_xml(fv, url)
        total_errors += errors
        total_warnings += warnings
        status = "ok" if not lines else f"{errors} error(s), {warnings} warning(s)"
        print(f"{url}: {status}")
        for line in lines:
            print(f"    {line}")
    print(
        f"feeds checked: {len(feeds)}  errors: {total_errors}  warnings: {total_warnings}",
    )
    return 1 if total_errors or total_warnings else 0


if __name__ == "__main__":
    sys.exit(main())
