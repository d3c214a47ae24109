"""Cases and their audit log in the warehouse (0017_exception_cases.sql): read the latest version of each case,
write new versions, append audit entries, and the queue's listing (filters, money x age ranking, paging).

Every value from a request is a bound parameter; the listing's ORDER BY is fixed text."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from cases.model import CLOSED, AuditEntry, Case

__all__ = ["Page", "append_audit", "history", "list_cases", "load_case", "load_cases", "write_cases"]

_COLUMNS = ("case_id", "kind", "cause", "business_key", "severity", "systems", "flow", "tenant", "project",
            "consultant", "money", "detail", "occurrences", "opened_at", "last_seen", "due_at", "owner_team",
            "assignee", "state", "waiting_reason", "waiting_since", "resolution", "resolution_note", "resolved_at",
            "resolved_by", "updated_at")  # fmt: skip
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM exception_cases FINAL"


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _case(row: Sequence[Any]) -> Case:
    values = dict(zip(_COLUMNS, row, strict=True))
    for name in ("opened_at", "last_seen", "due_at", "waiting_since", "resolved_at", "updated_at"):
        values[name] = _utc(values[name])
    values["systems"] = tuple(values["systems"])
    values["money"] = {str(k): round(float(v), 4) for k, v in values["money"].items()}
    values["occurrences"] = int(values["occurrences"])
    return Case(**values)


def load_cases(client: Client) -> dict[str, Case]:
    return {c.case_id: c for c in (_case(r) for r in client.query(_SELECT).result_rows)}


def load_case(client: Client, case_id: str) -> Case | None:
    rows = client.query(f"{_SELECT} WHERE case_id = {{id:String}}", parameters={"id": case_id}).result_rows
    return _case(rows[0]) if rows else None


def write_cases(client: Client, cases: Sequence[Case]) -> None:
    if not cases:
        return
    base = time.time_ns()
    rows = []
    for i, c in enumerate(cases):
        money = {k: Decimal(str(round(v, 4))) for k, v in c.money.items()}
        rows.append([c.case_id, c.kind, c.cause, c.business_key, c.severity, list(c.systems), c.flow, c.tenant,
                     c.project, c.consultant, money, c.detail, c.occurrences, c.opened_at, c.last_seen, c.due_at,
                     c.owner_team, c.assignee, c.state, c.waiting_reason, c.waiting_since, c.resolution,
                     c.resolution_note, c.resolved_at, c.resolved_by, c.updated_at, base + i])  # fmt: skip
    client.insert("exception_cases", rows, column_names=[*_COLUMNS, "version"])


def append_audit(client: Client, entries: Sequence[AuditEntry]) -> None:
    if not entries:
        return
    base = time.time_ns()
    rows = [
        [e.case_id, e.at, base + i, e.actor, e.action, orjson.dumps(e.detail).decode(),
         orjson.dumps(e.before).decode(), orjson.dumps(e.after).decode()]
        for i, e in enumerate(entries)
    ]  # fmt: skip
    columns = ["case_id", "at", "seq", "actor", "action", "detail", "before", "after"]
    client.insert("exception_case_audit", rows, column_names=columns)


def history(client: Client, case_id: str) -> list[dict[str, Any]]:
    rows = client.query(
        "SELECT at, actor, action, detail, before, after FROM exception_case_audit WHERE case_id = {id:String} "
        "ORDER BY at, seq",
        parameters={"id": case_id},
    ).result_rows
    return [
        {
            "at": _utc(r[0]).isoformat().replace("+00:00", "Z"),  # type: ignore[union-attr]
            "actor": r[1],
            "action": r[2],
            "detail": orjson.loads(r[3]),
            "before": orjson.loads(r[4]),
            "after": orjson.loads(r[5]),
        }
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class Page:
    cases: list[Case]
    total: int
    next_offset: int | None


def list_cases(
    client: Client,
    *,
    now: datetime,
    states: Sequence[str] = (),
    owner: str | None = None,
    cause: str | None = None,
    tenant: str | None = None,
    due_before: datetime | None = None,
    ids: Sequence[str] = (),
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Cases matching every filter given, the most money at stake for the longest first: the sum of the case's
    amounts (currencies are not converted) times its age in seconds, then age, then id (a stable order for paging).
    `due_before` keeps the cases still open that are due by then (breaching soon, or already past due)."""
    where, params = ["1"], {"now": now.astimezone(UTC).replace(tzinfo=None), "limit": limit, "offset": offset}
    if states:
        where.append("state IN {states:Array(String)}")
        params["states"] = list(states)
    if due_before is not None:
        where.append("state NOT IN {closed:Array(String)} AND due_at <= {due_before:DateTime64(6, 'UTC')}")
        params["closed"] = list(CLOSED)
        params["due_before"] = due_before.astimezone(UTC).replace(tzinfo=None)
    if ids:
        where.append("case_id IN {ids:Array(String)}")
        params["ids"] = list(ids)
    for name, value in (("owner_team", owner), ("cause", cause), ("tenant", tenant)):
        if value is not None:
            where.append(f"{name} = {{{name}:String}}")
            params[name] = value
    condition = " AND ".join(where)
    age = "greatest(0, dateDiff('second', opened_at, {now:DateTime64(6, 'UTC')}))"
    # The page's ids first, ranked over the few columns the filters and the order need, then only those rows whole:
    # ranking 100,000 cases with their detail and maps read the whole table (about half the time at that size).
    ranked = f"""
        SELECT case_id FROM exception_cases FINAL WHERE {condition}
        ORDER BY toFloat64(arraySum(mapValues(money))) * {age} DESC, {age} DESC, case_id
        LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}"""
    page = [str(r[0]) for r in client.query(ranked, parameters=params).result_rows]
    rows: dict[str, Case] = {}
    if page:
        whole = f"{_SELECT} WHERE case_id IN {{page:Array(String)}}"
        rows = {c.case_id: c for c in map(_case, client.query(whole, parameters={"page": page}).result_rows)}
    cases = [rows[i] for i in page if i in rows]
    counted = f"SELECT count() FROM exception_cases FINAL WHERE {condition}"
    total = int(client.query(counted, parameters=params).result_rows[0][0])
    following = offset + len(cases)
    return Page(cases, total, following if following < total else None)
