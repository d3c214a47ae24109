"""Generic webhook: Alertmanager's version-4 payload, so anything that takes Alertmanager webhooks takes ours."""

from __future__ import annotations

import httpx

from alerts.notifiers._http import post_json
from alerts.notifiers.base import Message

__all__ = ["WebhookNotifier"]


class WebhookNotifier:
    integration = "webhook"

    def __init__(
        self, client: httpx.Client, url: str, *, headers: dict[str, str] | None = None, send_resolved: bool = True
    ) -> None:
        self.client, self.url, self.headers, self.send_resolved = client, url, headers or {}, send_resolved

    def send(self, message: Message) -> None:
        post_json(self.client, self.url, message.webhook_json(), headers=self.headers)
