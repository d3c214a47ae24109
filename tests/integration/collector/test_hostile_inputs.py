"""Inputs that used to be answered 500: out-of-range query parameters, record keys with "/", OTLP JSON with times a
DateTime64(9) column cannot hold. Each is now a 4xx naming the parameter, or a per-span rejection."""

from __future__ import annotations

import json
import time

import httpx
import orjson
import pytest
from clickhouse_connect.driver.client import Client
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.conftest import ThreadedCollector, Tokens, auth
from tests.integration.collector.test_otlp import wait_rows
from tests.unit.collector.test_traces_json import request as otlp_json


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/quarantine?since=99999w", "since"),
        ("/api/v1/quarantine?since=0999-12-31T00:00:00Z", "since"),
        ("/api/v1/quarantine?since=9999-12-31T23:59:59-23:59", "since"),
        ("/api/v1/quarantine?since=tomorrow", "since"),
        ("/api/v1/quarantine?limit=100000000000000000000000", "limit"),
        ("/api/v1/slis?window=99999w", "window"),
        ("/api/v1/slis?window=999999999999w", "window"),
        ("/api/v1/slis?window=0s", "window"),
        ("/api/v1/slis?from=0500-01-01T00:00:00Z", "from"),
        ("/api/v1/slis?from=2026-01-01T00:00:00Z&to=3000-01-01T00:00:00Z", "to"),
        ("/api/v1/slis/time_posting_first_pass/series?from=0001-01-01", "from"),
        ("/api/v1/ingest/health?minutes=18446744073709551617", "minutes"),
        ("/api/v1/alerts/history?limit=18446744073709551617", "limit"),
    ],
)
def test_out_of_range_parameters_are_422_naming_them(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client, path: str, parameter: str
) -> None:
    answer = http.get(collector.url + path, headers=auth(tokens["read"]))
    assert answer.status_code == 422, answer.text
    assert [p["field"] for p in answer.json()["problems"]] == [f"query.{parameter}"]


def test_since_takes_an_instant_or_a_duration_back_from_now(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client
) -> None:
    bad = otlp_json(spanId="0000000000000000")
    assert (
        http.post(
            f"{collector.url}/v1/traces",
            content=bad,
            headers={**auth(tokens["ingest"]), "Content-Type": "application/json"},
        ).json()["partialSuccess"]["rejectedSpans"]
        == 1
    )
    read = auth(tokens["read"])
    deadline = time.monotonic() + 10
    while not http.get(f"{collector.url}/api/v1/quarantine?since=1h", headers=read).json()["items"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for since, found in [("1h", 1), ("2w", 1), ("1900-01-01T00:00:00Z", 1), ("2262-04-11T00:00:00Z", 0)]:
        answer = http.get(f"{collector.url}/api/v1/quarantine", params={"since": since}, headers=read)
        assert answer.status_code == 200 and len(answer.json()["items"]) == found, since


def test_record_keys_may_hold_slashes(collector: ThreadedCollector, tokens: Tokens, http: httpx.Client) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "erp-connector"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{collector.url}/v1/traces", headers=auth(tokens["ingest"])))
    )
    with provider.get_tracer("keys").start_as_current_span("post", attributes={"business.entry_id": "INV/2026/0042"}):
        pass
    provider.shutdown()
    read = auth(tokens["read"])
    for path in ("INV/2026/0042", "INV%2F2026%2F0042"):
        deadline = time.monotonic() + 10
        while True:
            answer = http.get(f"{collector.url}/api/v1/records/{path}", headers=read)
            assert answer.status_code == 200, answer.text
            if answer.json()["found"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert answer.json()["key"] == "INV/2026/0042" and answer.json()["summary"]["spans"] == 1
    unknown = http.get(f"{collector.url}/api/v1/records/INV/2026/0043", headers=read)
    assert unknown.status_code == 200 and unknown.json()["found"] is False


def test_span_times_past_the_column_are_rejected_per_span(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client, warehouse: Client
) -> None:
    body = orjson.loads(otlp_json())
    spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
    for n, time_value in enumerate([10**25, -5, 2**64 - 1]):
        span = dict(spans[0], spanId=f"{n + 1:016x}", events=[{"timeUnixNano": time_value, "name": "late"}])
        spans.append(span)
    answer = http.post(
        f"{collector.url}/v1/traces",
        content=json.dumps(body).encode(),  # stdlib json writes the integers past 64 bits, as a client may
        headers={**auth(tokens["ingest"]), "Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedSpans"] == 3 and "events[0].timeUnixNano" in partial["errorMessage"]
    # the engine took the insert: the good span is stored, the three are quarantined with the field named
    assert wait_rows(warehouse, "SELECT count() FROM otel_traces", 1) == 1
    assert wait_rows(warehouse, "SELECT count() FROM quarantine", 3) == 3
    rows = warehouse.query("SELECT DISTINCT reason, field FROM quarantine").result_rows
    assert rows == [("time_out_of_range", "events[0].timeUnixNano")]


@pytest.mark.parametrize("events", [5, "x", {"timeUnixNano": "1"}])
def test_events_that_are_not_a_list_are_400(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client, events: object
) -> None:
    answer = http.post(
        f"{collector.url}/v1/traces",
        content=otlp_json(events=events, links=events),
        headers={**auth(tokens["ingest"]), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400 and "must be a list" in answer.json()["message"]


@pytest.mark.parametrize(
    "ends_at", ["9999-12-31T23:59:59Z", "2300-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "2262-04-12T00:00:00Z"]
)
def test_silences_out_of_the_warehouse_range_are_422(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client, ends_at: str
) -> None:
    silence = {"matchers": [{"name": "alertname", "value": "X"}], "ends_at": ends_at, "created_by": "a", "comment": "c"}
    answer = http.post(f"{collector.url}/api/v1/silences", json=silence, headers=auth(tokens["admin"]))
    assert answer.status_code == 422, answer.text
