"""The push path against a real Alertmanager (Debian prometheus-alertmanager) on loopback: SyncWatch pushes with
POST /api/v2/alerts, Alertmanager routes and delivers to a webhook receiver of ours, resolve included; and the
webhook SyncWatch posts itself is the one Alertmanager posts for the same alert."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from alerts.component import build_engine
from alerts.config import parse_config
from alerts.engine import AlertEngine
from alerts.notifiers.alertmanager import AlertmanagerNotifier
from alerts.notifiers.base import AlertView, Message, deliver
from alerts.store import AlertStore
from alerts.warehouse_signals import WarehouseSignals
from syncwatch.settings import Settings
from tests.conftest import free_port
from tests.unit.alerts.support import HttpReceiver, ensure_signal_tables, insert_probe_run
from tests.waiting import serving

pytestmark = pytest.mark.integration


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, HttpReceiver]]:
    with HttpReceiver() as hook:
        config = tmp_path / "alertmanager.yml"
        config.write_text(
            "route:\n  receiver: default\n  group_by: [alertname, target_system]\n"
            "  group_wait: 1s\n  group_interval: 1s\n"
            "  repeat_interval: 1h\nreceivers:\n  - name: default\n    webhook_configs:\n"
            f"      - url: {hook.url}/am\n        send_resolved: true\n"
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        args = ["prometheus-alertmanager", f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"]  # fmt: skip
        with serving(args, f"{url}/-/ready", what="alertmanager", timeout=30, stdout=subprocess.DEVNULL,
                     stderr=subprocess.PIPE):  # fmt: skip
            yield url, hook


def _wait(hook: HttpReceiver, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(hook.received) < n and time.monotonic() < deadline:
        time.sleep(0.2)


def test_pushed_alerts_reach_alertmanager_and_its_webhook(alertmanager: tuple[str, HttpReceiver]) -> None:
    url, hook = alertmanager
    now = datetime.now(UTC)
    alert = AlertView(
        fingerprint="0123456789abcdef",
        status="firing",
        labels={"alertname": "ErpUnreachable", "severity": "critical", "team": "finance-systems", "system": "erp"},
        annotations={"summary": "ERP unreachable: probe time_posting ended timeout", "runbook_url": "https://r/erp"},
        starts_at=now - timedelta(seconds=30),
        ends_at=None,
        generator_url="http://127.0.0.1:4318/api/v1/alerts",
    )
    with httpx.Client(timeout=5) as client:
        notifier = AlertmanagerNotifier(client, url, valid_for=timedelta(minutes=5))
        assert deliver(notifier, Message("default", "k", "firing", (alert,), {}, "http://x", now)).ok
        listed = httpx.get(f"{url}/api/v2/alerts", timeout=5).json()
        assert [a["labels"]["alertname"] for a in listed] == ["ErpUnreachable"]
        assert listed[0]["annotations"]["summary"].startswith("ERP unreachable")
        _wait(hook, 1)
        body = hook.received[0].body
        assert hook.received[0].path == "/am" and body["version"] == "4" and body["status"] == "firing"
        assert body["alerts"][0]["labels"]["team"] == "finance-systems"
        resolved = AlertView(**{**alert.__dict__, "status": "resolved", "ends_at": datetime.now(UTC)})
        later = datetime.now(UTC)
        assert deliver(notifier, Message("default", "k", "resolved", (resolved,), {}, "http://x", later)).ok
        _wait(hook, 2)
        assert [r.body["status"] for r in hook.received][-1] == "resolved"


# Seconds, as short as the test allows: Prometheus's 15 s / 1 min scaled down.
EVALUATION, RESEND = 1.0, 2.0
VALIDITY = 4 * max(EVALUATION, RESEND)
RULES = """
rules:
  - name: ErpUnreachable
    kind: probe_outcome
    probe: erp_reachability
    system: erp
    outcomes: [failed, timeout]
    for: 0s
    severity: critical
    team: finance-systems
    runbook_url: https://runbooks.syncwatch.dev/erp-unreachable
    labels: {category: system_unreachable}
    summary: "ERP unreachable: probe {{ probe }} ended {{ outcome }}"
route: {receiver: default, group_by: [alertname, target_system], group_wait: 1s, group_interval: 1s,
        repeat_interval: 1h}
receivers:
  - name: default
    integrations: [{type: alertmanager, url: "%s"}, {type: webhook, url: "%s/direct"}]
"""


def _run(engine: AlertEngine, seconds: float, am_url: str | None = None) -> list[float]:
    """Evaluate and dispatch in real time, as the scheduler does; returns how long each alert Alertmanager holds
    stays valid from each moment it was looked at."""
    left: list[float] = []
    deadline = time.monotonic() + seconds
    next_eval = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_eval:
            engine.evaluate()
            next_eval = time.monotonic() + EVALUATION
        engine.dispatch()
        if am_url is not None:
            for a in httpx.get(f"{am_url}/api/v2/alerts", params={"active": "true"}, timeout=5).json():
                ends = datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00"))
                left.append((ends - datetime.now(UTC)).total_seconds())
        time.sleep(0.25)
    return left


def test_a_long_firing_alert_is_one_page_and_one_resolve_through_alertmanager(
    alertmanager: tuple[str, HttpReceiver], settings: Settings, warehouse: Client
) -> None:
    url, hook = alertmanager
    ensure_signal_tables(warehouse)
    settings = settings.model_copy(
        update={"alerts_evaluation_interval_seconds": EVALUATION, "alerts_alertmanager_resend_delay_seconds": RESEND}
    )
    engine = build_engine(
        settings, parse_config(RULES % (url, hook.url)), WarehouseSignals(warehouse), AlertStore(warehouse),
        httpx.Client(timeout=5),
    )  # fmt: skip
    engine.start()
    insert_probe_run(warehouse, datetime.now(UTC), "erp_reachability", "erp", "failed", error="erp: timeout")
    # Firing for several times the validity of one push: only the re-sends keep Alertmanager from resolving it.
    left = _run(engine, 4 * VALIDITY, url)
    assert [a["state"] for a in engine.public_alerts()] == ["firing"]
    assert left and min(left) > 0, "Alertmanager let the alert expire while SyncWatch showed it firing"
    assert max(left) <= VALIDITY + 1, f"pushed with endsAt {max(left):.0f} s ahead, not 4 x max(eval, resend)"
    am = [r.body for r in hook.received if r.path == "/am"]
    direct = [r.body for r in hook.received if r.path == "/direct"]
    assert [b["status"] for b in am] == ["firing"]
    assert [b["status"] for b in direct] == ["firing"], "a webhook must not be told again at every re-send"

    insert_probe_run(warehouse, datetime.now(UTC), "erp_reachability", "erp", "ok")
    _run(engine, 4)
    am = [r.body for r in hook.received if r.path == "/am"]
    direct = [r.body for r in hook.received if r.path == "/direct"]
    assert [b["status"] for b in am] == ["firing", "resolved"]
    assert [b["status"] for b in direct] == ["firing", "resolved"]
    assert am[1]["alerts"][0]["endsAt"] == direct[1]["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    # Field by field, what SyncWatch posts is what Alertmanager posts; the group key and the external URL name
    # each system's own route and address.
    for ours, theirs in zip(direct, am, strict=True):
        assert "target_system" not in ours["groupLabels"] and "target_system" not in ours["commonLabels"]
        assert ours.keys() == theirs.keys()
        assert {k: v for k, v in ours.items() if k not in ("groupKey", "externalURL")} == {
            k: v for k, v in theirs.items() if k not in ("groupKey", "externalURL")
        }
