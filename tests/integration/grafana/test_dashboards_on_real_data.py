"""Every dashboard query runs for real: a simulated firm goes through a running collector, a real Prometheus
(Debian package, on loopback) scrapes its /metrics, and each panel's PromQL or SQL, with Grafana's substitutions
made (tests/grafana_dashboards.py), is asked of Prometheus's HTTP API or of the chDB warehouse. Parsing is not
enough: the SLO panels and the key record panels must return data. And on a collector that has just started and
received nothing, every stat panel shows a number (counters start at 0) and the scrape passes `promtool check
metrics`."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client
from prometheus_client.parser import text_string_to_metric_families

from syncwatch.tokens import create_token
from syncwatch.warehouse import apply_migrations, connect
from tests.conftest import ThreadedCollector, auth, make_settings
from tests.grafana_dashboards import dashboards, expand_promql, expand_sql, targets, variables
from tests.prometheus import running_prometheus

pytestmark = pytest.mark.integration
SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")


class Firm:
    def __init__(self, collector: ThreadedCollector, warehouse: Client, read_token: str) -> None:
        self.collector = collector
        self.warehouse = warehouse
        self.read_token = read_token


COLLECTOR_CODE = Path(__file__).parents[3] / "collector"


def _rejection_reasons() -> set[str]:
    """The first argument of every `Rejection("reason", ...)` call in the collector's code."""
    found = set()
    for path in COLLECTOR_CODE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Rejection" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(first.value)
    return found


def _rejected_batch() -> list[dict[str, Any]]:
    # No `source`, then a time far in the future: two quarantine reasons (docs/events.md).
    return [
        {"specversion": "1.0", "id": "bad-1", "type": "time_entry.posted", "data": {}},
        {"specversion": "1.0", "id": "bad-2", "source": "/psa/test", "type": "time_entry.posted",
         "time": "2099-01-01T00:00:00Z", "data": {}},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def firm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Firm]:
    tmp = tmp_path_factory.mktemp("grafana")
    settings = make_settings(tmp)
    warehouse = connect(settings)
    apply_migrations(warehouse, settings.retention_days)
    ingest = create_token(warehouse, "test-ingest", ["ingest"])[1]
    read = create_token(warehouse, "test-read", ["read"])[1]
    try:
        with ThreadedCollector(settings) as collector:
            # An ERP outage over the last day leaves approved entries unposted and moves the posting SLIs.
            done = subprocess.run(
                [SYNCWATCH, "simulate", "backfill", "--consultants", "40", "--days", "5", "--fault", "erp_outage@4",
                 "--base-url", collector.url, "--token", ingest],
                capture_output=True, text=True, timeout=600, cwd=tmp,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr[-2000:]
            headers = {**auth(ingest), "Content-Type": "application/cloudevents-batch+json"}
            httpx.post(f"{collector.url}/v1/events", json=_rejected_batch(), headers=headers, timeout=30)
            metrics, _, alerts = collector.service.components
            for _ in range(2):  # two snapshots: the history panels have a series, not a point
                metrics.job.run()
                alerts.engine.evaluate()
            deadline = time.monotonic() + 30  # the quarantine writer flushes on its own cadence
            while warehouse.query("SELECT count() FROM quarantine").result_rows[0][0] < 2:
                assert time.monotonic() < deadline, "rejections never reached the quarantine table"
                time.sleep(0.2)
            yield Firm(collector, warehouse, read)
    finally:
        warehouse.command(f"DROP DATABASE IF EXISTS `{settings.database}`")


@pytest.fixture(scope="module")
def prometheus(firm: Firm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("prometheus")
    (tmp / "token").write_text(firm.read_token)
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{
            "job_name": "syncwatch",  # the job name deploy/prometheus.yml gives the collector
            "authorization": {"type": "Bearer", "credentials_file": str(tmp / "token")},
            "static_configs": [{"targets": [firm.collector.url.removeprefix("http://")]}],
        }],
    }  # fmt: skip
    with running_prometheus(tmp, config) as base:
        # rate() needs two samples inside its range, and histogram_quantile a rate: wait for a few scrapes
        deadline = time.monotonic() + 60
        while _samples(base, "syncwatch_collector_warehouse_up[1m]") < 5:
            assert time.monotonic() < deadline, "Prometheus never scraped the collector"
            time.sleep(0.5)
        yield base


