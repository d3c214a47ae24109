"""The alerts stage's own Prometheus metrics, read fresh at each scrape: a failing notifier or a failing
evaluation shows here (and in GET /api/v1/alerts/receivers), never only in a log.

`syncwatch_alert_rule_breaching` carries the evaluator's verdict per alert instance (1 breaching, 0 observed and
clear), labelled exactly as the alert; the rules `syncwatch rules export` writes fire on it, so a Prometheus and
this evaluator fire the same alerts (docs/alerting.md#one-alert-truth)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerts.engine import AlertEngine

__all__ = ["AlertsCollector", "register"]


class AlertsCollector(Collector):
    def __init__(self, engine: AlertEngine):
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        engine = self.engine
        yield _verdict_family(engine)
        alerts = GaugeMetricFamily("syncwatch_alerts", "Alerts by state and severity", labels=["state", "severity"])
        counts = Counter((a.state, a.severity) for a in list(engine.alerts.values()))
        for state in ("pending", "firing", "resolved"):
            for severity in ("critical", "warning", "info"):
                alerts.add_metric([state, severity], counts.get((state, severity), 0))
        yield alerts
        sent = CounterMetricFamily(
            "syncwatch_alert_notifications", "Notification deliveries", labels=["receiver", "integration", "outcome"]
        )
        failing = GaugeMetricFamily(
            "syncwatch_alert_notifier_consecutive_failures",
            "Failed deliveries in a row per integration (0 = healthy)",
            labels=["receiver", "integration"],
        )
        success = GaugeMetricFamily(
            "syncwatch_alert_notifier_last_success_timestamp_seconds",
            "When an integration last delivered",
            labels=["receiver", "integration"],
        )
        for h in list(engine.dispatcher.health.values()):
            sent.add_metric([h.receiver, h.integration, "sent"], h.sent)
            sent.add_metric([h.receiver, h.integration, "failed"], h.failed)
            failing.add_metric([h.receiver, h.integration], h.consecutive_failures)
            if h.last_success is not None:
                success.add_metric([h.receiver, h.integration], h.last_success.timestamp())
        yield sent
        yield failing
        yield success
        stats = engine.stats
        evaluations = CounterMetricFamily("syncwatch_alert_evaluations", "Rule evaluations", labels=["outcome"])
        evaluations.add_metric(["ok"], stats.evaluations)
        evaluations.add_metric(["failed"], stats.failures)
        yield evaluations
        duration = GaugeMetricFamily("syncwatch_alert_evaluation_duration_seconds", "Duration of the last evaluation")
        duration.add_metric([], stats.last_duration)
        yield duration
        if stats.last_at is not None:
            last = GaugeMetricFamily(
                "syncwatch_alert_last_evaluation_timestamp_seconds", "When rules were last evaluated successfully"
            )
            last.add_metric([], stats.last_at.timestamp())
            yield last
        silences = GaugeMetricFamily("syncwatch_alert_silences_active", "Silences in force")
        now = engine.clock()
        silences.add_metric([], sum(1 for s in list(engine.silences) if s.active(now)))
        yield silences


def _verdict_family(engine: AlertEngine) -> Metric:
    # Label sets differ per rule (a flow, a probe, a finding's split), so samples are added one by one.
    family = Metric(
        "syncwatch_alert_rule_breaching",
        "Whether an alert instance breaches its rule at the last evaluation, before `for` (1 breaching, 0 clear)",
        "gauge",
    )
    for verdict in list(engine.verdicts):
        family.add_sample("syncwatch_alert_rule_breaching", verdict.labels, 1.0 if verdict.breach else 0.0)
    return family


def register(registry: CollectorRegistry, engine: AlertEngine) -> AlertsCollector:
    collector = AlertsCollector(engine)
    registry.register(collector)
    return collector
