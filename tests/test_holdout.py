"""The judges of issues 7 and 8, played with data the developers of places.py and sanitise.py
have not seen (tests/data/holdout/).

A snapshot of the paper's site is built in tmp_path from the held-out articles (listing and
article pages as in docs/demo-layout.md, "Các tin khác" furniture included), collected through
the real service (``snapshot = <folder>``), served on 127.0.0.1 and read back over HTTP:

- places/: labelled articles; the district feeds must reach precision >= 0.97 and recall
  >= 0.95 over all districts (micro-averaged), and each article is checked on its own;
- hostile/: articles whose body HTML carries filter-evasion vectors; every served
  content:encoded, RSS description, Atom content and JSON content_html is parsed with html5lib
  (the parser browsers agree with) and must hold nothing live, while the listed sentences of
  ordinary text around the vectors must survive.

Known failures are marked xfail (strict=False) one article at a time, with the reason, so that
fixing them turns them into XPASS rather than breaking the build.
"""

from __future__ import annotations

import html
import json
import re
import tomllib
import unicodedata
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import html5lib
import pytest
from flask import Flask

from feedsvc import create_app
from feedsvc.settings import load_settings
from feedsvc.web import get_service

from .conftest import DATA, ROOT, LiveServer, write_config

HOLDOUT = DATA / "holdout"
PLACES = sorted((HOLDOUT / "places").glob("*.toml"))
HOSTILE = sorted((HOLDOUT / "hostile").glob("*.toml"))
DISTRICTS = [
    "thanh-pho-hoa-binh", "da-bac", "luong-son", "kim-boi", "cao-phong", "tan-lac",
    "mai-chau", "lac-son", "yen-thuy", "lac-thuy",
]  # fmt: skip
PLACE_SECTIONS = ["chinh-tri", "kinh-te", "xa-hoi", "van-hoa", "nong-thon-moi", "du-lich"]
HOSTILE_SECTIONS = ["phap-luat", "quoc-te"]
MIN_PRECISION = 0.97
MIN_RECALL = 0.95
ITEMS_PER_LISTING_PAGE = 10
AUTHORS = ["Bình Giang", "Thu Hà", "Đức Anh", "Minh Thu", "Hồng Duyên", "Việt Lâm"]
ARTICLE_ID = {"places": 300_000, "hostile": 400_000}

# -- known failures (found by this module; see the qa report) ----------------------------------
# stem -> reason. Only these cases are xfail; anything else failing is a regression.
KNOWN_PLACES: dict[str, str] = {}
KNOWN_PRECISION_RECALL: str | None = None
KNOWN_HOSTILE_LIVE: dict[str, str] = {}
KNOWN_HOSTILE_TEXT: dict[str, str] = {}
KNOWN_HOSTILE_ABSOLUTE: dict[str, str] = {}
KNOWN_FEEDS_WELL_FORMED: dict[str, str] = {}

# -- what "live" means -----------------------------------------------------------------------
FORBIDDEN_ELEMENTS = frozenset(
    """script style iframe frame frameset object embed applet param form input button textarea
    select option keygen isindex base meta link svg math template noscript portal plaintext xmp
    noembed noframes""".split()
)
URL_ATTRIBUTES = frozenset(
    """href src action formaction srcset data-src data-original data-href background poster cite
    longdesc usemap data codebase dynsrc lowsrc ping manifest icon profile classid archive code
    xlink:href""".split()
)
C0_AND_SPACE = "".join(chr(c) for c in range(0x21))
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
XLINK = "{http://www.w3.org/1999/xlink}"
CONTENT_NS = "{http://purl.org/rss/1.0/modules/content/}"
ATOM = "{http://www.w3.org/2005/Atom}"


# -- the site --------------------------------------------------------------------------------


@dataclass
class Section:
    slug: str
    name: str
    category_id: int
    listing: str


