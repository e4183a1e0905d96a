"""Vietnamese text helpers shared by every boundary: NFC, folding for comparison, slugs.

Readers always see the text as written (NFC, diacritics intact); folding is for comparing
and for slugs only.
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


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


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
