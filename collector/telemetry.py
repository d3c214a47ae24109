"""The collector's own metrics, on an explicit registry per app (tests build their own).

Every labelled counter (and the per-table histograms and gauge) starts at 0 for each label value it can take: a
series that appears only at its first increment shows "No data" in Grafana and makes rate()/increase() miss that
first increment.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

__all__ = ["NEAR_MISS_SERVICES", "REJECTION_REASONS", "SIGNALS", "TABLES", "THROTTLE_REASONS", "CollectorMetrics"]

SIGNALS = ("event", "span")
TABLES = ("events", "otel_traces", "quarantine")
THROTTLE_REASONS = ("rate_limit", "queue_full")
# Every `Rejection("reason", ...)` the collector can return (docs/events.md); a test compares this to the code.
REJECTION_REASONS = (
    "invalid_attribute",
    "invalid_data",
    "invalid_extension",
    "invalid_field",
    "invalid_json",
    "invalid_span",
    "invalid_time",
    "invalid_utf8",
    "missing_attribute",
    "missing_field",
    "not_a_list",
    "not_an_object",
    "refused_by_warehouse",
    "time_out_of_range",
    "too_deep",
    "undecodable",
)

# Distinct `service` label values of the near-miss counter; the names come from senders, so they are bounded.
NEAR_MISS_SERVICES = 20
_ROWS_BUCKETS = (1, 10, 100, 1_000, 5_000, 10_000, 20_000, 50_000, 100_000)
_SECONDS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class CollectorMetrics:
    def __init__(self, registry: CollectorRegistry):
        # One `_created` line per series doubled the scrape and is a lint error for `promtool check metrics`;
        # process-wide, and every process that serves /metrics builds its metrics here.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated
        self.registry = registry
        self.received = Counter(
            "syncwatch_collector_received", "Items received (events or spans)", ["signal"], registry=registry
        )
        self.accepted = Counter(
            "syncwatch_collector_accepted", "Items stored or spooled, acknowledged", ["signal"], registry=registry
        )
        self.rejected = Counter(
            "syncwatch_collector_rejected", "Items refused and quarantined", ["signal", "reason"], registry=registry
        )
        self.deduplicated = Counter(
            "syncwatch_collector_deduplicated", "Redelivered items counted once", ["signal"], registry=registry
        )
        self.unknown_types = Counter(
            "syncwatch_collector_unknown_type_events",
            "Events stored with a type outside the catalogue",
            registry=registry,
        )
        self.throttled = Counter(
            "syncwatch_collector_throttled_requests", "Requests answered 429 or 503", ["reason"], registry=registry
        )
        self.responses = Counter(
            "syncwatch_collector_http_responses",
            "HTTP responses by endpoint and status",
            ["endpoint", "code"],
            registry=registry,
        )
        self.batch_rows = Histogram(
            "syncwatch_collector_batch_rows",
            "Rows per warehouse insert",
            ["table"],
            buckets=_ROWS_BUCKETS,
            registry=registry,
        )
        self.insert_seconds = Histogram(
            "syncwatch_collector_insert_duration_seconds",
            "Warehouse insert latency",
            ["table"],
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.queue_rows = Gauge(
            "syncwatch_collector_queue_rows", "Rows waiting for the batching writer", ["table"], registry=registry
        )
        self.spooled_batches = Gauge(
            "syncwatch_collector_spooled_batches", "Batches on disk waiting for the warehouse", registry=registry
        )
        self.spool_writes = Counter(
            "syncwatch_collector_spool_writes", "Batches written to the on-disk spool", ["table"], registry=registry
        )
        self.insert_failures = Counter(
            "syncwatch_collector_insert_failures", "Warehouse inserts that failed", ["table"], registry=registry
        )
        self.refused_rows = Counter(
            "syncwatch_collector_refused_rows",
            "Rows the warehouse refused, isolated from their batch and quarantined",
            ["table"],
            registry=registry,
        )
        self.spool_oldest_age = Gauge(
            "syncwatch_collector_spool_oldest_age_seconds",
            "How long the oldest spooled batch has waited for the warehouse",
            registry=registry,
        )
        self.warehouse_up = Gauge(
            "syncwatch_collector_warehouse_up", "1 when the last warehouse insert or probe succeeded", registry=registry
        )
        self.near_miss_spans = Counter(
            "syncwatch_collector_near_miss_spans",
            "Spans stored with a record key under a near-miss attribute name (entry_id for business.entry_id): "
            "no record's journey shows them",
            ["attribute", "service"],
            registry=registry,
        )
        self._near_miss_services: set[str] = set()
        self.warehouse_up.set(1)
        for signal in SIGNALS:
            for counter in (self.received, self.accepted, self.deduplicated):
                counter.labels(signal)
            for reason in REJECTION_REASONS:
                self.rejected.labels(signal, reason)
        for reason in THROTTLE_REASONS:
            self.throttled.labels(reason)
        for table in TABLES:
            for counter in (self.spool_writes, self.insert_failures, self.refused_rows):
                counter.labels(table)
            self.batch_rows.labels(table)
            self.insert_seconds.labels(table)
            self.queue_rows.labels(table)

    def count_near_misses(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Add spans per (near-miss attribute, service). Service names come from senders: the first
        NEAR_MISS_SERVICES keep their own label, the rest count under `other`."""
        for (attribute, service), n in counts.items():
            if service not in self._near_miss_services:
                if len(self._near_miss_services) >= NEAR_MISS_SERVICES:
                    service = "other"
                else:
                    self._near_miss_services.add(service)
            self.near_miss_spans.labels(attribute, service).inc(n)
