"""Read API (scope read): the journey of one business record, and the quarantine."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from fastapi import APIRouter, HTTPException, Query, Request

from collector.service import Service
from syncwatch import params
from syncwatch.vocabulary import BUSINESS_KEY_KINDS

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["read"])

_KINDS = tuple(BUSINESS_KEY_KINDS)

# A record's timeline in bounded reads. The index (record_keys, sorted by key) names every event and span about the
# key with its time, and then every span of the traces the shown events belong to (the hop that carried them). The
# events and spans themselves are then read by their own sorting keys between the times the index gave, so the
# engine prunes partitions and granules to the few that hold them; a key the index does not know costs one read.
# Spans are de-duplicated by LIMIT 1 BY their sorting key rather than FINAL: FINAL turns off partition and min-max
# pruning on Timestamp, which is not itself in that key (docs/benchmarks.md#record-lookup).
_INDEX_SQL = """
SELECT signal, event_type, toDateTime64(time, 6, 'UTC'), event_source, event_id, service_name, span_name,
       toUnixTimestamp(time), toUnixTimestamp64Nano(time), trace_id, span_id
FROM record_keys
WHERE key IN {keys:Array(String)} AND ({kind:String} = '' OR kind = {kind:String})
"""
# Given as values, not as a subquery: the subquery's set was not used to skip granules (810 against 160 ms for a
# project of 1,000 traces at 5 M spans).
_TRACE_SPANS_SQL = """
SELECT service_name, span_name, toUnixTimestamp(time), trace_id, span_id, toUnixTimestamp64Nano(time)
FROM record_keys
WHERE key IN {traces:Array(String)} AND signal = 'span' AND kind = 'trace'
"""
_EVENTS_SQL = """
SELECT time, canonical_type, type, known_type, source, id, subject, source_system, target_system, tenant_id,
       correlation_id, causation_id, trace_id, parent_span_id, data, received_at, toUnixTimestamp64Micro(time)
FROM events FINAL
WHERE time BETWEEN {first:DateTime64(6, 'UTC')} AND {last:DateTime64(6, 'UTC')}
  AND (canonical_type, time, source, id) IN {events:Array(Tuple(String, DateTime64(6, 'UTC'), String, String))}
ORDER BY time, received_at, source, id
LIMIT {limit:UInt32}
"""
_SPANS_SQL = """
SELECT Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, Duration, StatusCode,
       StatusMessage, SpanAttributes, toUnixTimestamp64Nano(Timestamp)
FROM otel_traces
WHERE Timestamp >= toDateTime64({first:UInt32}, 9) AND Timestamp < toDateTime64({last:UInt32} + 1, 9)
  AND (ServiceName, SpanName, toDateTime(Timestamp), TraceId, SpanId)
      IN {spans:Array(Tuple(String, String, DateTime, String, String))}
