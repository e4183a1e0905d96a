"""Load and validate the TOML config plus FEEDSVC_* environment overrides. No business logic.

One typed table of options (the dataclasses below: each field has a type and a default, and
``check`` metadata where a value can be wrong), in the manner of miniflux's options.go. A file
that gives only some keys gets the defaults for the rest; a list such as ``[[sources]]``
replaces the default list. Unknown keys and bad values are ConfigErrors naming the file and key.
Nothing here runs at import time.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .exceptions import ConfigError

ENV_PREFIX = "FEEDSVC_"
ENV_CONFIG = "FEEDSVC_CONFIG"


def package_config_dir() -> Path:
    """The config folder shipped with the code: ``feedsvc/_config`` in a wheel, else ``config/``."""
    here = Path(__file__).resolve().parent
    bundled = here / "_config"
    return bundled if bundled.is_dir() else here.parent / "config"


def default_config_path() -> Path:
    return package_config_dir() / "feedsvc.toml"


def _check(fn: Callable[[Any], bool], why: str) -> dict[str, Any]:
    return {"check": fn, "why": why}


def _positive(v: float) -> bool:
    return v > 0


def _http_url(v: str) -> bool:
    parts = urlsplit(v)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _page_template(v: str) -> bool:
    try:
        v.format(category_id=1, listing="x", slug="x")
    except (KeyError, IndexError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class ServiceSettings:
    public_url: str = field(
        default="http://127.0.0.1:8000", metadata=_check(_http_url, "must be an http(s) URL")
    )
    title: str = "Báo Hòa Bình"
    site_url: str = field(
        default="https://baohoabinh.com.vn/", metadata=_check(_http_url, "must be an http(s) URL")
    )
    logo_url: str = "https://baohoabinh.com.vn/Images/logo.png"
    host: str = "127.0.0.1"
    port: int = field(default=8000, metadata=_check(lambda v: 0 <= v < 65536, "must be 0..65535"))


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///../var/feedsvc.sqlite3"
    busy_timeout_seconds: float = field(default=10.0, metadata=_check(_positive, "must be > 0"))


@dataclass(frozen=True)
class ScheduleSettings:
    every_minutes: float = field(default=10, metadata=_check(_positive, "must be > 0"))
    jitter_seconds: float = field(default=60, metadata=_check(lambda v: v >= 0, "must be >= 0"))
    misfire_grace_seconds: float = field(default=300, metadata=_check(_positive, "must be > 0"))


@dataclass(frozen=True)
class CollectorSettings:
    """One collector at a time, retries and backoff (see collector.py)."""

    lease_seconds: float = field(default=300, metadata=_check(_positive, "must be > 0"))
    backoff_seconds: float = field(default=60, metadata=_check(_positive, "must be > 0"))
    backoff_max_seconds: float = field(default=3600, metadata=_check(_positive, "must be > 0"))
    retry_seconds: float = field(default=300, metadata=_check(_positive, "must be > 0"))
    retry_max_seconds: float = field(default=21600, metadata=_check(_positive, "must be > 0"))
    max_attempts: int = field(default=8, metadata=_check(lambda v: v >= 1, "must be >= 1"))
    recheck_hours: float = field(default=6, metadata=_check(_positive, "must be > 0"))
    recheck_days: float = field(default=2, metadata=_check(lambda v: v >= 0, "must be >= 0"))
    recheck_per_run: int = field(default=20, metadata=_check(lambda v: v >= 0, "must be >= 0"))
    parse_alarm: int = field(default=3, metadata=_check(lambda v: v >= 1, "must be >= 1"))


@dataclass(frozen=True)
class RetentionSettings:
    """Old articles leave the feeds; the newest ``keep`` of every feed always stay."""

    days: float = field(default=0, metadata=_check(lambda v: v >= 0, "must be >= 0"))
    max_per_scope: int = field(default=0, metadata=_check(lambda v: v >= 0, "must be >= 0"))
    keep: int = field(default=100, metadata=_check(lambda v: v >= 1, "must be >= 1"))


def _networks(v: list[str]) -> bool:
    import ipaddress

    try:
        for net in v:
            ipaddress.ip_network(net, strict=False)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class MetricsSettings:
    allow: list[str] = field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"],
        metadata=_check(_networks, 'must be a list of networks such as "10.0.0.0/8"'),
    )


@dataclass(frozen=True)
class LogSettings:
    format: str = field(
        default="text", metadata=_check(lambda v: v in ("text", "json"), "text|json")
    )
    level: str = field(
        default="info",
        metadata=_check(
            lambda v: v in ("debug", "info", "warning", "error"), "debug|info|warning|error"
        ),
    )


@dataclass(frozen=True)
class CatalogSettings:
    sections: str = ""  # empty: the catalog shipped with the package
    districts: str = ""
    place_aliases: str = ""


@dataclass(frozen=True)
class FeedsSettings:
    default_limit: int = field(default=30, metadata=_check(lambda v: 1 <= v <= 100, "1..100"))
    max_limit: int = field(default=100, metadata=_check(lambda v: 1 <= v <= 1000, "1..1000"))
    max_bytes: int = field(
        default=2_000_000, metadata=_check(lambda v: v >= 10_000, "must be >= 10000")
    )
    summary_chars: int = field(default=300, metadata=_check(lambda v: v >= 50, "must be >= 50"))
    # An article's HTML longer than this (UTF-8 bytes) is cut with a link to the full text
    # (Google News reads at most 1 MB per article); never more than half of max_bytes.
    max_item_bytes: int = field(
        default=1_000_000, metadata=_check(lambda v: v >= 1_000, "must be >= 1000")
    )
    # Atom icon and JSON Feed icon/favicon: a square image ([service] logo_url is wide).
    icon_url: str = field(
        default="https://baohoabinh.com.vn/favicon.ico",
        metadata=_check(lambda v: v == "" or _http_url(v), "must be an http(s) URL or empty"),
    )
    # A section feed's channel link: this path on [service] site_url, with {category_id},
    # {listing} and {slug} filled in from the section; empty: our own preview page.
    section_page: str = field(
        default="/{category_id}/page/1/{listing}.htm",
        metadata=_check(_page_template, "placeholders: {category_id}, {listing}, {slug}"),
    )


@dataclass(frozen=True)
class CacheSettings:
    """How feeds are cached: by clients and proxies (Cache-Control) and in each web worker."""

    # -1: the collection interval ([schedule] every_minutes), when new articles can appear.
    max_age_seconds: int = field(default=-1, metadata=_check(lambda v: v >= -1, "-1 or >= 0"))
    stale_while_revalidate_seconds: int = field(
        default=300, metadata=_check(lambda v: v >= 0, "must be >= 0")
    )
    stale_if_error_seconds: int = field(
        default=86_400, metadata=_check(lambda v: v >= 0, "must be >= 0")
    )
    max_bytes: int = field(default=32_000_000, metadata=_check(lambda v: v >= 0, "must be >= 0"))
    # 0: ask the store on every request (on SQLite a few microseconds).
    version_check_seconds: float = field(
        default=0.0, metadata=_check(lambda v: v >= 0, "must be >= 0")
    )


@dataclass(frozen=True)
class SourceSettings:
    name: str = ""
    kind: str = field(default="html", metadata=_check(lambda v: v in ("html", "feed"), "html|feed"))
    url: str = field(default="", metadata=_check(_http_url, "must be an http(s) URL"))
    snapshot: str = ""  # html only: "demo" or a folder path; empty = the live site
    deadline_seconds: float = field(default=120, metadata=_check(_positive, "must be > 0"))
    layout: str = ""  # html only: layout profile; empty = the one shipped for the paper
    sections: list[str] = field(default_factory=list)  # html only: section slugs; empty = all
    max_pages: int = field(default=3, metadata=_check(lambda v: v >= 1, "must be >= 1"))


# The top-level tables and the dataclass describing each. "sources" is a list of tables.
TABLES: dict[str, type] = {
    "service": ServiceSettings,
    "database": DatabaseSettings,
    "schedule": ScheduleSettings,
    "catalog": CatalogSettings,
    "feeds": FeedsSettings,
    "cache": CacheSettings,
    "collector": CollectorSettings,
    "retention": RetentionSettings,
    "metrics": MetricsSettings,
    "log": LogSettings,
}


@dataclass(frozen=True)
class Settings:
    """Everything the service is configured with. Paths are absolute."""

    path: Path | None
    service: ServiceSettings = field(default_factory=ServiceSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    feeds: FeedsSettings = field(default_factory=FeedsSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    collector: CollectorSettings = field(default_factory=CollectorSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    log: LogSettings = field(default_factory=LogSettings)
    sources: tuple[SourceSettings, ...] = ()
    extra: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


# Tables other modules may register (e.g. "fetch"), validated the same way.
EXTRA_TABLES: dict[str, type] = {}


def register_table(name: str, cls: type) -> None:
    """Let a subsystem own a config table without settings.py knowing its business."""
    EXTRA_TABLES[name] = cls


def _register_builtin_tables() -> None:
    """Subsystem tables shipped with feedsvc; imported here, lazily, to keep imports acyclic."""
    if "fetch" not in EXTRA_TABLES:
        from .sources.fetch import FetchSettings

        register_table("fetch", FetchSettings)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        return [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported option type {_type_name(tp)}")  # pragma: no cover


def _from_env_text(text: str, tp: Any, where: str) -> Any:
    """Environment values are strings: read them as the option's type."""
    origin = typing.get_origin(tp)
    try:
        if origin is list:
            return [s.strip() for s in text.split(",") if s.strip()]
        if tp is bool:
            low = text.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if tp is int:
            return int(text)
        if tp is float:
            return float(text)
    except ValueError:
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {text!r}") from None
    return text


