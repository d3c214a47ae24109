"""Read API for SLIs (scope read): values against objectives, stored series, breakdowns and the records behind
a number. Every number the product shows can be drilled to its records.

Answers are bounded whatever the data: breakdowns and records come in pages (`limit`, `offset`, `next_offset`; at
most MAX_PAGE rows a page), and detail maps keyed by data values keep the top `max_label_values` plus `other`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Request

from metrics.bounded import result_rank
from metrics.catalogue import DIMENSIONS
from metrics.coverage import FLOW_OF, REASONS, flow_coverage, unknown_sources
from metrics.query import Db
from metrics.snapshots import read_series
from metrics.windows import Window
from syncwatch import params

if TYPE_CHECKING:
    from metrics.component import MetricsComponent

__all__ = ["MAX_PAGE", "MAX_RECORDS_REACH", "build_router"]

MAX_PAGE = 10_000
# Records are read from the start up to offset + limit (each SLI's query orders them): paging stops this deep.
MAX_RECORDS_REACH = 100_000


def _instant(value: str, field: str) -> datetime:
    return params.instant(value, field)  # bounded to what the warehouse holds: 422 naming the field


def _window(window: str | None, start: str | None, end: str | None) -> Window | None:
    """An explicit window from from/to (reproducible), a rolling one ending now, or None for each SLO's own."""
    try:
        if start or end:
            if not start:
                raise HTTPException(422, "from: required when to is given")
            stop = _instant(end, "to") if end else datetime.now(UTC)
            return Window(_instant(start, "from"), stop)
        if window:
            return Window.rolling(params.duration(window, "window"))
    except ValueError as exc:
        raise HTTPException(422, f"window: {exc}") from exc
    return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_router(component: MetricsComponent) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["slis"])

    def _check(request: Request, name: str | None = None) -> None:
        request.app.state.service.auth.require(request, "read")
        if name is not None and name not in component.evaluator.registry:
            known = ", ".join(component.evaluator.registry)
            raise HTTPException(404, f"unknown SLI {name!r}; known: {known}")

    WindowQ = Query(None, description="Rolling window ending now, e.g. 30d, 7d, 6h (default: each SLO's window)")
    FromQ = Query(None, alias="from", description="Window start, ISO 8601 (with `to`: a reproducible window)")
    ToQ = Query(None, alias="to", description="Window end, ISO 8601 (default: now)")

    @router.get("/slis", summary="Every SLI: value, objective, status, error budget and burn rates")
    async def slis(request: Request, window: str | None = WindowQ, start: str | None = FromQ,
                   end: str | None = ToQ) -> dict[str, Any]:  # fmt: skip
        _check(request)
        explicit = _window(window, start, end)
        fresh = component.fresh_snapshot() if explicit is None else None
        if fresh is not None:  # the SLO windows as of the last snapshot (at most two intervals old): no rescan
            overall = fresh.overall
        else:
            results = await asyncio.to_thread(component.evaluate, explicit, None)
            overall = {name: r[""] for name, r in results.items() if "" in r}
        items = [r.as_json() for r in overall.values()]
        first = next(iter(overall.values()), None)
        return {
            "as_of": _iso(first.window.end) if first else _iso(datetime.now(UTC)),
            "from": _iso(explicit.start) if explicit else None,
            "to": _iso(explicit.end) if explicit else None,
            "slis": items,
        }

    @router.get("/coverage", summary="What each SLI, flow and source could not see, and how much it is worth")
    async def coverage(request: Request, window: str | None = WindowQ, start: str | None = FromQ,
                       end: str | None = ToQ) -> dict[str, Any]:  # fmt: skip
        _check(request)
        explicit = _window(window, start, end)
        fresh = component.fresh_snapshot() if explicit is None else None
        if fresh is not None:
            overall = fresh.overall
        else:
            results = await asyncio.to_thread(component.evaluate, explicit, None)
            overall = {name: r[""] for name, r in results.items() if "" in r}
        registry = component.evaluator.registry
        slis: list[dict[str, Any]] = [
            {"name": r.name, "title": r.title, "status": r.status, "flow": registry[r.name].definition.flow
             or FLOW_OF.get(r.name, ""), "coverage": r.coverage}
            for r in overall.values() if r.coverage is not None
        ]  # fmt: skip
        span = explicit or next((r.window for r in overall.values()), None) or Window.rolling(timedelta(days=30))
        sources = await asyncio.to_thread(component.with_client, lambda c: unknown_sources(Db(c), span))
        return {
            "from": _iso(span.start),
            "to": _iso(span.end),
            "partial_above": component.evaluator.config.partial_above,
            "reasons": REASONS,
            "slis": slis,
            "flows": flow_coverage({s["name"]: (s["flow"], s["coverage"]) for s in slis}),
            "sources": sources,
        }

    @router.get("/coverage/sources", summary="Sources whose events named no system, over a recent window")
    async def coverage_sources(request: Request, window: str = Query("24h", description="e.g. 1h, 24h, 7d"),
                               limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:  # fmt: skip
        _check(request)
        span = _window(window, None, None)
        if span is None:
            raise HTTPException(422, "window: required, a duration such as 1h, 24h or 7d")
        sources = await asyncio.to_thread(component.with_client, lambda c: unknown_sources(Db(c), span, limit))
        return {"from": _iso(span.start), "to": _iso(span.end), "sources": sources}

    @router.get("/slis/{name}/series", summary="Stored values of one SLI over time (from snapshots)")
    async def series(request: Request, name: str, start: str | None = FromQ, end: str | None = ToQ,
                     points: int = Query(500, ge=2, le=5000)) -> dict[str, Any]:  # fmt: skip
        _check(request, name)
        stop = _instant(end, "to") if end else datetime.now(UTC)
        begin = _instant(start, "from") if start else stop - timedelta(days=7)
        rows = await asyncio.to_thread(component.with_client, lambda c: read_series(c, name, begin, stop, points))
        unit = component.evaluator.registry[name].definition.unit
        return {"name": name, "unit": unit, "from": _iso(begin), "to": _iso(stop), "points": rows}

    @router.get("/slis/{name}/breakdown", summary="One SLI per flow, system, tenant, project or customer")
    async def breakdown(request: Request, name: str, by: str = Query(..., description=", ".join(DIMENSIONS)),
                        window: str | None = WindowQ, start: str | None = FromQ, end: str | None = ToQ,
                        limit: int = Query(1000, ge=1, le=MAX_PAGE, description="Rows in this page"),
                        offset: int = Query(0, ge=0, description="Rows to skip (next_offset of the last page)"),
                        ) -> dict[str, Any]:  # fmt: skip
        _check(request, name)
        supported = component.evaluator.registry[name].definition.dimensions
        if by not in supported:
            raise HTTPException(422, f"by: {name} breaks down by {', '.join(supported)}, not {by!r}")
        results = await asyncio.to_thread(component.evaluate, _window(window, start, end), by, [name])
        # Worst first (breach, most bad events, worst value), ties by key: the first page is the one to read.
        ranked = sorted(results.get(name, {}).items(), key=lambda item: (result_rank(item[1]), item[0]))
        rows = [
            {"key": key, "value": r.value, "good": r.good, "total": r.total, "status": r.status,
             "details": r.details}
            for key, r in ranked[offset : offset + limit]
        ]  # fmt: skip
        following = offset + limit if offset + limit < len(ranked) else None
        return {"name": name, "by": by, "total": len(ranked), "offset": offset, "limit": limit,
                "next_offset": following, "rows": rows}  # fmt: skip

    @router.get("/slis/{name}/records", summary="The records behind the number, with age and money at risk")
    async def records(request: Request, name: str, limit: int = Query(100, ge=1, le=MAX_PAGE),
                      offset: int = Query(0, ge=0, description="Records to skip (next_offset of the last page)"),
                      window: str | None = WindowQ, start: str | None = FromQ,
                      end: str | None = ToQ) -> dict[str, Any]:  # fmt: skip
        _check(request, name)
        if offset + limit > MAX_RECORDS_REACH:
            raise HTTPException(422, f"offset + limit: at most {MAX_RECORDS_REACH:,} records are listed")
        sli = component.evaluator.registry[name]
        explicit = _window(window, start, end) or component.evaluator.window_for(sli.definition, datetime.now(UTC))
        # One more than the page tells whether another page follows.
        reach = offset + limit + 1
        found = await asyncio.to_thread(component.with_client, lambda c: sli.records(Db(c), explicit, reach))
        rows = found[offset : offset + limit]
        for row in rows:
            if row.get("amount") is not None:
                row["amount"] = float(row["amount"])
        following = offset + limit if len(found) > offset + limit and offset + limit < MAX_RECORDS_REACH else None
        return {"name": name, "from": _iso(explicit.start), "to": _iso(explicit.end), "offset": offset,
                "limit": limit, "next_offset": following, "records": rows}  # fmt: skip

    return router
