"""The alerts API and CLI on the real collector (component mounted, jobs scheduled): scopes, alerts, history,
silences (create, list, expire), acknowledgement, receivers' health, and the stage's /metrics series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client
from typer.testing import CliRunner

from syncwatch.cli import app
from tests.conftest import ThreadedCollector, Tokens, auth
from tests.unit.alerts.support import insert_probe_run

pytestmark = pytest.mark.integration


def _engine(collector: ThreadedCollector) -> Any:
    (component,) = [c for c in collector.service.components if c.name == "alerts"]
    return component.engine


def test_alerts_api_end_to_end(collector: ThreadedCollector, tokens: Tokens, warehouse: Client) -> None:
    now = datetime.now(UTC)
    findings = [{"kind": "approved_not_posted", "object_id": f"TE-{i}", "project_code": "PRJ-4", "amount": 250,
                 "age_seconds": 40 * 3600} for i in range(25)]  # fmt: skip
    insert_probe_run(warehouse, now, "time_posting", "erp", "mismatch", findings)
    _engine(collector).evaluate()
    base = collector.url + "/api/v1"
    with httpx.Client(timeout=30) as http:
        assert http.get(f"{base}/alerts").status_code == 401
        body = http.get(f"{base}/alerts", headers=auth(tokens["read"])).json()
        posting = [a for a in body["alerts"] if a["rule"] == "ApprovedTimeNotPosted"]
        assert len(posting) == 1
        alert = posting[0]
        assert alert["state"] == "firing" and alert["severity"] == "critical" and alert["team"] == "finance-systems"
        assert alert["annotations"]["summary"].startswith("25 approved entries worth USD 6,250 not posted")
        assert alert["annotations"]["runbook_url"].startswith("https://")
        assert set(alert) >= {"fingerprint", "rule", "state", "severity", "team", "labels", "annotations",
                              "active_since", "value", "acknowledged_by"}  # fmt: skip
        firing = http.get(f"{base}/alerts", params={"state": "firing"}, headers=auth(tokens["read"])).json()
        assert all(a["state"] == "firing" for a in firing["alerts"])

        history = http.get(f"{base}/alerts/history", params={"limit": 50}, headers=auth(tokens["read"])).json()
        assert any(h["rule"] == "ApprovedTimeNotPosted" and h["to_state"] == "firing" for h in history["history"])

        fp = alert["fingerprint"]
        assert http.post(f"{base}/alerts/{fp}/ack", headers=auth(tokens["read"])).status_code == 403
        acked = http.post(f"{base}/alerts/{fp}/ack", json={"comment": "on it"}, headers=auth(tokens["admin"]))
        assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "test-admin"
        again = http.get(f"{base}/alerts", headers=auth(tokens["read"])).json()["alerts"]
        assert [a["acknowledged_by"] for a in again if a["fingerprint"] == fp] == ["test-admin"]
        assert http.post(f"{base}/alerts/nope/ack", headers=auth(tokens["admin"])).status_code == 404

        silence = {
            "matchers": [{"name": "alertname", "value": "ApprovedTimeNotPosted", "is_regex": False}],
            "ends_at": (now + timedelta(hours=2)).isoformat(),
            "created_by": "alice",
            "comment": "ERP upgrade window",
        }
        assert http.post(f"{base}/silences", json=silence, headers=auth(tokens["read"])).status_code == 403
        created = http.post(f"{base}/silences", json=silence, headers=auth(tokens["admin"]))
        assert created.status_code == 201 and created.json()["state"] == "active"
        sid = created.json()["id"]
        bad = {**silence, "ends_at": (now - timedelta(hours=1)).isoformat()}
        assert http.post(f"{base}/silences", json=bad, headers=auth(tokens["admin"])).status_code == 422
        listed = http.get(f"{base}/silences", headers=auth(tokens["read"])).json()["silences"]
        assert [s["id"] for s in listed if s["state"] == "active"] == [sid]
        _engine(collector).dispatch()
        silenced = http.get(f"{base}/alerts", headers=auth(tokens["read"])).json()["alerts"]
        assert [a["silenced_by"] for a in silenced if a["fingerprint"] == fp] == [sid]
        expired = http.delete(f"{base}/silences/{sid}", headers=auth(tokens["admin"]))
        assert expired.status_code == 200 and expired.json()["state"] == "expired"
        assert http.delete(f"{base}/silences/missing", headers=auth(tokens["admin"])).status_code == 404

        health = http.get(f"{base}/alerts/receivers", headers=auth(tokens["read"])).json()
        assert health["evaluation"]["evaluations"] >= 1 and health["evaluation"]["interval_seconds"] == 15
        rules = http.get(f"{base}/alerts/rules", headers=auth(tokens["read"])).json()["rules"]
        assert {r["name"] for r in rules} >= {"ApprovedTimeNotPosted", "FlowSilent", "TimePostingFirstPassBurnRate1h"}
        metrics = http.get(collector.url + "/metrics", headers=auth(tokens["read"])).text
        assert 'syncwatch_alerts{severity="critical",state="firing"}' in metrics
        assert "syncwatch_alert_evaluations_total" in metrics

    runner = CliRunner(env={"COLUMNS": "300"})
    listed_cli = runner.invoke(app, ["alerts", "list", "--url", collector.url, "--token", tokens["read"]])
    assert listed_cli.exit_code == 0, listed_cli.output
    assert "ApprovedTimeNotPosted" in listed_cli.output
    made = runner.invoke(app, ["alerts", "silence", "create", "-m", 'target_system="erp"', "--duration", "30m",
                               "--comment", "cli test", "--by", "bob", "--url", collector.url,
                               "--token", tokens["admin"]])  # fmt: skip
    assert made.exit_code == 0, made.output
    new_id = made.output.strip().splitlines()[0]
    gone = runner.invoke(app, ["alerts", "silence", "expire", new_id, "--url", collector.url, "--token",
                               tokens["admin"]])  # fmt: skip
    assert gone.exit_code == 0 and "expired" in gone.output
