"""Each recommendation rule on a fixed report model: it fires on its figure, says that figure as the report prints
it and names its owner; on a quiet week it says nothing."""

from __future__ import annotations

from typing import Any

import pytest

from reports import recommendations as rules
from reports.recommendations import DEAD_LETTER_HOURS, RULES, recommend


def _cause(cause: str, entries: int, money_text: str, kind: str = "ERP rejection", **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "cause": cause, "entries": entries, "money_text": money_text, "projects": [],
            "tenants": [], **extra}  # fmt: skip


def quiet() -> dict[str, Any]:
    """A week with nothing to act on: every rule must stay silent."""
    return {
        "stuck": {"at_risk": [], "rejections": [], "dead_letters": [], "silent_flows": []},
        "trust": {"complete": True, "slis": [], "silent_flows": []},
        "slis": [{"name": "rate_card_exposure", "value": 0.0, "text": "0.0 h"}],
    }


def test_a_quiet_week_has_no_recommendation() -> None:
    assert recommend(quiet()) == []
    assert all(rule(quiet()) == [] for rule in RULES)


def test_period_closed_rejections_align_the_cut_off() -> None:
    report = quiet()
    report["stuck"]["rejections"] = [_cause("PERIOD_CLOSED", 2, "USD 350"), _cause("INVALID_PROJECT", 1, "EUR 5")]
    [found] = rules.period_closed(report)
    assert (found.owner, found.figure) == ("finance-systems", "2")
    assert found.text.startswith("2 time entries were refused by the ERP because the accounting period was closed")
    assert "(USD 350)" in found.text and "period-close calendar" in found.text


def test_expired_rate_cards_are_renewed_naming_the_projects() -> None:
    report = quiet()
    report["stuck"]["rejections"] = [_cause("RATE_CARD_EXPIRED", 1, "USD 250", projects=["P-9"])]
    [found] = rules.rate_card_expired(report)
    assert (found.owner, found.figure) == ("billing", "1")
    assert found.text.startswith("1 time entry was refused for an expired rate card (projects P-9): renew")


def test_planned_hours_without_a_rate_card() -> None:
    report = quiet()
    report["slis"] = [{"name": "rate_card_exposure", "value": 420.0, "text": "420.0 h"}]
    [found] = rules.rate_card_exposure(report)
    assert (found.owner, found.figure) == ("billing", "420.0 h")
    assert found.text.startswith("420.0 h of planned time in the next 14 days")
    report["slis"] = []  # the SLI not evaluated: no figure, no advice
    assert rules.rate_card_exposure(report) == []


@pytest.mark.parametrize(("hours", "fires"), [(DEAD_LETTER_HOURS + 1, True), (DEAD_LETTER_HOURS, False), (None, False)])
def test_dead_letters_waiting_longer_than_a_day_are_replayed(hours: float | None, fires: bool) -> None:
    report = quiet()
    report["stuck"]["dead_letters"] = [{"queue": "erp-time", "count": 7, "oldest_hours": hours,
                                        "oldest_text": "1.0 days"}]  # fmt: skip
    found = rules.dead_letters(report)
    assert bool(found) is fires
    if fires:
        assert (found[0].owner, found[0].figure) == ("integrations", "7")
        assert "7 messages wait in the erp-time dead-letter queue, the oldest for 1.0 days: replay" in found[0].text


def test_silent_flows_are_one_line_longest_quiet_first() -> None:
    report = quiet()
    report["stuck"]["silent_flows"] = [{"flow": "psa-to-erp-time", "hours_quiet": 2.0, "quiet_text": "2.0 h"},
                                       {"flow": "crm-deals", "hours_quiet": 30.0, "quiet_text": "30.0 h"}]  # fmt: skip
    [found] = rules.silent_flows(report)
    assert (found.owner, found.figure) == ("integrations", "2")
    assert found.text.startswith("2 integration flows have been silent for 2.0 h to 30.0 h (crm-deals, psa-to-erp")
    report["stuck"]["silent_flows"] = report["stuck"]["silent_flows"][:1]
    assert rules.silent_flows(report)[0].text.startswith("1 integration flow has been silent for 2.0 h (psa-to-erp")


def test_records_left_out_of_a_figure_point_at_the_source() -> None:
    report = quiet()
    report["trust"]["slis"] = [{"title": "Unbilled WIP at risk", "left_out": [
        {"reason": "unknown_billing_type", "why": "project billing type unknown", "count": 3}]}]  # fmt: skip
    [found] = rules.partial_coverage(report)
    assert (found.owner, found.figure) == ("integrations", "3")
    assert "3 records were left out of “Unbilled WIP at risk” (project billing type unknown)" in found.text
    assert found.text.endswith("fix the source's events so the figure sees them.")


def test_time_on_no_invoice_goes_to_billing_operations() -> None:
    report = quiet()
    kind = "Posted 30+ days ago, not on an invoice"
    report["stuck"]["at_risk"] = [_cause("PERIOD_CLOSED", 1, "EUR 500"), _cause("not invoiced", 4, "EUR 300", kind)]
    [found] = rules.not_invoiced(report)
    assert (found.owner, found.figure) == ("finance-ops", "EUR 300")
    assert found.text.startswith("EUR 300 of time posted 30+ days ago is on no invoice (4 entries)")


def test_recommend_lists_every_rule_that_fired_as_json() -> None:
    report = quiet()
    report["stuck"]["rejections"] = [_cause("PERIOD_CLOSED", 1, "USD 5")]
    report["stuck"]["silent_flows"] = [{"flow": "crm-deals", "hours_quiet": 3.0, "quiet_text": "3.0 h"}]
    assert [(r["rule"], r["owner"]) for r in recommend(report)] == [
        ("period_closed", "finance-systems"),
        ("silent_flows", "integrations"),
    ]
