"""The weekly report's archive in the warehouse (migration 0018): one copy per (week, tenant) and where it went.

A copy is the JSON model, the PDF rendered from it, when and by which code it was made. Writing a week again
replaces its copy (a larger version of a ReplacingMergeTree row, read with FINAL); it never adds a second one.
The tenant '' is the all-tenants report. Every value is a bound parameter.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from syncwatch import __version__

__all__ = ["Archived", "DeliveryState", "deliveries", "get", "list_reports", "record_delivery", "store"]

_SUMMARY = ("week", "tenant", "firm", "generated_at", "code_version", "version")
_DELIVERY = ("week", "tenant", "receiver", "integration", "status", "attempts", "last_error", "next_attempt_at",
             "delivered_at", "updated_at")  # fmt: skip


@dataclass(frozen=True)
class Archived:
    """One archived report; `report` and `pdf` are empty in listings (they are read one at a time)."""

    week: str
    tenant: str
    firm: str
    generated_at: datetime
    code_version: str
    version: int
    report: dict[str, Any] | None = None
    pdf: bytes = b""

    def summary(self) -> dict[str, Any]:
        return {
            "week": self.week,
            "tenant": self.tenant or None,
            "firm": self.firm,
            "generated_at": _iso(self.generated_at),
            "code_version": self.code_version,
            "version": self.version,
        }


@dataclass(frozen=True)
class DeliveryState:
    """One receiver integration's delivery of one archived report."""

    week: str
    tenant: str
    receiver: str
    integration: str
    status: str  # pending | delivered | failed
    attempts: int
    last_error: str
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "receiver": self.receiver,
            "integration": self.integration,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "next_attempt_at": _iso(self.next_attempt_at),
            "delivered_at": _iso(self.delivered_at),
            "updated_at": _iso(self.updated_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else _utc(moment).isoformat().replace("+00:00", "Z")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _version(client: Client, table: str, where: str, params: dict[str, Any]) -> int:
    """Larger than any version stored for the row's key, and than the clock's microseconds: a rerun in the same
    microsecond (or after the clock stepped back) still replaces the row."""
    rows = client.query(f"SELECT max(version) FROM {table} WHERE {where}", parameters=params).result_rows
    stored = int(rows[0][0] or 0) if rows else 0
    return max(stored + 1, time.time_ns() // 1000)


def store(client: Client, report: dict[str, Any], pdf: bytes, *, code_version: str = __version__) -> Archived:
    """Archive the report of report['week'] for report['tenant'], replacing any earlier copy of it."""
    week, tenant = str(report["week"]), str(report.get("tenant") or "")
    generated_at = datetime.fromisoformat(str(report["generated_at"]).replace("Z", "+00:00"))
    key = {"week": week, "tenant": tenant}
    version = _version(client, "weekly_reports", "week = {week:String} AND tenant = {tenant:String}", key)
    firm = str(report.get("firm") or "")
    row = [week, tenant, firm, orjson.dumps(report).decode(), pdf, generated_at, code_version, version]
    client.insert("weekly_reports", [row], column_names=[*_SUMMARY[:3], "report", "pdf", *_SUMMARY[3:]])
    return Archived(week, tenant, firm, _utc(generated_at), code_version, version, report, pdf)


def get(client: Client, week: str, tenant: str | None = None) -> Archived | None:
    """The archived copy of one week's report (tenant None or '': all tenants), with its JSON and PDF."""
    result = client.query(
        f"SELECT {', '.join(_SUMMARY)}, report, pdf FROM weekly_reports FINAL "
        "WHERE week = {week:String} AND tenant = {tenant:String} LIMIT 1",
        parameters={"week": week, "tenant": tenant or ""},
        column_formats={"pdf": "bytes"},
    )
    if not result.result_rows:
        return None
    values = dict(zip((*_SUMMARY, "report", "pdf"), result.result_rows[0], strict=True))
    return Archived(
        str(values["week"]), str(values["tenant"]), str(values["firm"]), _utc(values["generated_at"]),
        str(values["code_version"]), int(values["version"]), orjson.loads(values["report"]), bytes(values["pdf"]),
    )  # fmt: skip


def list_reports(client: Client, *, tenant: str | None = None, limit: int = 52) -> list[Archived]:
    """Archived reports, newest week first (the all-tenants report before the tenants'), without their bodies."""
    where, params = "", dict[str, Any](limit=limit)
    if tenant is not None:
        where, params = "WHERE tenant = {tenant:String}", {**params, "tenant": tenant}
    rows = client.query(
        f"SELECT {', '.join(_SUMMARY)} FROM weekly_reports FINAL {where} "
        "ORDER BY week DESC, tenant LIMIT {limit:UInt32}",
        parameters=params,
    ).result_rows
    return [
        Archived(str(w), str(t), str(f), _utc(g), str(c), int(v))
        for w, t, f, g, c, v in rows
    ]  # fmt: skip


def record_delivery(client: Client, state: DeliveryState) -> None:
    key = {"week": state.week, "tenant": state.tenant, "receiver": state.receiver, "integration": state.integration}
    where = ("week = {week:String} AND tenant = {tenant:String} AND receiver = {receiver:String} "
             "AND integration = {integration:String}")  # fmt: skip
    version = _version(client, "weekly_report_deliveries", where, key)
    row = [getattr(state, name) for name in _DELIVERY] + [version]
    client.insert("weekly_report_deliveries", [row], column_names=[*_DELIVERY, "version"])


def deliveries(client: Client, *, weeks: Sequence[str] | None = None, status: str | None = None) -> list[DeliveryState]:
    """Delivery states (latest of each), of some weeks or of all, optionally of one status."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if weeks is not None:
        clauses.append("week IN {weeks:Array(String)}")
        params["weeks"] = list(weeks)
    if status is not None:
        clauses.append("status = {status:String}")
        params["status"] = status
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = client.query(
        f"SELECT {', '.join(_DELIVERY)} FROM weekly_report_deliveries FINAL {where} "
        "ORDER BY week, tenant, receiver, integration",
        parameters=params,
    ).result_rows
    out = []
    for row in rows:
        values = dict(zip(_DELIVERY, row, strict=True))
        for name in ("next_attempt_at", "delivered_at", "updated_at"):
            values[name] = None if values[name] is None else _utc(values[name])
        values["attempts"] = int(values["attempts"])
        out.append(DeliveryState(**values))
    return out
