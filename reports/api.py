"""The weekly report's routes (scope read):

    GET /api/v1/reports/weekly                  the archive: week, tenant, generated_at, version, deliveries, links
    GET /api/v1/reports/weekly/{week}           one week's report as JSON, HTML or PDF: the archived copy when there
                                                is one (?fresh=true computes it again), else computed now
    GET /api/v1/reports/weekly/{week}/archived  the archived copy whole: model, PDF (base64), deliveries; for the
                                                console, which reads JSON only
    POST /api/v1/reports/weekly/{week}/run      (scope admin) what the schedule does, for one week: archive the
                                                reports not archived yet (?rebuild=true: all again) and deliver

The figures come from the metrics stage running in the same collector (its evaluator is the one behind
/api/v1/slis), so a report equals what the API answers for the same window.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response

from metrics.component import MetricsComponent
from reports import archive
from reports.archive import Archived, DeliveryState
from reports.delivery import report_link
from reports.render import render_html, render_pdf
from reports.sources import MetricsSources
from reports.weekly import build_weekly
from reports.weeks import parse_week, week_label, week_window

if TYPE_CHECKING:
    from collector.service import Service
    from reports.component import ReportsComponent

__all__ = ["build_router", "delivery_status", "metrics_sources"]

_MEDIA = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}
TenantQuery = Query(None, max_length=200, description="One legal entity's report (default: all tenants)")


def metrics_sources(service: Service) -> MetricsSources:
    found = [c for c in service.components if isinstance(c, MetricsComponent)]
    if not found:
        raise HTTPException(503, "the metrics stage is not running in this collector")
    return MetricsSources(found[0])


def delivery_status(states: list[DeliveryState]) -> str:
    """One word for a report's deliveries: none (no receiver), failed, pending (a retry is due), delivered."""
    statuses = {s.status for s in states}
    for word in ("failed", "pending", "delivered"):
        if word in statuses:
            return word
    return "none"


def _week(text: str) -> str:
    try:
        year, number = parse_week(text)
    except ValueError as exc:
        raise HTTPException(422, f"week: {exc}") from exc
    if week_window(year, number).end > datetime.now(UTC):
        raise HTTPException(422, f"week: {text} has not ended yet; its report is complete once it has")
    return week_label(year, number)


def _entry(found: Archived, states: list[DeliveryState], base: str) -> dict[str, Any]:
    mine = [s for s in states if s.week == found.week and s.tenant == found.tenant]
    return {
        **found.summary(),
        "delivery_status": delivery_status(mine),
        "deliveries": [s.as_json() for s in mine],
        "links": {fmt: report_link(base, found.week, found.tenant, fmt) for fmt in ("json", "html", "pdf")},
    }


def build_router(component: ReportsComponent, lifespan: Any = None) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["reports"], lifespan=lifespan)

    @router.get("/reports/weekly", summary="The archived weekly reports, newest first, with their deliveries")
    async def archived_reports(
        request: Request,
        tenant: str | None = Query(None, max_length=200, description="Only this legal entity's; all: all tenants'"),
        limit: int = Query(52, ge=1, le=520, description="At most this many reports"),
    ) -> dict[str, Any]:
        request.app.state.service.auth.require(request, "read")
        key = None if tenant is None else ("" if tenant == "all" else tenant)
        found = await asyncio.to_thread(component.with_client, lambda c: archive.list_reports(c, tenant=key,
                                                                                          limit=limit))  # fmt: skip
        weeks = sorted({f.week for f in found})
        states = await asyncio.to_thread(component.with_client, lambda c: archive.deliveries(c, weeks=weeks))
        base = str(request.base_url).rstrip("/")
        return {"reports": [_entry(f, states, base) for f in found]}

    @router.get(
        "/reports/weekly/{week}/archived",
        summary="The archived copy of one week's report: its model, its PDF (base64) and its deliveries",
    )
    async def archived_copy(request: Request, week: str, tenant: str | None = TenantQuery) -> dict[str, Any]:
        request.app.state.service.auth.require(request, "read")
        label = _week(week)
        found = await asyncio.to_thread(component.with_client, lambda c: archive.get(c, label, tenant))
        if found is None:
            raise HTTPException(404, f"week: no archived report of {label}{' for ' + tenant if tenant else ''}")
        states = await asyncio.to_thread(component.with_client, lambda c: archive.deliveries(c, weeks=[label]))
        entry = _entry(found, states, str(request.base_url).rstrip("/"))
        return {**entry, "report": found.report, "pdf_base64": base64.b64encode(found.pdf).decode()}

    @router.post(
        "/reports/weekly/{week}/run",
        summary="Make, archive and deliver one week's reports now, as the schedule does (a missed or past week)",
    )
    async def run(
        request: Request,
        week: str,
        rebuild: bool = Query(False, description="Replace the archived copies instead of keeping them"),
    ) -> dict[str, Any]:
        request.app.state.service.auth.require(request, "admin")
        year, number = parse_week(_week(week))
        made = await asyncio.to_thread(component.run_week, year, number, rebuild=rebuild)
        label = week_label(year, number)
        states = await asyncio.to_thread(component.with_client, lambda c: archive.deliveries(c, weeks=[label]))
        base = str(request.base_url).rstrip("/")
        return {"reports": [_entry(found, states, base) for found in made]}

    @router.get(
        "/reports/weekly/{week}",
        summary="The weekly sync-health report of one ISO week (e.g. 2026-W10), as JSON, HTML or PDF",
        response_model=None,
    )
    async def weekly(
        request: Request,
        week: str,
        format: Literal["json", "html", "pdf"] = Query("json", description="json (the model), html or pdf"),
        tenant: str | None = TenantQuery,
        firm: str = Query("", max_length=200, description="The firm's name printed on every page"),
        fresh: bool = Query(False, description="Compute the report again even when an archived copy exists"),
    ) -> dict[str, Any] | Response:
        request.app.state.service.auth.require(request, "read")
        label = _week(week)
        found = None
        if not fresh:
            found = await asyncio.to_thread(component.with_client, lambda c: archive.get(c, label, tenant))
        # Another firm name than the archived one asks for a document the archive does not hold.
        if found is not None and (not firm or firm == found.firm):
            report, pdf, source = found.report or {}, found.pdf, "archive"
        else:
            service = request.app.state.service
            year, number = parse_week(label)
            report = await asyncio.to_thread(build_weekly, metrics_sources(service), year, number, tenant=tenant,
                                             firm=firm or component.settings.firm_name)  # fmt: skip
            pdf, source = b"", "computed"
        headers = {"X-SyncWatch-Report-Source": source}
        if format == "json":
            return Response(orjson.dumps(report), media_type="application/json", headers=headers)
        name = f"syncwatch-weekly-{report['week']}.{format}"
        if format == "html":
            body = render_html(report).encode()
        else:
            body = pdf or await asyncio.to_thread(render_pdf, report)
        headers["Content-Disposition"] = f'inline; filename="{name}"'
        return Response(body, media_type=_MEDIA[format], headers=headers)

    return router
