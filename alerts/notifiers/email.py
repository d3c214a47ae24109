"""Email over SMTP (optionally STARTTLS and login): a plain-text part on-call can read on a phone, plus HTML.
smtplib's errors become `DeliveryFailed` here; 4xx SMTP replies and network errors are retryable. Text from
events is HTML-escaped in the HTML part; the plain part is not interpreted."""

from __future__ import annotations

import html
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from alerts.errors import DeliveryFailed
from alerts.notifiers.base import Message

__all__ = ["EmailNotifier", "email_message"]


def _subject(message: Message) -> str:
    firing = len(message.firing())
    names = ", ".join(sorted({a.labels.get("alertname", "") for a in message.alerts}))
    state = f"FIRING:{firing}" if firing else "RESOLVED"
    # Alert names may come from event data: a line break would end the header (and refuse the whole mail).
    return " ".join(f"[{state}] {names}".split())[:200]


def _web(url: str) -> bool:
    return url.lower().startswith(("https://", "http://"))


def email_message(message: Message, sender: str, to: tuple[str, ...]) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = _subject(message)
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Date"] = formatdate(message.now.timestamp(), usegmt=True)
    mail["Message-ID"] = make_msgid(domain="syncwatch")
    mail["X-SyncWatch-Group-Key"] = message.group_key
    lines, items = [], []
    for a in message.alerts:
        summary = a.annotations.get("summary", "")
        runbook = a.annotations.get("runbook_url", "")
        lines += [
            f"[{a.status.upper()}] {a.labels.get('alertname', '')} ({a.labels.get('severity', '')})",
            f"  {summary}",
        ]
        if a.annotations.get("description"):
            lines.append(f"  {a.annotations['description']}")
        if runbook:
            lines.append(f"  Runbook: {runbook}")
        lines.append("  Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items())))
        lines.append("")
        items.append(
            f"<li><b>[{html.escape(a.status.upper())}] {html.escape(a.labels.get('alertname', ''))}</b>: "
            f"{html.escape(summary)}"
            # Only http(s) becomes a link: a javascript: or data: URL from an annotation stays text.
            + (f' (<a href="{html.escape(runbook)}">runbook</a>)' if _web(runbook) else "")
            + "</li>"
        )
    lines.append(f"SyncWatch: {message.external_url}")
    mail.set_content("\n".join(lines))
    mail.add_alternative(
        f"<html><body><h3>{html.escape(_subject(message))}</h3><ul>{''.join(items)}</ul></body></html>", subtype="html"
    )
    return mail


class EmailNotifier:
    integration = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        to: tuple[str, ...],
        *,
        starttls: bool = False,
        username: str = "",
        password: str = "",
        timeout: float = 10.0,
        send_resolved: bool = True,
    ) -> None:
        self.host, self.port, self.sender, self.to = host, port, sender, to
        self.starttls, self.username, self.password, self.timeout = starttls, username, password, timeout
        self.send_resolved = send_resolved

    def send(self, message: Message) -> None:
        self.send_mail(email_message(message, self.sender, self.to))

    def send_mail(self, mail: EmailMessage) -> None:
        """One attempt to send a message built elsewhere (the weekly report's, with its PDF attached)."""
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(mail)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", retryable=400 <= exc.smtp_code < 500
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(f"SMTP recipients refused: {list(exc.recipients)}", retryable=False) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP {type(exc).__name__}: {exc}", retryable=True) from exc
