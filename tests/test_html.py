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
from feedsvc.settings import Settings, load_settings
from feedsvc.sources.fetch import decode_text
from feedsvc.sources.html import (
    extract_article,
    load_profile,
    parse_article,
    parse_date,
    parse_listing,
)
from feedsvc.text import squash_spaces

from .conftest import DATA, ROOT

ARTICLES = sorted((DATA / "articles").glob("*.htm"))
PROFILE = ROOT / "config" / "layouts" / "baohoabinh.toml"


def extract(page: Path, settings: Settings) -> dict[str, Any]:
    """What the parser hands on for one page (before sanitising), as plain JSON."""
    profile = load_profile(PROFILE)
    found = extract_article(
        profile, decode_text(page.read_bytes()), None, catalog=load_catalog(settings)
    )
    raw = found.raw
    body = lxml.html.fragment_fromstring(raw.body_html or "<p></p>", create_parent="div")
    return {
        "id": raw.ref.id,
        "url": raw.url,
        "title": raw.title,
        "section": raw.section,
        "published": raw.published.astimezone(profile.timezone).isoformat()
        if raw.published
        else None,
        "date_source": raw.date_source,
        "author": raw.author,
        "image": raw.image,
        "lead": found.lead,
        "captions": found.captions,
        "images": found.images,
        "warnings": found.warnings,
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
    if got["author"]:
        assert not got["text"].endswith(got["author"])  # the author line is lifted out


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
        ("Thứ Hai, 3/2/2025 - 10:30", "2025-02-03T03:30:00+00:00"),
        ("26/04/2024 09:15:42", "2024-04-26T02:15:00+00:00"),
        ("26/04/2024 9:15 CH", "2024-04-26T14:15:00+00:00"),
        ("Ngày 26 tháng 4 năm 2024", "2024-04-25T17:00:00+00:00"),
        ("2024-04-26 09:15:00", "2024-04-26T02:15:00+00:00"),
        ("31/02/2024 10:00", None),
        ("", None),
        ("hôm nay", None),
    ],
)
def test_parse_date_reads_vietnam_time(text: str, expected: str | None) -> None:
    from zoneinfo import ZoneInfo

    got = parse_date(text, ZoneInfo("Asia/Ho_Chi_Minh"))
    assert (got.isoformat() if got else None) == expected


@pytest.mark.parametrize(
    "text", ["01/01/0001 00:00", "0001-01-01T00:00:00", "9999-12-31T23:59:00-05:00"]
)
def test_parse_date_out_of_range_placeholder_is_no_date(text: str) -> None:
    """A CMS placeholder (.NET's DateTime.MinValue) is no date, not an OverflowError."""
    from zoneinfo import ZoneInfo

    assert parse_date(text, ZoneInfo("Asia/Ho_Chi_Minh")) is None


