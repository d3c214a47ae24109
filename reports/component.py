"""The reports stage inside the collector: the weekly report's API. It reads the metrics stage's evaluator, so a
report's figures are the ones /api/v1/slis computes for the same window."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metrics.component import MetricsComponent
from reports.api import build_router
from reports.sources import MetricsSources
from syncwatch.settings import Settings

if TYPE_CHECKING:
    from collector.service import Service

__all__ = ["ReportsComponent"]


class ReportsComponent:
    name = "reports"

    def __init__(self, settings: Settings, metrics: MetricsComponent) -> None:
        self.settings = settings
        self.sources = MetricsSources(metrics)
        self.router = build_router(self)

    def start(self, service: Service) -> None:
        return None  # generated on request; scheduled generation is not built yet (docs/report.md)

    def stop(self) -> None:
        return None
