"""The console's Weekly report page in Debian's Chromium: the hand-built week, made and archived by the scheduled
job (called by hand) with one receiver that refuses it, read through the real collector by `syncwatch dashboard`.
The page shows the week, the report itself, the failed delivery and a PDF download that is a PDF."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncwatch.tokens import create_token
from syncwatch.warehouse import apply_migrations, connect
from tests.conftest import ThreadedCollector, free_port, make_settings
from tests.integration.dashboard.browser import Chromium
from tests.integration.metrics.test_hand_built_logs import send
from tests.integration.reports.test_weekly_report import WEEK, _alert_history, week_log
from tests.unit.alerts.support import HttpReceiver
from tests.waiting import serving

pytestmark = pytest.mark.integration
SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
# What the week selector shows: its text, or the value of its input (the choice is drawn either way by version).
_PICKED = """(() => { const box = document.querySelector('[data-testid="stSelectbox"]');
  return box.textContent + ' | ' + [...box.querySelectorAll('input')].map(i => i.value + ' ' +
    (i.getAttribute('aria-label') || '')).join(' | '); })()"""


@dataclass
class Console:
    url: str
    refused: HttpReceiver


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("report-page")
    with HttpReceiver(status=[404]) as refused:  # a webhook that is gone: no retry helps, the delivery fails
        receivers = tmp / "receivers.yaml"
        receivers.write_text(f"receivers: [{{name: finance, integrations: [{{type: webhook, url: '{refused.url}'}}]}}]")
        settings = make_settings(tmp, report_schedule="", report_receivers_file=receivers)
        client = connect(settings)
        apply_migrations(client, settings.retention_days)
        ingest, read = (create_token(client, f"page-{s}", [s])[1] for s in ("ingest", "read"))
        _alert_history(client)
        try:
            with ThreadedCollector(settings) as running:
                events = week_log()
                send(running, {"ingest": ingest}, events)  # type: ignore[arg-type]
                deadline = time.monotonic() + 30
                while client.query("SELECT count() FROM events").result_rows[0][0] < len(events) - 10:
                    assert time.monotonic() < deadline, "the events were not written"
                    time.sleep(0.05)
                made = running.app.state.reports.weekly_job(now=datetime(2026, 11, 9, 7, tzinfo=UTC))
                assert [a.week for a in made] == [WEEK]
                port = free_port()
                env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCWATCH_")}
                env.update(SYNCWATCH_DASHBOARD_TOKEN=read, SYNCWATCH_DASHBOARD_REFRESH_SECONDS="300",
                           SYNCWATCH_DASHBOARD_AUTH="local")  # fmt: skip
                url = f"http://127.0.0.1:{port}"
                with serving(
                    [SYNCWATCH, "dashboard", "--port", str(port), "--api-url", running.url], f"{url}/_stcore/health",
                    what="the dashboard", cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                ):  # fmt: skip
                    yield Console(url, refused)
        finally:
            client.command(f"DROP DATABASE IF EXISTS `{settings.database}`")


def test_the_page_shows_the_archived_week_its_delivery_and_a_pdf_download(console: Console, tmp_path: Path) -> None:
    with Chromium(tmp_path / "chromium") as browser:
        browser.render(f"{console.url}/weekly-report?week={WEEK}", timeout=120)
        found = browser.problems()
        assert found["exceptions"] == [] and found["errors"] == [] and not found["traceback"], found
        assert found["title"] == "Weekly report"
        text = browser.wait_for_text("A delivery failed for good")
        assert "Archived 2026-" in text and "Download PDF" in text
        picked = str(browser.evaluate(_PICKED))
        assert f"{WEEK} · archived" in picked, picked
        # the report itself, in its frame: the week and a headline figure the hand-built log gives
        frame = next(f for f in browser.page.frames if "57.1%" in (f.evaluate("document.body.innerText") or ""))
        assert WEEK in frame.evaluate("document.body.innerText")
        browser.screenshot(tmp_path / "weekly-report.png")
        with browser.page.expect_download(timeout=60_000) as download:
            browser.click("Download PDF")
        saved = tmp_path / "downloaded.pdf"
        download.value.save_as(saved)
        assert download.value.suggested_filename == f"syncwatch-weekly-{WEEK}.pdf"
        assert saved.read_bytes().startswith(b"%PDF-")
