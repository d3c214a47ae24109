"""Read API (scope read): the journey of one business record, and the quarantine."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request

from collector.service import Service
from syncwatch import params
from syncwatch.vocabulary import BUSINESS_KEY_KINDS

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["read"])

_KINDS = tuple(BUSINESS_KEY_KINDS)

# Rows of record_keys for the key, then the events and spans themselves through their own sorting keys, plus
# every span of the traces those events belong to (the hop that carried them).
_EVENTS_SQL = """
SELECT time, canonical_type, type, known_type, source, id, subject, source_system, target_system, tenant_id,
       correlation_id, causation_id, trace_id, parent_span_id, data, received_at
FROM events FINAL
WHERE (canonical_type, time, source, id) IN (
    SELECT event_type, toDateTime64(time, 6, 'UTC'), event_source, event_id FROM record_keys
    WHERE key IN {keys:Array(String)} AND signal = 'event' AND ({kind:String} = '' OR kind = {kind:String}))
ORDER BY time, received_at
LIMIT {limit:UInt32}
"""
_SPANS_SQL = """
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


_HEX_ID = re.compile(r"[0-9a-fA-F]{16}(?:[0-9a-fA-F]{16})?\Z")


def _spellings(key: str) -> list[str]:
    """The key as given, and for a trace or span id (32 or 16 hex digits) the lower case the warehouse stores:
    OTLP and W3C trace context compare hex ids without regard to case."""
    return sorted({key, key.lower()}) if _HEX_ID.match(key) else [key]


def _data(text: str) -> Any:
    """Stored data is the JSON text the source sent; a non-JSON payload (data_base64 of text) comes back as-is."""
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat().replace("+00:00", "Z")


@router.get("/whoami", summary="The calling token's name and scopes (how the console checks a token login)")
async def whoami(request: Request) -> dict[str, Any]:
    service: Service = request.app.state.service
    token = service.auth.require(request, "read")
    return {"name": token.name, "scopes": list(token.scopes)}


# {key:path}: business keys may hold "/" (ERP document numbers like INV/2026/0042); a plain {key} made those
# answer the router's 404, which the console reads as "this stage is not deployed".
@router.get(
    "/records/{key:path}",
    summary="Every event and span about one business key, in time order (found: false when nothing matches)",
)
async def record_journey(
    request: Request,
    key: str,
    kind: str = Query("", description=f"restrict to one key kind: {', '.join(_KINDS)}"),
    limit: int = Query(1000, ge=1, le=10000),
) -> dict[str, Any]:
    service: Service = request.app.state.service
    service.auth.require(request, "read")
    if kind and kind not in _KINDS:
        raise HTTPException(422, f"kind must be one of {', '.join(_KINDS)}")
    return await asyncio.to_thread(_journey, service, key, kind, limit)


def _journey(service: Service, key: str, kind: str, limit: int) -> dict[str, Any]:
    assert service.reader is not None
    client = service.reader
    params = {"keys": _spellings(key), "kind": kind, "limit": limit}
    event_rows = client.query(_EVENTS_SQL, parameters=params).result_rows
    trace_ids = sorted({r[12] for r in event_rows if r[12]})
    span_rows = client.query(_SPANS_SQL, parameters={**params, "trace_ids": trace_ids}).result_rows
    items: list[dict[str, Any]] = []
    for r in event_rows:
        items.append(
            {
                "at": _iso(r[0]),
                "signal": "event",
                "type": r[1],
                "received_type": r[2],
                "known_type": bool(r[3]),
                "source": r[4],
                "id": r[5],
                "subject": r[6],
                "source_system": r[7],
                "target_system": r[8],
                "tenant": r[9],
                "correlation_id": r[10],
                "causation_id": r[11],
                "trace_id": r[12],
                "parent_span_id": r[13],
                "data": _data(r[14]),
                "received_at": _iso(r[15]),
            }
        )
    for r in span_rows:
        items.append(
            {
                "at": _iso(r[0]),
                "signal": "span",
                "trace_id": r[1],
                "span_id": r[2],
                "parent_span_id": r[3],
                "name": r[4],
                "kind": r[5],
                "service": r[6],
                "duration_ms": r[7] / 1e6,
                "status": r[8],
                "status_message": r[9],
                "attributes": r[10],
            }
        )
    items.sort(key=lambda item: (item["at"], item["signal"]))
    events = [i for i in items if i["signal"] == "event"]
    return {
        "key": key,
        "kind": kind or None,
        "found": bool(items),
        "summary": {
            "events": len(events),
            "spans": len(items) - len(events),
            "first_seen": items[0]["at"] if items else None,
            "last_seen": items[-1]["at"] if items else None,
            "last_event_type": events[-1]["type"] if events else None,
            "systems": sorted({s for e in events for s in (e["source_system"], e["target_system"]) if s}),
            "errors": sum(1 for i in items if i.get("status") == "Error" or str(i.get("type", "")).endswith("failed")),
        },
        "items": items,
    }


@router.get("/quarantine", summary="Recent rejections with their reasons and payloads")
async def quarantine(
    request: Request,
    limit: int = Query(100, ge=1, le=1000),
    reason: str = Query("", description="only this reason code"),
    signal: str = Query("", description="event or span"),
    since: str | None = Query(
        None, description="only rejections received at or after this instant (RFC 3339) or this long ago (e.g. 7d)"
    ),
) -> dict[str, Any]:
    service: Service = request.app.state.service
    service.auth.require(request, "read")
    start = params.instant_or_ago(since, "since") if since else None
    return await asyncio.to_thread(_quarantine, service, limit, reason, signal, start)


def _quarantine(service: Service, limit: int, reason: str, signal: str, since: datetime | None) -> dict[str, Any]:
    assert service.reader is not None
    start = since or datetime(1970, 1, 1, tzinfo=UTC)
    params = {"limit": limit, "reason": reason, "signal": signal, "since": start.astimezone(UTC).replace(tzinfo=None)}
    where = (
        "({reason:String} = '' OR reason = {reason:String}) AND ({signal:String} = '' OR signal = {signal:String}) "
        "AND received_at >= {since:DateTime64(3)}"
    )
    rows = service.reader.query(
        f"SELECT received_at, signal, token_name, reason, field, detail, source, id, payload, payload_truncated "
        f"FROM quarantine WHERE {where} ORDER BY received_at DESC LIMIT {{limit:UInt32}}",
        parameters=params,
    ).result_rows
    counts = service.reader.query(
        f"SELECT reason, count() FROM quarantine WHERE {where} GROUP BY reason ORDER BY count() DESC", parameters=params
    ).result_rows
    names = (
        "received_at",
        "signal",
        "token",
        "reason",
        "field",
        "detail",
        "source",
        "id",
        "payload",
        "payload_truncated",
    )
    items = []
    for row in rows:
        item = dict(zip(names, row, strict=True))
        item["received_at"] = _iso(row[0])
        items.append(item)
    return {"counts_by_reason": {r: int(n) for r, n in counts}, "items": items}
