"""Build the notifier for one configured integration."""

from __future__ import annotations

from datetime import timedelta

import httpx

from alerts.config import Integration
from alerts.notifiers.alertmanager import AlertmanagerNotifier
from alerts.notifiers.base import Notifier
from alerts.notifiers.email import EmailNotifier
from alerts.notifiers.pagerduty import PAGERDUTY_EVENTS_URL, PagerDutyNotifier
from alerts.notifiers.slack import SlackNotifier
from alerts.notifiers.webhook import WebhookNotifier

__all__ = ["build_notifier"]


def build_notifier(
    spec: Integration, client: httpx.Client, *, alertmanager_valid_for: timedelta, alertmanager_resend: float = 60.0
) -> Notifier:
    if spec.type == "webhook":
        return WebhookNotifier(client, spec.url, headers=dict(spec.headers), send_resolved=spec.send_resolved)
    if spec.type == "slack":
        return SlackNotifier(client, spec.url, send_resolved=spec.send_resolved)
    if spec.type == "pagerduty":
        return PagerDutyNotifier(
            client, spec.routing_key, url=spec.url or PAGERDUTY_EVENTS_URL, send_resolved=spec.send_resolved
        )
    if spec.type == "alertmanager":
        return AlertmanagerNotifier(
            client, spec.url, valid_for=alertmanager_valid_for, resend_interval=alertmanager_resend, send_resolved=True
        )
    return EmailNotifier(
        spec.smtp_host,
        spec.smtp_port,
        spec.sender,
        spec.to,
        starttls=spec.starttls,
        username=spec.username,
        password=spec.password,
        timeout=spec.timeout,
        send_resolved=spec.send_resolved,
    )