def build_table(cls: type, data: Mapping[str, Any], where: str) -> Any:
    """Validate one TOML table against its dataclass; unknown keys and bad values are errors."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, raw in data.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{where}.{key}: unknown key (known keys: {known})")
        value = _coerce(raw, hints[key], f"{where}.{key}")
        meta = fields[key].metadata
        if "check" in meta and not meta["check"](value):
            raise ConfigError(f"{where}.{key}: bad value {value!r}: {meta['why']}")
        values[key] = value
    return cls(**values)


def _resolve_path(value: str, base: Path) -> str:
    if not value or value == "demo":
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def _resolve_db_url(url: str, base: Path) -> str:
    """Relative SQLite paths resolve against the config file's folder, like other paths."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
        rel = url[len(prefix) :]
        if rel and rel != ":memory:" and not rel.startswith("file:"):
            return prefix + str((base / rel).resolve())
    return url


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    _register_builtin_tables()
    tables = {**TABLES, **EXTRA_TABLES}
    for var, text in env.items():
        if not var.startswith(ENV_PREFIX) or var == ENV_CONFIG:
            continue
        rest = var[len(ENV_PREFIX) :].lower()
        for table in sorted(tables, key=len, reverse=True):
            if rest.startswith(table + "_"):
                key = rest[len(table) + 1 :]
                cls = tables[table]
                hints = typing.get_type_hints(cls)
                if key not in hints:
                    raise ConfigError(
                        f"environment variable {var}: [{table}] has no key {key!r} "
                        f"(known keys: {', '.join(sorted(hints))})"
                    )
                raw.setdefault(table, {})[key] = _from_env_text(text, hints[key], var)
                break
        else:
            raise ConfigError(
                f"environment variable {var}: no config table matches "
                f"(tables: {', '.join(sorted(tables))})"
            )


