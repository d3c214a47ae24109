"""Rule evaluation: what each rule observes in the signals, and the alert state machine.

States follow Prometheus: a breach makes an alert `pending`; after `for` it is `firing`; once the breach is over
(and `keep_firing_for` has passed since the last breach) it is `resolved`. A firing rule with `clear_threshold`
only stops breaching once the value crosses that safer bar, so a value wobbling around the threshold does not
flap. `min_events` turns a low-traffic row (total below it) into "no breach": one failure out of two is no page.

Everything here is pure: given the same signals, time and prior states it returns the same transitions, which
is what makes replaying history (tests, bench) equal to the live job.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from alerts.config import AlertsConfig, Rule
from alerts.signals import Finding, ProbeState, SliValue
from alerts.templates import format_duration_human, format_money, render

__all__ = ["Alert", "Observation", "Transition", "Verdict", "evaluate", "fingerprint", "observe"]

INACTIVE, PENDING, FIRING, RESOLVED = "inactive", "pending", "firing", "resolved"


@dataclass(frozen=True)
class Observation:
    """One alert instance's reading: `fire` says it breaches the firing bar, `hold` the clearing bar."""

    labels: dict[str, str]
    value: float | None
    fire: bool
    hold: bool
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """Whether one alert instance breaches at an evaluation, before `for`: the bar the state machine applied (the
    clearing bar while it fires, no breach outside its active time intervals unless already firing). Served on
    /metrics so a Prometheus evaluating the exported rules fires what this evaluator fires (alerts/promexport.py)."""

    labels: dict[str, str]
    breach: bool


@dataclass(frozen=True)
class Alert:
    fingerprint: str
    rule: str
    state: str
    severity: str
    team: str
    labels: dict[str, str]
    annotations: dict[str, str]
    active_since: datetime | None
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    last_breach_at: datetime | None = None
    value: float | None = None
    updated_at: datetime | None = None

    def public(self, acknowledged_by: str | None = None) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "state": self.state,
            "severity": self.severity,
            "team": self.team,
            "labels": self.labels,
            "annotations": self.annotations,
            "active_since": _iso(self.active_since),
            "fired_at": _iso(self.fired_at),
            "resolved_at": _iso(self.resolved_at),
            "value": self.value,
            "acknowledged_by": acknowledged_by,
        }


@dataclass(frozen=True)
class Transition:
    alert: Alert
    from_state: str
    to_state: str


