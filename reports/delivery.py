"""Delivering archived weekly reports through the alert notifiers: email with the PDF attached and the headline in
the body (text and HTML), Slack and webhook with the headline and a link to the report.

Who gets which report is a YAML file (SYNCWATCH_REPORT_RECEIVERS_FILE) in the style of the alert receivers, whose
integrations it reuses (alerts/config.py `Integration`; `${NAME}` reads an environment variable, for secrets):

    receivers:
      - name: executives
        reports: [all]              # all: the all-tenants report; or legal entities (tenants), e.g. [acme-de]
        integrations:
          - {type: email, smtp_host: smtp.acme.example, from: syncwatch@acme.example, to: [cfo@acme.example]}
          - {type: slack, url: "${SLACK_EXECUTIVES_URL}"}

One attempt is one `send`; a failure is an outcome (`attempted`), retried by the next scheduler ticks with a
doubling wait until the attempts are used up (`next_state`). Errors are redacted of URLs before they are logged or
stored: delivery URLs carry credentials.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alerts.config import Integration, substitute_env
from alerts.errors import ConfigError, DeliveryFailed
from alerts.notifiers._http import post_json
from alerts.notifiers.email import EmailNotifier
from alerts.notifiers.slack import SlackNotifier, escape
from reports.archive import Archived, DeliveryState
from syncwatch.logs import redact_text

__all__ = [
    "ALL",
    "Attempt",
    "Channel",
    "attempt",
    "headline_lines",
    "load_receivers",
    "next_state",
    "report_email",
    "report_link",
    "slack_payload",
    "webhook_payload",
]

ALL = "all"  # the all-tenants report, in a receiver's `reports`
_KINDS = ("email", "slack", "webhook")


class _Receiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    reports: tuple[str, ...] = (ALL,)
    integrations: tuple[Integration, ...] = ()

    @field_validator("integrations")
    @classmethod
    def _kinds(cls, value: tuple[Integration, ...]) -> tuple[Integration, ...]:
        for spec in value:
            if spec.type not in _KINDS:
                raise ValueError(f"type: {spec.type!r} does not take reports; use one of {', '.join(_KINDS)}")
        return value


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    receivers: tuple[_Receiver, ...] = ()


@dataclass(frozen=True)
class Channel:
    """One integration of one receiver: where a report goes. `name` is its type and place, e.g. email#0."""

    receiver: str
    name: str
    reports: tuple[str, ...]
    spec: Integration

    def wants(self, tenant: str) -> bool:
        return (tenant or ALL) in self.reports


