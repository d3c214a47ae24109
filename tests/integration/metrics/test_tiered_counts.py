"""Tiered window counts (metrics/slis/_scan.py `Counts`) equal a plain count per window, on the real engine.

Each SLI's burn-rate windows are counted from one tier per row; this checks that against the definition (a row
counts in a window when its instant falls in it and its condition holds) for instants on and around every window
boundary, windows clipped to a short SLO window, open and closed ends, and rows with no instant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.query import Db
from metrics.slis._scan import Counts, scan
from metrics.windows import BURN_WINDOWS, Window

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _windows(main_seconds: int, shift: timedelta) -> list[Window]:
    main = Window(END - shift - timedelta(seconds=main_seconds), END - shift)
    return [main] + [main.trailing(length) for length in BURN_WINDOWS.values()]


def _source(rows: list[tuple[int | None, int, str]]) -> str:
    """Rows as a literal table: instant (seconds before END, NULL for none), a 0/1 flag and a breakdown key."""
    values = ", ".join(f"({'NULL' if s is None else s}, {flag}, '{key}')" for s, flag, key in rows) or "(NULL, 0, 'a')"
    end = END.strftime("%Y-%m-%d %H:%M:%S")
    return f"""
        SELECT if(s IS NULL, NULL, toDateTime64('{end}', 6, 'UTC') - toIntervalSecond(s)) AS at, flag, k
        FROM values('s Nullable(Int64), flag UInt8, k String', {values})"""


def _expected(rows: list[tuple[int | None, int, str]], windows: list[Window], closed: bool) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for s, flag, key in rows:
        counts = out.setdefault(key, [0] * (2 * len(windows)))
        if s is None:
            continue
        at = END - timedelta(seconds=s)
        for i, w in enumerate(windows):
            if w.start <= at and (at <= w.end if closed else at < w.end):
                counts[2 * i] += 1
                counts[2 * i + 1] += flag
    return out


# Instants near every boundary of the windows: on it, a second either side.
_BOUNDARIES = [0, 300, 1800, 3600, 6 * 3600, 86400, 3 * 86400, 30 * 86400]
_INSTANT = st.one_of(
    st.none(),
    st.sampled_from(_BOUNDARIES).flatmap(lambda b: st.integers(b - 1, b + 1)),
    st.integers(-86400, 40 * 86400),
)
_ROWS = st.lists(st.tuples(_INSTANT, st.integers(0, 1), st.sampled_from("ab")), max_size=40)


@pytest.mark.parametrize("one_pass", [False, True])
@pytest.mark.parametrize("closed", [False, True])
@given(rows=_ROWS, main_seconds=st.sampled_from([600, 2 * 86400, 30 * 86400]), shift_hours=st.sampled_from([0, 24]))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_tiered_counts_equal_a_count_per_window(
    warehouse: Client,
    closed: bool,
    one_pass: bool,
    rows: list[tuple[int | None, int, str]],
    main_seconds: int,
    shift_hours: int,
) -> None:
    rows = rows or [(None, 0, "a")]  # a row with no instant: counted in no window
    windows = _windows(main_seconds, timedelta(hours=shift_hours))
    counts = Counts("e.at", {"total": "1", "good": "e.flag = 1"}, closed=closed, one_pass=one_pass)
    got = scan(Db(warehouse), _source(rows), windows, "e.k", counts=counts)
    expected = _expected(rows, windows, closed)
    for row in got:
        key = row["key"]
        assert [row[f"{name}_{i}"] for i in range(len(windows)) for name in ("total", "good")] == expected[key], key
    assert {row["key"] for row in got} == set(expected)


def test_the_first_windows_own_rows_are_named_for_its_details(warehouse: Client) -> None:
    # {IN} in main_columns: the row's instant is in the first window, whatever the other windows are; the tiers'
    # aggregates are combined by main_totals (a -State merged over the tiers is the aggregate over their rows).
    windows = _windows(2 * 86400, timedelta(0))
    rows = [(10, 1, "a"), (86400 + 5, 0, "a"), (2 * 86400 + 5, 1, "a"), (None, 1, "a")]
    (row,) = scan(
        Db(warehouse),
        _source(rows),
        windows,
        None,
        counts=Counts("e.at", {"total": "1"}),
        main_columns="countIf({IN}) AS inside_t, uniqExactIfState(e.flag, {IN}) AS flags_t",
        main_totals="sum(inside_t) AS inside, uniqExactIfMerge(flags_t) AS flags",
    )
    assert (row["inside"], row["flags"]) == (2, 2)  # the rows 10 s and a day ago: flags 1 and 0
    assert [row[f"total_{i}"] for i in range(7)] == [2, 1, 1, 1, 1, 1, 2]


def test_in_one_pass_the_first_windows_rows_are_aggregated_at_once(warehouse: Client) -> None:
    # One pass: main_columns see every row of the first window together (a percentile needs them all), with no
    # totals to combine; rows outside every window count in none and are not in {IN}.
    windows = _windows(2 * 86400, timedelta(0))
    rows = [(10, 1, "a"), (86400 + 5, 0, "a"), (2 * 86400 - 5, 1, "a"), (2 * 86400 + 5, 1, "a"), (None, 1, "a")]
    (row,) = scan(
        Db(warehouse),
        _source(rows),
        windows,
        None,
        counts=Counts("e.at", {"total": "1", "good": "e.flag = 1"}, one_pass=True),
        main_columns="quantileExactLowIf(0.5)(e.flag, {IN}) AS median_flag, countIf({IN}) AS inside",
    )
    assert (row["inside"], row["median_flag"]) == (3, 1)  # flags 1, 0, 1
    assert [row[f"total_{i}"] for i in range(7)] == [3, 1, 1, 1, 1, 1, 3]
    assert [row[f"good_{i}"] for i in range(7)] == [2, 1, 1, 1, 1, 1, 2]
    with pytest.raises(ValueError, match="in one pass"):
        scan(Db(warehouse), _source(rows), windows, None, counts=Counts("e.at", {"total": "1"}, one_pass=True),
             main_columns="countIf({IN}) AS n_t", main_totals="sum(n_t) AS n")  # fmt: skip


def test_windows_that_do_not_end_together_are_refused(warehouse: Client) -> None:
    windows = [Window(END - timedelta(days=2), END), Window(END - timedelta(days=1), END - timedelta(hours=1))]
    with pytest.raises(ValueError, match="end together"):
        scan(Db(warehouse), _source([(10, 1, "a")]), windows, None, counts=Counts("e.at", {"total": "1"}))
