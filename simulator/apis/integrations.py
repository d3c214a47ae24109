"""Middleware runtime: GET /api/v1/integrations, each integration's status (running or stopped), since when, why,
and its last execution, with X-API-Key. Times are on the clock the events are stamped with."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from simulator.apis.context import ApiContext
from simulator.calendar import iso_time
from simulator.runtime import integration_states

__all__ = ["router"]


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter()

    @api.get("/api/v1/integrations")
    async def integrations(request: Request) -> dict[str, Any]:
        ctx.tokens.require_api_key(request)
        ctx.limits.dlq.take()
        with ctx.sim.lock:
            states = integration_states(ctx.sim)
            stamp = ctx.sim.stamp
        for s in states:
            s["status_since"] = iso_time(stamp(s["status_since"]))
            s["last_execution_at"] = None if s["last_execution_at"] is None else iso_time(stamp(s["last_execution_at"]))
        return {"integrations": states}

    return api
