"""Slack incoming webhook: `text` (the fallback shown in notifications) plus Block Kit `blocks`.

Slack answers 200 "ok", or an error as a plain string (e.g. 404 "no_service", 400 "invalid_blocks").

Labels and annotations carry text from events, which Slack would read as markup: `<!channel>` pages a whole
channel, `<https://evil|click>` disguises a link. Every such piece is escaped as Slack documents (&amp; &lt; &gt;,
https://api.slack.com/reference/surfaces/formatting#escaping), bare @here/@channel/@everyone are broken with a
zero-width space, and mrkdwn objects are `verbatim` so nothing else is auto-linked.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from alerts.errors import DeliveryFailed
from alerts.notifiers._http import post_json
from alerts.notifiers.base import AlertView, Message

__all__ = ["SlackNotifier", "escape", "slack_payload"]

_MAX_ALERT_BLOCKS = 10  # Slack allows 50 blocks; beyond ten alerts a message stops being read anyway
_MENTION = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)


def escape(text: str) -> str:
    """Untrusted text as literal mrkdwn: no mention, link or channel reference survives."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@\u200b\\1", text)


def _link(url: str, label: str) -> str:
    """A link only to http(s); anything else is shown, escaped, as text."""
    if not url.lower().startswith(("https://", "http://")):
        return escape(url)
    return f"<{escape(url).replace('|', '%7C')}|{escape(label)}>"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


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
    summary = escape(alert.annotations.get("summary", alert.labels.get("alertname", "")))
    runbook = alert.annotations.get("runbook_url")
    lines = [f"{mark} *{escape(alert.labels.get('alertname', ''))}* ({escape(alert.status)}): {summary}"]
    if runbook:
        lines.append(_link(runbook, "Runbook"))
    if alert.acknowledged_by:
        lines.append(f"acknowledged by {escape(alert.acknowledged_by)}")
    return {"type": "section", "text": _mrkdwn("\n".join(lines)[:3000])}


def slack_payload(message: Message) -> dict[str, Any]:
    title = _title(message)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}}]
    blocks.extend(_alert_block(a) for a in message.alerts[:_MAX_ALERT_BLOCKS])
    if len(message.alerts) > _MAX_ALERT_BLOCKS:
        rest = len(message.alerts) - _MAX_ALERT_BLOCKS
        blocks.append({"type": "context", "elements": [_mrkdwn(f"and {rest} more")]})
    blocks.append(
        {
            "type": "context",
            "elements": [_mrkdwn(f"receiver {escape(message.receiver)} · {_link(message.external_url, 'SyncWatch')}")],
        }
    )
    # The fallback `text` is mrkdwn too (notifications, screen readers): escaped the same way.
    text = (
        escape(title)
        + "\n"
        + "\n".join(
            f"- {escape(a.annotations.get('summary', a.labels.get('alertname', '')))}"
            for a in message.alerts[:_MAX_ALERT_BLOCKS]
        )
    )
    return {"text": text, "blocks": blocks}


class SlackNotifier:
    integration = "slack"

    def __init__(self, client: httpx.Client, url: str, *, send_resolved: bool = True) -> None:
        self.client, self.url, self.send_resolved = client, url, send_resolved

    def send(self, message: Message) -> None:
        self.post(slack_payload(message))

    def post(self, payload: dict[str, Any]) -> None:
        """One attempt to post a payload built elsewhere (the weekly report's headline)."""
        response = post_json(self.client, self.url, payload)
        if response.text.strip() not in ("ok", ""):
            raise DeliveryFailed(f"Slack answered {response.text[:200]!r}", retryable=False)
