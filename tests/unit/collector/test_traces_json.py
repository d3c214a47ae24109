"""OTLP JSON: hex ids, integer (or named) enums, int64 as strings, unknown fields ignored."""

from __future__ import annotations

import time

import orjson
import pytest

from collector.traces import SpanRows, TraceDecodeError

NOW = time.time_ns()
WINDOW = (NOW - 10**18, NOW + 10**12)


def request(**span_overrides: object) -> bytes:
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "parentSpanId": "eee19b7ec3c1b173",
        "name": "post time entry",
        "kind": 3,
        "startTimeUnixNano": str(NOW - 2_000_000),
        "endTimeUnixNano": str(NOW),
        "attributes": [
            {"key": "business.entry_id", "value": {"stringValue": "E-1"}},
            {"key": "http.response.status_code", "value": {"intValue": "503"}},
            {"key": "retry", "value": {"boolValue": True}},
            {"key": "ratio", "value": {"doubleValue": 0.5}},
            {"key": "ids", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 2}]}}},
        ],
        "events": [{"timeUnixNano": str(NOW - 1_000_000), "name": "retry", "attributes": []}],
        "links": [{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331"}],
        "status": {"code": 2, "message": "ERP throttled"},
        "futureField": {"ignored": True},
    }
    span.update(span_overrides)
    return orjson.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "psa-erp-sync"}}]},
                    "scopeSpans": [{"scope": {"name": "sync", "version": "1.2"}, "spans": [span]}],
                }
            ]
        }
    )


def test_json_span_decodes_like_the_clickhouse_exporter() -> None:
    spans = SpanRows()
    spans.add_json(request(), WINDOW)
    assert len(spans.rows) == 1 and not spans.rejections
    c = spans.rows[0]
    assert c["TraceId"] == "5b8efff798038103d269b633813fc60c" and c["SpanId"] == "eee19b7ec3c1b174"
    assert c["SpanKind"] == "Client" and c["StatusCode"] == "Error" and c["StatusMessage"] == "ERP throttled"
    start = NOW - 2_000_000
    assert c["Duration"] == 2_000_000 and c["Timestamp"] == f"{start // 10**9}.{start % 10**9:09d}"
    assert c["ServiceName"] == "psa-erp-sync" and (c["ScopeName"], c["ScopeVersion"]) == ("sync", "1.2")
    assert c["SpanAttributes"] == {
        "business.entry_id": "E-1",
        "http.response.status_code": "503",
        "retry": "true",
        "ratio": "0.5",
        "ids": '["a",2]',
    }
    assert c["Events.Name"] == ["retry"] and c["Links.SpanId"] == ["b7ad6b7169203331"]


def test_named_enums_are_accepted_too() -> None:
    spans = SpanRows()
    spans.add_json(request(kind="SPAN_KIND_SERVER", status={"code": "STATUS_CODE_OK"}), WINDOW)
    assert (spans.rows[0]["SpanKind"], spans.rows[0]["StatusCode"]) == ("Server", "Ok")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"traceId": ""}, "traceId"),
        ({"spanId": "0000000000000000"}, "spanId"),
        ({"startTimeUnixNano": "0"}, "startTimeUnixNano"),
        ({"endTimeUnixNano": "1"}, "endTimeUnixNano"),
        ({"startTimeUnixNano": "1000", "endTimeUnixNano": "2000"}, "startTimeUnixNano"),
    ],
)
def test_bad_spans_are_rejected_one_by_one(override: dict[str, str], field: str) -> None:
    spans = SpanRows()
    spans.add_json(request(**override), WINDOW)
    assert spans.rows == []
    assert [r.field for r, _ in spans.rejections] == [field]


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b'{"resourceSpans": 5}', request(traceId="base64+/notHex=="), request(startTimeUnixNano="soon")],
)
def test_undecodable_requests_raise(body: bytes) -> None:
    with pytest.raises(TraceDecodeError):
        SpanRows().add_json(body, WINDOW)