@dataclass
class Page:
    kind: str  # places | hostile
    stem: str
    id: int
    section: Section
    date: str  # dd/mm/yyyy HH:MM
    title: str
    content: str  # the inner HTML of div.news-content, before the furniture
    lead: str
    og_image: str
    og_url: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def url_path(self) -> str:
        return f"/{self.section.category_id}/{self.id}/Bai-{self.id}.htm"

    @property
    def guid(self) -> str:
        return f"tag:baohoabinh.com.vn,2006:{self.id}"

    @property
    def sort_key(self) -> tuple[str, int]:
        d, t = self.date.split()
        day, month, year = d.split("/")
        return (f"{year}{month}{day}{t}", self.id)


def load_sections() -> dict[str, Section]:
    with (ROOT / "config" / "sections.toml").open("rb") as f:
        raw = tomllib.load(f)["sections"]
    return {s["slug"]: Section(s["slug"], s["name"], s["category_id"], s["listing"]) for s in raw}


def nbsp_between_capitalised(text: str) -> str:
    """What some CMS editors do: non-breaking spaces inside proper names ('Lạc Thủy')."""
    words = text.split(" ")
    out = words[0]
    for prev, word in zip(words, words[1:], strict=False):
        joint = "\u00a0" if prev[:1].isupper() and word[:1].isupper() else " "
        out += joint + word
    return out


def esc(text: str) -> str:
    return html.escape(text, quote=False).replace("\u00a0", "&nbsp;")


def author_line(name: str) -> str:
    return f'<p align="right">{"&nbsp;" * 40}<strong>{esc(name)}</strong></p>'


def places_page(index: int, path: Path, sections: dict[str, Section]) -> Page:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    transform = data.get("transform", "")
    title, lead, body = data["title"], data["lead"], data["body"]
    if transform == "nbsp":
        title, lead, body = (nbsp_between_capitalised(t) for t in (title, lead, body))
    paragraphs = [p.strip() for p in body.strip().split("\n\n") if p.strip()]
    blocks = [f"<p><strong>{esc(lead)}</strong></p>", "<p>&nbsp;</p>"]
    for p in paragraphs:
        blocks += [f"<p>{esc(p)}</p>", "<p>&nbsp;</p>"]
    blocks += [author_line(AUTHORS[index % len(AUTHORS)]), "<p>&nbsp;</p>"]
    art_id = ARTICLE_ID["places"] + index
    section = sections[PLACE_SECTIONS[index % len(PLACE_SECTIONS)]]
    day, month, year = data["date"].split()[0].split("/")
    page = Page(
        "places",
        path.stem,
        art_id,
        section,
        data["date"],
        title,
        "\n".join(blocks),
        lead,
        f"https://ims.baohoabinh.com.vn/NewsImg/{int(month)}_{year}/{art_id}_anh.jpg",
        "",
        data,
    )
    if transform == "nfd":
        page.title = unicodedata.normalize("NFD", page.title)
        page.content = unicodedata.normalize("NFD", page.content)
        page.lead = unicodedata.normalize("NFD", page.lead)
    return page


def hostile_page(index: int, path: Path, sections: dict[str, Section]) -> Page:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    content = path.with_suffix(".html").read_text(encoding="utf-8")
    art_id = ARTICLE_ID["hostile"] + index
    section = sections[HOSTILE_SECTIONS[index % len(HOSTILE_SECTIONS)]]
    date = f"{1 + index % 28:02d}/{1 + index // 28:02d}/2024 {8 + index % 10:02d}:30"
    return Page(
        "hostile",
        path.stem,
        art_id,
        section,
        date,
        data["title"],
        content,
        "(HBĐT) - " + data["title"],
        data.get("og_image", f"https://ims.baohoabinh.com.vn/NewsImg/5_2024/{art_id}_a.jpg"),
        data.get("og_url", ""),
        data,
    )


def menu(sections: dict[str, Section]) -> str:
    items = "".join(
        f'<li><a href="/{s.category_id}/page/1/{s.listing}.htm">{esc(s.name)}</a></li>'
        for s in sections.values()
    )
    return (
        '<div id="header"><a href="/"><img src="/Images/logo.png" alt="Báo Hòa Bình"></a>'
        f'<ul class="menu"><li><a href="/">Trang chủ</a></li>{items}</ul></div>'
    )


FOOTER = (
    '<div id="footer">Báo Hòa Bình điện tử - Cơ quan của Đảng bộ, Chính quyền và Nhân dân '
    "tỉnh Hòa Bình</div>"
)


def article_html(page: Page, others: list[Page], sections: dict[str, Section]) -> str:
    s = page.section
    listing = f"/{s.category_id}/page/1/{s.listing}.htm"
    og_url = page.og_url or f"https://baohoabinh.com.vn{page.url_path}"
    other_items = "".join(
        f'<li><a href="{o.url_path}">{esc(o.title)}</a><p>{esc(o.lead)}</p></li>' for o in others
    )
    dates = "".join(f'<option value="{d}">{d}</option>' for d in ("01/01/2024", "02/01/2024"))
    return f"""<!DOCTYPE html>
<html lang="vi">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{esc(page.title)} - Báo Hòa Bình</title>
<meta property="og:title" content="{html.escape(page.title)}">
<meta property="og:image" content="{html.escape(page.og_image)}">
<meta property="og:url" content="{html.escape(og_url)}">
</head>
<body>
{menu(sections)}
<div id="main">
 <div class="breadcrumb"><a href="/">Trang chủ</a> &gt; <a href="{listing}">{esc(s.name)}</a></div>
 <div class="news-detail">
  <h1 class="news-title">{esc(page.title)}</h1>
  <div class="news-date">Cập nhật: {page.date}</div>
  <div class="news-content">
{page.content}
   <div class="other-news">
    <h3>Các tin khác</h3>
    <ul>{other_items}</ul>
   </div>
   <div class="date-archive">Xem các tin đã đưa ngày: <select name="d">{dates}</select>
    Tin trong: <input type="radio" name="scope" checked> Chuyên mục này
    <input type="radio" name="scope"> Mọi chuyên mục</div>
  </div>
 </div>
</div>
{FOOTER}
</body></html>
"""


def listing_html(section: Section, items: list[Page], page_no: int, pages: int, menu_: str) -> str:
    rows = "".join(
        f"""
  <div class="news-item">
   <a class="thumb" href="{p.url_path}"><img src="{html.escape(p.og_image)}" alt=""></a>
   <h3><a class="title" href="{p.url_path}">{esc(p.title)}</a></h3>
   <span class="date">{p.date}</span>
   <p class="lead">{esc(p.lead[:180])}</p>
  </div>"""
        for p in items
    )
    paging = " ".join(
        f"<a{' class=active' if n == page_no else ''} "
        f'href="/{section.category_id}/page/{n}/{section.listing}.htm">{n}</a>'
        for n in range(1, pages + 1)
    )
    return f"""<!DOCTYPE html>
<html lang="vi"><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{esc(section.name)} - Báo Hòa Bình</title></head>
<body>
{menu_}
<div id="main">
 <h2 class="cat-title">{esc(section.name)}</h2>
 <div class="list-news">{rows}
 </div>
 <div class="paging">{paging}</div>
</div>
{FOOTER}
</body></html>
"""


def build_site(root: Path) -> list[Page]:
    """Write the snapshot folder: one listing per section (newest first, paged), the articles."""
    sections = load_sections()
    pages = [places_page(i, p, sections) for i, p in enumerate(PLACES, 1)]
    pages += [hostile_page(i, p, sections) for i, p in enumerate(HOSTILE, 1)]
    by_section: dict[str, list[Page]] = {}
    for p in pages:
        by_section.setdefault(p.section.slug, []).append(p)
    menu_ = menu(sections)
    (root / "index.htm").write_text(
        f"<!DOCTYPE html><html><body>{menu_}</body></html>", encoding="utf-8"
    )
    for slug, items in by_section.items():
        items.sort(key=lambda p: p.sort_key, reverse=True)
        section = sections[slug]
        chunks = [
            items[i : i + ITEMS_PER_LISTING_PAGE]
            for i in range(0, len(items), ITEMS_PER_LISTING_PAGE)
        ]
        for n, chunk in enumerate(chunks, 1):
            path = root / str(section.category_id) / "page" / str(n) / f"{section.listing}.htm"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(listing_html(section, chunk, n, len(chunks), menu_), encoding="utf-8")
        for i, page in enumerate(items):
            path = root / page.url_path.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            others = items[i + 1 : i + 4]
            path.write_text(article_html(page, others, sections), encoding="utf-8")
    return pages


