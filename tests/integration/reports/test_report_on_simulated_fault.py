"""The simulated firm with a fault switched on in the middle of a week, sent by the real `syncwatch simulate
backfill`, then that week replayed through the metrics stage's snapshots and the alert evaluator every 30 minutes
(as the running collector would have taken them): the weekly report puts the fault's cause first under "where the
money is stuck" and its alert among the week's incidents."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from alerts.component import AlertsComponent
from metrics.component import MetricsComponent
from syncwatch.settings import Settings
from tests.conftest import ThreadedCollector, Tokens, auth

pytestmark = pytest.mark.integration
SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
WEEK_START = datetime(2026, 11, 23, tzinfo=UTC)  # 2026-W48, Monday
HISTORY_DAYS = 21  # ends with the week: 2 November to 30 November
FAULT_DAY = 16  # Wednesday 25 November, left on to the end of the week


def test_the_report_names_a_mid_week_fault_first_and_its_incident(
    tokens: Tokens, settings: Settings, tmp_path: Path
) -> None:
    quiet = Settings(**{**settings.model_dump(), "sli_snapshot_seconds": 3600, "exceptions_maintenance_seconds": 0,
                        "alerts_evaluation_interval_seconds": 3600, "report_schedule": ""})  # fmt: skip
    with ThreadedCollector(quiet) as running:
        end = WEEK_START + timedelta(days=7)
        args = [SYNCWATCH, "simulate", "backfill", "--consultants", "150", "--days", str(HISTORY_DAYS), "--no-spans",
                "--end", end.strftime("%Y-%m-%dT%H:%M:%SZ"), "--fault", f"closed_period@{FAULT_DAY}",
                "--base-url", running.url, "--token", tokens["ingest"]]  # fmt: skip
        done = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        stages = running.app.state.service.components
        metrics = next(c for c in stages if isinstance(c, MetricsComponent))
        alerts = next(c for c in stages if isinstance(c, AlertsComponent))
        assert metrics.job is not None and alerts.engine is not None
        moment = WEEK_START - timedelta(hours=12)  # a pending that began before Monday is the week's too
        while moment <= end:
            metrics.job.run(as_of=moment)
            alerts.engine.evaluate(now=moment)
            moment += timedelta(minutes=30)

        r = httpx.get(f"{running.url}/api/v1/reports/weekly/2026-W48", headers=auth(tokens["read"]),
                      params={"fresh": "true"}, timeout=300)  # fmt: skip
        assert r.status_code == 200, r.text
        report = r.json()
    top = report["stuck"]["at_risk"][0]
    assert top["cause"] == "PERIOD_CLOSED", report["stuck"]["at_risk"][:3]
    fault_start = WEEK_START + timedelta(days=2)
    during = [i for i in report["incidents"] if i["started_at"] >= fault_start.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert during, report["incidents"]
    assert any("Period" in i["rule"] or "Posting" in i["rule"] or "Rejected" in i["rule"] for i in during), during
