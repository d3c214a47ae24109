"""The weekly report of a hand-built week: fixed events through the real ingest path (the helpers of
tests/integration/metrics/test_hand_built_logs.py), alert history as the alerts stage stores it, then the report
as JSON, HTML and PDF from the collector's API and the CLI.

Every headline figure must equal what /api/v1/slis answers for the same window; the PDF must carry each figure as
text and render on every page; hostile text from events must come out escaped.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import Markup
from typer.testing import CliRunner

from reports.weekly import FIGURES, figure_value
from syncwatch.cli import app
from syncwatch.tokens import create_token
from syncwatch.warehouse import apply_migrations, connect
from tests.conftest import ThreadedCollector, auth, make_settings
from tests.integration.metrics.test_hand_built_logs import MONDAY, approved, firm_log, posting, project, send

pytestmark = pytest.mark.integration

WEEK = "2026-W45"  # Monday 2 November 2026 to Monday 9 November 2026, the hand-built log's week
FROM, TO = "2026-11-02T00:00:00Z", "2026-11-09T00:00:00Z"
HOSTILE = "<script>alert('wip')</script>"
FIRM = "Acme & Partners <Consulting>"


@dataclass
class Week:
    url: str
    read: str
    ingest: str
    admin: str


def _tenant(event: dict[str, Any], tenant: str) -> dict[str, Any]:
    return {**event, "tenantid": tenant, "source": event["source"].replace("acme-us", tenant)}


def _rejected(entry: str, when: datetime, amount: float, project_code: str, category: str) -> list[dict[str, Any]]:
    failed = posting("time_entry.post_failed", entry, when + timedelta(seconds=5), amount, project=project_code,
                     retryable=False)  # fmt: skip
    failed["data"].update({"error_category": category, "error_code": f"{category[:3]}-1"})
    return [posting("time_entry.post_requested", entry, when, amount, project=project_code), failed]


def week_log() -> list[dict[str, Any]]:
    """The hand-built log's week, plus: a week before it, a second legal entity, and an entry on a project whose
    code is hostile markup, rejected by the ERP."""
    batch, again = firm_log()
    before = MONDAY - timedelta(days=7)
    extra = [
        # the week before: one entry, posted on its first attempt
        approved(["B1"], before),
        posting("time_entry.post_requested", "B1", before + timedelta(hours=1), 40.0),
        posting("time_entry.posted", "B1", before + timedelta(hours=1, seconds=4), 40.0),
        # hostile project code, T&M, its entry rejected for good on Monday
        project(HOSTILE, "USD"),
        approved(["H1"], MONDAY),
        *_rejected("H1", MONDAY + timedelta(hours=4), 250.0, HOSTILE, "RATE_CARD_EXPIRED"),
        # a second legal entity, in EUR, posted on the first attempt on Tuesday
        _tenant(project("P-DE", "EUR"), "acme-de"),
        _tenant(approved(["D1"], MONDAY + timedelta(days=1)), "acme-de"),
        _tenant(
            posting(
                "time_entry.post_requested",
                "D1",
                MONDAY + timedelta(days=1, hours=1),
                80.0,
                currency="EUR",
                project="P-DE",
            ),
            "acme-de",
        ),  # fmt: skip
        _tenant(
            posting(
                "time_entry.posted",
                "D1",
                MONDAY + timedelta(days=1, hours=1, seconds=3),
                80.0,
                currency="EUR",
                project="P-DE",
            ),
            "acme-de",
        ),  # fmt: skip
    ]
    return batch + again + extra


def _alert_history(client: Any) -> None:
    """Two incidents as the alerts stage records them: one pending for 10 minutes, then paging and resolved after 45
    minutes; one still firing. And one the week before."""
    fired = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    rows = [
        [fired - timedelta(minutes=10), "fp-1", "TimePostingFirstPass", "inactive", "pending", "page",
         {"flow": "psa-to-erp-time"}, "", 0.5],
        [fired, "fp-1", "TimePostingFirstPass", "pending", "firing", "page", {"flow": "psa-to-erp-time"},
         f"First-pass posting below objective on {HOSTILE}", 0.5],
        [fired + timedelta(minutes=45), "fp-1", "TimePostingFirstPass", "firing", "resolved", "page",
         {"flow": "psa-to-erp-time"}, "First-pass posting below objective", 0.98],
        [datetime(2026, 11, 7, 23, 0, tzinfo=UTC), "fp-2", "DeadLetterBacklog", "pending", "firing", "ticket",
         {"flow": "psa-to-erp-time"}, "Dead letters waiting", 5.0],
        [datetime(2026, 10, 28, 9, 0, tzinfo=UTC), "fp-3", "FlowSilence", "pending", "firing", "ticket", {},
         "the week before: not this week's incident", 1.0],
    ]  # fmt: skip
    client.insert("alert_history", rows, column_names=["time", "fingerprint", "rule", "from_state", "to_state",
                                                       "severity", "labels", "summary", "value"])  # fmt: skip


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Week]:
    settings = make_settings(tmp_path_factory.mktemp("report"))
    client = connect(settings)
    apply_migrations(client, settings.retention_days)
    secrets = {scope: create_token(client, f"report-{scope}", [scope])[1] for scope in ("ingest", "read", "admin")}
    _alert_history(client)
    try:
        with ThreadedCollector(settings) as running:
            send(running, {"ingest": secrets["ingest"]}, week_log())  # type: ignore[arg-type]
            yield Week(running.url, secrets["read"], secrets["ingest"], secrets["admin"])
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{settings.database}`")


@pytest.fixture(scope="module")
def report(week: Week) -> dict[str, Any]:
    r = httpx.get(f"{week.url}/api/v1/reports/weekly/{WEEK}", headers=auth(week.read), timeout=300)
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def pdf(week: Week, tmp_path_factory: pytest.TempPathFactory) -> Path:
    r = httpx.get(f"{week.url}/api/v1/reports/weekly/{WEEK}", params={"format": "pdf", "firm": FIRM},
                  headers=auth(week.read), timeout=300)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    path = tmp_path_factory.mktemp("pdf") / "weekly.pdf"
    path.write_bytes(r.content)
    return path


def _slis(week: Week, start: str, end: str) -> dict[str, dict[str, Any]]:
    r = httpx.get(f"{week.url}/api/v1/slis", params={"from": start, "to": end}, headers=auth(week.read), timeout=120)
    assert r.status_code == 200, r.text
    return {s["name"]: s for s in r.json()["slis"]}


def test_every_headline_figure_equals_the_api_for_the_same_window(week: Week, report: dict[str, Any]) -> None:
    assert (report["week"], report["from"], report["to"]) == (WEEK, FROM, TO)
    now, before = _slis(week, FROM, TO), _slis(week, "2026-10-26T00:00:00Z", FROM)
    headline = {f["key"]: f for f in report["headline"]}
    assert sorted(headline) == sorted(f.key for f in FIGURES)
    for figure in FIGURES:
        assert headline[figure.key]["value"] == figure_value(figure.key, now), figure.key
        assert headline[figure.key]["previous"] == figure_value(figure.key, before), figure.key
        trend, value = headline[figure.key]["trend"], figure_value(figure.key, now)
        if figure.unit == "money":  # one line per currency
            assert {c: line[-1] for c, line in trend.items()} == value
        elif figure.unit == "objectives":  # the count met
            assert trend[-1] == value["met"]
        else:
            assert (trend[-2], trend[-1]) == (figure_value(figure.key, before), value)
    # by hand: first attempts this week E1, E8, E6, D1 posted; E2, E3, H1 failed. The week before: E4 and B1 posted
    first = headline["first_pass"]
    assert first["value"] == pytest.approx(4 / 7) and first["previous"] == pytest.approx(1.0)
    assert first["change"] == pytest.approx(4 / 7 - 1) and first["text"] == "57.1%"
    assert "57.1% of time entries were accepted by the ERP on the first attempt (objective 97%)" in first["sentence"]
    assert "down 42.9 points from last week" in first["sentence"]
    # at risk at the week's end: E3 (USD 300) and H1 (USD 250), both blocked by the ERP
    assert headline["wip_at_risk"]["value"]["USD"] == pytest.approx(550.0)
    assert headline["wip_at_risk"]["text"].startswith("USD 550")
    assert len(headline["first_pass"]["trend"]) == 12 and report["weeks"][-1] == WEEK
    met = headline["slos_met"]["value"]
    assert met["of"] == len(now) and met["met"] == sum(1 for s in now.values() if s["status"] == "ok")


def test_one_tenants_figures_equal_the_apis_breakdown_by_tenant(week: Week) -> None:
    r = httpx.get(f"{week.url}/api/v1/reports/weekly/{WEEK}", params={"tenant": "acme-de"}, headers=auth(week.read),
                  timeout=300)  # fmt: skip
    assert r.status_code == 200, r.text
    headline = {f["key"]: f for f in r.json()["headline"]}
    rows: dict[str, dict[str, Any]] = {}
    for name in ("time_posting_first_pass", "time_posting_eventual", "invoice_readiness_lag"):
        answer = httpx.get(
            f"{week.url}/api/v1/slis/{name}/breakdown",
            params={"by": "tenant", "from": FROM, "to": TO},
            headers=auth(week.read),
            timeout=120,
        )
        found = {row["key"]: row for row in answer.json()["rows"]}
        if "acme-de" in found:
            rows[name] = found["acme-de"]
    assert rows["time_posting_first_pass"]["value"] == headline["first_pass"]["value"] == 1.0
    assert headline["invoice_lag_p95"]["value"] == rows.get("invoice_readiness_lag", {}).get("value")
    assert [t["tenant"] for t in r.json()["tenants"]] == ["acme-de"]


def test_where_the_money_is_stuck_and_the_incidents_of_the_week(report: dict[str, Any]) -> None:
    causes = {(c["kind"], c["cause"]): c for c in report["stuck"]["at_risk"]}
    assert causes[("ERP rejection", "PERIOD_CLOSED")]["money"] == {"USD": 300.0}
    assert causes[("ERP rejection", "RATE_CARD_EXPIRED")]["projects"] == [HOSTILE]
    assert report["stuck"]["at_risk"][0]["cause"] == "PERIOD_CLOSED"  # largest amount first
    rejections = {c["cause"]: c["entries"] for c in report["stuck"]["rejections"]}
    assert rejections == {"PERIOD_CLOSED": 2, "RATE_CARD_EXPIRED": 1}  # E2 and E3; H1
    incidents = report["incidents"]
    assert [(i["rule"], i["minutes_to_resolve"]) for i in incidents] == [
        ("TimePostingFirstPass", 45.0),
        ("DeadLetterBacklog", None),
    ]
    assert incidents[0]["minutes_to_detect"] == 10.0 and incidents[0]["started_at"] == "2026-11-03T09:50:00Z"
    assert report["incident_summary"]["week"] == {"count": 2, "pages": 1, "tickets": 1, "open": 1,
                                                  "mttd_minutes": 5.0, "mttr_minutes": 45.0}  # fmt: skip
    assert report["incident_summary"]["previous"]["count"] == 1  # the FlowSilence ticket of 28 October
    assert report["tenants"] and {t["tenant"] for t in report["tenants"]} == {"acme-us", "acme-de"}


def test_every_weeks_trend_value_equals_the_api_for_that_week(week: Week, report: dict[str, Any]) -> None:
    headline = {f["key"]: f for f in report["headline"]}
    assert len(report["weeks"]) == 12 and report["weeks"][-1] == WEEK
    for i, label in enumerate(report["weeks"]):
        start = datetime.fromisocalendar(int(label[:4]), int(label[-2:]), 1).replace(tzinfo=UTC)
        answered = _slis(week, _z(start), _z(start + timedelta(days=7)))
        for figure in FIGURES:
            value, trend = figure_value(figure.key, answered), headline[figure.key]["trend"]
            if figure.unit == "money":
                assert {c: line[i] for c, line in trend.items() if value and c in value} == (value or {}), label
            elif figure.unit == "objectives":
                assert trend[i] == value["met"], label
            else:
                assert trend[i] == value, (label, figure.key)
    charts = {t["key"]: t for t in report["trends"]}
    assert charts["first_pass"]["series"][""] == headline["first_pass"]["trend"]
    assert charts["first_pass"]["objective"]["target"] == 0.97 and charts["wip_at_risk"]["objective"] is None
    assert charts["invoice_lag"]["series"] == {"95%": headline["invoice_lag_p95"]["trend"],
                                               "half": headline["invoice_lag_p50"]["trend"]}  # fmt: skip


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_recommendations_are_the_rules_that_fire_on_this_week(week: Week, report: dict[str, Any]) -> None:
    fired = {r["rule"]: r for r in report["recommendations"]}
    # E2 and E3 refused for a closed period, H1 for an expired card; flows silent; records left out of two SLIs
    assert set(fired) == {"period_closed", "rate_card_expired", "silent_flows", "partial_coverage"}
    assert fired["period_closed"]["figure"] == "2" and fired["period_closed"]["owner"] == "finance-systems"
    assert fired["silent_flows"]["figure"] == str(len(report["stuck"]["silent_flows"]))
    html = httpx.get(f"{week.url}/api/v1/reports/weekly/{WEEK}", params={"format": "html"}, headers=auth(week.read),
                     timeout=300).text  # fmt: skip
    for r in report["recommendations"]:
        assert str(Markup.escape(r["text"])) in html
    # rules that did not fire say nothing: no dead letter waits, nothing unbilled 30+ days, no planned hours uncarded
    assert "dead-letter queue, the oldest" not in html and "is on no invoice" not in html
    assert "without an effective rate card" not in html
    assert html.count('<svg class="trend-chart"') == sum(1 for t in report["trends"] if not t["empty"]) >= 4
    assert html.count('<svg class="spark"') >= len(report["headline"])
    assert "Detected after" in html and "10 min" in html and "45 min" in html


def test_html_escapes_hostile_text(week: Week) -> None:
    r = httpx.get(f"{week.url}/api/v1/reports/weekly/{WEEK}", params={"format": "html", "firm": FIRM},
                  headers=auth(week.read), timeout=300)  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<script>" not in r.text
    assert "&lt;script&gt;alert(&#39;wip&#39;)&lt;/script&gt;" in r.text  # the project code, in the stuck table
    assert "Acme &amp; Partners &lt;Consulting&gt;" in r.text


def _text(pdf: Path, *pages: int) -> str:
    span = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    out = subprocess.run(["pdftotext", "-layout", *span, str(pdf), "-"], capture_output=True, text=True, check=True)
    return re.sub(r"\s+", " ", out.stdout)


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)[1])  # type: ignore[index]


def test_the_pdf_carries_every_headline_figure_as_text(report: dict[str, Any], pdf: Path) -> None:
    text = _text(pdf)
    for figure in report["headline"]:
        assert figure["text"] in text, figure["key"]
    assert HOSTILE in text  # shown as text, never run
    assert "W34 W35 W36" in text and "Trends" in text  # the charts' axes are text, not pictures of text
    assert "Mean time to detect" in text and "What to do this week" in text
    pages = _pages(pdf)
    for page in range(1, pages + 1):
        on_page = _text(pdf, page)
        assert f"Page {page} of {pages}" in on_page
        assert FIRM in on_page and "2026-W45" in on_page and "Generated" in on_page


def test_every_page_of_the_pdf_renders(pdf: Path, tmp_path: Path) -> None:
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    images = sorted(tmp_path.glob("page*.png"))
    assert len(images) == _pages(pdf) >= 2
    assert all(image.stat().st_size > 2_000 for image in images)  # a blank page is a few hundred bytes


def test_the_report_needs_the_read_scope(week: Week) -> None:
    path = f"{week.url}/api/v1/reports/weekly/{WEEK}"
    assert httpx.get(path, timeout=30).status_code == 401
    assert httpx.get(path, headers=auth(week.ingest), timeout=30).status_code == 403


@pytest.mark.parametrize("bad", ["2026-W54", "2026-45", "W45", "2999-W01"])
def test_a_week_that_is_not_a_finished_iso_week_is_refused(week: Week, bad: str) -> None:
    r = httpx.get(f"{week.url}/api/v1/reports/weekly/{bad}", headers=auth(week.read), timeout=30)
    assert r.status_code == 422 and r.json()["error"].startswith("week:"), r.text


def test_the_cli_writes_the_report_in_each_format(week: Week, report: dict[str, Any], tmp_path: Path) -> None:
    runner = CliRunner()
    for fmt in ("json", "html", "pdf"):
        out = tmp_path / f"weekly.{fmt}"
        args = [
            "report",
            "weekly",
            "--week",
            WEEK,
            "--format",
            fmt,
            "--out",
            str(out),
            "--url",
            week.url,
            "--token",
            week.read,
        ]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 1_000
    assert b"57.1%" in (tmp_path / "weekly.html").read_bytes()
    assert (tmp_path / "weekly.pdf").read_bytes().startswith(b"%PDF-")
    refused = runner.invoke(app, ["report", "weekly", "--week", WEEK, "--url", week.url, "--token", week.ingest])
    assert refused.exit_code == 2 and "HTTP 403" in refused.output
