"""The ``feedsvc`` command: collect, serve, scheduler, run, check-config, parse, tag, hide,
unhide, health.

Exit statuses of ``collect`` (a public contract): 0 every source collected (or SIGTERM
stopped it cleanly); 1 at least one source failed (what the others brought is saved); 2 bad
config; 75 another collector holds the lease.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .exceptions import ConfigError, FeedsvcError, LeaseHeldError, NotFound

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
    c.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        default=0.0,
        help="when another collector is running, wait up to SECONDS for it (default: exit 75)",
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
    for name, helptext in (
        ("hide", "take an article out of every feed at once (recorded: who, when, why)"),
        ("unhide", "put a hidden article back in its feeds (recorded)"),
    ):
        h = sub.add_parser(name, help=helptext)
        h.add_argument("id", metavar="ID", help="the paper's article number, or the full id")
        h.add_argument("--reason", default="", help="why (kept in the record)")
        h.add_argument("--by", default=None, help="who (default: the login name)")
    sub.add_parser("health", help="print the /healthz document; exit 0 when feeds are servable")
    return p


def _load(args: argparse.Namespace) -> Any:
    from .logs import configure
    from .settings import load_settings

    settings = load_settings(args.config)
    configure(settings.log.format, "debug" if args.verbose else settings.log.level)
    return settings


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
        if r.skipped:
            parts.append(f"{r.source}: skipped ({r.skipped})")
            continue
        status = "ok" if r.ok else f"FAILED: {r.error}"
        if r.interrupted:
            status = "stopped before the end" + ("" if r.ok else f": {r.error}")
        gone = f", {r.gone} gone" if getattr(r, "gone", 0) else ""
        broken = f" [BROKEN: {r.broken}]" if getattr(r, "broken", None) else ""
        parts.append(
            f"{r.source}: {r.seen} seen, {r.new} new, {r.updated} updated, "
            f"{r.unchanged} unchanged, {r.failed} failed{gone} ({status}){broken}"
        )
    return "; ".join(parts)


class _StopOnSignal:
    """While active, SIGTERM and SIGINT set ``stop`` instead of killing the process: the
    collection finishes its current article, releases the lease and returns."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: Any) -> None:
        from .logs import log_event

        log_event(log, logging.INFO, "collect.signal", signal=signal.Signals(signum).name)
        self.stop.set()

    def __enter__(self) -> threading.Event:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self.stop

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def cmd_collect(args: argparse.Namespace) -> int:
    from . import progress
    from .service import Service

    service = Service(_load(args))
    shown = progress.for_stream(sys.stderr, log_lines=args.backfill is not None)
    try:
        with progress.showing(shown), _StopOnSignal() as stop:
            results = service.collect(max_pages=args.backfill, stop=stop, wait_s=args.wait)
    finally:
        service.close()
    print("collect: " + _summary(results))
    return EXIT_OK if all(r.ok for r in results) else EXIT_SOURCE_FAILED


class _Shutdown(Exception):
    """Raised in the main thread by SIGTERM to leave serve_forever()."""


def _serve(args: argparse.Namespace, *, with_scheduler: bool) -> int:
    """``serve``: the web only. ``run``: collect once, then serve with the scheduler in a
    background thread (a single machine, the demo); in production run gunicorn and one
    ``feedsvc scheduler`` instead."""
    from werkzeug.serving import make_server

    from .web import build_app, get_service

    settings = _load(args)
    app = build_app(settings)
    host = args.host or settings.service.host
    port = settings.service.port if args.port is None else args.port
    server = make_server(host, port, app, threaded=True)
    stop = threading.Event()
    background = None
    serving = False

    def on_sigterm(_signum: int, _frame: Any) -> None:
        stop.set()  # a collection in progress finishes its article and returns
        if serving:
            raise _Shutdown

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        if with_scheduler:
            from .scheduler import start_background

            service = get_service(app)
            service.keep_sources = True  # the first run's sources serve the scheduled ones
            try:
                results = service.collect(stop=stop)
                print("collect: " + _summary(results), flush=True)
            except LeaseHeldError as e:
                print(f"collect: skipped: {e}", flush=True)
            if stop.is_set():
                return EXIT_OK
            background = start_background(service, stop)
        print(f"feedsvc: serving on http://{host}:{server.server_port}/", flush=True)
        serving = True
        server.serve_forever()
    except (KeyboardInterrupt, _Shutdown):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if background is not None:
            from .scheduler import stop_background

            stop_background(*background, stop)
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


def _set_hidden(args: argparse.Namespace, hidden: bool) -> int:
    from .service import Service

    service = Service(_load(args))
    try:
        article_id = service.store.resolve_article_id(args.id)
        who = args.by or getpass.getuser()
        changed = service.store.set_hidden(article_id, hidden, actor=who, reason=args.reason)
        article = service.store.get(article_id)
    finally:
        service.close()
    title = article.title if article else ""
    if not changed:
        state = "already hidden" if hidden else "not hidden"
        print(f"{article_id}: {state}, nothing to do ({title})")
    else:
        verb = "hidden from every feed" if hidden else "back in its feeds"
        print(f"{article_id}: {verb} ({title}); recorded as {who}")
    return EXIT_OK


def cmd_health(args: argparse.Namespace) -> int:
    from .service import Service
    from .web.ops import health

    service = Service(_load(args))
    try:
        body, status = health(service)
    finally:
        service.close()
    print(json.dumps(body, ensure_ascii=False, indent=2))
    return EXIT_OK if status == 200 else EXIT_SOURCE_FAILED


COMMANDS = {
    "collect": cmd_collect,
    "serve": lambda a: _serve(a, with_scheduler=False),
    "run": lambda a: _serve(a, with_scheduler=True),
    "check-config": cmd_check_config,
    "parse": cmd_parse,
    "tag": cmd_tag,
    "scheduler": cmd_scheduler,
    "hide": lambda a: _set_hidden(a, True),
    "unhide": lambda a: _set_hidden(a, False),
    "health": cmd_health,
}


def main(argv: Sequence[str] | None = None) -> int:
    from .logs import configure

    args = _parser().parse_args(argv)
    configure("text", "debug" if args.verbose else "info")  # until the config says otherwise
    try:
        return int(COMMANDS[args.command](args))
    except ConfigError as e:
        print(f"feedsvc: config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except LeaseHeldError as e:
        print(
            f"feedsvc: {e}; not collecting (exit 75; `collect --wait SECONDS` waits for it)",
            file=sys.stderr,
        )
        return EXIT_LEASE_HELD
    except NotFound as e:
        print(f"feedsvc: {e}", file=sys.stderr)
        return EXIT_SOURCE_FAILED
    except FeedsvcError as e:
        print(f"feedsvc: error: {e}", file=sys.stderr)
        return EXIT_SOURCE_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
