"""Prometheus series of the probes stage, read fresh at each scrape (a custom Collector on the service registry):

syncwatch_probe_up{probe}                          1 when the last run answered (ok or mismatch) and is not stale
syncwatch_probe_stale{probe}                       1 when no run finished for 3 intervals (alert on it)
syncwatch_probe_last_run_timestamp_seconds{probe}  when the last run started
syncwatch_probe_last_duration_seconds{probe}
syncwatch_probe_outcome{probe,outcome}             1 for the last run's outcome, 0 for the others
syncwatch_probe_findings{probe,kind}               findings of the last answering run
syncwatch_probe_api_calls_total{system}            calls made since start (counter)
syncwatch_probe_budget_remaining_calls{system}     calls left in the rolling hour
syncwatch_probe_budget_calls_per_hour{system}      the budget itself
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from probes.budget import SystemBudget
from probes.model import Outcome, ProbeRun

__all__ = ["ProbeMetrics"]


class ProbeMetrics(Collector):
    def __init__(
        self,
        probes: Callable[[], Mapping[str, tuple[float, Iterable[str]]]],  # name -> (interval, kinds)
        since: Callable[[], float],  # when the probes were scheduled: a probe that never ran is stale 3 intervals later
        last_runs: Callable[[], Mapping[str, ProbeRun]],
        budgets: Callable[[], Mapping[str, SystemBudget]],
        now: Callable[[], float],
    ) -> None:
        self._probes, self._last_runs, self._budgets, self._now = probes, last_runs, budgets, now
        self._since = since

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("syncwatch_probe_up", "Last probe run answered and is fresh", labels=["probe"])
        stale = GaugeMetricFamily("syncwatch_probe_stale", "No probe result for 3 intervals", labels=["probe"])
        last = GaugeMetricFamily(
            "syncwatch_probe_last_run_timestamp_seconds", "Start of the last probe run", labels=["probe"]
        )
        duration = GaugeMetricFamily("syncwatch_probe_last_duration_seconds", "Last run's duration", labels=["probe"])
        outcome = GaugeMetricFamily("syncwatch_probe_outcome", "Last run's outcome", labels=["probe", "outcome"])
        findings = GaugeMetricFamily("syncwatch_probe_findings", "Findings of the last run", labels=["probe", "kind"])
        now = self._now()
        runs = self._last_runs()
        for name, (interval, kinds) in sorted(self._probes().items()):
            run = runs.get(name)
            is_stale = now - (run.started_at if run else self._since()) > 3 * interval
            stale.add_metric([name], float(is_stale))
            up.add_metric([name], float(run is not None and run.outcome.healthy_answer and not is_stale))
            if run is None:
                continue
            last.add_metric([name], run.started_at)
            duration.add_metric([name], run.duration_ms / 1000)
            for o in Outcome:
                outcome.add_metric([name, o.value], float(run.outcome == o))
            if run.outcome.healthy_answer:
                counts = dict.fromkeys(kinds, 0)
                for f in run.findings:
                    counts[f.kind] = counts.get(f.kind, 0) + 1
                for kind, n in sorted(counts.items()):
                    findings.add_metric([name, kind], n)
        calls = CounterMetricFamily("syncwatch_probe_api_calls", "Probe API calls since start", labels=["system"])
        remaining = GaugeMetricFamily(
            "syncwatch_probe_budget_remaining_calls", "Calls left in the rolling hour", labels=["system"]
        )
        limit = GaugeMetricFamily("syncwatch_probe_budget_calls_per_hour", "Hourly call budget", labels=["system"])
        for system, budget in sorted(self._budgets().items()):
            calls.add_metric([system], budget.total_calls)
            remaining.add_metric([system], budget.remaining())
            limit.add_metric([system], budget.limits.calls_per_hour)
        yield from (up, stale, last, duration, outcome, findings, calls, remaining, limit)
