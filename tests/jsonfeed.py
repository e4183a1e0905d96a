"""A structural check of JSON Feed 1.1, written from the specification's text
(https://www.jsonfeed.org/version/1.1/), the way a JSON Schema would state it.

Used by tests/test_feed_validity.py and by scripts/validate_feeds.py (stdlib only, so the
script can import it from another interpreter). Each rule cites the spec's wording.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

VERSION = "https://jsonfeed.org/version/1.1"
# "Names must start with an _ character followed by a letter" ... "must not contain any .".
_EXTENSION_KEY = re.compile(r"^_[A-Za-z][^.]*$")
# RFC 3339 date-time: full-date "T" full-time, with a zone.
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)$")
# RFC 5646 language tag, as far as "usually a 2-letter language tag ... optionally followed
# by a region tag" needs.
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")

TOP_LEVEL = {
    "version", "title", "home_page_url", "feed_url", "description", "user_comment",
    "next_url", "icon", "favicon", "authors", "author", "language", "expired", "hubs", "items",
}  # fmt: skip
ITEM = {
    "id", "url", "external_url", "title", "content_html", "content_text", "summary", "image",
    "banner_image", "date_published", "date_modified", "authors", "author", "tags", "language",
    "attachments",
}  # fmt: skip
AUTHOR = {"name", "url", "avatar"}
ATTACHMENT = {"url", "mime_type", "title", "size_in_bytes", "duration_in_seconds"}
HUB = {"type", "url"}


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return bool(parts.scheme) and (bool(parts.netloc) or parts.scheme == "mailto")


def _unknown_keys(obj: dict[str, Any], known: set[str], where: str) -> list[str]:
    return [
        f"{where}: unknown key {k!r} (extensions start with _ and a letter, no '.')"
        for k in obj
        if k not in known and not _EXTENSION_KEY.match(k)
    ]


def _check_string(obj: dict[str, Any], key: str, where: str, *, url: bool = False) -> list[str]:
    if key not in obj:
        return []
    value = obj[key]
    if not isinstance(value, str):
        return [f"{where}.{key}: must be a string, got {type(value).__name__}"]
    if url and not _is_url(value):
        return [f"{where}.{key}: not an absolute URL: {value!r}"]
    return []


def _check_date(obj: dict[str, Any], key: str, where: str) -> list[str]:
    if key not in obj:
        return []
    value = obj[key]
    if not isinstance(value, str) or not _RFC3339.match(value):
        return [f"{where}.{key}: not an RFC 3339 date-time: {value!r}"]
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return [f"{where}.{key}: not a real date: {value!r}"]
    return []


def _check_authors(obj: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    candidates: list[tuple[str, Any]] = []
    if "authors" in obj:
        if not isinstance(obj["authors"], list):
            return [f"{where}.authors: must be an array of objects"]
        candidates += [(f"{where}.authors[{i}]", a) for i, a in enumerate(obj["authors"])]
    if "author" in obj:  # 1.0's singular form: deprecated, still valid
        candidates.append((f"{where}.author", obj["author"]))
    for w, author in candidates:
        if not isinstance(author, dict):
            problems.append(f"{w}: must be an object")
            continue
        problems += _unknown_keys(author, AUTHOR, w)
        # "These are all optional — but if you provide an author object, then at least one
        # is required"
        if not any(k in author for k in AUTHOR):
            problems.append(f"{w}: needs at least one of name, url, avatar")
        problems += _check_string(author, "name", w)
        problems += _check_string(author, "url", w, url=True)
        problems += _check_string(author, "avatar", w, url=True)
    return problems


def _check_language(obj: dict[str, Any], where: str) -> list[str]:
    problems = _check_string(obj, "language", where)
    if not problems and "language" in obj and not _LANGUAGE.match(obj["language"]):
        problems.append(f"{where}.language: not an RFC 5646 tag: {obj['language']!r}")
    return problems


def _check_item(item: Any, where: str) -> list[str]:
    if not isinstance(item, dict):
        return [f"{where}: must be an object"]
    problems = _unknown_keys(item, ITEM, where)
    # "id (required, string) is unique for that item for that feed over time"
    if "id" not in item:
        problems.append(f"{where}.id: required")
    elif not isinstance(item["id"], str) or not item["id"]:
        problems.append(f"{where}.id: must be a non-empty string")
    for key in ("url", "external_url", "image", "banner_image"):
        problems += _check_string(item, key, where, url=True)
    for key in ("title", "summary", "content_html", "content_text"):
        problems += _check_string(item, key, where)
    # "the only place HTML is allowed in this format is in content_html": title, summary and
    # content_text are plain text. Not checked: text may look like markup and still be text.
    # "content_html and content_text are each optional strings — but one or both must be present"
    if "content_html" not in item and "content_text" not in item:
        problems.append(f"{where}: needs content_html or content_text")
    problems += _check_date(item, "date_published", where)
    problems += _check_date(item, "date_modified", where)
    problems += _check_authors(item, where)
    if "tags" in item and (
        not isinstance(item["tags"], list) or not all(isinstance(t, str) for t in item["tags"])
    ):
        problems.append(f"{where}.tags: must be an array of strings")
    problems += _check_language(item, where)
    if "attachments" in item:
        if not isinstance(item["attachments"], list):
            problems.append(f"{where}.attachments: must be an array")
        else:
            for i, att in enumerate(item["attachments"]):
                w = f"{where}.attachments[{i}]"
                if not isinstance(att, dict):
                    problems.append(f"{w}: must be an object")
                    continue
                problems += _unknown_keys(att, ATTACHMENT, w)
                for key in ("url", "mime_type"):
                    if key not in att:
                        problems.append(f"{w}.{key}: required")
                problems += _check_string(att, "url", w, url=True)
                problems += _check_string(att, "mime_type", w)
                problems += _check_string(att, "title", w)
                for key in ("size_in_bytes", "duration_in_seconds"):
                    if key in att and (
                        isinstance(att[key], bool) or not isinstance(att[key], int | float)
                    ):
                        problems.append(f"{w}.{key}: must be a number")
    return problems


def check_json_feed(feed: Any) -> list[str]:
    """Every way ``feed`` (parsed JSON) breaks JSON Feed 1.1; empty when it is valid."""
    if not isinstance(feed, dict):
        return ["feed: must be an object"]
    where = "feed"
    problems = _unknown_keys(feed, TOP_LEVEL, where)
    if feed.get("version") != VERSION:
        problems.append(f"feed.version: must be {VERSION!r}, got {feed.get('version')!r}")
    if not isinstance(feed.get("title"), str) or not feed["title"]:
        problems.append("feed.title: required, a non-empty string")
    # "optional but strongly recommended ... should be considered required for feeds on the
    # public web"
    for key in ("home_page_url", "feed_url"):
        if key not in feed:
            problems.append(f"feed.{key}: required on the public web")
        problems += _check_string(feed, key, where, url=True)
    for key in ("description", "user_comment"):
        problems += _check_string(feed, key, where)
    for key in ("next_url", "icon", "favicon"):
        problems += _check_string(feed, key, where, url=True)
    if "next_url" in feed and feed["next_url"] == feed.get("feed_url"):
        problems.append("feed.next_url: must not be the same as feed_url")
    problems += _check_authors(feed, where)
    problems += _check_language(feed, where)
    if "expired" in feed and not isinstance(feed["expired"], bool):
        problems.append("feed.expired: must be a boolean")
    if "hubs" in feed:
        if not isinstance(feed["hubs"], list):
            problems.append("feed.hubs: must be an array of objects")
        else:
            for i, hub in enumerate(feed["hubs"]):
                w = f"feed.hubs[{i}]"
                if not isinstance(hub, dict) or not all(isinstance(hub.get(k), str) for k in HUB):
                    problems.append(f"{w}: needs type and url strings")
    if not isinstance(feed.get("items"), list):
        problems.append("feed.items: required, an array")
        return problems
    ids: set[str] = set()
    for i, item in enumerate(feed["items"]):
        problems += _check_item(item, f"feed.items[{i}]")
        item_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(item_id, str):
            if item_id in ids:
                problems.append(f"feed.items[{i}].id: {item_id!r} used twice")
            ids.add(item_id)
    return problems
