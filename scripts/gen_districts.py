"""Generate config/districts.toml from the shared gazetteer of Hòa Bình province.

Usage (from the project root, with the project's venv):

    .venv/bin/python scripts/gen_districts.py            # writes config/districts.toml
    .venv/bin/python scripts/gen_districts.py --check    # exit 1 if the file is out of date
    .venv/bin/python scripts/gen_districts.py --source PATH/gazetteer-hoa-binh.yaml

The source YAML lives outside the repository (../shared/reference/gazetteer-hoa-binh.yaml,
looked up in the parent folders of the project); the output is committed, so the service never
reads YAML. Hand-written additions (bare names, spelling variants, landmarks) come from
config/place_aliases.toml and are merged by feedsvc.places.merge_place_aliases, the same code
that applies an operator's overlay at load time. The output is then compiled once with
feedsvc.places.compile_gazetteer, so a bad merge fails here and not in production.

What the YAML gives and how it is laid out in the TOML, per district:
- the 2024 units (period "2024"), each with its 2025 successor(s) in becomes_2025;
- the name the same GSO code had in the 01/12/2019 list, when it differs (period "2019");
- units absorbed before 2020 (period "2019", exact absorbing unit not verified);
- for the city: Kỳ Sơn district (merged into the city on 01/01/2020) and its units;
- the 2025 successor communes (period "2025"), under every old district they were formed from.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedsvc.places import compile_gazetteer, merge_place_aliases  # noqa: E402

YAML_NAME = "gazetteer-hoa-binh.yaml"
OUTPUT = ROOT / "config" / "districts.toml"
ALIASES = ROOT / "config" / "place_aliases.toml"
TYPES = ("Thị trấn", "Phường", "Xã")

# Kỳ Sơn district appears in the YAML only as a comment and a list of its units:
# "abolished 2019/2020: Huyện Kỳ Sơn (gso 151) -> merged whole into Thành phố Hòa Bình
# (NQ 830/NQ-UBTVQH14, 17/12/2019)".
KY_SON = {"name": "Kỳ Sơn", "type": "Huyện", "gso_code": "151", "until": "2019-12-31"}
CITY = "thanh-pho-hoa-binh"


def find_source() -> Path | None:
    for folder in (ROOT, *ROOT.parents):
        candidate = folder / "shared" / "reference" / YAML_NAME
        if candidate.is_file():
            return candidate
    return None


def split_typed(text: str) -> tuple[str, str]:
    """ "Xã  Bắc Sơn" -> ("Xã", "Bắc Sơn"): the YAML has stray double spaces."""
    text = " ".join(str(text).split())
    for t in TYPES:
        if text.startswith(t + " "):
            return t, text[len(t) + 1 :]
    raise SystemExit(f"{YAML_NAME}: cannot read the unit type of {text!r}")


def successors(text: str) -> list[str]:
    return [split_typed(part)[1] for part in str(text).split(";") if part.strip()]


def build(data: dict[str, Any]) -> list[dict[str, Any]]:
    by_short: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for d in data["districts"]:
        short = " ".join(d["short"].split())
        entry: dict[str, Any] = {
            "slug": d["slug"],
            "name": d["name"] if d["type"] == "Thành phố" else short,
            "full_name": d["name"],
            "short": short,
            "type": d["type"],
            "gso_code": str(d["gso_code"]),
            "match": "city" if d["type"] == "Thành phố" else "bare",
        }
        units: list[dict[str, Any]] = []
        for u in d["units"]:
            unit = {
                "name": " ".join(u["name"].split()),
                "type": u["type"],
                "period": "2024",
                "code": str(u["code"]),
                "slug": u["slug"],
                "becomes_2025": successors(u["becomes_2025"]),
            }
            if u.get("was_2019"):
                was_type, was_name = split_typed(u["was_2019"])
                unit["was"] = f"{was_type} {was_name}"
                units.append(unit)
                units.append(
                    {
                        "name": was_name,
                        "type": was_type,
                        "period": "2019",
                        "code": str(u["code"]),
                        "became": f"{u['type']} {unit['name']}",
                    }
                )
            else:
                units.append(unit)
        for former in d.get("former_units_pre2020_absorbed") or []:
            ftype, fname = split_typed(former)
            units.append({"name": fname, "type": ftype, "period": "2019"})
        if d["slug"] == CITY:
            entry["former_districts"] = [dict(KY_SON)]
            for former in data.get("ky_son_district_pre2020_units") or []:
                ftype, fname = split_typed(former)
                units.append(
                    {"name": fname, "type": ftype, "period": "2019", "former_district": "Kỳ Sơn"}
                )
        entry["units"] = units
        by_short[short] = entry
        out.append(entry)
    for n in data["new_units_2025"]:
        olds = [" ".join(o.split()) for o in n["old_district"]]
        slugs = [by_short[o]["slug"] for o in olds]
        for old in olds:
            unit = {
                "name": " ".join(n["name"].split()),
                "type": n["type"],
                "period": "2025",
                "code": str(n["code"]),
                "slug": n["slug"],
                "formed_from": " ".join(str(n["from"]).split()),
            }
            others = [s for s in slugs if s != by_short[old]["slug"]]
            if others:
                unit["shared_with"] = others
            by_short[old]["units"].append(unit)
    return out


def toml_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def render(districts: list[dict[str, Any]], source_name: str, ambiguous: list[str]) -> str:
    lines = [
        "# GENERATED by scripts/gen_districts.py: do not edit by hand.",
        f"# From {source_name} (../shared/reference/) and config/place_aliases.toml",
        "# (hand-written: bare names, variants, landmarks). To change a name, edit",
        "# place_aliases.toml and regenerate:",
        "#     .venv/bin/python scripts/gen_districts.py      (--check: is it up to date?)",
        "#",
        "# The catalog reads only slug (the feed URL, public: never change one) and name (what",
        "# readers see). The rest is the gazetteer of feedsvc/places.py: per district its short",
        "# name and how it may be matched (bare, or city: only after thành phố/TP), aliases,",
        "# landmarks, former districts (Kỳ Sơn), and [[districts.units]]: every commune, ward and",
        "# town with its type and period (2019: names before the 2020 mergers; 2024; 2025: the",
        "# successor communes from 01/07/2025, listed under every district they were formed from).",
        "# match = bare: may be tagged on its own; prefix: only after xã/phường/thị trấn.",
        "#",
        "# Names shared by more than one district (any period), tagged only when the text says",
        f"# which district: {', '.join(ambiguous)}.",
        "",
    ]
    district_keys = (
        "slug", "name", "full_name", "short", "type", "gso_code", "match", "aliases", "landmarks",
        "not_places",
    )  # fmt: skip
    unit_keys = (
        "name", "type", "period", "code", "slug", "match", "was", "became", "becomes_2025",
        "formed_from", "shared_with", "former_district", "aliases", "elsewhere",
    )  # fmt: skip
    for d in districts:
        lines.append("[[districts]]")
        for key in district_keys:
            if d.get(key):
                lines.append(f"{key} = {toml_value(d[key])}")
        for former in d.get("former_districts", []):
            lines.append("")
            lines.append("[[districts.former_districts]]")
            for key, value in former.items():
                lines.append(f"{key} = {toml_value(value)}")
        for u in d["units"]:
            lines.append("")
            lines.append("[[districts.units]]")
            for key in unit_keys:
                if u.get(key):
                    lines.append(f"{key} = {toml_value(u[key])}")
        lines.append("")
    return "\n".join(lines)


def generate(source: Path, aliases: Path = ALIASES) -> str:
    import tomllib

    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    districts = build(data)
    with aliases.open("rb") as f:
        overlay = tomllib.load(f)
    districts = merge_place_aliases(districts, overlay, str(aliases.relative_to(ROOT)))
    gaz = compile_gazetteer(districts, "generated districts")
    return render(districts, source.name, list(gaz.ambiguous_names))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, help=f"the {YAML_NAME} to read")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the output is stale")
    args = parser.parse_args(argv)
    source = args.source or find_source()
    if source is None:
        print(f"{YAML_NAME} not found in ../shared/reference/: pass --source", file=sys.stderr)
        return 2
    text = generate(source)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run scripts/gen_districts.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({text.count('[[districts.units]]')} units)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
