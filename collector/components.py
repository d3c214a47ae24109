"""The stages that run inside the collector process next to ingest: metrics, probes, alerts.

chDB allows one engine per process, so in embedded mode the process that owns the warehouse also runs the
scheduled work (SLI snapshots, probes, alert evaluation) and serves its read API. Each stage exposes one
`Component`: routes to mount, and jobs to schedule once the warehouse is migrated. The collector knows this list
and nothing else about them; a stage never imports the collector's ingest modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from fastapi import APIRouter

if TYPE_CHECKING:
    from collector.service import Service
    from syncwatch.settings import Settings

__all__ = ["Component", "components"]


class Component(Protocol):
    name: str
    router: APIRouter

    def start(self, service: Service) -> None:
        """Schedule jobs on service.scheduler and register Prometheus collectors; the warehouse is migrated."""

    def stop(self) -> None:
        """Release what start() took (the scheduler itself is shut down by the service)."""


def components(settings: Settings) -> list[Component]:
    from alerts.component import AlertsComponent
    from metrics.component import MetricsComponent
    from probes.component import ProbesComponent

    return [MetricsComponent(settings), ProbesComponent(settings), AlertsComponent(settings)]
