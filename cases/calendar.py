"""Business calendars: when a tenant's SLA clock runs (docs/exceptions.md "Business calendars").

A calendar counts working time: the working hours of its working days in its time zone, minus public holidays
(the `holidays` library, by country and subdivision) and extra closed days, plus extra working days. Two
operations: `add` (an instant plus business seconds: a due time) and `between` (business seconds from one instant
to another: time spent waiting).

The default calendar is UTC, Monday to Friday, all day, no holidays: the business time of the SLIs
(metrics/windows.py `business_seconds`), computed by the very same formula so that a queue on the default calendar
gives the same due times to the millisecond. A due time that ends at the edge of a closed stretch (a weekend, a
holiday, the night) is the start of the next working stretch, as the SLIs place it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import holidays as holiday_tables
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from metrics.windows import business_seconds
from syncwatch.zones import iana_zone

__all__ = [
    "UTC_WEEKDAYS",
    "BusinessCalendar",
    "Calendar",
    "CalendarSpec",
    "UtcWeekdays",
    "add_business_seconds",
]

_DAY = 86400.0
_WEEK = 5 * _DAY
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# No SLA is longer than a few weeks of business time; a calendar that closes every day would loop for ever.
_MAX_DAYS = 3660


class Calendar(Protocol):
    def add(self, moment: datetime, seconds: float) -> datetime: ...

    def between(self, start: datetime, end: datetime) -> float: ...


def add_business_seconds(moment: datetime, seconds: float) -> datetime:
    """The instant `seconds` of business time after `moment` on the default calendar: the inverse of
    business_seconds, so that business_seconds(add_business_seconds(t, s)) == business_seconds(t) + s (to the
    millisecond). A result that falls on a weekend's edge is the Monday 00:00 after it, as business_seconds places a
    due time."""
    x = business_seconds(moment) + seconds
    weeks = math.floor(x / _WEEK)
    rest = x - weeks * _WEEK
    day_in_week = min(int(rest // _DAY), 4)
    into_day = rest - day_in_week * _DAY
    day = weeks * 7 + day_in_week - 3  # business_seconds counts from the Monday before the epoch (a Thursday)
    return _EPOCH + timedelta(days=day, seconds=into_day)


@dataclass(frozen=True, slots=True)
class UtcWeekdays:
    """The default calendar: UTC, Monday to Friday, 24 hours a day, no holidays (the SLIs' business time)."""

    def add(self, moment: datetime, seconds: float) -> datetime:
        return add_business_seconds(moment, seconds)

    def between(self, start: datetime, end: datetime) -> float:
        return max(0.0, business_seconds(end) - business_seconds(start))


UTC_WEEKDAYS = UtcWeekdays()


class CalendarSpec(BaseModel):
    """One calendar as written in the routing file's `calendars:` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_zone: str = "UTC"
    weekdays: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday")
    hours: str = Field(default="all-day", description='"all-day" or "HH:MM-HH:MM" in the calendar\'s time zone')
    country: str = ""
    subdivision: str = ""
    closed: tuple[date, ...] = ()
    open: tuple[date, ...] = ()

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return iana_zone(value)

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name.lower() not in _WEEKDAY_NAMES:
                raise ValueError(f"unknown weekday {name!r}; weekdays are {', '.join(_WEEKDAY_NAMES)}")
        return tuple(n.lower() for n in value)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        _parse_hours(value)
        return value

    @model_validator(mode="after")
    def _holidays(self) -> CalendarSpec:
        if self.subdivision and not self.country:
            raise ValueError("subdivision: needs a country")
        if self.country:
            try:
                holiday_tables.country_holidays(self.country, subdiv=self.subdivision or None)
            except NotImplementedError as exc:
                raise ValueError(f"country: {exc}") from exc
        both = set(self.closed) & set(self.open)
        if both:
            raise ValueError(f"open: {min(both)} is also listed as closed")
        return self

    @property
    def is_default(self) -> bool:
        return self == CalendarSpec()

    def build(self) -> Calendar:
        if self.is_default:
            return UTC_WEEKDAYS
        start, end = _parse_hours(self.hours)
        table: Any = (
            holiday_tables.country_holidays(self.country, subdiv=self.subdivision or None) if self.country else {}
        )
        return BusinessCalendar(
            zone=ZoneInfo(self.time_zone),
            weekdays=frozenset(_WEEKDAY_NAMES.index(n) for n in self.weekdays),
            start=start,
            end=end,
            holidays=table,
            closed=frozenset(self.closed),
            open=frozenset(self.open),
        )


def _parse_hours(text: str) -> tuple[time, time | None]:
    """(start, end) of the working hours; end None means midnight at the end of the day (all day: 00:00-None)."""
    if text == "all-day":
        return time(0), None
    start_s, sep, end_s = text.partition("-")
    try:
        start = time.fromisoformat(start_s.strip())
        end = None if end_s.strip() in ("24:00", "24:00:00") else time.fromisoformat(end_s.strip())
    except ValueError as exc:
        raise ValueError(f"hours: {text!r} is not all-day or HH:MM-HH:MM") from exc
    if not sep or (end is not None and end <= start):
        raise ValueError(f"hours: {text!r} must be all-day or HH:MM-HH:MM with the start before the end")
    return start, end


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Working hours on working days in a time zone. Each working day's stretch is placed in local time and turned
    into UTC instants on that day, so a day of a DST change is as long as the wall clock says (23 or 25 hours
    all day; 09:00-17:00 stays 8 hours)."""

    zone: ZoneInfo
    weekdays: frozenset[int]
    start: time
    end: time | None
    holidays: Any = field(default_factory=dict)  # a holidays.HolidayBase, or {} for none
    closed: frozenset[date] = frozenset()
    open: frozenset[date] = frozenset()

    def working(self, day: date) -> bool:
        if day in self.open:
            return True
        if day in self.closed or day.weekday() not in self.weekdays:
            return False
        return day not in self.holidays

    def _stretch(self, day: date) -> tuple[datetime, datetime]:
        opens = datetime.combine(day, self.start, self.zone).astimezone(UTC)
        if self.end is None:
            closes = datetime.combine(day + timedelta(days=1), time(0), self.zone).astimezone(UTC)
        else:
            closes = datetime.combine(day, self.end, self.zone).astimezone(UTC)
        return opens, closes

    def _stretches(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working stretches (UTC) from the local day of `moment` on, in order."""
        day = moment.astimezone(self.zone).date() - timedelta(days=1)  # a stretch may cross midnight UTC
        for _ in range(_MAX_DAYS):
            if self.working(day):
                yield self._stretch(day)
            day += timedelta(days=1)
        raise ValueError(f"no working time within {_MAX_DAYS} days of {moment.isoformat()}: check the calendar")

    def add(self, moment: datetime, seconds: float) -> datetime:
        left = timedelta(seconds=seconds)
        for opens, closes in self._stretches(moment):
            if closes <= moment:
                continue
            begin = max(opens, moment)
            room = closes - begin
            if left < room:
                return begin + left
            left -= room
        raise AssertionError("unreachable: _stretches raises before it runs out")

    def between(self, start: datetime, end: datetime) -> float:
        if end <= start:
            return 0.0
        total = 0.0
        for opens, closes in self._stretches(start):
            if opens >= end:
                break
            overlap = (min(closes, end) - max(opens, start)).total_seconds()
            total += max(0.0, overlap)
        return total
