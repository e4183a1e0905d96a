"""The ``feedsvc`` command: collect, serve, scheduler, run, check-config, parse, tag.

Exit statuses of ``collect`` (a public contract): 0 every source collected; 1 at least one
source failed (what the others brought is saved); 2 bad config; 75 another collector holds
the lease.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .exceptions import ConfigError, FeedsvcError, LeaseHeldError

EXIT_OK = 0
EXIT_SOURCE_FAILED = 1
EXIT_CONFIG = 2
EXIT_LEASE_HELD = 75

log = logging.getLogger("feedsvc")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="feedsvc", description=__doc__.splitlines()[0])
    p.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $FEEDSVC_CONFIG, else the bundled config/feedsvc.toml)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    c = sub.add_parser("collect", help="collect every source once")
    c.add_argument(
        "--backfill",
        type=int,
        metavar="N",
        default=None,
        help="walk N listing pages per section instead of the configured number",
    )
    for name, helptext in (
        ("serve", "serve the feeds over HTTP"),
        ("run", "collect, then serve with the scheduler in the background"),
    ):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--host", default=None)
        s.add_argument("--port", type=int, default=None)
    sub.add_parser("scheduler", help="collect on the configured schedule (the collector process)")
    sub.add_parser("check-config", help="load and check the config, print a summary")
    pa = sub.add_parser("parse", help="print what the layout profile extracts from one page")
    pa.add_argument("target", metavar="URL-or-FILE")
    pa.add_argument("--url", help="for a FILE: the address it was saved from")
    t = sub.add_parser("tag", help="print the districts a text concerns, with the evidence")
    t.add_argument("file", nargs="?", help="text file (default: standard input)")
    return p


def _load(args: argparse.Namespace) -> Any:
    from .settings import load_settings

    return load_settings(args.config)


def cmd_check_config(args: argparse.Namespace) -> int:
    from .service import Service

    settings = _load(args)
    service = Service(settings)
    _ = service.gazetteer
    for src in settings.sources:
        if src.kind == "html":
            from .sources.html import load_profile

            load_profile(src.layout)
    print(f"config {settings.path}: ok")
    print(f"  database  {settings.database.url}")
    print(
        f"  feeds     {len(service.catalog.scopes())} "
        f"({len(service.catalog.sections)} sections, {len(service.catalog.districts)} districts)"
    )
    for src in settings.sources:
        where = f"snapshot {src.snapshot}" if src.snapshot else src.url
        print(f"  source    {src.name} ({src.kind}) {where}")
    return EXIT_OK


def _summary(results: Sequence[Any]) -> str:
    parts = []
    for r in results:
        status = "ok" if r.ok else f"FAILED: {r.error}"
        parts.append(
            f"{r.source}: {r.seen} seen, {r.new} new, {r.updated} updated, "
            f"{r.unchanged} unchanged, {r.failed} failed ({status})"
        )
    return "; ".join(parts)


def cmd_collect(args: argparse.Namespace) -> int:
    from . import progress
    from .service import Service

    service = Service(_load(args))
    shown = progress.for_stream(sys.stderr, log_lines=args.backfill is not None)
    try:
        with progress.showing(shown):
            results = service.collect(max_pages=args.backfill)
    finally:
        service.close()
    print("collect: " + _summary(results))
    return EXIT_OK if all(r.ok for r in results) else EXIT_SOURCE_FAILED


def _serve(args: argparse.Namespace, *, collect_first: bool) -> int:
    from werkzeug.serving import make_server

    from .settings import load_settings
    from .web import build_app, get_service

    settings = load_settings(args.config)
    app = build_app(settings)
    if collect_first:
        results = get_service(app).collect()
        print("collect: " + _summary(results), flush=True)
    host = args.host or settings.service.host
    port = settings.service.port if args.port is None else args.port
    server = make_server(host, port, app, threaded=True)
    print(f"feedsvc: serving on http://{host}:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return EXIT_OK


def cmd_parse(args: argparse.Namespace) -> int:
    from .catalog import load_catalog
    from .sanitise import sanitise_article
    from .sources.fetch import decode_text
    from .sources.html import describe_page, load_profile, make_fetcher, url_for_file

    settings = _load(args)
    src = next((s for s in settings.sources if s.kind == "html"), None)
    if src is None:
        raise ConfigError(f"{settings.path}: no source of kind 'html' to take a layout from")
    profile = load_profile(src.layout).with_base(src.url)
    target = args.target
    default_url = None
    url: str | None
    if Path(target).is_file():
        text, url = decode_text(Path(target).read_bytes()), args.url
        default_url = url_for_file(profile, Path(target))
    else:
        fetcher = make_fetcher(src.__class__(**{**src.__dict__, "snapshot": ""}), settings)
        try:
            page = fetcher.get(target)
        finally:
            fetcher.close()
        text, url = page.text, page.url
    out = describe_page(profile, text, url, catalog=load_catalog(settings), default_url=default_url)
    if out["kind"] == "article":
        body = out.pop("body_html")
        clean = sanitise_article(body, out["url"])
        out["author"] = out["author"] or clean.author
        out["image"] = out["image"] or clean.image
        out["image_caption"] = clean.image_caption
        out["summary"] = clean.summary
        out["content_html"] = clean.html
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return EXIT_OK


def cmd_tag(args: argparse.Namespace) -> int:
    from .places import format_tags, load_gazetteer, tag_places

    settings = _load(args)
    aliases = settings.catalog.place_aliases
    gaz = load_gazetteer(Path(settings.catalog.districts), Path(aliases) if aliases else None)
    if args.file:
        text = Path(args.file).read_text(encoding="utf-8")
    else:
        text = sys.stdin.buffer.read().decode("utf-8")  # whatever the locale says
    lines = text.strip().split("\n", 1)
    title, body = lines[0], (lines[1] if len(lines) > 1 else "")
    tags = tag_places(gaz, title=title, body=body)
    print(format_tags(tags, dict(gaz.districts)) if tags else "(no district)")
    return EXIT_OK


def cmd_scheduler(args: argparse.Namespace) -> int:
    from .scheduler import run_blocking

    return run_blocking(_load(args))


COMMANDS = {
    "collect": cmd_collect,
    "serve": lambda a: _serve(a, collect_first=False),
    "run": lambda a: _serve(a, collect_first=True),
    "check-config": cmd_check_config,
    "parse": cmd_parse,
    "tag": cmd_tag,
    "scheduler": cmd_scheduler,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        return int(COMMANDS[args.command](args))
    except ConfigError as e:
        print(f"feedsvc: config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except LeaseHeldError as e:
        print(f"feedsvc: {e}", file=sys.stderr)
        return EXIT_LEASE_HELD
    except FeedsvcError as e:
        print(f"feedsvc: error: {e}", file=sys.stderr)
        return EXIT_SOURCE_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
