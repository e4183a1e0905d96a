"""Serving benchmark: feedsvc under gunicorn against a bare Flask baseline, in the same run.

    .venv/bin/python bench/serve.py [--seconds 2] [--rounds 5] [--connections 4] [--loadgen auto]

What it does (loopback only, every load run bounded to --seconds):
1. Collects the bundled demo snapshot into a temporary SQLite database.
2. Starts the app as production does (``gunicorn -w 2 wsgi:app`` with FEEDSVC_CONFIG), reads
   /feeds/tin-moi-nhat.xml from it (plain and gzip), and starts a baseline under the same
   gunicorn settings: bare Flask routes returning those bytes with those headers.
3. Drives both with the same load generator (wrk when installed: ``apt-get install -y wrk``;
   else a small Python one), alternating app and baseline, --rounds times per case, and prints
   requests/s, p50 and p99 for warm 200, 304 and gzip 200, with the ratios to the baseline.
4. Stores 10,000 articles and prints the median cold render of a 30-item feed (query, render,
   gzip, ETags: what a cache miss costs) and the query plans behind it.
5. Serves every feed from that 10,000-article store and prints the workers' resident memory
   once every feed (each format, plain and gzip) is cached.

Targets (docs/performance.md): warm 200 >= 0.85 x baseline req/s; 304 >= 0.90 x the
baseline's 200; cold render <= 30 ms median; worker RSS <= 150 MB.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FEED = "/feeds/tin-moi-nhat.xml"
ARTICLES = 10_000
WORKERS = 2
SKIP_HEADERS = {"date", "server", "connection", "transfer-encoding", "content-length"}
TARGETS = {"warm 200": 0.85, "304": 0.90, "gzip 200": 0.85}


# -- the baseline: gunicorn imports this with "serve:baseline_app()" -----------------------------


def baseline_app(where: str | None = None) -> Any:
    """Bare Flask routes returning the app's bytes with the app's headers, nothing else."""
    from flask import Flask, Response

    folder = Path(where or os.environ["FEEDSVC_BENCH_BASELINE"])
    meta = json.loads((folder / "headers.json").read_text())
    plain = (folder / "plain.bin").read_bytes()
    gz = (folder / "gzip.bin").read_bytes()
    app = Flask("baseline")

    @app.get("/plain")
    def plain_route() -> Response:
        return Response(plain, 200, meta["plain"])

    @app.get("/gzip")
    def gzip_route() -> Response:
        return Response(gz, 200, meta["gzip"])

    @app.get("/304")
    def not_modified_route() -> Response:
        return Response(b"", 304, meta["304"])

    return app


# -- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def gunicorn(target: str, cwd: Path, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """gunicorn -w 2 on a free loopback port, the production command's settings."""
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}"]
    cmd += ["--log-level", "warning", target]
    proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn {target} did not start") from None
                time.sleep(0.1)
        wait_for_workers(proc.pid)
        yield url, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for_workers(master: int) -> None:
    """Until every worker has booted (loaded the app: its memory stops growing)."""
    deadline = time.monotonic() + 60
    last: dict[int, float] = {}
    while time.monotonic() < deadline:
        pids = worker_pids(master)
        now = {p: rss_mb(p) for p in pids}
        if len(pids) == WORKERS and now == last:
            return
        last = now
        time.sleep(0.3)
    raise SystemExit("gunicorn workers did not boot")


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in out.split()]


def rss_mb(pid: int) -> float:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return float("nan")
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


# -- load generators --------------------------------------------------------------------------


@dataclasses.dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int = 0


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        return float("nan")
    factor = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[m[2]]
    return float(m[1]) * factor


def run_wrk(url: str, headers: dict[str, str], seconds: float, conns: int) -> Load:
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds:g}s", "--latency", "--timeout", "5s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out)[1])  # type: ignore[index]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Load(rps, p50, p99, int(non2xx[1]) if non2xx else 0)


