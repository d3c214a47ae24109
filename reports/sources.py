"""The report's sources inside the collector: the metrics stage's evaluator (the one behind /api/v1/slis), the
records behind an SLI, and the alert history table (migration 0004, written by alerts/store.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from metrics.query import Db
from metrics.windows import Window

if TYPE_CHECKING:
    from metrics.component import MetricsComponent

__all__ = ["ALERT_HORIZON", "MetricsSources"]

# Resolutions are looked for this long after the week: an incident opened on Sunday night still gets its duration.
ALERT_HORIZON = timedelta(days=28)
_TRANSITIONS = """
    SELECT time, fingerprint, rule, to_state, severity, labels, summary FROM alert_history
    WHERE time >= {start:DateTime64(3, 'UTC')} AND time < {stop:DateTime64(3, 'UTC')}
      AND to_state IN ('pending', 'firing', 'resolved')
    ORDER BY time, fingerprint LIMIT 50000"""


class MetricsSources:
    def __init__(self, metrics: MetricsComponent) -> None:
        self.metrics = metrics

    def slis(self, window: Window, by: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        results = self.metrics.evaluate(window, by)
        return {name: {key: r.as_json() for key, r in found.items()} for name, found in results.items()}

    def records(self, name: str, window: Window, limit: int) -> list[dict[str, Any]]:
        sli = self.metrics.evaluator.registry[name]
        rows = self.metrics.with_client(lambda c: sli.records(Db(c), window, limit))
        return [{**r, "amount": None if r.get("amount") is None else float(r["amount"])} for r in rows]

    def alert_transitions(self, window: Window) -> list[dict[str, Any]]:
        params = {"start": window.start, "stop": window.end + ALERT_HORIZON}
        rows = self.metrics.with_client(lambda c: Db(c).rows(_TRANSITIONS, params))
        return [{**r, "labels": dict(r["labels"])} for r in rows]
