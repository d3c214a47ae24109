"""Business calendar on epoch seconds (UTC): weekdays, business-day arithmetic, accounting periods.

Sim time is a float of epoch seconds throughout: cheap to compare and to put in a heap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

__all__ = [
    "DAY",
    "HOUR",
    "MINUTE",
    "add_business_days",
    "business_days_between",
    "day_start",
    "iso_date",
    "iso_time",
    "month_period",
    "next_weekday_time",
    "to_date",
    "to_epoch",
    "weekday",
]

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


def to_epoch(value: date | datetime) -> float:
    if isinstance(value, datetime):
        return value.replace(tzinfo=value.tzinfo or UTC).timestamp()
    return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()


def to_date(t: float) -> date:
    return date(1970, 1, 1) + timedelta(days=int(t // DAY))


def day_start(t: float) -> float:
    return (t // DAY) * DAY


def weekday(t: float) -> int:
    """Monday = 0 ... Sunday = 6."""
    return (int(t // DAY) + _EPOCH_WEEKDAY) % 7


_DATE_CACHE: dict[int, str] = {}
_SECOND_CACHE: list[object] = [None, ""]


def iso_date(t: float) -> str:
    day = int(t // DAY)
    text = _DATE_CACHE.get(day)
    if text is None:
        text = _DATE_CACHE[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
    return text


def iso_time(t: float) -> str:
    """RFC 3339 in UTC with a Z and milliseconds."""
    second = int(t)
    day = second // 86400
    if _SECOND_CACHE[0] != day:
        _SECOND_CACHE[0] = day
        _SECOND_CACHE[1] = iso_date(t) + "T"
    rest = second - day * 86400
    return f"{_SECOND_CACHE[1]}{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}.{int(t * 1000) % 1000:03d}Z"


def month_period(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def next_weekday_time(t: float, target_weekday: int, hour: float) -> float:
    """The next instant strictly after t that falls on target_weekday at the given hour (UTC)."""
    start = day_start(t)
    ahead = (target_weekday - weekday(t)) % 7
    candidate = start + ahead * DAY + hour * HOUR
    return candidate if candidate > t else candidate + 7 * DAY


def add_business_days(t: float, days: float) -> float:
    """t plus `days` of elapsed business time, where Saturdays and Sundays do not count."""
    if weekday(t) >= 5:  # a weekend start counts from Monday 00:00
        t = day_start(t) + (7 - weekday(t)) * DAY
    remaining = days * DAY
    while True:
        end_of_day = day_start(t) + DAY
        room = end_of_day - t
        if remaining <= room:
            return t + remaining
        remaining -= room
        t = end_of_day
        while weekday(t) >= 5:
            t += DAY


def business_days_between(start: float, end: float) -> float:
    """Elapsed business time from start to end, in days (weekends excluded); 0 if end <= start."""
    if end <= start:
        return 0.0
    total = 0.0
    t = start
    while t < end:
        next_day = day_start(t) + DAY
        upto = min(next_day, end)
        if weekday(t) < 5:
            total += upto - t
        t = upto
    return total / DAY
