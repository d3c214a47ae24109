"""The weekly sync-health report: one model per ISO week, computed from the SLIs the read API serves.

Every figure comes from the collector's own evaluator over the week's explicit window (Monday 00:00 to the next
Monday 00:00, UTC), the window `/api/v1/slis?from=..&to=..` answers for, so the report and the API never disagree;
the previous 11 weeks give each figure its change and its sparkline. The model is plain JSON (`build_weekly`
returns a dict): the API answers it as is and the HTML and PDF are rendered from it (reports/render.py), so the
CLI can render what the collector sent.

Money stays in its currency: amounts are listed per currency and never converted, so causes are ranked by their
largest single-currency amount.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from metrics.coverage import REASONS
from metrics.windows import Window
from reports.incidents import lookback, summary
from reports.recommendations import recommend
from reports.weeks import week_label, week_window, weeks_before

__all__ = ["FIGURES", "HISTORY_WEEKS", "RECORDS_LIMIT", "TRENDS", "ReportSources", "build_weekly", "figure_value"]

HISTORY_WEEKS = 12  # the week itself and the 11 before it: the sparkline
RECORDS_LIMIT = 10_000  # records read per SLI for "where the money is stuck" (the API's page size)
TENANT_SLIS = ("time_posting_first_pass", "time_posting_eventual", "invoice_readiness_lag", "unbilled_wip_at_risk")


class ReportSources(Protocol):
    """What the report reads: the SLIs as /api/v1/slis computes them, their records, the alert history."""

    def slis(self, window: Window, by: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        """name -> breakdown key ('' overall) -> the SLI's JSON as /api/v1/slis answers it."""

    def records(self, name: str, window: Window, limit: int) -> list[dict[str, Any]]:
        """The records behind one SLI over the window, as /api/v1/slis/{name}/records lists them."""

    def alert_transitions(self, window: Window) -> list[dict[str, Any]]:
        """Alert moves into pending, firing and resolved from the window's start (and the resolutions in the weeks
        after its end), oldest first: alert_history's rows."""


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    sli: str
    unit: str  # ratio, business_days, money, entries, objectives
    better: str  # "higher" or "lower": which change is good news
    value: Callable[[Mapping[str, dict[str, Any]]], Any]


def _sli(name: str) -> Callable[[Mapping[str, dict[str, Any]]], Any]:
    return lambda slis: slis[name]["value"] if name in slis else None


def _p50(slis: Mapping[str, dict[str, Any]]) -> Any:
    found = slis.get("invoice_readiness_lag")
    return None if found is None or found["value"] is None else found["details"].get("p50")


def _at_risk(slis: Mapping[str, dict[str, Any]]) -> Any:
    found = slis.get("unbilled_wip_at_risk")
    return None if found is None else {c: float(v) for c, v in sorted(found["details"].get("at_risk", {}).items())}


def _not_posted(slis: Mapping[str, dict[str, Any]]) -> Any:
    found = slis.get("time_posting_eventual")
    return None if found is None or not found["total"] else found["total"] - found["good"]


def _met(slis: Mapping[str, dict[str, Any]]) -> Any:
    statuses = [s["status"] for s in slis.values()]
    return {
        "met": statuses.count("ok"),
        "missed": sum(1 for s in statuses if s in ("warning", "breach")),
        "not_judged": sum(1 for s in statuses if s in ("partial", "no_data")),
        "of": len(statuses),
    }


FIGURES = (
    Figure("wip_at_risk", "Unbilled work at risk", "unbilled_wip_at_risk", "money", "lower", _at_risk),
    Figure("approved_not_posted", "Approved time not posted within 24 h", "time_posting_eventual", "entries",
           "lower", _not_posted),
    Figure("invoice_lag_p95", "Ready to invoice: 95% of time within", "invoice_readiness_lag",
           "business_days", "lower", _sli("invoice_readiness_lag")),
    Figure("invoice_lag_p50", "Ready to invoice: half of time within", "invoice_readiness_lag",
           "business_days", "lower", _p50),
    Figure("first_pass", "Posted on the first attempt", "time_posting_first_pass", "ratio", "higher",
           _sli("time_posting_first_pass")),
    Figure("eventual", "Posted within 24 h of approval", "time_posting_eventual", "ratio", "higher",
           _sli("time_posting_eventual")),
    Figure("resource_plan", "HR changes in the resource plan in time", "resource_plan_freshness", "ratio", "higher",
           _sli("resource_plan_freshness")),
    Figure("slos_met", "Objectives met", "", "objectives", "higher", _met),
)  # fmt: skip