def test_load_profile_errors_name_profile_and_selector(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(PROFILE.read_text().replace("[listing]\n", "[listing]\nlead2 = 'x'\n", 1))
    with pytest.raises(LayoutError, match=r"bad.toml.*\[listing\] lead2: unknown key"):
        load_profile(bad)
    bad.write_text(PROFILE.read_text().replace('body = ["//div', 'body = ["//div[[', 1))
    with pytest.raises(LayoutError, match=r"bad.toml.*\[article\] body: invalid XPath"):
        load_profile(bad)


ARTICLE_URL = "https://baohoabinh.com.vn/11/1/a.htm"


def body_page(body: str, head: str = "") -> str:
    return (
        f'<html><head><meta charset="utf-8">{head}</head><body><div class="news-detail">'
        '<h1 class="news-title">Tiêu đề</h1><div class="news-date">26/04/2024 09:15</div>'
        f'<div class="news-content">{body}</div></div></body></html>'
    )


@pytest.mark.parametrize("dash", ["-", "–", "—"])
def test_parse_article_lead_marker_takes_any_dash(dash: str) -> None:
    page = body_page(f"<p><em>Chú thích ảnh</em></p><p><strong>(HBĐT) {dash} Lời dẫn.</strong></p>")
    found = extract_article(load_profile(PROFILE), page, ARTICLE_URL)
    assert found.lead == "Lời dẫn."
    assert f"(HBĐT) {dash} Lời dẫn." in found.raw.body_html  # the body keeps it as published


@pytest.mark.parametrize(
    ("last", "author"),
    [
        ('<p align="right"><strong>Bình Giang</strong></p>', "Bình Giang"),
        ('<p style="text-align: right;">Thu Trang (tổng hợp)</p>', "Thu Trang (tổng hợp)"),
        ("<p>" + "&nbsp;" * 40 + "Minh Thu</p>", "Minh Thu"),
        ('<div align="right"><b>M.T</b></div><p>&nbsp;</p><p>&nbsp;</p>', "M.T"),
        # Not a signature: a sentence, a plain last paragraph, an image.
        ('<p align="right">Đây là một câu rất dài kết thúc bài viết về nhiều việc.</p>', None),
        ("<p>Bình Giang</p>", None),
        ('<p align="right"><img src="/a.jpg"></p>', None),
    ],
)
def test_parse_article_lifts_right_aligned_author_line(last: str, author: str | None) -> None:
    page = body_page("<p>(HBĐT) - Lời dẫn.</p><p>&nbsp;</p><p>Thân bài.</p><p>&nbsp;</p>" + last)
    raw = parse_article(load_profile(PROFILE), page, ARTICLE_URL)
    assert raw.author == author
    if author:
        assert author not in raw.body_html
    assert "&nbsp;" not in raw.body_html and "\xa0</p>" not in raw.body_html


def test_parse_article_rules_can_be_switched_off(tmp_path: Path) -> None:
    profile_path = tmp_path / "p.toml"
    profile_path.write_text(
        PROFILE.read_text(encoding="utf-8")
        .replace("author_line = true", "author_line = false")
        .replace("drop_empty_paragraphs = true", "drop_empty_paragraphs = false")
        .replace("drop_repeated_captions = true", "drop_repeated_captions = false"),
        encoding="utf-8",
    )
    page = body_page(
        '<table class="image-box"><tr><td><img src="/x.jpg"></td></tr>'
        '<tr><td class="image-caption">Ảnh đẹp</td></tr></table><p><em>Ảnh đẹp</em></p>'
        '<p>(HBĐT) - Lời dẫn.</p><p>&nbsp;</p><p align="right">&nbsp;&nbsp;&nbsp;&nbsp;Tác Giả</p>'
    )
    on = extract_article(load_profile(PROFILE), page, ARTICLE_URL)
    off = extract_article(load_profile(profile_path), page, ARTICLE_URL)
    assert on.raw.author == "Tác Giả" and off.raw.author is None
    assert on.raw.body_html.count("Ảnh đẹp") == 1 and off.raw.body_html.count("Ảnh đẹp") == 2
    assert "\xa0" not in on.raw.body_html and "\xa0" in off.raw.body_html
    assert on.captions == off.captions == ["Ảnh đẹp"]


def test_parse_article_sapo_outside_the_body_joins_it() -> None:
    page = (
        '<html><body><h1 class="news-title">T</h1><h2 class="sapo">(HBĐT) - Lời dẫn riêng.</h2>'
        '<div class="news-content"><p>Thân bài.</p></div></body></html>'
    )
    found = extract_article(load_profile(PROFILE), page, ARTICLE_URL)
    assert found.lead == "Lời dẫn riêng."
    assert found.raw.body_html.startswith("<p><strong>Lời dẫn riêng.</strong></p>")


def test_parse_article_unknown_layout_falls_back_and_warns() -> None:
    page = (
        '<html><head><meta property="og:title" content="Tiêu đề mới">'
        '<meta property="article:published_time" content="2025-12-30T18:05:00+07:00">'
        '<meta property="og:image" content="/img/a.jpg"></head><body>'
        '<div class="wrap"><div class="story">'
        + "<p>Đoạn văn dài của bài báo. </p>" * 20
        + '<p style="text-align:right">Thanh Hải</p></div></div></body></html>'
    )
    found = extract_article(load_profile(PROFILE), page, ARTICLE_URL)
    raw = found.raw
    assert (raw.title, raw.author, raw.image) == (
        "Tiêu đề mới",
        "Thanh Hải",
        "https://baohoabinh.com.vn/img/a.jpg",
    )
    assert raw.published is not None and raw.published.isoformat() == "2025-12-30T11:05:00+00:00"
    assert raw.date_source == "page"
    assert raw.body_html.count("Đoạn văn dài") == 20
    text = "\n".join(found.warnings)
    assert "[article] body: no selector matched" in text
    assert "[article] title: " in text and "used \"//meta[@property='og:title']" in text
    assert "article:published_time" in text


def test_parse_article_date_line_above_the_body_is_found_by_scanning() -> None:
    page = (
        '<html><body><h1 class="news-title">T</h1><p class="meta">Thứ Sáu, 26/4/2024 | 09:15</p>'
        '<div class="news-content"><p>Thân bài.</p>'
        "<select><option>01/01/2020 10:00</option></select></div></body></html>"
    )
    raw = parse_article(load_profile(PROFILE), page, ARTICLE_URL)
    assert raw.published is not None and raw.published.isoformat() == "2024-04-26T02:15:00+00:00"


def test_parse_article_lazy_and_relative_images_resolve_for_the_lead_image() -> None:
    page = body_page(
        '<p><img src="/Images/blank.gif" data-src="../../NewsImg/4_2024/1_a.jpg"></p>'
        '<p><img src="data:image/gif;base64,R0lGOD" data-original="/NewsImg/4_2024/1_b.jpg"></p>'
    )
    found = extract_article(load_profile(PROFILE), page, ARTICLE_URL)
    assert found.images == [
        "https://baohoabinh.com.vn/NewsImg/4_2024/1_a.jpg",
        "https://baohoabinh.com.vn/NewsImg/4_2024/1_b.jpg",
    ]
    assert found.raw.image == found.images[0]
    assert 'data-src="../../NewsImg' in found.raw.body_html  # the body is the sanitiser's


def test_parse_article_base_href_makes_body_links_absolute() -> None:
    page = body_page(
        '<p><a href="x.htm">x</a><img data-src="i.jpg"></p>',
        head='<base href="https://baohoabinh.com.vn/11/">',
    )
    raw = parse_article(load_profile(PROFILE), page, "https://baohoabinh.com.vn/3/2/b.htm")
    assert 'href="https://baohoabinh.com.vn/11/x.htm"' in raw.body_html
    assert 'data-src="https://baohoabinh.com.vn/11/i.jpg"' in raw.body_html


def test_parse_listing_without_items_names_the_selector() -> None:
    with pytest.raises(ParseError, match=r"\[listing\] item of .*baohoabinh.toml matched nothing"):
        parse_listing(
            load_profile(PROFILE),
            "<html><body><p>Trang đang bảo trì</p></body></html>",
            "https://baohoabinh.com.vn/11/page/1/CHINH-TRI.htm",
            source="s",
            section=None,
        )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("author_line = true", "author_line = 1"), r"\[article\] author_line: expected true"),
        (("lead_max_blocks = 8", "lead_max_blocks = -1"), r"lead_max_blocks: expected a whole"),
        (('body_fallback = "densest"', 'body_fallback = "magic"'), r"body_fallback: expected"),
        (("lead_marker = '", "lead_marker = '(("), r"lead_marker: invalid regular expression"),
        (("{id}", "{nope}"), r"\[site\] id_template: bad template"),
        (("[listing]", "[listin]"), r"unknown table \[listin\]"),
    ],
)
def test_load_profile_checks_rules_and_templates(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(PROFILE.read_text(encoding="utf-8").replace(*edit, 1), encoding="utf-8")
    with pytest.raises(LayoutError, match=message) as info:
        load_profile(bad)
    assert "bad.toml" in str(info.value)


def test_parse_listing_unknown_markup_falls_back_with_a_warning() -> None:
    html = """<main><ul class="stream">
      <li><h3><a href="/11/500002/B.htm">B</a></h3><time datetime="2026-11-27T08:00:00+07:00">
        </time><p>(HBĐT) - Tóm tắt B</p></li>
      <li><h3><a href="/11/500001/A.htm">A</a></h3></li>
      <li><h3><a href="/gioi-thieu.htm">Giới thiệu</a></h3></li>
    </ul></main>"""
    warnings: list[str] = []
    refs = parse_listing(
        load_profile(PROFILE),
        html,
        "https://baohoabinh.com.vn/11/page/1/CHINH-TRI.htm",
        source="s",
        section=None,
        warnings=warnings,
    )
    assert [(r.title, r.lead) for r in refs] == [("B", "Tóm tắt B"), ("A", None)]
    assert refs[0].published is not None and refs[0].published.hour == 1
    assert len(warnings) == 1 and warnings[0].startswith("[listing] item:")


def test_parse_article_densest_block_counts_div_paragraphs() -> None:
    para = "<div>Một đoạn văn của bài báo, viết trong thẻ div thay cho thẻ p.</div>"
    page = (
        '<html><body><div id="page"><h1>Tiêu đề</h1><div class="sidebar"><p>Quảng cáo</p></div>'
        f'<div class="noi-dung">{para * 8}</div><div class="footer"><p>Chân trang</p></div>'
        "</div></body></html>"
    )
    raw = parse_article(load_profile(PROFILE), page, ARTICLE_URL)
    assert raw.body_html.count("Một đoạn văn") == 8
    assert "Quảng cáo" not in raw.body_html and "Chân trang" not in raw.body_html


def test_parse_article_site_logo_is_never_the_lead_image() -> None:
    page = body_page(
        '<p><img src="/NewsImg/5_2024/1_anh.jpg"></p><p>(HBĐT) - Lời dẫn.</p>',
        head='<meta property="og:image" content="https://baohoabinh.com.vn/Images/logo.png">',
    )
    found = extract_article(load_profile(PROFILE), page, ARTICLE_URL)
    assert found.raw.image == "https://baohoabinh.com.vn/NewsImg/5_2024/1_anh.jpg"


def test_parse_article_header_clock_is_not_the_date() -> None:
    page = (
        '<html><body><div class="top">Thứ Sáu, 27/11/2026 21:00</div>'
        '<h1 class="news-title">T</h1><div class="news-content"><p>Thân bài.</p></div>'
        "</body></html>"
    )
    raw = parse_article(load_profile(PROFILE), page, ARTICLE_URL)
    assert (raw.published, raw.date_source) == (None, "discovered")


def test_parse_article_image_box_caption_without_a_class() -> None:
    page = body_page(
        '<table align="center"><tr><td><img src="/NewsImg/5_2024/1_a.jpg"></td></tr>'
        "<tr><td><em>Chú thích không có lớp. Ảnh: P.V</em></td></tr></table>"
        '<p style="text-align:center">Chú thích không có lớp. Ảnh: P.V</p>'
        "<p>(HBĐT) - Lời dẫn.</p>"
    )
    found = extract_article(load_profile(PROFILE), page, ARTICLE_URL)
    assert found.captions == ["Chú thích không có lớp. Ảnh: P.V"]
    assert found.raw.body_html.count("Chú thích không có lớp") == 1


@pytest.mark.parametrize(
    "og_image",
    ["javascript:alert(1)", " java\tscript:alert(1)", "data:image/png;base64,AAAA"],
)
def test_parse_article_image_fields_are_only_web_urls(og_image: str) -> None:
    page = body_page(
        '<p><img src="javascript:alert(2)"><img data-src="/NewsImg/5_2024/1_a.jpg"></p>',
        head=f'<meta property="og:image" content="{og_image}">',
    )
    found = extract_article(load_profile(PROFILE), page, ARTICLE_URL)
    assert found.raw.image == "https://baohoabinh.com.vn/NewsImg/5_2024/1_a.jpg"
    assert found.images == [found.raw.image]


def test_parse_article_image_field_naming_no_host_is_skipped() -> None:
    page = body_page(
        '<p><img src="//[::1/b.jpg"><img data-src="/NewsImg/5_2024/1_a.jpg"></p>',
        head='<meta property="og:image" content="//[bad/a.jpg">',
    )
    found = extract_article(load_profile(PROFILE), page, ARTICLE_URL)
    assert found.raw.image == "https://baohoabinh.com.vn/NewsImg/5_2024/1_a.jpg"
    assert found.images == [found.raw.image]


def test_parse_article_base_href_off_site_is_ignored() -> None:
    page = body_page('<p><a href="x.htm">x</a></p>', head='<base href="https://evil.example/">')
    raw = parse_article(load_profile(PROFILE), page, "https://baohoabinh.com.vn/3/2/b.htm")
    assert 'href="x.htm"' in raw.body_html and "evil" not in raw.body_html
