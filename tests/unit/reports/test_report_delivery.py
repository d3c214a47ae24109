"""The weekly report's delivery rules on fixed values: the receivers file, the retry state after each attempt, the
messages each integration gets, and the week the schedule picks in the firm's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.config import Integration
from alerts.errors import ConfigError
from reports.archive import Archived
from reports.delivery import Attempt, Channel, load_receivers, next_state, report_email, slack_payload, webhook_payload
from reports.weeks import last_complete_week
from syncwatch.settings import Settings

NOW = datetime(2026, 11, 9, 7, 0, tzinfo=UTC)
REPORT = {
    "week": "2026-W45", "from": "2026-11-02T00:00:00Z", "to": "2026-11-09T00:00:00Z", "tenant": None,
    "firm": "Acme <&> Partners", "generated_at": "2026-11-09T07:00:00Z",
    "headline": [{"key": "first_pass", "label": "Posted on the first attempt", "text": "57.1%", "status": "breach",
                  "value": 0.571, "sentence": "57.1% of time entries were accepted <@here>"}],
}  # fmt: skip
ARCHIVED = Archived("2026-W45", "", "Acme <&> Partners", NOW, "0.1.0", 1, REPORT, b"%PDF-1.7 fake")


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "receivers.yaml"
    path.write_text(text)
    return path


def test_receivers_become_one_channel_per_integration_with_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPORT_HOOK", "https://hooks.example/T0/secret")
    channels = load_receivers(_file(tmp_path, """
receivers:
  - name: executives
    integrations:
      - {type: email, smtp_host: smtp.example, from: a@b.c, to: [cfo@b.c]}
      - {type: slack, url: "${REPORT_HOOK}"}
  - name: de-finance
    reports: [acme-de]
    integrations: [{type: webhook, url: "https://hooks.example/de"}]
"""))  # fmt: skip
    assert [(c.receiver, c.name) for c in channels] == [("executives", "email#0"), ("executives", "slack#1"),
                                                       ("de-finance", "webhook#0")]  # fmt: skip
    assert channels[1].spec.url == "https://hooks.example/T0/secret"
    assert channels[0].wants("") and not channels[0].wants("acme-de")
    assert channels[2].wants("acme-de") and not channels[2].wants("")


@pytest.mark.parametrize(
    ("text", "where", "field"),
    [
        ("receivers: [{name: cfo, integrations: [{type: pagerduty, routing_key: x}]}]", "receiver 'cfo'", "type"),
        ("receivers: [{name: cfo, integrations: [{type: slack, url: ftp://x}]}]", "receiver 'cfo'", "url"),
        ("receivers: [{name: cfo, when: monday}]", "receiver 'cfo'", "when"),
    ],
)
def test_a_wrong_receivers_file_names_the_receiver_and_the_field(
    tmp_path: Path, text: str, where: str, field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_receivers(_file(tmp_path, text))
    assert caught.value.where == where and caught.value.field.endswith(field), str(caught.value)


def test_a_failed_attempt_waits_twice_as_long_each_time_then_gives_up() -> None:
    assert load_receivers(None) == []  # no file: archived only
    hook = Channel("board", "webhook#0", ("all",), Integration(type="webhook", url="http://x"))
    failing = Attempt("HTTP 503: busy", retryable=True)
    first = next_state(None, ARCHIVED, hook, failing, NOW, max_attempts=3, retry_seconds=60)
    assert (first.status, first.attempts, first.next_attempt_at) == ("pending", 1, NOW + timedelta(seconds=60))
    second = next_state(first, ARCHIVED, hook, failing, NOW, max_attempts=3, retry_seconds=60)
    assert (second.status, second.next_attempt_at) == ("pending", NOW + timedelta(seconds=120))
    third = next_state(second, ARCHIVED, hook, failing, NOW, max_attempts=3, retry_seconds=60)
    assert (third.status, third.attempts, third.last_error) == ("failed", 3, "HTTP 503: busy")
    refused = next_state(None, ARCHIVED, hook, Attempt("HTTP 404: no_service"), NOW, max_attempts=3, retry_seconds=60)
    assert refused.status == "failed" and refused.attempts == 1  # no retry helps a refusal
    done = next_state(first, ARCHIVED, hook, Attempt(), NOW, max_attempts=3, retry_seconds=60)
    assert (done.status, done.delivered_at, done.attempts) == ("delivered", NOW, 2)


def test_the_email_carries_the_headline_escaped_and_the_pdf() -> None:
    sent = report_email(ARCHIVED, "a@b.c", ("cfo@b.c",), "http://x/r?format=pdf").as_bytes()
    mail = message_from_bytes(sent, policy=policy.default)
    assert mail["Subject"] == "SyncWatch weekly report 2026-W45 · Acme <&> Partners"
    parts = {p.get_content_type(): p for p in mail.walk() if not p.is_multipart()}
    text = parts["text/plain"].get_payload(decode=True).decode()
    assert "Posted on the first attempt: 57.1%" in text and "Mon 2 Nov 2026 to Sun 8 Nov 2026 (UTC)" in text
    html = parts["text/html"].get_payload(decode=True).decode()
    assert "Acme &lt;&amp;&gt; Partners" in html and "<@here>" not in html
    pdf = parts["application/pdf"]
    assert pdf.get_filename() == "syncwatch-weekly-2026-W45.pdf" and pdf.get_payload(decode=True) == ARCHIVED.pdf


def test_slack_and_webhook_get_the_headline_and_a_link() -> None:
    slack = slack_payload(ARCHIVED, "http://x/r?format=pdf")
    section = slack["blocks"][1]["text"]["text"]
    assert "*Posted on the first attempt*: 57.1%" in section
    assert "<http://x/r?format=pdf|The report (PDF)>" in slack["blocks"][2]["elements"][0]["text"]
    hook = webhook_payload(ARCHIVED, "http://x/r?format=pdf")
    assert hook["kind"] == "syncwatch.weekly_report" and hook["week"] == "2026-W45" and hook["tenant"] is None
    assert hook["links"]["json"] == "http://x/r?format=json" and hook["headline"][0]["text"] == "57.1%"


def test_the_last_complete_week_is_over_in_the_firms_zone_and_in_utc() -> None:
    berlin, auckland = ZoneInfo("Europe/Berlin"), ZoneInfo("Pacific/Auckland")
    # Monday 07:00 in Berlin: week 45 is over everywhere
    assert last_complete_week(datetime(2026, 11, 9, 6, 0, tzinfo=UTC), berlin) == (2026, 45)
    # Monday 07:00 in Auckland is Sunday 18:00 UTC: the UTC window of week 45 is still open, so week 44
    assert last_complete_week(datetime(2026, 11, 8, 18, 0, tzinfo=UTC), auckland) == (2026, 44)
    # Sunday 23:30 in New York is Monday 04:30 UTC: the firm's Sunday is not over
    assert last_complete_week(datetime(2026, 11, 9, 4, 30, tzinfo=UTC), ZoneInfo("America/New_York")) == (2026, 44)


@pytest.mark.parametrize(
    ("given", "kept"), [("Mon 07:00", "mon 07:00"), ("0", ""), ("", ""), ("fri  18:30", "fri 18:30")]
)
def test_the_schedule_setting_is_day_and_time_or_off(given: str, kept: str) -> None:
    assert Settings(report_schedule=given).report_schedule == kept


@pytest.mark.parametrize(("name", "value"), [("report_schedule", "monday at 7"), ("report_schedule", "mon 25:00"),
                                             ("report_timezone", "Mars/Olympus")])  # fmt: skip
def test_a_wrong_schedule_or_zone_is_refused_naming_it(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings(**{name: value})
