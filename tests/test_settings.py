from __future__ import annotations

from pathlib import Path

import pytest

from feedsvc.exceptions import ConfigError
from feedsvc.settings import default_config_path, load_settings, settings_from_dict

from .conftest import ROOT, write_config


def test_default_config_is_the_projects_embedded_one() -> None:
    s = load_settings(env={})
    assert s.path == ROOT / "config" / "feedsvc.toml"
    assert s.path == default_config_path()
    assert s.sources[0].snapshot == "demo"
    # sqlite:///../var/... resolves against config/, i.e. var/ at the project root
    assert s.database.url == f"sqlite:///{ROOT / 'var' / 'feedsvc.sqlite3'}"


def test_settings_missing_keys_get_defaults(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", {"schedule": {"every_minutes": 5}})
    s = load_settings(path, env={})
    assert s.schedule.every_minutes == 5
    assert s.service.public_url == "http://127.0.0.1:8000"
    assert s.feeds.default_limit == 30
    assert [src.name for src in s.sources] == ["baohoabinh"]


def test_settings_sources_list_replaces_default(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.toml",
        {"sources": [{"name": "partner", "kind": "feed", "url": "https://example.org/rss"}]},
    )
    s = load_settings(path, env={})
    assert [src.name for src in s.sources] == ["partner"]
    assert s.sources[0].deadline_seconds == 120


def test_settings_relative_paths_resolve_against_config_folder(tmp_path: Path) -> None:
    snap = tmp_path / "snap"
    snap.mkdir()
    path = write_config(
        tmp_path / "c.toml",
        {
            "database": {"url": "sqlite:///data/x.sqlite3"},
            "sources": [{"name": "s", "url": "https://baohoabinh.com.vn/", "snapshot": "snap"}],
        },
    )
    s = load_settings(path, env={})
    assert s.database.url == f"sqlite:///{tmp_path / 'data' / 'x.sqlite3'}"
    assert s.sources[0].snapshot == str(snap)


def test_settings_env_overrides(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", {})
    s = load_settings(
        path,
        env={
            "FEEDSVC_DATABASE_URL": "sqlite:////tmp/other.sqlite3",
            "FEEDSVC_SERVICE_PUBLIC_URL": "https://feeds.example.vn",
            "FEEDSVC_SCHEDULE_EVERY_MINUTES": "15",
        },
    )
    assert s.database.url == "sqlite:////tmp/other.sqlite3"
    assert s.service.public_url == "https://feeds.example.vn"
    assert s.schedule.every_minutes == 15


def test_settings_env_config_selects_file(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", {"schedule": {"every_minutes": 7}})
    s = load_settings(env={"FEEDSVC_CONFIG": str(path)})
    assert s.path == path
    assert s.schedule.every_minutes == 7


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"service": {"publik_url": "x"}}, "[service].publik_url: unknown key"),
        ({"servce": {"public_url": "x"}}, "unknown table or key 'servce'"),
        ({"schedule": {"every_minutes": "ten"}}, "[schedule].every_minutes: expected a number"),
        ({"schedule": {"every_minutes": 0}}, "[schedule].every_minutes: bad value"),
        ({"service": {"public_url": "ftp://x"}}, "[service].public_url: bad value"),
        (
            {"sources": [{"name": "a", "kind": "rss", "url": "https://x.vn/"}]},
            "sources[0].kind: bad value 'rss'",
        ),
        ({"sources": [{"name": "a", "url": "https://x.vn/", "colour": 1}]}, "sources[0].colour"),
        ({"sources": [{"url": "https://x.vn/"}]}, "sources[0].name: missing"),
        (
            {"sources": [{"name": "a", "url": "https://x.vn/", "snapshot": "nowhere"}]},
            "sources[0].snapshot: folder",
        ),
    ],
)
def test_settings_errors_name_file_and_key(
    tmp_path: Path, tables: dict[str, object], message: str
) -> None:
    path = write_config(tmp_path / "bad.toml", tables)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_settings_bad_toml_names_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[service\npublic_url = 1\n")
    with pytest.raises(ConfigError, match="broken.toml: not valid TOML"):
        load_settings(path, env={})


def test_settings_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml", env={})


def test_settings_env_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="FEEDSVC_SCHEDULE_EVERY_MINUTES"):
        settings_from_dict({}, env={"FEEDSVC_SCHEDULE_EVERY_MINUTES": "soon"})
    with pytest.raises(ConfigError, match="FEEDSVC_DATABASE_URI"):
        settings_from_dict({}, env={"FEEDSVC_DATABASE_URI": "x"})


def test_settings_fetch_table_is_known_and_checked(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", {"fetch": {"min_delay_seconds": 2.5}})
    s = load_settings(path, env={"FEEDSVC_FETCH_RETRIES": "4"})
    assert s.extra["fetch"].min_delay_seconds == 2.5
    assert s.extra["fetch"].retries == 4
    bad = write_config(tmp_path / "bad.toml", {"fetch": {"min_delay": 2}})
    with pytest.raises(ConfigError, match=r"bad.toml: \[fetch\]\.min_delay: unknown key"):
        load_settings(bad, env={})
