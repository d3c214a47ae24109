"""One alert truth: the evaluator's verdict per alert instance, served on /metrics, and the exported rule file
that fires on it. Fixed datetimes, an own CollectorRegistry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from alerts.config import load_config, parse_config
from alerts.dispatch import Dispatcher
from alerts.engine import AlertEngine
from alerts.evaluate import Alert, Verdict, evaluate
from alerts.promexport import VERDICT_SERIES, export_rules, prometheus_expr
from alerts.signals import ProbeState, SliValue
from alerts.telemetry import register
from syncwatch.durations import format_duration

T0 = datetime(2025, 3, 12, 9, 0, tzinfo=UTC)  # a Wednesday
RULE = """
time_intervals:
  - name: business-hours
    time_intervals: [{{weekdays: ["monday:friday"], times: [{{start_time: "06:00", end_time: "22:00"}}]}}]
rules:
  - name: FirstPassLow
    kind: sli
    sli: time_posting_first_pass
    op: "<"
    threshold: 0.95
    clear_threshold: 0.96
    min_events: 50
    {extra}
    severity: critical
    team: finance-systems
    labels: {{category: slo}}
    runbook_url: https://runbooks.example/first-pass
    summary: "first pass {{{{ value | pct }}}}"
"""


def _sli(value: float, at: datetime, total: float = 1000) -> SliValue:
    return SliValue("time_posting_first_pass", "", "", at, value, value * total, total, 0.98, "ok", 0.5)


def _verdicts(extra: str, readings: Sequence[tuple[datetime, float, float]]) -> list[list[Verdict]]:
    config = parse_config(RULE.format(extra=extra))
    alerts: dict[str, Alert] = {}
    out = []
    for at, value, total in readings:
        verdicts: list[Verdict] = []
        evaluate(config, [_sli(value, at, total)], ProbeState(), at, alerts, verdicts)
        out.append(verdicts)
    return out


LABELS = {"alertname": "FirstPassLow", "severity": "critical", "team": "finance-systems", "category": "slo",
          "sli": "time_posting_first_pass"}  # fmt: skip


def test_a_verdict_is_the_bar_the_state_machine_applied() -> None:
    step = timedelta(seconds=15)
    readings = [
        (T0, 0.99, 1000),  # clear
        (T0 + step, 0.949, 1000),  # breaches the firing bar
        (T0 + 2 * step, 0.955, 1000),  # above 0.95 but below the clearing bar: a firing alert still breaches
        (T0 + 3 * step, 0.97, 1000),  # clears
        (T0 + 4 * step, 0.5, 4),  # below min_events: no breach
    ]
    got = [[(v.labels, v.breach) for v in verdicts] for verdicts in _verdicts("", readings)]
    assert got == [[(LABELS, False)], [(LABELS, True)], [(LABELS, True)], [(LABELS, False)], [(LABELS, False)]]


def test_outside_its_active_time_intervals_only_a_firing_alert_holds() -> None:
    evening = T0.replace(hour=21, minute=59, second=30)
    readings = [(evening, 0.9, 1000), (evening + timedelta(minutes=1), 0.9, 1000)]
    held = _verdicts("active_time_intervals: [business-hours]", readings)
    assert [[v.breach for v in verdicts] for verdicts in held] == [[True], [True]]  # fired at 21:59, held at 22:00
    late = [(evening + timedelta(minutes=1), 0.9, 1000)]
    assert [v.breach for v in _verdicts("active_time_intervals: [business-hours]", late)[0]] == [False]


def test_verdicts_are_served_with_the_alerts_labels() -> None:
    config = parse_config(RULE.format(extra="") + "receivers: [{name: default}]\n")

    class _Source:
        def sli_values(self, as_of: datetime) -> list[SliValue]:
            return [_sli(0.9, as_of), SliValue("other_sli", "", "", as_of, 0.9, 900, 1000, 0.98, "ok", 0.5)]

        def probe_state(self, as_of: datetime) -> ProbeState:
            return ProbeState()

    engine = AlertEngine(config, _Source(), None, Dispatcher(config, {}, external_url="http://x"))
    registry = CollectorRegistry()
    register(registry, engine)
    assert registry.get_sample_value(VERDICT_SERIES, LABELS) is None  # nothing evaluated yet
    engine.evaluate(T0)
    assert registry.get_sample_value(VERDICT_SERIES, LABELS) == 1.0
    engine.evaluate(T0 + timedelta(seconds=15))
    assert registry.get_sample_value(VERDICT_SERIES, LABELS) == 1.0
    other = {**LABELS, "sli": "other_sli"}
    assert registry.get_sample_value(VERDICT_SERIES, other) is None  # not a series this rule observes
    assert engine.alerts and all(a.labels == LABELS for a in engine.alerts.values())


def test_every_rule_of_the_default_file_is_exported_on_its_own_verdict() -> None:
    config = load_config()
    exported = {r["alert"]: r for g in export_rules(config)["groups"] for r in g["rules"]}
    for rule in config.rules:
        item = exported.get(rule.name)
        assert item is not None, f"{rule.name} is not exported"
        assert item["expr"] == prometheus_expr(rule)
        assert f'{VERDICT_SERIES}{{alertname="{rule.name}"}}' in item["expr"] and item["expr"].endswith("== 1")
        assert item.get("for") == (format_duration(rule.for_) if rule.for_ else None)
        assert item.get("keep_firing_for") == (format_duration(rule.keep_firing_for) if rule.keep_firing_for else None)
        assert item["labels"]["severity"] == rule.severity and item["labels"]["team"] == rule.team
    guards = set(exported) - {r.name for r in config.rules}
    assert guards == {"SyncWatchAlertVerdictsAbsent", "SyncWatchAlertEvaluationsFailing"}


def test_a_label_the_observation_sets_is_left_to_the_verdict() -> None:
    # The evaluator's observation wins over a rule label of the same name; Prometheus's rule label would win over
    # the series, so the export leaves such a label out and the verdict's value stands.
    config = parse_config("""
rules:
  - {name: Split, kind: probe_finding, finding: integration_stopped, split_by: flow, threshold: 0,
     severity: critical, team: t, labels: {flow: everything, category: pipeline}, runbook_url: "https://r",
     summary: s}
""")
    (item,) = export_rules(config)["groups"][0]["rules"]
    assert item["labels"] == {"severity": "critical", "team": "t", "category": "pipeline"}