def load_receivers(path: Path | None) -> list[Channel]:
    """The channels of a receivers file (none without one); ConfigError naming the receiver and the field."""
    if path is None:
        return []
    try:
        raw = substitute_env(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        parsed = _File.model_validate(raw)
    except OSError as exc:
        raise ConfigError(f"file {path}", "-", f"cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"file {path}", "-", f"not valid YAML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        where = f"file {path}"
        if len(loc) >= 2 and loc[0] == "receivers" and loc[1].isdigit():
            item = (raw.get("receivers") or [])[int(loc[1])]
            where = f"receiver {item.get('name')!r}" if isinstance(item, dict) and item.get("name") else where
            loc = loc[2:]
        message = first["msg"].removeprefix("Value error, ")
        named = re.match(r"^([a-z_]+): (.*)$", message, re.S)
        if named:
            loc, message = [*loc, named[1]], named[2]
        raise ConfigError(where, ".".join(loc) or "-", message) from None
    return [
        Channel(r.name, f"{spec.type}#{i}", r.reports, spec)
        for r in parsed.receivers
        for i, spec in enumerate(r.integrations)
    ]


# -- what is sent -----------------------------------------------------------------------------------------------
def report_link(base_url: str, week: str, tenant: str, fmt: str = "pdf") -> str:
    query = {"format": fmt, **({"tenant": tenant} if tenant else {})}
    return f"{base_url.rstrip('/')}/api/v1/reports/weekly/{quote(week)}?{urlencode(query)}"


def _title(archived: Archived) -> str:
    parts = [f"SyncWatch weekly report {archived.week}"]
    parts += [p for p in (archived.tenant, archived.firm) if p]
    # Text from settings and events: a line break would end the Subject header.
    return " ".join(" · ".join(parts).split())[:200]


def _span(report: dict[str, Any]) -> str:
    """'Mon 2 Nov 2026 to Sun 8 Nov 2026 (UTC)': the window ends at midnight, so its last day is the day before."""
    start, end = (datetime.fromisoformat(str(report[k]).replace("Z", "+00:00")) for k in ("from", "to"))
    last = end - timedelta(microseconds=1)
    return f"{start:%a} {start.day} {start:%b %Y} to {last:%a} {last.day} {last:%b %Y} (UTC)"


def headline_lines(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, figure as printed, its sentence) for each headline figure of a report model."""
    return [(str(f.get("label", "")), str(f.get("text", "")), str(f.get("sentence", ""))) for f in report["headline"]]


def report_email(archived: Archived, sender: str, to: tuple[str, ...], link: str) -> EmailMessage:
    assert archived.report is not None
    lines = headline_lines(archived.report)
    mail = EmailMessage()
    mail["Subject"] = _title(archived)
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain="syncwatch")
    text = [_title(archived), _span(archived.report), ""]
    text += [f"{label}: {figure}\n  {sentence}" for label, figure, sentence in lines]
    text += ["", "The report is attached as PDF.", f"Online: {link}"]
    mail.set_content("\n".join(text))
    rows = "".join(
        f"<tr><td><b>{html.escape(label)}</b></td><td>{html.escape(figure)}</td><td>{html.escape(sentence)}</td></tr>"
        for label, figure, sentence in lines
    )
    mail.add_alternative(
        f"<html><body><h2>{html.escape(_title(archived))}</h2><p>{html.escape(_span(archived.report))}</p>"
        f"<table>{rows}</table>"
        f'<p>The report is attached as PDF. <a href="{html.escape(link)}">Open it online</a>.</p></body></html>',
        subtype="html",
    )
    name = f"syncwatch-weekly-{archived.week}{'-' + archived.tenant if archived.tenant else ''}.pdf"
    mail.add_attachment(archived.pdf, maintype="application", subtype="pdf", filename=re.sub(r"[^\w.-]", "_", name))
    return mail


def slack_payload(archived: Archived, link: str) -> dict[str, Any]:
    assert archived.report is not None
    lines = [f"*{escape(label)}*: {escape(figure)}" for label, figure, _ in headline_lines(archived.report)]
    title = _title(archived)
    return {
        "text": escape(title),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000], "verbatim": True}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{link}|The report (PDF)>",
                                              "verbatim": True}]},
        ],
    }  # fmt: skip


def webhook_payload(archived: Archived, link: str) -> dict[str, Any]:
    assert archived.report is not None
    return {
        "kind": "syncwatch.weekly_report",
        **archived.summary(),
        "from": archived.report["from"],
        "to": archived.report["to"],
        "headline": [
            {k: f.get(k) for k in ("key", "label", "text", "status", "sentence", "value")}
            for f in archived.report["headline"]
        ],
        "links": {fmt: link.replace("format=pdf", f"format={fmt}") for fmt in ("pdf", "html", "json")},
    }


# -- sending and retrying -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attempt:
    """One attempt's outcome: delivered when `error` is empty; `retryable` when trying again can help."""

    error: str = ""
    retryable: bool = False


def attempt(channel: Channel, archived: Archived, base_url: str) -> Attempt:
    """One delivery attempt; a failure is a value, never raised."""
    spec, link = channel.spec, report_link(base_url, archived.week, archived.tenant)
    try:
        if spec.type == "email":
            notifier = EmailNotifier(spec.smtp_host, spec.smtp_port, spec.sender, spec.to, starttls=spec.starttls,
                                     username=spec.username, password=spec.password, timeout=spec.timeout)  # fmt: skip
            notifier.send_mail(report_email(archived, spec.sender, spec.to, link))
        else:
            with httpx.Client(timeout=spec.timeout) as client:
                if spec.type == "slack":
                    SlackNotifier(client, spec.url).post(slack_payload(archived, link))
                else:
                    post_json(client, spec.url, webhook_payload(archived, link), headers=dict(spec.headers))
    except DeliveryFailed as exc:
        return Attempt(redact_text(str(exc))[:500], exc.retryable)
    return Attempt()


def next_state(
    previous: DeliveryState | None,
    archived: Archived,
    channel: Channel,
    outcome: Attempt,
    now: datetime,
    *,
    max_attempts: int,
    retry_seconds: float,
) -> DeliveryState:
    """The delivery's state after one attempt: delivered; pending with a doubling wait; or failed for good (the
    attempts are used up, or the receiver refused in a way no retry helps)."""
    attempts = (previous.attempts if previous else 0) + 1
    if not outcome.error:
        status, next_at, done = "delivered", None, now
    elif outcome.retryable and attempts < max_attempts:
        status, next_at, done = "pending", now + timedelta(seconds=retry_seconds * 2 ** (attempts - 1)), None
    else:
        status, next_at, done = "failed", None, None
    return DeliveryState(archived.week, archived.tenant, channel.receiver, channel.name, status, attempts,
                         outcome.error, next_at, done, now)  # fmt: skip
