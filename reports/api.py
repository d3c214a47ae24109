"""GET /api/v1/reports/weekly/{week} (scope read): the weekly report as JSON, or rendered as HTML or PDF.

The figures come from the metrics stage running in the same collector (its evaluator is the one behind
/api/v1/slis), so a report equals what the API answers for the same window.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response

from metrics.component import MetricsComponent
from reports.render import render_html, render_pdf
from reports.sources import MetricsSources
from reports.weekly import build_weekly
from reports.weeks import parse_week, week_window

__all__ = ["build_router"]

_MEDIA = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


def _sources(request: Request) -> MetricsSources:
    found = [c for c in request.app.state.service.components if isinstance(c, MetricsComponent)]
    if not found:
        raise HTTPException(503, "the metrics stage is not running in this collector")
    return MetricsSources(found[0])


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["reports"])

    @router.get(
        "/reports/weekly/{week}",
        summary="The weekly sync-health report of one ISO week (e.g. 2026-W10), as JSON, HTML or PDF",
        response_model=None,
    )
    async def weekly(
        request: Request,
        week: str,
        format: Literal["json", "html", "pdf"] = Query("json", description="json (the model), html or pdf"),
        tenant: str | None = Query(None, max_length=200, description="One legal entity's figures (by=tenant rows)"),
        firm: str = Query("", max_length=200, description="The firm's name printed on every page"),
    ) -> dict[str, Any] | Response:
        request.app.state.service.auth.require(request, "read")
        try:
            year, number = parse_week(week)
        except ValueError as exc:
            raise HTTPException(422, f"week: {exc}") from exc
        if week_window(year, number).end > datetime.now(UTC):
            raise HTTPException(422, f"week: {week} has not ended yet; its report is complete once it has")
        report = await asyncio.to_thread(build_weekly, _sources(request), year, number, tenant=tenant, firm=firm)
        if format == "json":
            return report
        name = f"syncwatch-weekly-{report['week']}.{format}"
        if format == "html":
            body = render_html(report).encode()
        else:
            body = await asyncio.to_thread(render_pdf, report)
        headers = {"Content-Disposition": f'inline; filename="{name}"'}
        return Response(body, media_type=_MEDIA[format], headers=headers)

    return router
