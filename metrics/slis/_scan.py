"""Shared shape of an SLI query: one scan of a merged state, grouped by a breakdown key, columns per window."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from metrics.catalogue import Reading
from metrics.query import Db, per_window, timestamp
from metrics.state import ENTRIES, PROJECTS
from metrics.windows import Window

__all__ = ["ENTRIES_WITH_PROJECT", "billable_entries", "entries_with_project", "readings", "records_query", "scan"]


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


def scan(
    db: Db,
    source: str,
    windows: Sequence[Window],
    columns: str,
    key: str | None,
    where: str = "1",
    parameters: dict[str, Any] | None = None,
    main_columns: str = "",
) -> list[dict[str, Any]]:
    """`columns` repeat for every window (counts for burn rates); `main_columns` (percentiles, details) only for
    the first, the SLO window: a percentile per burn-rate window would keep every value seven times."""
    cols, params = per_window(windows, columns)
    if main_columns:
        cols += ",\n" + per_window(windows[:1], main_columns)[0]
    params["as_of"] = timestamp(windows[0].end)
    params.update(parameters or {})
    # Overall (no key): no GROUP BY, so an empty state still yields one row of zero counts, not no row at all.
    grouping = "GROUP BY key ORDER BY key" if key else ""
    label = key or "''"
    # Grouping follows the state tables' sort keys where it can: stream instead of hashing every record.
    sql = f"SELECT {label} AS key, {cols} FROM ({source}) AS e WHERE {where} {grouping}"
    return db.rows(sql, params)


def readings(
    rows: list[dict[str, Any]], count: int, build: Callable[[dict[str, Any], int], Reading]
) -> dict[str, list[Reading]]:
    return {str(row["key"]): [build(row, i) for i in range(count)] for row in rows}


def records_query(db: Db, sql: str, window: Window, limit: int, **parameters: Any) -> list[dict[str, Any]]:
    params = {"f0": timestamp(window.start), "as_of": timestamp(window.end), "limit": limit, **parameters}
    return db.rows(sql, params)
