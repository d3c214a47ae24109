"""Ground truth: every SLI of domain.md section 4 and the discrepancies a reconciliation should find, computed
from the simulator's own records.

This is an independent oracle. It reads the firm's state, never events, and shares no code with metrics/ or
probes/ (which must never import it): a bug copied into both would pass every comparison.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from simulator.calendar import DAY, HOUR, business_days_between, day_start, iso_time, to_date, to_epoch, weekday
from simulator.model import Firm

__all__ = ["CADENCE_SECONDS", "Observed", "discrepancies", "percentile", "slis", "truth"]

SLA_POSTING = 24 * HOUR
# Expected cadence of each flow's events, for the flow-silence SLI (silent past 3x cadence is bad).
CADENCE_SECONDS: dict[str, float] = {
    "psa-timesheets": 1 * HOUR,
    "psa-to-erp-time": 1 * HOUR,
    "psa-to-erp-invoices": 24 * HOUR,
    "hcm-workers": 24 * HOUR,
    "hcm-to-psa-workers": 24 * HOUR,
    "crm-deals": 24 * HOUR,
    "crm-to-psa-projects": 24 * HOUR,
    "psa-to-erp-projects": 24 * HOUR,
    "psa-to-erp-assignments": 24 * HOUR,
    "psa-rate-cards": 30 * DAY,
    "exceptions": 24 * HOUR,
}


@dataclass(frozen=True, slots=True)
class Observed:
    """What the firm's integrations let SyncWatch see (simulator/styles.py), where that is less than the firm holds:
    `first_attempt_at`, each entry's first attempt as its events show it when the middleware sends outcomes only
    (the first outcome, not the request); `announced`, when the PSA first sent each project code's events, when it
    sends some late or never. None: everything is seen as it happened."""

    first_attempt_at: Mapping[str, float] | None = None
    announced: Mapping[str, float] | None = None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def _ratio(good: int, total: int) -> float | None:
    return None if total == 0 else good / total


def slis(
    firm: Firm,
    as_of: float,
    window_start: float,
    last_event_at: Mapping[str, float] | None = None,
    observed: Observed | None = None,
) -> dict[str, Any]:
    """True SLI values for the window [window_start, as_of), as of as_of, over what the integrations let be seen
    (`observed`); `coverage` counts what could not be classified, as the SLIs' coverage must."""
    entries = firm.entries.values()
    out: dict[str, Any] = {"window_start": iso_time(window_start), "as_of": iso_time(as_of)}
    seen = observed or Observed()
    outcomes = seen.first_attempt_at

    def first_at(e: Any) -> float | None:
        return e.first_attempt_at if outcomes is None else outcomes.get(e.id)

    def named(e: Any) -> bool:
        """An entry whose own events have named its project: its first post attempt, or the adjustment that
        created it; a timesheet approval lists entry ids only (docs/slis.md, "Billable")."""
        return first_at(e) is not None or bool(e.supersedes)

    def announced(code: str) -> bool:
        return seen.announced is None or seen.announced.get(code, math.inf) <= as_of

    def billable_known(e: Any) -> bool:
        return bool(e.billable) and named(e) and announced(e.project_code)

    # Time-posting success, first pass.
    first = [e for e in entries if (t := first_at(e)) is not None and window_start <= t < as_of]
    ok = sum(1 for e in first if e.first_attempt_ok)
    out["time_posting_first_pass"] = {"good": ok, "total": len(first), "ratio": _ratio(ok, len(first))}
    by_tenant: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for e in first:
        by_tenant[e.tenant][0] += e.first_attempt_ok
        by_tenant[e.tenant][1] += 1
    out["time_posting_first_pass_by_tenant"] = {t: _ratio(g, n) for t, (g, n) in sorted(by_tenant.items())}

    # Eventual: approved in the window and at least SLA ago; posted within SLA of approval.
    due = [e for e in entries if e.approved_at is not None and window_start <= e.approved_at <= as_of - SLA_POSTING]
    in_sla = sum(1 for e in due if e.posted_at is not None and e.posted_at - e.approved_at <= SLA_POSTING)  # type: ignore[operator]
    out["time_posting_eventual"] = {"good": in_sla, "total": len(due), "ratio": _ratio(in_sla, len(due))}

    # Invoice-readiness lag: billable approved entries, from their billing cycle's cut-off; open ones at their
    # current age.
    cycle_of = {code: p.billing_cycle for p in firm.projects.values() for code in (p.erp_code, p.code, p.psa_code)}
    lags = []
    readiness_left = Counter[str]()
    for e in entries:
        if e.approved_at is None or e.superseded_by or e.written_off_at is not None:
            continue
        if e.approved_at < window_start or e.approved_at >= as_of:
            continue
        if not named(e):
            readiness_left["no_project_named"] += 1
        elif not announced(e.project_code):
            readiness_left["unknown_billing_type"] += 1
        if not billable_known(e):
            continue
        end = e.invoice_ready_at if e.invoice_ready_at is not None and e.invoice_ready_at <= as_of else as_of
        lags.append(business_days_between(_billing_cutoff(e.approved_at, cycle_of.get(e.project_code, "")), end))
    out["invoice_readiness_lag_business_days"] = {
        "p50": percentile(lags, 50),
        "p95": percentile(lags, 95),
        "count": len(lags),
    }

    # Resource-plan freshness.
    changes = [c for c in firm.worker_changes.values() if window_start <= c.entered_at < as_of]
    within = judged = 0
    oldest: dict[str, float] = {}
    for c in changes:
        limit = 4 * HOUR if c.change_type == "termination" else 24 * HOUR
        applied_in_time = c.synced_at is not None and c.synced_at - c.entered_at <= limit
        if applied_in_time or as_of - c.entered_at > limit:
            judged += 1
            within += applied_in_time
        if c.synced_at is None or c.synced_at > as_of:
            age = as_of - c.entered_at
            oldest[c.consultant_id] = max(oldest.get(c.consultant_id, 0.0), age)
    out["resource_plan_freshness"] = {
        "within_sla": within,
        "total": judged,
        "ratio": _ratio(within, judged),
        "oldest_unapplied_hours": max(oldest.values(), default=0.0) / HOUR,
        "consultants_with_unapplied": len(oldest),
    }

    # Master-data consistency, over the projects whose PSA view SyncWatch has received.
    active = [
        p
        for p in firm.projects.values()
        if "active" in (p.status, p.erp_status, p.crm_status) and announced(p.psa_code)
    ]
    mismatched = [p for p in active if _project_differences(p)]
    billable_mismatched = [p for p in mismatched if p.billing_type == "time_and_materials"]
    orphan_deals = [
        d
        for d in firm.deals.values()
        if not (_project_exists(firm, d.project_code, as_of) and announced(d.project_code))
        and as_of - d.closed_at > 24 * HOUR
    ]
    out["master_data_consistency"] = {
        "mismatched": len(mismatched),
        "active": len(active),
        "mismatch_ratio": _ratio(len(mismatched), len(active)),
        "billable_mismatched": len(billable_mismatched),
        "deals_without_project_24h": len(orphan_deals),
    }

    # Duplicate-submission rate over posted records (reversals excluded) in the window.
    posted = [p for p in firm.postings if window_start <= p.posted_at < as_of]
    keys = Counter((p.consultant_id, p.project_code, p.work_date, p.entry_id) for p in posted)
    dup_records = sum(n for n in keys.values() if n > 1)
    out["duplicate_submission_rate"] = {
        "duplicated": dup_records,
        "posted": len(posted),
        "ratio": _ratio(dup_records, len(posted)),
    }

    # Unbilled WIP at risk, by age bucket (age from approval), in each currency.
    buckets = {"0-7": 0.0, "8-30": 0.0, "31-60": 0.0, ">60": 0.0}
    wip: dict[str, dict[str, float]] = defaultdict(lambda: dict(buckets))
    at_risk: dict[str, float] = defaultdict(float)
    blocked_over_5d: dict[str, float] = defaultdict(float)
    wip_left = Counter[str]()
    wip_left_money: dict[str, float] = defaultdict(float)
    for e in entries:
        if e.approved_at is None or e.approved_at > as_of:
            continue
        if (
            e.superseded_by
            or e.written_off_at is not None
            or (e.invoice_ready_at is not None and e.invoice_ready_at <= as_of)
        ):
            continue
        if not named(e):
            wip_left["no_project_named"] += 1
        elif not announced(e.project_code):  # billable or not, nobody can tell from the events
            wip_left["unknown_billing_type"] += 1
            wip_left_money[e.currency or "?"] += e.hours * (e.rate or 0.0)
        if not billable_known(e):
            continue
        value = e.hours * (e.rate or 0.0)
        age_days = (as_of - e.approved_at) / DAY
        bucket = "0-7" if age_days <= 7 else "8-30" if age_days <= 30 else "31-60" if age_days <= 60 else ">60"
        currency = e.currency or "?"
        wip[currency][bucket] += value
        blocked = e.blocked_since is not None
        if age_days > 30 or blocked:
            at_risk[currency] += value
        if blocked and as_of - e.blocked_since > 5 * DAY:  # type: ignore[operator]
            blocked_over_5d[currency] += value
    out["unbilled_wip"] = {
        "by_currency_and_age": {c: {b: round(v, 2) for b, v in d.items()} for c, d in sorted(wip.items())},
        "at_risk": {c: round(v, 2) for c, v in sorted(at_risk.items())},
        "blocked_over_5_days": {c: round(v, 2) for c, v in sorted(blocked_over_5d.items())},
    }

    # Exception SLA compliance: due in the window.
    due_exc = [x for x in firm.exceptions.values() if window_start <= x.due_at < as_of]
    met = sum(1 for x in due_exc if x.resolved_at is not None and x.resolved_at <= x.due_at)
    open_exc = [
        x for x in firm.exceptions.values() if x.opened_at <= as_of and (x.resolved_at is None or x.resolved_at > as_of)
    ]
    out["exception_sla"] = {
        "met": met,
        "due": len(due_exc),
        "ratio": _ratio(met, len(due_exc)),
        "open": len(open_exc),
        "open_breaches": sum(1 for x in open_exc if x.due_at < as_of),
        "oldest_open_hours": max(((as_of - x.opened_at) / HOUR for x in open_exc), default=0.0),
    }

    # End-to-end latency (completed hops in the window).
    inv_lat = [
        i.posted_at - i.released_at
        for i in firm.invoices.values()
        if i.posted_at is not None and i.released_at is not None and window_start <= i.posted_at < as_of
    ]
    post_lat = [
        e.posted_at - e.approved_at
        for e in entries
        if e.posted_at is not None and e.approved_at is not None and window_start <= e.posted_at < as_of
    ]
    out["e2e_latency_seconds"] = {
        "invoice_released_to_posted_p95": percentile(inv_lat, 95),
        "approval_to_posted_p95": percentile(post_lat, 95),
        "approval_to_posted_p50": percentile(post_lat, 50),
    }

    # Rate-card expiry exposure.
    horizon = as_of + 14 * DAY
    exposure = 0.0
    for a in firm.assignments.values():
        # As the assignment's event states it: whole UTC days from its start date through its end date, and its
        # planned hours (rounded to 0.1 h) spread over its length in weeks, at least one (docs/slis.md).
        first_day, last_day = day_start(a.start), day_start(a.end)
        if a.status == "ENDED" or last_day < day_start(as_of) or first_day > horizon:
            continue
        p = firm.projects.get(a.project_code)
        if p is None or p.billing_type != "time_and_materials" or not announced(p.psa_code):
            continue
        overlap_days = min(last_day + DAY, horizon) - max(first_day, as_of)
        if overlap_days <= 0 or _has_effective_card(firm, p.customer_id, p.tenant, as_of):
            continue
        planned = round(a.weekly_hours * max(1.0, (a.end - a.start) / (7 * DAY)), 1)
        weekly = planned / max(1.0, (last_day - first_day) / (7 * DAY))
        exposure += weekly * overlap_days / (7 * DAY)
    expiring = [c.id for c in firm.rate_cards.values() if as_of <= c.end + DAY <= as_of + 30 * DAY]
    out["rate_card_exposure"] = {
        "planned_hours_14d_without_card": round(exposure, 1),
        "cards_expiring_30d": sorted(expiring),
    }

    # Connector pickup: approval -> first post attempt over the 7 days before as_of teaches the connector's normal
    # pickup; approved entries still waiting past 2x its p99 (at least 5 minutes) are stalled.
    pickups = [
        t - e.approved_at
        for e in entries
        if e.approved_at is not None
        and (t := first_at(e)) is not None
        and e.approved_at <= t
        and as_of - 7 * DAY < t <= as_of
    ]
    p99 = percentile(pickups, 99)
    limit = max(300.0, 2.0 * p99) if p99 is not None else 300.0

    def settled(e: Any) -> bool:
        superseded_at = firm.entries[e.superseded_by].approved_at if e.superseded_by in firm.entries else None
        ends = (first_at(e), e.posted_at, superseded_at, e.written_off_at)
        return any(t is not None and t <= as_of for t in ends)

    waits = [as_of - e.approved_at for e in entries if e.approved_at is not None and e.approved_at <= as_of
             and not settled(e)]  # fmt: skip
    out["time_posting_pickup"] = {
        "stalled": sum(1 for w in waits if w > limit),
        "waiting": len(waits),
        "normal_pickup_p50_seconds": percentile(pickups, 50),
        "normal_pickup_p99_seconds": p99,
        "pickups_learned_from": len(pickups),
    }

    # What the SLIs must count as left out (metrics/coverage.py): records the events do not classify.
    out["coverage"] = {
        "invoice_readiness_lag": dict(readiness_left),
        "unbilled_wip_at_risk": dict(wip_left),
        "unbilled_wip_unclassified_money": {c: round(v, 2) for c, v in sorted(wip_left_money.items())},
    }

    # Dead-letter backlog per queue.
    backlog: dict[str, dict[str, float]] = {}
    for m in firm.dead_letters.values():
        if m.created_at > as_of or (m.replayed_at is not None and m.replayed_at <= as_of):
            continue
        q = backlog.setdefault(m.queue, {"count": 0, "oldest_hours": 0.0})
        q["count"] += 1
        q["oldest_hours"] = max(q["oldest_hours"], (as_of - m.created_at) / HOUR)
    out["dead_letter_backlog"] = dict(sorted(backlog.items()))

    # Flow silence.
    if last_event_at is not None:
        out["flow_silence"] = {
            flow: {
                "seconds_since_last": max(0.0, as_of - last_event_at[flow]) if flow in last_event_at else None,
                "cadence_seconds": cadence,
                "silent": flow not in last_event_at or as_of - last_event_at[flow] > 3 * cadence,
            }
            for flow, cadence in CADENCE_SECONDS.items()
        }
    return out


