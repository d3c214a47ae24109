"""The weekly report made by its scheduled job (called by hand), archived and delivered to real receivers: an
aiosmtpd SMTP server that must receive the PDF, a webhook, and a Slack URL that keeps failing and must be retried,
then shown as failed, without ever holding back the archive. The hand-built week of test_weekly_report.py."""

from __future__ import annotations

import logging
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from clickhouse_connect.driver.client import Client
from typer.testing import CliRunner

from reports.component import ReportsComponent
from syncwatch.cli import app
from syncwatch.tokens import create_token
from syncwatch.warehouse import apply_migrations, connect
from tests.conftest import ThreadedCollector, auth, free_port, make_settings
from tests.integration.metrics.test_hand_built_logs import send
from tests.integration.reports.test_weekly_report import FIRM, WEEK, _alert_history, week_log
from tests.unit.alerts.support import HttpReceiver

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-slack-path"
RUN_AT = datetime(2026, 11, 9, 7, 0, tzinfo=UTC)  # the Monday after the hand-built week, at the default hour


class _Inbox:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.mails.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@dataclass
class Estate:
    url: str
    read: str
    ingest: str
    admin: str
    reports: ReportsComponent
    inbox: _Inbox
    hook: HttpReceiver
    warehouse: Client


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    tmp = tmp_path_factory.mktemp("archive")
    inbox, smtp_port = _Inbox(), free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    with HttpReceiver() as hook, HttpReceiver(status=[503]) as slack:
        receivers = tmp / "receivers.yaml"
        receivers.write_text(f"""
receivers:
  - name: executives
    reports: [all, acme-de]
    integrations:
      - {{type: email, smtp_host: 127.0.0.1, smtp_port: {smtp_port}, from: syncwatch@acme.example,
          to: [cfo@acme.example]}}
      - {{type: webhook, url: "{hook.url}/weekly"}}
  - name: board-room
    reports: [all]
    integrations:
      - {{type: slack, url: "{slack.url}/services/{SECRET}"}}
""")  # fmt: skip
        # no cron run and no retry tick during the test: the jobs are called by hand, at chosen moments
        settings = make_settings(tmp, report_schedule="", report_tenants=["acme-de"], report_receivers_file=receivers,
                                 report_retry_seconds=3600, report_delivery_attempts=3, firm_name=FIRM)  # fmt: skip
        client = connect(settings)
        apply_migrations(client, settings.retention_days)
        secrets = {s: create_token(client, f"archive-{s}", [s])[1] for s in ("ingest", "read", "admin")}
        _alert_history(client)
        try:
            with ThreadedCollector(settings) as running:
                events = week_log()
                send(running, {"ingest": secrets["ingest"]}, events)  # type: ignore[arg-type]
                deadline = time.monotonic() + 30
                while client.query("SELECT count() FROM events").result_rows[0][0] < len(events) - 10:
                    assert time.monotonic() < deadline, "the events were not written"
                    time.sleep(0.05)
                yield Estate(running.url, secrets["read"], secrets["ingest"], secrets["admin"],
                             running.app.state.reports, inbox, hook, client)  # fmt: skip
        finally:
            smtp.stop()
            client.command(f"DROP DATABASE IF EXISTS `{settings.database}`")


@pytest.fixture(scope="module")
def first_run(estate: Estate) -> list[Any]:
    made: list[Any] = estate.reports.weekly_job(now=RUN_AT)
    return made


def _listing(estate: Estate) -> dict[tuple[str, str | None], dict[str, Any]]:
    r = httpx.get(f"{estate.url}/api/v1/reports/weekly", headers=auth(estate.read), timeout=30)
    assert r.status_code == 200, r.text
    return {(e["week"], e["tenant"]): e for e in r.json()["reports"]}


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "attached.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return re.sub(r"\s+", " ", out.stdout)


def test_the_weekly_job_archives_the_last_complete_week_for_all_and_each_tenant(first_run: list[Any]) -> None:
    assert [(a.week, a.tenant) for a in first_run] == [(WEEK, ""), (WEEK, "acme-de")]
    assert all(a.pdf.startswith(b"%PDF-") and a.report["week"] == WEEK for a in first_run)
    assert first_run[0].firm == FIRM and first_run[0].code_version


