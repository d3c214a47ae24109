"""Approved time that never reached the ERP, and time the ERP booked twice.

Per accounting month (by work date) it first compares cheap counts: PSA entries still approved or failed, PSA
entries marked posted, and live ERP time journals. Only a month whose counts disagree is diffed key by key (PSA
entry id against the journal's external id), so a healthy estate costs a few calls per month.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from probes.adapters import kantata_count, kantata_rows, suiteql_count
from probes.interfaces import ProbeContext
from probes.model import Finding
from probes.reconcile.common import epoch, erp_rows_by_date, money, opt_float, opt_int, to_date

__all__ = ["check_time_posting", "month_slices"]

ENTRIES = "/api/v1/time_entries.json"
PENDING = ("approved", "post_failed")  # approved in the PSA, not (successfully) posted


def month_slices(first: date, last: date) -> list[tuple[date, date]]:
    out = []
    start = first
    while start <= last:
        nxt = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        out.append((start, min(last, nxt - timedelta(days=1))))
        start = nxt
    return out


def check_time_posting(ctx: ProbeContext) -> list[Finding]:
    psa, erp = ctx.client("psa"), ctx.client("erp")
    today = to_date(ctx.now)
    first = today - timedelta(days=opt_int(ctx.options, "lookback_days", 120))
    findings: list[Finding] = []
    for start, end in month_slices(first, today):
        between = {"date_performed_between": f"{start}:{end}"}
        pending = sum(kantata_count(psa, ctx.scope, ENTRIES, {**between, "status": s}) for s in PENDING)
        psa_posted = kantata_count(psa, ctx.scope, ENTRIES, {**between, "status": "posted"})
        where = f"trandate >= '{start}' AND trandate <= '{end}' AND isreversed = 'F'"
        erp_live = suiteql_count(erp, ctx.scope, f"SELECT COUNT(*) FROM timebill WHERE {where}")
        if pending == 0 and psa_posted == erp_live:
            continue  # the slice agrees: no key-level read
        findings.extend(_diff_slice(ctx, start, end, pending, psa_posted, erp_live))
    return findings


def _diff_slice(
    ctx: ProbeContext, start: date, end: date, pending: int, psa_posted: int, erp_live: int
) -> list[Finding]:
    psa, erp = ctx.client("psa"), ctx.client("erp")
    journals: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rates: dict[tuple[str, str], tuple[Decimal, str]] = {}
    tenant_of: dict[str, str] = {}
    for row in erp_rows_by_date(
        erp,
        ctx.scope,
        "timebill",
        "id, externalid, employee, job, hours, amount, currency, subsidiary, createddate",
        "trandate",
        start,
        end,
        "isreversed = 'F'",
        known_count=erp_live,
    ):
        journals[str(row.get("externalid") or "")].append(row)
        hours, amount = opt_float(row.get("hours")), money(row.get("amount"))
        if hours and amount is not None:
            rates[(str(row.get("employee")), str(row.get("job")))] = (
                amount / Decimal(str(hours)),
                str(row.get("currency") or ""),
            )
        tenant_of[str(row.get("employee"))] = str(row.get("subsidiary") or "")

    findings: list[Finding] = []
    statuses = list(PENDING)
    if psa_posted > len([k for k in journals if k]):
        statuses.append("posted")  # the PSA believes more lines are posted than the ERP holds: check those too
    between = {"date_performed_between": f"{start}:{end}"}
    for status in statuses:
        for entry in kantata_rows(psa, ctx.scope, ENTRIES, "time_entries", {**between, "status": status}):
            entry_id = str(entry.get("id"))
            if journals.get(entry_id):
                continue  # the ERP has it: the PSA's status lags, nothing is missing
            consultant, project = str(entry.get("user_id") or ""), str(entry.get("workspace_id") or "")
            hours = (opt_float(entry.get("time_in_minutes")) or 0.0) / 60.0
            rate = rates.get((consultant, project))
            amount = (
                (rate[0] * Decimal(str(hours))).quantize(Decimal("0.0001")) if rate and entry.get("billable") else None
            )
            since = epoch(entry.get("updated_at"), field="time entry updated_at", system=psa.system)
            findings.append(
                Finding(
                    kind="approved_not_posted",
                    object_type="time_entry",
                    object_id=entry_id,
                    system="erp",
                    tenant_id=tenant_of.get(consultant, ""),
                    project_code=project,
                    consultant_id=consultant,
                    age_seconds=max(0.0, ctx.now - since),
                    amount=amount,
                    currency=rate[1] if rate and amount is not None else "",
                    detail={
                        "psa_status": status,
                        "work_date": entry.get("date_performed"),
                        "hours": round(hours, 2),
                        "billable": bool(entry.get("billable")),
                        "amount_basis": "the consultant's posted rate on the project" if amount is not None else "",
                    },
                )
            )
    for entry_id, rows in journals.items():
        if not entry_id or len(rows) < 2:
            continue
        rows.sort(key=lambda r: str(r.get("createddate") or ""))
        extra = [money(r.get("amount")) for r in rows[1:]]
        first_row = rows[0]
        duplicate_at = epoch(rows[1].get("createddate"), field="timebill createddate", system=erp.system)
        findings.append(
            Finding(
                kind="duplicate_posting",
                object_type="time_entry",
                object_id=entry_id,
                system="erp",
                tenant_id=str(first_row.get("subsidiary") or ""),
                project_code=str(first_row.get("job") or ""),
                consultant_id=str(first_row.get("employee") or ""),
                age_seconds=max(0.0, ctx.now - duplicate_at),
                amount=sum((a for a in extra if a is not None), Decimal(0))
                if all(a is not None for a in extra)
                else None,
                currency=str(first_row.get("currency") or ""),
                detail={"documents": [str(r.get("id")) for r in rows], "amount_basis": "booked more than once"},
            )
        )
    return findings
