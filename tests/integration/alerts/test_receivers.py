"""Each notifier against a real receiver on loopback, checked against the documented payload shapes: Slack
(text + blocks), PagerDuty Events v2 (dedup_key, resolve), SMTP (aiosmtpd), and a failing receiver that retries
and then shows as failing (metric and health), never silently."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from prometheus_client import CollectorRegistry

from alerts.dispatch import Dispatcher
from alerts.engine import AlertEngine
from alerts.notifiers.base import AlertView, Message, deliver
from alerts.notifiers.email import EmailNotifier
from alerts.notifiers.pagerduty import PagerDutyNotifier
from alerts.notifiers.slack import SlackNotifier
from alerts.notifiers.webhook import WebhookNotifier
from alerts.telemetry import register
from tests.conftest import free_port
from tests.unit.alerts.support import HttpReceiver

pytestmark = pytest.mark.integration
NOW = datetime(2025, 3, 12, 9, 0, tzinfo=UTC)


def _alert(status: str = "firing", fp: str = "a1b2c3d4e5f60718") -> AlertView:
    return AlertView(
        fingerprint=fp,
        status=status,
        labels={
            "alertname": "ApprovedTimeNotPosted",
            "severity": "critical",
            "team": "finance-systems",
            "system": "erp",
        },  # fmt: skip
        annotations={
            "summary": "37 approved entries worth USD 41,200 not posted for over 24 h on flow psa-to-erp-time",
            "description": "Records: TE-1 (USD 2,000)",
            "runbook_url": "https://runbooks.example/approved-not-posted",
        },
        starts_at=NOW,
        ends_at=NOW + timedelta(minutes=9) if status == "resolved" else None,
        generator_url="http://127.0.0.1:4318/api/v1/alerts",
    )


def _message(*alerts: AlertView) -> Message:
    status = "firing" if any(a.status == "firing" for a in alerts) else "resolved"
    return Message("oncall", '0.0:{alertname="ApprovedTimeNotPosted"}', status, alerts,
                   {"alertname": "ApprovedTimeNotPosted"}, "http://127.0.0.1:4318", NOW)  # fmt: skip


def test_slack_gets_text_and_blocks() -> None:
    with HttpReceiver(reply=b"ok") as slack, httpx.Client() as client:
        result = deliver(SlackNotifier(client, slack.url + "/services/T/B/X"), _message(_alert()))
        assert result.ok
        body = slack.received[0].body
        assert set(body) == {"text", "blocks"}
        assert body["text"].startswith("[FIRING:1] ApprovedTimeNotPosted") and "USD 41,200" in body["text"]
        header = {"type": "plain_text", "text": "[FIRING:1] ApprovedTimeNotPosted"}
        assert body["blocks"][0] == {"type": "header", "text": header}
        section = body["blocks"][1]
        assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
        assert "<https://runbooks.example/approved-not-posted|Runbook>" in section["text"]["text"]


def test_slack_plain_string_error_is_a_failure() -> None:
    with HttpReceiver(status=[400], reply=b"invalid_blocks") as slack, httpx.Client() as client:
        result = deliver(SlackNotifier(client, slack.url), _message(_alert()), sleep=lambda s: None)
        assert not result.ok and result.attempts == 1 and "400" in result.error  # 4xx: no retry


def test_pagerduty_trigger_then_resolve_share_the_dedup_key() -> None:
    with HttpReceiver(status=[202], reply=b'{"status":"success"}') as pd, httpx.Client() as client:
        notifier = PagerDutyNotifier(client, "R0UTINGKEY", url=pd.url + "/v2/enqueue")
        assert deliver(notifier, _message(_alert())).ok
        assert deliver(notifier, _message(_alert("resolved"))).ok
        trigger, resolve = pd.received[0].body, pd.received[1].body
        assert pd.received[0].path == "/v2/enqueue"
        assert trigger["routing_key"] == "R0UTINGKEY" and trigger["event_action"] == "trigger"
        assert trigger["dedup_key"] == resolve["dedup_key"] == "syncwatch/ApprovedTimeNotPosted/a1b2c3d4e5f60718"
        assert len(trigger["dedup_key"]) <= 255
        payload = trigger["payload"]
        assert payload["severity"] == "critical" and payload["source"] == "erp"
        assert payload["summary"].startswith("37 approved entries") and len(payload["summary"]) <= 1024
        assert payload["custom_details"]["labels"]["team"] == "finance-systems"
        assert resolve == {"routing_key": "R0UTINGKEY", "event_action": "resolve", "dedup_key": trigger["dedup_key"]}


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def test_email_over_smtp() -> None:
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        notifier = EmailNotifier("127.0.0.1", port, "syncwatch@acme.example", ("oncall@acme.example",))
        assert deliver(notifier, _message(_alert(), _alert("resolved", "ffff000011112222"))).ok
    finally:
        controller.stop()
    ((sender, rcpts, raw),) = inbox.messages
    assert sender == "syncwatch@acme.example" and rcpts == ["oncall@acme.example"]
    mail = message_from_bytes(raw)
    assert mail["Subject"] == "[FIRING:1] ApprovedTimeNotPosted"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in mail.walk() if not p.is_multipart()}
    assert "USD 41,200" in parts["text/plain"] and "Runbook: https://runbooks.example" in parts["text/plain"]
    assert "[RESOLVED] ApprovedTimeNotPosted" in parts["text/plain"]
    assert "<li><b>[FIRING] ApprovedTimeNotPosted</b>" in parts["text/html"]


def test_smtp_down_is_retried_then_reported() -> None:
    notifier = EmailNotifier("127.0.0.1", free_port(), "a@b.c", ("d@e.f",), timeout=2)
    waits: list[float] = []
    result = deliver(notifier, _message(_alert()), attempts=3, sleep=waits.append)
    assert not result.ok and result.attempts == 3 and waits == [0.5, 1.0]


def test_failing_webhook_retries_with_backoff_then_succeeds_and_health_shows_failures() -> None:
    from alerts.config import parse_config

    with HttpReceiver(status=[503, 503, 200]) as hook, httpx.Client() as client:
        started = time.monotonic()
        result = deliver(WebhookNotifier(client, hook.url), _message(_alert()), backoff=0.05)
        assert result.ok and result.attempts == 3 and time.monotonic() - started >= 0.15
    with HttpReceiver(status=[500]) as broken, httpx.Client() as client:
        config = parse_config("receivers: [{name: default}]")
        dispatcher = Dispatcher(
            config, {"default": [("webhook#0", WebhookNotifier(client, broken.url))]}, external_url="http://x",
            send=lambda n, m: deliver(n, m, attempts=2, sleep=lambda s: None),
        )  # fmt: skip
        from alerts.evaluate import Alert

        firing = Alert("fp1", "R", "firing", "critical", "t", {"alertname": "R"}, {"summary": "s"}, NOW, NOW)
        assert dispatcher.tick(NOW, {"fp1": firing}, [], {}) == []  # group_wait first
        records = dispatcher.tick(NOW + timedelta(seconds=30), {"fp1": firing}, [], {})
        assert [r.outcome for r in records] == ["failed"] and records[0].attempts == 2
        health = dispatcher.health[("default", "webhook#0")]
        assert health.consecutive_failures == 1 and "HTTP 500" in health.last_error
        # the group is retried soon, not after group_interval
        assert dispatcher.tick(NOW + timedelta(seconds=46), {"fp1": firing}, [], {})[0].outcome == "failed"
        registry = CollectorRegistry()

        class _Source:
            def sli_values(self, as_of: datetime) -> list[Any]:
                return []

            def probe_state(self, as_of: datetime) -> Any:
                from alerts.signals import ProbeState

                return ProbeState()

        register(registry, AlertEngine(config, _Source(), None, dispatcher))
        labels = {"receiver": "default", "integration": "webhook#0"}
        assert registry.get_sample_value("syncwatch_alert_notifier_consecutive_failures", labels) == 2
        assert registry.get_sample_value("syncwatch_alert_notifications_total", {**labels, "outcome": "failed"}) == 2
