"""Sections and districts: the feed namespace. Slugs are written in config, never derived.

Sections, districts and ``tin-moi-nhat`` share one namespace; a collision or an unknown key
is a ConfigError naming the file and key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .exceptions import ConfigError, NotFound
from .settings import Settings, read_toml
from .text import fold, nfc

ALL_SLUG = "tin-moi-nhat"
ALL_NAME = "Tin mới nhất"
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SECTION_KEYS = {"slug", "name", "category_id", "listing", "aliases", "description"}

ScopeKind = Literal["all", "section", "district"]


@dataclass(frozen=True)
class Section:
    slug: str
    name: str
    category_id: int | None = None
    listing: str | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class District:
    slug: str
    name: str


@dataclass(frozen=True)
class Scope:
    """What one feed covers."""

    kind: ScopeKind
    slug: str
    name: str

    @property
    def title(self) -> str:
        return f"Báo Hòa Bình - {self.name}"


@dataclass(frozen=True)
class Catalog:
    sections: tuple[Section, ...]
    districts: tuple[District, ...]
    _by_slug: dict[str, Scope] = field(default_factory=dict, compare=False, repr=False)
    _section_names: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_slug[ALL_SLUG] = Scope("all", ALL_SLUG, ALL_NAME)
        for s in self.sections:
            self._by_slug[s.slug] = Scope("section", s.slug, s.name)
            for name in (s.slug, s.name, *s.aliases):
                self._section_names[fold(name)] = s.slug
        for d in self.districts:
            self._by_slug[d.slug] = Scope("district", d.slug, d.name)

    def lookup(self, slug: str) -> Scope:
        try:
            return self._by_slug[slug]
        except KeyError:
            raise NotFound(f"no feed named {slug!r}") from None

    def scopes(self) -> list[Scope]:
        """Every feed, in directory order: all news, sections, districts."""
        return list(self._by_slug.values())

    def section(self, slug: str) -> Section | None:
        return next((s for s in self.sections if s.slug == slug), None)

    def section_by_category(self, category_id: int | str) -> Section | None:
        cid = int(category_id)
        return next((s for s in self.sections if s.category_id == cid), None)

    def match_section(self, *names: str) -> str | None:
        """An upstream category ("CHÍNH TRỊ", "chinh-tri", "Chính trị") -> section slug."""
        for name in names:
            slug = self._section_names.get(fold(name))
            if slug:
                return slug
        return None

    def district_name(self, slug: str) -> str:
        return next((d.name for d in self.districts if d.slug == slug), slug)


def _check_slug(slug: Any, where: str) -> str:
    if not isinstance(slug, str) or not _SLUG_RE.match(slug):
        raise ConfigError(f"{where}.slug: {slug!r} is not a slug (a-z, 0-9 and single hyphens)")
    return slug


def load_sections(path: Path) -> tuple[Section, ...]:
    data = read_toml(path, missing="catalog file not found")
    extra = set(data) - {"sections"}
    if extra:
        raise ConfigError(f"{path}: unknown key {sorted(extra)[0]!r} (expected [[sections]])")
    out = []
    for i, raw in enumerate(data.get("sections", [])):
        where = f"{path}: sections[{i}]"
        unknown = set(raw) - _SECTION_KEYS
        if unknown:
            known = ", ".join(sorted(_SECTION_KEYS))
            raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key (known: {known})")
        slug = _check_slug(raw.get("slug"), where)
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}.name: missing")
        cid = raw.get("category_id")
        if cid is not None and (isinstance(cid, bool) or not isinstance(cid, int)):
            raise ConfigError(f"{where}.category_id: expected an integer, got {cid!r}")
        aliases = raw.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise ConfigError(f"{where}.aliases: expected a list of strings")
        out.append(
            Section(
                slug=slug,
                name=nfc(name),
                category_id=cid,
                listing=raw.get("listing"),
                aliases=tuple(nfc(a) for a in aliases),
                description=nfc(raw.get("description", "")),
            )
        )
    if not out:
        raise ConfigError(f"{path}: no [[sections]]")
    return tuple(out)


def load_districts(path: Path) -> tuple[District, ...]:
    """Only slug and name matter here; places.py reads the rest of the gazetteer."""
    data = read_toml(path, missing="catalog file not found")
    out = []
    for i, raw in enumerate(data.get("districts", [])):
        where = f"{path}: districts[{i}]"
        slug = _check_slug(raw.get("slug"), where)
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}.name: missing")
        out.append(District(slug=slug, name=nfc(name)))
    return tuple(out)


def load_catalog(settings: Settings) -> Catalog:
    sections_path = Path(settings.catalog.sections)
    districts_path = Path(settings.catalog.districts)
    sections = load_sections(sections_path)
    districts = load_districts(districts_path)
    seen: dict[str, str] = {ALL_SLUG: "the all-news feed"}
    for where, items in ((sections_path, sections), (districts_path, districts)):
        for item in items:
            if item.slug in seen:
                raise ConfigError(
                    f"{where}: slug {item.slug!r} collides with {seen[item.slug]}: "
                    "sections, districts and tin-moi-nhat share one namespace"
                )
            seen[item.slug] = f"{where.name} ({item.name})"
    return Catalog(sections=sections, districts=districts)
