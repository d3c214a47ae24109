"""The probes stage inside the collector process: one scheduled job per probe (APScheduler, interval trigger, one
instance at a time), runs and findings stored in the warehouse, spans of every call, Prometheus series, read API."""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.base import STATE_STOPPED
from clickhouse_connect.driver.client import Client
from opentelemetry.sdk.trace import TracerProvider

from probes.api import build_router
from probes.config import load_probes_file
from probes.errors import ConfigError
from probes.exposition import ProbeMetrics
from probes.fleet import ProbeFleet
from probes.model import Outcome, ProbeRun
from probes.store import last_runs, probes_that_answered, write_run
from probes.tracing import build_tracer_provider, probe_calls_since
from syncwatch.settings import Settings

if TYPE_CHECKING:
    from syncwatch.host import Host

__all__ = ["ProbesComponent"]
FIRST_CONTACT_RETRY_SECONDS = 30.0

log = logging.getLogger("syncwatch.probes")


class ProbesComponent:
    name = "probes"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fleet: ProbeFleet | None = None
        self.config_error = ""
        self.started_at = time.time()
        self._service: Host | None = None
        self._provider: TracerProvider | None = None
        self._writer: Client | None = None
        self._write_lock = threading.Lock()
        self.router = build_router(self)

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self, service: Host) -> None:
        self._service = service
        path = self.settings.probes_config
        if path is None:
            log.info("no probes file (SYNCWATCH_PROBES_CONFIG): the probes stage is idle")
            return
        try:
            config = load_probes_file(path)
            self._provider = build_tracer_provider(service.connect)
            # The host waits for running jobs at its stop: a probe notices the shutdown at its next call and ends there.
            self.fleet = ProbeFleet(
                config, tracer_provider=self._provider, cancelled=lambda: service.scheduler.state == STATE_STOPPED
            )
        except ConfigError as exc:
            # Visible in the log and in GET /api/v1/probes; the collector's ingest keeps running.
            self.config_error = str(exc)
            log.error("probes stage idle, the probes file is invalid: %s", exc)
            return
        self._writer = service.connect()
        self._restore(self._writer)
        if service.lease is not None:
            # Taking the worker lease over: the calls the last holder made this hour count against the budgets.
            service.lease.on_acquire(lambda token: self._restore(service.connect()))
        self.started_at = time.time()
        for name, probe in self.fleet.probes.items():
            first = datetime.now(UTC) + timedelta(seconds=random.uniform(1, min(30.0, probe.interval_seconds)))
            service.scheduler.add_job(
                self._job, "interval", seconds=probe.interval_seconds, args=[name], id=f"probe:{name}",
                name=f"probe {name}", next_run_time=first, replace_existing=True,
            )  # fmt: skip
        fleet = self.fleet
        service.registry.register(
            ProbeMetrics(
                probes=lambda: {n: (p.interval_seconds, getattr(p, "kinds", ())) for n, p in fleet.probes.items()},
                since=lambda: self.started_at,
                last_runs=lambda: dict(fleet.last_runs),
                budgets=fleet.budgets,
                now=time.time,
            )
        )
        log.info("probes scheduled: %s; not running: %s", ", ".join(fleet.probes) or "none", fleet.skipped or "none")

    def stop(self) -> None:
        if self.fleet is not None:
            self.fleet.close()
        if self._provider is not None:
            self._provider.shutdown()

    def _restore(self, client: Client) -> None:
        """After a restart: budgets count the calls of the past hour, staleness counts from the last real run."""
        assert self.fleet is not None
        try:
            for system, seen in probe_calls_since(client, datetime.now(UTC) - timedelta(hours=1)).items():
                budget = self.fleet.budgets().get(system)
                if budget is not None:
                    budget.seed(seen["times"])
            self.fleet.answered.update(probes_that_answered(client))
            for name, row in last_runs(client).items():
                if name in self.fleet.probes:
                    self.fleet.last_runs[name] = ProbeRun(
                        run_id=row["run_id"], probe=name, system=row["system"], started_at=row["started_at_epoch"],
                        outcome=Outcome(row["outcome"]), duration_ms=row["duration_ms"], api_calls=row["api_calls"],
                        error=row["error"],
                    )  # fmt: skip
        except Exception as exc:
            log.warning("could not restore probe history: %s", exc)

    # -- running --------------------------------------------------------------------------------------------
    def _job(self, name: str) -> None:
        self.run_now(name)

    def run_now(self, name: str) -> ProbeRun:
        """Run a probe now (scheduler job or API request) and store the result; never raises for the probe's sake."""
        if self.fleet is None:
            raise ConfigError("the probes stage is idle: " + (self.config_error or "no probes file"))
        run = self.fleet.run(name)
        try:
            with self._write_lock:
                if self._writer is None and self._service is not None:
                    self._writer = self._service.connect()
                if self._writer is not None:
                    write_run(self._writer, run)
        except Exception as exc:
            log.error("could not store the run of probe %s: %s", name, exc)
            return run
        if self._service is not None:
            self._service.new_signals()
            if run.outcome is Outcome.UNREACHED:
                self._retry_first_contact(name)
        return run

    def _retry_first_contact(self, name: str) -> None:
        """Until its first answer, a probe asks again after FIRST_CONTACT_RETRY_SECONDS besides its interval: an
        hourly probe started before its system would otherwise stay unreached for an hour (and ProbeNeverAnswered
        fire on a system that has long been up)."""
        assert self.fleet is not None and self._service is not None
        if self.fleet.probes[name].interval_seconds <= FIRST_CONTACT_RETRY_SECONDS:
            return
        self._service.scheduler.add_job(
            self._job, "date", run_date=datetime.now(UTC) + timedelta(seconds=FIRST_CONTACT_RETRY_SECONDS),
            args=[name], id=f"probe-first-contact:{name}", name=f"probe {name} (first contact)", replace_existing=True,
        )  # fmt: skip

    def describe(self) -> dict[str, Any]:
        return {"config_error": self.config_error, "skipped": dict(self.fleet.skipped) if self.fleet else {}}