def run_python(url: str, headers: dict[str, str], seconds: float, conns: int) -> Load:
    """Fallback load generator: one thread per connection, a new connection per request
    (gunicorn's sync workers close every connection anyway). Slower than wrk: compare ratios."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{head}\r\n".encode()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def loop() -> None:
        mine = []
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                with socket.create_connection((host, port), timeout=5) as s:
                    s.sendall(request)
                    while s.recv(65536):
                        pass
            except OSError:
                with lock:
                    errors[0] += 1
                continue
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=loop) for _ in range(conns)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    latencies.sort()
    if not latencies:
        return Load(0.0, float("nan"), float("nan"), errors[0])
    return Load(
        len(latencies) / elapsed,
        latencies[len(latencies) // 2] * 1000,
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        errors[0],
    )


# -- set-up -----------------------------------------------------------------------------------


def write_config(folder: Path, db: Path) -> Path:
    path = folder / "feedsvc.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{db}"\n'
        '[[sources]]\nname = "baohoabinh"\nurl = "https://baohoabinh.com.vn/"\nsnapshot = "demo"\n',
        encoding="utf-8",
    )
    return path


def collect_demo(config: Path) -> None:
    from feedsvc.service import Service
    from feedsvc.settings import load_settings

    service = Service(load_settings(config, env={}))
    try:
        results = service.collect()
        if not all(r.ok for r in results):
            raise SystemExit(f"collecting the demo failed: {results}")
    finally:
        service.close()


def fill_store(config: Path, n: int) -> None:
    """n articles made from the demo ones (new ids, one hour apart), through Store.save."""
    from feedsvc.catalog import ALL_SLUG
    from feedsvc.service import Service
    from feedsvc.settings import load_settings

    service = Service(load_settings(config, env={}))
    try:
        demo = service.store.latest(service.catalog.lookup(ALL_SLUG), 1000)
        now = datetime.now(UTC)
        newest = max(a.published for a in demo)
        for i in range(n - len(demo)):
            a = demo[i % len(demo)]
            when = newest - timedelta(hours=i + 1)
            service.store.save(
                dataclasses.replace(a, id=f"{a.id}-{i}", published=when, updated=when), now=now
            )
    finally:
        service.close()


def capture_baseline(app_url: str, folder: Path) -> dict[str, str]:
    """The app's answers for FEED, written where the baseline reads them. Returns the ETags."""
    status, plain_h, plain = get(app_url + FEED)
    assert status == 200, status
    status, gz_h, gz = get(app_url + FEED, {"Accept-Encoding": "gzip"})
    assert status == 200 and gz_h.get("Content-Encoding") == "gzip", (status, gz_h)
    status, nm_h, _ = get(app_url + FEED, {"If-None-Match": plain_h["ETag"]})
    assert status == 304, status

    def keep(h: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in h.items() if k.lower() not in SKIP_HEADERS}

    (folder / "plain.bin").write_bytes(plain)
    (folder / "gzip.bin").write_bytes(gz)
    meta = {"plain": keep(plain_h), "gzip": keep(gz_h), "304": keep(nm_h)}
    (folder / "headers.json").write_text(json.dumps(meta))
    return {"plain": plain_h["ETag"], "gzip": gz_h["ETag"], "bytes": str(len(plain))}


# -- the parts --------------------------------------------------------------------------------


def bench_http(args: argparse.Namespace, tmp: Path) -> None:
    demo = tmp / "demo"
    demo.mkdir()
    config = write_config(demo, demo / "feedsvc.sqlite3")
    collect_demo(config)
    base_dir = tmp / "baseline"
    base_dir.mkdir()
    wrk = shutil.which("wrk") if args.loadgen != "python" else None
    if args.loadgen == "wrk" and not wrk:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    runner = run_wrk if wrk else run_python
    generator = f"wrk ({wrk})" if wrk else "Python (for wrk: apt-get install -y wrk)"
    print(
        f"load generator: {generator}, {args.connections} connections,"
        f" {args.seconds:g} s per run, {args.rounds} rounds"
    )
    app_env = {"FEEDSVC_CONFIG": str(config)}
    base_env = {"FEEDSVC_BENCH_BASELINE": str(base_dir)}
    with gunicorn("wsgi:app", ROOT, app_env) as (app_url, _):
        for _ in range(WORKERS * 10):  # every worker renders and caches the feed
            get(app_url + FEED)
            get(app_url + FEED, {"Accept-Encoding": "gzip"})
        tags = capture_baseline(app_url, base_dir)
        print(f"feed: {FEED}, {tags['bytes']} bytes, ETag {tags['plain']}")
        with gunicorn("serve:baseline_app()", ROOT / "bench", base_env) as (base_url, _):
            cases = [
                ("warm 200", app_url + FEED, {}, base_url + "/plain", {}),
                (
                    "304",
                    app_url + FEED,
                    {"If-None-Match": tags["plain"]},
                    base_url + "/plain",
                    {},
                ),
                (
                    "gzip 200",
                    app_url + FEED,
                    {"Accept-Encoding": "gzip"},
                    base_url + "/gzip",
                    {"Accept-Encoding": "gzip"},
                ),
                ("(bare 304)", base_url + "/304", {}, base_url + "/plain", {}),
            ]
            runner(base_url + "/plain", {}, 1, args.connections)  # warm-up
            runner(app_url + FEED, {}, 1, args.connections)
            print()
            print(
                f"{'case':<11} {'app req/s':>10} {'p50 ms':>7} {'p99 ms':>7}   "
                f"{'baseline req/s':>14} {'p50 ms':>7} {'p99 ms':>7}   {'ratio':>6} {'target':>7} "
                f"{'':<6} {'rounds':>9}"
            )
            for name, a_url, a_h, b_url, b_h in cases:
                app_runs: list[Load] = []
                base_runs: list[Load] = []
                for r in range(args.rounds):
                    order = [(a_url, a_h, app_runs), (b_url, b_h, base_runs)]
                    for url, h, runs in order if r % 2 else reversed(order):
                        runs.append(runner(url, h, args.seconds, args.connections))
                app_l = median_load(app_runs)
                base_l = median_load(base_runs)
                # Each round's two runs are back to back: their ratio is the fairest one on a
                # shared machine; the median over rounds is what the targets are checked on.
                ratios = [a.rps / b.rps for a, b in zip(app_runs, base_runs, strict=True) if b.rps]
                ratio = statistics.median(ratios) if ratios else float("nan")
                spread = f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else ""
                target = TARGETS.get(name)
                verdict = "" if target is None else ("ok" if ratio >= target else "MISSED")
                errors = sum(x.errors for x in app_runs + base_runs)
                print(
                    f"{name:<11} {app_l.rps:>10.0f} {app_l.p50_ms:>7.2f} {app_l.p99_ms:>7.2f}   "
                    f"{base_l.rps:>14.0f} {base_l.p50_ms:>7.2f} {base_l.p99_ms:>7.2f}   "
                    f"{ratio:>6.2f} {'>= ' + str(target) if target else '':>7} {verdict:<6} "
                    f"{spread:>9}" + (f"  ({errors} non-2xx/3xx)" if errors else "")
                )
            print(
                "req/s, p50, p99: medians over rounds; ratio: median over rounds of app/baseline "
                "req/s in back-to-back runs (rounds: lowest-highest).\nEvery ratio is against the "
                "baseline's 200 of the same bytes; (bare 304) is the baseline's own 304 route "
                "against its 200, for scale."
            )


