"""The installed ``feedsvc`` command, run as a subprocess like an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import write_config

FEEDSVC = Path(sys.executable).parent / "feedsvc"


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    full_env.update(env or {})
    return subprocess.run(
        [str(FEEDSVC), *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=120
    )


def demo_config(tmp_path: Path, **extra: object) -> Path:
    return write_config(
        tmp_path / "feedsvc.toml",
        {
            "database": {"url": "sqlite:///db.sqlite3"},
            "sources": [
                {
                    "name": "baohoabinh",
                    "url": "https://baohoabinh.com.vn/",
                    "snapshot": "demo",
                    **extra,
                }
            ],
        },
    )


def test_cli_check_config_ok_from_any_directory(tmp_path: Path) -> None:
    result = run("check-config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "config/feedsvc.toml: ok" in result.stdout


def test_cli_check_config_bad_key_exits_2(tmp_path: Path) -> None:
    bad = write_config(tmp_path / "bad.toml", {"schedule": {"every_minuts": 5}})
    result = run("--config", str(bad), "check-config")
    assert result.returncode == 2
    assert "bad.toml" in result.stderr and "every_minuts" in result.stderr


def test_cli_collect_demo_exits_0_then_nothing_new(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    first = run("--config", str(config), "collect")
    assert first.returncode == 0, first.stderr
    assert " 0 failed (ok)" in first.stdout
    second = run("collect", env={"FEEDSVC_CONFIG": str(config)})
    assert second.returncode == 0, second.stderr
    assert " 0 new, 0 updated" in second.stdout


def test_cli_collect_failing_source_exits_1(tmp_path: Path) -> None:
    empty = tmp_path / "empty-site"
    empty.mkdir()
    config = write_config(
        tmp_path / "feedsvc.toml",
        {
            "database": {"url": "sqlite:///db.sqlite3"},
            "sources": [
                {"name": "demo", "url": "https://baohoabinh.com.vn/", "snapshot": "demo"},
                {"name": "broken", "url": "https://baohoabinh.com.vn/", "snapshot": str(empty)},
            ],
        },
    )
    result = run("--config", str(config), "collect")
    assert result.returncode == 1
    assert "broken:" in result.stdout and "FAILED" in result.stdout
    assert "demo:" in result.stdout and "(ok)" in result.stdout


def test_cli_parse_prints_article_json(tmp_path: Path) -> None:
    import json

    from feedsvc.sources.html import DEMO_SNAPSHOT

    page = next(DEMO_SNAPSHOT.glob("11/169105/*.htm"))
    result = run("parse", str(page))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["id"] == "tag:baohoabinh.com.vn,2006:169105"
    assert out["author"] == "Bình Giang"
    assert out["section"] == "chinh-tri"
    assert out["published"].endswith("+07:00")
