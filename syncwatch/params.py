"""Query parameters naming instants and durations, parsed one way for every route of every stage.

A value that does not parse, or lies outside what the warehouse's DateTime64 columns hold, is the client's mistake:
RequestValidationError naming the parameter, which the collector answers 422 like any other invalid parameter
(never an OverflowError or an engine error answered 500).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.exceptions import RequestValidationError

from syncwatch.durations import parse_duration

__all__ = ["EARLIEST", "LATEST", "MAX_DURATION", "bounded", "duration", "instant", "instant_or_ago"]

# The span of every DateTime64 precision the warehouse uses (DateTime64(9) ends first, in 2262).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 4, 11, 23, 47, 16, tzinfo=UTC)
MAX_DURATION = timedelta(days=36500)  # a century: any window ending now still starts after EARLIEST


def invalid(name: str, message: str, where: str = "query") -> RequestValidationError:
    return RequestValidationError([{"loc": (where, name), "msg": message, "type": "value_error"}])


def bounded(value: datetime, name: str, where: str = "body") -> datetime:
    """An already parsed instant (a body field), in UTC, refused outside EARLIEST .. LATEST."""
    try:
        utc = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError as exc:  # year 1 at +01:00 is before what datetime holds in UTC
        raise invalid(name, f"{value.isoformat()} is outside {EARLIEST:%Y-%m-%d} .. {LATEST:%Y-%m-%d}", where) from exc
    if not EARLIEST <= utc <= LATEST:
        raise invalid(name, f"{value.isoformat()} is outside {EARLIEST:%Y-%m-%d} .. {LATEST:%Y-%m-%d}", where)
    return utc


def duration(value: str, name: str) -> timedelta:
    """'30d', '6h', '5m', '90s', '2w', '1h30m' (syncwatch.durations) -> timedelta, more than zero and at most
    MAX_DURATION."""
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        message = f"{value[:40]!r} is not a duration: a number then s, m, h, d or w (e.g. 30d, 6h, 5m)"
        raise invalid(name, message) from exc
    if not 0 < seconds <= MAX_DURATION.total_seconds():
        raise invalid(name, f"{value!r} must be more than 0s and at most {MAX_DURATION.days}d")
    return timedelta(seconds=seconds)


def instant(value: str, name: str) -> datetime:
    """An ISO 8601 / RFC 3339 instant (UTC when it has no offset) between EARLIEST and LATEST."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        # an offset can carry a year-1 or year-9999 instant past what datetime holds in UTC
        in_range = EARLIEST <= parsed <= LATEST
    except (ValueError, OverflowError) as exc:
        raise invalid(name, f"{value[:40]!r} is not an ISO 8601 instant (e.g. 2026-01-31T09:00:00Z)") from exc
    if not in_range:
        raise invalid(name, f"{value!r} is outside {EARLIEST:%Y-%m-%d} .. {LATEST:%Y-%m-%d}")
    return parsed.astimezone(UTC)


def instant_or_ago(value: str, name: str, now: datetime | None = None) -> datetime:
    """An instant, or a duration back from now ('7d': seven days ago)."""
    text = value.strip()
    if text[-1:].isalpha() and text[-1:] not in "Zz":  # 7d, 90m: a unit; an instant ends in a digit or Z
        return (now or datetime.now(UTC)) - duration(text, name)
    return instant(text, name)