def median_load(runs: list[Load]) -> Load:
    return Load(
        statistics.median(r.rps for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.errors for r in runs),
    )


def bench_cold_render(args: argparse.Namespace, big: Path) -> None:
    import sqlalchemy as sa

    from feedsvc.service import Service
    from feedsvc.settings import load_settings
    from feedsvc.web.feeds import FeedServer

    service = Service(load_settings(big / "feedsvc.toml", env={}))
    server = FeedServer(service)
    print()
    print(f"cold render, {ARTICLES} articles stored, 30 items, median of {args.renders} runs:")
    for slug in ("tin-moi-nhat", "chinh-tri", "mai-chau"):
        scope = service.catalog.lookup(slug)
        for fmt in ("rss", "atom", "json"):
            times = []
            for _ in range(args.renders):
                t0 = time.perf_counter()
                server._render((slug, fmt, 30))  # query + render + gzip + ETags: a cache miss
                times.append((time.perf_counter() - t0) * 1000)
            q_times = []
            for _ in range(args.renders):
                t0 = time.perf_counter()
                service.store.latest(scope, 30)
                q_times.append((time.perf_counter() - t0) * 1000)
            med = statistics.median(times)
            print(
                f"  {slug:<13} {fmt:<5} {med:6.1f} ms (query {statistics.median(q_times):4.1f} ms)"
                f"  {'ok' if med <= 30 else 'MISSED'} (target <= 30 ms)"
            )
        query = service.store.latest_query(scope, 30)
        sql = str(query.compile(service.store.engine, compile_kwargs={"literal_binds": True}))
        with service.store.engine.connect() as conn:
            plan = conn.execute(sa.text("EXPLAIN QUERY PLAN " + sql)).all()
        print(f"  query plan ({scope.kind}):")
        for row in plan:
            print(f"    {row[-1]}")
    service.close()


