"""The composition root: which stages a process hosts, by role.

    syncwatch serve                  all-in-one (the default; the only role an embedded warehouse allows):
                                     ingest, the read API, and every scheduled stage
    syncwatch serve --role ingest    ingest and the read API; schedules nothing, keeps no state of its own
    syncwatch worker                 the scheduled stages (SLI snapshots, compaction, probes, alerts, exception
                                     cases, reports) and their read routes; no ingest

With a ClickHouse server, the processes that run the scheduled stages (workers, and all-in-one replicas) share
one lease (syncwatch/lease.py): exactly one of them acts at a time. The stages are imported here, when a process
is composed, never by the spine's other modules or by the collector.
"""

from __future__ import annotations

from typing import Literal

from syncwatch.host import Component
from syncwatch.settings import Settings

__all__ = ["ROLES", "Role", "components", "runs_ingest", "runs_stages"]

Role = Literal["all", "ingest", "worker"]
ROLES: tuple[Role, ...] = ("all", "ingest", "worker")


def runs_ingest(role: Role) -> bool:
    return role in ("all", "ingest")


def runs_stages(role: Role) -> bool:
    """Whether this process's scheduled jobs run (under the lease with a server warehouse)."""
    return role in ("all", "worker")


def components(settings: Settings) -> list[Component]:
    """The stages with routes and jobs; every role mounts their routes, only `runs_stages` roles run their jobs.
    (Stages whose router carries its own lifespan, cases/component.py, are mounted by the app directly.)"""
    from alerts.component import AlertsComponent
    from metrics.component import MetricsComponent
    from probes.component import ProbesComponent

    return [MetricsComponent(settings), ProbesComponent(settings), AlertsComponent(settings)]
