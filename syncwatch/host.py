"""What a stage gets from the process that hosts it: the `Host` Protocol, and the `Component` a stage exposes.

The stages (metrics, probes, alerts, exceptions, reports) are typed against these, never against the collector,
so a process can host them with or without ingest (`syncwatch/roles.py`). The collector's `Service` is a Host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from clickhouse_connect.driver.client import Client
from fastapi import APIRouter
from prometheus_client import CollectorRegistry

if TYPE_CHECKING:
    from syncwatch.lease import Lease

__all__ = ["Component", "Host"]


class Host(Protocol):
    """The scheduler jobs go on (they run only while this process acts as the worker), Prometheus registry,
    warehouse clients, and the new-signals hook between stages."""

    scheduler: BackgroundScheduler
    registry: CollectorRegistry
    lease: Lease | None

    def connect(self) -> Client:
        """A warehouse client of the caller's own (queries on one client serialise)."""
        ...

    def new_signals(self) -> None:
        """A stage stored new signals (an SLI snapshot, a probe run); their readers act now."""
        ...

    def on_new_signals(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever a stage has stored new signals."""
        ...


class Component(Protocol):
    """A stage as a process hosts it: routes to mount, jobs to schedule once the warehouse is migrated."""

    name: str
    router: APIRouter

    def start(self, host: Host) -> None:
        """Schedule jobs on host.scheduler and register Prometheus collectors; the warehouse is migrated."""
        ...

    def stop(self) -> None:
        """Release what start() took (the scheduler itself is shut down by the host)."""
        ...
