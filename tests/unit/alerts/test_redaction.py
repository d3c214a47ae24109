"""What a delivery URL looks like in a log line (syncwatch/logs.py redact_url, used by notifiers and probes)."""

from __future__ import annotations

import logging

import pytest

from syncwatch.logs import JsonFormatter, _RedactingFilter, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("https://hooks.slack.com/services/T1SECRET/B1SECRET/aBcD3fGh", "https://hooks.slack.com/services/***/***/***"),
        ("https://discord.com/api/webhooks/1234/tokenvalue", "https://discord.com/api/webhooks/***/***"),
        ("https://acme.webhook.office.com/webhookb2/g1@g2/IncomingWebhook/abc/g3",
         "https://acme.webhook.office.com/webhookb2/***/***/***/***"),
        ("http://user:pa55@alertmanager:9093/api/v2/alerts", "http://alertmanager:9093/api/v2/alerts"),
        ("https://hook.example/in?token=s3cret&team=ops#frag", "https://hook.example/in?token=***&team=***"),
        ("https://events.pagerduty.com/v2/enqueue", "https://events.pagerduty.com/v2/enqueue"),
        ("/api/records/7f3c9a77e2b14c1d9e55aa01?expand=1", "/api/records/***?expand=***"),
        ("/v1/projects/PRJ-1", "/v1/projects/PRJ-1"),
    ],
)  # fmt: skip
def test_redact_url(url: str, logged: str) -> None:
    assert redact_url(url) == logged


def test_free_text_and_the_handlers_last_resort() -> None:
    text = redact_text("ConnectError for http://a:b@h:1/x?k=v refused; again at https://h/services/T/B/C")
    assert text == "ConnectError for http://h:1/x?k=*** refused; again at https://h/services/***/***/***"
    args = ("http://h/?token=t0k",)
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "HTTP Request: POST %s", args, None)
    assert _RedactingFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "t0k" not in line and "token=***" in line
