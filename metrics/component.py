"""The metrics stage inside the collector process: SLI read API, snapshot job, Prometheus exposition."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter

from syncwatch.settings import Settings

if TYPE_CHECKING:
    from collector.service import Service

__all__ = ["MetricsComponent"]


class MetricsComponent:
    name = "metrics"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.router = APIRouter(prefix="/api/v1", tags=["slis"])

    def start(self, service: Service) -> None:
        return None

    def stop(self) -> None:
        return None
