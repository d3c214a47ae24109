"""Each fault scenario observably changes the stream or the state in the way docs/scenarios.md says."""

from __future__ import annotations

from collections import Counter

import pytest
from sim_unit_support import START, run_sim

from simulator.calendar import DAY
from simulator.faults import SCENARIOS, FaultSchedule, parse_fault_spec
from simulator.truth import discrepancies, slis
from syncwatch.vocabulary import canonical_type

N, DAYS, ON, OFF = 150, 28, 14, 21
W0, W1 = START + ON * DAY, START + OFF * DAY


@pytest.fixture(scope="module")
def baseline():
    return run_sim(N, DAYS, seed=9, spans=False)


def _faulted(name: str, end: float | None = OFF):
    return run_sim(N, DAYS, seed=9, faults={name: (ON, end)}, spans=False)


def _in_window(events, suffix: str, t0: float = W0, t1: float = W1):
    from datetime import datetime

    out = []
    for e in events:
        if (canonical_type(e["type"]) or "").endswith(suffix):
            t = datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
            if t0 <= t < t1:
                out.append(e)
    return out


def _failures(events, code: str) -> int:
    return sum(1 for e in _in_window(events, "time_entry.post_failed") if e["data"]["error_code"] == code)


def test_every_scenario_is_tested_here() -> None:
    tested = {n[len("test_") :] for n in globals() if n.startswith("test_")}
    assert set(SCENARIOS) <= tested


def test_erp_outage(baseline) -> None:
    _, base = baseline
    _, sink = _faulted("erp_outage")
    assert _failures(sink.events, "SSS_REQUEST_LIMIT_EXCEEDED") + _failures(sink.events, "HTTP_503") > 20 * (
        _failures(base.events, "SSS_REQUEST_LIMIT_EXCEEDED") + 1
    )
    assert len(_in_window(sink.events, "message.dead_lettered")) > 3 * len(
        _in_window(base.events, "message.dead_lettered")
    )
    assert len(_in_window(sink.events, "time_entry.posted")) < 0.2 * len(_in_window(base.events, "time_entry.posted"))


def test_closed_period(baseline) -> None:
    _, base = baseline
    sim, sink = _faulted("closed_period")
    assert _failures(sink.events, "PERIOD_CLOSED") > 10 * (_failures(base.events, "PERIOD_CLOSED") + 1)
    assert slis(sim.firm, W1, START)["exception_sla"]["open"] >= 0
    assert len(_in_window(sink.events, "exception.opened")) > 2 * len(_in_window(base.events, "exception.opened"))


def test_expired_rate_card(baseline) -> None:
    sim0, base = baseline
    sim, sink = _faulted("expired_rate_card", None)
    assert _failures(sink.events, "NO_EFFECTIVE_RATE") > _failures(base.events, "NO_EFFECTIVE_RATE")
    card_events = [
        e
        for e in sink.events
        if e["subject"] == sim.expired_card_id and canonical_type(e["type"]) == "rate_card.changed"
    ]
    assert any(e["data"]["end_date"] < "2025-03-17" for e in card_events)
    exposure = slis(sim.firm, sim.now, START)["rate_card_exposure"]["planned_hours_14d_without_card"]
    assert exposure > 0
    assert slis(sim0.firm, sim0.now, START)["rate_card_exposure"]["planned_hours_14d_without_card"] < exposure


def test_crm_rename(baseline) -> None:
    sim0, base = baseline
    sim, sink = _faulted("crm_rename", None)
    renamed = [
        e
        for e in sink.events
        if canonical_type(e["type"]) == "project.updated" and e["data"]["project_code"].endswith("-R")
    ]
    assert renamed
    assert _failures(sink.events, "INVALID_KEY_OR_REF") > 2 * _failures(base.events, "INVALID_KEY_OR_REF")
    mismatched = slis(sim.firm, sim.now, START)["master_data_consistency"]["mismatched"]
    assert mismatched >= len(renamed) > slis(sim0.firm, sim0.now, START)["master_data_consistency"]["mismatched"]


