"""The shapes the protocols' own published examples use (OpenTelemetry's examples/trace.json, the CloudEvents HTTP
binding's conformance cases), written here with the same features: each is answered as its specification says,
and whatever the answer calls stored can be found afterwards."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from clickhouse_connect.driver.client import Client
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

from tests.conftest import ThreadedCollector, Tokens, auth
from tests.factories import valid_data

TRACE_ID = "5B8EFFF798038103D269B633813FC60C"  # as examples/trace.json writes it: upper-case hex
SPAN_ID = "EEE19B7EC3C1B174"
JSON = {"Content-Type": "application/json"}


def otlp_example(start_ns: int, **span: Any) -> bytes:
    """examples/trace.json's shape: every attribute value type, an event, a link, upper-case hex ids."""
    values = [
        {"key": "string.attribute", "value": {"stringValue": "some string"}},
        {"key": "boolean.attribute", "value": {"boolValue": True}},
        {"key": "int.attribute", "value": {"intValue": "10"}},
        {"key": "double.attribute", "value": {"doubleValue": 637.704}},
        {"key": "array.attribute", "value": {"arrayValue": {"values": [{"stringValue": "many"}, {"intValue": 2}]}}},
        {"key": "map.attribute", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}},
        {"key": "bytes.attribute", "value": {"bytesValue": "aGVsbG8="}},
        {"key": "business.entry_id", "value": {"stringValue": "E-CONFORM"}},
    ]
    body = {
        "traceId": TRACE_ID,
        "spanId": SPAN_ID,
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "I'm a server span",
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + 1_000_000_000),
        "kind": 2,
        "attributes": values,
        "events": [{"timeUnixNano": str(start_ns + 1000), "name": "an event", "attributes": values[:2]}],
        "links": [{"traceId": "0AF7651916CD43DD8448EB211C80319C", "spanId": "B7AD6B7169203331", "attributes": []}],
        **span,
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]}
    scope = {"name": "my.library", "version": "1.0.0", "attributes": values[:1]}
    return orjson.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": scope, "spans": [body]}]}]})


def test_a_span_older_than_retention_is_rejected_not_acknowledged_and_stays_rejected(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client, warehouse: Client
) -> None:
    url = f"{collector.url}/v1/traces"
    in_2018 = 1_544_712_660_000_000_000  # the example's own time
    for _ in range(2):  # a redelivery is rejected again, never answered as a duplicate of nothing
        answer = http.post(url, content=otlp_example(in_2018), headers={**auth(tokens["ingest"]), **JSON})
        assert answer.status_code == 200
        partial = answer.json()["partialSuccess"]
        assert partial["rejectedSpans"] == 1 and "RETENTION" in partial["errorMessage"], partial
    assert warehouse.query("SELECT count() FROM otel_traces").result_rows[0][0] == 0
    reasons = warehouse.query("SELECT reason, field FROM quarantine WHERE signal = 'span'").result_rows
    assert reasons == [("time_out_of_range", "startTimeUnixNano")] * 2


def test_the_example_with_current_times_is_stored_and_found_by_its_id_in_either_case(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client
) -> None:
    now = time.time_ns() - 60 * 10**9
    answer = http.post(
        f"{collector.url}/v1/traces", content=otlp_example(now), headers={**auth(tokens["ingest"]), **JSON}
    )
    assert (answer.status_code, answer.json()) == (200, {})
    for key in (TRACE_ID, TRACE_ID.lower(), "E-CONFORM"):
        journey = http.get(f"{collector.url}/api/v1/records/{key}", headers=auth(tokens["read"])).json()
        assert journey["found"], key
        span = next(i for i in journey["items"] if i["signal"] == "span")
        assert span["span_id"] == SPAN_ID.lower()
    # a span lookup by its own id, upper case
    journey = http.get(f"{collector.url}/api/v1/records/{TRACE_ID}?kind=trace", headers=auth(tokens["read"])).json()
    assert journey["found"]


def _event(**overrides: Any) -> CloudEvent:
    attributes = {
        "type": "com.syncwatch.time_entry.posted",
        "source": "//psa/conformance",
        "id": f"ce-{time.time_ns()}",
        "time": datetime.now(UTC) - timedelta(minutes=1),
        **overrides,
    }
    return CloudEvent(attributes=attributes, data=valid_data("time_entry.posted", entry_id=attributes["id"]))


def test_both_cloudevents_modes_with_and_without_charset_are_stored_and_findable(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client
) -> None:
    sent = []
    for mode, charset in (
        ("binary", ""),
        ("binary", "; charset=utf-8"),
        ("structured", ""),
        ("structured", "; charset=utf-8"),
    ):
        event = _event(datacontenttype="application/json")
        message = (to_binary_event if mode == "binary" else to_structured_event)(event)
        headers = {k.lower(): v for k, v in message.headers.items()}
        headers = {**headers, "content-type": headers["content-type"] + charset, **auth(tokens["ingest"])}
        answer = http.post(f"{collector.url}/v1/events", content=message.body, headers=headers)
        assert answer.status_code == 200, (mode, charset, answer.text)
        assert answer.json()["status"] == "accepted"
        sent.append(event.get_id())
    for entry in sent:
        journey = http.get(f"{collector.url}/api/v1/records/{entry}", headers=auth(tokens["read"])).json()
        assert journey["found"] and journey["items"][0]["id"] == entry


def test_an_upper_case_traceparent_links_the_event_to_its_spans(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client
) -> None:
    now = time.time_ns() - 60 * 10**9
    http.post(f"{collector.url}/v1/traces", content=otlp_example(now), headers={**auth(tokens["ingest"]), **JSON})
    event = _event(traceparent=f"00-{TRACE_ID}-{SPAN_ID}-01")
    message = to_structured_event(event)
    answer = http.post(
        f"{collector.url}/v1/events", content=message.body, headers={**message.headers, **auth(tokens["ingest"])}
    )
    assert answer.status_code == 200, answer.text
    journey = http.get(f"{collector.url}/api/v1/records/{event.get_id()}", headers=auth(tokens["read"])).json()
    assert {i["signal"] for i in journey["items"]} == {"event", "span"}  # the hop that carried it, found by trace


def test_otlp_logs_and_metrics_are_told_what_the_collector_takes(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client
) -> None:
    for signal in ("logs", "metrics"):
        answer = http.post(f"{collector.url}/v1/{signal}", content=b"{}", headers={**auth(tokens["ingest"]), **JSON})
        assert answer.status_code == 404
        status = answer.json()
        assert status["code"] == 12 and f"does not take OTLP {signal}" in status["message"]
        assert "/v1/traces" in status["message"]
        protobuf = http.post(
            f"{collector.url}/v1/{signal}",
            content=b"",
            headers={**auth(tokens["ingest"]), "Content-Type": "application/x-protobuf"},
        )
        assert protobuf.status_code == 404 and protobuf.headers["content-type"] == "application/x-protobuf"
        unauthenticated = http.post(f"{collector.url}/v1/{signal}", content=b"{}", headers=JSON)
        assert unauthenticated.status_code == 401
