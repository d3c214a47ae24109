"""The collector-health alert rules (deploy/collector-rules.yml) fire when they should and not before, as the real
Prometheus rule engine evaluates them (`promtool test rules`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration
RULES = Path(__file__).resolve().parents[2] / "deploy" / "collector-rules.yml"

CASES = {
    "rule_files": [str(RULES)],
    "evaluation_interval": "15s",
    "tests": [
        {
            "interval": "1m",
            "input_series": [
                # a spool that drains within minutes, then one stuck for good
                {
                    "series": 'syncwatch_collector_spool_oldest_age_seconds{instance="c1"}',
                    "values": "0 120 0 0 60 120 180 240 300 360 420 480 540",
                },  # noqa: E501
                {"series": 'syncwatch_collector_warehouse_up{instance="c1"}', "values": "1 0 1 1 0 0 0 0 0 0 0 0 0"},
                {
                    "series": 'syncwatch_collector_refused_rows_total{instance="c1",table="events"}',
                    "values": "0 0 0 0 0 3 3 3 3 3 3 3 3",
                },  # noqa: E501
            ],
            "alert_rule_test": [
                {"eval_time": "3m", "alertname": "SyncWatchSpoolBacklog", "exp_alerts": []},
                {"eval_time": "3m", "alertname": "SyncWatchWarehouseDown", "exp_alerts": []},
                {"eval_time": "3m", "alertname": "SyncWatchRowsRefused", "exp_alerts": []},
                {"eval_time": "10m", "alertname": "SyncWatchSpoolBacklog", "exp_alerts": []},  # 360 s, pending 1 min
                {
                    "eval_time": "12m",
                    "alertname": "SyncWatchSpoolBacklog",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "severity": "critical",
                                "team": "syncwatch",
                                "category": "pipeline",
                                "instance": "c1",
                            },  # noqa: E501
                            "exp_annotations": {
                                "summary": "SyncWatch spool backlog: the oldest batch on c1 has waited 9m 0s",
                                "description": yaml.safe_load(RULES.read_text())["groups"][0]["rules"][0][
                                    "annotations"
                                ]["description"],  # noqa: E501
                                "runbook_url": "https://runbooks.syncwatch.dev/spool-backlog",
                            },
                        }
                    ],
                },
                {
                    "eval_time": "10m",
                    "alertname": "SyncWatchWarehouseDown",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "severity": "critical",
                                "team": "syncwatch",
                                "category": "pipeline",
                                "instance": "c1",
                            },  # noqa: E501
                            "exp_annotations": {
                                "summary": "SyncWatch collector c1 cannot insert into the warehouse",
                                "runbook_url": "https://runbooks.syncwatch.dev/warehouse-down",
                            },
                        }
                    ],
                },
                {
                    "eval_time": "6m",
                    "alertname": "SyncWatchRowsRefused",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "severity": "warning",
                                "team": "syncwatch",
                                "category": "pipeline",
                                "instance": "c1",
                                "table": "events",
                            },  # noqa: E501
                            "exp_annotations": {
                                "summary": "SyncWatch: the warehouse refused 3 events rows in 15 minutes (quarantined, reason refused_by_warehouse)",  # noqa: E501
                                "runbook_url": "https://runbooks.syncwatch.dev/rows-refused",
                            },
                        }
                    ],
                },
            ],
        }
    ],
}


def test_collector_health_rules_fire_on_a_stuck_spool_a_down_warehouse_and_refused_rows(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: make test installs the Debian prometheus package"
    cases = tmp_path / "cases.yml"
    cases.write_text(yaml.safe_dump(CASES))
    done = subprocess.run([promtool, "test", "rules", str(cases)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr
