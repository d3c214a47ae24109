"""Text that came from events (labels, annotations) arrives as text: Slack gets no mention, link or channel
reference out of it, and the email's HTML part no markup or script link. Delivered to real receivers on loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from alerts.notifiers.base import AlertView, Message, deliver
from alerts.notifiers.email import EmailNotifier
from alerts.notifiers.slack import SlackNotifier, escape
from tests.conftest import free_port
from tests.unit.alerts.support import HttpReceiver

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> @here <https://evil.example/x|click> & <@U123> <#C99> a<b>c @everyone"


def _message() -> Message:
    alert = AlertView(
        fingerprint="f00d",
        status="firing",
        labels={"alertname": "DeadLetters <!here>", "severity": "critical", "queue": HOSTILE},
        annotations={"summary": f"backlog on {HOSTILE}", "runbook_url": "javascript:alert(1)//<!channel>"},
        starts_at=NOW,
        ends_at=None,
        generator_url="http://127.0.0.1:4318/api/v1/alerts",
        acknowledged_by="<!subteam^S1> @channel",
    )
    return Message("oncall <!channel>", "k", "firing", (alert,), {}, "http://127.0.0.1:4318", NOW)


def _mrkdwn_texts(body: dict[str, Any]) -> list[str]:
    texts = [body["text"]]
    for block in body["blocks"]:
        if block.get("text", {}).get("type") == "mrkdwn":
            texts.append(block["text"]["text"])
            assert block["text"]["verbatim"] is True
        for element in block.get("elements", []):
            if element.get("type") == "mrkdwn":
                texts.append(element["text"])
                assert element["verbatim"] is True
    return texts


def test_slack_receives_event_text_escaped() -> None:
    with HttpReceiver(reply=b"ok") as slack, httpx.Client() as client:
        assert deliver(SlackNotifier(client, slack.url + "/services/T/B/X"), _message()).ok
        body = slack.received[0].body
    texts = _mrkdwn_texts(body)
    everything = "\n".join(texts)
    for markup in ("<!channel>", "<!here>", "<https://evil", "<@U123>", "<#C99>", "<!subteam", "<javascript"):
        assert markup not in everything, markup
    # Slack shows the escaped characters as themselves; bare mentions carry a zero-width space.
    assert "&lt;!channel&gt;" in everything and "&amp;" in everything and "a&lt;b&gt;c" in everything
    for mention in ("@here", "@channel", "@everyone"):
        assert mention not in everything and mention.replace("@", "@\u200b") in everything
    assert "<http://127.0.0.1:4318|SyncWatch>" in everything  # our own link still works
    # Only `<` opens markup in mrkdwn: every `<` left is one of ours.
    assert all(t.count("<") == t.count("<http://127.0.0.1:4318|") for t in texts), texts
    assert json.dumps(body["blocks"][0]) == json.dumps(
        {"type": "header", "text": {"type": "plain_text", "text": "[FIRING:1] DeadLetters <!here>"}}
    )  # plain_text is never parsed: shown as sent


def test_escape_follows_slacks_three_rules() -> None:
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert escape("&lt;") == "&amp;lt;"  # already-escaped text stays literal
    assert escape("mail ops@hereford.example") == "mail ops@hereford.example"


class _Inbox:
    def __init__(self) -> None:
        self.raw: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.raw.append(envelope.content)
        return "250 accepted"


def test_email_html_part_carries_no_markup_from_events() -> None:
    inbox, port = _Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        message = _message()
        alert = AlertView(**{**message.alerts[0].__dict__, "labels": {"alertname": "A\r\nBcc: x@evil.example"}})
        hostile = Message(message.receiver, "k", "firing", (message.alerts[0], alert), {}, message.external_url, NOW)
        assert deliver(EmailNotifier("127.0.0.1", port, "sw@acme.example", ("oncall@acme.example",)), hostile).ok
    finally:
        controller.stop()
    mail = message_from_bytes(inbox.raw[0])
    assert mail["Bcc"] is None and "\n" not in mail["Subject"]
    html = next(p.get_payload(decode=True).decode() for p in mail.walk() if p.get_content_type() == "text/html")
    assert "<!channel>" not in html and "&lt;!channel&gt;" in html
    assert "<https://evil" not in html and "javascript:" not in html.split("<a ")[-1]
    assert 'href="javascript' not in html
