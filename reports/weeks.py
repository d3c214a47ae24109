"""ISO weeks as report windows: Monday 00:00 UTC to the next Monday 00:00 UTC."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo

from metrics.windows import Window

__all__ = ["last_complete_week", "parse_week", "week_label", "week_window", "weeks_before"]

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_week(text: str) -> tuple[int, int]:
    """'2026-W10' -> (2026, 10); ValueError naming the expected form otherwise."""
    found = _WEEK.match(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not an ISO week such as 2026-W10")
    year, week = int(found[1]), int(found[2])
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ValueError(f"{text!r}: {year} has no ISO week {week}") from exc
    return year, week


def week_label(year: int, week: int) -> str:
    return f"{year:04d}-W{week:02d}"


def week_window(year: int, week: int) -> Window:
    monday = datetime.combine(date.fromisocalendar(year, week, 1), datetime.min.time(), tzinfo=UTC)
    return Window(monday, monday + timedelta(days=7))


def last_complete_week(now: datetime | None = None, zone: tzinfo = UTC) -> tuple[int, int]:
    """The ISO week that ended most recently before `now`, both in `zone` (the firm's Sunday is over) and in UTC
    (the report's window, Monday 00:00 UTC to Monday 00:00 UTC, is over): the earlier of the two."""
    moment = now or datetime.now(UTC)
    local, utc = (moment.astimezone(z).date() - timedelta(days=7) for z in (zone, UTC))
    iso = min(local, utc).isocalendar()
    return iso.year, iso.week


def weeks_before(year: int, week: int, count: int) -> list[tuple[int, int]]:
    """`count` weeks ending with (year, week), oldest first."""
    monday = date.fromisocalendar(year, week, 1)
    out = []
    for back in range(count - 1, -1, -1):
        iso = (monday - timedelta(weeks=back)).isocalendar()
        out.append((iso.year, iso.week))
    return out
