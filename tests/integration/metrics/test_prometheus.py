"""Prometheus sees the same SLIs the API reports: a real Prometheus server (Debian package) scrapes the
collector's /metrics with a read token, and PromQL returns the API's values. promtool lints the exposition."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ThreadedCollector, Tokens, auth
from tests.integration.metrics.test_hand_built_logs import AS_OF, firm_log
from tests.prometheus import running_prometheus

pytestmark = pytest.mark.integration


def _moved(when: str, by: timedelta) -> str:
    return (datetime.fromisoformat(when) + by).isoformat().replace("+00:00", "Z")


def _recent(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hand-built log moved by whole weeks to end within the last week: the snapshot job measures each SLO's
    window as of now, and the log's fixed November dates would leave the 30-day windows empty (a CI run in
    December saw no SLI values). Whole weeks keep every event's weekday and hour, so business time is unchanged."""
    by = timedelta(weeks=max(0, (datetime.now(UTC) - AS_OF) // timedelta(weeks=1)))
    moved = []
    for event in batch:
        data = dict(event["data"])
        if "entered_at" in data:
            data["entered_at"] = _moved(data["entered_at"], by)
        moved.append({**event, "time": _moved(event["time"], by), "data": data})
    return moved


def _seed(collector: ThreadedCollector, tokens: Tokens) -> None:
    batch = _recent(firm_log()[0])
    headers = {**auth(tokens["ingest"]), "Content-Type": "application/cloudevents-batch+json"}
    assert httpx.post(f"{collector.url}/v1/events", json=batch, headers=headers, timeout=30).status_code == 200
    collector.app.state.service.components[0].job.run()


def _snapshot_runs(text: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith("syncwatch_sli_snapshot_duration_seconds_count"))
    return float(line.split()[-1])


def test_promtool_accepts_the_exposition(collector: ThreadedCollector, tokens: Tokens, tmp_path: Path) -> None:
    _seed(collector, tokens)
    text = httpx.get(f"{collector.url}/metrics", headers=auth(tokens["read"]), timeout=30).text
    assert 'syncwatch_sli_value{sli="time_posting_first_pass"}' in text
    assert 'syncwatch_slo_objective{sli="time_posting_first_pass"} 0.97' in text
    assert 'syncwatch_dead_letter_backlog_messages{queue="q-time"} 1.0' in text
    # Every SLI says how much of what it considered it measured (the hand-built log classifies every record).
    assert 'syncwatch_sli_coverage_ratio{sli="time_posting_first_pass"} 1.0' in text
    assert text.count("syncwatch_sli_coverage_ratio{") == 14
    # Each stored snapshot's duration is observed: one more run, one more in the count.
    runs = _snapshot_runs(text)
    assert runs >= 1 and 'syncwatch_sli_snapshot_duration_seconds_bucket{le="60.0"}' in text
    collector.app.state.service.components[0].job.run()
    text = httpx.get(f"{collector.url}/metrics", headers=auth(tokens["read"]), timeout=30).text
    assert _snapshot_runs(text) >= runs + 1
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: make test installs the Debian prometheus package"
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def _promql(base: str, query: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=10).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_prometheus_scrapes_the_values_the_api_reports(
    collector: ThreadedCollector, tokens: Tokens, tmp_path: Path
) -> None:
    _seed(collector, tokens)
    api = httpx.get(f"{collector.url}/api/v1/slis", headers=auth(tokens["read"]), timeout=60).json()
    expected = {s["name"]: s for s in api["slis"]}

    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "syncwatch",
                "metrics_path": "/metrics",
                "authorization": {"type": "Bearer", "credentials": tokens["read"]},
                "static_configs": [{"targets": [collector.url.removeprefix("http://")]}],
            }
        ],
    }
    with running_prometheus(tmp_path, config) as base:
        deadline = time.monotonic() + 60
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            try:
                found = _promql(base, 'syncwatch_sli_value{sli="time_posting_first_pass"}')
            except (httpx.HTTPError, ValueError, AssertionError):  # not up yet: connection refused or 503 text
                found = []
            if found:
                break
            time.sleep(0.5)
        assert found, "Prometheus never scraped an SLI value"
        assert float(found[0]["value"][1]) == pytest.approx(expected["time_posting_first_pass"]["value"])
        budget = _promql(base, 'syncwatch_slo_error_budget_remaining_ratio{sli="time_posting_first_pass"}')
        assert float(budget[0]["value"][1]) == pytest.approx(
            expected["time_posting_first_pass"]["error_budget_remaining"]
        )
        dead = _promql(base, 'syncwatch_sli_value{sli="dead_letter_backlog"}')
        assert float(dead[0]["value"][1]) == pytest.approx(expected["dead_letter_backlog"]["value"], rel=1e-3)
        coverage = _promql(base, 'syncwatch_sli_coverage_ratio{sli="invoice_readiness_lag"}')
        assert float(coverage[0]["value"][1]) == pytest.approx(
            expected["invoice_readiness_lag"]["coverage"]["lowest_ratio"]
        )
        up = _promql(base, 'up{job="syncwatch"}')
        assert up and up[0]["value"][1] == "1"
