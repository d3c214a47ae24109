"""End to end: the simulator's real HTTP sender (CloudEvents batches and the OTel SDK exporter) into the collector.

Every event and span the simulated firm emits must satisfy the collector's validation: a rejection here means
the simulator and the catalogue disagree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from clickhouse_connect.driver.client import Client

from tests.conftest import ThreadedCollector, Tokens, auth

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")


def test_a_backfill_is_accepted_whole_and_traceable(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client, tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            SYNCWATCH,
            "simulate",
            "backfill",
            "--consultants",
            "100",
            "--days",
            "10",
            "--base-url",
            collector.url,
            "--token",
            tokens["ingest"],
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    events, unknown = warehouse.query("SELECT count(), countIf(NOT known_type) FROM events").result_rows[0]
    spans = warehouse.query("SELECT count() FROM otel_traces").result_rows[0][0]
    assert events > 1000 and unknown == 0
    assert spans == events  # the simulator gives every event its span
    assert warehouse.query("SELECT count() FROM quarantine").result_rows[0][0] == 0
    # every event's traceparent names a span that arrived
    orphans = warehouse.query(
        "SELECT count() FROM events WHERE (trace_id, parent_span_id) NOT IN (SELECT TraceId, SpanId FROM otel_traces)"
    ).result_rows[0][0]
    assert orphans == 0
    entry = warehouse.query(
        "SELECT entry_id FROM events WHERE canonical_type = 'time_entry.posted' LIMIT 1"
    ).result_rows[0][0]
    journey = httpx.get(f"{collector.url}/api/v1/records/{entry}", headers=auth(tokens["read"]), timeout=30).json()
    types = [i["type"] for i in journey["items"] if i["signal"] == "event"]
    assert "timesheet.approved" in types and "time_entry.posted" in types
    assert types.index("timesheet.approved") < types.index("time_entry.posted")
    assert any(i["signal"] == "span" for i in journey["items"])