def fingerprint(labels: dict[str, str]) -> str:
    """Stable across restarts and processes: a hash of the sorted label set (as Alertmanager's)."""
    return hashlib.sha256(orjson.dumps(labels, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def evaluate(
    config: AlertsConfig,
    slis: list[SliValue],
    probes: ProbeState,
    now: datetime,
    alerts: dict[str, Alert],
    verdicts: list[Verdict] | None = None,
) -> list[Transition]:
    """Advance every alert one evaluation; mutates `alerts` (fingerprint -> alert) and returns the changes.
    `verdicts`, when given, receives each observed alert instance's verdict."""
    transitions: list[Transition] = []
    seen: set[str] = set()
    for rule in config.rules:
        active = all(
            config.time_intervals[name].contains(now) for name in rule.active_time_intervals
        )  # validated at load
        for obs in observe(rule, slis, probes, now):
            if not active:
                obs = replace(obs, fire=False)
            labels = {"alertname": rule.name, "severity": rule.severity, "team": rule.team, **rule.labels, **obs.labels}
            fp = fingerprint(labels)
            seen.add(fp)
            old = alerts.get(fp)
            firing = old is not None and old.state == FIRING
            breach = obs.hold if firing else obs.fire
            if verdicts is not None:
                verdicts.append(Verdict(labels, breach))
            annotations = _annotations(rule, obs, labels)
            _step(rule, fp, labels, annotations, obs.value, breach, old, now, alerts, transitions)
    rules = {r.name: r for r in config.rules}
    for fp, old in list(alerts.items()):
        if fp in seen or old.state in (RESOLVED, INACTIVE):
            continue
        owner = rules.get(old.rule)
        if owner is None:  # the rule was removed from the config: resolve what it left firing
            _resolve_or_drop(old, now, alerts, transitions)
            continue
        # The series vanished (the key left the snapshot, the probe stopped finding): no breach.
        _step(owner, fp, old.labels, old.annotations, old.value, False, old, now, alerts, transitions)
    return transitions


def _step(
    rule: Rule,
    fp: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    value: float | None,
    breach: bool,
    old: Alert | None,
    now: datetime,
    alerts: dict[str, Alert],
    out: list[Transition],
) -> None:
    state = old.state if old is not None else INACTIVE
    if breach:
        if state in (INACTIVE, RESOLVED) or old is None:
            new = Alert(
                fp, rule.name, PENDING, rule.severity, rule.team, labels, annotations, now, None, None, now, value, now
            )
            if rule.for_ <= 0:
                new = replace(new, state=FIRING, fired_at=now)
            alerts[fp] = new
            out.append(Transition(new, state if old is not None else INACTIVE, new.state))
            return
        assert old is not None and old.active_since is not None
        new = replace(old, annotations=annotations, value=value, last_breach_at=now, labels=labels, updated_at=now)
        if state == PENDING and (now - old.active_since).total_seconds() >= rule.for_:
            new = replace(new, state=FIRING, fired_at=now)
            out.append(Transition(new, PENDING, FIRING))
        alerts[fp] = new
        return
    if old is None or state in (INACTIVE, RESOLVED):
        return
    if state == PENDING:
        del alerts[fp]
        out.append(Transition(replace(old, state=INACTIVE, value=value, updated_at=now), PENDING, INACTIVE))
        return
    last = old.last_breach_at or old.active_since or now
    if rule.keep_firing_for > 0 and (now - last).total_seconds() < rule.keep_firing_for:
        alerts[fp] = replace(old, value=value, updated_at=now)
        return
    _resolve_or_drop(replace(old, value=value, annotations=annotations), now, alerts, out)


def _resolve_or_drop(old: Alert, now: datetime, alerts: dict[str, Alert], out: list[Transition]) -> None:
    if old.state == PENDING:
        del alerts[old.fingerprint]
        out.append(Transition(replace(old, state=INACTIVE, updated_at=now), PENDING, INACTIVE))
        return
    new = replace(old, state=RESOLVED, resolved_at=now, updated_at=now)
    alerts[old.fingerprint] = new
    out.append(Transition(new, FIRING, RESOLVED))


def _annotations(rule: Rule, obs: Observation, labels: dict[str, str]) -> dict[str, str]:
    context = {
        "rule": rule.name,
        "severity": rule.severity,
        "team": rule.team,
        "labels": labels,
        "value": obs.value,
        "threshold": rule.factor if rule.kind == "burn_rate" else rule.threshold,
        "op": rule.op,
        **obs.context,
    }
    out = {"summary": render(rule.summary, context), "runbook_url": rule.runbook_url}
    out["description"] = render(rule.description, context) if rule.description else ""
    return out


# -- what each kind of rule observes ------------------------------------------------------------------------------
def observe(rule: Rule, slis: list[SliValue], probes: ProbeState, now: datetime) -> list[Observation]:
    if rule.kind in ("sli", "burn_rate"):
        rows = [
            s
            for s in slis
            if re.fullmatch(rule.sli, s.sli)
            and s.dimension == rule.dimension
            and (not rule.key or re.fullmatch(rule.key, s.key))
        ]
        return [o for o in (_observe_sli(rule, row) for row in rows) if o is not None]
    if rule.kind == "absent_sli":
        return [_observe_absent_sli(rule, slis, now)]
    if rule.kind == "probe_finding":
        return _observe_findings(rule, probes)
    if rule.kind == "probe_outcome":
        return _observe_outcomes(rule, probes)
    return _observe_absent_probes(rule, probes, now)


def _sli_context(row: SliValue) -> dict[str, Any]:
    budget = row.budget_remaining
    return {
        "sli": row.sli,
        "dimension": row.dimension,
        "key": row.key,
        "key_text": f" on {row.dimension} {row.key}" if row.dimension else "",
        "sli_value": row.value,
        "objective": row.objective,
        "good": row.good,
        "total": row.total,
        "bad": row.total - row.good,
        "status": row.status,
        "budget_remaining": budget,
        "budget_text": "error budget unknown"
        if budget is None
        else f"{max(budget, 0) * 100:.0f}% of the error budget left",
        "details": row.details,
        "coverage_text": _coverage_text(row.details.get("coverage")),
    }


def _coverage_text(coverage: Any) -> str:
    """What an SLI left out, for a summary: "12 unknown_billing_type (EUR 41,200), 3 no_project_named"."""
    if not isinstance(coverage, dict) or not isinstance(coverage.get("left_out"), dict):
        return ""
    parts = []
    for reason, item in coverage["left_out"].items():
        money = ", ".join(format_money(amount, currency) for currency, amount in (item.get("money") or {}).items())
        parts.append(f"{item.get('count', 0)} {reason}" + (f" ({money})" if money else ""))
    return ", ".join(parts)


def _window_counts(row: SliValue, window: str) -> tuple[float, float]:
    """(judged, bad) in a burn window, as the metrics stage stores them in the details; (0, 0) when absent."""
    counts = row.details.get("windows", {}).get(window, {})
    if not isinstance(counts, dict):
        return 0.0, 0.0
    return float(counts.get("judged", 0.0)), float(counts.get("bad", 0.0))


def _observe_sli(rule: Rule, row: SliValue) -> Observation | None:
    labels = {"sli": row.sli}
    if row.dimension:
        labels[row.dimension] = row.key
    context = _sli_context(row)
    judged = row.total
    if rule.min_events_window:  # the guard counts the events of that window, not of the SLO window
        judged, bad = _window_counts(row, rule.min_events_window)
        context |= {"window": rule.min_events_window, "window_judged": judged, "window_bad": bad}
    guarded = judged < rule.min_events
    if rule.kind == "burn_rate":
        long_burn, short_burn = row.burn.get(rule.long_window), row.burn.get(rule.short_window)
        if long_burn is None or short_burn is None:
            # No events in a window (a quiet 5 minutes on a small firm): no evidence either way. Do not start
            # an alert on it, and do not resolve one on it either.
            return Observation(labels, long_burn, False, True, context | {"short_burn": short_burn})
        context["short_burn"] = short_burn
        hit = not guarded and long_burn > rule.factor and short_burn > rule.factor
        return Observation(labels, long_burn, hit, hit, context)
    value = row.field_value(rule.field_)
    if rule.status_in or rule.detail_true:
        hit = not guarded and (row.status in rule.status_in or row.details.get(rule.detail_true or "-") is True)
        return Observation(labels, value, hit, hit, context)
    if value is None:
        return None
    fire = not guarded and rule.breaching(value, firing=False)
    hold = not guarded and rule.breaching(value, firing=True)
    return Observation(labels, value, fire, hold, context)


def _observe_absent_sli(rule: Rule, slis: list[SliValue], now: datetime) -> Observation:
    times = [s.time for s in slis if s.sli == rule.sli]
    age = (now - max(times)).total_seconds() if times else None
    hit = age is None or age > rule.max_age
    context = {"sli": rule.sli, "age": age, "max_age": rule.max_age}
    return Observation({"sli": rule.sli}, age, hit, hit, context)


def _probe_matches(rule: Rule, probe: str, system: str) -> bool:
    if rule.system and system != rule.system:
        return False
    return not rule.probe or re.fullmatch(rule.probe, probe) is not None


def _observe_findings(rule: Rule, probes: ProbeState) -> list[Observation]:
    # One alert per system a probe looked at, so an ERP-wide inhibition can target exactly its alerts; with
    # split_by, one per value of that detail key among the findings (a stopped integration each).
    systems = {r.system for r in probes.runs if _probe_matches(rule, r.probe, r.system)}
    groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in probes.findings:
        if f.kind == rule.finding and f.age_seconds >= rule.min_age and _probe_matches(rule, f.probe, f.system):
            groups[(f.system, str(f.detail.get(rule.split_by) or "") if rule.split_by else "")].append(f)
    keys = set(groups) if rule.split_by else {(system, "") for system in systems} | set(groups)
    out = []
    for system, part in sorted(keys):
        found = groups.get((system, part), [])
        context = _findings_context(found, rule)
        context["system"] = system
        labels = {"finding": rule.finding, "system": system}
        if rule.split_by:
            labels[rule.split_by] = part
            context[rule.split_by] = part
        value = float(len(found)) if rule.measure == "count" else float(sum(f.amount or 0 for f in found))
        guarded = len(found) < rule.min_events
        fire = not guarded and rule.breaching(value, firing=False)
        hold = not guarded and rule.breaching(value, firing=True)
        out.append(Observation(labels, value, fire, hold, context))
    return out


def _findings_context(found: list[Finding], rule: Rule) -> dict[str, Any]:
    money: dict[str, Decimal] = defaultdict(Decimal)
    for f in found:
        if f.amount is not None:
            money[f.currency or "?"] += Decimal(f.amount)
    amounts = sorted(money.items(), key=lambda kv: -kv[1])
    by_project: Counter[str] = Counter(f.project_code for f in found if f.project_code)
    project_money: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for f in found:
        if f.project_code and f.amount is not None:
            project_money[f.project_code][f.currency] += Decimal(f.amount)

    def project_total(code: str) -> float:
        return float(sum(project_money[code].values()))

    top = sorted(by_project, key=lambda c: (-project_total(c), -by_project[c], c))[:3]
    top_projects = [
        (code, by_project[code], ", ".join(format_money(a, c) for c, a in project_money[code].items()) or "no amount")
        for code in top
    ]
    worst = sorted(found, key=lambda f: (-(float(f.amount or 0)), -f.age_seconds, f.object_id))[:5]
    top_records = [
        {
            "object_id": f.object_id,
            "object_type": f.object_type,
            "project_code": f.project_code,
            "consultant_id": f.consultant_id,
            "tenant_id": f.tenant_id,
            "amount": format_money(f.amount, f.currency) if f.amount is not None else "",
            "age": format_duration_human(f.age_seconds),
            "detail": f.detail,
        }
        for f in worst
    ]
    return {
        "finding": rule.finding,
        "count": len(found),
        "amounts": [(c, float(a)) for c, a in amounts],
        "money_text": " + ".join(format_money(a, c) for c, a in amounts) or "no recorded amount",
        "min_age": rule.min_age,
        "oldest_age": max((f.age_seconds for f in found), default=None),
        "top_projects": top_projects,
        "top_projects_text": "; ".join(f"{c} ({n}, {m})" for c, n, m in top_projects) or "none",
        "top_records": top_records,
        "top_records_text": ", ".join(
            f"{r['object_id']}" + (f" ({r['amount']})" if r["amount"] else "") for r in top_records
        )
        or "none",
    }


def _observe_outcomes(rule: Rule, probes: ProbeState) -> list[Observation]:
    out = []
    for run in probes.runs:
        if not _probe_matches(rule, run.probe, run.system):
            continue
        hit = run.outcome in rule.outcomes and (
            not rule.error_pattern or re.search(rule.error_pattern, run.error) is not None
        )
        context = {"probe": run.probe, "system": run.system, "outcome": run.outcome, "error": run.error}
        out.append(Observation({"probe": run.probe, "system": run.system}, 1.0 if hit else 0.0, hit, hit, context))
    return out


def _observe_absent_probes(rule: Rule, probes: ProbeState, now: datetime) -> list[Observation]:
    runs = [r for r in probes.runs if _probe_matches(rule, r.probe, r.system)]
    if not runs:
        context = {"probe": rule.probe, "system": rule.system, "age": None, "max_age": rule.max_age}
        return [Observation({"probe": rule.probe}, None, True, True, context)]
    out = []
    for run in runs:
        age = (now - run.started_at).total_seconds()
        hit = age > rule.max_age
        context = {"probe": run.probe, "system": run.system, "age": age, "max_age": rule.max_age}
        out.append(Observation({"probe": run.probe, "system": run.system}, age, hit, hit, context))
    return out


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")