def figure_value(key: str, slis: Mapping[str, dict[str, Any]]) -> Any:
    """One headline figure from /api/v1/slis's items (by name): what the report prints, for tests and readers."""
    return next(f for f in FIGURES if f.key == key).value(slis)


# -- text ----------------------------------------------------------------------------------------------------------
def money(currency: str, amount: float) -> str:
    return f"{currency} {amount:,.0f}"


def show(unit: str, value: Any) -> str:
    """A figure as the report prints it."""
    if value is None:
        return "no data"
    if unit == "ratio":
        return f"{100 * value:.1f}%"
    if unit == "business_days":
        return f"{value:.1f} business days"
    if unit == "money":  # currencies with nothing in them are left out; a figure of nothing says so
        return ", ".join(money(c, a) for c, a in value.items() if abs(a) >= 0.5) or "none"
    if unit == "entries":
        return f"{value:,.0f} {'entry' if value == 1 else 'entries'}"
    if unit == "objectives":
        return f"{value['met']} of {value['of']}"
    if unit == "hours":
        return f"{value:,.1f} h"
    if unit == "seconds":
        return f"{value / 60:,.1f} min" if value < 2 * 3600 else f"{value / 3600:,.1f} h"
    return f"{value:,.4g}"


def objective_text(unit: str, objective: Mapping[str, Any] | None) -> str:
    """'at least 97.0%', 'at most 3.0 business days'."""
    if not objective:
        return ""
    word = "at least" if objective.get("comparison") == ">=" else "at most"
    return f"{word} {show(unit, objective.get('target'))}"


def _change(unit: str, now: Any, before: Any) -> Any:
    if now is None or before is None:
        return None
    if unit == "money":
        return {c: now.get(c, 0.0) - before.get(c, 0.0) for c in sorted({*now, *before})}
    if unit == "objectives":
        return now["met"] - before["met"]
    return now - before


def _delta_text(unit: str, delta: float) -> str:
    """'3.1 points up' style words for one number's change against last week."""
    if abs(delta) < 1e-9:
        return "unchanged from last week"
    more = delta > 0
    size = abs(delta)
    if unit == "ratio":
        return f"{'up' if more else 'down'} {100 * size:.1f} points from last week"
    if unit == "business_days":
        return f"{size:.1f} business days {'more' if more else 'less'} than last week"
    if unit == "entries":
        return f"{size:,.0f} {'more' if more else 'fewer'} than last week"
    if unit == "objectives":
        return f"{size:,.0f} {'more' if more else 'fewer'} met than last week"
    return f"{size:g} {'more' if more else 'less'} than last week"


def _versus(unit: str, change: Any) -> str:
    return "no figure for last week to compare with" if change is None else _delta_text(unit, change)


def sentence(figure: Figure, value: Any, change: Any, sli: Mapping[str, Any] | None) -> str:
    """One plain sentence per figure, in money and days."""
    objective = (sli or {}).get("objective", {}).get("target")
    if figure.unit == "money":
        moved = {c for c, d in (change or {}).items() if abs(d) >= 0.5}
        shown = {c: a for c, a in (value or {}).items() if abs(a) >= 0.5 or c in moved}
        if not shown:
            return "No approved billable time is at risk of not being invoiced, as last week."
        risk = "of approved time is at risk: 30+ days from an invoice, or blocked by an ERP rejection nobody will retry"
        if len(shown) == 1:
            (currency, amount), delta = (
                next(iter(shown.items())),
                None if change is None else change.get(next(iter(shown))),
            )
            tail = (
                "no figure for last week to compare with" if delta is None
                else "the same as last week" if abs(delta) < 0.5
                else f"{money(currency, abs(delta))} {'more' if delta > 0 else 'less'} than last week"
            )  # fmt: skip
            return f"{money(currency, amount)} {risk}; {tail}."
        parts = []
        for currency, amount in shown.items():
            delta = None if change is None else change.get(currency)
            if delta is None:
                tail = "no figure for last week"
            elif abs(delta) < 0.5:
                tail = "the same as last week"
            else:
                tail = f"{money(currency, abs(delta))} {'more' if delta > 0 else 'less'} than last week"
            parts.append(f"{money(currency, amount)} ({tail})")
        return f"{' and '.join(parts)} {risk}."
    if value is None:
        return {
            "approved_not_posted": "No time approved this week was old enough to judge its posting.",
            "invoice_lag_p95": "No billable time was approved this week.",
            "invoice_lag_p50": "No billable time was approved this week.",
            "first_pass": "No time was sent to the ERP this week.",
            "eventual": "No time approved this week was old enough to judge its posting.",
            "resource_plan": "No HR changes were due in the resource plan this week.",
        }.get(figure.key, f"{figure.label}: no data this week.")
    versus = _versus(figure.unit, change)
    if figure.key == "approved_not_posted":
        n = f"{value:,.0f} time {'entry' if value == 1 else 'entries'}"
        return f"{n} approved this week did not reach the ERP within 24 hours, {versus}."
    if figure.key == "invoice_lag_p95":
        goal = f" (objective: {objective:g} business days)" if objective is not None else ""
        return (
            f"95% of billable approved time was ready to invoice within {value:.1f} business days of its billing"
            f" cut-off{goal}, {versus}."
        )
    if figure.key == "invoice_lag_p50":
        return f"Half of it was ready within {value:.1f} business days, {versus}."
    if figure.unit == "ratio":
        goal = f" (objective {100 * objective:g}%)" if objective is not None else ""
        what = {
            "first_pass": "of time entries were accepted by the ERP on the first attempt",
            "eventual": "of approved time was posted to the ERP within 24 hours",
            "resource_plan": "of HR changes (hires, moves, leavers) reached the resource plan in time",
        }[figure.key]
        return f"{100 * value:.1f}% {what}{goal}, {versus}."
    if figure.key == "slos_met":
        tail = f"; {value['not_judged']} could not be judged (partial or no data)" if value["not_judged"] else ""
        return f"{value['met']} of {value['of']} objectives met, {value['missed']} missed{tail}; {versus}."
    return f"{figure.label}: {show(figure.unit, value)}, {versus}."


