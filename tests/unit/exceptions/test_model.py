"""Cases as values: routing, due times in business time, reconcile (open, repeat, heal, reopen) and actions, on fixed
datetimes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.model import (
    SYSTEM_ACTOR,
    Action,
    ActionRefused,
    Evidence,
    act,
    add_business_seconds,
    case_id,
    reconcile,
    route,
)
from metrics.windows import business_seconds

FRIDAY = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 6, 16, 0, tzinfo=UTC)


def rejection(**overrides: object) -> Evidence:
    values: dict[str, object] = {
        "kind": "erp_rejection",
        "cause": "erp_rejection:PERIOD_CLOSED",
        "key": "E1",
        "category": "PERIOD_CLOSED",
        "first_seen": FRIDAY,
        "last_seen": FRIDAY,
        "occurrences": 1,
        "tenant": "acme-us",
        "money": {"USD": 300.0},
        "detail": "ERP refused the entry: X",
    }
    values.update(overrides)
    return Evidence(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "category", "owner", "severity"),
    [
        ("erp_rejection", "PERIOD_CLOSED", "finance-ops", "P2"),
        ("exception", "time_posting.closed_period", "finance-ops", "P2"),
        ("erp_rejection", "INVALID_PROJECT_OR_ASSIGNMENT", "project-operations", "P2"),
        ("exception", "time_posting.rate_card", "project-operations", "P2"),
        ("unknown_billing_type", "", "project-operations", "P3"),
        ("dead_letter", "erp-time-posting", "integrations", "P1"),
        ("erp_rejection", "ERP_UNAVAILABLE", "integrations", "P2"),
        ("erp_rejection", "MISSING_COST_CENTER", "integrations", "P3"),
    ],
)
def test_routing_defaults(kind: str, category: str, owner: str, severity: str) -> None:
    assert route(kind, category) == route(kind, category)
    assert (route(kind, category).owner_team, route(kind, category).severity) == (owner, severity)


def test_a_severity_the_source_gave_is_kept() -> None:
    assert route("exception", "invoice_posting", "P1").severity == "P1"


def test_due_time_skips_the_weekend() -> None:
    # Friday 15:00 plus one business day (24 business hours) is Monday 15:00
    assert add_business_seconds(FRIDAY, 86400) == datetime(2026, 11, 9, 15, 0, tzinfo=UTC)
    # a Saturday start counts from Monday 00:00
    assert add_business_seconds(datetime(2026, 11, 7, 10, 0, tzinfo=UTC), 4 * 3600) == datetime(
        2026, 11, 9, 4, 0, tzinfo=UTC
    )
    # ending exactly at Friday's end is Monday 00:00, as the SQL places a due time
    assert add_business_seconds(datetime(2026, 11, 6, 20, 0, tzinfo=UTC), 4 * 3600) == datetime(2026, 11, 9, tzinfo=UTC)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.floats(min_value=0, max_value=30 * 86400),
)
def test_add_business_seconds_is_the_inverse_of_business_seconds(moment: datetime, seconds: float) -> None:
    start = moment.replace(tzinfo=UTC)
    due = add_business_seconds(start, seconds)
    assert business_seconds(due) == pytest.approx(business_seconds(start) + seconds, abs=0.002)
    assert due.weekday() < 5


def test_opens_one_case_with_owner_money_and_due_time() -> None:
    case, audit = reconcile(None, rejection(), NOW)
    assert case is not None
    assert case.case_id == case_id("erp_rejection:PERIOD_CLOSED", "E1")
    assert (case.owner_team, case.severity, case.state) == ("finance-ops", "P2", "open")
    assert case.money == {"USD": 300.0}
    assert case.due_at == datetime(2026, 11, 9, 15, 0, tzinfo=UTC)
    assert [a.action for a in audit] == ["opened"] and audit[0].actor == SYSTEM_ACTOR


def test_same_evidence_again_changes_nothing() -> None:
    case, _ = reconcile(None, rejection(), NOW)
    again, audit = reconcile(case, rejection(), NOW + timedelta(minutes=1))
    assert again == case and audit == []


def test_a_healed_record_with_no_case_opens_none() -> None:
    assert reconcile(None, rejection(healed_at=NOW, healed_by="time_entry.posted"), NOW) == (None, [])


def test_repeats_append() -> None:
    case, _ = reconcile(None, rejection(), NOW)
    assert case is not None
    later = FRIDAY + timedelta(hours=2)
    repeated, audit = reconcile(case, rejection(occurrences=2, last_seen=later), NOW)
    assert repeated is not None
    assert (repeated.occurrences, repeated.last_seen, repeated.opened_at) == (2, later, FRIDAY)
    assert [a.action for a in audit] == ["repeated"]
    assert audit[0].before == {"occurrences": 1, "last_seen": "2026-11-06T15:00:00Z"}


def test_healing_auto_resolves_naming_the_evidence() -> None:
    case, _ = reconcile(None, rejection(), NOW)
    healed, audit = reconcile(case, rejection(healed_at=NOW, healed_by="time_entry.posted at X"), NOW)
    assert healed is not None
    assert (healed.state, healed.resolution_note, healed.resolved_by) == (
        "auto_resolved",
        "time_entry.posted at X",
        SYSTEM_ACTOR,
    )
    assert [a.action for a in audit] == ["auto_resolved"]


def test_manual_resolve_then_new_evidence_reopens() -> None:
    case, _ = reconcile(None, rejection(), NOW)
    assert case is not None
    resolved, _ = act(case, Action("resolve", code="fixed_in_erp"), "alice", NOW)
    unchanged, audit = reconcile(resolved, rejection(), NOW)
    assert unchanged.state == "resolved" and audit == []  # type: ignore[union-attr]
    again, audit = reconcile(resolved, rejection(occurrences=2, last_seen=NOW), NOW + timedelta(minutes=5))
    assert again is not None and again.state == "open"
    assert [a.action for a in audit] == ["reopened"]


def test_actions_and_their_audit() -> None:
    case, _ = reconcile(None, rejection(), NOW)
    assert case is not None
    acked, entry = act(case, Action("acknowledge"), "alice", NOW)
    assert acked.state == "acknowledged" and entry.before == {"state": "open"} and entry.actor == "alice"
    assigned, entry = act(acked, Action("assign", team="integrations", assignee="bob"), "alice", NOW)
    assert (assigned.owner_team, assigned.assignee) == ("integrations", "bob")
    assert entry.detail == {"team": "integrations", "assignee": "bob"}
    commented, entry = act(assigned, Action("comment", note="<b>asked the ERP team</b>"), "alice", NOW)
    assert commented.state == assigned.state and entry.detail == {"note": "<b>asked the ERP team</b>"}
    with pytest.raises(ActionRefused):
        act(assigned, Action("reopen"), "alice", NOW)
    with pytest.raises(ActionRefused):
        act(assigned, Action("resolve"), "alice", NOW)
    done, _ = act(assigned, Action("resolve", code="fixed_in_erp", note="reopened the period"), "alice", NOW)
    assert (done.state, done.resolved_by) == ("resolved", "alice")
    with pytest.raises(ActionRefused):
        act(done, Action("start"), "alice", NOW)
    back, entry = act(done, Action("reopen", note="not fixed"), "bob", NOW)
    assert back.state == "open" and entry.after["state"] == "open"


def test_waiting_pauses_the_clock() -> None:
    case, _ = reconcile(None, rejection(), NOW)
    assert case is not None
    waiting, _ = act(case, Action("wait", reason="waiting on client"), "alice", FRIDAY + timedelta(hours=1))
    assert waiting.waiting_reason == "waiting on client"
    # from Friday 16:00 to Monday 10:00 is 18 business hours: the due time moves 18 business hours later
    started, entry = act(waiting, Action("start"), "alice", datetime(2026, 11, 9, 10, 0, tzinfo=UTC))
    assert started.due_at == add_business_seconds(case.due_at, 18 * 3600)
    assert started.waiting_reason == "" and "due_at" in entry.after


def test_unknown_action_refused() -> None:
    case, _ = reconcile(None, rejection(), NOW)
    assert case is not None
    with pytest.raises(ActionRefused):
        act(replace(case), Action("delete"), "alice", NOW)