# -- the service -----------------------------------------------------------------------------


@dataclass
class Served:
    server: LiveServer
    app: Flask
    pages: dict[str, Page]  # stem -> page
    district_ids: dict[str, set[str]]  # district slug -> guids in its feed
    collect_errors: list[str]

    def got_districts(self, page: Page) -> list[str]:
        return sorted(d for d in DISTRICTS if page.guid in self.district_ids[d])


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as resp:
        body: bytes = resp.read()
        return body


def feed_ids(server: LiveServer, slug: str) -> set[str]:
    parsed = feedparser.parse(fetch(f"{server.url}/feeds/{slug}.xml?limit=500"))
    return {e.id for e in parsed.entries}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("holdout")
    site = tmp / "site"
    site.mkdir()
    pages = build_site(site)
    config = write_config(
        tmp / "feedsvc.toml",
        {
            "database": {"url": "sqlite:///feedsvc.sqlite3"},
            "feeds": {"max_limit": 500},
            "sources": [
                {
                    "name": "baohoabinh",
                    "kind": "html",
                    "url": "https://baohoabinh.com.vn/",
                    "snapshot": str(site),
                    "max_pages": 50,
                }
            ],
        },
    )
    app = create_app(load_settings(config, env={}))
    results = get_service(app).collect()
    errors = [str(e) for r in results for e in (r.errors or [])]
    with LiveServer(app) as server:
        district_ids = {d: feed_ids(server, d) for d in DISTRICTS}
        yield Served(server, app, {p.stem: p for p in pages}, district_ids, errors)


def test_holdout_every_article_is_collected_and_served(served: Served) -> None:
    everything = json.loads(fetch(f"{served.server.url}/feeds/tin-moi-nhat.json?limit=500"))
    ids = {item["id"] for item in everything["items"]}
    missing = sorted(p.stem for p in served.pages.values() if p.guid not in ids)
    assert not missing, (missing, served.collect_errors)


# -- issue 8: district tagging ---------------------------------------------------------------


def places_params() -> list[Any]:
    return [
        pytest.param(p.stem, marks=pytest.mark.xfail(strict=False, reason=KNOWN_PLACES[p.stem]))
        if p.stem in KNOWN_PLACES
        else p.stem
        for p in PLACES
    ]


@pytest.mark.parametrize("stem", places_params())
def test_holdout_places_article_in_exactly_its_district_feeds(served: Served, stem: str) -> None:
    page = served.pages[stem]
    expected = sorted(page.data["districts"])
    got = served.got_districts(page)
    assert got == expected, (
        f"{stem}: expected {expected}, got {got}; "
        f"false positives {sorted(set(got) - set(expected))}, "
        f"missed {sorted(set(expected) - set(got))}; notes: {page.data.get('notes', '')}"
    )


def scores(
    served: Served, *, blind_only: bool = False
) -> tuple[float, float, dict[str, tuple[int, int, int]]]:
    """Micro-averaged precision and recall over all districts, and (tp, fp, fn) per district.

    blind_only leaves out the articles written after probing ``feedsvc tag`` by hand (marked
    ``found_by_probing``): those were chosen because they fail, so they bias the figures.
    """
    per: dict[str, list[int]] = {d: [0, 0, 0] for d in DISTRICTS}
    for path in PLACES:
        page = served.pages[path.stem]
        if blind_only and page.data.get("found_by_probing"):
            continue
        expected, got = set(page.data["districts"]), set(served.got_districts(page))
        for d in got & expected:
            per[d][0] += 1
        for d in got - expected:
            per[d][1] += 1
        for d in expected - got:
            per[d][2] += 1
    tp = sum(v[0] for v in per.values())
    fp = sum(v[1] for v in per.values())
    fn = sum(v[2] for v in per.values())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, {d: (v[0], v[1], v[2]) for d, v in per.items()}


