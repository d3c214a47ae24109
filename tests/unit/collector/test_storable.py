"""The collector's idea of a storable time, date and amount agrees with the engine's own parsing of the same values:
what the checks accept, the warehouse stores exactly as meant; what it would refuse or silently change, they
reject."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.storable import (
    AMOUNT_LIMIT,
    DATE_MAX,
    DATE_MIN,
    TIME_MAX_US,
    TIME_MIN_US,
    amount_problem,
    date_problem,
    parse_time,
    time_column,
)

ENGINE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Each of these passed the checks once and then stopped every insert (the engine refused the whole batch).
REFUSED_TIMES = [
    "2026-12-07T10:00:00+00:00:30",  # an offset with seconds
    "2026-W50-1T10:00:00Z",  # an ISO week date
    "2026-12-07T10:00:00,5Z",  # a comma before the fraction
    "20261207T100000Z",  # ISO 8601 basic format
    "2026-12-07T10:00Z",  # no seconds
    "2026-12-07",  # no time at all
    "2026-12-07T10:00:00",  # no offset
]
GOOD_TIMES = [
    "2026-12-07T10:00:00Z",
    "2026-12-07t10:00:00z",  # RFC 3339 allows either case
    "2026-12-07 10:00:00+05:30",  # and a space for T
    "2026-12-07T10:00:00.123456789-08:00",  # nanoseconds: kept to the microsecond, as the column does
    "1970-01-01T00:00:00Z",
    "2106-02-07T06:28:15Z",
]


def _stored_micros(warehouse: Client, column: str) -> int:
    warehouse.command("DROP TABLE IF EXISTS storable_times")
    warehouse.command("CREATE TABLE storable_times (time DateTime64(6, 'UTC')) ENGINE = Memory")
    warehouse.raw_insert(
        "storable_times", insert_block=orjson.dumps({"time": column}), fmt="JSONEachRow", settings=_SETTINGS
    )
    return int(warehouse.query("SELECT toUnixTimestamp64Micro(time) FROM storable_times").result_rows[0][0])


_SETTINGS = {"date_time_input_format": "best_effort"}  # the writer's own insert setting


@pytest.mark.parametrize("value", REFUSED_TIMES)
def test_times_outside_rfc3339_are_rejected_with_a_reason(value: str) -> None:
    problem = parse_time(value)
    assert isinstance(problem, str) and "RFC 3339" in problem


@pytest.mark.parametrize("value", GOOD_TIMES)
def test_accepted_times_are_stored_as_the_instant_they_name(warehouse: Client, value: str) -> None:
    micros = parse_time(value)
    assert isinstance(micros, int)
    expected = datetime.fromisoformat(value.upper())
    assert micros == (expected - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert _stored_micros(warehouse, time_column(micros)) == micros


@ENGINE
@given(st.integers(TIME_MIN_US, TIME_MAX_US))
def test_the_time_column_is_read_back_exactly_over_the_whole_range(warehouse: Client, micros: int) -> None:
    assert _stored_micros(warehouse, time_column(micros)) == micros


def test_the_time_range_is_the_engines() -> None:
    # TTL and partition expressions read the time as a DateTime: 1970-01-01 to 2106-02-07T06:28:15.
    assert TIME_MIN_US == 0 and TIME_MAX_US // 1_000_000 == 2**32 - 1


def _engine_date(warehouse: Client, value: str) -> str | None:
    """What the state views' toDate makes of a date string: the stored date, or None when it throws."""
    try:
        return str(warehouse.query("SELECT toString(toDate({v:String}))", parameters={"v": value}).result_rows[0][0])
    except Exception:
        return None


@pytest.mark.parametrize(
    "value",
    ["2026-W50-1", "1960-01-01", "2200-01-01", "0000-00-00", "2026-02-30", "2026-13-01", "26-12-07", "2026-1-07"],
)
def test_dates_the_engine_refuses_or_changes_are_rejected(warehouse: Client, value: str) -> None:
    assert date_problem(value)
    assert _engine_date(warehouse, value) != value  # the engine throws, or stores another day


@ENGINE
@given(st.dates(datetime(1900, 1, 1).date(), datetime(2300, 12, 31).date()))
def test_a_date_is_accepted_exactly_when_the_engine_stores_it_unchanged(warehouse: Client, day: Any) -> None:
    value = day.isoformat()
    assert (date_problem(value) == "") == (_engine_date(warehouse, value) == value)
    assert (date_problem(value) == "") == (DATE_MIN <= value <= DATE_MAX)


def _engine_takes_amount(warehouse: Client, amount: float | int) -> bool:
    warehouse.command("DROP TABLE IF EXISTS storable_amounts")
    warehouse.command("CREATE TABLE storable_amounts (amount Nullable(Decimal(18, 4))) ENGINE = Memory")
    try:
        warehouse.raw_insert("storable_amounts", insert_block=orjson.dumps({"amount": amount}), fmt="JSONEachRow")
    except Exception:
        return False
    return True


@pytest.mark.parametrize(
    "amount", [1e20, 2**64 - 1, 2**63, -(10**14), 10**14, 1e14, 99_999_999_999_999.98, -99_999_999_999_999, 0.01]
)
def test_an_amount_is_accepted_exactly_when_the_column_holds_it(warehouse: Client, amount: float | int) -> None:
    assert (amount_problem(amount) == "") == _engine_takes_amount(warehouse, amount)


@ENGINE
@given(st.floats(-1e16, 1e16) | st.integers(-(2**64), 2**64 - 1))
def test_amounts_agree_with_the_engine_across_the_boundary(warehouse: Client, amount: float | int) -> None:
    assert (amount_problem(amount) == "") == _engine_takes_amount(warehouse, amount)
    assert AMOUNT_LIMIT == 10**14