def _billing_cutoff(approved_at: float, cycle: str) -> float:
    """When an entry approved at approved_at is due to be invoiced: the end (UTC) of the week (Monday to Sunday) or
    calendar month it was approved in for a weekly or monthly cycle; its approval for a daily or unknown one."""
    d = to_date(approved_at)
    if cycle == "weekly":
        return day_start(approved_at) + (7 - weekday(approved_at)) * DAY
    if cycle == "monthly":
        return to_epoch(date(d.year + d.month // 12, d.month % 12 + 1, 1))
    return approved_at


def _has_effective_card(firm: Firm, customer_id: str, tenant: str, t: float) -> bool:
    customer = firm.customers[customer_id]
    card = firm.rate_cards.get(f"RC-{customer_id}" if customer.large else f"RC-STD-{tenant}")
    return card is not None and card.start <= t <= card.end + DAY


def _project_exists(firm: Firm, code: str, as_of: float) -> bool:
    p = firm.projects.get(code) if code else None
    return p is not None and p.psa_created_at is not None and p.psa_created_at <= as_of


def _project_differences(p: Any) -> list[str]:
    diffs = []
    if not (p.psa_code == p.crm_code == p.erp_code):
        diffs.append("code")
    if not (p.status == p.crm_status == p.erp_status):
        diffs.append("status")
    if p.erp_customer_id != p.customer_id:
        diffs.append("customer")
    if p.erp_currency != p.currency:
        diffs.append("currency")
    if p.erp_billing_type != p.billing_type:
        diffs.append("billing_type")
    return diffs


def discrepancies(firm: Firm, as_of: float) -> list[dict[str, Any]]:
    """What a reconciliation across the systems' APIs should find as of as_of, one row per finding."""
    found: list[dict[str, Any]] = []

    def add(kind: str, object_type: str, object_id: str, **detail: Any) -> None:
        found.append({"kind": kind, "object_type": object_type, "object_id": object_id, **detail})

    for e in firm.entries.values():
        if e.status in ("APPROVED", "POST_FAILED") and e.approved_at is not None and e.approved_at <= as_of:
            add(
                "approved_not_posted",
                "time_entry",
                e.id,
                tenant=e.tenant,
                age_hours=round((as_of - e.approved_at) / HOUR, 2),
            )
    for e in firm.entries.values():
        live = [p for p in firm.postings_by_entry.get(e.id, ()) if not p.reversed]
        if len(live) > 1:
            add(
                "duplicate_posting",
                "time_entry",
                e.id,
                tenant=e.tenant,
                documents=[p.document_id for p in live],
            )
    for p in firm.projects.values():
        if "active" not in (p.status, p.erp_status, p.crm_status):
            continue
        diffs = _project_differences(p)
        if diffs:
            add("project_mismatch", "project", p.code, tenant=p.tenant, fields=diffs)
    for d in firm.deals.values():
        if as_of - d.closed_at > 24 * HOUR and not _project_exists(firm, d.project_code, as_of):
            add("deal_without_project", "deal", d.opportunity_id, tenant=d.tenant)
    for c in firm.consultants.values():
        if c.status != c.psa_status or c.cost_center != c.psa_cost_center:
            add(
                "worker_not_synced",
                "consultant",
                c.id,
                tenant=c.tenant,
                hcm_status=c.status,
                psa_status=c.psa_status,
            )
        if c.status == "terminated" and c.terminated_at is not None and c.terminated_at <= as_of:
            for a in c.assignments:
                if a.status != "ENDED" and a.end >= as_of:
                    add(
                        "terminated_with_open_assignment",
                        "assignment",
                        a.id,
                        tenant=c.tenant,
                        consultant_id=c.id,
                    )
    for m in firm.dead_letters.values():
        if m.created_at <= as_of and (m.replayed_at is None or m.replayed_at > as_of):
            add("dead_letter_unreplayed", "message", m.message_id, tenant=m.tenant, queue=m.queue)
    for a in firm.assignments.values():
        if a.status == "ENDED" or not (a.start <= as_of <= a.end):
            continue
        p = firm.projects.get(a.project_code)
        if (
            p is not None
            and p.billing_type == "time_and_materials"
            and not _has_effective_card(firm, p.customer_id, p.tenant, as_of)
        ):
            add("assignment_without_rate_card", "assignment", a.id, tenant=p.tenant, project_code=p.code)
    return found


def truth(
    firm: Firm,
    as_of: float,
    window_start: float,
    last_event_at: Mapping[str, float] | None = None,
    observed: Observed | None = None,
) -> dict[str, Any]:
    found = discrepancies(firm, as_of)
    return {
        "slis": slis(firm, as_of, window_start, last_event_at, observed),
        "discrepancy_counts": dict(Counter(f["kind"] for f in found)),
        "discrepancies": found,
    }


def kinds(found: Iterable[Mapping[str, Any]]) -> Counter[str]:
    return Counter(f["kind"] for f in found)
