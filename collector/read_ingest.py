"""Read API (scope read) on ingest health, for the operations console: rates, rejections by reason, queue depth,
delivery lag and insert latency.

Counters and queue gauges come from this process's own metrics (collector/telemetry.py); rates, lag and
rejections per reason over a window come from the warehouse, so they survive restarts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from prometheus_client import Metric

from collector.service import Service
from collector.traces import NEAR_MISS_ATTRIBUTES

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["read"])

_RATE_SQL = """
SELECT toStartOfMinute(received_at) AS minute, count() AS events,
       quantileExact(0.5)(dateDiff('millisecond', time, received_at)) / 1000 AS lag_p50,
       quantileExact(0.95)(dateDiff('millisecond', time, received_at)) / 1000 AS lag_p95
FROM events
WHERE received_at >= {since:DateTime64(3)}
GROUP BY minute ORDER BY minute
"""
_REJECTED_SQL = """
SELECT toStartOfMinute(received_at) AS minute, signal, reason, count()
FROM quarantine
WHERE received_at >= {since:DateTime64(3)}
GROUP BY minute, signal, reason ORDER BY minute
"""


@router.get("/ingest/health", summary="Ingest rates, rejections by reason, queue depth, delivery lag, insert latency")
async def ingest_health(
    request: Request, minutes: int = Query(60, ge=1, le=7 * 24 * 60, description="window for rates and rejections")
) -> dict[str, Any]:
    service: Service = request.app.state.service
    service.auth.require(request, "read")
    return await asyncio.to_thread(_health, service, minutes)


def _samples(metrics: Iterable[Metric], suffix: str) -> list[tuple[dict[str, str], float]]:
    return [(dict(s.labels), s.value) for m in metrics for s in m.samples if s.name.endswith(suffix)]


def _by(label: str, samples: list[tuple[dict[str, str], float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for labels, value in samples:
        out[labels.get(label, "")] = out.get(labels.get(label, ""), 0.0) + value
    return out


def _quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus-style histogram_quantile over cumulative (upper bound, count) buckets."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            width = count - lower_count
            return bound if width <= 0 else lower_bound + (bound - lower_bound) * (rank - lower_count) / width
        lower_bound, lower_count = bound, count
    return lower_bound


def _latency(service: Service) -> dict[str, dict[str, float | None]]:
    by_table: dict[str, list[tuple[float, float]]] = {}
    for labels, value in _samples(service.metrics.insert_seconds.collect(), "_bucket"):
        by_table.setdefault(labels["table"], []).append((float(labels["le"]), value))
    out = {}
    for table, buckets in by_table.items():
        buckets.sort()
        out[table] = {"p50": _quantile(buckets, 0.5), "p95": _quantile(buckets, 0.95), "inserts": buckets[-1][1]}
    return out


def _health(service: Service, minutes: int) -> dict[str, Any]:
    m = service.metrics
    since = datetime.now(UTC) - timedelta(minutes=minutes)
    params = {"since": since.replace(tzinfo=None)}
    rates: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    warehouse_error = None
    try:
        assert service.reader is not None
        for minute, events, p50, p95 in service.reader.query(_RATE_SQL, parameters=params).result_rows:
            rates.append({"minute": _iso(minute), "events": int(events), "lag_p50": p50, "lag_p95": p95})
        for minute, signal, reason, count in service.reader.query(_REJECTED_SQL, parameters=params).result_rows:
            rejected.append({"minute": _iso(minute), "signal": signal, "reason": reason, "count": int(count)})
    except Exception as exc:  # the counters below still answer when the warehouse does not
        warehouse_error = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    rejected_totals: dict[str, dict[str, float]] = {}
    for labels, value in _samples(m.rejected.collect(), "_total"):
        if value:  # /metrics starts every known reason at 0; the page lists the reasons that happened
            rejected_totals.setdefault(labels["signal"], {})[labels["reason"]] = value
    near_misses: dict[str, dict[str, float]] = {}
    for labels, value in _samples(m.near_miss_spans.collect(), "_total"):
        if value:
            near_misses.setdefault(labels["service"], {})[labels["attribute"]] = value
    return {
        "as_of": _iso(datetime.now(UTC)),
        "window_minutes": minutes,
        "since_start": {
            "received": _by("signal", _samples(m.received.collect(), "_total")),
            "accepted": _by("signal", _samples(m.accepted.collect(), "_total")),
            "deduplicated": _by("signal", _samples(m.deduplicated.collect(), "_total")),
            "rejected": rejected_totals,
            "throttled": _by("reason", _samples(m.throttled.collect(), "_total")),
            "insert_failures": _by("table", _samples(m.insert_failures.collect(), "_total")),
            # service -> near-miss attribute -> spans: stored, but joined to no record (docs/events.md)
            "near_miss_spans": near_misses,
        },
        "near_miss_attributes": {name: NEAR_MISS_ATTRIBUTES[name] for attrs in near_misses.values() for name in attrs},
        "queue_rows": {
            **dict.fromkeys(service.writers, 0.0),
            **_by("table", _samples(m.queue_rows.collect(), "queue_rows")),
        },
        "queue_max_rows": service.settings.queue_max_rows,
        "spooled_batches": len(service.spool.pending()),
        "warehouse_up": all(v >= 1 for _, v in _samples(m.warehouse_up.collect(), "warehouse_up"))
        and warehouse_error is None,
        "warehouse_error": warehouse_error,
        "insert_latency_seconds": _latency(service),
        "events_per_minute": rates,
        "rejections_per_minute": rejected,
    }


def _iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat().replace("+00:00", "Z")