ORDER BY Timestamp, TraceId, SpanId
LIMIT 1 BY ServiceName, SpanName, toDateTime(Timestamp), TraceId, SpanId
LIMIT {limit:UInt32}
"""


_HEX_ID = re.compile(r"[0-9a-fA-F]{16}(?:[0-9a-fA-F]{16})?\Z")


def _spellings(key: str) -> list[str]:
    """The key as given, and for a trace or span id (32 or 16 hex digits) the lower case the warehouse stores:
    OTLP and W3C trace context compare hex ids without regard to case."""
    return sorted({key, key.lower()}) if _HEX_ID.match(key) else [key]


Keys = dict[tuple[Any, ...], int]  # a row's sorting key -> its time as an integer (µs for events, ns for spans)


class _Position(NamedTuple):
    """Where a page of one signal ends: its last time, and how many rows at that time were shown."""

    time: int
    shown: int


def _cursor(events: _Position | None, spans: _Position | None) -> str | None:
    """`next`: opaque to clients; a signal left out is finished (None: the record's last page)."""
    if events is None and spans is None:
        return None
    return ",".join(f"{name}{p.time}.{p.shown}" for name, p in (("e", events), ("s", spans)) if p is not None)


def _parse_cursor(text: str) -> tuple[_Position, _Position]:
    """(events, spans) after which a page starts. Raises ValueError."""
    if not text:
        return _START, _START
    found: dict[str, _Position] = {}
    for part in text.split(","):
        time, shown = part[1:].split(".")
        if part[:1] not in ("e", "s") or part[:1] in found or int(time) < 0 or int(shown) < 0:
            raise ValueError(text)
        found[part[:1]] = _Position(int(time), int(shown))
    return found.get("e", _DONE), found.get("s", _DONE)


_START = _Position(0, 0)
_DONE = _Position(2**63 - 1, 0)  # a finished signal: nothing is after it


def _page(
    client: Any, sql: str, name: str, keys: Keys, at: int, after: _Position, limit: int, extra: Keys | None = None
) -> tuple[list[tuple[Any, ...]], _Position | None]:
    """One page of the rows of `keys` after `after`, and where the next page starts (None after the last row).

    Only the keys of the first `limit` rows are read (with every key tied with the last of them, since rows of one
    time are ordered only once read), between their first and last time (key[at]). The index can outlive a row
    (spans are dropped by the day, the index by the month): when that leaves the page short, the keys left out
    are read too. Each row ends with its time as an integer, as in `keys`. The `extra` keys (the spans of the
    traces of a page's events) are read whole with the page, outside its count; their rows come first."""
    ordered = sorted((t, k) for k, t in keys.items() if t >= after.time)
    want = limit + after.shown
    cut = min(want + 1, len(ordered))
    while 0 < cut < len(ordered) and ordered[cut][0] == ordered[cut - 1][0]:
        cut += 1
    added = sorted((t, k) for k, t in (extra or {}).items())
    ids = {(k[3], k[4]) for _, k in added}
    rows: list[tuple[Any, ...]] = []
    page: list[tuple[Any, ...]] = []
    for batch in (ordered[:cut], ordered) if cut < len(ordered) else (ordered,):
        if batch or added:
            both = sorted(batch + added)
            bounds = {"first": both[0][1][at], "last": both[-1][1][at], name: [k for _, k in both]}
            rows = client.query(sql, parameters={**bounds, "limit": want + 1 + len(added)}).result_rows
            page = [r for r in rows if (r[1], r[2]) in ids]
            rows = [r for r in rows if (r[1], r[2]) not in ids] if ids else rows
        if len(rows) > want:
            break
    more = len(rows) > want or len(batch) < len(ordered)
    skip, kept, consumed = after.shown, 0, 0
    for row in rows:
        if row[-1] == after.time and skip:
            skip -= 1
        elif kept < limit:
            page.append(row)
            kept += 1
        else:
            break
        consumed += 1
    if not more or not kept:
        return page, None
    last = rows[consumed - 1][-1]
    return page, _Position(last, sum(1 for r in rows[:consumed] if r[-1] == last))


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
    limit: int = Query(1000, ge=1, le=10000, description="at most this many events and this many spans"),
    after: str = Query("", description="the `next` of the previous page; empty for the first page"),
) -> dict[str, Any]:
    service: Service = request.app.state.service
    service.auth.require(request, "read")
    if kind and kind not in _KINDS:
        raise HTTPException(422, f"kind must be one of {', '.join(_KINDS)}")
    try:
        _parse_cursor(after)
    except ValueError:
        raise HTTPException(422, "after must be the `next` of a previous page") from None
    return await asyncio.to_thread(_journey, service, key, kind, limit, after)


def _journey(service: Service, key: str, kind: str, limit: int, after: str = "") -> dict[str, Any]:
    assert service.reader is not None
    client = service.reader
    events_after, spans_after = _parse_cursor(after)
    index = client.query(_INDEX_SQL, parameters={"keys": _spellings(key), "kind": kind}).result_rows
    event_keys = {(r[1], r[2], r[3], r[4]): r[8] // 1000 for r in index if r[0] == "event"}
    event_rows, events_next = _page(client, _EVENTS_SQL, "events", event_keys, 1, events_after, limit)
    # The spans of a trace go with the page of the first of its events; the record's own spans follow their order.
    earlier = {r[9] for r in index if r[0] == "event" and r[8] // 1000 < events_after.time}
    traces = sorted({r[12] for r in event_rows if r[12]} - earlier)
    span_keys = {(r[5], r[6], r[7], r[9], r[10]): r[8] for r in index if r[0] == "span"}
    extra: Keys = {}
    if traces:
        for r in client.query(_TRACE_SPANS_SQL, parameters={"traces": traces}).result_rows:
            if tuple(r[:5]) not in span_keys:
                extra[tuple(r[:5])] = r[5]
    span_rows, spans_next = _page(client, _SPANS_SQL, "spans", span_keys, 2, spans_after, limit, extra)
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
        "next": _cursor(events_next, spans_next),
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
