"""The weekly report inside the collector process: made on a schedule, archived, delivered, and its routes.

Every week at SYNCWATCH_REPORT_SCHEDULE (default Monday 07:00 in SYNCWATCH_REPORT_TIMEZONE) the last complete
ISO week's report is built for all tenants and for each of SYNCWATCH_REPORT_TENANTS, rendered as PDF, archived
(reports/archive.py) and then delivered to its receivers (reports/delivery.py). A week already archived is not
built again and a receiver already served is not sent to again, so a rerun of the job is harmless; `run_week` with
`rebuild=True` replaces the archived copies. A failed delivery is retried by a second job every
SYNCWATCH_REPORT_RETRY_SECONDS, with a doubling wait, until SYNCWATCH_REPORT_DELIVERY_ATTEMPTS are used up; it
never holds back the archive, which is written first.

The router carries its own lifespan, which FastAPI runs inside the app's: the collector's service has started
(warehouse migrated, scheduler running) when the jobs are scheduled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from clickhouse_connect.driver.client import Client
from fastapi import FastAPI

from reports import archive
from reports.api import build_router, metrics_sources
from reports.archive import Archived, DeliveryState
from reports.delivery import Channel, attempt, load_receivers, next_state
from reports.render import render_pdf
from reports.weekly import build_weekly
from reports.weeks import last_complete_week, week_label
from syncwatch.settings import Settings
from syncwatch.warehouse.pool import ClientPool

if TYPE_CHECKING:
    from collector.service import Service

__all__ = ["ReportsComponent"]

log = logging.getLogger("syncwatch.reports")
T = TypeVar("T")


class ReportsComponent:
    name = "reports"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Read at construction: a receivers file with a mistake stops the collector at start, naming the field.
        self.channels: list[Channel] = load_receivers(settings.report_receivers_file)
        self.zone = ZoneInfo(settings.report_timezone)
        self.router = build_router(self, self._lifespan)
        self._service: Service | None = None
        self._clients = ClientPool("reports component")
        # The weekly job and the retry job may both deliver: one delivery at a time, so none is sent twice.
        self._delivering = threading.Lock()

    @asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        app.state.reports = self
        self.start(app.state.service)
        try:
            yield
        finally:
            self.stop()

    def start(self, service: Service) -> None:
        self._service = service
        self._clients.open(service.connect)
        if self.settings.report_schedule:
            day, clock = self.settings.report_schedule.split()
            hour, minute = (int(part) for part in clock.split(":"))
            trigger = CronTrigger(day_of_week=day, hour=hour, minute=minute, timezone=self.zone)
            # A collector down at the hour makes up the run within 6 h of it (the job is idempotent per week).
            service.scheduler.add_job(self.weekly_job, trigger, id="weekly-report", misfire_grace_time=6 * 3600)
        if self.channels:
            service.scheduler.add_job(
                self.retry_deliveries, "interval", seconds=self.settings.report_retry_seconds, id="weekly-report-retry"
            )

    def stop(self) -> None:
        return None

    def with_client(self, fn: Callable[[Client], T]) -> T:
        """Run fn with a pooled client of its own, for the read routes."""
        return self._clients.run(fn)

    @property
    def base_url(self) -> str:
        """Where links in deliveries point: the collector's public address."""
        return self.settings.alerts_external_url or f"http://{self.settings.host}:{self.settings.port}"

    # -- the jobs ---------------------------------------------------------------------------------------------
    def weekly_job(self, now: datetime | None = None) -> list[Archived]:
        """The scheduled run: the last complete week in the firm's zone; a failure is logged, never raised."""
        year, week = last_complete_week(now or datetime.now(UTC), self.zone)
        try:
            return self.run_week(year, week)
        except Exception:
            log.exception("the weekly report of %s was not made", week_label(year, week))
            return []

    def run_week(self, year: int, week: int, *, rebuild: bool = False) -> list[Archived]:
        """Archive (unless archived, or `rebuild`) and deliver one week's reports: all tenants, then each tenant."""
        assert self._service is not None, "the component has not started"
        made = []
        for tenant in ["", *self.settings.report_tenants]:
            try:
                made.append(self._archived(year, week, tenant, rebuild))
            except Exception:  # one legal entity's failure must not cost the others their report
                log.exception("the weekly report of %s%s was not made", week_label(year, week),
                              f" for {tenant}" if tenant else "")  # fmt: skip
        for archived in made:
            self.deliver(archived)
        return made

    def _archived(self, year: int, week: int, tenant: str, rebuild: bool) -> Archived:
        assert self._service is not None, "the component has not started"
        found = None if rebuild else self.with_client(partial(archive.get, week=week_label(year, week), tenant=tenant))
        if found is None:
            report = build_weekly(metrics_sources(self._service), year, week, tenant=tenant or None,
                                  firm=self.settings.firm_name)  # fmt: skip
            found = self.with_client(partial(archive.store, report=report, pdf=render_pdf(report)))
            log.info("archived the weekly report of %s%s", found.week, f" for {tenant}" if tenant else "")
        return found

    def deliver(self, archived: Archived, now: datetime | None = None) -> list[DeliveryState]:
        """First attempts for the report's channels that have none yet; those already tried are left to retries."""
        wanted = [c for c in self.channels if c.wants(archived.tenant)]
        with self._delivering:
            known = self._states([archived.week], archived.tenant)
            return [self._attempt(c, archived, None, now) for c in wanted if (c.receiver, c.name) not in known]

    def retry_deliveries(self, now: datetime | None = None) -> list[DeliveryState]:
        """The pending deliveries whose wait is over, one attempt each (the retry job, every few seconds)."""
        moment = now or datetime.now(UTC)
        channels = {(c.receiver, c.name): c for c in self.channels}
        done = []
        with self._delivering:
            pending = self.with_client(lambda c: archive.deliveries(c, status="pending"))
            for state in pending:
                channel = channels.get((state.receiver, state.integration))
                if channel is None or (state.next_attempt_at and state.next_attempt_at > moment):
                    continue  # a receiver since removed from the file is not sent to
                found = self.with_client(partial(archive.get, week=state.week, tenant=state.tenant))
                if found is not None:
                    done.append(self._attempt(channel, found, state, moment))
        return done

    def _states(self, weeks: list[str], tenant: str) -> dict[tuple[str, str], DeliveryState]:
        states = self.with_client(lambda c: archive.deliveries(c, weeks=weeks))
        return {(s.receiver, s.integration): s for s in states if s.tenant == tenant}

    def _attempt(
        self, channel: Channel, archived: Archived, previous: DeliveryState | None, now: datetime | None
    ) -> DeliveryState:
        outcome = attempt(channel, archived, self.base_url)
        state = next_state(previous, archived, channel, outcome, now or datetime.now(UTC),
                           max_attempts=self.settings.report_delivery_attempts,
                           retry_seconds=self.settings.report_retry_seconds)  # fmt: skip
        self.with_client(lambda c: archive.record_delivery(c, state))
        what = f"weekly report {archived.week}{' ' + archived.tenant if archived.tenant else ''}"
        if state.status == "delivered":
            log.info("%s delivered to %s (%s)", what, channel.receiver, channel.name)
        else:
            # the error has been redacted of URLs (reports/delivery.py): no credential reaches the log
            then = "retried later" if state.status == "pending" else "given up"
            log.warning("%s: delivery to %s (%s) failed, attempt %d, %s: %s", what, channel.receiver, channel.name,
                        state.attempts, then, state.last_error)  # fmt: skip
        return state
