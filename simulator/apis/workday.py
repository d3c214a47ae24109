"""HCM, Workday-like: GET /ccx/api/v1/{tenant}/workers?updatedFrom=&limit=&offset= (pages of at most 100,
answers {"total", "data"}), OAuth2 token endpoint, 429 with Retry-After when called too fast."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from simulator.apis.auth import read_form
from simulator.apis.context import ApiContext
from simulator.calendar import iso_date, iso_time

__all__ = ["MAX_LIMIT", "router"]

MAX_LIMIT = 100


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter()

    @api.post("/ccx/oauth2/{tenant}/token")
    async def token(tenant: str, request: Request) -> dict[str, object]:
        form = await read_form(request)
        return ctx.tokens.issue("hcm", form.get("client_id"), form.get("client_secret"), form.get("grant_type"))

    @api.get("/ccx/api/v1/{tenant}/workers")
    async def workers(
        request: Request, tenant: str, limit: int = 20, offset: int = 0, updatedFrom: str | None = None
    ) -> dict[str, Any]:
        ctx.tokens.require_bearer(request, "hcm")
        ctx.limits.workday.take()
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise HTTPException(400, {"error": f"limit must be between 1 and {MAX_LIMIT}"})
        since = None
        if updatedFrom:
            try:
                since = datetime.fromisoformat(updatedFrom.replace("Z", "+00:00")).timestamp()
            except ValueError as exc:
                raise HTTPException(400, {"error": "updatedFrom must be an ISO 8601 date-time"}) from exc
        await ctx.service_time()
        with ctx.sim.lock:
            people = sorted(ctx.sim.firm.consultants.values(), key=lambda c: (c.hcm_updated_at, c.id))
            if since is not None:
                people = [c for c in people if c.hcm_updated_at >= since]
            page = people[offset : offset + limit]
            data = [
                {
                    "id": c.id,
                    "workerId": c.id,
                    "descriptor": f"Consultant {c.id}",
                    "status": c.status,
                    "costCenter": c.cost_center,
                    "legalEntity": c.tenant,
                    "jobProfile": c.role,
                    "manager": c.approver_id,
                    "hireDate": iso_date(c.hired_at),
                    "terminationDate": iso_date(c.terminated_at) if c.terminated_at is not None else None,
                    "lastUpdated": iso_time(c.hcm_updated_at),
                }
                for c in page
            ]
            return {"total": len(people), "data": data}

    return api
