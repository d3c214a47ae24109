"""The metrics stage inside the collector process: SLI read API, snapshot job, Prometheus exposition."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from clickhouse_connect.driver.client import Client

from metrics.api import build_router
from metrics.compaction import StateCompaction
from metrics.evaluate import Evaluator, SliResult
from metrics.exposition import SliCollector
from metrics.query import Db
from metrics.rebuild import rebuild_state, state_is_missing
from metrics.slis import NAMES
from metrics.slo import load_slos
from metrics.snapshots import Snapshot, SnapshotJob
from metrics.windows import Window
from syncwatch.settings import Settings
from syncwatch.warehouse.pool import ClientPool

if TYPE_CHECKING:
    from syncwatch.host import Host

__all__ = ["MetricsComponent"]
log = logging.getLogger(__name__)
T = TypeVar("T")


class MetricsComponent:
    name = "metrics"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # A bad SLO file stops the start with a message naming the SLI and field, before anything is served.
        self.evaluator = Evaluator(load_slos(settings.slo_file, known=set(NAMES)), settings.max_label_values)
        self.router = build_router(self)
        self._service: Host | None = None
        self._clients = ClientPool("metrics component")
        self.job: SnapshotJob | None = None
        self.compaction: StateCompaction | None = None

    def start(self, service: Host) -> None:
        self._service = service
        self._clients.open(service.connect)
        self.job = SnapshotJob(self.evaluator, service.connect, service.registry)
        service.registry.register(SliCollector(self.job, self.settings.max_label_values))
        service.scheduler.add_job(
            self._snapshot, "interval", seconds=self.settings.sli_snapshot_seconds, id="sli-snapshot"
        )
        # Right away: build the state from stored events if this warehouse predates it, then a first snapshot.
        service.scheduler.add_job(self._first_run, id="sli-first-run")
        if self.settings.state_compaction_seconds:
            self.compaction = StateCompaction(service.connect, self.settings.state_compaction_budget, service.registry)
            service.scheduler.add_job(
                self._compact, "interval", seconds=self.settings.state_compaction_seconds, id="state-compaction"
            )

    def _compact(self) -> None:
        assert self.compaction is not None
        try:
            self.compaction.run()
        except Exception as exc:  # the warehouse is away: the next run tries again
            log.warning("state compaction failed: %s", str(exc).splitlines()[0][:300])

    def _first_run(self) -> None:
        assert self._service is not None and self.job is not None
        self.with_client(lambda client: rebuild_state(client) if state_is_missing(client) else 0)
        self._snapshot()

    def _snapshot(self) -> None:
        assert self._service is not None and self.job is not None
        if self.job.run_logged():
            self._service.new_signals()

    def stop(self) -> None:
        return None

    def fresh_snapshot(self) -> Snapshot | None:
        """The latest snapshot if it is at most two intervals old (readers then need no scan of their own)."""
        snap = self.job.latest if self.job else None
        if snap is None:
            return None
        age = (datetime.now(UTC) - snap.taken_at).total_seconds()
        return snap if age <= 2 * self.settings.sli_snapshot_seconds else None

    def with_client(self, fn: Callable[[Client], T]) -> T:
        """Run fn with a pooled client of its own, for the read routes."""
        return self._clients.run(fn)

    def evaluate(
        self, window: Window | None, by: str | None, names: Iterable[str] | None = None
    ) -> dict[str, dict[str, SliResult]]:
        # Two pooled clients: the SLIs' queries run two at a time (metrics/query.py Db.map).
        return self.with_client(
            lambda c: self.with_client(
                lambda spare: self.evaluator.evaluate(Db(c, spares=[spare]), window=window, by=by, names=names)
            )
        )
