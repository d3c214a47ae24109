"""Prometheus: SLI values, objectives, error budgets and burn rates from the latest snapshot, read at each scrape
(a custom collector, so values are never stale copies).

sli and window are fixed sets; flow and queue come from event data, so each family keeps the `max_label_values`
most affected values plus one `other` series (metrics/bounded.py): 20,000 distinct queues once made 40,000 series.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from metrics.bounded import bound_details, keep_top, result_rank, worst_value
from metrics.snapshots import SnapshotJob

__all__ = ["SliCollector"]


class SliCollector(Collector):
    def __init__(self, job: SnapshotJob, max_label_values: int = 20) -> None:
        self.job = job
        self.max_label_values = max_label_values

    def collect(self) -> Iterator[Metric]:
        value = GaugeMetricFamily("syncwatch_sli_value", "Current SLI value over its SLO window (unit per SLI)",
                                  labels=["sli"])  # fmt: skip
        objective = GaugeMetricFamily("syncwatch_slo_objective", "SLO target of each SLI", labels=["sli"])
        budget = GaugeMetricFamily(
            "syncwatch_slo_error_budget_remaining_ratio", "Share of the error budget left (negative: overspent)",
            labels=["sli"],
        )  # fmt: skip
        burn = GaugeMetricFamily("syncwatch_slo_burn_rate", "Error ratio over the window / allowed error ratio",
                                 labels=["sli", "window"])  # fmt: skip
        coverage = GaugeMetricFamily(
            "syncwatch_sli_coverage_ratio",
            "Share of the records (and of the money, per currency) the SLI considered that it could measure; 1 when"
            " it left nothing out",
            labels=["sli"],
        )
        status = GaugeMetricFamily("syncwatch_sli_breached", "1 when the SLI is outside its objective",
                                   labels=["sli"])  # fmt: skip
        flow_value = GaugeMetricFamily("syncwatch_flow_sli_value", "SLI value per integration flow",
                                       labels=["sli", "flow"])  # fmt: skip
        flow_age = GaugeMetricFamily("syncwatch_flow_last_event_age_seconds", "Seconds since each flow's last event",
                                     labels=["flow"])  # fmt: skip
        dlq_count = GaugeMetricFamily("syncwatch_dead_letter_backlog_messages", "Dead letters not replayed",
                                      labels=["queue"])  # fmt: skip
        dlq_age = GaugeMetricFamily("syncwatch_dead_letter_oldest_age_seconds", "Age of the oldest dead letter",
                                    labels=["queue"])  # fmt: skip
        snapshot_age = GaugeMetricFamily("syncwatch_sli_snapshot_timestamp_seconds", "When SLIs were last computed")
        failures = GaugeMetricFamily("syncwatch_sli_snapshot_failures", "Snapshot runs that failed since start")
        failures.add_metric([], float(self.job.failures))
        snap = self.job.latest
        if snap is not None:
            snapshot_age.add_metric([], snap.taken_at.timestamp())
            for name, r in snap.overall.items():
                if r.value is not None:
                    value.add_metric([name], r.value)
                objective.add_metric([name], r.target)
                status.add_metric([name], 1.0 if r.status in ("breach", "warning") else 0.0)
                if r.coverage is not None:
                    coverage.add_metric([name], float(r.coverage["lowest_ratio"]))
                if r.error_budget_remaining is not None:
                    budget.add_metric([name], r.error_budget_remaining)
                for window, rate in r.burn_rates.items():
                    if rate is not None:
                        burn.add_metric([name, window], rate)
                if name == "dead_letter_backlog":
                    for queue, q in bound_details(r.details, self.max_label_values).get("queues", {}).items():
                        dlq_count.add_metric([queue], float(q["count"]))
                        dlq_age.add_metric([queue], float(q["oldest_hours"]) * 3600)
            for name, every_flow in snap.by_flow.items():
                measured = {flow: r for flow, r in every_flow.items() if r.value is not None}
                results = keep_top(measured, self.max_label_values, result_rank, worst_value)
                for flow, r in results.items():
                    if r.value is not None:
                        flow_value.add_metric([name, flow], r.value)
                if name == "flow_silence":
                    # per flow its value is 1 when silent; how long each has been quiet is in its details
                    ages = {flow: float(s) for flow, r in every_flow.items()
                            if isinstance(s := r.details.get("seconds_since_last"), int | float)}  # fmt: skip
                    for flow, age in keep_top(ages, self.max_label_values, lambda a: -a, max).items():
                        flow_age.add_metric([flow], age)
        yield from (value, objective, budget, burn, status, coverage, flow_value, flow_age, dlq_count, dlq_age,
                    snapshot_age, failures)  # fmt: skip
