"""Business calendars on fixed datetimes: the default is the SLIs' UTC Monday-Friday to the millisecond; a tenant's
calendar skips weekends, public holidays and closed days, keeps its working hours in its own time zone across a DST
change, and `add` and `between` are each other's inverse."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from cases.calendar import UTC_WEEKDAYS, BusinessCalendar, CalendarSpec, add_business_seconds
from metrics.windows import business_seconds

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600.0


def spec(**values: object) -> BusinessCalendar:
    built = CalendarSpec.model_validate(values).build()
    assert isinstance(built, BusinessCalendar)
    return built


def test_the_default_spec_is_the_slis_business_time() -> None:
    assert CalendarSpec().build() is UTC_WEEKDAYS
    friday = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)
    assert UTC_WEEKDAYS.add(friday, 86400) == datetime(2026, 11, 9, 15, 0, tzinfo=UTC)
    assert UTC_WEEKDAYS.add(datetime(2026, 11, 6, 20, 0, tzinfo=UTC), 4 * HOUR) == datetime(2026, 11, 9, tzinfo=UTC)
    assert UTC_WEEKDAYS.between(friday, datetime(2026, 11, 9, 1, 0, tzinfo=UTC)) == 10 * HOUR


moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC))


@given(moments, st.floats(min_value=0, max_value=30 * 86400))
@settings(max_examples=200, deadline=None)
def test_a_written_out_utc_weekday_calendar_agrees_with_the_default(moment: datetime, seconds: float) -> None:
    # The general calendar, configured as the default, must give the default's due times (to the millisecond).
    general = BusinessCalendar(UTC_ZONE, frozenset(range(5)), datetime.min.time(), None)
    seconds = round(seconds, 3)
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    assert abs((general.add(moment, seconds) - UTC_WEEKDAYS.add(moment, seconds)).total_seconds()) < 0.002
    later = moment + timedelta(seconds=seconds * 1.4)
    assert abs(general.between(moment, later) - UTC_WEEKDAYS.between(moment, later)) < 0.002
    assert business_seconds(add_business_seconds(moment, seconds)) == round(business_seconds(moment) + seconds, 3)


UTC_ZONE = ZoneInfo("UTC")


def test_a_p2_over_a_weekend_and_a_public_holiday_in_berlin_hours() -> None:
    # Bavaria, an extra closed day on Christmas Eve, the working day 09:00-17:00 in Berlin.
    berlin = spec(time_zone="Europe/Berlin", hours="09:00-17:00", country="DE", subdivision="BY",
                  closed=["2026-12-24"])  # fmt: skip
    opened = datetime(2026, 12, 23, 15, 0, tzinfo=BERLIN)  # Wednesday 15:00 local: 2 h left that day
    due = berlin.add(opened, 8 * HOUR)  # one working day of 8 hours
    # 24th closed, 25th Christmas, 26th Saturday, 27th Sunday, Monday 28th 09:00 + 6 h
    assert due == datetime(2026, 12, 28, 15, 0, tzinfo=BERLIN)
    assert berlin.between(opened, due) == 8 * HOUR
    assert not berlin.working(date(2026, 12, 25)) and not berlin.working(date(2026, 1, 6))  # Epiphany in Bavaria
    assert spec(time_zone="Europe/Berlin", country="DE").working(date(2026, 1, 6))  # not a holiday in all of DE


def test_extra_working_days_open_a_weekend() -> None:
    cal = spec(time_zone="Europe/Berlin", hours="09:00-17:00", open=["2026-12-27"])
    due = cal.add(datetime(2026, 12, 24, 16, 0, tzinfo=BERLIN), 2 * HOUR)
    assert due == datetime(2026, 12, 25, 10, 0, tzinfo=BERLIN)
    sunday = cal.add(datetime(2026, 12, 26, 12, 0, tzinfo=BERLIN), HOUR)  # Saturday noon: Sunday opens
    assert sunday == datetime(2026, 12, 27, 10, 0, tzinfo=BERLIN)


def test_a_due_time_at_the_close_is_the_next_opening() -> None:
    cal = spec(time_zone="America/New_York", hours="09:00-17:00")
    assert cal.add(datetime(2026, 11, 6, 16, 0, tzinfo=NEW_YORK), HOUR) == datetime(2026, 11, 9, 9, 0, tzinfo=NEW_YORK)
    assert cal.add(datetime(2026, 11, 7, 12, 0, tzinfo=NEW_YORK), 0) == datetime(2026, 11, 9, 9, 0, tzinfo=NEW_YORK)


def test_working_hours_keep_the_wall_clock_across_dst() -> None:
    # New York leaves DST on Sunday 2026-11-01: Friday 17:00 local is 21:00Z, Monday 09:00 local is 14:00Z.
    cal = spec(time_zone="America/New_York", hours="09:00-17:00")
    friday = datetime(2026, 10, 30, 16, 0, tzinfo=NEW_YORK)
    due = cal.add(friday, 2 * HOUR)
    assert due == datetime(2026, 11, 2, 10, 0, tzinfo=NEW_YORK)
    assert due.astimezone(UTC) == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    assert cal.between(friday, due) == 2 * HOUR


def test_an_all_day_calendar_counts_the_dst_day_as_the_wall_clock_does() -> None:
    # Berlin springs forward on Sunday 2026-03-29: with Sunday a working day, that day has 23 hours.
    cal = spec(time_zone="Europe/Berlin", weekdays=["sunday"])
    sunday = datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN)
    assert cal.between(sunday - timedelta(days=1), sunday + timedelta(days=2)) == 23 * HOUR
    assert cal.add(sunday, 23 * HOUR) == datetime(2026, 4, 5, 0, 0, tzinfo=BERLIN)


@given(moments, st.floats(min_value=0, max_value=20 * 8 * HOUR))
@settings(max_examples=150, deadline=None)
def test_between_inverts_add_on_a_holiday_calendar_in_a_dst_zone(moment: datetime, seconds: float) -> None:
    cal = spec(time_zone="America/New_York", hours="08:30-17:45", country="US", subdivision="NY",
               closed=["2026-12-24"], open=["2026-11-28"])  # fmt: skip
    due = cal.add(moment, seconds)
    assert due >= moment
    assert abs(cal.between(moment, due) - seconds) < 1e-3
