"""PSA, Kantata-like: GET /api/v1/time_entries.json, users.json, workspaces.json with page/per_page (per_page
at most 200) and a total `count` (per_page=1 is a cheap counter); bearer token; 429 on bursts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from simulator.apis.context import ApiContext
from simulator.calendar import iso_date, iso_time

__all__ = ["MAX_PER_PAGE", "router"]

MAX_PER_PAGE = 200


def _page(key: str, rows: list[dict[str, Any]], page: int, per_page: int) -> dict[str, Any]:
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    chunk = rows[(page - 1) * per_page : page * per_page]
    page_count = max(1, -(-len(rows) // per_page))
    return {
        "count": len(rows),
        "results": [{"key": key, "id": r["id"]} for r in chunk],
        key: {r["id"]: r for r in chunk},
        "meta": {"count": len(rows), "page_count": page_count, "page_number": page},
    }


def _since(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise HTTPException(400, {"errors": [{"type": "invalid_parameter", "message": "bad updated_after"}]}) from exc


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter()

    def guard(request: Request) -> None:
        if request.headers.get("authorization", "") != f"Bearer {ctx.tokens.credentials.api_key}":
            raise HTTPException(401, {"errors": [{"type": "unauthorized", "message": "invalid token"}]})
        ctx.limits.kantata.take()

    @api.get("/api/v1/time_entries.json")
    async def time_entries(
        request: Request,
        page: int = 1,
        per_page: int = 20,
        status: str | None = None,
        date_performed_between: str | None = None,
        updated_after: str | None = None,
    ) -> dict[str, Any]:
        guard(request)
        since = _since(updated_after)
        lo = hi = None
        if date_performed_between:
            lo, _, hi = date_performed_between.partition(":")
        await ctx.service_time()
        with ctx.sim.lock:
            now = ctx.sim.now
            rows = []
            for e in ctx.sim.firm.entries.values():
                if status and e.status.lower() != status.lower():
                    continue
                day = iso_date(e.work_date)
                if lo and not (lo <= day <= hi):
                    continue
                updated = e.posted_at or e.approved_at or e.work_date
                if since is not None and updated < since:
                    continue
                rows.append(
                    {
                        "id": e.id,
                        "user_id": e.consultant_id,
                        "workspace_id": e.project_code,
                        "date_performed": day,
                        "time_in_minutes": round(e.hours * 60),
                        "billable": e.billable,
                        "approved": e.approved_at is not None and e.approved_at <= now,
                        "status": e.status.lower(),
                        "exported": e.status == "POSTED",
                        "timesheet_id": e.timesheet_id,
                        "invoice_id": e.invoice_id or None,
                        "supersedes_id": e.supersedes or None,
                        "updated_at": iso_time(updated),
                    }
                )
        return _page("time_entries", rows, page, per_page)

    @api.get("/api/v1/users.json")
    async def users(request: Request, page: int = 1, per_page: int = 20) -> dict[str, Any]:
        guard(request)
        with ctx.sim.lock:
            rows = [
                {
                    "id": c.id,
                    "status": c.psa_status,
                    "cost_center": c.psa_cost_center,
                    "legal_entity": c.tenant,
                    "updated_at": iso_time(c.psa_updated_at),
                }
                for c in ctx.sim.firm.consultants.values()
            ]
        return _page("users", rows, page, per_page)

    @api.get("/api/v1/workspaces.json")
    async def workspaces(request: Request, page: int = 1, per_page: int = 20) -> dict[str, Any]:
        guard(request)
        with ctx.sim.lock:
            now = ctx.sim.now
            rows = [
                {
                    "id": p.psa_id,
                    "code": p.psa_code,
                    "title": p.name,
                    "status": p.status,
                    "customer_id": p.customer_id,
                    "currency": p.currency,
                    "billing_type": p.billing_type,
                    "updated_at": iso_time(p.updated_at),
                }
                for p in ctx.sim.firm.projects.values()
                if p.psa_created_at is not None and p.psa_created_at <= now
            ]
        return _page("workspaces", rows, page, per_page)

    return api
