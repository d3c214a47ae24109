"""The weekly report's jobs as the component schedules them: the cron trigger fires at the configured day and time
in the configured zone, an empty schedule schedules nothing, and the retry job exists only with receivers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

from reports.component import ReportsComponent
from syncwatch.settings import Settings


def _scheduled(tmp_path: Path, **values: Any) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    ReportsComponent(Settings(var_dir=tmp_path, **values)).start(
        SimpleNamespace(scheduler=scheduler, connect=lambda: None)  # type: ignore[arg-type]
    )
    return scheduler


def _next(scheduler: BackgroundScheduler, job: str, after: datetime) -> datetime:
    fire: datetime = scheduler.get_job(job).trigger.get_next_fire_time(None, after)
    return fire


def test_the_default_is_monday_seven_in_utc(tmp_path: Path) -> None:
    scheduler = _scheduled(tmp_path)
    fire = _next(scheduler, "weekly-report", datetime(2026, 11, 4, 12, tzinfo=UTC))
    assert fire == datetime(2026, 11, 9, 7, tzinfo=UTC)
    assert scheduler.get_job("weekly-report-retry") is None  # no receivers file: nothing to retry


def test_day_time_and_zone_are_the_firms(tmp_path: Path) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    scheduler = _scheduled(tmp_path, report_schedule="tue 06:30", report_timezone="Europe/Berlin")
    fire = _next(scheduler, "weekly-report", datetime(2026, 11, 4, 12, tzinfo=UTC))
    assert fire == datetime(2026, 11, 10, 6, 30, tzinfo=berlin)  # 05:30 UTC in winter time


def test_an_empty_schedule_schedules_nothing_and_receivers_get_the_retry_job(tmp_path: Path) -> None:
    receivers = tmp_path / "receivers.yaml"
    receivers.write_text("receivers: [{name: cfo, integrations: [{type: webhook, url: 'http://127.0.0.1:9'}]}]")
    scheduler = _scheduled(tmp_path, report_schedule="0", report_receivers_file=receivers, report_retry_seconds=120)
    assert scheduler.get_job("weekly-report") is None
    assert scheduler.get_job("weekly-report-retry").trigger.interval.total_seconds() == 120