def read_toml(
    path: Path,
    *,
    where: str | None = None,
    missing: str = "file not found",
    error: type[ConfigError] = ConfigError,
) -> dict[str, Any]:
    """Read one TOML file of ours (config, catalog, gazetteer, layout profile).

    Every failure becomes ``error`` whose message starts with ``where`` (default: the path),
    so whoever reads the file names it the way its users know it.
    """
    where = where or str(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise error(f"{where}: {missing}") from None
    except tomllib.TOMLDecodeError as e:
        raise error(f"{where}: not valid TOML: {e}") from e
    except OSError as e:
        raise error(f"{where}: cannot read: {e}") from e


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the config: ``path``, else $FEEDSVC_CONFIG, else the embedded default."""
    env = os.environ if env is None else env
    if path is None:
        path = env.get(ENV_CONFIG) or default_config_path()
    path = Path(path).expanduser().resolve()
    raw = read_toml(path, missing="config file not found")
    return settings_from_dict(raw, path=path, env=env)


def settings_from_dict(
    raw: Mapping[str, Any], *, path: Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Build Settings from parsed TOML (tests pass dicts directly)."""
    where = str(path) if path else "<settings>"
    base = path.parent if path else Path.cwd()
    raw = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in raw.items()}
    _apply_env(raw, env or {})
    tables = {**TABLES, **EXTRA_TABLES}
    known = sorted([*tables, "sources"])
    for key in raw:
        if key not in known:
            raise ConfigError(f"{where}: unknown table or key {key!r} (known: {', '.join(known)})")
    built: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, cls in tables.items():
        obj = build_table(cls, raw.get(name, {}), f"{where}: [{name}]")
        (built if name in TABLES else extra)[name] = obj
    built["database"] = dataclasses.replace(
        built["database"], url=_resolve_db_url(built["database"].url, base)
    )
    cat = built["catalog"]
    built["catalog"] = CatalogSettings(
        sections=_resolve_path(cat.sections, base) or str(package_config_dir() / "sections.toml"),
        districts=_resolve_path(cat.districts, base)
        or str(package_config_dir() / "districts.toml"),
        place_aliases=_resolve_path(cat.place_aliases, base),
    )
    sources_raw = raw.get("sources")
    if sources_raw is None:
        sources_raw = [{"name": "baohoabinh", "kind": "html", "url": "https://baohoabinh.com.vn/"}]
    if not isinstance(sources_raw, list):
        raise ConfigError(f"{where}: sources: expected [[sources]] tables")
    sources = []
    names: set[str] = set()
    for i, s in enumerate(sources_raw):
        src = build_table(SourceSettings, s, f"{where}: sources[{i}]")
        if not src.name:
            raise ConfigError(f"{where}: sources[{i}].name: missing")
        if src.name in names:
            raise ConfigError(f"{where}: sources[{i}].name: duplicate source name {src.name!r}")
        names.add(src.name)
        if not src.url:
            raise ConfigError(f"{where}: sources[{i}].url: missing")
        if src.kind != "html" and (src.snapshot or src.layout or src.sections):
            raise ConfigError(
                f"{where}: sources[{i}]: snapshot, layout and sections apply to kind = 'html' only"
            )
        snapshot = _resolve_path(src.snapshot, base)
        if snapshot and snapshot != "demo" and not Path(snapshot).is_dir():
            raise ConfigError(f"{where}: sources[{i}].snapshot: folder {snapshot} does not exist")
        layout = _resolve_path(src.layout, base) or str(
            package_config_dir() / "layouts" / "baohoabinh.toml"
        )
        sources.append(dataclasses.replace(src, snapshot=snapshot, layout=layout))
    return Settings(path=path, sources=tuple(sources), extra=extra, **built)
