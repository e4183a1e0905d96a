"""District tagging: which of Hòa Bình's ten districts an article is about, with the evidence.

A reader of the Mai Châu feed wants every article about Mai Châu and nothing else, so a wrong
tag (noise in a local feed) costs more than a missed one. Vietnamese place names are often
ordinary words ("Đoàn Kết", "Tự Do", "Hòa Bình") or names shared by several districts, so the
rules below decide, per class of name, what context makes a name a place of ours.

Matching form. Every input is NFC-normalised (decomposed NFD text works), then folded to a
same-length "match form": lower case, every kind of space a plain space, old and new tone
placement made equal (Hoà = Hòa, Thuỷ = Thủy, Khoẻ = Khỏe) and a final y after a consonant made
i (Lạc Sỹ = Lạc Sĩ, Kỳ Sơn = Kì Sơn). Because the folding keeps every character at its place,
the evidence is cut from the text as written. Other spellings (Mỵ Hòa for Mi Hòa, Xăm Khòe for
Săm Khóe) are aliases in config/place_aliases.toml. Words may be separated by several spaces.

One compiled matcher. All names of every period (2024 units, their pre-2020 names, units
absorbed before 2020, Kỳ Sơn district, the 2025 successor communes, aliases and landmarks) are
folded and compiled once into a single regular expression shaped like a trie of syllables, so
an article is scanned once per field whatever the size of the gazetteer. The few hits are then
judged by the rules, looking only at the words around each hit.

Speed. The paper's articles are 3-6 KB, and issue 8 asks for 2,000 of them a second (measured
by bench/places.py). Nearly all the time goes to passes over the whole text, so there are as
few as possible and each lets the regex engine skip in C: NFC (a quick check when the text is
NFC already), lower(), one regex pass for the rest of the folding (see _FOLD_RE), and the trie
tried only where a word starts (see _scan). The province search for names with a namesake
elsewhere runs only when a word of such a province is in the article.

The rules, by class of name:

1. District names (Đà Bắc, Lương Sơn, Kim Bôi, Cao Phong, Tân Lạc, Mai Châu, Lạc Sơn, Yên Thủy,
   Lạc Thủy) count on their own, with or without "huyện". A 2025 commune of the same name ("xã
   Kim Bôi", "xã Lạc Sơn") maps to the same district.
2. The city: "thành phố Hòa Bình", "TP Hòa Bình", "TP. Hòa Bình", "Thành ủy Hòa Bình", "TPHB",
   any ward of the city, and (before 2020) Kỳ Sơn district. "Hòa Bình" alone is the province
   (or the lake, the dam, the paper) and tags nothing; "xã/phường Hòa Bình" are units of the
   city. Kỳ Sơn counts only as "huyện/thị trấn/phường Kỳ Sơn", in a list after such a prefix,
   or as a headline prefix "Kỳ Sơn: ..." (Nghệ An has a Kỳ Sơn district too).
3. Commune, ward and town names listed as `bare` in config/place_aliases.toml (distinctive local
   names: Vạn Mai, Pà Cò, Mường Động ...) count on their own.
4. Every other unit name (the default: ordinary words such as Đoàn Kết, Độc Lập, Tự Do, Tân Lập,
   Định Cư, and generic names shared with people and places elsewhere such as Thanh Sơn, Tân
   Minh, Phương Lâm) counts only after an administrative prefix of a type the unit really had in
   some period ("xã", "phường", "thị trấn"), in a list that follows such a prefix ("các xã Tân
   Lập, Tự Do và Ngọc Sơn"; never for a province name like Hòa Bình), or when qualified by one
   of our districts ("Tân Lập (Lạc Sơn)", "xã Tân Lập, huyện Lạc Sơn") or by the province
   ("Kỳ Sơn (Hòa Bình)"; "(Phú Thọ)" for a 2025 name). A capital letter never suffices:
   sentence and headline starts are capitalised too.
5. Names shared by more than one district in any period (computed from the data: see
   ``Gazetteer.ambiguous_names``) count only when qualified by one of those districts
   ("xã Cao Sơn (Đà Bắc)"), or by Phú Thọ when the 2025 unit of that name belongs to one
   district ("xã Cao Sơn (tỉnh Phú Thọ)"); a prefix alone is not enough. Precisely: every
   reading the words allow (a unit of a period, a district) stands for the districts it belongs
   to, and the name tags the districts all of them share. A 2025 unit formed from several old
   districts belongs to every one the gazetteer lists as its old_district, whole units or part
   (Phường Thống Nhất: the city's three wards and part of Vầy Nưa, Đà Bắc), as issue 8 maps
   the 2025 communes back to "the old district or districts they were formed from": so
   "phường Thống Nhất (Phú Thọ)" tags the city and Đà Bắc, and "phường Thống Nhất" alone (the
   city's 2024 ward, or the 2025 one) the city only. A qualifying district of ours narrows it
   to that district ("(TP Hòa Bình)").
6. A name qualified as belonging elsewhere is refused: "huyện Kỳ Sơn (Nghệ An)", "xã Tân Minh,
   huyện Sóc Sơn", "xã Đồng Tâm thuộc huyện Mỹ Đức", "xã Quyết Thắng của TP Thái Nguyên",
   "xã Thành Sơn - huyện Bá Thước", "xã Tiền Phong, Mê Linh, Hà Nội", "Kỳ Sơn, Tương Dương
   (Nghệ An)" (a parenthesis after a list covers the whole list), "(Phú Thọ)" after a pre-2025
   name. "(Phú Thọ)" or "tỉnh Phú Thọ" after a name that exists from July 2025 is ours (the
   province was merged into Phú Thọ). Names with a known namesake of the same kind elsewhere
   (`elsewhere` in place_aliases.toml, e.g. Kỳ Sơn in Nghệ An) are refused in an article that
   mentions that province unless qualified as ours. A parenthesis naming a place of ours of
   the same district is ours ("huyện Tân Lạc (Mường Bi)"); of another, it is elsewhere ("xã
   Tân Lập (Thanh Sơn)": Thanh Sơn is a commune of Lương Sơn, and a district of Phú Thọ).
7. Every name must be written capitalised (the first letter of its last word), whatever the
   prefix: "xã tân lập" is "a newly formed commune", not Tân Lập.
8. A bare name right after a personal title or a surname is a person: "ông Mai Châu",
   "Nguyễn Cao Phong", "NSƯT Mai Châu".
9. "tỉnh X" and "quận X" never tag (no district is a tỉnh or quận).
10. Once an article puts a name elsewhere (rule 6: "xã Thành Sơn, huyện Bá Thước (Thanh
   Hóa)", "xã Tiền Phong (Hà Nội)", "xã Cao Phong, huyện Sông Lô"), its later mentions, in any
   field, are that place too: "Xã Thành Sơn hiện có...", "Nông dân Cao Phong ở đây". Except a
   mention qualified as ours ("xã Thành Sơn (Mai Châu)", "huyện Mai Châu" after the name, "(Hòa
   Bình)", "(Phú Thọ)" for a 2025 name, "TP Hòa Bình", a headline prefix "Cao Phong:"), which
   also ends the attribution, and one with a prefix of another kind than the place elsewhere
   ("huyện Cao Phong" after "xã Cao Phong, huyện Sông Lô"; a place elsewhere named without a
   prefix covers every kind). Earlier mentions stay ours: an unqualified name before its
   namesake is contrasted with it ("Xã Thành Sơn kết nghĩa với xã Thành Sơn (Thanh Hóa)").
   The headline is the exception, as it summarises what follows: an unqualified name in the
   headline is what its first mention in the lead or body is ("Học tập ở xã Tiền Phong" over
   "xã Tiền Phong, huyện Mê Linh (Hà Nội)" is Hà Nội's). A parenthesis that does not read as a
   place name ("Cao Phong (VTV)") refuses only its own mention.

A place named anywhere in the article counts; tags are kept one per (district, field), the first
in reading order, with the phrase as written (administrative prefix and a qualifying
parenthesis included) and the unit named when it was a commune, ward or town.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .exceptions import ConfigError
from .model import PlaceTag
from .settings import read_toml

FIELDS = ("title", "summary", "body")
PERIODS = ("2019", "2024", "2025")  # 2019: names in use before the 2020 mergers
UNIT_TYPES = {"Xã": "xã", "Phường": "phường", "Thị trấn": "thị trấn"}
DISTRICT_TYPES = {"Huyện": "huyện", "Thành phố": "city"}
UNIT_MATCH = ("bare", "prefix")
DISTRICT_MATCH = ("bare", "city", "prefix")
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# Provinces (before and after the 2025 merger) and big cities. Hòa Bình (ours) and Phú Thọ
# (ours from July 2025) are handled apart. Used to refuse "huyện Kỳ Sơn (Nghệ An)".
OTHER_PROVINCES = (
    "An Giang", "Bà Rịa - Vũng Tàu", "Bà Rịa", "Vũng Tàu", "Bạc Liêu", "Bắc Giang", "Bắc Kạn",
    "Bắc Cạn", "Bắc Ninh", "Bến Tre", "Bình Dương", "Bình Định", "Bình Phước", "Bình Thuận",
    "Cà Mau", "Cao Bằng", "Cần Thơ", "Đà Nẵng", "Đắk Lắk", "Đắk Nông", "Điện Biên", "Đồng Nai",
    "Đồng Tháp", "Gia Lai", "Hà Giang", "Hà Nam", "Hà Nội", "Hà Tĩnh", "Hải Dương", "Hải Phòng",
    "Hậu Giang", "Hưng Yên", "Khánh Hòa", "Kiên Giang", "Kon Tum", "Lai Châu", "Lâm Đồng",
    "Lạng Sơn", "Lào Cai", "Long An", "Nam Định", "Nghệ An", "Ninh Bình", "Ninh Thuận",
    "Phú Yên", "Quảng Bình", "Quảng Nam", "Quảng Ngãi", "Quảng Ninh", "Quảng Trị", "Sóc Trăng",
    "Sơn La", "Tây Ninh", "Thái Bình", "Thái Nguyên", "Thanh Hóa", "Thừa Thiên Huế", "Huế",
    "Hồ Chí Minh", "TP.HCM", "TPHCM", "Sài Gòn", "Trà Vinh", "Tuyên Quang", "Vĩnh Long",
    "Vĩnh Phúc", "Yên Bái",
)  # fmt: skip

# Words that, right before a bare name, make it a person ("ông Mai Châu", "NSƯT Mai Châu").
PERSON_TITLES = (
    "ông", "bà", "anh", "chị", "chú", "bác", "cụ", "nsưt", "nsnd", "đ/c", "nghệ sĩ", "ca sĩ",
    "nhạc sĩ", "họa sĩ", "diễn viên", "nhà văn", "nhà thơ", "nhà báo", "đồng chí", "tác giả",
    "vận động viên", "vđv", "cầu thủ", "võ sĩ", "nghệ nhân", "hoa hậu",
)  # fmt: skip
# Capitalised words that, right before a bare name, make it a person's name ("Bùi Lạc Sơn").
SURNAMES = (
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Quách", "Xa", "Trịnh", "Đoàn", "Lương", "Lưu",
    "Trương", "Tạ", "Triệu", "Kiều", "Tô", "Vương", "Đào", "Hà", "Cao", "Mai", "Sa", "Lò",
    "Cầm", "Lường", "Văn", "Thị",
)  # fmt: skip
# Capitalised first words of a parenthesis that do not name a place ("(Ảnh: ...)").
NEUTRAL_WORDS = (
    "ảnh", "video", "clip", "hbđt", "hbo", "pv", "ttxvn", "nguồn", "theo", "trước", "nay", "cũ",
    "mới", "năm", "từ", "thuộc", "tên", "gồm", "sau", "đã", "giáp", "khu", "bản", "xóm", "thôn",
    "tổ", "xã", "phường", "thị", "huyện", "tỉnh", "thành", "tp", "cả", "các", "toàn", "đơn",
)  # fmt: skip

# --- the match form ---------------------------------------------------------------------------

_SPACES = "\t\x0b\x0c\r\xa0\u1680\u2000-\u200a\u202f\u205f\u3000"  # all but the line break
_TONED_O = "òóỏõọ"
_TONED_U = "ùúủũụ"
_TONED_A = "àáảãạ"
_TONED_E = "èéẻẽẹ"
_TONED_Y = "ỳýỷỹỵ"
_CONSONANTS = "bcdđghklmnprstvx"
# What fold() replaces, by the text it matched.
_FOLDED: dict[str, str] = {chr(c): " " for c in range(0x2000, 0x200B)}
_FOLDED.update(dict.fromkeys("\t\x0b\x0c\r\xa0\u1680\u202f\u205f\u3000", " "))
# Old tone placement -> new: hòa -> hoà, khỏe -> khoẻ, thủy -> thuỷ. A tone on the first vowel of
# oa/oe/uy occurs only in the old placement (or a typo), so the pair is replaced wherever it
# stands; "mùa", "của" (ua) are left alone.
for _i, _o in enumerate(_TONED_O):
    _FOLDED[_o + "a"] = "o" + _TONED_A[_i]
    _FOLDED[_o + "e"] = "o" + _TONED_E[_i]
for _i, _u in enumerate(_TONED_U):
    _FOLDED[_u + "y"] = "u" + _TONED_Y[_i]
# A final y after a consonant is the i/y spelling choice: lý = lí, Kỳ = Kì, Sỹ = Sĩ (not uy, ay).
_FOLDED.update(zip("y" + _TONED_Y, "iìíỉĩị", strict=True))
# All three replacements in one pass. The pattern starts with a single character class, which
# lets the regex engine skip in C every character that starts none of them; the lookbehinds
# then say which of the three the character starts. (Three passes, or str.translate, which
# looks every character up in a dict, cost two to three times as much on a 5 KB article.)
_FOLD_RE = re.compile(
    f"[{_SPACES}{_TONED_O}{_TONED_U}y{_TONED_Y}]"
    f"(?:(?<=[{_SPACES}])"
    f"|(?<=[{_TONED_O}])[ae]"
    f"|(?<=[{_TONED_U}])y"
    f"|(?<=[{_CONSONANTS}][y{_TONED_Y}])(?!\\w))"
)


def _fold_sub(m: re.Match[str]) -> str:
    return _FOLDED[m.group()]


def fold(text: str) -> str:
    """The match form of NFC text: same length, so offsets point into the text as written.

    Lower case, every space but the line break (which no name spans) a plain space, old tone
    placement made new, a final y after a consonant made i.
    """
    low = text.lower()
    if len(low) != len(text):  # "İ".lower() is two characters: keep such letters as they are
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    return _FOLD_RE.sub(_fold_sub, low)


def match_key(name: str) -> str:
    """How a name is looked up: folded, single spaces."""
    return " ".join(fold(unicodedata.normalize("NFC", name)).split())


# --- context patterns (compiled on folded text) --------------------------------------------------


def _alt(words: Iterable[str]) -> str:
    keys = sorted({match_key(w) for w in words}, key=lambda k: (-len(k), k))
    return "|".join(re.escape(k).replace("\\ ", " +") for k in keys)


def _words_re(words: Iterable[str]) -> re.Pattern[str]:
    """Any of the words, as whole words: ``(?<!\\w)(?:w1|w2|...)(?!\\w)``, but searchable fast.

    The word-start test comes after the first letter of each word (``n(?<!\\w.)ghệ +an``), so
    the pattern starts with letters and the regex engine skips in C to the places where one
    stands, instead of trying the whole pattern at every character of the article.
    """
    keys = sorted({match_key(w) for w in words}, key=lambda k: (-len(k), k))
    alts = (re.escape(k[0]) + r"(?<!\w.)" + re.escape(k[1:]).replace("\\ ", " +") for k in keys)
    return re.compile("(?:" + "|".join(alts) + r")(?!\w)")


_PREFIX_KIND = {
    "xã": "xã",
    "phường": "phường",
    "thị trấn": "thị trấn",
    "tt": "thị trấn",
    "huyện": "huyện",
    "thành phố": "city",
    "tp": "city",
    "thành ủy": "city",
    "thành đoàn": "city",
    "thị xã": "city",
    "tỉnh": "tỉnh",
    "quận": "quận",
}
_PREFIX_KIND = {match_key(k): v for k, v in _PREFIX_KIND.items()}
_ABBREVIATIONS = {match_key("tp"), match_key("tt")}
# Words that may stand between "xã" and the name: "xã vùng cao Hang Kia".
DESCRIPTORS = (
    "vùng cao", "vùng sâu", "vùng xa", "miền núi", "biên giới", "đặc biệt khó khăn", "mới",
    "nông thôn mới", "nông thôn mới nâng cao", "nông thôn mới kiểu mẫu", "anh hùng",
)  # fmt: skip


def _alt_reversed(words: Iterable[str]) -> str:
    return _alt(k[::-1] for k in {match_key(w) for w in words})


# The words before a name are read backwards: the folded field is reversed once and each
# pattern is matched (anchored) at the name's start, one attempt instead of a search.
# Forwards: "xã ", "các xã: ", "TP.", "TP. ", "xã vùng cao " (but not "của xã. Tân Lập").
_REV_PREFIX_RE = re.compile(
    r"(?: *\.| +)(" + _alt_reversed(_ABBREVIATIONS) + r")(?!\w)"
    r"|(?: +(?:"
    + _alt_reversed(DESCRIPTORS)
    + r"))?(?: *: *| +)("
    + _alt_reversed(set(_PREFIX_KIND) - _ABBREVIATIONS)
    + r")(?!\w)"
)
_REV_PREV_WORDS_RE = re.compile(r" +([\w/]+)(?: +([\w/]+))?")  # the last two words
_CHAIN_GAP_RE = re.compile(r" *(?:,|;|và|, *và|cùng|hoặc) *")
_PERSON_TITLES = frozenset(match_key(t) for t in PERSON_TITLES)
_SURNAMES = frozenset(match_key(s) for s in SURNAMES)
_NEUTRAL = frozenset(match_key(w) for w in NEUTRAL_WORDS)
_QUAL_ADMIN_RE = re.compile(
    r"(?:(?:thuộc|của|nay là|nay thuộc) +)?(?:(" + _alt(_PREFIX_KIND) + r")(?:\. *| +))?"
)
_PROVINCE_RE = _words_re(OTHER_PROVINCES)
_PHU_THO_RE = _words_re(["Phú Thọ"])
_WORD_RE = re.compile(r"\w+")
_DIGIT_RE = re.compile(r"\d")
_PAREN_RE = re.compile(r" *\(([^()\n]{1,80})\)")
_COMMA_RE = re.compile(r" *, *")
# "xã Đồng Tâm thuộc huyện Mỹ Đức", "xã Quyết Thắng của TP Thái Nguyên": read like a comma,
# but only before "huyện ..." or a province.
_OF_RE = re.compile(r" +(?:thuộc|của|nay thuộc) +")
# "xã Thành Sơn - huyện Bá Thước": only to refuse, and only before "huyện ..." (a dash also
# joins the two ends of a route: "tuyến Lạc Sơn - Hà Nội", "Hang Kia - Pà Cò").
_DASH_RE = re.compile(r" *[-–—] *")
_SYLLABLE_RE = re.compile(r" *(\w+(?:\.\w+)*)")
_LIST_ITEM_RE = re.compile(
    r" *(?:,|và|, *và) *(?:(?:xã|phường|thị trấn|huyện) +)?\w+(?: +\w+){0,3}?(?= *(?:,|\(| và ))"
)


# --- the compiled gazetteer ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """One reading of a name: a district, a former district, an alias or landmark, or a unit."""

    district: str
    kind: str  # "district" | "former" | "alias" | "unit" | "stop" (a longer name, not a place)
    match: str  # "bare" | "prefix" | "city"
    types: frozenset[str] = frozenset()  # prefix kinds it accepts: "xã", "huyện", "city", ...
    unit: str | None = None  # display name of a commune/ward/town
    in_2025: bool = False
    # The districts the unit belongs to: its own, and for a 2025 unit formed from several old
    # districts the others too (shared_with in districts.toml).
    districts: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "districts", self.districts | {self.district})


@dataclass(frozen=True)
class _Name:
    key: str
    entries: tuple[_Entry, ...]
    districts: frozenset[str]
    elsewhere: re.Pattern[str] | None  # provinces whose mention makes the bare name doubtful
    # The longest word of each of those provinces: when none is in the article (the usual
    # case), the search for the provinces, a scan of the whole article, is skipped.
    elsewhere_words: tuple[str, ...]
    is_province: bool  # never inherited from a list ("xã Vạn Mai, Hòa Bình")
    strong: bool  # a district name (or alias): "Lạc Sơn, Tân Lạc" is a list, not a qualifier
    city: bool  # the city's name, which needs "thành phố"/"TP" (Hòa Bình)
    stop: bool  # listed in not_places
    last_syllable: int  # length of the last syllable, for the capital-letter check


@dataclass(frozen=True)
class Gazetteer:
    """The compiled gazetteer: immutable, built once by load_gazetteer()."""

    districts: tuple[tuple[str, str], ...]  # (slug, display name) in config order
    ambiguous_names: tuple[str, ...]  # names shared by more than one district, any period
    source: str
    city: str | None  # the district whose short name needs "thành phố"/"TP" (Hòa Bình)
    _names: Mapping[str, _Name] = field(repr=False, compare=False)
    _regex: re.Pattern[str] = field(repr=False, compare=False)  # the trie, anywhere
    _after_space: re.Pattern[str] = field(repr=False, compare=False)  # the trie after " "
    _after_other: re.Pattern[str] = field(repr=False, compare=False)  # after "(", "\n" ...
    _qual: Mapping[str, str | None] = field(repr=False, compare=False)
    _qual_regex: re.Pattern[str] = field(repr=False, compare=False)

    def district_name(self, slug: str) -> str:
        return next((name for s, name in self.districts if s == slug), slug)

    @property
    def name_count(self) -> int:
        return len(self._names)


# --- loading -------------------------------------------------------------------------------------


def load_gazetteer(path: Path, aliases_path: Path | None = None) -> Gazetteer:
    """Read config/districts.toml (and optionally an overlay shaped like place_aliases.toml).

    Bad data is a ConfigError naming the file and the key.
    """
    data = read_toml(Path(path))
    districts = data.get("districts")
    if not isinstance(districts, list) or not districts:
        raise ConfigError(f"{path}: districts: expected a non-empty array of tables [[districts]]")
    if aliases_path is not None:
        districts = merge_place_aliases(districts, read_toml(Path(aliases_path)), str(aliases_path))
    return compile_gazetteer(districts, str(path))


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: expected a list of non-empty strings")
    return [unicodedata.normalize("NFC", v) for v in value]


def _all_names(districts: list[dict[str, Any]]) -> set[str]:
    keys: set[str] = set()
    for d in districts:
        for k in ("name", "short"):
            if isinstance(d.get(k), str):
                keys.add(match_key(d[k]))
        for group in ("units", "former_districts"):
            for u in d.get(group, []) or []:
                if isinstance(u, dict) and isinstance(u.get("name"), str):
                    keys.add(match_key(u["name"]))
    return keys


_OVERLAY_KEYS = {"bare", "ordinary", "variants", "elsewhere", "districts"}


def merge_place_aliases(
    districts: list[dict[str, Any]], overlay: Mapping[str, Any], source: str
) -> list[dict[str, Any]]:
    """Apply hand-written aliases (config/place_aliases.toml) to raw [[districts]] data.

    Used by scripts/gen_districts.py to produce config/districts.toml, and at load time for an
    operator's overlay. Returns new data; applying the same overlay twice changes nothing.
    """
    unknown = set(overlay) - _OVERLAY_KEYS
    if unknown:
        raise ConfigError(
            f"{source}: unknown key {sorted(unknown)[0]!r}"
            f" (known: {', '.join(sorted(_OVERLAY_KEYS))})"
        )
    known = _all_names(districts)

    def check_name(name: str, where: str) -> str:
        if match_key(name) not in known:
            raise ConfigError(f"{source}: {where}: {name!r} is not a name in the gazetteer")
        return match_key(name)

    bare = {check_name(n, "bare") for n in _str_list(overlay.get("bare", []), f"{source}: bare")}
    ordinary = {
        check_name(n, "ordinary")
        for n in _str_list(overlay.get("ordinary", []), f"{source}: ordinary")
    }
    clash = bare & ordinary
    if clash:
        raise ConfigError(
            f"{source}: bare: {sorted(clash)[0]!r} is an ordinary word and needs a prefix"
        )
    variants: dict[str, list[str]] = {}
    raw_variants = overlay.get("variants", {})
    if not isinstance(raw_variants, dict):
        raise ConfigError(f"{source}: variants: expected a table name = [spellings]")
    for name, spellings in raw_variants.items():
        key = check_name(name, f"variants.{name}")
        variants.setdefault(key, []).extend(_str_list(spellings, f"{source}: variants.{name}"))
    elsewhere: dict[str, list[str]] = {}
    raw_elsewhere = overlay.get("elsewhere", {})
    if not isinstance(raw_elsewhere, dict):
        raise ConfigError(f"{source}: elsewhere: expected a table name = [provinces]")
    for name, provinces in raw_elsewhere.items():
        key = check_name(name, f"elsewhere.{name}")
        elsewhere.setdefault(key, []).extend(_str_list(provinces, f"{source}: elsewhere.{name}"))
    per_district = overlay.get("districts", {})
    if not isinstance(per_district, dict):
        raise ConfigError(f"{source}: districts: expected tables [districts.<slug>]")
    slugs = {d.get("slug") for d in districts}
    for slug, extra in per_district.items():
        if slug not in slugs:
            raise ConfigError(f"{source}: districts.{slug}: no district with this slug")
        if not isinstance(extra, dict) or set(extra) - {"aliases", "landmarks", "not_places"}:
            raise ConfigError(
                f"{source}: districts.{slug}: expected only the keys aliases, landmarks"
                " and not_places"
            )

    def add(target: dict[str, Any], key: str, values: Iterable[str]) -> None:
        have = list(target.get(key, []))
        for v in values:
            if v not in have:
                have.append(v)
        target[key] = have

    out = []
    for d in districts:
        d = dict(d)
        extra = per_district.get(d.get("slug"), {})
        for key in ("aliases", "landmarks", "not_places"):
            if key in extra:
                add(d, key, _str_list(extra[key], f"{source}: districts.{d['slug']}.{key}"))
        for group in ("units", "former_districts"):
            if group not in d:
                continue
            new_units = []
            for u in d[group]:
                u = dict(u)
                key = match_key(u.get("name", ""))
                if key in bare:
                    u["match"] = "bare"
                elif key in ordinary or (group == "units" and "match" not in u):
                    u["match"] = "prefix"
                if key in variants:
                    add(u, "aliases", variants[key])
                if key in elsewhere:
                    add(u, "elsewhere", elsewhere[key])
                new_units.append(u)
            d[group] = new_units
        out.append(d)
    return out


_DISTRICT_KEYS = {
    "slug", "name", "full_name", "short", "type", "gso_code", "match", "aliases", "landmarks",
    "not_places", "elsewhere", "former_districts", "units",
}  # fmt: skip
_UNIT_KEYS = {
    "name", "type", "period", "code", "slug", "was", "became", "becomes_2025", "formed_from",
    "former_district", "shared_with", "match", "aliases", "elsewhere",
}  # fmt: skip
_FORMER_KEYS = {"name", "type", "gso_code", "until", "match", "aliases", "elsewhere"}


def _check_keys(raw: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
    return raw


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.{key}: missing or not a string")
    return " ".join(unicodedata.normalize("NFC", value).split())


def _choice(raw: dict[str, Any], key: str, allowed: Iterable[str], default: str, where: str) -> str:
    value = raw.get(key, default)
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(f"{where}.{key}: {value!r} is not one of {', '.join(allowed)}")
    return str(value)


def compile_gazetteer(districts: list[dict[str, Any]], source: str) -> Gazetteer:
    """Validate raw [[districts]] data and compile the matcher (see the module docstring)."""
    readings: dict[str, list[_Entry]] = {}
    elsewhere: dict[str, set[str]] = {}
    display: list[tuple[str, str]] = []
    city: str | None = None
    qual: dict[str, str | None] = {match_key("Hòa Bình"): None}
    shared_with: list[tuple[str, str]] = []  # (slug, where), checked once all are known

    def add(name: str, entry: _Entry, where: str, provinces: Iterable[str] = ()) -> None:
        key = match_key(name)
        if not key or not re.search(r"\w", key):
            raise ConfigError(f"{where}: {name!r} is not a place name")
        readings.setdefault(key, []).append(entry)
        if provinces:
            elsewhere.setdefault(key, set()).update(match_key(p) for p in provinces)

    for i, raw in enumerate(districts):
        where = f"{source}: districts[{i}]"
        raw = _check_keys(raw, _DISTRICT_KEYS, where)
        slug = _text(raw, "slug", where)
        if not _SLUG_RE.match(slug):
            raise ConfigError(f"{where}.slug: {slug!r} is not a slug (a-z, 0-9, single hyphens)")
        if slug in dict(display):
            raise ConfigError(f"{where}.slug: {slug!r} appears twice")
        where = f"{source}: districts[{i}] ({slug})"
        name = _text(raw, "name", where)
        display.append((slug, name))
        short = _text(raw, "short", where) if "short" in raw else name
        dtype = _choice(raw, "type", DISTRICT_TYPES, "Huyện", where)
        match = _choice(raw, "match", DISTRICT_MATCH, "bare", where)
        kinds = frozenset({DISTRICT_TYPES[dtype]})
        provinces = _str_list(raw.get("elsewhere", []), f"{where}.elsewhere")
        add(short, _Entry(slug, "district", match, kinds), f"{where}.short", provinces)
        if match == "bare":
            qual[match_key(short)] = slug
        elif match == "city":
            city = slug
        for key in ("aliases", "landmarks"):
            for j, alias in enumerate(_str_list(raw.get(key, []), f"{where}.{key}")):
                add(alias, _Entry(slug, "alias", "bare"), f"{where}.{key}[{j}]")
                qual[match_key(alias)] = slug
        for j, stop in enumerate(_str_list(raw.get("not_places", []), f"{where}.not_places")):
            add(stop, _Entry(slug, "stop", "bare"), f"{where}.not_places[{j}]")
        for j, f_raw in enumerate(raw.get("former_districts", []) or []):
            fwhere = f"{where}.former_districts[{j}]"
            f_raw = _check_keys(f_raw, _FORMER_KEYS, fwhere)
            fname = _text(f_raw, "name", fwhere)
            ftype = _choice(f_raw, "type", DISTRICT_TYPES, "Huyện", fwhere)
            fmatch = _choice(f_raw, "match", DISTRICT_MATCH, "prefix", fwhere)
            fprov = _str_list(f_raw.get("elsewhere", []), f"{fwhere}.elsewhere")
            entry = _Entry(slug, "former", fmatch, frozenset({DISTRICT_TYPES[ftype]}))
            for n in (fname, *_str_list(f_raw.get("aliases", []), f"{fwhere}.aliases")):
                add(n, entry, f"{fwhere}.name", fprov)
                qual.setdefault(match_key(n), slug)
        units = raw.get("units", [])
        if not isinstance(units, list):
            raise ConfigError(f"{where}.units: expected an array of tables [[districts.units]]")
        for j, u_raw in enumerate(units):
            uwhere = f"{where}.units[{j}]"
            u_raw = _check_keys(u_raw, _UNIT_KEYS, uwhere)
            uname = _text(u_raw, "name", uwhere)
            utype = _choice(u_raw, "type", UNIT_TYPES, "", uwhere)
            period = _choice(u_raw, "period", PERIODS, "", uwhere)
            umatch = _choice(u_raw, "match", UNIT_MATCH, "prefix", uwhere)
            uprov = _str_list(u_raw.get("elsewhere", []), f"{uwhere}.elsewhere")
            shared = _str_list(u_raw.get("shared_with", []), f"{uwhere}.shared_with")
            entry = _Entry(
                slug,
                "unit",
                umatch,
                frozenset({UNIT_TYPES[utype]}),
                uname,
                period == "2025",
                frozenset(shared),
            )
            shared_with.extend((s, f"{uwhere}.shared_with") for s in shared)
            for n in (uname, *_str_list(u_raw.get("aliases", []), f"{uwhere}.aliases")):
                add(n, entry, f"{uwhere}.name", uprov)
    if not display:
        raise ConfigError(f"{source}: districts: no district")
    for other, where in shared_with:
        if other not in dict(display):
            raise ConfigError(f"{where}: {other!r} is not the slug of a district")

    province_keys = {match_key(p) for p in (*OTHER_PROVINCES, "Hòa Bình", "Phú Thọ")}
    names: dict[str, _Name] = {}
    ambiguous = []
    for key, entries in readings.items():
        where_districts = frozenset(e.district for e in entries)
        if len(where_districts) > 1:
            ambiguous.append(key)
        prov = elsewhere.get(key)
        names[key] = _Name(
            key=key,
            entries=tuple(dict.fromkeys(entries)),
            districts=where_districts,
            elsewhere=_words_re(prov) if prov else None,
            elsewhere_words=tuple(max(match_key(p).split(), key=len) for p in prov or ()),
            is_province=key in province_keys,
            strong=any(e.kind in ("district", "alias") and e.match == "bare" for e in entries),
            city=any(e.match == "city" for e in entries),
            stop=any(e.kind == "stop" for e in entries),
            last_syllable=len(key.rsplit(" ", 1)[-1]),
        )
    shown = {}
    for key, entries in readings.items():
        if key in ambiguous:
            shown[key] = next((e.unit for e in entries if e.unit), key)
    trie = _trie_pattern(names)
    return Gazetteer(
        districts=tuple(display),
        ambiguous_names=tuple(sorted(shown.values(), key=match_key)),
        source=source,
        city=city,
        _names=MappingProxyType(names),
        _regex=re.compile(
            # the lookahead lets the engine skip positions whose letter starts no name
            f"(?=[{re.escape(''.join(sorted({k[0] for k in names})))}])"
            r"(?<!\w)(?:" + trie + r")(?!\w)"
        ),
        _after_space=re.compile(" (?=(" + trie + r")(?!\w))"),
        _after_other=re.compile(f"[^ {_WORD_CHARS}](?<=\\W)(?=(" + trie + r")(?!\w))"),
        _qual=MappingProxyType(qual),
        _qual_regex=re.compile(r"(" + _alt(qual) + r")(?!\w)"),
    )


# Letters of folded Vietnamese text, digits and "_": characters that never stand before a name.
# Listed rather than written \w so that the regex engine tests them with a bitmap; any other
# character is then checked with \W (see _scan).
_WORD_CHARS = "0-9_a-zđàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"


def _trie_pattern(keys: Iterable[str]) -> str:
    """One alternation shaped like a trie of characters (a space stands for one or more).

    At each node the alternatives differ in their first character, so the regex engine tries
    little at each position of the text; greedy optional tails make the longest name win and
    backtrack to a shorter one when the longer does not end at a word boundary.
    """
    trie: dict[str, Any] = {}
    for key in keys:
        node = trie
        for char in key:
            node = node.setdefault(char, {})
        node[""] = {}

    def branches(node: dict[str, Any]) -> str:
        alts = []
        for char in sorted(c for c in node if c):
            child = node[char]
            piece = " +" if char == " " else re.escape(char)
            below = [c for c in child if c]
            if below:
                tail = branches(child)
                if "" in child:
                    piece += f"(?:{tail})?"
                elif len(below) > 1:
                    piece += f"(?:{tail})"
                else:
                    piece += tail
            alts.append(piece)
        return "|".join(alts)

    return branches(trie)


# --- tagging -------------------------------------------------------------------------------------


@dataclass
class _Qualifier:
    verdict: str  # "ours" | "foreign" | "phu-tho"
    district: str | None = None  # for "ours": the district named, None for the province
    end: int | None = None  # end of an immediate qualifier, to show it in the evidence
    admin: bool = False  # it said "huyện", "tỉnh", "TP" ...
    remembered: bool = True  # for "foreign": later mentions of the name are elsewhere too


def tag_places(gaz: Gazetteer, *, title: str, summary: str = "", body: str = "") -> list[PlaceTag]:
    """The districts an article concerns, one tag per (district, field), in reading order."""
    texts = [unicodedata.normalize("NFC", t or "") for t in (title, summary, body)]
    folded = [fold(t) for t in texts]
    names = gaz._names
    mentioned: dict[int, bool] = {}
    tags: dict[tuple[str, str], PlaceTag] = {}
    # Rule 10. Name key -> the kinds of place ("xã", "huyện"; None: not said) the article last
    # put elsewhere under that name; a mention qualified as ours removes the name.
    said_elsewhere: dict[str, set[str | None]] = {}
    # The title is read last: its unqualified mentions are what the lead and body say they are.
    # Title candidates in reading order (tag, name key when held), and, per name key, whether
    # its first mention in the lead or body was a place elsewhere.
    title_tags: list[tuple[PlaceTag, str | None]] = []
    first_elsewhere: dict[str, bool] = {}
    for field_name, text, norm in zip(FIELDS, texts, folded, strict=True):
        spans = _scan(gaz, norm)
        if not spans:
            continue
        in_title = field_name == "title"
        rev = norm[::-1]
        size = len(norm)
        chain_kind: str | None = None
        chain_end = -1
        tagged: set[str] = set()  # the districts tagged in this field (held ones aside)
        for start, end in spans:
            found = norm[start:end]
            name = names.get(found) or names[" ".join(found.split())]  # "Mai  Châu"
            if name.stop:
                continue  # "Lương Sơn Bạc" (the novel), not Lương Sơn
            prefix = _REV_PREFIX_RE.match(rev, size - start)
            prefix_kind = None
            if prefix:
                prefix_word = (prefix.group(1) or prefix.group(2))[::-1]
                prefix_kind = _PREFIX_KIND[" ".join(prefix_word.split())]
            inherited = None
            if (
                prefix_kind is None
                and chain_kind is not None
                and not name.is_province
                and _CHAIN_GAP_RE.fullmatch(norm, chain_end, start)
            ):
                inherited = chain_kind
            if prefix_kind in ("xã", "phường", "thị trấn", "huyện"):
                chain_kind, chain_end = prefix_kind, end
            elif inherited:
                chain_end = end
            else:
                chain_kind = None
            if not text[end - name.last_syllable].isupper():
                continue  # rule 7: "xã tân lập" is not Tân Lập
            if name.districts <= tagged:
                continue  # "Mai Châu" again: nothing left to tag (the chain is updated above)
            if prefix_kind in ("tỉnh", "quận"):
                continue  # rule 9
            kind = prefix_kind or inherited
            qualifier = None
            foreign = _inside_foreign_parenthesis(gaz, text, norm, start, end)
            if not foreign:  # "xã Tân Minh (Lạc Sơn, Thanh Hóa)"
                # "TP Hòa Bình" is as sure as a district: "TP Hòa Bình và huyện Hòa Bình (Bạc
                # Liêu)" is a list of two places, not two of Bạc Liêu
                strong = name.strong or (kind == "city" and name.city)
                qualifier = _qualify(gaz, text, norm, end, strong=strong, districts=name.districts)
                foreign = qualifier is not None and (
                    qualifier.verdict == "foreign"
                    or (
                        qualifier.verdict == "phu-tho"
                        and not any(e.in_2025 or e.kind == "district" for e in name.entries)
                    )
                )
            if foreign:  # rule 6
                if qualifier is None or qualifier.remembered:  # rule 10
                    said_elsewhere.setdefault(name.key, set()).add(kind)
                    if not in_title:
                        first_elsewhere.setdefault(name.key, True)
                continue
            if prefix_kind is None and inherited is None and _is_person(text, rev, start):
                continue  # rule 8
            title_colon = in_title and not norm[:start].strip() and norm[end:].lstrip()[:1] == ":"
            ours = qualifier is not None and qualifier.verdict in ("ours", "phu-tho")
            if ours or title_colon or (kind == "city" and name.city):
                said_elsewhere.pop(name.key, None)  # "TP Hòa Bình" is ours: no namesake
            else:
                said = said_elsewhere.get(name.key)
                if said is not None and (kind is None or None in said or kind in said):
                    if not in_title:
                        first_elsewhere.setdefault(name.key, True)
                    continue  # rule 10: "Xã Tiền Phong ..." after "xã Tiền Phong (Hà Nội)"
            if name.elsewhere is not None and not ours:
                doubtful = mentioned.get(id(name))
                if doubtful is None:
                    doubtful = any(
                        word in n for word in name.elsewhere_words for n in folded
                    ) and any(name.elsewhere.search(n) for n in folded)
                    mentioned[id(name)] = doubtful
                if doubtful:
                    continue  # rule 6, namesake elsewhere
            ours_district = (
                qualifier.district if qualifier and qualifier.verdict == "ours" else None
            )
            after_2025 = qualifier is not None and qualifier.verdict == "phu-tho"
            # Each accepted reading of the name (a unit, a district) stands for the districts
            # it belongs to; the name tags those that every reading shares (rule 5).
            common: frozenset[str] | None = None
            shown: dict[str, _Entry | None] = {}
            for entry in name.entries:
                if after_2025 and not (entry.in_2025 or entry.kind == "district"):
                    continue  # "xã Cao Sơn (Phú Thọ)" is the 2025 commune
                if ours_district is not None and ours_district not in entry.districts:
                    continue  # "xã Cao Sơn (Đà Bắc)"
                if not _accepts(entry, prefix_kind, inherited, title_colon, qualifier):
                    continue
                common = entry.districts if common is None else common & entry.districts
                for district in entry.districts:
                    if entry.kind == "unit" and (kind or entry.match == "bare"):
                        shown.setdefault(district, entry)
                    else:
                        shown[district] = None
            if common and ours_district is not None:
                common &= {ours_district}  # the district said, not the others of a 2025 unit
            if not common:
                continue  # nothing, or a name shared by several districts (rule 5)
            if not in_title:
                first_elsewhere.setdefault(name.key, False)
            phrase_start = size - prefix.end() if prefix else start
            phrase_end = qualifier.end if qualifier and qualifier.end else end
            held = in_title and not ours and not title_colon
            for district, unit_entry in shown.items():
                if district not in common or district in tagged:
                    continue
                tag = PlaceTag(
                    district=district,
                    phrase=text[phrase_start:phrase_end],
                    field=field_name,
                    unit=unit_entry.unit if unit_entry else None,
                )
                if held:
                    title_tags.append((tag, name.key))
                    continue
                tagged.add(district)
                if in_title:
                    title_tags.append((tag, None))
                else:
                    tags[(district, field_name)] = tag
    # A held title mention counts unless the lead or body first names it as a place elsewhere.
    first: dict[str, PlaceTag] = {}
    for tag, key in title_tags:
        if tag.district not in first and not (key and first_elsewhere.get(key)):
            first[tag.district] = tag
    return [*first.values(), *tags.values()]


def _scan(gaz: Gazetteer, norm: str) -> list[tuple[int, int]]:
    """The spans of the names in norm: what ``gaz._regex.finditer(norm)`` finds, but sooner.

    Scanning for the trie at every character is most of the cost of tagging a long article, as
    the regex engine starts a match attempt at every letter that may begin a name. A name
    begins a word, so instead: one regex, starting with a literal space (which the engine
    finds in C), tries the trie only after spaces; a second only after the other characters
    that are not part of a word ("(", a line break, a quote); a third at the start. The trie
    stands in a lookahead, so overlapping candidates are all found. As the match at a given
    place does not depend on where the scan began, the leftmost-first non-overlapping choice
    among the candidates is exactly the one a single scan would make. On the paper's articles
    this takes about 60% of the time of the single scan (tests/test_places.py checks that the
    spans are the same).
    """
    found = [m.span(1) for m in gaz._after_space.finditer(norm)]
    found += [m.span(1) for m in gaz._after_other.finditer(norm)]
    first = gaz._regex.match(norm)
    if first:
        found.append(first.span())
    found.sort()
    spans = []
    taken = 0
    for start, end in found:
        if start >= taken:
            spans.append((start, end))
            taken = end
    return spans


def _accepts(
    entry: _Entry,
    prefix_kind: str | None,
    inherited: str | None,
    title_colon: bool,
    qualifier: _Qualifier | None,
) -> bool:
    if qualifier is not None and entry.match != "city":
        if qualifier.verdict == "ours" and qualifier.district in (None, entry.district):
            return True  # "Tân Lập (Lạc Sơn)", "Kỳ Sơn (Hòa Bình)"
        if qualifier.verdict == "phu-tho":
            return True  # "xã Thịnh Minh (Phú Thọ)": only 2025 entries get here
    if entry.match == "bare":
        return True
    if entry.match == "city":
        return prefix_kind == "city"
    kind = prefix_kind or inherited
    if kind in entry.types:
        return True
    return entry.kind in ("district", "former") and title_colon


def _is_person(text: str, rev: str, start: int) -> bool:
    m = _REV_PREV_WORDS_RE.match(rev, len(rev) - start)
    if not m:
        return False
    last = m.group(1)[::-1]
    before = m.group(2)[::-1] if m.group(2) else None
    if last in _PERSON_TITLES or (before and f"{before} {last}" in _PERSON_TITLES):
        return True
    return last in _SURNAMES and text[len(rev) - m.end(1)].isupper()


def _inside_foreign_parenthesis(gaz: Gazetteer, text: str, norm: str, start: int, end: int) -> bool:
    """A name inside a parenthesis that names another province is not ours."""
    opening = norm.rfind("(", max(0, start - 60), start)
    if opening < 0 or ")" in norm[opening:start]:
        return False
    closing = norm.find(")", end, end + 60)
    if closing < 0:
        return False
    return bool(_PROVINCE_RE.search(norm, opening, closing))


def _qualify(
    gaz: Gazetteer,
    text: str,
    norm: str,
    end: int,
    *,
    strong: bool,
    districts: frozenset[str] = frozenset(),
) -> _Qualifier | None:
    """What the words right after a name say about where it is.

    A strong name (a district) is refused only by what is attached to it alone: a parenthesis
    or ", huyện/tỉnh X"; "Mai Châu, Mộc Châu (Sơn La)" may be a list of two places.
    """
    paren = _PAREN_RE.match(norm, end)
    if paren:
        q = _classify(
            gaz, text, norm, paren.start(1), paren.end(1), in_paren=True, districts=districts
        )
        if q:
            q.end = paren.end() if q.verdict != "foreign" else None
        return q
    comma = _COMMA_RE.match(norm, end)
    said_of = None if comma else _OF_RE.match(norm, end)
    dash = None if comma or said_of or strong else _DASH_RE.match(norm, end)
    after = comma or said_of or dash
    item_end = _capitalised_item_end(text, norm, after.end()) if after else None
    if after and item_end:
        q = _classify(gaz, text, norm, after.end(), item_end, in_paren=False)
        if q and strong and not q.admin and comma:
            q = None  # "Lạc Sơn, Tân Lạc": a list of districts
        if q and said_of and not q.admin and not _PROVINCE_RE.match(norm, after.end()):
            q = None  # "thuộc/của" then a province or "huyện ...", not "của HTX Hà Nội"
        if q and dash and not (q.admin and q.verdict == "foreign"):
            q = None
        if q:
            if q.verdict == "ours" and q.district is not None:
                q.end = item_end
            return q
        if comma and not strong:
            # "xã Tiền Phong, Mê Linh, Hà Nội": a place not ours, then its province (Phú Thọ
            # too: "xã Tân Lập, Thanh Sơn, Phú Thọ" is no place of ours, before 2025 or after)
            then = _COMMA_RE.match(norm, item_end)
            then_end = _capitalised_item_end(text, norm, then.end()) if then else None
            if then and then_end:
                q = _classify(gaz, text, norm, then.end(), then_end, in_paren=False)
                if q and q.verdict in ("foreign", "phu-tho"):
                    return _Qualifier("foreign", admin=q.admin)
    if strong:
        return None
    # A list of names closed by a parenthesis: "các xã Tú Sơn, Vĩnh Tiến (Kim Bôi)".
    pos = end
    for _ in range(8):
        item = _LIST_ITEM_RE.match(norm, pos)
        if not item:
            break
        pos = item.end()
        paren = _PAREN_RE.match(norm, pos)
        if paren:
            return _classify(
                gaz, text, norm, paren.start(1), paren.end(1), in_paren=True, districts=districts
            )
    return None


def _capitalised_item_end(text: str, norm: str, pos: int) -> int | None:
    """End of "huyện Sóc Sơn", "Nghệ An", "tỉnh Phú Thọ" at pos: admin words, capitalised words."""
    admin = _QUAL_ADMIN_RE.match(norm, pos)
    pos = admin.end() if admin else pos
    end = None
    for _ in range(6):
        m = _SYLLABLE_RE.match(norm, pos)
        if not m or not text[m.start(1)].isupper():
            break
        end = pos = m.end()
    return end


def _classify(
    gaz: Gazetteer,
    text: str,
    norm: str,
    start: int,
    end: int,
    *,
    in_paren: bool,
    districts: frozenset[str] = frozenset(),
) -> _Qualifier | None:
    """Classify a qualifying phrase: one of our districts, the province, elsewhere, or nothing.

    districts: those of the name qualified, for a parenthesis naming a place of the same
    district ("huyện Tân Lạc (Mường Bi)").
    """
    admin = _QUAL_ADMIN_RE.match(norm, start, end)
    pos = admin.end() if admin else start
    kind = _PREFIX_KIND[" ".join(admin.group(1).split())] if admin and admin.group(1) else None
    if _PROVINCE_RE.search(norm, start, end):
        return _Qualifier("foreign", admin=kind is not None)
    ours = gaz._qual_regex.match(norm, pos, end)
    if ours:
        key = " ".join(ours.group(1).split())
        district = gaz._qual.get(key)
        if district is None and kind in ("city", "xã", "phường"):
            district = gaz.city
        if kind in ("tỉnh", "quận") and district is not None:
            return _Qualifier("foreign", admin=True)
        return _Qualifier("ours", district, admin=kind is not None)
    if _PHU_THO_RE.search(norm, start, end):
        return _Qualifier("phu-tho", admin=kind is not None)
    if kind is not None and kind not in ("xã", "phường", "thị trấn"):
        return _Qualifier("foreign", admin=True)  # "huyện Sóc Sơn", "tỉnh Lào"
    word = _WORD_RE.match(norm, pos, end)
    if (
        in_paren
        and word
        and text[pos].isupper()
        and word.group() not in _NEUTRAL
        and len(norm[pos:end].split()) <= 5
        and not _DIGIT_RE.search(norm, pos, end)
    ):
        same = gaz._names.get(" ".join(norm[pos:end].split()))
        shared = same.districts & districts if same and not same.stop else frozenset()
        if len(shared) == 1:
            return _Qualifier("ours", next(iter(shared)))  # "Tân Lạc (Mường Bi)"
        # "(Sóc Sơn)", "(Mộc Châu)", "xã Tân Lập (Thanh Sơn)"; remembered (rule 10) only when
        # it reads as a place name, "(Bá Thước)", not "(VTV)"
        words = text[pos:end].split()
        named = all(w[:1].isupper() and w[1:].islower() for w in words)
        return _Qualifier("foreign", remembered=named)
    return None


def format_tags(tags: Iterable[PlaceTag], names: Mapping[str, str] | None = None) -> str:
    """Human-readable lines for `feedsvc tag`: each district, then its evidence per field.

    names: slug -> display name (``dict(gaz.districts)``), shown beside the slug.
    """
    by_district: dict[str, list[PlaceTag]] = {}
    for tag in tags:
        by_district.setdefault(tag.district, []).append(tag)
    lines = []
    for district, found in by_district.items():
        shown = names.get(district) if names else None
        lines.append(f"{district} ({shown})" if shown else district)
        for tag in found:
            unit = f"  [{tag.unit}]" if tag.unit else ""
            lines.append(f"  {tag.field:<7} {tag.phrase}{unit}")
    return "\n".join(lines)
