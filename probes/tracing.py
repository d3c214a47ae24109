"""The monitor observes itself: every probe run is a span, and every API call it makes is a child span from
opentelemetry-instrumentation-httpx, written into the warehouse's otel_traces table next to the estate's own spans.

The instrumentation names HTTP attributes the old way (http.method, http.status_code) unless
OTEL_SEMCONV_STABILITY_OPT_IN=http asks for the new ones (http.request.method, http.response.status_code,
error.type), or both with http/dup; every reader here accepts either spelling.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from clickhouse_connect.driver.client import Client
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Span

__all__ = [
    "CURRENT_PROBE",
    "SERVICE_NAME",
    "WarehouseSpanExporter",
    "build_tracer_provider",
    "http_method",
    "http_status",
    "instrument",
    "probe_calls_since",
]

log = logging.getLogger("syncwatch.probes")
SERVICE_NAME = "syncwatch-probes"
CURRENT_PROBE: contextvars.ContextVar[str] = contextvars.ContextVar("syncwatch_probe", default="")
STATUS_KEYS = ("http.response.status_code", "http.status_code")  # new name first, then the old one
METHOD_KEYS = ("http.request.method", "http.method")
_COLUMNS = [
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind", "ServiceName",
    "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes", "Duration", "StatusCode", "StatusMessage",
]  # fmt: skip
_KINDS = {0: "Internal", 1: "Server", 2: "Client", 3: "Producer", 4: "Consumer"}
_STATUS = {0: "Unset", 1: "Ok", 2: "Error"}


def http_status(attributes: Mapping[str, Any]) -> int | None:
    for key in STATUS_KEYS:
        value = attributes.get(key)
        if value not in (None, ""):
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


def http_method(attributes: Mapping[str, Any]) -> str:
    for key in METHOD_KEYS:
        value = attributes.get(key)
        if value:
            return str(value)
    return ""


class WarehouseSpanExporter(SpanExporter):
    """Writes finished spans into otel_traces (the OTel collector ClickHouse exporter's columns)."""

    def __init__(self, connect: Callable[[], Client]) -> None:
        self._connect = connect
        self._client: Client | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        rows = [_row(s) for s in spans]
        if not rows:
            return SpanExportResult.SUCCESS
        try:
            if self._client is None:
                self._client = self._connect()
            self._client.insert("otel_traces", rows, column_names=_COLUMNS)
        except Exception as exc:  # the exporter must never take a probe down with it
            log.warning("could not store %d probe spans: %s", len(rows), exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._client = None


def _row(span: ReadableSpan) -> list[Any]:
    ctx = span.get_span_context()
    start = span.start_time or 0
    end = span.end_time or start
    return [
        datetime.fromtimestamp(start / 1e9, UTC),
        format(ctx.trace_id, "032x") if ctx else "",
        format(ctx.span_id, "016x") if ctx else "",
        format(span.parent.span_id, "016x") if span.parent else "",
        "",
        span.name,
        _KINDS.get(span.kind.value, "Unspecified"),
        SERVICE_NAME,
        {str(k): str(v) for k, v in span.resource.attributes.items()},
        span.instrumentation_scope.name if span.instrumentation_scope else "",
        (span.instrumentation_scope.version or "") if span.instrumentation_scope else "",
        {str(k): _text(v) for k, v in (span.attributes or {}).items()},
        max(0, end - start),
        _STATUS.get(span.status.status_code.value, "Unset"),
        span.status.description or "",
    ]


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def build_tracer_provider(connect: Callable[[], Client] | None) -> TracerProvider:
    """A provider of our own (never the global one: the host process may trace other things its own way)."""
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    if connect is not None:
        provider.add_span_processor(BatchSpanProcessor(WarehouseSpanExporter(connect), schedule_delay_millis=1000))
    return provider


def instrument(client: httpx.Client, system: str, provider: TracerProvider) -> None:
    def request_hook(span: Span, request: Any) -> None:
        if span.is_recording():
            span.set_attribute("syncwatch.system", system)
            probe = CURRENT_PROBE.get()
            if probe:
                span.set_attribute("syncwatch.probe", probe)

    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider, request_hook=request_hook)


def probe_calls_since(client: Client, since: datetime) -> dict[str, dict[str, Any]]:
    """Per system, from the monitor's own spans: call times (to seed budgets after a restart) and status classes,
    read under both attribute spellings."""
    rows = client.query(
        "SELECT SpanAttributes['syncwatch.system'] AS system, toFloat64(Timestamp) AS t, "
        "SpanAttributes['http.response.status_code'] AS new_status, SpanAttributes['http.status_code'] AS old_status "
        "FROM otel_traces WHERE ServiceName = {service:String} AND Timestamp >= {since:DateTime64(3)} "
        "AND SpanAttributes['syncwatch.system'] != ''",
        parameters={"service": SERVICE_NAME, "since": since},
    ).result_rows
    out: dict[str, dict[str, Any]] = {}
    for system, t, new_status, old_status in rows:
        entry = out.setdefault(system, {"times": [], "status": {}})
        entry["times"].append(float(t))
        status = http_status({"http.response.status_code": new_status, "http.status_code": old_status})
        bucket = f"{status // 100}xx" if status else "error"
        entry["status"][bucket] = entry["status"].get(bucket, 0) + 1
    return out
