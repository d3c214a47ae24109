"""The exception queue inside the collector process: the case maintenance job, the /api/v1/exceptions routes and
the queue's Prometheus series (cases/metrics.py).

The router carries its own lifespan, which FastAPI runs inside the app's: the collector's service has started
(warehouse migrated, scheduler running) when the job is scheduled, and the component is on `app.state.exceptions`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

import httpx
from clickhouse_connect.driver.client import Client
from fastapi import FastAPI

from cases.api import build_router
from cases.keeper import CaseKeeper
from cases.metrics import CaseMetrics
from cases.routing import policy_for
from syncwatch.settings import Settings
from syncwatch.warehouse.pool import ClientPool

if TYPE_CHECKING:
    from syncwatch.host import Host

__all__ = ["CasesComponent"]
T = TypeVar("T")


class CasesComponent:
    name = "exceptions"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.router = build_router(self, self._lifespan)
        self.keeper: CaseKeeper | None = None
        self._service: Host | None = None
        self._clients = ClientPool("exceptions component")
        self._metrics: CaseMetrics | None = None
        self.transport: httpx.BaseTransport | None = None  # the middleware's; tests may set their own

    @asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        app.state.exceptions = self
        self.start(app.state.service)
        try:
            yield
        finally:
            self.stop()

    def start(self, service: Host) -> None:
        self._service = service
        self._clients.open(service.connect)
        self.keeper = CaseKeeper(service.connect, policy_for(self.settings))  # the app's settings, not the env
        if self._metrics is None:  # a registry keeps a collector for good: register it once per component
            self._metrics = CaseMetrics(self.with_client, self.settings.max_label_values,
                                        calendar_of=self.keeper.policy.calendar)  # fmt: skip
            service.registry.register(self._metrics)
        if self.settings.exceptions_maintenance_seconds:
            service.scheduler.add_job(
                self.keeper.maintain_logged,
                "interval",
                seconds=self.settings.exceptions_maintenance_seconds,
                id="exception-cases",
            )

    def stop(self) -> None:
        return None

    def with_client(self, fn: Callable[[Client], T]) -> T:
        """Run fn with a pooled client of its own, for the read routes."""
        return self._clients.run(fn)