def _trend(figure: Figure, history: Sequence[Mapping[str, dict[str, Any]]]) -> Any:
    """Oldest first, one value per week (None where the week had no data); per currency for money."""
    values = [figure.value(week) for week in history]
    if figure.unit == "money":
        currencies = sorted({c for v in values if v for c in v})
        return {c: [None if v is None else v.get(c, 0.0) for v in values] for c in currencies}
    if figure.unit == "objectives":
        return [None if v is None else v["met"] for v in values]
    return values


def _headline(history: Sequence[Mapping[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    now, before = history[-1], history[-2] if len(history) > 1 else {}
    out = []
    for figure in FIGURES:
        value, previous = figure.value(now), figure.value(before) if before else None
        change = _change(figure.unit, value, previous)
        sli = now.get(figure.sli)
        status = sli["status"] if sli else _overall_status(value)
        out.append({
            "key": figure.key, "label": figure.label, "sli": figure.sli or None, "unit": figure.unit,
            "better": figure.better, "value": value, "previous": previous, "change": change,
            "text": show(figure.unit, value), "status": status,
            "objective": sli["objective"] if sli else None,
            "sentence": sentence(figure, value, change, sli), "trend": _trend(figure, history),
        })  # fmt: skip
    return out


def _overall_status(met: Any) -> str:
    if not met or not met["of"]:
        return "no_data"
    return "ok" if met["missed"] == 0 else "breach"


# -- trends --------------------------------------------------------------------------------------------------------
# (chart, title, the figures drawn as its lines, the figure whose objective it shows): the headline's weekly values,
# so each point is what /api/v1/slis answered for that week's window.
TRENDS = (
    ("wip_at_risk", "Unbilled work at risk", ("wip_at_risk",), None),
    ("approved_not_posted", "Approved time not posted within 24 h", ("approved_not_posted",), None),
    ("invoice_lag", "Ready to invoice (business days): 95% and half of time within", ("invoice_lag_p95",
     "invoice_lag_p50"), "invoice_lag_p95"),
    ("first_pass", "Posted on the first attempt", ("first_pass",), "first_pass"),
    ("eventual", "Posted within 24 h of approval", ("eventual",), "eventual"),
    ("resource_plan", "HR changes in the resource plan in time", ("resource_plan",), "resource_plan"),
)  # fmt: skip
_SERIES_NAMES = {"invoice_lag_p95": "95%", "invoice_lag_p50": "half"}


def _trends(weeks: list[str], headline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_key = {f["key"]: f for f in headline}
    out = []
    for key, title, keys, judged in TRENDS:
        first = by_key[keys[0]]
        if first["unit"] == "money":
            series = {c: line for c, line in first["trend"].items() if any(v for v in line if v is not None)}
        else:
            series = {_SERIES_NAMES.get(k, ""): by_key[k]["trend"] for k in keys}
        objective = by_key[judged]["objective"] if judged else None
        if first["unit"] == "money" and series:  # never converted: the chart says which currencies it draws
            title = f"{title} ({', '.join(series)})"
        out.append({
            "key": key, "title": title, "unit": first["unit"], "weeks": weeks, "series": series,
            "objective": objective, "objective_text": objective_text(first["unit"], objective),
            "empty": not any(v is not None for line in series.values() for v in line),
        })  # fmt: skip
    return out


# -- where the money is stuck -----------------------------------------------------------------------------------------
def _cause_of(record: Mapping[str, Any]) -> tuple[str, str]:
    """(kind, cause) of a record behind unbilled WIP or a failed first attempt."""
    status, detail = str(record.get("status") or ""), str(record.get("detail") or "")
    error = status.removeprefix("blocked: ") if status.startswith("blocked: ") else detail
    category = error.split(":", 1)[0].strip()
    if status.startswith("blocked: ") or (status.startswith("failed") and category):
        return "ERP rejection", category or "unknown error"
    if "not posted" in status or "never sent" in status:
        return "Approved 30+ days ago, not posted", "not posted"
    return "Posted 30+ days ago, not on an invoice", "not invoiced"


def _group(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    causes: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        kind, cause = _cause_of(r)
        c = causes.setdefault((kind, cause), {"kind": kind, "cause": cause, "entries": 0, "money": {},
                                              "projects": {}, "tenants": set()})  # fmt: skip
        c["entries"] += 1
        amount, currency = r.get("amount"), str(r.get("currency") or "")
        if amount is not None and currency:
            c["money"][currency] = c["money"].get(currency, 0.0) + float(amount)
        if r.get("project_code"):
            project = str(r["project_code"])
            c["projects"][project] = c["projects"].get(project, 0.0) + float(amount or 0.0)
        if r.get("tenant"):
            c["tenants"].add(str(r["tenant"]))
    out = []
    for c in causes.values():
        top = sorted(c["projects"].items(), key=lambda p: (-p[1], p[0]))[:3]
        out.append({
            "kind": c["kind"], "cause": c["cause"], "entries": c["entries"],
            "money": dict(sorted(c["money"].items())), "money_text": show("money", dict(sorted(c["money"].items()))),
            "projects": [p for p, _ in top], "tenants": sorted(c["tenants"]),
        })  # fmt: skip
    # Never converted: ranked by the largest amount in any one currency, then by entries.
    return sorted(out, key=lambda c: (-max(c["money"].values(), default=0.0), -c["entries"], c["cause"]))


def _stuck(
    sources: ReportSources,
    window: Window,
    slis: Mapping[str, dict[str, Any]],
    tenant: str | None,
    silent: list[dict[str, Any]],
) -> dict[str, Any]:
    wip = sources.records("unbilled_wip_at_risk", window, RECORDS_LIMIT)
    rejected = sources.records("time_posting_first_pass", window, RECORDS_LIMIT)
    complete = len(wip) < RECORDS_LIMIT, len(rejected) < RECORDS_LIMIT
    if tenant is not None:
        wip = [r for r in wip if r.get("tenant") == tenant]
        rejected = [r for r in rejected if r.get("tenant") == tenant]
    dead = slis.get("dead_letter_backlog", {}).get("details", {}).get("queues", {})
    return {
        "at_risk": _group(wip),
        "at_risk_complete": complete[0],
        "rejections": _group(rejected),
        "rejections_complete": complete[1],
        "dead_letters": [
            {
                "queue": q,
                "count": d.get("count", 0),
                "oldest_hours": d.get("oldest_hours"),
                "oldest_text": "" if d.get("oldest_hours") is None else _span(3600 * float(d["oldest_hours"])),
            }
            for q, d in sorted(dead.items(), key=lambda item: -float(item[1].get("oldest_hours") or 0.0))
        ],
        "silent_flows": silent,
    }


def _silent(flows: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"flow": name, "hours_quiet": round(_quiet(f) / 3600, 1), "quiet_text": _span(_quiet(f))}
        for name, f in sorted(flows.items()) if isinstance(f, dict) and f.get("silent")
    ]  # fmt: skip


def _quiet(flow: Mapping[str, Any]) -> float:
    return float(flow.get("seconds_since_last") or flow.get("listened_seconds") or 0.0)


def _span(seconds: float) -> str:
    """A duration as a reader says it: minutes, hours up to two days, then days."""
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- per tenant, and how much to trust this ------------------------------------------------------------------------
def _tenants(by_tenant: Mapping[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    names = sorted({t for name in TENANT_SLIS for t in by_tenant.get(name, {}) if t})
    rows = []
    for tenant in names:
        cells = {}
        for name in TENANT_SLIS:
            found = by_tenant.get(name, {}).get(tenant)
            if found is None:
                cells[name] = {"text": "no data", "status": "no_data"}
            elif name == "unbilled_wip_at_risk":
                cells[name] = {"text": show("money", _at_risk({name: found})), "status": found["status"]}
            else:
                cells[name] = {"text": show(found["unit"], found["value"]), "status": found["status"]}
        rows.append({"tenant": tenant, "cells": cells})
    return rows


def _trust(slis: Mapping[str, dict[str, Any]], silent: list[dict[str, Any]]) -> dict[str, Any]:
    """SLIs whose number could not see everything: their status, share measured and what was left out."""
    gaps = []
    for s in slis.values():
        coverage = s.get("coverage") or {}
        left = coverage.get("left_out") or {}
        if s["status"] in ("partial", "no_data") or left:
            gaps.append({
                "sli": s["name"], "title": s["title"], "status": s["status"],
                "ratio": coverage.get("ratio"), "complete": coverage.get("complete", s["status"] != "partial"),
                "left_out": [
                    {"reason": reason, "why": REASONS.get(reason, reason.replace("_", " ")), "count": item["count"],
                     "money": item.get("money", {}),
                     "money_text": show("money", item.get("money", {})) if item.get("money") else ""}
                    for reason, item in sorted(left.items())
                ],
            })  # fmt: skip
    complete = all(g["complete"] for g in gaps) and not silent
    return {"complete": complete, "slis": gaps, "silent_flows": silent}


# -- the report -----------------------------------------------------------------------------------------------------
def build_weekly(
    sources: ReportSources,
    year: int,
    week: int,
    *,
    tenant: str | None = None,
    firm: str = "",
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The report of ISO week (year, week): every figure from /api/v1/slis's evaluation of that week's window.

    With `tenant`, the figures are that legal entity's rows of /api/v1/slis/{name}/breakdown?by=tenant and the
    causes its records; coverage, silent flows and incidents stay firm-wide (they are not kept per entity).
    """
    weeks = weeks_before(year, week, HISTORY_WEEKS)
    windows = [week_window(y, w) for y, w in weeks]
    window = windows[-1]
    overall = {name: r[""] for name, r in sources.slis(window).items() if "" in r}
    by_tenant = sources.slis(window, "tenant")
    if tenant is None:
        history = [{name: r[""] for name, r in sources.slis(w).items() if "" in r} for w in windows[:-1]]
        slis = overall
    else:
        history = [_of_tenant(sources.slis(w, "tenant"), tenant) for w in windows[:-1]]
        slis = _of_tenant(by_tenant, tenant)
    history.append(slis)
    silent = _silent(overall.get("flow_silence", {}).get("details", {}).get("flows", {}))
    stuck = _stuck(sources, window, slis, tenant, silent)
    tenants = _tenants(by_tenant)
    incidents = summary(sources.alert_transitions(lookback(window)), window)
    report = {
        "kind": "weekly",
        "week": week_label(year, week),
        "from": _iso(window.start),
        "to": _iso(window.end),
        "tenant": tenant,
        "firm": firm,
        "generated_at": _iso(generated_at or datetime.now(UTC)),
        "weeks": [week_label(y, w) for y, w in weeks],
        "headline": _headline(history),
        "stuck": stuck,
        "incidents": incidents["items"],
        "incident_summary": {"week": incidents["week"], "previous": incidents["previous"]},
        "tenants": tenants if tenant is None else [t for t in tenants if t["tenant"] == tenant],
        "tenant_columns": {name: overall[name]["title"] for name in TENANT_SLIS if name in overall},
        "trust": _trust(overall, silent),
        "slis": [
            {
                **{k: s[k] for k in ("name", "title", "unit", "value", "status", "objective")},
                "text": show(s["unit"], s["value"]),
                "objective_text": objective_text(s["unit"], s["objective"]),
            }
            for s in slis.values()
        ],
    }
    report["trends"] = _trends(report["weeks"], report["headline"])
    report["recommendations"] = recommend(report)
    return report


def _of_tenant(by_tenant: Mapping[str, dict[str, dict[str, Any]]], tenant: str) -> dict[str, dict[str, Any]]:
    return {name: rows[tenant] for name, rows in by_tenant.items() if tenant in rows}
