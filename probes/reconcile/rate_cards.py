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
from probes.reconcile.common import chunks, money, opt_int, quoted, to_date

__all__ = ["check_rate_cards"]

MAX_PRICED_PROJECTS = 500
AMOUNT_BASIS = "time posted on the covered projects in the last 30 days"
TOO_MANY = f"not priced: more than {MAX_PRICED_PROJECTS} projects affected"


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

    affected = _affected(cards, covered, today, horizon)
    run_rate = _run_rate(ctx, affected, today) if len(affected) <= MAX_PRICED_PROJECTS else None

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
                    amount=None
                    if run_rate is None
                    else sum((run_rate[str(j.get("entityid"))] for j in jobs_on), Decimal(0)),
                    currency=str(card.get("currency") or ""),
                    detail={
                        "end_date": str(end),
                        "days_left": (lapse - today).days,
                        "projects": len(jobs_on),
                        "project_codes": sorted(str(j.get("entityid")) for j in jobs_on)[:20],
                        "amount_basis": AMOUNT_BASIS if run_rate is not None else TOO_MANY,
                    },
                )
            )
        effective = start is not None and start <= today <= lapse
        if not effective:
            for job in jobs_on:
                code = str(job.get("entityid"))
                findings.append(
                    _uncovered(ctx, job, code, card_id, end, None if run_rate is None else run_rate[code], lapse)
                )
    for job in covered.get("", []):
        code = str(job.get("entityid"))
        findings.append(_uncovered(ctx, job, code, "", None, None if run_rate is None else run_rate[code], None))
    return findings


def _affected(
    cards: list[dict[str, Any]], covered: dict[str, list[dict[str, Any]]], today: date, horizon: int
) -> list[str]:
    """Projects whose card lapses within the horizon or has lapsed, or that have none: the only ones worth pricing."""
    codes = {str(j.get("entityid")) for j in covered.get("", [])}
    for card in cards:
        end = _day(card.get("enddate"))
        if end is not None and end + timedelta(days=1) <= today + timedelta(days=horizon):
            codes.update(str(j.get("entityid")) for j in covered.get(str(card.get("id")), []))
    return sorted(codes)


def _run_rate(ctx: ProbeContext, codes: list[str], today: date) -> dict[str, Decimal]:
    """Time posted on these projects in the last 30 days, read for them alone (a firm-wide read is too dear)."""
    rates: dict[str, Decimal] = defaultdict(Decimal)
    since = today - timedelta(days=30)
    for part in chunks(codes, 100):
        for row in suiteql_rows(
            ctx.client("erp"),
            ctx.scope,
            f"SELECT job, amount FROM timebill WHERE job IN ({quoted(part)}) AND trandate >= '{since}' "
            "AND isreversed = 'F'",
        ):
            amount = money(row.get("amount"))
            if amount is not None:
                rates[str(row.get("job"))] += amount
    return rates


def _uncovered(
    ctx: ProbeContext,
    job: dict[str, Any],
    code: str,
    card_id: str,
    end: date | None,
    amount: Decimal | None,
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
            "amount_basis": AMOUNT_BASIS if amount is not None else TOO_MANY,
        },
    )


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None
