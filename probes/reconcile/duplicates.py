"""Time the ERP booked more than once: live journals sharing the PSA entry id as external id.

SuiteQL here has no GROUP BY, so duplicates are found from keys: the first run reads the live journals of the
look-back window (sliced by work date under the 100,000-row limit) and remembers the first journal of each entry;
later runs read only journals created since the newest one seen (minus an overlap). An entry met with a second
journal is a suspect; suspects and known duplicates are looked up in the ERP as it is now (a reversal clears one),
so every finding is verified. The watermark is the ERP's own clock, never ours. Memory: one id pair per entry.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from probes.adapters import suiteql_rows
from probes.interfaces import ProbeContext
from probes.model import Finding
from probes.reconcile.common import chunks, epoch, erp_rows_by_date, money, opt_int, quoted, to_date

__all__ = ["check_duplicate_postings"]

COLUMNS = "id, externalid, employee, job, amount, currency, subsidiary, createddate"
ID_CHUNK = 100


def check_duplicate_postings(ctx: ProbeContext) -> list[Finding]:
    erp = ctx.client("erp")
    watermark: str | None = ctx.state.get("watermark")
    # external id -> the first live journal seen for it; an external id met with a second journal is a suspect
    first_journal: dict[str, str] = ctx.state.setdefault("first_journal", {})
    suspects: set[str] = set(ctx.state.get("known", ()))
    if watermark is None:
        today = to_date(ctx.now)
        first = today - timedelta(days=opt_int(ctx.options, "lookback_days", 35))
        ahead = today + timedelta(days=opt_int(ctx.options, "ahead_days", 31))  # work dates can lie ahead
        rows = erp_rows_by_date(erp, ctx.scope, "timebill", COLUMNS, "trandate", first, ahead, "isreversed = 'F'")
    else:
        overlap = opt_int(ctx.options, "overlap_seconds", 3600)
        since = _iso(epoch(watermark) - overlap)
        rows = suiteql_rows(
            erp, ctx.scope, f"SELECT {COLUMNS} FROM timebill WHERE createddate >= '{since}' AND isreversed = 'F'"
        )
    newest = watermark or ""
    for row in rows:
        entry_id, journal = str(row.get("externalid") or ""), str(row.get("id") or "")
        newest = max(newest, str(row.get("createddate") or ""))
        if not entry_id:
            continue
        seen = first_journal.setdefault(entry_id, journal)
        if seen != journal:
            suspects.add(entry_id)
    # Suspects are checked against the ERP as it is now: a reversal since clears a duplicate.
    live: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for part in chunks(sorted(suspects), ID_CHUNK):
        for row in suiteql_rows(
            erp, ctx.scope, f"SELECT {COLUMNS} FROM timebill WHERE externalid IN ({quoted(part)}) AND isreversed = 'F'"
        ):
            live[str(row.get("externalid") or "")].append(row)
    findings = [_finding(ctx, entry_id, rows) for entry_id, rows in sorted(live.items()) if len(rows) > 1]
    # Only now, with the run complete, move the watermark: a failed run re-reads the same window next time.
    ctx.state["known"] = sorted(f.object_id for f in findings)
    for entry_id in suspects - set(ctx.state["known"]):
        if live.get(entry_id):
            first_journal[entry_id] = str(live[entry_id][0].get("id"))
    if newest:
        ctx.state["watermark"] = newest
    return findings


def _finding(ctx: ProbeContext, entry_id: str, rows: list[dict[str, Any]]) -> Finding:
    rows.sort(key=lambda r: str(r.get("createddate") or ""))
    extra = [money(r.get("amount")) for r in rows[1:]]
    first = rows[0]
    duplicate_at = epoch(rows[1].get("createddate"), field="timebill createddate", system="erp")
    return Finding(
        kind="duplicate_posting",
        object_type="time_entry",
        object_id=entry_id,
        system="erp",
        tenant_id=str(first.get("subsidiary") or ""),
        project_code=str(first.get("job") or ""),
        consultant_id=str(first.get("employee") or ""),
        age_seconds=max(0.0, ctx.now - duplicate_at),
        amount=sum((a for a in extra if a is not None), Decimal(0)) if all(a is not None for a in extra) else None,
        currency=str(first.get("currency") or ""),
        detail={"documents": [str(r.get("id")) for r in rows], "amount_basis": "booked more than once"},
    )


def _iso(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(t * 1000) % 1000:03d}Z"
