"""The weekly report's pure parts on fixed values: ISO weeks, the figures and their sentences, causes of stuck money,
incidents from alert transitions, sparklines, and the HTML's escaping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from metrics.windows import Window
from reports.charts import sparkline
from reports.render import render_html
from reports.weekly import FIGURES, build_weekly, figure_value, sentence
from reports.weeks import last_complete_week, parse_week, week_window, weeks_before

WEEK = Window(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))


def test_iso_weeks() -> None:
    assert parse_week("2026-W10") == (2026, 10)
    assert week_window(2026, 10) == WEEK
    assert week_window(2020, 53).start == datetime(2020, 12, 28, tzinfo=UTC)  # a year with 53 weeks
    for bad in ("2026-W54", "2026-10", "2021-W53", ""):
        with pytest.raises(ValueError):
            parse_week(bad)
    # the last complete week is the one before the current, whatever the day and hour
    assert last_complete_week(datetime(2026, 3, 9, 0, 0, tzinfo=UTC)) == (2026, 10)
    assert last_complete_week(datetime(2026, 3, 15, 23, 59, tzinfo=UTC)) == (2026, 10)
    assert last_complete_week(datetime(2026, 1, 1, 12, tzinfo=UTC)) == (2025, 52)
    assert weeks_before(2026, 2, 3) == [(2025, 52), (2026, 1), (2026, 2)]


def sli(name: str, value: float | None, status: str = "ok", **extra: Any) -> dict[str, Any]:
    units = {"time_posting_first_pass": "ratio", "invoice_readiness_lag": "business_days"}
    return {"name": name, "title": name.replace("_", " "), "unit": units.get(name, "count"), "value": value,
            "good": extra.pop("good", 0.0), "total": extra.pop("total", 0.0), "status": status,
            "objective": {"target": extra.pop("target", 0.97), "comparison": ">=", "window": "explicit"},
            "details": extra.pop("details", {}), "coverage": extra.pop("coverage", None)}  # fmt: skip


def test_figures_read_the_api_items() -> None:
    slis = {
        "time_posting_first_pass": sli("time_posting_first_pass", 0.95, "warning"),
        "invoice_readiness_lag": sli("invoice_readiness_lag", 4.5, "breach", details={"p50": 1.5}),
        "unbilled_wip_at_risk": sli("unbilled_wip_at_risk", 2, details={"at_risk": {"USD": 10.0, "EUR": 41200.0}}),
        "time_posting_eventual": sli("time_posting_eventual", 0.9, good=9.0, total=10.0),
    }
    assert figure_value("first_pass", slis) == 0.95
    assert figure_value("invoice_lag_p95", slis) == 4.5 and figure_value("invoice_lag_p50", slis) == 1.5
    assert figure_value("wip_at_risk", slis) == {"EUR": 41200.0, "USD": 10.0}
    assert figure_value("approved_not_posted", slis) == 1.0
    assert figure_value("slos_met", slis) == {"met": 2, "missed": 2, "not_judged": 0, "of": 4}
    assert figure_value("resource_plan", slis) is None  # not evaluated: no data, never zero


def test_one_plain_sentence_per_figure() -> None:
    wip = next(f for f in FIGURES if f.key == "wip_at_risk")
    assert sentence(wip, {"EUR": 41200.0}, {"EUR": 6100.0}, None) == (
        "EUR 41,200 of approved time is at risk: 30+ days from an invoice, or blocked by an ERP rejection nobody"
        " will retry; EUR 6,100 more than last week."
    )
    two = sentence(wip, {"EUR": 41200.0, "USD": 0.0}, {"EUR": 0.0, "USD": -900.0}, None)
    assert two.startswith("EUR 41,200 (the same as last week) and USD 0 (USD 900 less than last week) of approved")
    assert sentence(wip, {"USD": 0.0}, {"USD": 0.0}, None).startswith("No approved billable time is at risk")
    first = next(f for f in FIGURES if f.key == "first_pass")
    said = sentence(first, 0.95, -0.02, sli("time_posting_first_pass", 0.95))
    assert said == (
        "95.0% of time entries were accepted by the ERP on the first attempt (objective 97%), down 2.0 points from"
        " last week."
    )
    assert sentence(first, 0.95, None, None).endswith("no figure for last week to compare with.")
    assert sentence(first, None, None, None) == "No time was sent to the ERP this week."
    met = next(f for f in FIGURES if f.key == "slos_met")
    assert sentence(met, {"met": 4, "missed": 8, "not_judged": 2, "of": 14}, -3, None) == (
        "4 of 14 objectives met, 8 missed; 2 could not be judged (partial or no data); 3 fewer met than last week."
    )
    lag = next(f for f in FIGURES if f.key == "invoice_lag_p95")
    assert "(objective: 3 business days), 0.5 business days more than last week." in sentence(
        lag, 4.5, 0.5, sli("invoice_readiness_lag", 4.5, target=3)
    )


class Fixed:
    """Sources answering fixed SLIs for every week, fixed records and alert transitions."""

    def __init__(self, weeks: dict[datetime, dict[str, dict[str, Any]]], records: dict[str, list[dict[str, Any]]],
                 transitions: list[dict[str, Any]]) -> None:  # fmt: skip
        self.weeks, self._records, self.transitions = weeks, records, transitions

    def slis(self, window: Window, by: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        found = self.weeks.get(window.start, {})
        if by == "tenant":
            return {name: {"acme-us": s} for name, s in found.items()}
        return {name: {"": s} for name, s in found.items()}

    def records(self, name: str, window: Window, limit: int) -> list[dict[str, Any]]:
        return self._records.get(name, [])

    def alert_transitions(self, window: Window) -> list[dict[str, Any]]:
        return self.transitions


def _entry(status: str, amount: float, currency: str, project: str, detail: str = "") -> dict[str, Any]:
    return {"key": "E", "status": status, "amount": amount, "currency": currency, "project_code": project,
            "tenant": "acme-us", "detail": detail}  # fmt: skip


HOSTILE = '<img src=x onerror="alert(1)">'


@pytest.fixture
def report() -> dict[str, Any]:
    previous = datetime(2026, 2, 23, tzinfo=UTC)
    this = {
        "time_posting_first_pass": sli("time_posting_first_pass", 0.9, "breach"),
        "unbilled_wip_at_risk": sli("unbilled_wip_at_risk", 1, "breach", details={"at_risk": {"EUR": 900.0}},
                                    coverage={"left_out": {"unknown_billing_type": {"count": 3,
                                                                                    "money": {"EUR": 120.0}}},
                                              "ratio": 0.9, "complete": False}),
        "flow_silence": sli("flow_silence", 1, "breach", details={"flows": {"psa-to-erp-time": {
            "silent": True, "seconds_since_last": 7200.0}, "crm-deals": {"silent": False}}}),
    }  # fmt: skip
    sources = Fixed(
        {WEEK.start: this, previous: {"time_posting_first_pass": sli("time_posting_first_pass", 0.99)}},
        {
            "unbilled_wip_at_risk": [
                _entry("blocked: PERIOD_CLOSED: GL-7", 500.0, "EUR", "P-1"),
                _entry("blocked: PERIOD_CLOSED: GL-7", 100.0, "USD", HOSTILE),
                _entry("posted, not invoiced", 300.0, "EUR", "P-2"),
                _entry("blocked: RATE_CARD_EXPIRED: R-1", 700.0, "EUR", "P-3"),
            ],
            "time_posting_first_pass": [_entry("failed, not posted", 50.0, "EUR", "P-1", "INVALID_PROJECT: X")],
        },
        [
            {"time": "2026-03-03T10:00:00Z", "fingerprint": "a", "rule": "R1", "to_state": "firing",
             "severity": "page", "labels": {"flow": "psa-to-erp-time"}, "summary": HOSTILE},
            {"time": "2026-03-03T12:30:00Z", "fingerprint": "a", "rule": "R1", "to_state": "resolved",
             "severity": "page", "labels": {}, "summary": ""},
            {"time": "2026-03-10T10:00:00Z", "fingerprint": "b", "rule": "R2", "to_state": "firing",
             "severity": "page", "labels": {}, "summary": "after the week"},
        ],
    )  # fmt: skip
    return build_weekly(sources, 2026, 10, firm=HOSTILE, generated_at=datetime(2026, 3, 9, 7, tzinfo=UTC))


def test_the_model_of_a_week(report: dict[str, Any]) -> None:
    assert (report["week"], report["from"], report["to"]) == (
        "2026-W10",
        "2026-03-02T00:00:00Z",
        "2026-03-09T00:00:00Z",
    )
    first = next(f for f in report["headline"] if f["key"] == "first_pass")
    assert (first["value"], first["previous"], first["change"]) == (0.9, 0.99, pytest.approx(-0.09))
    assert first["trend"] == [None] * 10 + [0.99, 0.9]  # a week with no data is a gap, not a zero
    # causes ranked by their largest amount in one currency, never converted
    causes = [(c["cause"], c["money"]) for c in report["stuck"]["at_risk"]]
    assert causes == [("RATE_CARD_EXPIRED", {"EUR": 700.0}), ("PERIOD_CLOSED", {"EUR": 500.0, "USD": 100.0}),
                      ("not invoiced", {"EUR": 300.0})]  # fmt: skip
    assert report["stuck"]["rejections"][0]["cause"] == "INVALID_PROJECT"
    assert report["stuck"]["silent_flows"] == [{"flow": "psa-to-erp-time", "hours_quiet": 2.0, "quiet_text": "2.0 h"}]
    # the incident of the week resolved after 150 minutes; the one after the week is not this week's
    assert [(i["rule"], i["minutes_to_resolve"]) for i in report["incidents"]] == [("R1", 150.0)]
    gap = report["trust"]["slis"][0]
    assert report["trust"]["complete"] is False
    assert gap["left_out"][0]["count"] == 3 and gap["left_out"][0]["money_text"] == "EUR 120"


def test_the_html_escapes_text_from_events_and_settings(report: dict[str, Any]) -> None:
    html = render_html(report)
    assert "<img" not in html and "onerror=&#34;alert(1)&#34;" in html
    assert "EUR 700" in html and "2.0 h" in html
    assert "Mon 2 Mar 2026 to Sun 8 Mar 2026" in html


def test_sparklines_are_numbers_only() -> None:
    drawn = str(sparkline([1.0, None, 2.0, 3.0], "higher"))
    assert drawn.startswith('<svg class="spark" role="img"') and "<text" not in drawn  # no axis, no words
    assert 'fill="#2e7d32"' in drawn  # up is good news for a higher-is-better figure
    assert 'fill="#c62828"' in str(sparkline([1.0, 3.0], "lower"))
    assert "#2e7d32" not in str(sparkline([None, None])) and "#c62828" not in str(sparkline([None, None]))
