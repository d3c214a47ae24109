"""Push to an existing Alertmanager (POST /api/v2/alerts), as Prometheus does: firing alerts carry an endsAt
a little past the next re-send, so Alertmanager resolves them by itself if SyncWatch stops; resolved alerts
carry their resolution time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from alerts.notifiers._http import post_json
from alerts.notifiers.base import Message

__all__ = ["AlertmanagerNotifier", "alertmanager_alerts"]


def alertmanager_alerts(message: Message, valid_for: timedelta) -> list[dict[str, Any]]:
    out = []
    for alert in message.alerts:
        ends = alert.ends_at if alert.status == "resolved" and alert.ends_at else message.now + valid_for
        out.append(
            {
                "labels": alert.labels,
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
        self, client: httpx.Client, url: str, *, valid_for: timedelta = timedelta(minutes=5), send_resolved: bool = True
    ) -> None:
        self.client, self.url, self.valid_for, self.send_resolved = client, url.rstrip("/"), valid_for, send_resolved

    def send(self, message: Message) -> None:
        post_json(self.client, f"{self.url}/api/v2/alerts", alertmanager_alerts(message, self.valid_for))