def test_hcm_sync_stall(baseline) -> None:
    sim0, base = baseline
    sim, sink = _faulted("hcm_sync_stall", None)
    assert _in_window(sink.events, "worker.changed")
    assert not _in_window(sink.events, "worker.synced", W0 + 3600, START + DAYS * DAY)
    assert _in_window(base.events, "worker.synced", W0 + 3600, START + DAYS * DAY)
    stalled = slis(sim.firm, sim.now, W0)["resource_plan_freshness"]
    normal = slis(sim0.firm, sim0.now, W0)["resource_plan_freshness"]
    assert stalled["oldest_unapplied_hours"] > 48 > normal["oldest_unapplied_hours"]
    assert (stalled["ratio"] or 0) < (normal["ratio"] or 1)


def test_duplicate_submissions(baseline) -> None:
    sim0, _ = baseline
    sim, _ = _faulted("duplicate_submissions")
    assert slis(sim0.firm, sim0.now, START)["duplicate_submission_rate"]["duplicated"] == 0
    assert slis(sim.firm, sim.now, START)["duplicate_submission_rate"]["ratio"] > 0.005
    assert any(d["kind"] == "duplicate_posting" for d in discrepancies(sim.firm, sim.now))


def test_dead_letter_buildup(baseline) -> None:
    _, base = baseline
    sim, sink = _faulted("dead_letter_buildup", None)
    assert not _in_window(sink.events, "message.replayed", W0, START + DAYS * DAY)
    assert _in_window(base.events, "message.replayed", W0, START + DAYS * DAY)
    backlog = slis(sim.firm, sim.now, START)["dead_letter_backlog"]
    assert sum(q["count"] for q in backlog.values()) > 10


def test_silent_flow(baseline) -> None:
    sim0, base = baseline
    sim, sink = _faulted("silent_flow")
    assert not _in_window(sink.events, "time_entry.post_requested")
    assert _in_window(base.events, "time_entry.post_requested")
    assert _in_window(sink.events, "timesheet.approved")  # the rest of the firm carries on
    assert sim.last_event_at["psa-to-erp-time"] > W1  # it resumed after the window
    stuck, _ = _faulted("silent_flow", None)
    late = Counter(d["kind"] for d in discrepancies(stuck.firm, stuck.now))["approved_not_posted"]
    assert late > 5 * (Counter(d["kind"] for d in discrepancies(sim0.firm, sim0.now))["approved_not_posted"] + 1)


def test_slow_drift(baseline) -> None:
    _, base = baseline
    _, sink = _faulted("slow_drift", None)

    def rate(events) -> float:
        firsts = [e for e in _in_window(events, "post_requested", W1, START + DAYS * DAY) if e["data"]["attempt"] == 1]
        failed = [
            e for e in _in_window(events, "time_entry.post_failed", W1, START + DAYS * DAY) if e["data"]["attempt"] == 1
        ]
        return len(failed) / max(1, len(firsts))

    assert rate(sink.events) > rate(base.events) + 0.02


def test_master_data_drift(baseline) -> None:
    sim0, _ = baseline
    sim, sink = _faulted("master_data_drift", None)
    drifted = [
        e for e in sink.events if e["type"] == "com.netsuite.erp.project.updated" and e["data"]["status"] == "closed"
    ]
    assert drifted
    found = [d for d in discrepancies(sim.firm, sim.now) if d["kind"] == "project_mismatch" and "status" in d["fields"]]
    assert len(found) >= len(drifted)
    assert (
        slis(sim.firm, sim.now, START)["master_data_consistency"]["mismatched"]
        > slis(sim0.firm, sim0.now, START)["master_data_consistency"]["mismatched"]
    )


def test_fault_spec_parsing_and_switching() -> None:
    name, start, end = parse_fault_spec("erp-outage@3+1.5", START, START + 30 * DAY)
    assert (name, start, end) == ("erp_outage", START + 3 * DAY, START + 4.5 * DAY)
    with pytest.raises(ValueError):
        parse_fault_spec("no_such_fault", START, START + DAY)
    schedule = FaultSchedule()
    assert schedule.switch("silent_flow", True, START)
    assert schedule.active("silent_flow", START + 10 * DAY)
    assert schedule.switch("silent_flow", False, START + DAY)
    assert not schedule.active("silent_flow", START + DAY)


def test_docs_scenarios_states_each_summary_and_signal() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "scenarios.md").read_text()
    for scenario in SCENARIOS.values():
        section = doc.split(f"## {scenario.name}\n", 1)[1].split("\n## ", 1)[0]
        assert scenario.summary in section, scenario.name
        for signal, direction in scenario.moves:
            assert f"| {signal} | {direction} |" in section, (scenario.name, signal)
