"""GET /api/v1/reports/weekly/{week} (scope read): the weekly report as JSON, or rendered as HTML or PDF."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response

from reports.render import render_html, render_pdf
from reports.weekly import build_weekly
from reports.weeks import parse_week, week_window

if TYPE_CHECKING:
    from reports.component import ReportsComponent

__all__ = ["build_router"]

_MEDIA = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


def build_router(component: ReportsComponent) -> APIRouter:
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
        report = await asyncio.to_thread(build_weekly, component.sources, year, number, tenant=tenant, firm=firm)
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
