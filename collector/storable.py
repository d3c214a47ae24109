"""What the warehouse can hold: the one definition the event checks use, so the collector accepts exactly what
ClickHouse stores (tests/unit/collector/test_storable.py holds it to the engine's own parsing of the same values).

- `time`: RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM)`, `t`/`z` in either case, a space for `T`), nothing
  else Python's ISO 8601 parser takes (week dates, comma fractions, offsets with seconds, basic format), from
  1970-01-01 (the TTL and partition expressions take the time as a DateTime, which starts there) up to
  2106-02-07T06:28:15Z (where DateTime ends). The row carries the parsed instant in one fixed UTC form, not the
  sender's text, so the engine never parses a time format of its own.
- dates (`start_date`, `work_date`, ...): `YYYY-MM-DD`, a real calendar day, 1970-01-01 to 2149-06-06 (the Date
  type's range: the state views' `toDate` clamps anything outside it to the bounds without an error).
- `amount`: a Decimal(18, 4) column, so strictly between -10^14 and 10^14.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = [
    "AMOUNT_LIMIT",
    "DATE_MAX",
    "DATE_MIN",
    "TIME_MAX_US",
    "TIME_MIN_US",
    "amount_problem",
    "date_problem",
    "parse_time",
    "time_column",
]

TIME_MIN_US = 0
TIME_MAX_US = (2**32 - 1) * 1_000_000
DATE_MIN = "1970-01-01"
DATE_MAX = "2149-06-06"
AMOUNT_LIMIT = 10**14

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MICRO = timedelta(microseconds=1)


def parse_time(value: Any) -> int | str:
    """Microseconds since the epoch of an RFC 3339 timestamp, or what is wrong with it."""
    if type(value) is not str:
        return "must be an RFC 3339 string"
    if not _RFC3339.match(value):
        return f"{value[:64]!r} is not an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.fraction] and Z or +HH:MM)"
    try:
        parsed = datetime.fromisoformat(value.upper())  # RFC 3339 allows t and z; fromisoformat does not
    except ValueError as exc:
        return f"{value[:64]!r} is not a valid timestamp: {exc}"
    return (parsed - _EPOCH) // _MICRO  # the caller holds it to TIME_MIN_US..TIME_MAX_US with its own window


def time_column(micros: int) -> str:
    """The instant as the row carries it: `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, the one text the engine reads
    exactly (epoch seconds are not: best-effort parsing takes a short number for a date)."""
    return (_NAIVE_EPOCH + timedelta(microseconds=micros)).isoformat(" ", "microseconds")


def date_problem(value: Any) -> str:
    """'' for a calendar date the warehouse stores as sent, else why not."""
    if type(value) is str and _DATE.match(value):
        try:
            date.fromisoformat(value)
        except ValueError:
            return f"{value!r} is not a calendar date"
        if DATE_MIN <= value <= DATE_MAX:
            return ""
        return f"{value!r} is outside the dates the warehouse stores ({DATE_MIN} to {DATE_MAX})"
    return "must be a date YYYY-MM-DD"


def amount_problem(value: Any) -> str:
    """'' for an amount Decimal(18, 4) holds; anything but a number is the caller's business."""
    if (type(value) is float or type(value) is int) and not -AMOUNT_LIMIT < value < AMOUNT_LIMIT:
        return "must be between -10^14 and 10^14 (the warehouse keeps amounts as Decimal(18, 4))"
    return ""