def bench_in_process(big: Path) -> None:
    """What one request costs inside a worker, without HTTP: the share the app adds."""
    import timeit

    from werkzeug.test import EnvironBuilder

    from feedsvc import create_app
    from feedsvc.settings import load_settings
    from feedsvc.web import get_service
    from feedsvc.web.feeds import feed_server

    app = create_app(load_settings(big / "feedsvc.toml", env={}))
    service = get_service(app)
    server = feed_server(app)
    slug, ext = FEED.removeprefix("/feeds/").split(".")
    _, headers, _ = server.respond("GET", slug, ext)
    etag = dict(headers)["ETag"]
    n = 5000
    cases = {
        "store.version()": lambda: service.store.version(),
        "respond(): warm 200": lambda: server.respond("GET", slug, ext),
        "respond(): 304": lambda: server.respond("GET", slug, ext, "", etag),
        "respond(): gzip 200": lambda: server.respond("GET", slug, ext, "", None, None, "gzip"),
        "respond(): ?_=cache-buster": lambda: server.respond("GET", slug, ext, "_=1234567"),
    }

    # Whole WSGI calls: the fast path, the same app through Flask, the bare-Flask baseline.
    def wsgi_call(wsgi: Any, environ: dict[str, Any]) -> Any:
        def call() -> None:
            body = wsgi(dict(environ), lambda status, headers, exc_info=None: None)
            for _ in body:
                pass
            if hasattr(body, "close"):
                body.close()

        return call

    folder = big / "baseline"
    folder.mkdir(exist_ok=True)
    client = app.test_client()
    answers = {
        "plain": client.get(FEED),
        "gzip": client.get(FEED, headers={"Accept-Encoding": "gzip"}),
        "304": client.get(FEED, headers={"If-None-Match": etag}),
    }
    (folder / "plain.bin").write_bytes(answers["plain"].data)
    (folder / "gzip.bin").write_bytes(answers["gzip"].data)
    (folder / "headers.json").write_text(
        json.dumps(
            {
                k: {h: v for h, v in r.headers.items() if h.lower() not in SKIP_HEADERS}
                for k, r in answers.items()
            }
        )
    )
    baseline = baseline_app(str(folder))
    get_env = EnvironBuilder(path=FEED).get_environ()
    # app.wsgi_app: other middleware (metrics) around the feeds' fast path around Flask.
    fast: Any = app.wsgi_app
    while not hasattr(fast, "__wrapped__") and hasattr(fast, "app"):
        fast = fast.app
    cases["WSGI warm 200: whole app"] = wsgi_call(app.wsgi_app, get_env)
    cases["WSGI warm 200: fast path"] = wsgi_call(fast, get_env)
    cases["WSGI warm 200: via Flask"] = wsgi_call(fast.__wrapped__, get_env)
    cases["WSGI 200: bare-Flask baseline"] = wsgi_call(
        baseline.wsgi_app, EnvironBuilder(path="/plain").get_environ()
    )
    print()
    print(f"in-process cost per call (median of 5 x {n}), no HTTP:")
    for name, fn in cases.items():
        runs = timeit.repeat(fn, number=n, repeat=5)
        print(f"  {name:<30} {statistics.median(runs) / n * 1e6:6.1f} us")
    for scope in service.catalog.scopes():
        for fmt_ext in ("xml", "atom", "json"):
            server.respond("GET", scope.slug, fmt_ext)
    print(
        f"  render cache with every feed (default limit): {len(server.cache)} entries, "
        f"{server.cache.bytes / 1e6:.1f} MB (plain + gzip)"
    )
    service.close()


def bench_memory(args: argparse.Namespace, big: Path) -> None:
    from feedsvc.service import Service
    from feedsvc.settings import load_settings

    service = Service(load_settings(big / "feedsvc.toml", env={}))
    slugs = [s.slug for s in service.catalog.scopes()]
    service.close()
    env = {"FEEDSVC_CONFIG": str(big / "feedsvc.toml")}
    with gunicorn("wsgi:app", ROOT, env) as (url, master):
        pids = worker_pids(master)
        before = {p: rss_mb(p) for p in pids}
        # Each request lands on either worker: 12 rounds leave every feed in both caches with
        # a probability above 1 - 2^-11 per feed.
        for _ in range(12):
            for slug in slugs:
                for ext in ("xml", "atom", "json"):
                    get(f"{url}/feeds/{slug}.{ext}")
        after = {p: rss_mb(p) for p in pids}
    print()
    print(f"worker memory, {ARTICLES} articles stored, gunicorn -w {WORKERS}:")
    for p in pids:
        verdict = "ok" if after[p] <= 150 else "MISSED"
        print(
            f"  worker {p}: {before[p]:.0f} MB booted, {after[p]:.0f} MB with every feed cached "
            f"({len(slugs)} feeds x 3 formats)  {verdict} (target <= 150 MB)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each load run")
    parser.add_argument("--rounds", type=int, default=5, help="runs per case and server")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections")
    parser.add_argument("--renders", type=int, default=15, help="cold renders per feed")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--skip-http", action="store_true", help="only render and memory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="feedsvc-bench-") as name:
        tmp = Path(name)
        if not args.skip_http:
            bench_http(args, tmp)
        big = tmp / "big"
        big.mkdir()
        config = write_config(big, big / "feedsvc.sqlite3")
        t0 = time.perf_counter()
        collect_demo(config)
        fill_store(config, ARTICLES)
        print(f"\n(stored {ARTICLES} articles in {time.perf_counter() - t0:.0f} s)")
        bench_cold_render(args, big)
        bench_in_process(big)
        bench_memory(args, big)


if __name__ == "__main__":
    main()