@pytest.mark.xfail(
    KNOWN_PRECISION_RECALL is not None, strict=False, reason=KNOWN_PRECISION_RECALL or ""
)
def test_holdout_places_precision_and_recall_over_all_districts(served: Served) -> None:
    precision, recall, per = scores(served)
    table = "\n".join(f"  {d:20} tp={tp:3} fp={fp:2} fn={fn:2}" for d, (tp, fp, fn) in per.items())
    summary = f"precision={precision:.3f} recall={recall:.3f}\n{table}"
    assert precision >= MIN_PRECISION and recall >= MIN_RECALL, summary


def test_holdout_places_set_is_big_and_varied_enough() -> None:
    """The judge's own bar for the data: >= 80 articles, province-wide ones, every district."""
    labels = [tomllib.loads(p.read_text(encoding="utf-8"))["districts"] for p in PLACES]
    assert len(labels) >= 80
    assert sum(1 for ds in labels if not ds) >= 10
    assert {d for ds in labels for d in ds} == set(DISTRICTS)
    assert all(set(ds) <= set(DISTRICTS) for ds in labels)


# -- issue 7: the sanitiser ------------------------------------------------------------------


@dataclass
class ServedItem:
    """One item of one feed format, as served."""

    fmt: str
    link: str
    image: str
    fragments: dict[str, str]  # field name -> HTML served for it
    escaped_markup: list[str]  # XML elements found inside a field that should hold only text


def xml_items(body: bytes, fmt: str) -> dict[str, ServedItem]:
    root = ET.fromstring(body)
    out: dict[str, ServedItem] = {}
    if fmt == "rss":
        for item in root.iter("item"):
            guid = item.findtext("guid") or ""
            content = item.find(f"{CONTENT_NS}encoded")
            description = item.find("description")
            leaked = [
                ET.tostring(child, encoding="unicode")
                for el in (content, description)
                if el is not None
                for child in el
            ]
            enclosure = item.find("enclosure")
            out[guid] = ServedItem(
                "rss",
                item.findtext("link") or "",
                enclosure.get("url", "") if enclosure is not None else "",
                {
                    "content:encoded": (content.text or "") if content is not None else "",
                    "description": (description.text or "") if description is not None else "",
                },
                leaked,
            )
    else:
        for entry in root.iter(f"{ATOM}entry"):
            guid = entry.findtext(f"{ATOM}id") or ""
            content = entry.find(f"{ATOM}content")
            link = next(
                (
                    lk.get("href", "")
                    for lk in entry.iter(f"{ATOM}link")
                    if lk.get("rel", "alternate") == "alternate"
                ),
                "",
            )
            children = list(content) if content is not None else []
            leaked = [ET.tostring(c, encoding="unicode") for c in children]
            out[guid] = ServedItem(
                "atom",
                link,
                "",
                {"content": (content.text or "") if content is not None else ""},
                leaked,
            )
    return out


