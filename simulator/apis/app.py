"""The simulator's HTTP face: every system API on one loopback app, plus the admin endpoint that switches
fault scenarios in a live run and reports where the simulation is."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from simulator.apis import deadletters, integrations, kantata, soql, suiteql, workday
from simulator.apis.auth import Credentials, TokenStore
from simulator.apis.context import ApiContext
from simulator.apis.limits import Limits, SystemLimits
from simulator.calendar import iso_time
from simulator.faults import SCENARIOS
from simulator.simulation import Simulation

__all__ = ["create_app"]


def create_app(
    sim: Simulation,
    credentials: Credentials | None = None,
    limits: SystemLimits | None = None,
    live: Any = None,
) -> FastAPI:
    ctx = ApiContext(sim, TokenStore(credentials or Credentials()), Limits(limits or SystemLimits()), live)
    app = FastAPI(title="SyncWatch simulated estate", docs_url="/docs", redoc_url=None)
    for module in (suiteql, soql, workday, kantata, deadletters, integrations):
        app.include_router(module.router(ctx))

    @app.exception_handler(HTTPException)
    async def vendor_error(request: Request, exc: HTTPException) -> JSONResponse:
        # Each vendor's error body as it is, not wrapped in FastAPI's {"detail": ...}.
        return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)

    @app.get("/admin/status")
    async def status(request: Request) -> dict[str, Any]:
        ctx.tokens.require_admin(request)
        with sim.lock:
            return {
                "sim_time": iso_time(sim.now),
                "events_emitted": sim.events_emitted,
                "pending_actions": sim.pending(),
                "active_faults": sim.faults.active_names(sim.now),
                "consultants": len(sim.firm.consultants),
            }

    @app.get("/admin/faults")
    async def faults(request: Request) -> dict[str, Any]:
        ctx.tokens.require_admin(request)
        active = set(sim.faults.active_names(sim.now))
        return {
            "scenarios": [
                {
                    "name": s.name,
                    "active": s.name in active,
                    "summary": s.summary,
                    "moves": [{"signal": m, "direction": d} for m, d in s.moves],
                }
                for s in SCENARIOS.values()
            ]
        }

    @app.post("/admin/faults/{name}")
    async def switch(name: str, request: Request) -> dict[str, Any]:
        ctx.tokens.require_admin(request)
        if name not in SCENARIOS:
            raise HTTPException(404, {"error": f"unknown scenario {name!r}", "known": sorted(SCENARIOS)})
        body = await request.json() if await request.body() else {}
        on = bool(body.get("on", True)) if isinstance(body, dict) else True
        changed = sim.switch_fault(name, on)
        return {"name": name, "active": sim.faults.active(name, sim.now), "changed": changed}

    return app
