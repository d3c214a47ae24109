"""GET /api/v1/ingest/health on the real collector: rates, rejections by reason, queues, latency; read scope."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import ThreadedCollector, Tokens, auth
from tests.factories import event

pytestmark = pytest.mark.integration
BATCH = {"Content-Type": "application/cloudevents-batch+json"}


def test_ingest_health_counts_what_arrived_and_what_was_refused(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client
) -> None:
    good = [event() for _ in range(25)]
    bad = event()
    del bad["source"]
    sent = http.post(f"{collector.url}/v1/events", json=[*good, bad], headers={**auth(tokens["ingest"]), **BATCH})
    assert sent.status_code < 300, sent.text
    url = f"{collector.url}/api/v1/ingest/health"
    deadline = time.monotonic() + 30
    while True:
        health = http.get(url, params={"minutes": 15}, headers=auth(tokens["read"])).json()
        stored = sum(m["events"] for m in health["events_per_minute"])
        if stored >= 25 and health["rejections_per_minute"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert stored == 25
    assert health["since_start"]["received"]["event"] == 26
    assert health["since_start"]["accepted"]["event"] == 25
    reasons = {r["reason"]: r["count"] for r in health["rejections_per_minute"]}
    assert sum(reasons.values()) == 1
    assert health["since_start"]["rejected"]["event"] == {next(iter(reasons)): 1.0}
    assert health["warehouse_up"] is True and health["spooled_batches"] == 0
    assert set(health["queue_rows"]) >= {"events", "otel_traces", "quarantine"}
    assert health["insert_latency_seconds"]["events"]["inserts"] >= 1
    assert health["insert_latency_seconds"]["events"]["p95"] > 0
    assert all(m["lag_p95"] is not None for m in health["events_per_minute"])


def test_ingest_health_needs_the_read_scope(collector: ThreadedCollector, tokens: Tokens, http: httpx.Client) -> None:
    url = f"{collector.url}/api/v1/ingest/health"
    assert http.get(url).status_code == 401
    assert http.get(url, headers=auth(tokens["ingest"])).status_code == 403
    assert http.get(url, headers=auth(tokens["read"]), params={"minutes": 0}).status_code == 422
