"""What every API module is handed: the simulation whose state it shows, the token store and the limits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import HTTPException

from simulator.apis.auth import TokenStore
from simulator.apis.limits import Limits
from simulator.simulation import Simulation

__all__ = ["ApiContext"]


@dataclass
class ApiContext:
    sim: Simulation
    tokens: TokenStore
    limits: Limits
    live: object | None = None  # a LiveRunner when the simulation is running live

    async def service_time(self) -> None:
        if self.limits.cfg.latency_s > 0:
            await asyncio.sleep(self.limits.cfg.latency_s)

    def erp_available(self) -> None:
        if self.sim.fault("erp_outage", self.sim.now):
            raise HTTPException(
                503,
                {"o:errorCode": "SERVICE_UNAVAILABLE", "title": "Service Unavailable"},
                headers={"Retry-After": "30"},
            )
