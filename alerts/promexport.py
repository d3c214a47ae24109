"""`syncwatch rules export`: the rules as a Prometheus rule file, for a Prometheus and Alertmanager that notify
(the compose stack's, or a firm's own).

One alert truth. The collector's evaluator (alerts/evaluate.py) decides for every rule whether each alert
instance breaches now: with `min_events`, per-flow cadences, finding ages, hysteresis and active time intervals,
which no series on /metrics carries and PromQL over them only approximates (an approximation that fired where
the evaluator did not, and the other way round). It serves each verdict on /metrics as
`syncwatch_alert_rule_breaching{alertname, <the alert's labels>}` (alerts/telemetry.py), and every exported rule
fires on its own verdict with the rule's `for` and `keep_firing_for`. Prometheus then fires the same alerts with
the same labels, at most one scrape plus one evaluation interval after the evaluator
(tests/integration/alerts/test_one_alert_truth.py replays a fault history through both). Every rule is exported;
two more tell when the verdicts themselves stop coming, since then no rule above can fire.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from alerts.config import AlertsConfig, Rule
from syncwatch.durations import format_duration

__all__ = ["VERDICT_SERIES", "export_rules", "prometheus_expr", "render_rule_file"]

VERDICT_SERIES = "syncwatch_alert_rule_breaching"
# Added by the scrape, not by the evaluator: dropped so an alert's labels are exactly the evaluator's.
_SCRAPE_LABELS = ("instance", "job")


def _q(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def prometheus_expr(rule: Rule) -> str:
    """The rule's condition in Prometheus: the evaluator's verdict for each of its alert instances."""
    return f'max without ({", ".join(_SCRAPE_LABELS)}) ({VERDICT_SERIES}{{alertname="{_q(rule.name)}"}}) == 1'


def _observed_label_names(rule: Rule) -> set[str]:
    """Labels the evaluator takes from what it observes (alerts/evaluate.py); they win over the rule's labels."""
    if rule.kind in ("sli", "burn_rate"):
        return {"sli", rule.dimension} - {""}
    if rule.kind == "absent_sli":
        return {"sli"}
    if rule.kind == "probe_finding":
        return {"finding", "system", rule.split_by} - {""}
    return {"probe", "system"}


def _summary(rule: Rule) -> str:
    # Go templates, not ours: Prometheus has the alert's labels; the summary with records, money and reasons is
    # the evaluator's (GET /api/v1/alerts, and its own notifiers).
    where = _with_label(rule.dimension, f" on {rule.dimension} ", "") if rule.dimension else ""
    if rule.kind == "burn_rate":
        what = (
            f"{{{{ $labels.sli }}}}{where} burns its error budget faster than {rule.factor:g}x over "
            f"{rule.long_window} and {rule.short_window}"
        )
    elif rule.kind == "sli" and rule.status_in:
        what = f"{{{{ $labels.sli }}}}{where} is {' or '.join(rule.status_in)}"
    elif rule.kind == "sli" and rule.detail_true:
        what = f"{{{{ $labels.sli }}}}{where} is {rule.detail_true}"
    elif rule.kind == "sli":
        what = f"{{{{ $labels.sli }}}}{where} {rule.field_} {rule.op} {rule.threshold:g}"
    elif rule.kind == "probe_finding":
        part = _with_label(rule.split_by, f" ({rule.split_by} ", ")") if rule.split_by else ""
        aged = f" older than {format_duration(rule.min_age)}" if rule.min_age else ""
        measure = "" if rule.measure == "count" else f" ({rule.measure})"
        what = f"{rule.finding} findings{aged} on {{{{ $labels.system }}}}{part}{measure} {rule.op} {rule.threshold:g}"
    elif rule.kind == "probe_outcome":
        what = f"probe {{{{ $labels.probe }}}} on {{{{ $labels.system }}}} ended {' or '.join(rule.outcomes)}"
    elif rule.kind == "absent_probe":
        what = f"probe {{{{ $labels.probe }}}} has not run for over {format_duration(rule.max_age)}"
    else:
        what = f"no {rule.sli} snapshot for over {format_duration(rule.max_age)}: the metrics stage is silent"
    return f"{rule.name}: {what}"


