"""POST /v1/events (CloudEvents structured, binary, batch) and POST /v1/traces (OTLP/HTTP protobuf and JSON).

Event batch answers (documented in docs/events.md):
    200  every event accepted or a duplicate of one already stored
    207  some rejected: {"accepted", "duplicates", "rejected",
                         "results": [{index, id, status, reason?, field?, detail?}]}
    422  every event rejected (nothing stored); single events: 422 with the reason
    400  the body is not JSON / not UTF-8 / a batch that is not a list; 413 too large; 415 wrong media type
    429  over the token's rate limit; 503 queue full or warehouse and spool unavailable (both with Retry-After)
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, HTTPException, Request, Response
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from collector.bodies import media_type, read_body
from collector.dedup import DedupIndex
from collector.parsing import parse_events, parse_spans
from collector.rejections import Rejection, refused_by_warehouse
from collector.service import Service
from collector.writer import QueueFull, Refused, WriteFailed

__all__ = ["router"]

router = APIRouter()

_STRUCTURED = "application/cloudevents+json"
_BATCH = "application/cloudevents-batch+json"
_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"
_RETRY_AFTER_S = "2"


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=_JSON, headers=headers)


async def _store(
    service: Service,
    signal: str,
    table: str,
    rows: list[bytes],
    identities: list[tuple[str, str]],
    dedup: DedupIndex,
    quarantined: list[tuple[Rejection, bytes]],
    token: str,
) -> tuple[set[int], dict[int, Rejection]]:
    """Write accepted rows (minus duplicates) and quarantined items; return the positions in `rows` that were
    duplicates, and those the warehouse refused (quarantined by the writer) with why.

    Returns only once everything is durable; raises HTTPException(503) when it cannot be made so.
    """
    keys = [hash(identity) for identity in identities]
    new, waits = dedup.classify(keys)
    duplicates: set[int] = set()
    if len(new) < len(keys):
        wanted = set(new)
        duplicates = {i for i in range(len(keys)) if i not in wanted}
        rows = [rows[i] for i in new]
    futures: list[asyncio.Future[Any]] = []
    stored: asyncio.Future[Refused] | None = None
    try:
        if quarantined:
            futures.append(service.writers["quarantine"].enqueue(service.quarantine_rows(signal, token, quarantined)))
        if new:
            stored = service.writers[table].enqueue(rows)
            new_keys = [keys[i] for i in new]
            dedup.reserve(new_keys, stored)
            stored.add_done_callback(lambda f: _settle(dedup, new_keys, f))
            futures.append(stored)
    except QueueFull as exc:
        service.metrics.throttled.labels("queue_full").inc()
        raise HTTPException(
            503, f"ingest queue is full ({exc}); retry later", headers={"Retry-After": _RETRY_AFTER_S}
        ) from exc
    try:
        await asyncio.gather(*futures, *waits)
    except WriteFailed as exc:
        raise HTTPException(
            503, "warehouse and spool both unavailable; nothing was stored", headers={"Retry-After": _RETRY_AFTER_S}
        ) from exc
    refused = {
        new[position]: refused_by_warehouse(message)
        for position, message in (stored.result() if stored is not None else [])
    }
    metrics = service.metrics
    metrics.received.labels(signal).inc(len(keys) + len(quarantined))
    metrics.accepted.labels(signal).inc(len(new) - len(refused))
    if duplicates:
        metrics.deduplicated.labels(signal).inc(len(duplicates))
    for rejection, _ in quarantined:
        metrics.rejected.labels(signal, rejection.reason).inc()
    if refused:
        metrics.rejected.labels(signal, "refused_by_warehouse").inc(len(refused))
    return duplicates, refused


def _settle(dedup: DedupIndex, keys: list[int], stored: asyncio.Future[Refused]) -> None:
    """Rows stored are durable for de-duplication; refused ones are not (a corrected resend must be taken)."""
    if stored.cancelled() or stored.exception() is not None:
        dedup.settle(keys, durable=False)
        return
    refused = {position for position, _ in stored.result()}
    if refused:
        dedup.settle([k for i, k in enumerate(keys) if i in refused], durable=False)
        keys = [k for i, k in enumerate(keys) if i not in refused]
    dedup.settle(keys, durable=True)


# -- CloudEvents ---------------------------------------------------------------------------------------------
@router.post("/v1/events", tags=["ingest"], summary="CloudEvents 1.0: structured, binary or batch")
async def ingest_events(request: Request) -> Response:
    service = _service(request)
    token = service.auth.require(request, "ingest").name
    kind = media_type(request)
    is_binary = "ce-specversion" in request.headers and kind not in (_STRUCTURED, _BATCH)
    if kind not in (_STRUCTURED, _BATCH) and not is_binary:
        raise HTTPException(
            415,
            f"Content-Type {kind or '(none)'!r} is not a CloudEvents mode: use {_STRUCTURED}, {_BATCH}, "
            "or binary mode with ce-* headers",
        )
    body = await read_body(request, service.settings.max_body_bytes)
    received_us = time.time_ns() // 1000
    single = kind != _BATCH
    if is_binary:
        parsed = parse_events(None, False, _binary_event(request, body), service.rules, received_us, token)
    else:
        parsed = await service.parse(len(body), parse_events, body, not single, None, service.rules, received_us, token)
    if parsed.body_error is not None:
        await _store(service, "event", "quarantine", [], [], service.event_dedup, [(parsed.body_error, body)], token)
        raise HTTPException(400, parsed.body_error.message())

    quarantined = [(rejection, raw) for _, rejection, raw in parsed.rejected]
    duplicates, refused = await _store(
        service, "event", "events", parsed.rows, parsed.identities, service.event_dedup, quarantined, token
    )
    rejected_index = [(index, rejection) for index, rejection, _ in parsed.rejected]
    rejected_index += [(parsed.accepted_index[position], rejection) for position, rejection in refused.items()]
    if parsed.unknown_index:
        service.metrics.unknown_types.inc(len(parsed.unknown_index))

    results: list[dict[str, Any]] = [{}] * parsed.total
    ids = parsed.ids
    for position, index in enumerate(parsed.accepted_index):
        results[index] = {
            "index": index,
            "id": ids[index],
            "status": "duplicate" if position in duplicates else "accepted",
        }
    for index in parsed.unknown_index:
        results[index]["warning"] = "unknown_type: stored and flagged, not validated against the catalogue"
    for index, rejection in rejected_index:
        results[index] = {"index": index, "id": ids[index], "status": "rejected", **rejection.as_dict()}

    if single:
        only = results[0]
        return _json(only, 422 if only["status"] == "rejected" else 200)
    rejected = len(rejected_index)
    code = 200 if not rejected else (422 if rejected == parsed.total else 207)
    return _json(
        {
            "accepted": len(parsed.rows) - len(duplicates) - len(refused),
            "duplicates": len(duplicates),
            "rejected": rejected,
            "results": results,
        },
        code,
    )


def _binary_event(request: Request, body: bytes) -> dict[str, Any]:
    """Binary mode: attributes from ce-* headers (percent-decoded), Content-Type -> datacontenttype, body -> data."""
    event: dict[str, Any] = {}
    for name, value in request.headers.items():
        if name.startswith("ce-") and len(name) > 3:
            event[name[3:]] = unquote(value)
    kind = request.headers.get("content-type")
    if kind:
        event["datacontenttype"] = kind
    if body:
        if kind is None or "json" in kind.lower():
            try:
                event["data"] = orjson.loads(body)
            except orjson.JSONDecodeError:
                event["data_base64"] = base64.b64encode(body).decode()
                event["datacontenttype"] = kind or _JSON
        else:
            event["data_base64"] = base64.b64encode(body).decode()
    return event


# -- OTLP traces -----------------------------------------------------------------------------------------------
@router.post("/v1/traces", tags=["ingest"], summary="OTLP/HTTP traces, protobuf or JSON, optionally gzip")
async def ingest_traces(request: Request) -> Response:
    service = _service(request)
    kind = media_type(request)
    answer_json = kind == _JSON
    try:
        token = service.auth.require(request, "ingest").name
        if kind not in (_PROTOBUF, _JSON):
            raise HTTPException(415, f"Content-Type {kind or '(none)'!r}: OTLP/HTTP takes {_PROTOBUF} or {_JSON}")
        body = await read_body(request, service.settings.max_body_bytes)
        now_ns = time.time_ns()
        window = (
            now_ns - service.settings.accepted_age_days * 86_400 * 10**9,
            now_ns + service.settings.max_future_skew_seconds * 10**9,
        )
        spans = await service.parse(len(body), parse_spans, body, answer_json, window)
        if spans.body_error is not None:
            rejection = Rejection("undecodable", "", spans.body_error)
            await _store(service, "span", "quarantine", [], [], service.span_dedup, [(rejection, body)], token)
            raise HTTPException(400, spans.body_error)
        _, refused = await _store(
            service, "span", "otel_traces", spans.rows, spans.identities, service.span_dedup, spans.rejected, token
        )
        if spans.near_misses:
            service.metrics.count_near_misses(spans.near_misses)
    except HTTPException as exc:
        return _otlp_error(exc, answer_json)

    rejections = [rejection for rejection, _ in spans.rejected] + list(refused.values())
    rejected = len(rejections)
    message = ""
    if rejected:
        message = f"{rejected} span(s) rejected; first: {rejections[0].message()}"
    if answer_json:
        payload = {"partialSuccess": {"rejectedSpans": rejected, "errorMessage": message}} if rejected else {}
        return _json(payload)
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return Response(response.SerializeToString(), media_type=_PROTOBUF)


@router.post("/v1/logs", tags=["ingest"], summary="OTLP logs: not taken (answered 404 with what is)")
@router.post("/v1/metrics", tags=["ingest"], summary="OTLP metrics: not taken (answered 404 with what is)")
async def other_otlp_signals(request: Request) -> Response:
    """An OTLP exporter pointed at the collector for every signal hears, in its own encoding and without a retry
    (404 is not retryable in OTLP/HTTP), that only traces are taken, rather than a bare "Not Found"."""
    service = _service(request)
    signal = request.url.path.rsplit("/", 1)[-1]
    try:
        service.auth.require(request, "ingest")
        raise HTTPException(
            404,
            f"this collector does not take OTLP {signal}: it takes OTLP traces on POST /v1/traces and business "
            "events as CloudEvents on POST /v1/events",
        )
    except HTTPException as exc:
        return _otlp_error(exc, media_type(request) == _JSON)


_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 12, 413: 8, 415: 3, 429: 8, 503: 14}


def _otlp_error(exc: HTTPException, answer_json: bool) -> Response:
    """OTLP answers failures with a google.rpc.Status in the request's encoding."""
    code = _GRPC_CODES.get(exc.status_code, 2)
    headers = dict(exc.headers or {})
    if answer_json:
        return _json({"code": code, "message": str(exc.detail)}, exc.status_code, headers)
    status = Status(code=code, message=str(exc.detail))
    return Response(status.SerializeToString(), status_code=exc.status_code, media_type=_PROTOBUF, headers=headers)
