"""Label values from event data stay bounded: the top N by impact plus one `other` that adds up the rest, in the
SLI details and on /metrics (a fixed snapshot, an own CollectorRegistry, get_sample_value)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from metrics.bounded import OTHER, bound_details, keep_top, result_rank, worst_value
from metrics.evaluate import SliResult
from metrics.exposition import SliCollector
from metrics.snapshots import Snapshot
from metrics.windows import Window

AS_OF = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
WINDOW = Window(datetime(2026, 11, 5, tzinfo=UTC), AS_OF)


def _result(name: str, value: float | None, *, status: str = "ok", good: float = 0.0, total: float = 0.0,
            comparison: str = "<=", details: dict[str, Any] | None = None) -> SliResult:  # fmt: skip
    return SliResult(name, name, "hours", WINDOW, value, good, total, 4.0, comparison, "30d", status,  # type: ignore[arg-type]
                     None, {}, details or {})  # fmt: skip


def test_keep_top_keeps_n_and_adds_up_the_rest() -> None:
    items = {f"q{i}": i for i in range(10)}
    kept = keep_top(items, 3, rank=lambda v: -v, merge=sum)
    assert kept == {"q9": 9, "q8": 8, "q7": 7, OTHER: sum(range(7))}
    assert keep_top(items, 10, rank=lambda v: -v, merge=sum) == items  # fits: as is
    # a data value named "other" joins the bucket rather than standing beside it
    assert keep_top({"a": 1, "other": 5}, 1, rank=lambda v: -v, merge=sum) == {"a": 1, OTHER: 5}
    assert keep_top({"a": 1, "b": 1, "c": 1}, 2, rank=lambda v: -v, merge=sum) == {"a": 1, "b": 1, OTHER: 1}


def test_detail_maps_keep_totals_whole() -> None:
    queues = {f"queue-{i}": {"count": i + 1, "oldest_hours": float(i % 3)} for i in range(50)}
    details = bound_details({"queues": queues, "messages": 1275}, 4)
    kept = details["queues"]
    assert list(kept) == ["queue-49", "queue-48", "queue-47", "queue-46", OTHER]
    assert sum(q["count"] for q in kept.values()) == sum(range(1, 51)) and kept[OTHER]["queues"] == 46
    assert kept[OTHER]["oldest_hours"] == 2.0 and details["messages"] == 1275
    flows = {f"f{i}": {"seconds_since_last": float(i), "cadence_seconds": None, "never_seen": False,
                       "silent": i == 3} for i in range(30)}  # fmt: skip
    bounded = bound_details({"flows": flows}, 2)["flows"]
    assert list(bounded) == ["f3", "f29", OTHER]  # the silent flow first, then the longest quiet
    assert bounded[OTHER]["flows"] == 28 and not bounded[OTHER]["silent"]
    assert bound_details({"codes": {}}, 2) == {"codes": {}}


def test_worst_first_and_the_worst_of_the_rest() -> None:
    ok = _result("x", 0.99, good=99, total=100, comparison=">=")
    breach = _result("x", 0.5, status="breach", good=5, total=10, comparison=">=")
    big = _result("x", 0.97, status="breach", good=970, total=1000, comparison=">=")
    assert sorted([ok, breach, big], key=result_rank) == [big, breach, ok]
    assert worst_value([ok, breach]) is breach


class _Job:
    failures = 0

    def __init__(self, snapshot: Snapshot) -> None:
        self.latest = snapshot


def test_exposition_bounds_queue_and_flow_labels() -> None:
    queues = {f"queue-{i:04d}": {"count": 1 if i else 500, "oldest_hours": 0.5} for i in range(1000)}
    backlog = _result("dead_letter_backlog", 0.5, details={"queues": queues, "messages": 1499})
    by_flow = {
        "dead_letter_backlog": {f"flow-{i:04d}": _result("dead_letter_backlog", float(i)) for i in range(400)},
        # per flow: 1 when silent (the three longest quiet here), the seconds since its last event in the details
        "flow_silence": {
            f"flow-{i:04d}": _result(
                "flow_silence",
                float(i >= 397),
                status="breach" if i >= 397 else "ok",
                details={"seconds_since_last": float(i)},
            )
            for i in range(400)
        },
    }
    registry = CollectorRegistry()
    registry.register(SliCollector(_Job(Snapshot(AS_OF, {"dead_letter_backlog": backlog}, by_flow)), 3))  # type: ignore[arg-type]
    samples = [s for family in registry.collect() for s in family.samples]
    queue_labels = {s.labels["queue"] for s in samples if "queue" in s.labels}
    assert queue_labels == {"queue-0000", "queue-0001", "queue-0002", OTHER}
    value = registry.get_sample_value
    assert value("syncwatch_dead_letter_backlog_messages", {"queue": "queue-0000"}) == 500
    assert value("syncwatch_dead_letter_backlog_messages", {"queue": OTHER}) == 997
    flow_labels = {s.labels["flow"] for s in samples if "flow" in s.labels}
    assert flow_labels == {"flow-0399", "flow-0398", "flow-0397", OTHER}
    # `other` is the worst of the rest: the longest quiet among the flows not named
    assert value("syncwatch_flow_last_event_age_seconds", {"flow": OTHER}) == 396.0
    assert value("syncwatch_flow_sli_value", {"sli": "dead_letter_backlog", "flow": OTHER}) == 396.0
    assert value("syncwatch_flow_sli_value", {"sli": "flow_silence", "flow": "flow-0399"}) == 1.0
    assert value("syncwatch_flow_sli_value", {"sli": "flow_silence", "flow": OTHER}) == 0.0
    assert len(samples) < 44
