"""Prometheus metrics: what the web process counts, plus collection figures read from the store.

Two kinds of figures, because the collector is another process than the web workers:

* Web figures (requests by route, their latency, render cache hits and misses) are counted in
  the process that serves them, with prometheus-client. Under gunicorn with several workers
  set ``PROMETHEUS_MULTIPROC_DIR`` (an empty folder, emptied at each start) in the
  environment of the master: every worker then writes its counters to files there and a
  scrape, answered by any one worker, sums them all (prometheus-client's multiprocess mode).
* Collection figures (runs, failures, articles by status, source state, the lease) live in
  the store, written by the collector; ``StoreCollector`` reads them at scrape time, so they
  are right whichever process answers and whether or not the collector runs.

Requests are counted by ``RequestMetrics``, a WSGI middleware around the whole app (the
feeds' fast path answers before Flask, so Flask hooks would miss most requests); it also
counts the render cache's answers from the ``X-Cache`` header the feeds set. Other modules
may call ``render_cache()`` and ``observe_request()``; nothing else here is imported outside
web/ops.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from .exceptions import FeedsvcError
from .store import Store

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "feedsvc_http_requests_total",
    "HTTP requests answered, by route pattern, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "feedsvc_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern",
    ["route", "method"],
    buckets=LATENCY_BUCKETS_S,
)
RENDER_CACHE = Counter(
    "feedsvc_render_cache_total",
    "Feed render cache lookups: hit (served from cache) or miss (rendered)",
    ["result"],
)


def render_cache(hit: bool | str) -> None:
    """Count one render cache lookup: a hit, a miss, or ``"stale"`` (served while the store
    is down)."""
    RENDER_CACHE.labels(hit if isinstance(hit, str) else "hit" if hit else "miss").inc()


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request; ``route`` is the URL rule (bounded), never the path."""
    REQUESTS.labels(route, method, str(status)).inc()
    LATENCY.labels(route, method).observe(seconds)


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def _ts(dt: datetime | None) -> float:
    return dt.timestamp() if dt is not None else 0.0


class StoreCollector:
    """Collection figures from the store, read at scrape time (a custom collector)."""

    def __init__(self, store: Store, sources: Sequence[str], now: datetime | None = None) -> None:
        self.store = store
        self.sources = list(sources)
        self.now = now

    def describe(self) -> Iterable[Metric]:
        return []  # not known before reading the store; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("feedsvc_store_up", "1 when the store could be read")
        try:
            states = self.store.source_states()
            statuses = self.store.article_status_counts()
            lease = self.store.lease()
            version = self.store.version()
        except FeedsvcError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "feedsvc_store_data_version", "Change counter of the store", value=version
        )
        articles = GaugeMetricFamily(
            "feedsvc_articles",
            "Stored articles by status: visible, hidden by the newsroom, gone at the source, "
            "expired by retention; failed articles retrying or given up",
            labels=["status"],
        )
        for status, n in sorted(statuses.items()):
            articles.add_metric([status], n)
        yield articles

        names = sorted(set(self.sources) | set(states))
        runs = CounterMetricFamily(
            "feedsvc_collections", "Collection runs per source", labels=["source"]
        )
        failed_runs = CounterMetricFamily(
            "feedsvc_collection_failures", "Failed collection runs per source", labels=["source"]
        )
        collected = CounterMetricFamily(
            "feedsvc_collected_articles",
            "Articles handled by collections, by outcome (new, updated, failed, gone)",
            labels=["source", "status"],
        )
        consecutive = GaugeMetricFamily(
            "feedsvc_source_consecutive_failures",
            "Failed runs in a row (0 after a success)",
            labels=["source"],
        )
        broken = GaugeMetricFamily(
            "feedsvc_source_broken",
            "1 when the source looks broken (empty listing, articles without body)",
            labels=["source"],
        )
        last_success = GaugeMetricFamily(
            "feedsvc_source_last_success_timestamp_seconds",
            "When the source was last collected without error (0: never)",
            labels=["source"],
        )
        last_attempt = GaugeMetricFamily(
            "feedsvc_source_last_attempt_timestamp_seconds",
            "When a collection of the source last started (0: never)",
            labels=["source"],
        )
        duration = GaugeMetricFamily(
            "feedsvc_source_last_run_duration_seconds",
            "How long the last collection of the source took",
            labels=["source"],
        )
        for name in names:
            st = states.get(name)
            if st is None:
                for fam in (runs, failed_runs, consecutive, broken, last_success, last_attempt):
                    fam.add_metric([name], 0)
                for status in ("new", "updated", "failed", "gone"):
                    collected.add_metric([name, status], 0)
                continue
            runs.add_metric([name], st.runs_total)
            failed_runs.add_metric([name], st.failed_runs_total)
            collected.add_metric([name, "new"], st.new_total)
            collected.add_metric([name, "updated"], st.updated_total)
            collected.add_metric([name, "failed"], st.failed_total)
            collected.add_metric([name, "gone"], st.gone_total)
            consecutive.add_metric([name], st.consecutive_failures)
            broken.add_metric([name], 1 if st.broken else 0)
            last_success.add_metric([name], _ts(st.last_success))
            last_attempt.add_metric([name], _ts(st.last_attempt))
            if st.last_duration_s is not None:
                duration.add_metric([name], st.last_duration_s)
        yield from (
            runs,
            failed_runs,
            collected,
            consecutive,
            broken,
            last_success,
            last_attempt,
            duration,
        )
        now = self.now or datetime.now(UTC)
        held = GaugeMetricFamily(
            "feedsvc_collector_lease_held", "1 while a collector holds an unexpired lease"
        )
        held.add_metric([], 1 if lease is not None and not lease.expired(now) else 0)
        yield held


