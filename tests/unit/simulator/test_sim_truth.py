"""The ground-truth calculator on small hand-built states, where every number is worked out by hand."""

from __future__ import annotations

from simulator.calendar import DAY, HOUR
from simulator.model import Consultant, DeadLetter, Entry, Firm, Posting, Project, WorkerChange
from simulator.truth import discrepancies, percentile, slis

T0 = 1_741_000_000.0 - (1_741_000_000.0 % DAY)  # a day start (2025-03-03, a Monday)


def _entry(i: int, **kw) -> Entry:  # noqa: ANN003
    e = Entry(f"E{i}", "C1", "acme-us", "P1", T0, 8.0, "TS1", billable=True, rate=100.0, currency="USD")
    for k, v in kw.items():
        setattr(e, k, v)
    return e


def _firm(*entries: Entry) -> Firm:
    firm = Firm()
    for e in entries:
        firm.entries[e.id] = e
    return firm


def test_first_pass_counts_first_attempts_in_window_only() -> None:
    firm = _firm(
        _entry(1, first_attempt_at=T0 + HOUR, first_attempt_ok=True),
        _entry(2, first_attempt_at=T0 + 2 * HOUR, first_attempt_ok=False),
        _entry(3, first_attempt_at=T0 + 3 * HOUR, first_attempt_ok=True),
        _entry(4, first_attempt_at=T0 - HOUR, first_attempt_ok=False),  # before the window
    )
    out = slis(firm, T0 + DAY, T0)
    assert out["time_posting_first_pass"] == {"good": 2, "total": 3, "ratio": 2 / 3}


def test_eventual_counts_only_entries_at_least_sla_old() -> None:
    firm = _firm(
        _entry(1, approved_at=T0, posted_at=T0 + 2 * HOUR),  # in SLA
        _entry(2, approved_at=T0, posted_at=T0 + 30 * HOUR),  # late
        _entry(3, approved_at=T0 + HOUR),  # never posted: bad
        _entry(4, approved_at=T0 + 2 * DAY),  # less than SLA ago at as_of: not judged yet
    )
    out = slis(firm, T0 + 2.5 * DAY, T0)
    assert out["time_posting_eventual"] == {"good": 1, "total": 3, "ratio": 1 / 3}


def test_duplicates_and_discrepancy() -> None:
    firm = _firm(_entry(1, status="POSTED"), _entry(2, status="POSTED"), _entry(3, status="APPROVED", approved_at=T0))
    for doc, entry in (("J1", "E1"), ("J2", "E1"), ("J3", "E2")):
        p = Posting(doc, entry, "C1", "P1", T0, 8.0, 800.0, "USD", "acme-us", T0 + HOUR, f"ik-{doc}")
        firm.postings.append(p)
        firm.postings_by_entry.setdefault(entry, []).append(p)
    out = slis(firm, T0 + DAY, T0)
    assert out["duplicate_submission_rate"] == {"duplicated": 2, "posted": 3, "ratio": 2 / 3}
    kinds = sorted((d["kind"], d["object_id"]) for d in discrepancies(firm, T0 + DAY))
    assert kinds == [("approved_not_posted", "E3"), ("duplicate_posting", "E1")]


def test_dead_letter_backlog_and_freshness() -> None:
    firm = Firm()
    firm.dead_letters["M1"] = DeadLetter("M1", "ev1", "q", "x", 1, "E1", "acme-us", T0)
    firm.dead_letters["M2"] = DeadLetter("M2", "ev2", "q", "x", 1, "E2", "acme-us", T0 + 2 * HOUR)
    firm.dead_letters["M3"] = DeadLetter("M3", "ev3", "q", "x", 1, "E3", "acme-us", T0, replayed_at=T0 + HOUR)
    firm.worker_changes["W1"] = WorkerChange("W1", "C1", "org", T0, T0, "acme-us", synced_at=T0 + 2 * HOUR)
    firm.worker_changes["W2"] = WorkerChange("W2", "C2", "termination", T0, T0, "acme-us", synced_at=T0 + 5 * HOUR)
    firm.worker_changes["W3"] = WorkerChange("W3", "C3", "org", T0, T0 + 5 * HOUR, "acme-us")  # open, 5 h old
    out = slis(firm, T0 + 10 * HOUR, T0)
    assert out["dead_letter_backlog"] == {"q": {"count": 2, "oldest_hours": 10.0}}
    fresh = out["resource_plan_freshness"]
    # W1 in time; W2 a termination synced after 5 h (> 4 h): late; W3 not yet judged (open 5 h < 24 h).
    assert (fresh["within_sla"], fresh["total"]) == (1, 2)
    assert fresh["oldest_unapplied_hours"] == 5.0


def test_master_data_and_worker_discrepancies() -> None:
    firm = Firm()
    p = Project("P1", "n", "CU1", "acme-us", "USD", "time_and_materials", "daily", "006", T0, T0 + 90 * DAY, "1", "2")
    p.psa_code = p.crm_code = p.erp_code = "P1"
    p.erp_customer_id, p.erp_currency, p.erp_billing_type = "CU1", "USD", "time_and_materials"
    p.erp_status = "closed"
    firm.projects["P1"] = p
    firm.consultants["C1"] = Consultant(
        "C1", "acme-us", "analyst", "CC-1", "C1", T0, status="terminated", psa_status="active", psa_cost_center="CC-1"
    )
    found = discrepancies(firm, T0 + DAY)
    assert {(d["kind"], d["object_id"]) for d in found} == {
        ("project_mismatch", "P1"),
        ("worker_not_synced", "C1"),
    }
    assert next(d for d in found if d["kind"] == "project_mismatch")["fields"] == ["status"]
    out = slis(firm, T0 + DAY, T0)
    assert out["master_data_consistency"]["mismatched"] == 1
    assert out["master_data_consistency"]["mismatch_ratio"] == 1.0


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile(list(range(1, 101)), 95) == 95


def test_readiness_lag_judges_entries_once_their_project_is_named() -> None:
    firm = _firm(
        _entry(1, approved_at=T0, first_attempt_at=T0 + HOUR, invoice_ready_at=T0 + DAY),  # ready after 1 day
        _entry(2, approved_at=T0, first_attempt_at=T0 + HOUR),  # posted or failing: open at its age
        _entry(3, approved_at=T0 + 2 * DAY),  # approved, not picked up: no event names its project yet
        _entry(4, approved_at=T0 + DAY, supersedes="E9"),  # an adjustment names its project
        _entry(5, approved_at=T0, first_attempt_at=T0 + HOUR, billable=False),
    )
    out = slis(firm, T0 + 3 * DAY, T0)["invoice_readiness_lag_business_days"]
    assert out == {"p50": 2.0, "p95": 3.0, "count": 3}
    wip = slis(firm, T0 + 3 * DAY, T0)["unbilled_wip"]["by_currency_and_age"]
    assert wip == {"USD": {"0-7": 1600.0, "8-30": 0.0, "31-60": 0.0, ">60": 0.0}}
