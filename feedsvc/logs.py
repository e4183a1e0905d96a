"""Structured logs: every record is an event name plus key=value fields with stable keys.

    log_event(log, logging.INFO, "collect.source", source="baohoabinh", new=3, error=None)

reads, with ``[log] format = "text"`` (the default)::

    2026-11-20 09:00:00,123 INFO feedsvc.collector collect.source source=baohoabinh new=3 error=-

and with ``format = "json"`` one JSON object a line, for a log shipper::

    {"ts": "2026-11-20T02:00:00.123+00:00", "level": "info", "logger": "feedsvc.collector",
     "event": "collect.source", "source": "baohoabinh", "new": 3, "error": null}

The keys are part of the operations contract (docs/operations.md lists them): rename none.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _text_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if not text or any(c in text for c in ' "=\n'):
        return json.dumps(text, ensure_ascii=False)
    return text


class Event:
    """A log message that renders lazily as ``name key=value ...``."""

    __slots__ = ("name", "fields")

    def __init__(self, name: str, fields: dict[str, Any]) -> None:
        self.name = name
        self.fields = fields

    def __str__(self) -> str:
        parts = [self.name] + [f"{k}={_text_value(v)}" for k, v in self.fields.items()]
        return " ".join(parts)


def log_event(logger: logging.Logger, level: int, name: str, /, **fields: Any) -> None:
    """Log one event with its fields; cheap when the level is disabled."""
    if logger.isEnabledFor(level):
        logger.log(level, "%s", Event(name, fields), extra={"event": name, "fields": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per record; events keep their fields as top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        name = getattr(record, "event", None)
        if name is not None:
            out["event"] = name
            for k, v in getattr(record, "fields", {}).items():
                out.setdefault(k, v.isoformat() if isinstance(v, datetime) else v)
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(fmt: str = "text", level: str = "info") -> None:
    """Set up the root logger for a feedsvc process (the CLI; gunicorn has its own)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # APScheduler logs every job start and end at INFO: our own events say more
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # httpx/httpcore log every request at INFO; the fetcher logs its own lines with our keys,
    # and a backfill's progress line on a terminal must not scroll away under them.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
