"""The layout parser on saved article pages: golden data files.

Each ``tests/data/articles/NAME.htm`` is a page of the paper's layout; ``NAME.expected.json``
holds what the profile must extract. Regenerate an expectation after a deliberate change with
``FEEDSVC_REGENERATE=1 pytest tests/test_html.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from feedsvc.catalog import load_catalog
from feedsvc.exceptions import LayoutError, ParseError
from feedsvc.sanitise import sanitise_article
from feedsvc.settings import Settings, load_settings
from feedsvc.sources.fetch import decode_text
from feedsvc.sources.html import load_profile, parse_article, parse_date, parse_listing
from feedsvc.text import squash_spaces

from .conftest import DATA, ROOT

ARTICLES = sorted((DATA / "articles").glob("*.htm"))
PROFILE = ROOT / "config" / "layouts" / "baohoabinh.toml"


def extract(page: Path, settings: Settings) -> dict[str, Any]:
    profile = load_profile(PROFILE)
    raw = parse_article(
        profile, decode_text(page.read_bytes()), None, catalog=load_catalog(settings)
    )
    clean = sanitise_article(raw.body_html, raw.url)
    body = lxml.html.fragment_fromstring(raw.body_html, create_parent="div")
    return {
        "id": raw.ref.id,
        "url": raw.url,
        "title": raw.title,
        "section": raw.section,
        "published": raw.published.astimezone(profile.timezone).isoformat()
        if raw.published
        else None,
        "date_source": raw.date_source,
        "author": raw.author or clean.author,
        "image": raw.image or clean.image,
        # the body as the parser hands it on (before sanitising), as text
        "text": squash_spaces(" ".join(body.itertext())),
    }


@pytest.mark.parametrize("page", ARTICLES, ids=[p.stem for p in ARTICLES])
def test_parse_article_golden(page: Path) -> None:
    settings = load_settings(env={})
    got = extract(page, settings)
    expected_path = page.with_suffix(".expected.json")
    if os.environ.get("FEEDSVC_REGENERATE"):
        expected_path.write_text(json.dumps(got, ensure_ascii=False, indent=2) + "\n")
    expected = json.loads(expected_path.read_text())
    assert got == expected
    # Boilerplate never reaches the text, whatever the page.
    assert "Các tin khác" not in got["text"]
    assert "Xem các tin đã đưa ngày" not in got["text"]


def test_parse_article_without_body_names_the_selector() -> None:
    with pytest.raises(ParseError, match=r"\[article\] body"):
        parse_article(
            load_profile(PROFILE),
            "<html><body><p>x</p></body></html>",
            "https://baohoabinh.com.vn/11/1/a.htm",
        )


def test_parse_listing_reads_items_in_order() -> None:
    profile = load_profile(PROFILE)
    html = """<div class="list-news">
      <div class="news-item"><h3><a class="title" href="/11/200002/B.htm">B</a></h3>
        <span class="date">27/11/2026 08:00</span><p class="lead">(HBĐT) - b</p></div>
      <div class="news-item"><h3><a class="title" href="http://www.baohoabinh.com.vn/11/200001/A.htm?x=1">A</a></h3>
        <span class="date">26/11/2026 08:00</span></div>
      <div class="news-item"><h3><a class="title" href="https://other.example/11/3/C.htm">C</a></h3></div>
    </div>"""
    refs = parse_listing(
        profile,
        html,
        "https://baohoabinh.com.vn/11/page/1/CHINH-TRI.htm",
        source="s",
        section="chinh-tri",
    )
    assert [r.id for r in refs] == [
        "tag:baohoabinh.com.vn,2006:200002",
        "tag:baohoabinh.com.vn,2006:200001",
    ]
    assert (
        refs[1].url == "https://baohoabinh.com.vn/11/200001/A.htm"
    )  # www., http and query dropped
    assert (
        refs[0].published is not None
        and refs[0].published.isoformat() == "2026-11-27T01:00:00+00:00"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Cập nhật: 26/04/2024 09:15", "2024-04-26T02:15:00+00:00"),
        ("5/3/2025 8:05", "2025-03-05T01:05:00+00:00"),
        ("09h15 - 26/4/2024", "2024-04-26T02:15:00+00:00"),
        ("Thứ Sáu, 27-11-2026", "2026-11-26T17:00:00+00:00"),
        ("2026-11-27T08:00:00+07:00", "2026-11-27T01:00:00+00:00"),
        ("2026-11-27T08:00:00", "2026-11-27T01:00:00+00:00"),
        ("31/02/2024 10:00", None),
        ("", None),
        ("hôm nay", None),
    ],
)
def test_parse_date_reads_vietnam_time(text: str, expected: str | None) -> None:
    from zoneinfo import ZoneInfo

    got = parse_date(text, ZoneInfo("Asia/Ho_Chi_Minh"))
    assert (got.isoformat() if got else None) == expected


def test_load_profile_errors_name_profile_and_selector(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(PROFILE.read_text().replace("[listing]\n", "[listing]\nlead2 = 'x'\n", 1))
    with pytest.raises(LayoutError, match=r"bad.toml.*\[listing\] lead2: unknown key"):
        load_profile(bad)
    bad.write_text(PROFILE.read_text().replace('body = ["//div', 'body = ["//div[[', 1))
    with pytest.raises(LayoutError, match=r"bad.toml.*\[article\] body: invalid XPath"):
        load_profile(bad)