ROUTE_KEY = "feedsvc.route"  # set in the WSGI environ by Flask for the routes it matched
FEED_ROUTE = "/feeds/<slug>.<ext>"
_FEED_SUFFIXES = (".xml", ".atom", ".json")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
_CACHE_STATES = {"HIT": "hit", "MISS": "miss", "STALE": "stale"}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RequestMetrics:
    """WSGI middleware: counts every request by route pattern, method and status, times it,
    and counts the render cache's answers (``X-Cache``). A few microseconds a request: the
    label children are looked up once and kept."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._cache_children = {v: RENDER_CACHE.labels(v) for v in _CACHE_STATES.values()}

    def _child(self, route: str, method: str, status: str) -> tuple[Any, Any]:
        key = (route, method, status)
        found = self._children.get(key)
        if found is None:
            found = (REQUESTS.labels(route, method, status), LATENCY.labels(route, method))
            self._children[key] = found
        return found

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        t0 = time.perf_counter()
        seen: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            seen[:] = (status, headers)
            return start_response(status, headers, *exc)

        try:
            return self.app(environ, capture)
        finally:
            self._record(environ, seen, time.perf_counter() - t0)

    def _record(self, environ: dict[str, Any], seen: list[Any], elapsed: float) -> None:
        route = environ.get(ROUTE_KEY)
        if route is None:  # not through Flask's routing: the feeds' fast path, or no match
            path = environ.get("PATH_INFO", "")
            feed = path.startswith("/feeds/") and path.endswith(_FEED_SUFFIXES)
            route = FEED_ROUTE if feed else "(unmatched)"
        method = environ.get("REQUEST_METHOD", "GET")
        status = seen[0][:3] if seen else "500"
        found = self._children.get((route, method, status))
        if found is None:
            found = self._child(route, method if method in _METHODS else "other", status)
            self._children[(route, method, status)] = found
        found[0].inc()
        found[1].observe(elapsed)
        if route is FEED_ROUTE or route == FEED_ROUTE:
            headers = seen[1] if seen else ()
            for name, value in reversed(headers):  # X-Cache comes last
                if name == "X-Cache":
                    child = self._cache_children.get(_CACHE_STATES.get(value, ""))
                    if child is not None:
                        child.inc()
                    break


class _Delegate:
    """Expose another registry's metrics through ours (single-process mode)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def exposition(store: Store, sources: Sequence[str], accept: str = "") -> tuple[bytes, str]:
    """The /metrics body and its content type: this process's (or, in multiprocess mode,
    every worker's) web figures, plus the collection figures from the store.

    The format follows the scraper's Accept header (Prometheus text 0.0.4 by default,
    OpenMetrics when asked for)."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_mode():
        MultiProcessCollector(registry)
    else:
        registry.register(_Delegate(REGISTRY))
    registry.register(StoreCollector(store, sources))
    encode, content_type = choose_encoder(accept)
    return encode(registry), content_type
