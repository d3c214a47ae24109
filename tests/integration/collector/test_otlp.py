"""OTLP/HTTP against the running collector: the real SDK exporter, OTLP JSON, gzip, limits, partial success."""

from __future__ import annotations

import gzip
import time

import httpx
import orjson
from clickhouse_connect.driver.client import Client
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.conftest import ThreadedCollector, Tokens, auth
from tests.unit.collector.test_traces_json import request as otlp_json


def wait_rows(warehouse: Client, sql: str, want: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while True:
        got = int(warehouse.query(sql).result_rows[0][0])
        if got >= want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_sdk_protobuf_exporter_spans_arrive_intact(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client
) -> None:
    provider = TracerProvider(
        resource=Resource.create({"service.name": "psa-erp-connector", "deployment.environment": "test"})
    )
    exporter = OTLPSpanExporter(endpoint=f"{collector.url}/v1/traces", headers=auth(tokens["ingest"]))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.otlp", "9.9")
    with tracer.start_as_current_span("sync timesheet", kind=SpanKind.CONSUMER) as parent:
        parent.set_attribute("business.timesheet_id", "TS-1")
        with tracer.start_as_current_span("post entry", kind=SpanKind.CLIENT) as child:
            child.set_attribute("business.entry_id", "E-1")
            child.set_attribute("attempt", 2)
            child.add_event("throttled", {"retry_after_s": 3})
            child.set_status(Status(StatusCode.ERROR, "ERP said 429"))
            time.sleep(0.01)
    provider.shutdown()
    ctx_parent, ctx_child = parent.get_span_context(), child.get_span_context()
    assert wait_rows(warehouse, "SELECT count() FROM otel_traces", 2) == 2
    rows = warehouse.query(
        "SELECT SpanName, TraceId, SpanId, ParentSpanId, SpanKind, ServiceName, SpanAttributes, Duration, StatusCode, "
        "StatusMessage, Events.Name, ScopeName, ScopeVersion, ResourceAttributes FROM otel_traces ORDER BY SpanName"
    ).result_rows
    by_name = {r[0]: r for r in rows}
    child_row, parent_row = by_name["post entry"], by_name["sync timesheet"]
    assert child_row[1] == f"{ctx_child.trace_id:032x}" == parent_row[1]
    assert child_row[2] == f"{ctx_child.span_id:016x}" and child_row[3] == f"{ctx_parent.span_id:016x}"
    assert (child_row[4], parent_row[4]) == ("Client", "Consumer")
    assert child_row[5] == "psa-erp-connector" and child_row[13]["deployment.environment"] == "test"
    assert child_row[6] == {"business.entry_id": "E-1", "attempt": "2"}
    assert child_row[7] == child.end_time - child.start_time and child_row[7] >= 10_000_000
    assert (child_row[8], child_row[9]) == ("Error", "ERP said 429")
    assert child_row[10] == ["throttled"] and (child_row[11], child_row[12]) == ("tests.otlp", "9.9")
    # the trace-id lookup table is filled by its materialized view, as in the exporter's schema
    assert (
        warehouse.query(
            "SELECT count() FROM otel_traces_trace_id_ts WHERE TraceId = {t:String}", parameters={"t": child_row[1]}
        ).result_rows[0][0]
        >= 1
    )
    # a client retry re-sends the same spans: stored once, in plain reads too (not only after merges)
    again = OTLPSpanExporter(endpoint=f"{collector.url}/v1/traces", headers=auth(tokens["ingest"]))
    assert again.export(memory.get_finished_spans()) == SpanExportResult.SUCCESS
    assert again.export(memory.get_finished_spans()) == SpanExportResult.SUCCESS
    assert int(warehouse.query("SELECT count() FROM otel_traces").result_rows[0][0]) == 2
    deduplicated = collector.service.metrics.deduplicated.labels("span")._value.get()
    assert deduplicated == 4


def test_json_and_gzip_bodies(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client, http: httpx.Client
) -> None:
    headers = {**auth(tokens["ingest"]), "Content-Type": "application/json"}
    plain = http.post(f"{collector.url}/v1/traces", content=otlp_json(), headers=headers)
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("application/json")
    assert plain.json() == {}
    zipped = otlp_json(spanId="eee19b7ec3c1b175")
    answer = http.post(
        f"{collector.url}/v1/traces", content=gzip.compress(zipped), headers={**headers, "Content-Encoding": "gzip"}
    )
    assert answer.status_code == 200
    assert wait_rows(warehouse, "SELECT count() FROM otel_traces", 2) == 2
    attrs = warehouse.query("SELECT SpanAttributes FROM otel_traces LIMIT 1").result_rows[0][0]
    assert attrs["http.response.status_code"] == "503"


def test_partial_success_in_the_request_encoding(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client, warehouse: Client
) -> None:
    good = orjson.loads(otlp_json())
    bad = orjson.loads(otlp_json(spanId="0000000000000000"))
    good["resourceSpans"][0]["scopeSpans"][0]["spans"].append(bad["resourceSpans"][0]["scopeSpans"][0]["spans"][0])
    answer = http.post(
        f"{collector.url}/v1/traces",
        content=orjson.dumps(good),
        headers={**auth(tokens["ingest"]), "Content-Type": "application/json"},
    )
    assert answer.status_code == 200
    assert answer.json()["partialSuccess"]["rejectedSpans"] == 1
    assert "spanId" in answer.json()["partialSuccess"]["errorMessage"]
    assert wait_rows(warehouse, "SELECT count() FROM otel_traces", 1) == 1
    assert warehouse.query("SELECT reason, field FROM quarantine").result_rows == [("invalid_span", "spanId")]

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    proto = ExportTraceServiceRequest()
    proto.resource_spans.add().scope_spans.add().spans.add(
        trace_id=b"\x01" * 16, span_id=b"\x00" * 8, name="x", start_time_unix_nano=time.time_ns()
    )
    answer = http.post(
        f"{collector.url}/v1/traces",
        content=proto.SerializeToString(),
        headers={**auth(tokens["ingest"]), "Content-Type": "application/x-protobuf"},
    )
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-protobuf"
    parsed = ExportTraceServiceResponse.FromString(answer.content)
    assert parsed.partial_success.rejected_spans == 1


def test_limits_and_media_types(collector: ThreadedCollector, tokens: Tokens, http: httpx.Client) -> None:
    url = f"{collector.url}/v1/traces"
    h = auth(tokens["ingest"])
    assert http.post(url, content=b"x", headers={**h, "Content-Type": "text/plain"}).status_code == 415
    undecodable = http.post(url, content=b"\xff\xff garbage", headers={**h, "Content-Type": "application/x-protobuf"})
    assert undecodable.status_code == 400
    from google.rpc.status_pb2 import Status as RpcStatus

    assert RpcStatus.FromString(undecodable.content).message
    bomb = gzip.compress(b"{" + b" " * (collector.settings.max_body_bytes + 10) + b"}")
    too_big = http.post(
        url, content=bomb, headers={**h, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert too_big.status_code == 413 and too_big.json()["message"]
    bad_json = http.post(url, content=b"{", headers={**h, "Content-Type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()["code"] == 3
    assert http.post(url, content=b"{}", headers={"Content-Type": "application/json"}).status_code == 401
