"""Business time in SQL (metrics/windows.py) agrees with the simulator's calendar, which the ground truth uses:
elapsed business days between two instants, and an instant plus business time (exception due times)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from clickhouse_connect.driver.client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.windows import add_business_seconds_sql, business_seconds_sql
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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(t=instants, days=st.sampled_from([0.5, 1.0, 3.0, 0.25, 2.75]))
def test_adding_business_time(warehouse: Client, t: float, days: float) -> None:
    sql = f"SELECT toUnixTimestamp64Milli({add_business_seconds_sql(_sql_instant(t), str(days * 86400), 'due')}) / 1000"
    got = warehouse.query(sql).result_rows[0][0]
    expected = add_business_days(t, days)
    # The calendar lands exactly at midnight on Friday 24:00 where the SQL lands on Monday 00:00: both are the
    # same business instant, the first weekend second after it.
    assert got == pytest.approx(expected, abs=0.002) or (
        datetime.fromtimestamp(expected, UTC).weekday() == 5 and expected % 86400 == 0
    )


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