def test_the_email_arrives_with_the_headline_and_a_valid_pdf(estate: Estate, first_run: list[Any],
                                                            tmp_path: Path) -> None:  # fmt: skip
    mails = {m["Subject"]: m for m in estate.inbox.mails}
    assert set(mails) == {f"SyncWatch weekly report {WEEK} · acme-de · {FIRM}",
                          f"SyncWatch weekly report {WEEK} · {FIRM}"}  # fmt: skip
    mail = mails[f"SyncWatch weekly report {WEEK} · {FIRM}"]
    assert mail["To"] == "cfo@acme.example"
    body = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert body is not None and html is not None
    assert "Posted on the first attempt: 57.1%" in body.get_content()
    assert "Acme &amp; Partners &lt;Consulting&gt;" in html.get_content()  # the firm's name, escaped
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"syncwatch-weekly-{WEEK}.pdf"
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF-")
    text = _pdf_text(pdf, tmp_path)
    assert WEEK in text and "57.1%" in text and FIRM in text


def test_the_webhook_gets_the_headline_and_links(estate: Estate, first_run: list[Any]) -> None:
    bodies = {(r.body["week"], r.body["tenant"]): r.body for r in estate.hook.received}
    assert sorted(bodies, key=str) == [(WEEK, "acme-de"), (WEEK, None)]
    firm_wide = bodies[(WEEK, None)]
    assert firm_wide["kind"] == "syncwatch.weekly_report"
    assert {f["key"]: f["text"] for f in firm_wide["headline"]}["first_pass"] == "57.1%"
    assert firm_wide["links"]["pdf"].endswith(f"/api/v1/reports/weekly/{WEEK}?format=pdf")


def test_a_failing_receiver_is_retried_with_backoff_then_shown_failed_and_no_secret_is_logged(
    estate: Estate, first_run: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="syncwatch.reports")
    listed = _listing(estate)[(WEEK, None)]
    assert listed["delivery_status"] == "pending"  # email and webhook delivered, Slack waiting for its retry
    slack = next(d for d in listed["deliveries"] if d["receiver"] == "board-room")
    assert (slack["status"], slack["attempts"]) == ("pending", 1) and "HTTP 503" in slack["last_error"]
    assert listed["deliveries"] and {d["status"] for d in listed["deliveries"] if d["receiver"] == "executives"} == {
        "delivered"
    }
    assert estate.reports.retry_deliveries(datetime.now(UTC)) == []  # its wait (an hour) is not over
    mails = len(estate.inbox.mails)
    later = datetime.now(UTC) + timedelta(hours=1, minutes=1)
    (second,) = estate.reports.retry_deliveries(later)
    assert (second.status, second.attempts, second.next_attempt_at) == ("pending", 2, later + timedelta(hours=2))
    (third,) = estate.reports.retry_deliveries(later + timedelta(hours=3))
    assert (third.status, third.attempts) == ("failed", 3)  # attempts used up
    assert estate.reports.retry_deliveries(later + timedelta(days=1)) == []
    assert len(estate.inbox.mails) == mails  # only the failing receiver was tried again
    listed = _listing(estate)[(WEEK, None)]
    assert listed["delivery_status"] == "failed"
    assert "HTTP 503" in next(d for d in listed["deliveries"] if d["receiver"] == "board-room")["last_error"]
    assert "delivery to board-room (slack#0) failed, attempt 3, given up" in caplog.text
    answers = httpx.get(f"{estate.url}/api/v1/reports/weekly", headers=auth(estate.read), timeout=30).text
    assert SECRET not in caplog.text and SECRET not in answers


def test_a_rerun_replaces_the_archived_copy_and_sends_nothing_twice(estate: Estate, first_run: list[Any]) -> None:
    mails, hooks = len(estate.inbox.mails), len(estate.hook.received)
    again = estate.reports.weekly_job(now=RUN_AT + timedelta(hours=1))  # the job again: the same week, untouched
    assert [a.version for a in again] == [a.version for a in first_run]
    rebuilt = estate.reports.run_week(2026, 45, rebuild=True)
    assert all(new.version > old.version for new, old in zip(rebuilt, first_run, strict=True))
    rows = estate.warehouse.query(
        "SELECT week, tenant, version FROM weekly_reports FINAL ORDER BY tenant"
    ).result_rows  # fmt: skip
    assert [(w, t) for w, t, _ in rows] == [(WEEK, ""), (WEEK, "acme-de")]  # replaced, never duplicated
    assert [v for _, _, v in rows] == [a.version for a in rebuilt]
    listed = _listing(estate)
    assert sorted(listed, key=str) == [(WEEK, "acme-de"), (WEEK, None)]
    assert listed[(WEEK, None)]["version"] == rebuilt[0].version
    assert (len(estate.inbox.mails), len(estate.hook.received)) == (mails, hooks)  # delivered ones are not resent


