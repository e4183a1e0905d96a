"""Text helpers shared by every boundary: NFC, characters XML forbids, spaces, folding, slugs.

Readers always see the text as written (NFC, diacritics intact); folding is for comparing
and for slugs only. The sanitiser (article bodies) and the renderer (feed output) drop more
than these helpers do, each for its own reason: see ``sanitise._clean_text`` and
``render.clean_text``.
"""

from __future__ import annotations

import re
import unicodedata

# Old ("oà", "uỷ") and new ("òa", "ủy") tone placement: fold the old spelling to the new one.
_OLD_TONES = {
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}  # fmt: skip
_OLD_TONE_RE = re.compile(
    "(" + "|".join(sorted(_OLD_TONES, key=len, reverse=True)) + r")(?![a-zà-ỹđ])", re.I
)
_SPACES = re.compile(r"\s+")
_NON_SLUG = re.compile(r"[^a-z0-9]+")
# XML 1.0 forbids C0 controls other than tab, LF and CR, surrogates, U+FFFE and U+FFFF.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# The same, and DEL: legal XML, but never meant in text read from outside.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")


def nfc(text: str) -> str:
    """The one normal form stored and served (ASCII text is NFC already: the common case)."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def new_tone_placement(text: str) -> str:
    """Hoà -> Hòa, Thuỷ -> Thủy: the same word written the old way (at a syllable's end)."""

    def fix(m: re.Match[str]) -> str:
        s = m.group(0)
        new = _OLD_TONES[s.lower()]
        return new if s.islower() else (new[0].upper() + new[1:] if s[0].isupper() else new)

    return _OLD_TONE_RE.sub(fix, nfc(text))


def strip_diacritics(text: str) -> str:
    """For comparison and slugs only: đ->d first (NFD leaves đ without a base letter)."""
    text = nfc(text).replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Case-, diacritic- and space-insensitive key: "CHÍNH  TRỊ" == "chinh tri" == "chinh-tri"."""
    return _NON_SLUG.sub(" ", strip_diacritics(text).lower()).strip()


def slugify(text: str) -> str:
    return _NON_SLUG.sub("-", strip_diacritics(text).lower()).strip("-")


def squash_spaces(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def strip_xml_illegal(text: str) -> str:
    """Remove every character XML 1.0 forbids (C0 controls but tab/LF/CR, surrogates, U+FFFE/F).

    Feed libraries refuse a whole feed over one such character, so the renderer calls this
    again on everything it writes; the sanitiser has already removed them from stored text.
    """
    if _XML_ILLEGAL.search(text) is None:
        return text
    return _XML_ILLEGAL.sub("", text)


def strip_controls(text: str) -> str:
    """strip_xml_illegal, and DEL too: for whole documents and fields read from upstream."""
    return _CONTROLS.sub("", text)


def clean_line(text: str) -> str:
    """One line of reader text (a title, a name, a category): NFC, no controls, single spaces."""
    return squash_spaces(strip_controls(nfc(text)))
