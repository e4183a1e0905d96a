"""Operations: /healthz (JSON) and /metrics (Prometheus), and the request counters.

Both read the store, where the collector (another process) writes each source's state: the
web worker that answers knows what the collector did without talking to it.

/healthz answers 200 while feeds are servable (the store can be read) and 503 when they are
not; the body says what is wrong either way, per source.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState

from .. import metrics
from ..collector import holder_is_dead
from ..exceptions import StoreError
from ..service import Service
from ..store import SourceState
from . import get_service

bp = Blueprint("ops", __name__)

#: A source is "stale" when no collection started this many intervals after it was due.
STALE_INTERVALS = 2


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat(timespec="seconds") if dt is not None else None


def source_health(
    st: SourceState | None,
    *,
    now: datetime,
    every: timedelta,
    failed: tuple[int, int],
    collector_active: bool = False,
) -> dict[str, Any]:
    """One source's health: a status word, the reason, and the figures behind it.

    never: not collected yet; broken: an alarm (empty listing, articles without body);
    failing: the last run failed (backing off); stale: no run started for a long time (is
    the scheduler running?); degraded: some articles failed; ok.
    """
    if st is None or st.last_attempt is None:
        return {"status": "never", "problem": "never collected (is `feedsvc scheduler` running?)"}
    # a run that started and never finished is running only while its collector holds the
    # lease; otherwise it died (kill -9, power loss)
    running = st.running and collector_active
    due = st.last_attempt + every
    if st.next_attempt is not None and st.next_attempt > due:
        due = st.next_attempt
    problem: str | None = None
    if st.broken:
        status, problem = "broken", st.broken
    elif st.consecutive_failures:
        status = "failing"
        problem = f"{st.consecutive_failures} failed runs in a row: {st.last_error}"
    elif now > due + every * STALE_INTERVALS and not running:
        status = "stale"
        problem = f"no collection since {_iso(st.last_attempt)} (is `feedsvc scheduler` running?)"
    elif st.last_failed:
        status = "degraded"
        problem = f"{st.last_failed} articles failed in the last run: {st.last_error}"
    else:
        status = "ok"
    return {
        "status": status,
        "problem": problem,
        "running": running,
        "last_attempt": _iso(st.last_attempt),
        "last_finished": _iso(st.last_finished),
        "last_success": _iso(st.last_success),
        "last_error": (
            {"message": st.last_error, "at": _iso(st.last_error_at)} if st.last_error else None
        ),
        "consecutive_failures": st.consecutive_failures,
        "next_attempt": _iso(st.next_attempt),
        "broken": st.broken,
        "last_run": {
            "seen": st.last_seen,
            "new": st.last_new,
            "updated": st.last_updated,
            "unchanged": st.last_unchanged,
            "failed": st.last_failed,
            "gone": st.last_gone,
            "not_modified": st.last_not_modified,
            "duration_s": st.last_duration_s,
        },
        "failed_articles": {"retrying": failed[0], "given_up": failed[1]},
    }


def health(service: Service, now: datetime | None = None) -> tuple[dict[str, Any], int]:
    """The /healthz document and its HTTP status."""
    now = now or datetime.now(UTC)
    store = service.store
    try:
        version = store.version()
        statuses = store.article_status_counts()
        states = store.source_states()
        failures = store.failure_counts()
        lease = store.lease()
        schema = store.schema_version()
    except StoreError as e:
        return {
            "status": "error",
            "servable": False,
            "checked_at": _iso(now),
            "problems": [f"store: {e}"],
        }, 503
    every = timedelta(
        minutes=service.settings.schedule.every_minutes,
        seconds=service.settings.schedule.jitter_seconds,
    )
    dead = lease is not None and not lease.expired(now) and holder_is_dead(lease.owner)
    active = lease is not None and not lease.expired(now) and not dead
    sources = {}
    problems = []
    if dead:
        assert lease is not None
        problems.append(
            f"collector: the lease is held by {lease.owner}, whose process is gone (a crash); "
            "the next collector on this machine takes it over"
        )
    for src in service.settings.sources:
        h = source_health(
            states.get(src.name),
            now=now,
            every=every,
            failed=failures.get(src.name, (0, 0)),
            collector_active=active,
        )
        sources[src.name] = h
        if h["status"] != "ok":
            problems.append(f"source {src.name}: {h['status']}: {h['problem']}")
    body = {
        "status": "ok" if not problems else "degraded",
        "servable": True,
        "checked_at": _iso(now),
        "problems": problems,
        "store": {
            "schema_version": schema,
            "data_version": version,
            "articles": statuses,
        },
        "collector": {
            "lease": (
                {
                    "owner": lease.owner,
                    "acquired_at": _iso(lease.acquired_at),
                    "renewed_at": _iso(lease.renewed_at),
                    "expires_at": _iso(lease.expires_at),
                    "expired": lease.expired(now),
                    "holder_dead": dead,
                }
                if lease is not None
                else None
            ),
            "running": active,
        },
        "sources": sources,
    }
    return body, 200


@bp.get("/healthz")
def healthz() -> Response:
    body, status = health(get_service(current_app))
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


@lru_cache(maxsize=16)
def _networks(
    allow: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in allow)


def metrics_allowed(
    remote_addr: str | None, allow: tuple[str, ...], forwarded_for: str | None = None
) -> bool:
    """Whether a client may read /metrics ([metrics] allow).

    Behind a reverse proxy every request comes from the proxy's address (loopback), so when
    the request carries X-Forwarded-For its last entry (the client as the proxy saw it) must
    be allowed too. A client forging the header can only make this stricter.
    """
    addresses = [remote_addr or ""]
    if forwarded_for:
        addresses.append(forwarded_for.rsplit(",", 1)[-1].strip())
    return all(_allowed(a, allow) for a in addresses)


def _allowed(text: str, allow: tuple[str, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in net for net in _networks(allow))


@bp.get("/metrics")
def metrics_view() -> Response:
    service = get_service(current_app)
    allow = tuple(service.settings.metrics.allow)
    if not metrics_allowed(request.remote_addr, allow, request.headers.get("X-Forwarded-For")):
        return Response(
            "metrics are readable from the networks in [metrics] allow only\n",
            403,
            mimetype="text/plain",
        )
    body, content_type = metrics.exposition(
        service.store,
        [s.name for s in service.settings.sources],
        request.headers.get("Accept", ""),
    )
    resp = Response(body, content_type=content_type)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.before_app_request
def _name_route() -> None:
    """Tell RequestMetrics which route pattern Flask matched (a bounded label)."""
    rule = request.url_rule
    if rule is not None:
        request.environ[metrics.ROUTE_KEY] = rule.rule


@bp.record_once
def _install(state: BlueprintSetupState) -> None:
    """Count requests around everything, the feeds' fast path included: registered last,
    this middleware is the outermost."""
    app = cast(Flask, state.app)
    app.wsgi_app = metrics.RequestMetrics(app.wsgi_app)  # type: ignore[method-assign]
