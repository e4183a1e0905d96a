"""TEMPORARY STUB until the sanitiser lands (issue 7)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import bleach
import lxml.html

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Sanitised:
    html: str
    text: str
    summary: str
    lead: str
    image: str | None
    image_caption: str | None
    images: tuple[str, ...]
    author: str | None


def strip_xml_illegal(text: str) -> str:
    return _ILLEGAL.sub("", text)


def html_to_text(html: str) -> str:
    if not html.strip():
        return ""
    return lxml.html.fromstring(f"<div>{html}</div>").text_content()


def sanitise_article(html: str, base_url: str, *, summary_chars: int = 300) -> Sanitised:
    doc = lxml.html.fromstring(f"<div>{html}</div>")
    for bad in doc.xpath("//script|//style|//iframe"):
        bad.drop_tree()
    author = None
    for p in doc.xpath("//p[@align='right']"):
        author = p.text_content().replace("\xa0", " ").strip()
        p.drop_tree()
    paras = [p.text_content().replace("\xa0", " ").strip() for p in doc.xpath("//p")]
    paras = [p for p in paras if p]
    lead = next((p for p in paras if p.startswith("(HBĐT)")), "")
    clean = bleach.clean(
        lxml.html.tostring(doc, encoding="unicode"),
        strip=True,
        tags={"p", "strong", "em", "img", "a", "br", "table", "tr", "td"},
        attributes={"img": ["src", "alt"], "a": ["href"]},
    )
    imgs = tuple(doc.xpath("//img/@src"))
    return Sanitised(
        html=strip_xml_illegal(clean),
        text="\n\n".join(paras),
        summary=(lead or (paras[0] if paras else ""))[:summary_chars],
        lead=lead,
        image=imgs[0] if imgs else None,
        image_caption=None,
        images=imgs,
        author=author,
    )
