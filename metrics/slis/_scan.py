"""Shared shape of an SLI query: one scan of a merged state, grouped by a breakdown key, columns per window."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from metrics.catalogue import Reading
from metrics.query import Db, per_window, timestamp
from metrics.state import ENTRIES, PROJECT_VIEWS
from metrics.windows import Window, business_seconds

__all__ = [
    "BILLABLE_NUMBERS",
    "CLASSIFIED_NUMBERS",
    "ENTRIES_WITH_PROJECT",
    "Counts",
    "billable_entries",
    "rank_level",
    "entries_with_project",
    "readings",
    "records_query",
    "scan",
]


# Every code any system's view of a project holds, with the customer and billing type the PSA gives that project
# (matched by project key): after a CRM rename the PSA holds the new code and the ERP the old one, under which the
# lines entered before the rename were booked, and those lines belong to the same customer. The same rule as
# BILLABLE_NUMBERS below, so a breakdown by customer adds up to the overall figure.
CODE_PROJECTS = f"""
SELECT v.code AS project, any(psa.customer) AS customer, any(psa.billing_type) AS billing_type
FROM ({PROJECT_VIEWS}) AS v
INNER JOIN (SELECT project_key, customer, billing_type FROM ({PROJECT_VIEWS}) WHERE system = 'psa') AS psa
    ON psa.project_key = v.project_key
