"""Rate cards: cards expiring within 30 days with active time-and-materials work on them, and active T&M projects
with no effective card today. Money at risk is the last 30 days of time posted on the projects a card covers
(what stops posting when it lapses).

A negotiated card covers its customer's projects, with no fallback when it lapses; the entity's standard card
(no customer) covers the other customers. The APIs expose no assignments, so a project stands for the
assignments on it: `assignment_without_rate_card` findings are keyed by project.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from probes.adapters import suiteql_rows
from probes.interfaces import ProbeContext
from probes.model import Finding
from probes.reconcile.common import erp_rows_by_date, money, opt_int, to_date

__all__ = ["check_rate_cards"]


def check_rate_cards(ctx: ProbeContext) -> list[Finding]:
    erp = ctx.client("erp")
    today = to_date(ctx.now)
    horizon = opt_int(ctx.options, "horizon_days", 30)
    cards = list(
        suiteql_rows(erp, ctx.scope, "SELECT id, customer, subsidiary, currency, startdate, enddate FROM ratecard")
    )
    jobs = [
        j
        for j in suiteql_rows(
            erp,
            ctx.scope,
            "SELECT entityid, customer, subsidiary, currency FROM job "
            "WHERE status = 'active' AND billingtype = 'time_and_materials'",
        )
    ]
    negotiated = {str(c.get("customer")): c for c in cards if c.get("customer")}
    standard = {str(c.get("subsidiary")): c for c in cards if not c.get("customer")}

    def card_for(job: dict[str, Any]) -> dict[str, Any] | None:
        return negotiated.get(str(job.get("customer"))) or standard.get(str(job.get("subsidiary")))

    covered: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for job in jobs:
        card = card_for(job)
        covered[str(card.get("id")) if card else ""].append(job)

    run_rate: dict[str, Decimal] = defaultdict(Decimal)
    for row in erp_rows_by_date(
        erp, ctx.scope, "timebill", "job, amount", "trandate", today - timedelta(days=30), today, "isreversed = 'F'"
    ):
        amount = money(row.get("amount"))
        if amount is not None:
            run_rate[str(row.get("job"))] += amount

    findings: list[Finding] = []
    for card in cards:
        card_id = str(card.get("id"))
        start, end = _day(card.get("startdate")), _day(card.get("enddate"))
        jobs_on = covered.get(card_id, [])
        if end is None or not jobs_on:
            continue
        lapse = end + timedelta(days=1)  # the card is valid through its end date
        if today <= lapse <= today + timedelta(days=horizon):
            findings.append(
                Finding(
                    kind="rate_card_expiring",
                    object_type="rate_card",
                    object_id=card_id,
                    system="erp",
                    tenant_id=str(card.get("subsidiary") or ""),
                    age_seconds=0.0,
                    amount=sum((run_rate[str(j.get("entityid"))] for j in jobs_on), Decimal(0)),
                    currency=str(card.get("currency") or ""),
                    detail={
                        "end_date": str(end),
                        "days_left": (lapse - today).days,
                        "projects": len(jobs_on),
                        "project_codes": sorted(str(j.get("entityid")) for j in jobs_on)[:20],
                        "amount_basis": "time posted on the covered projects in the last 30 days",
                    },
                )
            )
        effective = start is not None and start <= today <= lapse
        if not effective:
            for job in jobs_on:
                code = str(job.get("entityid"))
                findings.append(_uncovered(ctx, job, code, card_id, end, run_rate[code], lapse))
    for job in covered.get("", []):
        code = str(job.get("entityid"))
        findings.append(_uncovered(ctx, job, code, "", None, run_rate[code], None))
    return findings


def _uncovered(
    ctx: ProbeContext,
    job: dict[str, Any],
    code: str,
    card_id: str,
    end: date | None,
    amount: Decimal,
    lapse: date | None,
) -> Finding:
    lapsed_at = (lapse - date(1970, 1, 1)).total_seconds() if lapse else None
    return Finding(
        kind="assignment_without_rate_card",
        object_type="project",
        object_id=code,
        system="erp",
        tenant_id=str(job.get("subsidiary") or ""),
        project_code=code,
        age_seconds=max(0.0, ctx.now - lapsed_at) if lapsed_at is not None else 0.0,
        amount=amount,
        currency=str(job.get("currency") or ""),
        detail={
            "rate_card_id": card_id,
            "card_end_date": str(end) if end else None,
            "amount_basis": "time posted on the project in the last 30 days",
        },
    )


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None
