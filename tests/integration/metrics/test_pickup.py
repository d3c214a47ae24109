"""Approved time waiting for the connector, on hand-built logs: the limit is learned from the connector's own recent
pickups, and only entries past it that nothing else has settled (posted, superseded, written off) count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from metrics.evaluate import Evaluator
from metrics.query import Db
from metrics.slis.pickup import PICKUP_FLOOR_SECONDS
from metrics.slo import load_slos
from metrics.windows import Window
from tests.conftest import ThreadedCollector, Tokens
from tests.integration.metrics.test_hand_built_logs import approved, ce, overall, posting, send

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
WINDOW = Window(AS_OF - timedelta(days=30), AS_OF)
M = timedelta(minutes=1)


def test_entries_waiting_past_twice_the_learned_p99_pickup(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client
) -> None:
    events: list[dict[str, Any]] = []
    # Normal pickups within the learning window: 5, 10, 10 and 12 minutes (and P1's 10 below) -> p99 12 min, limit
    # 24 min.
    for n, minutes in enumerate((5, 10, 10, 12)):
        at = AS_OF - timedelta(days=2) + n * timedelta(hours=1)
        events += [approved([f"OK{n}"], at), posting("time_entry.post_requested", f"OK{n}", at + minutes * M, 80.0)]
    # A pickup older than the learning window (3 h) teaches nothing.
    old = AS_OF - timedelta(days=9)
    events += [approved(["OLD"], old), posting("time_entry.post_requested", "OLD", old + 180 * M, 80.0)]
    events += [
        approved(["W1", "W2"], AS_OF - 40 * M),  # waiting 40 min: past the limit
        approved(["W3"], AS_OF - 20 * M),  # waiting 20 min: within it
        approved(["S1"], AS_OF - 60 * M),  # superseded by an adjustment: settled
        ce(
            "time_entry.adjusted",
            AS_OF - 50 * M,
            {
                "entry_id": "S2",
                "supersedes_entry_id": "S1",
                "work_date": "2026-11-09",
                "delta_hours": 1.0,
                "reason": "correction",
            },
        ),  # fmt: skip
        # Posted with no request seen (an integration that sends outcomes only): its posting is its pickup, 10 min
        # after approval, learned like the others, and it is settled.
        approved(["P1"], AS_OF - 90 * M),
        posting("time_entry.posted", "P1", AS_OF - 80 * M, 80.0),
        approved(["LATE"], AS_OF + 5 * M),  # after as_of: not yet approved at the window's end
    ]
    send(collector, tokens, events, deliveries=2)

    r = overall(warehouse, "time_posting_pickup", WINDOW)
    d = r.details
    assert d["normal_pickup_p99_seconds"] == pytest.approx(12 * 60)
    assert d["limit_seconds"] == pytest.approx(24 * 60)
    assert d["pickups_learned_from"] == 5
    # S2 (the adjustment, approved 50 min ago and never sent) waits too; W1 and W2 as well; W3 is within the limit.
    assert r.value == 3.0 and d["stalled"] == 3 and d["waiting"] == 4
    assert d["oldest_wait_seconds"] == pytest.approx(50 * 60)
    assert d["consultants"] == 1  # the timesheets are C-1's; the adjustment names no consultant
    assert r.status == "breach"

    records = Evaluator(load_slos()).registry["time_posting_pickup"].records(Db(warehouse), WINDOW, 10)
    assert [x["key"] for x in records] == ["S2", "W1", "W2"]
    assert records[0]["age_seconds"] == pytest.approx(50 * 60)


def test_without_recent_pickups_the_floor_is_the_limit(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client
) -> None:
    """A connector that has sent nothing for the whole learning window has nothing to learn from: every entry
    waiting past the floor is stalled, rather than the limit growing with the silence."""
    send(collector, tokens, [approved(["A"], AS_OF - 4 * M), approved(["B"], AS_OF - 6 * M)], deliveries=2)
    r = overall(warehouse, "time_posting_pickup", WINDOW)
    assert r.details["pickups_learned_from"] == 0 and r.details["normal_pickup_p99_seconds"] is None
    assert r.details["limit_seconds"] == PICKUP_FLOOR_SECONDS
    assert r.value == 1.0 and r.details["waiting"] == 2


def test_a_healthy_connector_leaves_nothing_waiting(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client
) -> None:
    at = AS_OF - 3 * timedelta(hours=1)
    send(
        collector,
        tokens,
        [approved(["A"], at), posting("time_entry.post_requested", "A", at + 2 * M, 10.0)],
        deliveries=2,
    )
    r = overall(warehouse, "time_posting_pickup", WINDOW)
    assert r.value == 0.0 and r.status == "ok" and r.details["waiting"] == 0
    assert r.details["limit_seconds"] == PICKUP_FLOOR_SECONDS  # 2 x 2 min is under the floor


def test_the_limit_is_firm_wide_in_a_breakdown(collector: ThreadedCollector, tokens: Tokens, warehouse: Client) -> None:
    """By tenant, each tenant's waiting entries are judged against the limit learned from every tenant's pickups:
    a tenant whose connector picked nothing up lately is not judged by the floor alone."""

    def tenant(event: dict[str, Any], name: str) -> dict[str, Any]:
        return {**event, "tenantid": name}

    events: list[dict[str, Any]] = []
    # acme-us' pickups: 10, 20 and 30 minutes -> p99 30 min (exact, low), limit 60 min for every tenant.
    for n, minutes in enumerate((10, 20, 30)):
        at = AS_OF - timedelta(days=1) + n * timedelta(hours=1)
        events += [approved([f"U{n}"], at), posting("time_entry.post_requested", f"U{n}", at + minutes * M, 80.0)]
    events += [
        tenant(approved(["D1"], AS_OF - 90 * M), "acme-de"),  # past the firm-wide limit
        tenant(approved(["D2"], AS_OF - 45 * M), "acme-de"),  # past the floor, within the limit
        approved(["U9"], AS_OF - 70 * M),
    ]
    send(collector, tokens, events, deliveries=2)

    by = Evaluator(load_slos()).evaluate(Db(warehouse), window=WINDOW, names=["time_posting_pickup"], by="tenant")
    results = by["time_posting_pickup"]
    assert sorted(results) == ["acme-de", "acme-us"]  # only tenants with entries waiting
    for name, stalled, waiting in (("acme-de", 1, 2), ("acme-us", 1, 1)):
        d = results[name].details
        assert d["limit_seconds"] == pytest.approx(2 * 30 * 60)
        assert d["pickups_learned_from"] == 3
        assert (results[name].value, d["waiting"]) == (stalled, waiting)
    assert results["acme-de"].details["oldest_wait_seconds"] == pytest.approx(90 * 60)
    overall_result = overall(warehouse, "time_posting_pickup", WINDOW)
    assert (overall_result.value, overall_result.details["waiting"]) == (2.0, 3)
