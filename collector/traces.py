"""OTLP/HTTP trace payloads (protobuf or JSON) -> rows of `otel_traces`, in the ClickHouse exporter's encoding.

Protobuf goes through the C (upb) decoder; JSON is walked directly, because OTLP JSON differs from protobuf's
JSON mapping (hex trace ids, integer enums, int64 as strings). Both end in the same per-column lists.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from collector.rejections import Rejection
from syncwatch.vocabulary import SPAN_KEY_ATTRIBUTES

__all__ = ["DATETIME64_NS_MAX", "DATETIME64_NS_MIN", "NEAR_MISS_ATTRIBUTES", "SpanRows", "TraceDecodeError"]


# The exporter's spellings (pdata traceutil.SpanKindStr / StatusCodeStr).
_KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
_STATUS = ("Unset", "Ok", "Error")
_JSON_KIND_NAMES = {f"SPAN_KIND_{k.upper()}": i for i, k in enumerate(_KINDS)}
_JSON_STATUS_NAMES = {f"STATUS_CODE_{s.upper()}": i for i, s in enumerate(_STATUS)}


# What a DateTime64(9) column holds, in nanoseconds since the epoch: 1900-01-01 .. 2262-04-11T23:47:16.854775807Z
# (the largest Int64). The engine refuses a whole insert over one value outside it, so spans are checked here.
# tests/unit/collector/test_span_times.py asks the engine for both ends.
DATETIME64_NS_MIN = -2_208_988_800 * 10**9
DATETIME64_NS_MAX = 2**63 - 1
_INT64 = (-(2**63), 2**63 - 1)


def _near_misses() -> dict[str, str]:
    """entry_id, entryId, business_entry_id, business.entryId, businessEntryId -> business.entry_id, and so on for
    every `business.` key attribute: what instrumentation writes when it misses the documented name."""
    out: dict[str, str] = {}
    for attribute in SPAN_KEY_ATTRIBUTES:
        prefix, dot, bare = attribute.partition(".")
        if not dot or prefix != "business":
            continue
        head, *rest = bare.split("_")
        camel = head + "".join(word.capitalize() for word in rest)
        for spelling in (
            bare,
            camel,
            f"business_{bare}",
            f"business.{camel}",
            "business" + camel[:1].upper() + camel[1:],
        ):
            if spelling != attribute:
                out[spelling] = attribute
    return out


# A span attribute under one of these names carries a record key the journey cannot join on (docs/events.md):
# the span is stored, but no record ever shows it. Counted per attribute and service for ingest health.
NEAR_MISS_ATTRIBUTES: dict[str, str] = _near_misses()
_NEAR_MISS_KEYS = frozenset(NEAR_MISS_ATTRIBUTES)


class TraceDecodeError(ValueError):
    """The body is not an OTLP trace request at all (answered 400 as a whole)."""


class SpanRows:
    """Accepted spans as row dicts in otel_traces column names; timestamps as 'seconds.nanoseconds' text, which
    the engine reads exactly (a bare JSON integer would be taken as seconds)."""

    __slots__ = ("identities", "near_misses", "rejections", "rows")

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.identities: list[tuple[str, str]] = []  # (trace id, span id)
        self.rejections: list[tuple[Rejection, dict[str, Any]]] = []
        # (near-miss attribute, service) -> spans stored with it and without the attribute it misses
        self.near_misses: dict[tuple[str, str], int] = {}

    def _add(
        self,
        window: tuple[int, int],
        trace_id: str,
        span_id: str,
        start: int,
        end: int,
        fields: dict[str, Any],
    ) -> None:
        problem = _span_problem(trace_id, span_id, start, end, window) or _event_times_problem(
            fields["Events.Timestamp"]
        )
        if problem is not None:
            self.rejections.append((problem, {"traceId": trace_id, "spanId": span_id, "name": fields["SpanName"]}))
            return
        attributes = fields["SpanAttributes"]
        # one pass over the keys in C for the usual span, which has none of these names
        if not _NEAR_MISS_KEYS.isdisjoint(attributes):
            self._count_near_misses(attributes, fields["ServiceName"])
        fields["Timestamp"] = _timestamp(start)
        fields["TraceId"] = trace_id
        fields["SpanId"] = span_id
        fields["Duration"] = end - start
        if fields["Events.Timestamp"]:
            fields["Events.Timestamp"] = [_timestamp(t) for t in fields["Events.Timestamp"]]
        self.rows.append(fields)
        self.identities.append((trace_id, span_id))

    def _count_near_misses(self, attributes: dict[str, str], service: str) -> None:
        for name in _NEAR_MISS_KEYS.intersection(attributes):
            if NEAR_MISS_ATTRIBUTES[name] not in attributes:
                key = (name, service)
                self.near_misses[key] = self.near_misses.get(key, 0) + 1

    # -- protobuf ---------------------------------------------------------------------------------------------
    def add_protobuf(self, body: bytes, window: tuple[int, int]) -> None:
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise TraceDecodeError(f"not an OTLP ExportTraceServiceRequest protobuf: {exc}") from exc
        for resource_spans in request.resource_spans:
            resource = _pb_attributes(resource_spans.resource.attributes)
            service = resource.get("service.name", "")
            for scope_spans in resource_spans.scope_spans:
                scope_name, scope_version = scope_spans.scope.name, scope_spans.scope.version
                for span in scope_spans.spans:
                    # Every read of a message field builds a new Python wrapper: read each once, and skip the
                    # list building for the usual span without events or links (measured: 9 of 17 us a span).
                    kind, status, events, links = span.kind, span.status, span.events, span.links
                    code = status.code
                    self._add(
                        window,
                        span.trace_id.hex(),
                        span.span_id.hex(),
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        {
                            "ParentSpanId": span.parent_span_id.hex(),
                            "TraceState": span.trace_state,
                            "SpanName": span.name,
                            "SpanKind": _KINDS[kind] if 0 <= kind < len(_KINDS) else "Unspecified",
                            "ServiceName": service,
                            "ResourceAttributes": resource,
                            "ScopeName": scope_name,
                            "ScopeVersion": scope_version,
                            "SpanAttributes": _pb_attributes(span.attributes),
                            "StatusCode": _STATUS[code] if 0 <= code < 3 else "Unset",
                            "StatusMessage": status.message,
                            "Events.Timestamp": [e.time_unix_nano for e in events] if events else [],
                            "Events.Name": [e.name for e in events] if events else [],
                            "Events.Attributes": [_pb_attributes(e.attributes) for e in events] if events else [],
                            "Links.TraceId": [link.trace_id.hex() for link in links] if links else [],
                            "Links.SpanId": [link.span_id.hex() for link in links] if links else [],
                            "Links.TraceState": [link.trace_state for link in links] if links else [],
                            "Links.Attributes": [_pb_attributes(link.attributes) for link in links] if links else [],
                        },
                    )

    # -- JSON -------------------------------------------------------------------------------------------------
    def add_json(self, body: bytes, window: tuple[int, int]) -> None:
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise TraceDecodeError(f"malformed JSON: {exc}") from exc
        if not isinstance(request, dict):
            raise TraceDecodeError("an OTLP JSON request is an object with resourceSpans")
        for resource_spans in _list(request, "resourceSpans"):
            resource = _json_attributes(_dict(resource_spans, "resource").get("attributes"))
            service = resource.get("service.name", "")
            for scope_spans in _list(resource_spans, "scopeSpans"):
                scope = _dict(scope_spans, "scope")
                for span in _list(scope_spans, "spans"):
                    if not isinstance(span, dict):
                        raise TraceDecodeError("each span must be a JSON object")
                    status = _dict(span, "status")
                    events = [e for e in _list(span, "events") if isinstance(e, dict)]
                    links = [link for link in _list(span, "links") if isinstance(link, dict)]
                    self._add(
                        window,
                        _hex_id(span.get("traceId")),
                        _hex_id(span.get("spanId")),
                        _int(span.get("startTimeUnixNano")),
                        _int(span.get("endTimeUnixNano")),
                        {
                            "ParentSpanId": _hex_id(span.get("parentSpanId")),
                            "TraceState": str(span.get("traceState") or ""),
                            "SpanName": str(span.get("name") or ""),
                            "SpanKind": _KINDS[_enum(span.get("kind"), _JSON_KIND_NAMES, len(_KINDS))],
                            "ServiceName": service,
                            "ResourceAttributes": resource,
                            "ScopeName": str(scope.get("name") or ""),
                            "ScopeVersion": str(scope.get("version") or ""),
                            "SpanAttributes": _json_attributes(span.get("attributes")),
                            "StatusCode": _STATUS[_enum(status.get("code"), _JSON_STATUS_NAMES, 3)],
                            "StatusMessage": str(status.get("message") or ""),
                            "Events.Timestamp": [_int(e.get("timeUnixNano")) for e in events],
                            "Events.Name": [str(e.get("name") or "") for e in events],
                            "Events.Attributes": [_json_attributes(e.get("attributes")) for e in events],
                            "Links.TraceId": [_hex_id(link.get("traceId")) for link in links],
                            "Links.SpanId": [_hex_id(link.get("spanId")) for link in links],
                            "Links.TraceState": [str(link.get("traceState") or "") for link in links],
                            "Links.Attributes": [_json_attributes(link.get("attributes")) for link in links],
                        },
                    )


def _timestamp(nanos: int) -> str:
    return f"{nanos // 1_000_000_000}.{nanos % 1_000_000_000:09d}"


def _span_problem(trace_id: str, span_id: str, start: int, end: int, window: tuple[int, int]) -> Rejection | None:
    if len(trace_id) != 32 or trace_id == "0" * 32:
        return Rejection("invalid_span", "traceId", "must be 16 bytes and not all zero")
    if len(span_id) != 16 or span_id == "0" * 16:
        return Rejection("invalid_span", "spanId", "must be 8 bytes and not all zero")
    if start == 0:
        return Rejection("invalid_span", "startTimeUnixNano", "is missing or zero")
    if end < start:
        return Rejection("invalid_span", "endTimeUnixNano", "ends before it starts")
    if end > DATETIME64_NS_MAX:
        return Rejection("time_out_of_range", "endTimeUnixNano", _BEYOND_DATETIME64)
    if not window[0] <= start <= window[1]:
        if start < window[0]:
            return Rejection(
                "time_out_of_range",
                "startTimeUnixNano",
                "older than the warehouse keeps spans (SYNCWATCH_RETENTION_DAYS): it would be deleted at once",
            )
        return Rejection("time_out_of_range", "startTimeUnixNano", "in the future beyond the allowed clock skew")
    return None


# OTLP times are unsigned (fixed64), so the lower bound is the epoch, not the column's 1900.
_BEYOND_DATETIME64 = "outside 1970-01-01 .. 2262-04-11T23:47:16.854775807Z, the range a DateTime64(9) column holds"


def _event_times_problem(times: list[int]) -> Rejection | None:
    for index, nanos in enumerate(times):
        if not 0 <= nanos <= DATETIME64_NS_MAX:
            return Rejection("time_out_of_range", f"events[{index}].timeUnixNano", _BEYOND_DATETIME64)
    return None


# -- attribute encodings: every value becomes a string, as the ClickHouse exporter's AsString() does ------------
def _pb_value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_pb_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, which)


def _pb_attributes(attributes: Any) -> dict[str, str]:
    out = {}
    for kv in attributes:
        value = kv.value  # a new wrapper on every read
        if value.WhichOneof("value") == "string_value":
            out[kv.key] = value.string_value
        else:
            out[kv.key] = _as_string(_pb_value(value))
    return out


def _json_value(value: Any) -> Any:
    if not isinstance(value, dict) or not value:
        return None
    kind, inner = next(iter(value.items()))
    if kind == "arrayValue":
        return [_json_value(v) for v in _list(inner, "values")]
    if kind == "kvlistValue":
        pairs = [kv for kv in _list(inner, "values") if isinstance(kv, dict)]
        return {str(kv.get("key") or ""): _json_value(kv.get("value")) for kv in pairs}
    if kind == "intValue":
        number = _int(inner)
        if not _INT64[0] <= number <= _INT64[1]:
            raise TraceDecodeError("an intValue attribute must fit in 64 bits")
        return number
    return inner


def _json_attributes(attributes: Any) -> dict[str, str]:
    if not isinstance(attributes, list):
        return {}
    out = {}
    for kv in attributes:
        if isinstance(kv, dict) and isinstance(kv.get("key"), str):
            out[kv["key"]] = _as_string(_json_value(kv.get("value")))
    return out


def _as_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def _hex_id(value: Any) -> str:
    if not value:
        return ""
    if not isinstance(value, str):
        raise TraceDecodeError("trace and span ids must be hex strings in OTLP JSON")
    try:
        return bytes.fromhex(value).hex()
    except ValueError as exc:
        raise TraceDecodeError(f"{value[:40]!r} is not a hex id (OTLP JSON uses hex, not base64)") from exc


def _int(value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise TraceDecodeError("expected an integer, got a boolean")
    if isinstance(value, float):
        # orjson reads an integer past 64 bits as a float; inf or a fraction is no integer at all
        if not value.is_integer():
            raise TraceDecodeError(f"expected an integer, got {value!r}")
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise TraceDecodeError(f"expected an integer (or a decimal string), got {str(value)[:40]!r}") from exc


def _enum(value: Any, names: dict[str, int], size: int) -> int:
    if isinstance(value, str) and value in names:
        return names[value]
    number = _int(value)
    return number if 0 <= number < size else 0


def _list(obj: Any, key: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise TraceDecodeError(f"{key} must be a list")
    return value


def _dict(obj: Any, key: str) -> dict[str, Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}
