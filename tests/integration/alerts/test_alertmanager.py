"""The push path against a real Alertmanager (Debian prometheus-alertmanager) on loopback: SyncWatch pushes with
POST /api/v2/alerts, Alertmanager routes and delivers to a webhook receiver of ours, resolve included."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from alerts.notifiers.alertmanager import AlertmanagerNotifier
from alerts.notifiers.base import AlertView, Message, deliver
from tests.conftest import free_port
from tests.unit.alerts.support import HttpReceiver
from tests.waiting import serving

pytestmark = pytest.mark.integration


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, HttpReceiver]]:
    with HttpReceiver() as hook:
        config = tmp_path / "alertmanager.yml"
        config.write_text(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n"
            "  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n"
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
