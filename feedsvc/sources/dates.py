"""The core both date readers share: a day-first date, in Vietnam time unless a zone is given.

The paper's pages (``html.parse_date``) and upstream feeds (``feed.parse_feed_date``) both print
"27/11/2026 08:00" or "ngày 27 tháng 11 năm 2026". Finding that date and turning a local time
into UTC live here; each reader keeps what is its own on top: the page reader reads "SA"/"CH"
(AM/PM) and drops seconds; the feed reader reads seconds, a zone after the time, ISO 8601 and
RFC 822 first.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

#: The paper's zone, and the zone of a date written without one.
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")

#: "27/11/2026", "5.3.2025", "27 - 11 - 2026": day, month, year.
DAY_FIRST_DATE = re.compile(r"(?<!\d)(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})(?!\d)")
#: "27 tháng 11 năm 2026", "27 tháng 11, 2026", "27 tháng 11 2026".
WORDS_DATE = re.compile(
    r"(?<!\d)(\d{1,2})\s+tháng\s+(\d{1,2})(?:\s*,\s*|\s+năm\s+|\s+)(\d{4})(?!\d)", re.I
)


def find_day_first(
    text: str, words: re.Pattern[str] = WORDS_DATE
) -> tuple[int, int, int, str] | None:
    """(year, month, day, the text with the date cut out) of the first day-first date in
    ``text``: numbers first, then ``words`` ("tháng"); None when there is none. The rest is
    where the caller looks for the time."""
    m = DAY_FIRST_DATE.search(text) or words.search(text)
    if m is None:
        return None
    day, month, year = (int(g) for g in m.groups())
    return year, month, day, text[: m.start()] + " " + text[m.end() :]


def local_to_utc(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    tz: tzinfo = VIETNAM,
) -> datetime | None:
    """The wall time in ``tz`` as UTC; None when it cannot exist (31/02) or leaves datetime's
    range once converted (a CMS placeholder such as 01/01/0001)."""
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def aware_to_utc(when: datetime, tz: tzinfo = VIETNAM) -> datetime | None:
    """``when`` as UTC, read in ``tz`` when it has no zone; None when out of datetime's range."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    try:
        return when.astimezone(UTC)
    except OverflowError:
        return None