def _with_label(name: str, before: str, after: str) -> str:
    """A label's value between two texts, or nothing when the alert has no such label (Go template)."""
    return f"{{{{ with $labels.{name} }}}}{before}{{{{ . }}}}{after}{{{{ end }}}}"


def _exported(rule: Rule) -> dict[str, Any]:
    item: dict[str, Any] = {"alert": rule.name, "expr": prometheus_expr(rule)}
    if rule.for_:
        item["for"] = format_duration(rule.for_)
    if rule.keep_firing_for:
        item["keep_firing_for"] = format_duration(rule.keep_firing_for)
    # The verdict already carries every label; repeating the rule's own keeps the file readable, and leaving out
    # those an observation sets keeps the evaluator's precedence (its observation wins).
    shadowed = _observed_label_names(rule)
    labels = {"severity": rule.severity, "team": rule.team, **rule.labels}
    item["labels"] = {k: v for k, v in labels.items() if k not in shadowed}
    item["annotations"] = {"summary": _summary(rule), "runbook_url": rule.runbook_url}
    return item


# Without verdicts no rule above can fire: say so rather than stay quiet.
_VERDICT_GUARDS: list[dict[str, Any]] = [
    {
        "alert": "SyncWatchAlertVerdictsAbsent",
        "expr": "absent(syncwatch_alert_last_evaluation_timestamp_seconds)",
        "for": "5m",
        "labels": {"severity": "critical", "team": "syncwatch", "category": "pipeline"},
        "annotations": {
            "summary": "SyncWatch serves no alert verdicts: the collector is not scraped or its alerts stage has not "
            "evaluated since it started, so no SyncWatch rule can fire here",
            "runbook_url": "https://runbooks.syncwatch.dev/alert-verdicts-absent",
        },
    },
    {
        "alert": "SyncWatchAlertEvaluationsFailing",
        "expr": 'increase(syncwatch_alert_evaluations_total{outcome="ok"}[5m]) == 0',
        "for": "1m",  # a collector just started shows two samples of 0 until its first evaluation ends
        "labels": {"severity": "critical", "team": "syncwatch", "category": "pipeline"},
        "annotations": {
            "summary": "SyncWatch on {{ $labels.instance }} has not evaluated its alert rules for 5 minutes: "
            "its verdicts, and every alert here, are frozen",
            "runbook_url": "https://runbooks.syncwatch.dev/alert-evaluations-failing",
        },
    },
]


def export_rules(config: AlertsConfig, interval_seconds: float = 15.0) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for rule in config.rules:
        group = "syncwatch-slo-burn-rates" if rule.kind == "burn_rate" else "syncwatch-alerts"
        groups.setdefault(group, []).append(_exported(rule))
    groups["syncwatch-alert-verdicts"] = [dict(guard) for guard in _VERDICT_GUARDS]
    return {
        "groups": [
            {"name": name, "interval": format_duration(interval_seconds), "rules": rules}
            for name, rules in groups.items()
        ]
    }


def render_rule_file(config: AlertsConfig, interval_seconds: float = 15.0) -> str:
    head = (
        "# Generated by `syncwatch rules export` from " + _shown_path(config.source) + ".\n"
        "# Each rule fires on SyncWatch's own verdict for it (syncwatch_alert_rule_breaching on /metrics), with the\n"
        "# rule's `for` and `keep_firing_for`: the alerts SyncWatch's evaluator fires (docs/alerting.md).\n"
    )
    return head + yaml.safe_dump(export_rules(config, interval_seconds), sort_keys=False, width=120)


def _shown_path(source: str) -> str:
    """The config file relative to the working directory when inside it: a committed rule file then names
    alerts/config/default.yaml instead of one machine's absolute path."""
    try:
        return str(Path(source).resolve().relative_to(Path.cwd()))
    except ValueError:
        return source
