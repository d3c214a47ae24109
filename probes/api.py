"""Read API of the probes stage (scope read), plus running a probe on demand (scope admin)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Request

from probes.errors import ConfigError
from probes.store import findings_of_last_run, last_runs

if TYPE_CHECKING:
    from probes.component import ProbesComponent

__all__ = ["build_router"]


def build_router(component: ProbesComponent) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["probes"])

    @router.get("/probes", summary="Every scheduled probe: last run, staleness, API budget")
    async def list_probes(request: Request) -> dict[str, Any]:
        service = request.app.state.service
        service.auth.require(request, "read")
        return await asyncio.to_thread(_list, component, service)

    @router.get("/probes/{name}/findings", summary="Findings of the probe's last answering run")
    async def probe_findings(
        request: Request, name: str, limit: int = Query(default=1000, ge=1, le=100_000)
    ) -> dict[str, Any]:
        service = request.app.state.service
        service.auth.require(request, "read")
        _known(component, name)
        found = await asyncio.to_thread(lambda: findings_of_last_run(service.connect(), name, limit))
        return found or {"probe": name, "run_id": None, "observed_at": None, "findings": []}

    @router.post("/probes/{name}/run", summary="Run a probe now; stores and returns the run and its findings")
    async def run_probe_now(request: Request, name: str) -> dict[str, Any]:
        service = request.app.state.service
        service.auth.require(request, "admin")
        _known(component, name)
        run = await asyncio.to_thread(component.run_now, name)
        return {"probe": name, **run.public(), "findings": [f.public() for f in run.findings]}

    return router


def _known(component: ProbesComponent, name: str) -> None:
    fleet = component.fleet
    if fleet is None or name not in fleet.probes:
        try:
            if fleet is not None:
                fleet.probe(name)
            raise ConfigError(component.config_error or "no probes file is configured")
        except ConfigError as exc:
            raise HTTPException(404, str(exc)) from None


def _list(component: ProbesComponent, service: Any) -> dict[str, Any]:
    fleet = component.fleet
    if fleet is None:
        return {"probes": [], **component.describe()}
    stored = last_runs(service.connect())
    now = time.time()
    out = []
    for name, probe in fleet.probes.items():
        memory = fleet.last_runs.get(name)
        last = stored.get(name)
        if memory is not None and (last is None or memory.started_at > last["started_at_epoch"] + 0.001):
            last = {**memory.public(), "started_at_epoch": memory.started_at}
        started = last["started_at_epoch"] if last else component.started_at
        budget = fleet.clients[probe.systems[0]].budget
        out.append(
            {
                "name": name,
                "system": probe.systems[0],
                "systems": list(probe.systems),
                "description": probe.description,
                "interval_seconds": probe.interval_seconds,
                "timeout_seconds": probe.timeout_seconds,
                "cost": dict(probe.cost),
                "stale": now - started > 3 * probe.interval_seconds,
                "last_run": None
                if last is None
                else {k: v for k, v in last.items() if k not in ("started_at_epoch", "system")},
                "budget": {
                    "calls_per_hour": budget.limits.calls_per_hour,
                    "used_last_hour": budget.used_last_hour(),
                    "max_concurrency": budget.limits.max_concurrency,
                },
            }
        )
    systems = {
        name: {
            "calls_per_hour": c.budget.limits.calls_per_hour,
            "used_last_hour": c.budget.used_last_hour(),
            "remaining": c.budget.remaining(),
            "max_concurrency": c.budget.limits.max_concurrency,
            "max_rate_per_second": c.budget.limits.max_rate_per_second,
            "calls_since_start": c.budget.total_calls,
            "refused_calls": c.budget.refused_calls,
            "target_limit_info": c.last_limit_info,
        }
        for name, c in fleet.clients.items()
    }
    return {"probes": out, "systems": systems, **component.describe()}
