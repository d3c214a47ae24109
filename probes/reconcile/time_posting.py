"""Approved time that never reached the ERP.

Per month of work dates it first compares cheap counts: PSA entries still approved or failed, PSA entries marked
posted, and the ERP's live time journals (one `COUNT(*)`). Only a month whose counts disagree is checked key by
key, and only its pending entries: their ids are looked up in the ERP by external id (an entry the ERP does hold
is a PSA status lag, not a loss). A healthy month costs four calls whatever the firm's size.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from probes.adapters import kantata_count, kantata_rows, suiteql_count, suiteql_rows
from probes.interfaces import ProbeContext
from probes.model import Finding
from probes.reconcile.common import chunks, epoch, money, opt_float, opt_int, quoted, to_date

__all__ = ["check_time_posting", "month_slices"]

ENTRIES = "/api/v1/time_entries.json"
PENDING = ("approved", "post_failed")  # approved in the PSA, not (successfully) posted
ID_CHUNK = 100
PEOPLE_CHUNK = 20


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
    # Work dates can lie ahead of today (a week submitted and approved before it ends): look a month ahead too.
    for start, end in month_slices(first, today + timedelta(days=opt_int(ctx.options, "ahead_days", 31))):
        between = {"date_performed_between": f"{start}:{end}"}
        pending = {s: kantata_count(psa, ctx.scope, ENTRIES, {**between, "status": s}) for s in PENDING}
        psa_posted = kantata_count(psa, ctx.scope, ENTRIES, {**between, "status": "posted"})
        erp_live = suiteql_count(
            erp,
            ctx.scope,
            f"SELECT COUNT(*) FROM timebill WHERE trandate >= '{start}' AND trandate <= '{end}' AND isreversed = 'F'",
        )
        if not any(pending.values()):
            continue  # nothing waits in the PSA; posted-vs-journal differences are the duplicates probe's job
        counts = {"period": f"{start}:{end}", "psa_pending": sum(pending.values()), "psa_posted": psa_posted,
                  "erp_journals": erp_live}  # fmt: skip
        entries = [
            (status, e)
            for status in PENDING
            if pending[status]
            for e in kantata_rows(psa, ctx.scope, ENTRIES, "time_entries", {**between, "status": status})
        ]
        findings.extend(_unposted(ctx, entries, start, end, counts))
    return findings


def _unposted(
    ctx: ProbeContext, entries: list[tuple[str, dict[str, Any]]], start: date, end: date, counts: dict[str, Any]
) -> list[Finding]:
    erp = ctx.client("erp")
    ids = [str(e.get("id")) for _, e in entries]
    in_erp: set[str] = set()
    for part in chunks(ids, ID_CHUNK):
        rows = suiteql_rows(
            erp, ctx.scope, f"SELECT externalid FROM timebill WHERE externalid IN ({quoted(part)}) AND isreversed = 'F'"
        )
        in_erp.update(str(r.get("externalid")) for r in rows)
    missing = [(status, e) for status, e in entries if str(e.get("id")) not in in_erp]
    rates, tenants = _rates(ctx, {str(e.get("user_id") or "") for _, e in missing}, start - timedelta(days=31), end)
    findings = []
    for status, entry in missing:
        consultant, project = str(entry.get("user_id") or ""), str(entry.get("workspace_id") or "")
        hours = (opt_float(entry.get("time_in_minutes")) or 0.0) / 60.0
        rate = rates.get((consultant, project)) if entry.get("billable") else None
        amount = (rate[0] * Decimal(str(hours))).quantize(Decimal("0.0001")) if rate else None
        since = epoch(entry.get("updated_at"), field="time entry updated_at", system="psa")
        findings.append(
            Finding(
                kind="approved_not_posted",
                object_type="time_entry",
                object_id=str(entry.get("id")),
                system="erp",
                tenant_id=tenants.get(consultant, ""),
                project_code=project,
                consultant_id=consultant,
                age_seconds=max(0.0, ctx.now - since),
                amount=amount,
                currency=rate[1] if rate else "",
                detail={
                    "psa_status": status,
                    "work_date": entry.get("date_performed"),
                    "hours": round(hours, 2),
                    "billable": bool(entry.get("billable")),
                    "amount_basis": "the consultant's posted rate on the project" if rate else "",
                    "slice": counts,
                },
            )
        )
    return findings


def _rates(
    ctx: ProbeContext, consultants: Iterable[str], start: date, end: date
) -> tuple[dict[tuple[str, str], tuple[Decimal, str]], dict[str, str]]:
    """Each consultant's posted rate per project, and legal entity, from their recent live journals."""
    erp = ctx.client("erp")
    rates: dict[tuple[str, str], tuple[Decimal, str]] = {}
    tenants: dict[str, str] = {}
    for part in chunks(sorted(c for c in consultants if c), PEOPLE_CHUNK):
        for row in suiteql_rows(
            erp,
            ctx.scope,
            "SELECT employee, job, hours, amount, currency, subsidiary FROM timebill "
            f"WHERE employee IN ({quoted(part)}) AND trandate >= '{start}' AND trandate <= '{end}' "
            "AND isreversed = 'F'",
        ):
            hours, amount = opt_float(row.get("hours")), money(row.get("amount"))
            employee = str(row.get("employee"))
            if hours and amount is not None:
                rates[(employee, str(row.get("job")))] = (amount / Decimal(str(hours)), str(row.get("currency") or ""))
            tenants[employee] = str(row.get("subsidiary") or "")
    return rates, tenants
