"""Push to an existing Alertmanager (POST /api/v2/alerts), as Prometheus does: every firing alert is sent again
each `resend_interval` (the dispatcher does it, see alerts/dispatch.py) with `endsAt` = now + `valid_for`, a few
re-sends ahead, so Alertmanager keeps it active while SyncWatch does and resolves it by itself only if SyncWatch
stops; resolved alerts carry their real resolution time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from alerts.notifiers._http import post_json
from alerts.notifiers.base import Message, present_labels

__all__ = ["AlertmanagerNotifier", "alertmanager_alerts", "alertmanager_valid_for"]


def alertmanager_valid_for(evaluation_interval: float, resend_interval: float) -> timedelta:
    """Prometheus's validity of a pushed firing alert: 4 x max(evaluation interval, resend delay)."""
    return timedelta(seconds=4 * max(evaluation_interval, resend_interval))


def alertmanager_alerts(message: Message, valid_for: timedelta) -> list[dict[str, Any]]:
    out = []
    for alert in message.alerts:
        ends = alert.ends_at if alert.status == "resolved" and alert.ends_at else message.now + valid_for
        out.append(
            {
                "labels": present_labels(alert.labels),
                "annotations": alert.annotations,
                "startsAt": alert.starts_at.isoformat().replace("+00:00", "Z"),
                "endsAt": ends.isoformat().replace("+00:00", "Z"),
                "generatorURL": alert.generator_url,
            }
        )
    return out


class AlertmanagerNotifier:
    integration = "alertmanager"

    def __init__(
        self,
        client: httpx.Client,
        url: str,
        *,
        valid_for: timedelta = timedelta(minutes=4),
        resend_interval: float = 60.0,
        send_resolved: bool = True,
    ) -> None:
        self.client, self.url, self.valid_for, self.send_resolved = client, url.rstrip("/"), valid_for, send_resolved
        self.resend_interval = resend_interval

    def send(self, message: Message) -> None:
        post_json(self.client, f"{self.url}/api/v2/alerts", alertmanager_alerts(message, self.valid_for))
