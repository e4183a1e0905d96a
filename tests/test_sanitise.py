"""The sanitiser: golden cases in tests/data/sanitise/, unit tests, and property tests.

Golden cases are NAME.in.html (an article body as a source hands it over) with NAME.out.html
(the exact clean HTML) and optionally NAME.json (base_url, summary_chars and any field of
Sanitised to check). To regenerate the .out.html files after a deliberate change, run
``SANITISE_REGENERATE=1 .venv/bin/pytest tests/test_sanitise.py`` and review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import html5lib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsvc.catalog import load_catalog
from feedsvc.collector import Pipeline, build_article
from feedsvc.exceptions import ParseError
from feedsvc.model import ArticleRef, RawArticle
from feedsvc.places import load_gazetteer
from feedsvc.sanitise import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    Sanitised,
    clean_url,
    html_to_text,
    sanitise_article,
    strip_xml_illegal,
)
from feedsvc.settings import load_settings
from feedsvc.store import Store

DATA = Path(__file__).parent / "data" / "sanitise"
BASE_URL = "https://baohoabinh.com.vn/11/169105/Doi-moi-he-thong-chinh-tri.htm"
CASES = sorted(p.name.removesuffix(".in.html") for p in DATA.glob("*.in.html"))

XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
URL_ATTRIBUTES = {
    "href", "src", "action", "formaction", "poster", "background", "cite", "data",
    "xlink:href", "srcset", "lowsrc", "dynsrc", "ping", "longdesc", "codebase", "manifest",
    "usemap", "icon", "profile", "classid", "archive",
}  # fmt: skip
LIVE_TAGS = {
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "svg",
    "math", "form", "input", "button", "textarea", "select", "base", "meta", "link",
    "template", "noscript", "video", "audio", "source", "portal", "param",
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# What "nothing live" means, judged by html5lib, the parser browsers agree with
# ---------------------------------------------------------------------------------------------


def live_constructs(html: str) -> list[str]:
    """Everything in ``html`` that could run, frame, restyle or navigate, as a browser parses it."""
    found: list[str] = []
    tree = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    for el in tree.iter():
        tag = el.tag
        if not isinstance(tag, str):
            found.append("comment")
            continue
        if tag == "DOCUMENT_FRAGMENT":
            continue
        if tag.startswith("{") or tag.lower() in LIVE_TAGS or tag.lower() not in ALLOWED_TAGS:
            found.append(f"element {tag}")
        for name, value in el.attrib.items():
            name = str(name).lower()
            if name.startswith("{"):
                found.append(f"namespaced attribute {name}")
            elif name.startswith("on") or name in ("style", "srcdoc", "formaction"):
                found.append(f"attribute {name}")
            elif name not in ALLOWED_ATTRIBUTES.get(tag, ()):
                found.append(f"attribute {tag}.{name}")
            if name in URL_ATTRIBUTES:
                probe = re.sub(r"[\x00-\x20\x7f-\xa0\s]+", "", value).lower()
                if probe.startswith(("javascript:", "data:", "vbscript:")) or not probe.startswith(
                    ("http://", "https://", "mailto:")
                ):
                    found.append(f"url {name}={value!r}")
    return found


def check_invariants(result: Sanitised, summary_chars: int = 300) -> None:
    assert live_constructs(result.html) == []
    for field in dataclasses.fields(result):
        values = getattr(result, field.name)
        for value in values if isinstance(values, tuple) else (values,):
            if isinstance(value, str):
                assert XML_ILLEGAL.search(value) is None, field.name
                assert unicodedata.is_normalized("NFC", value), field.name
    assert len(result.summary) <= summary_chars
    assert "<" not in result.summary or "<" in result.text


# ---------------------------------------------------------------------------------------------
# Golden cases
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_sanitise_golden_case(name: str) -> None:
    source = (DATA / f"{name}.in.html").read_text(encoding="utf-8")
    sidecar = DATA / f"{name}.json"
    expected = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else {}
    base_url = expected.pop("base_url", BASE_URL)
    summary_chars = expected.pop("summary_chars", 300)

    result = sanitise_article(source, base_url, summary_chars=summary_chars)

    out = DATA / f"{name}.out.html"
    if os.environ.get("SANITISE_REGENERATE"):
        out.write_text(result.html + "\n", encoding="utf-8")
    assert result.html == out.read_text(encoding="utf-8").removesuffix("\n")
    for key, value in expected.items():
        actual = getattr(result, key)
        assert (list(actual) if isinstance(actual, tuple) else actual) == value, key
    check_invariants(result, summary_chars)
    # Clean output stays clean and stable: a second pass finds nothing more to change.
    assert sanitise_article(result.html, base_url).html == result.html


def test_sanitise_golden_cases_exist() -> None:
    assert len(CASES) >= 20
    for name in CASES:
        assert (DATA / f"{name}.out.html").exists(), name


# ---------------------------------------------------------------------------------------------
# Unit behaviour
# ---------------------------------------------------------------------------------------------


def test_strip_xml_illegal_removes_forbidden_characters_only() -> None:
    text = "a\x00b\x01c\x08d\x0be\x0cf\x1fg\ud800h\ufffei\uffffj\tk\nl\rm\x85n\U0001f600o"
    assert strip_xml_illegal(text) == "abcdefghij\tk\nl\rm\x85n\U0001f600o"
    assert strip_xml_illegal("Hòa Bình") == "Hòa Bình"


def test_html_to_text_separates_blocks_with_blank_lines() -> None:
    html = "<h2>Tiêu đề</h2><p>Một&nbsp; hai<br>ba</p><ul><li>x</li><li>y</li></ul><script>z"
    assert html_to_text(html) == "Tiêu đề\n\nMột hai\nba\n\nx\n\ny"


def test_html_to_text_normalises_to_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "<p>Hòa Bình, Đà Bắc</p>")
    assert html_to_text(decomposed) == "Hòa Bình, Đà Bắc"


def test_sanitise_summary_is_cut_at_a_word_boundary() -> None:
    words = "Huyện ủy Mai Châu đã tập trung lãnh đạo chỉ đạo củng cố đổi mới hệ thống " * 10
    result = sanitise_article(f"<p>(HBĐT) - {words}</p>", BASE_URL, summary_chars=80)
    assert len(result.summary) <= 80
    assert result.summary.endswith("…")
    assert words.startswith(result.summary.removesuffix("…"))
    assert words[len(result.summary) - 1] == " "  # the next character was a space: whole words
    assert result.lead == words.strip()


def test_sanitise_summary_of_short_lead_is_the_whole_lead() -> None:
    result = sanitise_article("<p>(HBĐT) – Ngắn gọn.</p><p>Thân bài dài hơn.</p>", BASE_URL)
    assert result.summary == "Ngắn gọn."
    assert result.lead == "Ngắn gọn."


def test_sanitise_summary_without_lead_takes_first_paragraphs() -> None:
    result = sanitise_article("<p>Đoạn một.</p><p>Đoạn hai.</p><p>Đoạn ba kết thúc.</p>", BASE_URL)
    assert result.lead == ""
    assert result.summary == "Đoạn một. Đoạn hai. Đoạn ba kết thúc."


def test_sanitise_summary_never_exceeds_tiny_limits() -> None:
    for limit in (1, 2, 3, 10):
        result = sanitise_article(
            "<p>Một đoạn văn bản khá dài để cắt.</p>", BASE_URL, summary_chars=limit
        )
        assert len(result.summary) <= limit


def test_sanitise_drops_relative_urls_when_base_is_not_http() -> None:
    result = sanitise_article('<p><a href="/a">a</a><img src="/b.jpg"></p>', "file:///tmp/x.htm")
    assert result.html == "<p>a</p>"
    assert result.image is None


def test_sanitise_result_is_frozen() -> None:
    result = sanitise_article("<p>x</p>", BASE_URL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.html = "<script></script>"  # type: ignore[misc]


def test_sanitise_empty_input() -> None:
    result = sanitise_article("", BASE_URL)
    assert (result.html, result.text, result.summary, result.lead) == ("", "", "", "")
    assert (result.image, result.images, result.author) == (None, (), None)


def test_sanitise_deep_nesting_keeps_text_and_drops_code() -> None:
    html = "<div>" * 3000 + "sâu<script>alert(1)</script>" + "</div>" * 3000 + "<p>sau</p>"
    result = sanitise_article(html, BASE_URL)
    assert "sâu" in result.text and "sau" in result.text
    assert "alert" not in result.html
    check_invariants(result)


@pytest.mark.parametrize(
    ("url", "kind", "expected"),
    [
        # the page metadata of holdout h32, and the browser's reading of schemes
        ("javascript:alert('HBXSS')//.jpg", "image", None),
        ("javascript:alert('HBXSS')//11/400032/x.htm", "link", None),
        (" \x0e JaVa\tScRiPt:alert(1)", "link", None),
        ("jav%09ascript:alert(1)", "link", None),  # as lxml writes "jav&#x09;ascript:"
        ("&#106;avascript:alert(1)", "link", None),  # one layer of entities too many
        ("data:image/png;base64,iVBORw0KGgo=", "image", None),
        ("vbscript:msgbox(1)", "image", None),
        ("mailto:toasoan@baohoabinh.com.vn", "link", None),  # an article is not a mailbox
        ("mailto:toasoan@baohoabinh.com.vn", "image", None),
        ("https://x.example/%3Cscript%3E.jpg", "image", None),
        # images that name nothing: hostile or broken markup, not pictures
        ("x", "image", None),
        ("#", "image", None),
        ("/", "image", None),
        ("https://baohoabinh.com.vn/", "image", None),
        ("https://baohoabinh.com.vn/11/169105/Doi-moi-he-thong-chinh-tri.htm", "image", None),
        ("", "image", None),
        # kept, absolute, ASCII
        ("/NewsImg/4_2024/a.jpg", "image", "https://baohoabinh.com.vn/NewsImg/4_2024/a.jpg"),
        ("//ims.baohoabinh.com.vn/a.jpg", "image", "https://ims.baohoabinh.com.vn/a.jpg"),
        (" https://ims.baohoabinh.com.vn/ảnh 1.jpg\n", "image",
         "https://ims.baohoabinh.com.vn/%E1%BA%A3nh%201.jpg"),
        ("HTTPS://baohoabinh.com.vn", "link", "https://baohoabinh.com.vn/"),
        ("https://baohoabinh.com.vn/11/169105/Doi-moi-he-thong-chinh-tri.htm", "link",
         "https://baohoabinh.com.vn/11/169105/Doi-moi-he-thong-chinh-tri.htm"),
        ("../169100/Bai-khac.htm?a=1&copy=2", "link",
         "https://baohoabinh.com.vn/11/169100/Bai-khac.htm?a=1&copy=2"),
    ],
)  # fmt: skip
def test_clean_url_applies_the_body_url_policy(url: str, kind: str, expected: str | None) -> None:
    assert clean_url(url, BASE_URL, kind=kind) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["//[bad", "//[::1/a.jpg", "http://[bad/"])
def test_clean_url_refuses_urls_that_name_no_host(url: str) -> None:
    for kind in ("link", "image"):
        assert clean_url(url, BASE_URL, kind=kind) is None  # type: ignore[arg-type]
    html = f'<p><a href="{url}">liên kết</a><img src="{url}"></p>'
    assert sanitise_article(html, BASE_URL).html == "<p>liên kết</p>"


def test_clean_url_refuses_relative_urls_without_an_http_base() -> None:
    assert clean_url("/a.jpg", "javascript:alert(1)//x.htm", kind="image") is None
    assert clean_url("https://ims.baohoabinh.com.vn/a.jpg", "", kind="image") == (
        "https://ims.baohoabinh.com.vn/a.jpg"
    )


# ---------------------------------------------------------------------------------------------
# Page metadata: the collector passes it through the same URL policy
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    settings = load_settings(env={})
    store = Store(f"sqlite:///{tmp_path / 'feedsvc.sqlite3'}")
    yield Pipeline(
        store=store,
        catalog=load_catalog(settings),
        gazetteer=load_gazetteer(Path(settings.catalog.districts)),
    )
    store.close()


def raw_article(url: str, ref_url: str, image: str | None, thumbnail: str | None) -> RawArticle:
    ref = ArticleRef("b", "tag:baohoabinh.com.vn,2006:400032", ref_url, thumbnail=thumbnail)
    body = '<p>(HBĐT) - Tết trồng cây.</p><p><img src="anh.jpg" alt="Trồng cây"></p>'
    return RawArticle(ref=ref, url=url, title="Tết trồng cây", body_html=body, image=image)


def test_build_article_refuses_hostile_page_metadata(pipeline: Pipeline) -> None:
    """Holdout h32: og:image and og:url carrying javascript: never reach a feed."""
    now = datetime(2024, 2, 1, tzinfo=UTC)
    raw = raw_article(
        "javascript:alert('HBXSS')//11/400032/x.htm",
        BASE_URL,
        "javascript:alert('HBXSS')//.jpg",
        "java\tscript:alert(1)//.jpg",
    )
    article = build_article(raw, pipeline, source="b", now=now)
    assert article.url == BASE_URL  # the ref's URL, as the listing gave it
    assert article.image == "https://baohoabinh.com.vn/11/169105/anh.jpg"  # the body's image
    assert 'src="https://baohoabinh.com.vn/11/169105/anh.jpg"' in article.content_html

    raw = raw_article(BASE_URL, BASE_URL, "/", " //ims.baohoabinh.com.vn/t.jpg")
    raw.body_html = "<p>Không ảnh.</p>"
    article = build_article(raw, pipeline, source="b", now=now)
    assert article.image == "https://ims.baohoabinh.com.vn/t.jpg"  # the site root is no image


def test_build_article_rejects_an_article_without_an_http_url(pipeline: Pipeline) -> None:
    raw = raw_article("javascript:alert(1)", "vbscript:msgbox(1)", None, None)
    with pytest.raises(ParseError, match="is not http"):
        build_article(raw, pipeline, source="b", now=datetime(2024, 2, 1, tzinfo=UTC))


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

_TAGS = sorted(
    LIVE_TAGS
    | set(ALLOWED_TAGS)
    | {"div", "span", "font", "body", "html", "head", "title", "xmp", "plaintext", "noembed",
       "noframes", "mglyph", "malignmark", "mtext", "foreignObject", "desc", "annotation-xml",
       "table", "details", "marquee", "isindex", "image", "x:script", "svg:script", "my-el"}
)  # fmt: skip
_ATTRS = [
    "href", "src", "style", "onerror", "onload", "OnClick", "srcdoc", "formaction", "action",
    "xlink:href", "xmlns", "data-src", "srcset", "poster", "background", "class", "id",
    "http-equiv", "content", "align", "width", "height", "title", "alt", "encoding", "is",
    "hidden", "open", "autofocus", "rel", "target",
]  # fmt: skip
_SCHEMES = [
    "javascript:", "JaVaScRiPt:", "java\tscript:", "jav&#x09;ascript:", "&#106;avascript:",
    "&#x6A;avascript:", " \x01javascript:", "javascript&colon;", "vbscript:", "data:text/html,",
    "data:image/svg+xml,", "http://", "https://", "//", "mailto:", "feed:", "\\\\", "", "#",
    "&#0000106avascript:",
]  # fmt: skip
_PIECES = [
    "<", ">", "</", "/>", "<!--", "-->", "--!>", "<![CDATA[", "]]>", "<!", "<?", "?>", "&",
    "&#", ";", '"', "'", "=", "`", "\x00", "\x0b", "&#1;", "&#xFFFE;", "&#xD800;", "&nbsp;",
    "\u00a0", "\u0338", "<scr", "ipt>", "</script>", "</style>", "</noscript>", "</title>",
    "</textarea>", "<svg>", "<math>", "<style>", "<script>", "<noscript>", "<iframe>",
    "<template>", "</template>", "</svg>", "</math>", "<table>", "<p>", "</p>", "<br>",
    "expression(alert(1))", "url(javascript:alert(1))", "alert(1)", "(HBĐT) - ", "Bình Giang",
    "Hòa Bình", "ho\u0300a", "\u202e", "\ufeff",
]  # fmt: skip

_text = st.text(
    alphabet=st.sampled_from("aăâđêôơư ÀÁẠẢÃàáạảãĐ<>&\"'=/;:!-–—()\n\t\u00a0\u0300\u0338x0"),
    max_size=12,
)
_url = st.builds(lambda s, t: s + t, st.sampled_from(_SCHEMES), _text)
_attr = st.builds(
    lambda name, value, quote: f" {name}={quote}{value}{quote}",
    st.sampled_from(_ATTRS),
    st.one_of(_url, _text),
    st.sampled_from(['"', "'", ""]),
)
_open_tag = st.builds(
    lambda tag, attrs, close: f"<{tag}{''.join(attrs)}{close}>",
    st.sampled_from(_TAGS),
    st.lists(_attr, max_size=3),
    st.sampled_from(["", "/", " "]),
)
_close_tag = st.builds(lambda tag: f"</{tag}>", st.sampled_from(_TAGS))
_hostile = st.lists(
    st.one_of(_open_tag, _close_tag, _text, st.sampled_from(_PIECES)), max_size=25
).map("".join)


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_hostile)
def test_sanitise_property_nothing_live_survives(html: str) -> None:
    check_invariants(sanitise_article(html, BASE_URL))


@settings(deadline=None, max_examples=150)
@given(st.text(max_size=200))
def test_sanitise_property_any_text_is_safe(html: str) -> None:
    check_invariants(sanitise_article(html, BASE_URL, summary_chars=50), summary_chars=50)


@settings(deadline=None, max_examples=200)
@given(_url, st.sampled_from(["link", "image"]))
def test_clean_url_property_result_is_absolute_http_or_none(url: str, kind: str) -> None:
    result = clean_url(url, BASE_URL, kind=kind)  # type: ignore[arg-type]
    if result is not None:
        assert result.isascii() and result.startswith(("http://", "https://"))
        assert live_constructs(f'<a href="{result}">x</a>') == []


_words = st.lists(
    st.text(
        alphabet="abcdeghiklmnopqrstuvxyàáảãạăắằẳẵặâấầẩẫậđèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵ",
        min_size=1,
        max_size=8,
    ),
    min_size=1,
    max_size=30,
)


@settings(deadline=None, max_examples=100)
@given(
    _words,
    st.sampled_from(
        [
            "<script>x()</script>",
            "<iframe src=javascript:1>ẩn</iframe>",
            "<img src=x onerror=1>",
            "<svg onload=1><script>1</script></svg>",
            "<style>p{}</style>",
        ]
    ),
)
def test_sanitise_property_ordinary_text_around_hostile_markup_survives(
    words: list[str], hostile: str
) -> None:
    half = len(words) // 2
    before, after = " ".join(words[:half]), " ".join(words[half:])
    html = f"<p>{before} {hostile} {after}</p><p>Hết bài.</p>"
    result = sanitise_article(html, BASE_URL)
    expected = " ".join(w for w in (before, after) if w)
    assert result.text.split("\n\n")[0] == unicodedata.normalize("NFC", expected)
    check_invariants(result)
