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
