"""No secret in any log line: every notifier (webhook, Slack, PagerDuty, email, Alertmanager) and a probe's HTTP
client deliver to real receivers on loopback, succeed and fail, with secrets planted in URL paths, query strings,
userinfo, headers, SMTP passwords and routing keys. Everything logged at DEBUG and INFO is captured: the records
in this process (caplog, with the logging set-up's third-party levels) and the JSON lines a separate process
writes to stderr after `configure_logging`, uvicorn's access log included.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from alerts.notifiers.alertmanager import AlertmanagerNotifier
from alerts.notifiers.base import AlertView, Message, deliver
from alerts.notifiers.email import EmailNotifier
from alerts.notifiers.pagerduty import PagerDutyNotifier
from alerts.notifiers.slack import SlackNotifier
from alerts.notifiers.webhook import WebhookNotifier
from probes.budget import BudgetLimits, Deadline, SystemBudget
from probes.errors import ProbeError
from probes.transport import CallScope, RetryPolicy, SystemClient
from syncwatch.logs import QUIET_LOGGERS, configure_logging, quiet_third_party
from tests.conftest import free_port
from tests.unit.alerts.support import HttpReceiver

pytestmark = pytest.mark.integration

SECRETS = {
    "slack_team": "T1SECRET",
    "slack_bot": "B1SECRET",
    "slack_key": "xSlackHookKey4417",
    "hook_token": "HookQueryToken5521",
    "hook_path": "0f3c9a77e2b14c1d9e55aa01b7c3d8e2",
    "header": "HeaderBearer7731",
    "user": "amuser9",
    "password": "UserinfoPassw0rd",
    "routing_key": "R0utingKeySecret99",
    "smtp_password": "SmtpPassw0rdSecret",
    "probe_token": "ProbeQuery7719Key",
}
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _message() -> Message:
    alert = AlertView("a1b2c3d4e5f60718", "firing", {"alertname": "ErpUnreachable", "severity": "critical"},
                      {"summary": "ERP unreachable"}, NOW, None, "http://127.0.0.1:4318/api/v1/alerts")  # fmt: skip
    return Message("oncall", "k", "firing", (alert,), {"alertname": "ErpUnreachable"}, "http://127.0.0.1:4318", NOW)


class _Inbox:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        return "250 accepted"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    return AuthResult(success=getattr(auth_data, "password", b"") == SECRETS["smtp_password"].encode())


@contextmanager
def _smtp() -> Iterator[int]:
    port = free_port()
    controller = Controller(_Inbox(), hostname="127.0.0.1", port=port, authenticator=_authenticator,
                            auth_require_tls=False)  # fmt: skip
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@contextmanager
def _access_logged_server() -> Iterator[str]:
    """A uvicorn server with its access log on, as a deployment might run one."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_config=None, access_log=True,
                            log_level="debug", lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    import threading
    import time

    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


def run_every_integration() -> list[bool]:
    """Deliver through each notifier once to a receiver that accepts and once to one that fails; the outcomes."""
    s = SECRETS
    outcomes = []
    no_wait = {"attempts": 2, "sleep": lambda _: None}
    with httpx.Client(timeout=5) as client:
        for status in ([200], [500]):
            with HttpReceiver(status=list(status)) as rx:
                slack = SlackNotifier(client, f"{rx.url}/services/{s['slack_team']}/{s['slack_bot']}/{s['slack_key']}")
                hook = WebhookNotifier(client, f"{rx.url}/hook/{s['hook_path']}?token={s['hook_token']}",
                                       headers={"Authorization": f"Bearer {s['header']}"})  # fmt: skip
                userinfo = rx.url.replace("http://", f"http://{s['user']}:{s['password']}@")
                am = AlertmanagerNotifier(client, userinfo)
                outcomes += [deliver(n, _message(), **no_wait).ok for n in (slack, hook, am)]
            with HttpReceiver(status=[202 if status == [200] else 500], reply=b'{"status":"success"}') as pd:
                pager = PagerDutyNotifier(client, s["routing_key"], url=f"{pd.url}/v2/enqueue")
                outcomes.append(deliver(pager, _message(), **no_wait).ok)
        # Nothing listening: the transport error's text is what gets logged.
        down = f"http://{s['user']}:{s['password']}@127.0.0.1:{free_port()}/services/{s['slack_team']}/x/y"
        outcomes.append(deliver(SlackNotifier(client, down), _message(), **no_wait).ok)
    with _smtp() as port:
        for password in (s["smtp_password"], s["smtp_password"] + "-wrong"):
            mail = EmailNotifier("127.0.0.1", port, "sw@acme.example", ("oncall@acme.example",),
                                 username="syncwatch", password=password, timeout=5)  # fmt: skip
            outcomes.append(deliver(mail, _message(), **no_wait).ok)
    with HttpReceiver(status=[404]) as target:
        budget = SystemBudget("erp", BudgetLimits(calls_per_hour=100, max_concurrency=2, max_rate_per_second=100))
        with httpx.Client(base_url=target.url.replace("http://", f"http://{s['user']}:{s['password']}@")) as http:
            probe = SystemClient("erp", http, budget, retry=RetryPolicy(max_retries=0))
            try:
                probe.post_json(CallScope(Deadline(10)), f"/api/x/{s['hook_path']}?key={s['probe_token']}", json={})
                outcomes.append(True)
            except ProbeError as exc:  # logged as the probe runner logs an outcome's error
                logging.getLogger("syncwatch.probes").warning("probe erp_check: failed after 1 calls: %s", exc)
                outcomes.append(False)
    with _access_logged_server() as url:
        assert httpx.get(f"{url}/api/v1/slis?token={s['hook_token']}", timeout=5).status_code == 204
    return outcomes


EXPECTED = [True, True, True, True, False, False, False, False, False, True, False, False]


def _leaks(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO])
def test_no_secret_reaches_a_log_record(level: int, caplog: pytest.LogCaptureFixture) -> None:
    saved = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    quiet_third_party()
    try:
        caplog.set_level(level)
        assert run_every_integration() == EXPECTED
    finally:
        for name, was in saved.items():
            logging.getLogger(name).setLevel(was)
    lines = [f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert any("failed" in line for line in lines), "the failures must have been logged for this test to mean much"
    assert not _leaks("\n".join(lines)), [line for line in lines if _leaks(line)]


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_no_secret_reaches_stderr_of_a_configured_process(level: str) -> None:
    done = subprocess.run([sys.executable, "-m", "tests.integration.alerts.test_no_secrets_in_logs", level],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"logger":"syncwatch.alerts"' in done.stderr and "HTTP 500" in done.stderr
    assert '"logger":"uvicorn.access"' in done.stderr and "token=***" in done.stderr  # access log on, redacted
    leaked = [line for line in (done.stdout + done.stderr).splitlines() if _leaks(line)]
    assert not leaked, leaked


def main(level: str) -> None:
    configure_logging(level)
    outcomes = run_every_integration()
    assert outcomes == EXPECTED, outcomes


if __name__ == "__main__":
    main(sys.argv[1])
