from __future__ import annotations

from pathlib import Path

import pytest

from feedsvc.catalog import load_catalog
from feedsvc.exceptions import ConfigError, NotFound
from feedsvc.settings import Settings

from .conftest import write_config

REQUIRED_SECTIONS = {
    "chinh-tri", "kinh-te", "xa-hoi", "van-hoa", "the-thao", "phap-luat",
    "quoc-phong-an-ninh", "quoc-te",
}  # fmt: skip
DISTRICTS = {
    "thanh-pho-hoa-binh", "da-bac", "luong-son", "kim-boi", "cao-phong", "tan-lac",
    "mai-chau", "lac-son", "yen-thuy", "lac-thuy",
}  # fmt: skip


def test_catalog_shipped_has_sections_and_ten_districts(settings: Settings) -> None:
    cat = load_catalog(settings)
    assert REQUIRED_SECTIONS <= {s.slug for s in cat.sections}
    assert {d.slug for d in cat.districts} == DISTRICTS
    assert cat.section("chinh-tri") is not None
    assert cat.section_by_category(11).slug == "chinh-tri"  # type: ignore[union-attr]
    assert cat.lookup("tin-moi-nhat").kind == "all"
    assert cat.lookup("mai-chau").kind == "district"
    assert cat.lookup("mai-chau").name == "Mai Châu"
    with pytest.raises(NotFound):
        cat.lookup("hanoi")


@pytest.mark.parametrize(
    "name", ["Chính trị", "CHÍNH TRỊ", "chinh-tri", "chính  trị", "Chi\u0301nh tri\u0323"]
)
def test_catalog_match_section_ignores_case_and_diacritics(settings: Settings, name: str) -> None:
    assert load_catalog(settings).match_section(name) == "chinh-tri"


def test_catalog_match_section_unknown(settings: Settings) -> None:
    assert load_catalog(settings).match_section("Giải trí") is None


def test_catalog_rejects_slug_collision(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    sections = tmp_path / "sections.toml"
    write_config(sections, {"sections": [{"slug": "mai-chau", "name": "Mai Châu du lịch"}]})
    settings = make_settings(catalog={"sections": str(sections)})
    with pytest.raises(ConfigError, match="mai-chau.*collides"):
        load_catalog(settings)


def test_catalog_rejects_tin_moi_nhat_and_unknown_keys(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    sections = tmp_path / "sections.toml"
    write_config(sections, {"sections": [{"slug": "tin-moi-nhat", "name": "X"}]})
    with pytest.raises(ConfigError, match="collides"):
        load_catalog(make_settings(catalog={"sections": str(sections)}))
    write_config(sections, {"sections": [{"slug": "a", "name": "A", "colour": "red"}]})
    with pytest.raises(ConfigError, match=r"sections\[0\]\.colour: unknown key"):
        load_catalog(make_settings(catalog={"sections": str(sections)}))
    write_config(sections, {"sections": [{"slug": "Bad Slug", "name": "A"}]})
    with pytest.raises(ConfigError, match="not a slug"):
        load_catalog(make_settings(catalog={"sections": str(sections)}))
