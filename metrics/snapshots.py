"""The snapshot job: every SLI against its objective, overall and per flow, stored in sli_snapshots as a time
series (history, trends, alert evaluation) and kept in memory for the Prometheus exposition."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client
from prometheus_client import CollectorRegistry, Histogram

from metrics.evaluate import Evaluator, SliResult
from metrics.query import Db, timestamp

__all__ = ["Snapshot", "SnapshotJob", "read_series"]

log = logging.getLogger("syncwatch.metrics")
_COLUMNS = (
    "time", "sli", "dimension", "key", "value", "good", "total", "objective", "status", "budget_remaining",
    "burn_5m", "burn_30m", "burn_1h", "burn_6h", "burn_1d", "burn_3d", "details",
)  # fmt: skip


class Snapshot:
    """One evaluation: results overall and per flow, and when it was taken."""

    def __init__(self, taken_at: datetime, overall: dict[str, SliResult], by_flow: dict[str, dict[str, SliResult]]):
        self.taken_at = taken_at
        self.overall = overall
        self.by_flow = by_flow


def _row(taken_at: datetime, result: SliResult, dimension: str, key: str) -> list[Any]:
    burn = result.burn_rates
    # The alert engine reads a burn window's own volume from the stored details (min_events_window).
    details = {**result.details, "windows": result.window_counts} if result.window_counts else result.details
    if result.coverage is not None:  # and what was left out (the coverage rule reads its ratio)
        details = {**details, "coverage": result.coverage}
    return [
        taken_at, result.name, dimension, key, result.value, result.good, result.total, result.target, result.status,
        result.error_budget_remaining, burn.get("5m"), burn.get("30m"), burn.get("1h"), burn.get("6h"),
        burn.get("1d"), burn.get("3d"), orjson.dumps(details, default=str).decode(),
    ]  # fmt: skip


# A snapshot took 0.17 s at 5,000 consultants and 0.6-0.8 s at 50,000 on two cores (docs/benchmarks.md); the job
# runs every 30 s by default, so a run in the top buckets no longer keeps up with it.
_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class SnapshotJob:
    def __init__(self, evaluator: Evaluator, connect: Any, registry: CollectorRegistry | None = None) -> None:
        self.evaluator = evaluator
        self._connect = connect
        self._client: Client | None = None
        # A second client so that two SLI queries run at once (metrics/query.py Db.map); one spare suits 2 cores.
        self._spare: Client | None = None
        self._lock = threading.Lock()
        self.latest: Snapshot | None = None
        self.last_duration_s: float | None = None
        self.failures = 0
        # Unregistered without a registry (a job run by hand, in tests or the CLI).
        self.durations = Histogram(
            "syncwatch_sli_snapshot_duration_seconds",
            "Time a stored SLI snapshot took: every SLI overall and per flow, evaluated and stored",
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )

    def run(self, as_of: datetime | None = None) -> Snapshot:
        """Evaluate and store; the scheduler calls this every interval (never concurrently with itself)."""
        with self._lock:
            if self._client is None or self._spare is None:
                self._client, self._spare = self._connect(), self._connect()
            db = Db(self._client, spares=[self._spare])
            started = time.perf_counter()
            moment = as_of or datetime.now(UTC)
            try:
                every = self.evaluator.evaluate(db, as_of=moment)
                overall = {name: r[""] for name, r in every.items() if "" in r}
                by_flow = self.evaluator.evaluate(db, as_of=moment, by="flow", overall=every)
                rows = [_row(moment, r, "", "") for r in overall.values()]
                rows += [_row(moment, r, "flow", key) for results in by_flow.values() for key, r in results.items()]
                self._client.insert("sli_snapshots", rows, column_names=list(_COLUMNS))
            except Exception:
                self.failures += 1
                raise
            self.last_duration_s = time.perf_counter() - started
            self.durations.observe(self.last_duration_s)
            self.latest = Snapshot(moment, overall, by_flow)
            return self.latest

    def run_logged(self) -> bool:
        """Run and say whether a snapshot was stored."""
        try:
            snap = self.run()
            log.debug("SLI snapshot of %d SLIs in %.3f s", len(snap.overall), self.last_duration_s or 0.0)
            return True
        except Exception as exc:  # the scheduler must keep going; the failure is counted and on /metrics
            log.warning("SLI snapshot failed: %s", str(exc).splitlines()[0][:300])
            return False


def read_series(client: Client, name: str, start: datetime, end: datetime, points: int = 500) -> list[dict[str, Any]]:
    """Stored overall values of one SLI between start and end, averaged into at most `points` buckets."""
    step = max(1, int((end - start).total_seconds() / max(points, 1)))
    result = client.query(
        """SELECT toStartOfInterval(time, toIntervalSecond({step:UInt32})) AS bucket, avg(value) AS value,
                  avg(budget_remaining) AS budget, argMax(status, time) AS status
           FROM sli_snapshots
           WHERE sli = {name:String} AND dimension = '' AND time >= {f:DateTime64(6, 'UTC')}
             AND time <= {t:DateTime64(6, 'UTC')}
           GROUP BY bucket ORDER BY bucket""",
        parameters={"step": step, "name": name, "f": timestamp(start), "t": timestamp(end)},
    )
    return [
        {
            "time": bucket.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z"),
            "value": value,
            "error_budget_remaining": budget,
            "status": status,
        }
        for bucket, value, budget, status in result.result_rows
    ]
