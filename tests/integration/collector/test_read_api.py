"""The record journey: every event and span about one business key, across systems, in time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import orjson
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.conftest import ThreadedCollector, Tokens, auth
from tests.factories import event, valid_data


def test_journey_joins_events_and_spans_across_systems(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client
) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "psa-erp-connector"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{collector.url}/v1/traces", headers=auth(tokens["ingest"])))
    )
    tracer = provider.get_tracer("journey")
    with tracer.start_as_current_span("post time entry", attributes={"business.entry_id": "E-42"}) as hop:
        with tracer.start_as_current_span("netsuite journal insert"):  # no business key: found through its trace
            pass
    provider.shutdown()
    ctx = hop.get_span_context()
    traceparent = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-01"

    t0 = datetime.now(UTC) - timedelta(hours=3)
    submitted = event(
        "timesheet.submitted",
        when=t0,
        data=valid_data("timesheet.submitted", timesheet_id="TS-9", entry_ids=["E-41", "E-42"]),
        sourcesystem="psa",
    )
    approved = event(
        "timesheet.approved",
        when=t0 + timedelta(hours=1),
        data=valid_data("timesheet.approved", timesheet_id="TS-9", entry_ids=["E-41", "E-42"]),
    )
    failed = event(
        "time_entry.post_failed",
        when=t0 + timedelta(hours=2),
        correlationid="corr-42",
        sourcesystem="psa",
        targetsystem="erp",
        data=valid_data("time_entry.post_failed", entry_id="E-42", error_code="PERIOD_CLOSED"),
    )
    posted = event(
        "time_entry.posted",
        when=t0 + timedelta(hours=2, minutes=30),
        traceparent=traceparent,
        correlationid="corr-42",
        sourcesystem="psa",
        targetsystem="erp",
        data=valid_data("time_entry.posted", entry_id="E-42", erp_document_id="JE-1"),
    )
    unrelated = event("time_entry.posted", data=valid_data("time_entry.posted", entry_id="E-7"))
    answer = http.post(
        f"{collector.url}/v1/events",
        content=orjson.dumps([posted, failed, unrelated, approved, submitted]),
        headers={**auth(tokens["ingest"]), "Content-Type": "application/cloudevents-batch+json"},
    )
    assert answer.status_code == 200

    journey = http.get(f"{collector.url}/api/v1/records/E-42", headers=auth(tokens["read"])).json()
    assert journey["found"]
    kinds = [(i["signal"], i.get("type") or i.get("name")) for i in journey["items"]]
    assert kinds[:4] == [
        ("event", "timesheet.submitted"),
        ("event", "timesheet.approved"),
        ("event", "time_entry.post_failed"),
        ("event", "time_entry.posted"),
    ]
    assert {k for k in kinds[4:]} == {("span", "post time entry"), ("span", "netsuite journal insert")}
    assert journey["summary"]["last_event_type"] == "time_entry.posted"
    assert journey["summary"]["systems"] == ["erp", "psa"]
    assert journey["summary"]["errors"] == 1
    assert journey["items"][2]["data"]["error_code"] == "PERIOD_CLOSED"

    by_correlation = http.get(f"{collector.url}/api/v1/records/corr-42", headers=auth(tokens["read"])).json()
    assert [i["id"] for i in by_correlation["items"] if i["signal"] == "event"] == [failed["id"], posted["id"]]
    only_timesheets = http.get(
        f"{collector.url}/api/v1/records/TS-9", params={"kind": "timesheet"}, headers=auth(tokens["read"])
    ).json()
    assert len(only_timesheets["items"]) == 2
    missing = http.get(f"{collector.url}/api/v1/records/NOPE", headers=auth(tokens["read"])).json()
    assert missing["found"] is False and missing["items"] == []
    bad_kind = http.get(
        f"{collector.url}/api/v1/records/E-42", params={"kind": "spaceship"}, headers=auth(tokens["read"])
    )
    assert bad_kind.status_code == 422


def test_openapi_and_operations(collector: ThreadedCollector, tokens: Tokens, http: httpx.Client) -> None:
    spec = http.get(f"{collector.url}/openapi.json").json()
    assert {"/v1/events", "/v1/traces", "/api/v1/records/{key}", "/api/v1/quarantine"} <= set(spec["paths"])
    assert http.get(f"{collector.url}/healthz").json() == {"status": "ok"}
    ready = http.get(f"{collector.url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    metrics = http.get(f"{collector.url}/metrics", headers=auth(tokens["read"])).text
    assert "syncwatch_collector_queue_rows" in metrics and "syncwatch_collector_insert_duration_seconds" in metrics
