"""Business time in SQL (metrics/windows.py) agrees with the simulator's calendar, which the ground truth uses:
elapsed business days between two instants, and due times compared as business seconds (the exception SLA)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from clickhouse_connect.driver.client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.slis import exceptions
from metrics.slis.exceptions import SLA_BUSINESS_DAYS
from metrics.windows import business_seconds, business_seconds_ms_sql, business_seconds_sql
from simulator.calendar import add_business_days, business_days_between
from syncwatch.warehouse.migrations import load_migrations

START = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
instants = st.floats(min_value=START, max_value=START + 700 * 86400, allow_nan=False).map(lambda t: round(t, 3))


def _sql_instant(t: float) -> str:
    return f"toDateTime64({t:.3f}, 3, 'UTC')"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=instants, b=instants)
def test_elapsed_business_days(warehouse: Client, a: float, b: float) -> None:
    start, end = min(a, b), max(a, b)
    end_sql, start_sql = business_seconds_sql(_sql_instant(end), "b"), business_seconds_sql(_sql_instant(start), "a")
    sql = f"SELECT ({end_sql} - {start_sql}) / 86400"
    assert warehouse.query(sql).result_rows[0][0] == pytest.approx(business_days_between(start, end), abs=1e-6)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(t=st.floats(min_value=START, max_value=START + 700 * 86400, allow_nan=False).map(lambda t: round(t, 6)))
def test_business_seconds_of_a_parameter_are_the_sqls_rounded(warehouse: Client, t: float) -> None:
    """The bounds a query compares stored business times with (Python) equal the SQL formula rounded to the ms."""
    moment = datetime.fromtimestamp(t, UTC)
    instant = f"toDateTime64('{moment.strftime('%Y-%m-%d %H:%M:%S.%f')}', 6, 'UTC')"
    (row,) = warehouse.query(f"SELECT {business_seconds_ms_sql(instant, 'b')}").result_rows
    assert row[0] == business_seconds(moment)


def _ms(t: float) -> int:
    return round(t * 1000)


# Offsets from a due time: on it, within the hour around it, within days of it.
near = st.one_of(st.just(0.0), st.floats(-3600, 3600), st.floats(-3 * 86400, 3 * 86400)).map(lambda x: round(x, 3))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opened=instants, severity=st.sampled_from(sorted(SLA_BUSINESS_DAYS)), resolved_off=near, bound_off=near)
def test_due_times_in_business_seconds_agree_with_the_calendar(
    warehouse: Client, opened: float, severity: str, resolved_off: float, bound_off: float
) -> None:
    """The exception SLA compares due times as business seconds (metrics/slis/exceptions.py): resolved by the due
    time, and due at or after a window's bound, exactly when the calendar the ground truth uses says so, to the
    millisecond, for resolutions and bounds on, just around and days from the due time. Where the calendar lands on
    Friday 24:00 the SQL places the due time on Monday 00:00, the same business instant, so a weekend resolution is
    on time there."""
    due = add_business_days(opened, SLA_BUSINESS_DAYS[severity])
    if datetime.fromtimestamp(due, UTC).weekday() == 5 and _ms(due) % 86_400_000 == 0:
        due = due + 2 * 86400  # Monday 00:00
    resolved, bound = _ms(due + resolved_off) / 1000, _ms(due + bound_off) / 1000
    # The SLI's own expressions, on one exception.
    (row,) = warehouse.query(
        f"SELECT {exceptions._DUE_S} AS due_s, {exceptions._RESOLVED_S}, {exceptions._MET}"
        f" FROM (SELECT {_sql_instant(opened)} AS opened_at, {_sql_instant(resolved)} AS resolved_at,"
        f" '{severity}' AS severity) AS x"
    ).result_rows
    due_s, resolved_s, met = row
    assert bool(met) == (resolved_s <= due_s) == (_ms(resolved) <= _ms(due))
    assert (due_s >= business_seconds(datetime.fromtimestamp(bound, UTC))) == (_ms(due) >= _ms(bound))


def test_the_business_time_kept_at_ingest_is_this_formula() -> None:
    """Migration 0007 stores each entry's approval and readiness in business seconds with a copy of the formula:
    a change to the formula must come with a migration that recomputes them."""
    migration = next(m for m in load_migrations() if m.version == 7)
    for column, instant, name in (("approved_business_s", "approved_at", "approved"),
                                  ("invoice_ready_business_s", "invoice_ready_at", "ready")):  # fmt: skip
        declared = f"{column} SimpleAggregateFunction(min, Nullable(Float64))\n        DEFAULT "
        assert declared + business_seconds_sql(instant, name) in migration.sql


def test_business_seconds_never_decrease(warehouse: Client) -> None:
    """So the min of each row's business seconds is those of the earliest row (migration 0007): every half hour
    of two weeks, weekends included."""
    monday = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
    instants = ", ".join(_sql_instant(monday + step * 1800.5) for step in range(2 * 7 * 48))
    rows = warehouse.query(
        f"SELECT {business_seconds_sql('t', 'b')} FROM (SELECT arrayJoin([{instants}]) AS t) ORDER BY t"
    ).result_rows
    seconds = [row[0] for row in rows]
    assert seconds == sorted(seconds) and len(set(seconds)) < len(seconds)  # and constant over each weekend
