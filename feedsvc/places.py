"""TEMPORARY STUB until district tagging lands (issue 8)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .model import PlaceTag


@dataclass(frozen=True)
class Gazetteer:
    names: tuple[tuple[str, str], ...]


def load_gazetteer(path: Path, aliases_path: Path | None = None) -> Gazetteer:
    data = tomllib.loads(Path(path).read_text())
    return Gazetteer(tuple((d["slug"], d["name"]) for d in data.get("districts", [])))


def tag_places(gaz: Gazetteer, *, title: str, summary: str = "", body: str = "") -> list[PlaceTag]:
    out = []
    for field, text in (("title", title), ("summary", summary), ("body", body)):
        for slug, name in gaz.names:
            if name in text:
                out.append(PlaceTag(slug, name, field))
    return out


def format_tags(tags: list[PlaceTag]) -> str:
    return "\n".join(f"{t.district}\t{t.field}\t{t.phrase}" for t in tags)
