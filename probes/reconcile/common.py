"""Helpers the built-in probes share: time parsing, money, and ERP reads sliced under SuiteQL's row limit."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from probes.adapters import suiteql_count, suiteql_rows
from probes.errors import BadResponse
from probes.transport import CallScope, SystemClient

__all__ = ["chunks", "epoch", "erp_rows_by_date", "money", "opt_float", "opt_int", "quoted", "to_date"]

SLICE_ROWS = 90_000  # under SuiteQL's 100,000 rows a query, with room for rows arriving while we page


def epoch(value: Any, *, field: str = "timestamp", system: str = "") -> float:
    """An RFC 3339 timestamp (or a date, read as its midnight UTC) as epoch seconds."""
    if not isinstance(value, str) or not value:
        raise BadResponse(f"{field} is missing or not a string", system=system)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadResponse(f"{field} {value!r} is not an ISO 8601 time", system=system) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def quoted(keys: list[str]) -> str:
    """A SuiteQL IN list. Keys come from the systems' own answers; quotes are doubled so none can end the literal."""
    return ", ".join("'" + k.replace("'", "''") + "'" for k in keys)


def to_date(t: float) -> date:
    return datetime.fromtimestamp(t, UTC).date()


def money(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount.quantize(Decimal("0.0001")) if amount.is_finite() else None


def opt_float(value: Any) -> float | None:
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None


def opt_int(options: Any, name: str, default: int) -> int:
    value = options.get(name, default) if hasattr(options, "get") else default
    return int(value)


def erp_rows_by_date(
    erp: SystemClient,
    scope: CallScope,
    table: str,
    columns: str,
    date_column: str,
    first: date,
    last: date,
    where: str = "",
    known_count: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows of `table` with first <= date_column <= last, read in date slices small enough for one SuiteQL query.

    Dates are formatted here (never user text), so the query needs no quoting beyond ISO dates."""
    extra = f" AND {where}" if where else ""
    days = (last - first).days + 1
    count = known_count
    if count is None:
        count = suiteql_count(
            erp,
            scope,
            f"SELECT COUNT(*) FROM {table} WHERE {date_column} >= '{first}' AND {date_column} <= '{last}'{extra}",
        )
    slices = max(1, math.ceil(count / SLICE_ROWS))
    step = max(1, math.ceil(days / slices))
    start = first
    while start <= last:
        end = min(last, start + timedelta(days=step - 1))
        yield from suiteql_rows(
            erp,
            scope,
            f"SELECT {columns} FROM {table} WHERE {date_column} >= '{start}' AND {date_column} <= '{end}'{extra}",
        )
        scope.deadline.check(f"reading {table}")
        start = end + timedelta(days=1)
