"""Shared shape of an SLI query: one scan of a merged state, grouped by a breakdown key, columns per window."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from metrics.catalogue import Reading
from metrics.query import Db, per_window, timestamp
from metrics.state import ENTRIES, PROJECTS
from metrics.windows import Window

__all__ = [
    "ENTRIES_WITH_PROJECT",
    "Counts",
    "billable_entries",
    "entries_with_project",
    "readings",
    "records_query",
    "scan",
]


# Entries with their project's customer and billing type as the PSA holds them (billable = time and materials).
def entries_with_project(where: str = "1") -> str:
    """`where` (on the entry's own columns) filters before the join, so the join sees only the entries in play."""
    return f"""
SELECT e.*, p.customer AS customer, p.billing_type AS billing_type
FROM (SELECT * FROM ({ENTRIES}) WHERE {where}) AS e LEFT JOIN ({PROJECTS}) AS p ON p.project = e.project
"""


ENTRIES_WITH_PROJECT = entries_with_project()

# Codes of the projects billed by the hour (time and materials) as the PSA holds them: fixed-fee and internal work
# is not invoiced per entry.
BILLABLE_PROJECTS = f"SELECT project FROM ({PROJECTS}) WHERE billing_type = 'time_and_materials'"


def billable_entries(where: str = "1", with_customer: bool = False) -> str:
    """The entries matching `where` (on their own columns) on billable projects. `where` filters first, then the
    survivors' project hashes are looked up in the set of billable ones (metrics/query.py keeps the two filters
    apart), so no entry carries its project's strings through the query; only a breakdown by customer, which needs
    the customer, joins."""
    if with_customer:
        return f"SELECT * FROM ({entries_with_project(where)}) WHERE billing_type = 'time_and_materials'"
    # By the code's hash, kept with each entry (0008_project_hash.sql): a number is looked up three times faster
    # than a string. 64 bits: two of a firm's project codes sharing one is not to be expected.
    billable = f"SELECT cityHash64(project) FROM ({BILLABLE_PROJECTS})"
    return f"SELECT * FROM (SELECT * FROM ({ENTRIES}) WHERE {where}) WHERE project_hash IN ({billable})"


@dataclass(frozen=True, slots=True)
class Counts:
    """Counts per window of the rows whose `instant` falls in it: output name -> condition on the row ('1': every
    such row).

    The windows of an evaluation end together (each burn-rate window trails the SLO window, windows.py), so they
    are nested, shortest inside: a row is tiered once, by the innermost window it falls in, and a window's count
    is the sum of its own tier and those inside it. One aggregate per name then counts every window (`-Resample`
    gives an array of per-tier counts), where a column per window cost a condition per window per row and, more,
    the engine's analysis of seven copies (first pass on an empty warehouse: 17 -> 10 ms).
    """

    instant: str
    names: dict[str, str]
    closed: bool = False  # a window holds its end instant (instant <= end)


def _tiered(windows: Sequence[Window], counts: Counts) -> tuple[str, list[int]]:
    """The count columns and each tier's window index, innermost first; the tier alias is `tier`."""
    if any(w.end != windows[0].end for w in windows):
        raise ValueError("tiered counts need windows that end together")
    order = sorted(range(len(windows)), key=lambda i: windows[i].start, reverse=True)
    n = len(windows)
    starts = ", ".join(f"{counts.instant} >= {{f{i}:DateTime64(6, 'UTC')}}, {pos}" for pos, i in enumerate(order))
    before_end = f"{counts.instant} {'<=' if counts.closed else '<'} {{t0:DateTime64(6, 'UTC')}}"
    # Outside every window (or no instant): tier n, which the -Resample range [0, n) leaves out.
    tier = f"(if({before_end}, multiIf({starts}, {n}), {n}) AS tier)"
    cols = []
    for name, condition in counts.names.items():
        cols.append(
            f"countResample(0, {n}, 1)({tier}) AS {name}"
            if condition == "1"
            else f"countIfResample(0, {n}, 1)({condition}, {tier}) AS {name}"
        )
        tier = "tier"
    return ",\n".join(cols), order


def _spread(rows: list[dict[str, Any]], counts: Counts, order: list[int]) -> None:
    """Per-tier count arrays -> `{name}_{i}` per window i (its tier and every tier inside it)."""
    for row in rows:
        for name in counts.names:
            for pos, total in enumerate(itertools.accumulate(row.pop(name))):
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
) -> list[dict[str, Any]]:
    """One row per breakdown key with `{name}_{i}` for each of `counts` and window i; `columns` (SQL with {F},
    {T} and {i}) repeat for every window, for what is not a count; `main_columns` only for the first, the SLO
    window (percentiles, details: a percentile per burn-rate window would keep every value seven times), where
    `{IN}` says the row's instant is in it."""
    cols, params = per_window(windows, columns) if columns else ("", {})
    parts, order = [cols] if cols else [], []
    if counts:
        counted, order = _tiered(windows, counts)
        parts.append(counted)
    if main_columns:
        inside = f"(tier <= {order.index(0)})" if counts else "1"  # the tiers of the first window and inner ones
        parts.append(per_window(windows[:1], main_columns.replace("{IN}", inside))[0])
    params.update({f"f{i}": timestamp(w.start) for i, w in enumerate(windows)})
    params["t0"] = timestamp(windows[0].end)
    params["as_of"] = timestamp(windows[0].end)
    params.update(parameters or {})
    # Overall (no key): no GROUP BY, so an empty state still yields one row of zero counts, not no row at all.
    grouping = "GROUP BY key ORDER BY key" if key else ""
    label = key or "''"
    # Grouping follows the state tables' sort keys where it can: stream instead of hashing every record.
    selected = ",\n".join(parts)
    sql = f"SELECT {label} AS key, {selected} FROM ({source}) AS e WHERE {where} {grouping}"
    rows = db.rows(sql, params)
    if counts:
        _spread(rows, counts, order)
    return rows


def readings(
    rows: list[dict[str, Any]], count: int, build: Callable[[dict[str, Any], int], Reading]
) -> dict[str, list[Reading]]:
    return {str(row["key"]): [build(row, i) for i in range(count)] for row in rows}


def records_query(db: Db, sql: str, window: Window, limit: int, **parameters: Any) -> list[dict[str, Any]]:
    params = {"f0": timestamp(window.start), "as_of": timestamp(window.end), "limit": limit, **parameters}
    return db.rows(sql, params)
