"""`syncwatch rules export`: the same rules as a Prometheus rule file over the series metrics and probes expose
on /metrics, for firms that alert with their own Prometheus and Alertmanager.

What a Prometheus series cannot express is said in a comment on the rule (`min_events` needs good/total, which
/metrics does not carry; probe `min_age` needs per-record ages); such rules export their nearest equivalent.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from alerts.config import AlertsConfig, Rule
from syncwatch.durations import format_duration

__all__ = ["export_rules", "prometheus_expr", "render_rule_file"]

_SLI_FIELD_SERIES = {
    "value": "syncwatch_sli_value",
    "budget_remaining": "syncwatch_slo_error_budget_remaining_ratio",
    "coverage": "syncwatch_sli_coverage_ratio",
}


def _q(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def prometheus_expr(rule: Rule) -> tuple[str | None, str]:
    """(PromQL expression or None when not expressible, a note on what differs)."""
    if rule.kind == "burn_rate":
        sel = f'syncwatch_slo_burn_rate{{sli="{_q(rule.sli)}",window="%s"}}'
        # `without (window)` so the two windows join, and the alert carries the rule's window labels only.
        expr = (
            f"max without (window) ({sel % rule.long_window}) > {rule.factor:g}\nand\n"
            f"max without (window) ({sel % rule.short_window}) > {rule.factor:g}"
        )
        return expr, "min_events is not expressible over /metrics" if rule.min_events else ""
    if rule.kind == "sli":
        if rule.dimension not in ("", "flow"):
            return None, f"dimension {rule.dimension!r} has no /metrics series"
        if rule.detail_true == "silent" and rule.sli == "flow_silence":
            return (
                'syncwatch_flow_sli_value{sli="flow_silence"} > 0 and on(flow) '
                "(syncwatch_flow_last_event_age_seconds > 3 * 3600)",
                "per-flow cadences are not on /metrics: 3 x 1 h is assumed",
            )
        if rule.status_in or rule.detail_true:
            return (
                f'syncwatch_sli_value{{sli="{_q(rule.sli)}"}} > syncwatch_slo_objective{{sli="{_q(rule.sli)}"}}',
                "status is approximated as value above objective",
            )
        if rule.field_.startswith("burn_"):
            series = f'syncwatch_slo_burn_rate{{sli="{_q(rule.sli)}",window="{rule.field_[5:]}"}}'
        elif rule.dimension == "flow" and rule.field_ == "value":
            series = f'syncwatch_flow_sli_value{{sli="{_q(rule.sli)}"}}'
        elif rule.field_ in _SLI_FIELD_SERIES:
            # A rule's sli is a pattern (alerts/evaluate.py): a plain name selects exactly, others match.
            match = "=" if re.fullmatch(r"[a-z0-9_]+", rule.sli) else "=~"
            series = f'{_SLI_FIELD_SERIES[rule.field_]}{{sli{match}"{_q(rule.sli)}"}}'
        else:
            return None, f"field {rule.field_!r} has no /metrics series"
        note = "min_events is not expressible over /metrics" if rule.min_events else ""
        return f"{series} {rule.op} {rule.threshold:g}", note
    if rule.kind == "probe_finding":
        expr = (
            f'sum by (probe, kind) (syncwatch_probe_findings{{kind="{_q(rule.finding)}"}}) {rule.op} {rule.threshold:g}'
        )
        return (
            expr,
            f"min_age {format_duration(rule.min_age)} is not expressible: counts every finding" if rule.min_age else "",
        )
    if rule.kind == "probe_outcome":
        return f'syncwatch_probe_up{{probe=~"{_q(rule.probe)}"}} == 0', ""
    if rule.kind == "absent_probe":
        return (
            f'time() - syncwatch_probe_last_run_timestamp_seconds{{probe=~"{_q(rule.probe)}"}} > {rule.max_age:g}',
            "",
        )
    return f'absent(syncwatch_sli_value{{sli="{_q(rule.sli)}"}})', ""


def _summary(rule: Rule) -> str:
    # Go templates, not ours: the numbers Prometheus has are the value and the labels.
    what = {
        "burn_rate": f"{rule.sli} burns its error budget {{{{ $value | humanize }}}}x over {rule.long_window} "
        f"and {rule.short_window} (limit {rule.factor:g}x)",
        "sli": f"{rule.sli} is {{{{ $value | humanize }}}} ({rule.op} {rule.threshold:g})",
        "probe_finding": f"{{{{ $value }}}} {rule.finding} findings (probe {{{{ $labels.probe }}}})",
        "probe_outcome": "probe {{ $labels.probe }} is down",
        "absent_probe": "probe {{ $labels.probe }} silent for {{ $value | humanizeDuration }}",
        "absent_sli": f"no {rule.sli} series: the metrics stage is silent",
    }[rule.kind]
    return f"{rule.name}: {what}"


def export_rules(config: AlertsConfig, interval_seconds: float = 15.0) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for rule in config.rules:
        expr, note = prometheus_expr(rule)
        if expr is None:
            continue
        item: dict[str, Any] = {"alert": rule.name, "expr": expr}
        if rule.for_:
            item["for"] = format_duration(rule.for_)
        if rule.keep_firing_for:
            item["keep_firing_for"] = format_duration(rule.keep_firing_for)
        item["labels"] = {"severity": rule.severity, "team": rule.team, **rule.labels}
        item["annotations"] = {"summary": _summary(rule), "runbook_url": rule.runbook_url}
        if note:
            item["annotations"]["syncwatch_note"] = note
        group = "syncwatch-slo-burn-rates" if rule.kind == "burn_rate" else "syncwatch-alerts"
        groups.setdefault(group, []).append(item)
    return {
        "groups": [
            {"name": name, "interval": format_duration(interval_seconds), "rules": rules}
            for name, rules in groups.items()
        ]
    }


def render_rule_file(config: AlertsConfig, interval_seconds: float = 15.0) -> str:
    head = (
        "# Generated by `syncwatch rules export` from " + _shown_path(config.source) + ".\n"
        "# Same rules as SyncWatch's own evaluator, over the series on SyncWatch's /metrics.\n"
    )
    return head + yaml.safe_dump(export_rules(config, interval_seconds), sort_keys=False, width=120)


def _shown_path(source: str) -> str:
    """The config file relative to the working directory when inside it: a committed rule file then names
    alerts/config/default.yaml instead of one machine's absolute path."""
    try:
        return str(Path(source).resolve().relative_to(Path.cwd()))
    except ValueError:
        return source