def test_the_list_needs_the_read_scope(estate: Estate, first_run: list[Any]) -> None:
    path = f"{estate.url}/api/v1/reports/weekly"
    assert httpx.get(path, timeout=30).status_code == 401
    assert httpx.get(path, headers=auth(estate.ingest), timeout=30).status_code == 403
    only = httpx.get(path, params={"tenant": "acme-de"}, headers=auth(estate.read), timeout=30).json()["reports"]
    assert [(e["week"], e["tenant"]) for e in only] == [(WEEK, "acme-de")]
    assert only[0]["links"]["html"].endswith(f"/api/v1/reports/weekly/{WEEK}?format=html&tenant=acme-de")


def test_the_week_route_serves_the_archived_copy_unless_asked_fresh(estate: Estate, first_run: list[Any]) -> None:
    path, headers = f"{estate.url}/api/v1/reports/weekly/{WEEK}", auth(estate.read)
    archived = httpx.get(path, headers=headers, timeout=30)
    assert archived.headers["x-syncwatch-report-source"] == "archive"
    stored = estate.warehouse.query(
        "SELECT report, pdf FROM weekly_reports FINAL WHERE week = {w:String} AND tenant = ''",
        parameters={"w": WEEK}, column_formats={"pdf": "bytes"},
    ).result_rows[0]  # fmt: skip
    assert archived.json()["generated_at"] == httpx.Response(200, content=stored[0]).json()["generated_at"]
    pdf = httpx.get(path, params={"format": "pdf"}, headers=headers, timeout=30)
    assert pdf.content == stored[1] and pdf.headers["content-type"] == "application/pdf"
    fresh = httpx.get(path, params={"fresh": "true"}, headers=headers, timeout=300)
    assert fresh.headers["x-syncwatch-report-source"] == "computed"
    assert fresh.json()["headline"] == archived.json()["headline"]  # the same figures, computed again
    whole = httpx.get(f"{path}/archived", params={"tenant": "acme-de"}, headers=headers, timeout=30).json()
    assert whole["tenant"] == "acme-de" and whole["report"]["tenant"] == "acme-de"
    assert whole["pdf_base64"].startswith("JVBER")  # base64 of %PDF
    missing = httpx.get(f"{estate.url}/api/v1/reports/weekly/2026-W30/archived", headers=headers, timeout=30)
    assert missing.status_code == 404 and missing.json()["error"].startswith("week:")


def test_the_cli_lists_the_archive(estate: Estate, first_run: list[Any]) -> None:
    result = CliRunner().invoke(app, ["report", "list", "--url", estate.url, "--token", estate.read],
                                env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if WEEK in line]
    assert len(lines) == 2 and any("acme-de" in line for line in lines) and any(" all " in line for line in lines)


def test_a_week_can_be_run_by_hand_with_the_admin_scope(estate: Estate, first_run: list[Any]) -> None:
    path = f"{estate.url}/api/v1/reports/weekly/{WEEK}/run"
    assert httpx.post(path, headers=auth(estate.read), timeout=30).status_code == 403
    assert httpx.post(f"{estate.url}/api/v1/reports/weekly/2999-W01/run", headers=auth(estate.admin),
                      timeout=30).status_code == 422  # fmt: skip
    mails = len(estate.inbox.mails)
    listed = _listing(estate)
    answer = httpx.post(path, headers=auth(estate.admin), timeout=300)
    assert answer.status_code == 200, answer.text
    kept = {(e["week"], e["tenant"]): e["version"] for e in answer.json()["reports"]}
    assert kept == {key: e["version"] for key, e in listed.items()}  # archived already: kept, not made again
    assert len(estate.inbox.mails) == mails
    result = CliRunner().invoke(app, ["report", "run", "--week", WEEK, "--url", estate.url, "--token", estate.admin],
                                env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0 and result.output.count(WEEK) == 2, result.output