@pytest.fixture(scope="module")
def hostile_items(served: Served) -> dict[str, dict[str, ServedItem]]:
    """guid -> format -> the item as served, from the sections the hostile set lives in."""
    by_guid: dict[str, dict[str, ServedItem]] = {}
    for section in HOSTILE_SECTIONS:
        base = f"{served.server.url}/feeds/{section}"
        for fmt, ext in (("rss", "xml"), ("atom", "atom")):
            body = fetch(f"{base}.{ext}?limit=500")
            try:
                items = xml_items(body, fmt)
            except ET.ParseError:  # reported by the well-formedness test; read it leniently
                parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
                items = {
                    e.id: ServedItem(
                        fmt,
                        e.get("link", ""),
                        "",
                        {"content": e.content[0].value if e.get("content") else ""},
                        [],
                    )
                    for e in parsed.entries
                }
            for guid, item in items.items():
                by_guid.setdefault(guid, {})[fmt] = item
        feed = json.loads(fetch(f"{base}.json?limit=500"))
        for it in feed["items"]:
            by_guid.setdefault(it["id"], {})["json"] = ServedItem(
                "json",
                it.get("url", ""),
                it.get("image", ""),
                {"content_html": it.get("content_html", "")},
                [],
            )
    return by_guid


@pytest.mark.parametrize(
    "section_fmt",
    [
        pytest.param(
            f"{s}.{ext}",
            marks=[pytest.mark.xfail(strict=False, reason=KNOWN_FEEDS_WELL_FORMED[f"{s}.{ext}"])]
            if f"{s}.{ext}" in KNOWN_FEEDS_WELL_FORMED
            else [],
        )
        for s in HOSTILE_SECTIONS
        for ext in ("xml", "atom", "json")
    ],
)
def test_holdout_hostile_feeds_stay_well_formed(served: Served, section_fmt: str) -> None:
    body = fetch(f"{served.server.url}/feeds/{section_fmt}?limit=500")
    if section_fmt.endswith(".json"):
        json.loads(body)
        return
    ET.fromstring(body)
    assert not feedparser.parse(body).bozo


def fragment(markup: str) -> Any:
    return html5lib.parseFragment(markup, treebuilder="etree", namespaceHTMLElements=False)


