"""A record's lookup reads only what the index names: the same answers as the whole-table query it replaced, on a
simulated firm sent through a real collector, and pages that add up to the whole record."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
from clickhouse_connect.driver.client import Client

from collector import read
from tests.conftest import ThreadedCollector, Tokens, auth
from tests.factories import event, valid_data

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")

# The lookup as it was: record_keys as a subquery of FINAL reads over the whole events and span tables, and the
# spans of the traces of the events shown. Kept here as the reference the bounded reads must agree with.
_REFERENCE_EVENTS = """
SELECT time, canonical_type, type, known_type, source, id, subject, source_system, target_system, tenant_id,
       correlation_id, causation_id, trace_id, parent_span_id, data, received_at
FROM events FINAL
WHERE (canonical_type, time, source, id) IN (
    SELECT event_type, toDateTime64(time, 6, 'UTC'), event_source, event_id FROM record_keys
    WHERE key IN {keys:Array(String)} AND signal = 'event' AND ({kind:String} = '' OR kind = {kind:String}))
ORDER BY time, received_at
LIMIT {limit:UInt32}
"""
_REFERENCE_SPANS = """
WITH keyed AS (
    SELECT trace_id, span_id, service_name, span_name, time FROM record_keys
    WHERE key IN {keys:Array(String)} AND signal = 'span' AND ({kind:String} = '' OR kind = {kind:String})
  UNION ALL
    SELECT trace_id, span_id, service_name, span_name, time FROM record_keys
    WHERE signal = 'span' AND kind = 'trace' AND key IN {trace_ids:Array(String)}
)
SELECT Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, Duration, StatusCode,
       StatusMessage, SpanAttributes
FROM otel_traces FINAL
WHERE (ServiceName, SpanName, toDateTime(Timestamp), TraceId, SpanId)
      IN (SELECT service_name, span_name, toDateTime(time), trace_id, span_id FROM keyed)
ORDER BY Timestamp
LIMIT {limit:UInt32}
"""


def _reference(client: Client, key: str, kind: str, limit: int) -> list[tuple[Any, ...]]:
    """(signal, at, identity) of every item the old queries answered."""
    params = {"keys": read._spellings(key), "kind": kind, "limit": limit}
    events = client.query(_REFERENCE_EVENTS, parameters=params).result_rows
    traces = sorted({r[12] for r in events if r[12]})
    spans = client.query(_REFERENCE_SPANS, parameters={**params, "trace_ids": traces}).result_rows
    return sorted(
        [("event", _naive(r[0]), r[4], r[5]) for r in events] + [("span", _naive(r[0]), r[1], r[2]) for r in spans]
    )


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _items(answer: dict[str, Any]) -> list[tuple[Any, ...]]:
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)

    return sorted(
        ("event", at(i["at"]), i["source"], i["id"])
        if i["signal"] == "event"
        else ("span", at(i["at"]), i["trace_id"], i["span_id"])
        for i in answer["items"]
    )


def _all_pages(service: Any, key: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    items, after, pages = [], "", 0
    while True:
        page = read._journey(service, key, "", limit, after)
        items += page["items"]
        pages += 1
        assert len([i for i in page["items"] if i["signal"] == "event"]) <= limit
        if not page["next"]:
            return items, pages
        after = page["next"]


def test_bounded_reads_answer_as_the_whole_table_query_did(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client, tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            SYNCWATCH,
            "simulate",
            "backfill",
            "--consultants",
            "40",
            "--days",
            "7",
            "--base-url",
            collector.url,
            "--token",
            tokens["ingest"],
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    by_column: dict[str, list[str]] = {}
    for column in ("entry_id", "timesheet_id", "invoice_id", "project_code", "consultant_id", "correlation_id",
                   "trace_id", "message_id", "exception_id"):  # fmt: skip
        by_column[column] = [
            r[0]
            for r in warehouse.query(
                f"SELECT DISTINCT {column} FROM events WHERE {column} != '' ORDER BY cityHash64({column}) LIMIT 4"
            ).result_rows
        ]
    keys = [k for found in by_column.values() for k in found]
    keys += [by_column["trace_id"][0].upper(), "NOPE", "TE-does-not-exist"]
    service = SimpleNamespace(reader=warehouse)
    compared = 0
    for key in keys:
        for kind, limit in (("", 1000), ("", 10000)) + ((("entry", 1000),) if key.startswith("TE") else ()):
            answer = read._journey(service, key, kind, limit)  # type: ignore[arg-type]
            assert _items(answer) == _reference(warehouse, key, kind, limit), (key, kind, limit)
            compared += len(answer["items"])
        # A record larger than a page: the events of the first page are the same as before.
        small = read._journey(service, key, "", 5)  # type: ignore[arg-type]
        first_events = [i for i in _items(small) if i[0] == "event"]
        assert first_events == [i for i in _reference(warehouse, key, "", 5) if i[0] == "event"], key
    assert compared > 500

    # Pages of a project and a consultant (dozens of items) add up to the whole record, each item once.
    for column in ("project_code", "consultant_id"):
        key = warehouse.query(
            f"SELECT {column} FROM events WHERE {column} != '' GROUP BY 1 ORDER BY count() DESC, 1 LIMIT 1"
        ).result_rows[0][0]
        whole = read._journey(service, key, "", 10000)  # type: ignore[arg-type]
        assert whole["next"] is None and len(whole["items"]) > 40, key
        paged, pages = _all_pages(service, key, 3)
        assert pages > 3
        assert _items({"items": paged}) == _items(whole), key


def test_pages_split_items_of_the_same_instant(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client
) -> None:
    when = datetime.now(UTC) - timedelta(hours=1)
    same_instant = [
        event("time_entry.posted", when=when, data=valid_data("time_entry.posted", entry_id="E-TIE")) for _ in range(5)
    ]
    later = event(
        "time_entry.posted", when=when + timedelta(seconds=1), data=valid_data("time_entry.posted", entry_id="E-TIE")
    )
    answer = http.post(
        f"{collector.url}/v1/events",
        content=orjson.dumps([*same_instant, later]),
        headers={**auth(tokens["ingest"]), "Content-Type": "application/cloudevents-batch+json"},
    )
    assert answer.status_code == 200
    seen, after = [], ""
    for _ in range(10):
        page = http.get(
            f"{collector.url}/api/v1/records/E-TIE", params={"limit": 2, "after": after}, headers=auth(tokens["read"])
        ).json()
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        if not page["next"]:
            break
        after = page["next"]
    assert sorted(seen) == sorted(e["id"] for e in [*same_instant, later])
    assert seen[-1] == later["id"]

    bad = http.get(f"{collector.url}/api/v1/records/E-TIE", params={"after": "x1.2"}, headers=auth(tokens["read"]))
    assert bad.status_code == 422
    missing = http.get(f"{collector.url}/api/v1/records/NOPE", headers=auth(tokens["read"])).json()
    assert missing == {**missing, "found": False, "items": [], "next": None}
