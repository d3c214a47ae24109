"""Span and span-event times outside what a DateTime64(9) column holds are rejected per span, naming the field, and
malformed OTLP JSON shapes are a 400 (TraceDecodeError), never an exception the server answers 500 to."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.traces import DATETIME64_NS_MAX, DATETIME64_NS_MIN, SpanRows, TraceDecodeError
from tests.unit.collector.test_traces_json import NOW, WINDOW, request


def test_the_bounds_are_exactly_what_the_engine_holds(warehouse: Client) -> None:
    low, high = warehouse.query(
        "SELECT toUnixTimestamp64Nano(toDateTime64('1900-01-01 00:00:00', 9, 'UTC')),"
        " toUnixTimestamp64Nano(toDateTime64('2262-04-11 23:47:16.854775807', 9, 'UTC'))"
    ).result_rows[0]
    assert (low, high) == (DATETIME64_NS_MIN, DATETIME64_NS_MAX)
    with pytest.raises(Exception, match="DECIMAL_OVERFLOW|overflow"):
        warehouse.query("SELECT toDateTime64('2262-04-11 23:47:16.854775808', 9, 'UTC')")
    # the text the rows carry, read as the engine reads an inserted row
    top = f"{DATETIME64_NS_MAX // 10**9}.{DATETIME64_NS_MAX % 10**9:09d}"
    assert warehouse.query(
        "SELECT toUnixTimestamp64Nano(t) FROM format(JSONEachRow, 't DateTime64(9)', {row:String})",
        parameters={"row": json.dumps({"t": top})},
    ).result_rows == [(DATETIME64_NS_MAX,)]


def span_with(**fields: Any) -> bytes:
    """stdlib json, which writes integers past 64 bits as a client may."""
    body = orjson.loads(request())
    body["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(fields)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"events": [{"timeUnixNano": 10**25, "name": "x"}]}, "events[0].timeUnixNano"),
        ({"events": [{"timeUnixNano": "1", "name": "x"}, {"timeUnixNano": -5}]}, "events[1].timeUnixNano"),
        ({"events": [{"timeUnixNano": str(2**64 - 1), "name": "x"}]}, "events[0].timeUnixNano"),
        ({"events": [{"timeUnixNano": 1e25, "name": "x"}]}, "events[0].timeUnixNano"),
        ({"events": [{"timeUnixNano": DATETIME64_NS_MAX + 1, "name": "x"}]}, "events[0].timeUnixNano"),
        ({"endTimeUnixNano": str(2**64 - 1)}, "endTimeUnixNano"),
        ({"endTimeUnixNano": 2**70}, "endTimeUnixNano"),
        ({"startTimeUnixNano": 2**70, "endTimeUnixNano": 2**71}, "endTimeUnixNano"),
        ({"startTimeUnixNano": -5}, "startTimeUnixNano"),
    ],
)
def test_times_the_column_cannot_hold_reject_the_span(fields: dict[str, Any], field: str) -> None:
    spans = SpanRows()
    spans.add_json(span_with(**fields), WINDOW)
    assert spans.rows == []
    [(rejection, payload)] = spans.rejections
    assert (rejection.reason, rejection.field) == ("time_out_of_range", field)
    assert any(reason in rejection.detail for reason in ("DateTime64(9)", "RETENTION", "clock skew")), rejection
    orjson.dumps(payload)  # what the quarantine stores serialises


def test_edge_times_are_accepted() -> None:
    spans = SpanRows()
    spans.add_json(span_with(events=[{"timeUnixNano": 0}, {"timeUnixNano": str(DATETIME64_NS_MAX)}]), WINDOW)
    assert not spans.rejections
    assert spans.rows[0]["Events.Timestamp"] == ["0.000000000", "9223372036.854775807"]
    orjson.dumps(spans.rows[0])


def test_protobuf_times_past_the_column_reject_the_span() -> None:
    proto = ExportTraceServiceRequest()
    spans = proto.resource_spans.add().scope_spans.add().spans
    span = spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="a", start_time_unix_nano=NOW)
    span.end_time_unix_nano = NOW + 1
    span.events.add(time_unix_nano=2**64 - 1, name="late")
    spans.add(trace_id=b"\x01" * 16, span_id=b"\x03" * 8, start_time_unix_nano=NOW, end_time_unix_nano=2**64 - 1)
    spans.add(trace_id=b"\x01" * 16, span_id=b"\x04" * 8, start_time_unix_nano=NOW, end_time_unix_nano=NOW)
    rows = SpanRows()
    rows.add_protobuf(proto.SerializeToString(), WINDOW)
    assert [r.field for r, _ in rows.rejections] == ["events[0].timeUnixNano", "endTimeUnixNano"]
    assert [r["SpanId"] for r in rows.rows] == ["0404040404040404"]


@pytest.mark.parametrize(
    "fields",
    [
        {"events": 5},
        {"events": {"timeUnixNano": "1"}},
        {"links": "abc"},
        {"links": 7},
        {"startTimeUnixNano": 1.5},
        {"attributes": [{"key": "n", "value": {"intValue": str(2**64)}}]},
        {"attributes": [{"key": "a", "value": {"arrayValue": {"values": 3}}}]},
    ],
)
def test_malformed_shapes_are_undecodable(fields: dict[str, Any]) -> None:
    with pytest.raises(TraceDecodeError):
        SpanRows().add_json(span_with(**fields), WINDOW)


def test_odd_attribute_values_still_serialise() -> None:
    attrs = [
        {"key": "kv", "value": {"kvlistValue": {"values": [{"key": 5, "value": {"intValue": 2**62}}, 3, None]}}},
        {"key": "arr", "value": {"arrayValue": {"values": [{"intValue": "-9223372036854775808"}]}}},
    ]
    spans = SpanRows()
    spans.add_json(span_with(attributes=attrs), WINDOW)
    row = spans.rows[0]
    assert row["SpanAttributes"] == {
        "kv": json.dumps({"5": 2**62}, separators=(",", ":")),
        "arr": "[-9223372036854775808]",
    }
    orjson.dumps(row)