def local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def attr_name(name: str) -> str:
    return "xlink:" + name[len(XLINK) :] if name.startswith(XLINK) else name.lower()


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see: C0 controls and spaces trimmed, tabs/newlines removed."""
    cleaned = re.sub(r"[\t\n\r]", "", value.strip(C0_AND_SPACE))
    m = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", cleaned)
    return m.group(1).lower() if m else None


def urls_in(name: str, value: str) -> list[str]:
    if name in ("srcset",):
        return [part.strip().split(" ")[0] for part in value.split(",") if part.strip()]
    if name == "ping":
        return value.split()
    return [value]


def live_problems(markup: str, *, host_must_be: str | None = None) -> list[str]:
    """Everything in one served HTML fragment that could run, frame, restyle or phone home."""
    problems = []
    for el in fragment(markup).iter():
        tag = local(el.tag)
        if not tag:
            continue  # comment
        if tag in FORBIDDEN_ELEMENTS:
            problems.append(f"<{tag}> element")
        for raw_name, value in el.attrib.items():
            name = attr_name(raw_name)
            if name.startswith("on"):
                problems.append(f"<{tag} {name}=...> event handler")
            elif name in ("style", "srcdoc", "ping"):
                problems.append(f"<{tag} {name}={value[:60]!r}>")
            if name in URL_ATTRIBUTES:
                for url in urls_in(name, value):
                    scheme = url_scheme(url)
                    if scheme is not None and scheme not in SAFE_SCHEMES:
                        problems.append(f"<{tag} {name}={url[:80]!r}> ({scheme}: URL)")
                    host = urlsplit(url.strip()).hostname or "" if scheme else ""
                    if host_must_be and scheme in ("http", "https"):
                        if host != host_must_be and not host.endswith("." + host_must_be):
                            problems.append(f"<{tag} {name}={url[:80]!r}> (not {host_must_be})")
        if tag == "img" and el.get("width") == "1" and el.get("height") == "1":
            problems.append(f"1x1 tracking image {el.get('src', '')[:60]!r}")
    return problems


def text_of(markup: str) -> str:
    root = fragment(markup)
    parts = [root.text or ""]
    for el in root.iter():
        if el is root:
            continue
        if local(el.tag):
            parts.append(el.text or "")
        parts.append(el.tail or "")
    return normalise("".join(parts))


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text).replace("\u00a0", " ")).strip()


def hostile_params(known: dict[str, str]) -> list[Any]:
    return [
        pytest.param(p.stem, marks=pytest.mark.xfail(strict=False, reason=known[p.stem]))
        if p.stem in known
        else p.stem
        for p in HOSTILE
    ]


def served_formats(
    served: Served, hostile_items: dict[str, dict[str, ServedItem]], stem: str
) -> dict[str, ServedItem]:
    page = served.pages[stem]
    formats = hostile_items.get(page.guid, {})
    assert set(formats) == {"rss", "atom", "json"}, f"{stem} is missing from {formats.keys()}"
    return formats


@pytest.mark.parametrize("stem", hostile_params(KNOWN_HOSTILE_LIVE))
def test_holdout_hostile_nothing_live_survives(
    served: Served, hostile_items: dict[str, dict[str, ServedItem]], stem: str
) -> None:
    page = served.pages[stem]
    host = page.data.get("urls_must_stay_on")
    problems = []
    for fmt, item in served_formats(served, hostile_items, stem).items():
        for leaked in item.escaped_markup:
            problems.append(f"{fmt}: markup escaped its text field into the XML: {leaked[:120]}")
        for name, markup in item.fragments.items():
            problems += [f"{fmt} {name}: {p}" for p in live_problems(markup, host_must_be=host)]
        for what, url in (("link", item.link), ("image", item.image)):
            scheme = url_scheme(url) if url else "http"
            if scheme not in ("http", "https"):
                problems.append(f"{fmt} item {what} {url[:80]!r}")
    assert not problems, f"{stem}:\n" + "\n".join(sorted(set(problems)))


@pytest.mark.parametrize("stem", hostile_params(KNOWN_HOSTILE_TEXT))
def test_holdout_hostile_ordinary_text_survives(
    served: Served, hostile_items: dict[str, dict[str, ServedItem]], stem: str
) -> None:
    page = served.pages[stem]
    problems = []
    for fmt, item in served_formats(served, hostile_items, stem).items():
        name, markup = next(iter(item.fragments.items()))  # the full content of the item
        text = text_of(markup)
        for sentence in page.data["must_survive"]:
            if normalise(sentence) not in text:
                problems.append(f"{fmt} {name}: lost {sentence!r}")
        for junk in page.data.get("text_must_not_contain", []):
            if junk in text:
                problems.append(f"{fmt} {name}: kept the words of removed markup {junk!r}")
        hrefs = [el.get("href", "") for el in fragment(markup).iter() if local(el.tag) == "a"]
        for wanted in page.data.get("expect_link_to", []):
            if not any(wanted in h and url_scheme(h) in ("http", "https") for h in hrefs):
                problems.append(f"{fmt} {name}: no link to the video {wanted!r}")
    assert not problems, f"{stem}:\n" + "\n".join(problems)


@pytest.mark.parametrize("stem", hostile_params(KNOWN_HOSTILE_ABSOLUTE))
def test_holdout_hostile_urls_are_absolute_http(
    served: Served, hostile_items: dict[str, dict[str, ServedItem]], stem: str
) -> None:
    """Issue 7: relative URLs become absolute against the article's URL."""
    problems = []
    for fmt, item in served_formats(served, hostile_items, stem).items():
        for name, markup in item.fragments.items():
            for el in fragment(markup).iter():
                for raw_name, value in getattr(el, "attrib", {}).items():
                    attr = attr_name(raw_name)
                    if attr in URL_ATTRIBUTES:
                        for url in urls_in(attr, value):
                            if url_scheme(url) is None:
                                problems.append(f"{fmt} {name}: <{local(el.tag)} {attr}={url!r}>")
    assert not problems, f"{stem}:\n" + "\n".join(sorted(set(problems)))


def test_holdout_hostile_set_is_big_enough() -> None:
    assert len(HOSTILE) >= 30
    for path in HOSTILE:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        assert data["must_survive"], path.name
        assert path.with_suffix(".html").is_file(), path.name