def _query(base: str, query: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=30).json()
    assert body["status"] == "success", (query, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _samples(base: str, range_query: str) -> int:
    result = _query(base, range_query)
    return len(result[0]["values"]) if result else 0


def _prometheus_values(base: str, dashboard: dict[str, Any]) -> dict[str, list[str]]:
    """Each template variable's values, from the label_values() query Grafana would run."""
    values: dict[str, list[str]] = {}
    for variable in variables(dashboard):
        metric, label = variable["query"].removeprefix("label_values(").rstrip(")").split(", ")
        answer = httpx.get(f"{base}/api/v1/label/{label}/values", params={"match[]": metric}, timeout=30).json()
        values[variable["name"]] = answer["data"]
        assert values[variable["name"]], f"variable {variable['name']} has no values"
    return values


def test_every_prometheus_panel_runs_and_the_slo_panels_have_data(prometheus: str) -> None:
    boards = dashboards()
    checked = 0
    for name in ("syncwatch-slos.json", "syncwatch-collector.json"):
        dashboard = boards[name]
        values = _prometheus_values(prometheus, dashboard)
        for panel, target in targets(dashboard):
            # A repeated panel runs once per value of its variable: check it with one value, as Grafana does.
            scoped = {**values, panel["repeat"]: values[panel["repeat"]][:1]} if "repeat" in panel else values
            expr = expand_promql(target["expr"], scoped)
            result = _query(prometheus, expr)
            checked += 1
            # Counters start at 0: a panel of something that has not happened yet still shows a line at 0.
            assert result, f"{name} / {panel['title']}: no data for {expr}"
    assert checked >= 25


def test_every_clickhouse_panel_runs_and_the_key_panels_have_rows(firm: Firm) -> None:
    dashboard = dashboards()["syncwatch-records.json"]
    values: dict[str, list[str]] = {}
    for variable in variables(dashboard):
        values[variable["name"]] = [row[0] for row in firm.warehouse.query(variable["query"]).result_rows]
        assert values[variable["name"]], f"variable {variable['name']} has no values"
    end = datetime.now(UTC)
    rows: dict[str, int] = {}
    for panel, target in targets(dashboard):
        sql = expand_sql(target["rawSql"], end - timedelta(days=7), end, values)
        result = firm.warehouse.query(sql)
        rows[panel["title"]] = len(result.result_rows)
        if panel["title"] == "Approved entries not posted":
            unposted = {row["entry"] for row in result.named_results()}
    # The panel reads events, the API the business state: over a range holding the whole firm they agree.
    api = httpx.get(f"{firm.collector.url}/api/v1/slis/time_posting_eventual/records", params={"limit": 1000},
                    headers=auth(firm.read_token), timeout=60).json()  # fmt: skip
    assert unposted == {r["key"] for r in api["records"]}
    # Probe findings need a probes file (docs/probes.md); their queries must run, and return nothing here.
    assert rows.pop("Latest probe findings") == rows.pop("Money in the latest findings") == 0
    empty = sorted(title for title, n in rows.items() if n == 0)
    assert empty == []


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadedCollector, str, str]]:
    """A collector that has just started and received nothing, scraped by a real Prometheus: (collector, read
    token, Prometheus URL)."""
    tmp = tmp_path_factory.mktemp("fresh")
    settings = make_settings(tmp)
    warehouse = connect(settings)
    apply_migrations(warehouse, settings.retention_days)
    read = create_token(warehouse, "test-read", ["read"])[1]
    (tmp / "token").write_text(read)
    try:
        with ThreadedCollector(settings) as collector:
            config = {
                "global": {"scrape_interval": "1s"},
                "scrape_configs": [{
                    "job_name": "syncwatch",
                    "authorization": {"type": "Bearer", "credentials_file": str(tmp / "token")},
                    "static_configs": [{"targets": [collector.url.removeprefix("http://")]}],
                }],
            }  # fmt: skip
            with running_prometheus(tmp, config) as base:
                # The first SLI snapshot runs at start; increase() and rate() need a few scrapes after it.
                deadline = time.monotonic() + 60
                while _samples(base, "syncwatch_sli_snapshot_timestamp_seconds[1m]") < 5:
                    assert time.monotonic() < deadline, "Prometheus never scraped a snapshot of the fresh collector"
                    time.sleep(0.5)
                yield collector, read, base
    finally:
        warehouse.command(f"DROP DATABASE IF EXISTS `{settings.database}`")


def test_every_stat_panel_shows_a_number_on_a_fresh_collector(fresh: tuple[ThreadedCollector, str, str]) -> None:
    _, _, base = fresh
    checked, empty = 0, []
    for name, dashboard in dashboards().items():
        for panel, target in targets(dashboard):
            if panel["type"] != "stat" or "expr" not in target:
                continue
            # Grafana's "All" for a variable: every value the metric has, or a regex matching anything.
            expr = expand_promql(target["expr"], {v["name"]: [".*"] for v in variables(dashboard)})
            checked += 1
            if not _query(base, expr):
                empty.append(f"{name} / {panel['title']}: {expr}")
    assert checked >= 8
    assert empty == [], "stat panels showing 'No data' on a healthy collector"


def test_a_fresh_scrape_is_lint_clean_and_every_counter_starts_at_zero(
    fresh: tuple[ThreadedCollector, str, str],
) -> None:
    collector, read, _ = fresh
    text = httpx.get(f"{collector.url}/metrics", headers=auth(read), timeout=30).text
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, "")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip
    assert not [name for name, _ in samples if name.endswith("_created")]
    # Every reason the collector can quarantine for, read from its code, is a series from the start.
    reasons = _rejection_reasons()
    assert len(reasons) >= 10
    for signal in ("event", "span"):
        for reason in reasons:
            key = ("syncwatch_collector_rejected_total", (("reason", reason), ("signal", signal)))
            assert samples.get(key) == 0, key
        for counter in ("received", "accepted", "deduplicated"):
            assert samples.get((f"syncwatch_collector_{counter}_total", (("signal", signal),))) == 0
    for table in ("events", "otel_traces", "quarantine"):
        for counter in ("insert_failures", "refused_rows", "spool_writes"):
            assert samples.get((f"syncwatch_collector_{counter}_total", (("table", table),))) == 0
        for series in ("queue_rows", "insert_duration_seconds_count", "batch_rows_count"):
            assert samples.get((f"syncwatch_collector_{series}", (("table", table),))) == 0
    for reason in ("rate_limit", "queue_full"):
        assert samples.get(("syncwatch_collector_throttled_requests_total", (("reason", reason),))) == 0