WHERE v.code != ''
GROUP BY v.code
"""


# Entries with their project's customer and billing type as the PSA holds them (billable = time and materials).
def entries_with_project(where: str = "1") -> str:
    """`where` (on the entry's own columns) filters before the join, so the join sees only the entries in play."""
    return f"""
SELECT e.*, p.customer AS customer, p.billing_type AS billing_type
FROM (SELECT * FROM ({ENTRIES}) WHERE {where}) AS e LEFT JOIN ({CODE_PROJECTS}) AS p ON p.project = e.project
"""


ENTRIES_WITH_PROJECT = entries_with_project()

# The projects billed by the hour (time and materials) as the PSA holds them, by number (0011_project_number.sql:
# the same expression numbers each entry's code): fixed-fee and internal work is not invoiced per entry. Read from
# each project's latest values, not from PROJECTS, which groups them per code (the set took 36 ms against 18 ms
# over 56,540 projects at 50,000 consultants, paid by each SLI that asks). A code is billable when any system's view
# of a project the PSA bills by the hour holds it: after a CRM rename the PSA holds the new code and the ERP the
# old one, under which the lines entered before the rename were booked and invoiced.
_BILLABLE_KEYS = (
    f"SELECT project_key FROM ({PROJECT_VIEWS}) WHERE system = 'psa' AND billing_type = 'time_and_materials'"
)
BILLABLE_NUMBERS = (
    f"SELECT if(code = '', 0, cityHash64(code)) FROM ({PROJECT_VIEWS}) WHERE project_key IN ({_BILLABLE_KEYS})"
)
# The codes whose billing type is known at all (billable or not), the same way: an entry on any other code is
# neither billable nor not, and coverage counts it (metrics/coverage.py) instead of dropping it.
_CLASSIFIED_KEYS = f"SELECT project_key FROM ({PROJECT_VIEWS}) WHERE system = 'psa' AND billing_type != ''"
CLASSIFIED_NUMBERS = (
    f"SELECT if(code = '', 0, cityHash64(code)) FROM ({PROJECT_VIEWS}) WHERE project_key IN ({_CLASSIFIED_KEYS})"
)


def rank_level(q: float) -> str:
    """The level to give quantileExactLow for the nearest-rank q-quantile (the smallest value with at least q of the
    values at or below it), as docs/slis.md defines percentiles. quantileExactLow takes the value at 0-based index
    floor(q * n): one rank too high when q * n is whole (n a multiple of 20 for p95). A level a hair below q takes
    floor(q * n) - 1 there and changes nothing elsewhere, where q * n is at least 1/20 above a whole number (for
    p95, p99) while the hair times n stays far below that up to 10^10 values."""
    return repr(q - 1e-12) if q != 0.5 else "0.5"  # 0.5 is the lower median already: rank ceil(n / 2)


def billable_entries(where: str = "1", with_customer: bool = False) -> str:
    """The entries matching `where` (on their own columns) on billable projects. `where` is written before the
    project lookup, so the engine's short-circuit `AND` looks up only the entries it keeps; only a breakdown by
    customer, which needs the customer, joins.

    By number, kept at ingest (0011): looking up the 1.8 M open entries of a 50,000-consultant firm took 211 ms of
    CPU by code and 120 ms by number. (0008 kept the number in a (code, number) tuple; reading that under FINAL read
    the code too and cost more than it saved, and 0010 dropped it.)
    """
    if with_customer:
        return f"SELECT * FROM ({entries_with_project(where)}) WHERE billing_type = 'time_and_materials'"
    return f"SELECT * FROM ({ENTRIES}) WHERE {where} AND project_number IN ({BILLABLE_NUMBERS})"


@dataclass(frozen=True, slots=True)
class Counts:
    """Counts per window of the rows whose `instant` falls in it: output name -> condition on the row ('1': every
    such row).

    The windows of an evaluation end together (each burn-rate window trails the SLO window, windows.py), so they
    are nested, shortest inside: a row is tiered once, by the innermost window it falls in, the rows are grouped
    by tier, and a window's count is the sum of its own tier and those inside it. Two aggregates then count every
    window, where a column per window took a condition per window per row and, more, the engine's analysis of
    fourteen aggregates (first pass on an empty warehouse: 17-21 -> 10-13 ms; the same at 50,000 consultants).

    `one_pass`: the rows are not grouped by tier; each count is one -Resample aggregate that keeps a count per tier,
    so scan's `main_columns` aggregate all the first window's rows at once. For percentiles: grouped by tier, their
    values were kept as a state per tier and merged again, which cost more at 50,000 consultants (invoice readiness
    393-451 -> 470-492 ms) than the fewer aggregates saved; in one pass they save it (readiness 67 -> 62 ms of CPU
    at 5,000 consultants, 19.5 -> 15 ms on an empty warehouse). Counts alone are cheaper grouped (first pass
    17-20 ms of CPU grouped, 18-22 in one pass).
    """

    instant: str
    names: dict[str, str]
    closed: bool = False  # a window holds its end instant (instant <= end)
    # `instant` is in business seconds (windows.py), compared with the windows' bounds in business seconds
    business: bool = False
    one_pass: bool = False


def _tier(windows: Sequence[Window], counts: Counts) -> tuple[str, list[int]]:
    """SQL for a row's tier and each tier's window index, innermost first (tier len(windows): in none)."""
    if any(w.end != windows[0].end for w in windows):
        raise ValueError("tiered counts need windows that end together")
    order = sorted(range(len(windows)), key=lambda i: windows[i].start, reverse=True)
    n = len(windows)
    # The bounds scan binds: f{i}/t0 as instants, or bf{i}/bt0 in business seconds.
    prefix, kind = ("b", "Float64") if counts.business else ("", "DateTime64(6, 'UTC')")
    starts = ", ".join(f"{counts.instant} >= {{{prefix}f{i}:{kind}}}, {pos}" for pos, i in enumerate(order))
    before_end = f"{counts.instant} {'<=' if counts.closed else '<'} {{{prefix}t0:{kind}}}"
    return f"if({before_end}, multiIf({starts}, {n}), {n})", order


def _spread(rows: list[dict[str, Any]], counts: Counts, order: list[int]) -> None:
    """Each row's per-tier counts -> `{name}_{i}` per window i (its tier and every tier inside it)."""
    for row in rows:
        if counts.one_pass:  # an array per count, indexed by tier
            per_tier = {name: row.pop(name) for name in counts.names}
        else:  # a (tier, count, ...) tuple per tier that has rows
            by_tier = {t[0]: t[1:] for t in row.pop("tiers")}
            per_tier = {
                name: [by_tier[pos][k] if pos in by_tier else 0 for pos in range(len(order))]
                for k, name in enumerate(counts.names)
            }
        for name, tiers in per_tier.items():
            for pos, total in enumerate(itertools.accumulate(tiers)):
                row[f"{name}_{order[pos]}"] = total


def scan(
    db: Db,
    source: str,
    windows: Sequence[Window],
    key: str | None,
    *,
    counts: Counts | None = None,
    columns: str = "",
    where: str = "1",
    parameters: dict[str, Any] | None = None,
    main_columns: str = "",
    main_totals: str = "",
) -> list[dict[str, Any]]:
    """One row per breakdown key with `{name}_{i}` for each of `counts` and window i, or else `columns` (SQL with
    {F}, {T} and {i}) repeated for every window.

    `main_columns` are only for the first window, the SLO window (percentiles, details: a percentile per burn-rate
    window would keep every value seven times); `{IN}` in them says the row's instant is in it. With `counts` they
    aggregate one tier's rows and `main_totals` combine the tiers (sums of counts, -Merge of -State aggregates);
    with counts in one pass (`Counts.one_pass`) they aggregate every row at once and need no totals.
    """
    if counts and columns:
        raise ValueError("a column per window or tiered counts, not both: the tiers would split the columns")
    if main_totals and not counts:
        raise ValueError("main_totals combine tiers: without counts, main_columns are the totals")
    params: dict[str, Any] = {f"f{i}": timestamp(w.start) for i, w in enumerate(windows)}
    params.update({"t0": timestamp(windows[0].end), "as_of": timestamp(windows[0].end), **(parameters or {})})
    if counts and counts.business:
        params.update({f"bf{i}": business_seconds(w.start) for i, w in enumerate(windows)})
        params["bt0"] = business_seconds(windows[0].end)
    label = key or "''"
    # Overall (no key): no GROUP BY, so an empty state still yields one row of zero counts, not no row at all.
    # Grouping follows the state tables' sort keys where it can: stream instead of hashing every record.
    grouping = "GROUP BY key ORDER BY key" if key else ""
    parts = []
    if columns:
        cols, window_params = per_window(windows, columns)
        params.update(window_params)
        parts.append(cols)
    if not counts:
        parts += [per_window(windows[:1], main_columns)[0]] if main_columns else []
        selected = ",\n".join(parts)
        return db.rows(f"SELECT {label} AS key, {selected} FROM ({source}) AS e WHERE {where} {grouping}", params)
    tier, order = _tier(windows, counts)
    names = list(counts.names)
    # The tiers of the first window and those inside it.
    main = per_window(windows[:1], main_columns.replace("{IN}", f"(tier <= {order.index(0)})"))[0]
    if counts.one_pass:
        if main_totals:
            raise ValueError("main_totals combine tiers: in one pass, main_columns are the totals")
        n = len(windows)  # tier n (in no window) is left out of the arrays
        resampled = [
            f"countResample(0, {n}, 1)(e.tier) AS {name}"
            if c == "1"
            else f"countIfResample(0, {n}, 1)({c}, e.tier) AS {name}"
            for name, c in counts.names.items()
        ]
        selected = ",\n".join([*parts, *resampled, *([main] if main_columns else [])])
        rows = db.rows(
            f"""SELECT {label} AS key, {selected}
                FROM (SELECT e.*, {tier} AS tier FROM ({source}) AS e WHERE {where}) AS e {grouping}""",
            params,
        )
        _spread(rows, counts, order)
        return rows
    parts += [f"count{'' if c == '1' else 'If'}({'' if c == '1' else c}) AS {n}" for n, c in counts.names.items()]
    if main_columns:
        parts.append(main)
    per_tier = ",\n".join(parts)
    totals = f", {main_totals}" if main_totals else ""
    sql = f"""
        SELECT {"key" if key else "'' AS key"}, groupArray(({", ".join(["tier", *names])})) AS tiers{totals}
        FROM (SELECT {label} AS key, {tier} AS tier, {per_tier}
              FROM ({source}) AS e WHERE {where} GROUP BY key, tier)
        {grouping}"""
    rows = db.rows(sql, params)
    _spread(rows, counts, order)
    return rows


def readings(
    rows: list[dict[str, Any]], count: int, build: Callable[[dict[str, Any], int], Reading]
) -> dict[str, list[Reading]]:
    return {str(row["key"]): [build(row, i) for i in range(count)] for row in rows}


def records_query(db: Db, sql: str, window: Window, limit: int, **parameters: Any) -> list[dict[str, Any]]:
    params = {"f0": timestamp(window.start), "as_of": timestamp(window.end), "limit": limit, **parameters}
    return db.rows(sql, params)
