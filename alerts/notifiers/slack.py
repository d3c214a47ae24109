"""Slack incoming webhook: `text` (the fallback shown in notifications) plus Block Kit `blocks`.

Slack answers 200 "ok", or an error as a plain string (e.g. 404 "no_service", 400 "invalid_blocks").
"""

from __future__ import annotations

from typing import Any

import httpx

from alerts.errors import DeliveryFailed
from alerts.notifiers._http import post_json
from alerts.notifiers.base import AlertView, Message

__all__ = ["SlackNotifier", "slack_payload"]

_MAX_ALERT_BLOCKS = 10  # Slack allows 50 blocks; beyond ten alerts a message stops being read anyway
_EMOJI = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}


def _title(message: Message) -> str:
    firing, resolved = len(message.firing()), len(message.resolved())
    name = message.common_labels.get("alertname") or ", ".join(
        sorted({a.labels.get("alertname", "") for a in message.alerts})
    )
    if firing:
        return f"[FIRING:{firing}] {name}" + (f" ({resolved} resolved)" if resolved else "")
    return f"[RESOLVED] {name}"


def _alert_block(alert: AlertView) -> dict[str, Any]:
    mark = (
        ":white_check_mark:" if alert.status == "resolved" else _EMOJI.get(alert.labels.get("severity", ""), ":bell:")
    )
    summary = alert.annotations.get("summary", alert.labels.get("alertname", ""))
    runbook = alert.annotations.get("runbook_url")
    lines = [f"{mark} *{alert.labels.get('alertname', '')}* ({alert.status}): {summary}"]
    if runbook:
        lines.append(f"<{runbook}|Runbook>")
    if alert.acknowledged_by:
        lines.append(f"acknowledged by {alert.acknowledged_by}")
    return {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}}


def slack_payload(message: Message) -> dict[str, Any]:
    title = _title(message)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}}]
    blocks.extend(_alert_block(a) for a in message.alerts[:_MAX_ALERT_BLOCKS])
    if len(message.alerts) > _MAX_ALERT_BLOCKS:
        rest = len(message.alerts) - _MAX_ALERT_BLOCKS
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {rest} more"}]})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"receiver {message.receiver} · <{message.external_url}|SyncWatch>"}
            ],
        }
    )
    text = (
        title
        + "\n"
        + "\n".join(
            f"- {a.annotations.get('summary', a.labels.get('alertname', ''))}"
            for a in message.alerts[:_MAX_ALERT_BLOCKS]
        )
    )
    return {"text": text, "blocks": blocks}


class SlackNotifier:
    integration = "slack"

    def __init__(self, client: httpx.Client, url: str, *, send_resolved: bool = True) -> None:
        self.client, self.url, self.send_resolved = client, url, send_resolved

    def send(self, message: Message) -> None:
        response = post_json(self.client, self.url, slack_payload(message))
        if response.text.strip() not in ("ok", ""):
            raise DeliveryFailed(f"Slack answered {response.text[:200]!r}", retryable=False)
