"""PagerDuty Events API v2: one event per alert, `dedup_key` derived from the alert's fingerprint, so a resolve
(or an acknowledge) lands on the incident its trigger opened, across restarts too. 202 means accepted."""

from __future__ import annotations

from typing import Any

import httpx

from alerts.notifiers._http import post_json
from alerts.notifiers.base import AlertView, Message

__all__ = ["PAGERDUTY_EVENTS_URL", "PagerDutyNotifier", "dedup_key", "pagerduty_event"]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}


def dedup_key(alert: AlertView) -> str:
    return f"syncwatch/{alert.labels.get('alertname', '')}/{alert.fingerprint}"[:255]


def pagerduty_event(routing_key: str, alert: AlertView, message: Message) -> dict[str, Any]:
    if alert.status == "resolved":
        action = "resolve"
    elif alert.acknowledged_by:
        action = "acknowledge"
    else:
        action = "trigger"
    event: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key(alert)}
    if action == "trigger":
        event["payload"] = {
            "summary": alert.annotations.get("summary", alert.labels.get("alertname", "alert"))[:1024],
            "source": alert.labels.get("system") or alert.labels.get("flow") or "syncwatch",
            "severity": _SEVERITY.get(alert.labels.get("severity", ""), "error"),
            "timestamp": alert.starts_at.isoformat().replace("+00:00", "Z"),
            "component": alert.labels.get("sli") or alert.labels.get("probe") or alert.labels.get("finding", ""),
            "group": alert.labels.get("team", ""),
            "class": alert.labels.get("alertname", ""),
            "custom_details": {"labels": alert.labels, "description": alert.annotations.get("description", "")},
        }
        event["client"] = "SyncWatch"
        event["client_url"] = message.external_url
        if alert.annotations.get("runbook_url"):
            event["links"] = [{"href": alert.annotations["runbook_url"], "text": "Runbook"}]
    return event


class PagerDutyNotifier:
    integration = "pagerduty"

    def __init__(
        self, client: httpx.Client, routing_key: str, *, url: str = PAGERDUTY_EVENTS_URL, send_resolved: bool = True
    ) -> None:
        self.client, self.routing_key, self.url, self.send_resolved = client, routing_key, url, send_resolved

    def send(self, message: Message) -> None:
        for alert in message.alerts:
            post_json(self.client, self.url, pagerduty_event(self.routing_key, alert, message), ok=(200, 202))
