"""Each built-in probe, over real HTTP against the simulated estate, finds exactly the discrepancies the ground
truth lists (simulator/truth.py, an independent oracle), in a clean run and under each fault scenario."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from probes.fleet import ProbeFleet
from probes.model import Outcome, ProbeRun
from probes.reconcile.reachability import periods_that_must_be_open
from simulator import truth
from simulator.apis.app import create_app
from simulator.runtime import integration_states
from simulator.simulation import Simulation

from .probe_support import estate_probes, serve, set_secrets, simulate

pytestmark = pytest.mark.integration

# Kinds the probes report keyed exactly as the ground truth keys them.
KEYED = ("approved_not_posted", "duplicate_posting", "project_mismatch", "deal_without_project",
         "worker_not_synced", "dead_letter_unreplayed")  # fmt: skip
# scenario -> the integration the middleware reports stopped while it is on (simulator/runtime.py)
STOPS = {"hcm_sync_stall": "hcm-to-psa-workers", "dead_letter_buildup": "dead-letter-replay",
         "silent_flow": "psa-to-erp-time"}  # fmt: skip
# scenario -> the kinds it must raise above a clean run (docs/scenarios.md)
SCENARIOS = {
    "closed_period": ("approved_not_posted",),
    "expired_rate_card": ("assignment_without_rate_card",),
    "crm_rename": ("project_mismatch",),
    "hcm_sync_stall": ("worker_not_synced",),
    "duplicate_submissions": ("duplicate_posting",),
    "dead_letter_buildup": ("dead_letter_unreplayed",),
    "silent_flow": ("approved_not_posted",),
    "master_data_drift": ("project_mismatch",),
}


def _run_all(sim: Simulation, monkeypatch: pytest.MonkeyPatch) -> dict[str, ProbeRun]:
    set_secrets(monkeypatch)
    with serve(create_app(sim)) as base:
        fleet = ProbeFleet(estate_probes(base), now=lambda: sim.now)
        try:
            return {name: fleet.run(name) for name in fleet.probes}
        finally:
            fleet.close()


def _by_kind(runs: dict[str, ProbeRun]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for run in runs.values():
        for f in run.findings:
            out.setdefault(f.kind, set()).add(f.object_id)
    return out


def _truth(sim: Simulation) -> tuple[list[dict[str, Any]], dict[str, set[str]]]:
    found = truth.discrepancies(sim.firm, sim.now)
    keyed: dict[str, set[str]] = {}
    for f in found:
        keyed.setdefault(f["kind"], set()).add(f["object_id"])
    return found, keyed


@pytest.fixture(scope="module")
def clean() -> Iterator[tuple[Simulation, dict[str, ProbeRun]]]:
    with pytest.MonkeyPatch.context() as mp:
        sim = simulate()
        yield sim, _run_all(sim, mp)


def test_clean_estate_matches_truth(clean: tuple[Simulation, dict[str, ProbeRun]]) -> None:
    sim, runs = clean
    assert {r.outcome for r in runs.values()} <= {Outcome.OK, Outcome.MISMATCH}, {n: r.error for n, r in runs.items()}
    assert set(runs) == {"erp_reachability", "integration_runtime", "time_posting", "duplicate_postings",
                         "project_master_data", "deals_without_project", "worker_sync", "rate_cards",
                         "dead_letters"}  # fmt: skip
    _, expected = _truth(sim)
    ours = _by_kind(runs)
    for kind in KEYED:
        assert ours.get(kind, set()) == expected.get(kind, set()), kind
    # A clean firm only has work in flight: no master-data, sync or rate-card defects.
    for kind in ("project_mismatch", "deal_without_project", "worker_not_synced", "duplicate_posting",
                 "assignment_without_rate_card", "integration_stopped", "period_closed_early"):  # fmt: skip
        assert kind not in ours
    assert runs["project_master_data"].outcome is Outcome.OK
    for run in runs.values():
        assert run.api_calls >= 1 and run.duration_ms > 0


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_fault_scenario_found_exactly(
    scenario: str, clean: tuple[Simulation, dict[str, ProbeRun]], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = simulate(scenario)
    runs = _run_all(sim, monkeypatch)
    assert all(r.outcome.healthy_answer for r in runs.values()), {n: r.error for n, r in runs.items()}
    found, expected = _truth(sim)
    ours = _by_kind(runs)
    for kind in KEYED:
        assert ours.get(kind, set()) == expected.get(kind, set()), kind
    # The fault is still on at the end of the run: exactly its integration is reported stopped, since its start.
    stopped = [f for f in runs["integration_runtime"].findings if f.kind == "integration_stopped"]
    assert {f.object_id for f in stopped} == ({STOPS[scenario]} if scenario in STOPS else set())
    assert {f.object_id for f in stopped} == {i["name"] for i in integration_states(sim) if i["status"] != "running"}
    for f in stopped:
        assert f.detail["status"] == "stopped" and f.detail["status_reason"] and f.detail["flow"] == f.object_id
        assert abs(f.age_seconds - (sim.now - sim.faults.windows[scenario][0].start)) < 1.0
    # Periods closed while time still posts to them: only closed_period closes one (the normal close is on the 6th).
    today = datetime.fromtimestamp(sim.now, UTC).date()
    open_now = {m.strftime("%Y-%m") for m in periods_that_must_be_open(today, 6)}
    closed = {f"{tenant}/{period}" for tenant, period in sim.firm.closed_periods if period in open_now}
    assert {f.object_id for f in runs["erp_reachability"].findings} == closed
    assert bool(closed) == (scenario == "closed_period")
    clean_counts = Counter(f.kind for r in clean[1].values() for f in r.findings)
    for kind in SCENARIOS[scenario]:
        assert len(ours.get(kind, ())) > clean_counts[kind], f"{scenario} did not raise {kind}"
    if scenario == "expired_rate_card":
        # Keyed by project (the APIs expose no assignments): every project of an uncovered assignment is found,
        # and nothing outside the lapsed card's customer.
        truth_projects = {f["project_code"] for f in found if f["kind"] == "assignment_without_rate_card"}
        assert truth_projects and truth_projects <= ours["assignment_without_rate_card"]
        customer = sim.expired_card_id.removeprefix("RC-")
        assert {sim.firm.projects[c].customer_id for c in ours["assignment_without_rate_card"]} == {customer}
        lapsed = [f for r in runs.values() for f in r.findings if f.kind == "assignment_without_rate_card"]
        assert all(f.amount is not None and f.detail["rate_card_id"] == sim.expired_card_id for f in lapsed)


def test_deals_without_project_when_the_crm_to_psa_flow_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = simulate("silent_flow", silent_flow="crm-to-psa-projects")
    runs = _run_all(sim, monkeypatch)
    _, expected = _truth(sim)
    ours = _by_kind(runs)
    assert expected.get("deal_without_project")
    assert ours.get("deal_without_project") == expected["deal_without_project"]
    deals = [f for f in runs["deals_without_project"].findings]
    assert all(f.amount is not None and f.amount > 0 and f.currency and f.age_seconds > 86400 for f in deals)


def test_findings_carry_keys_and_money(
    clean: tuple[Simulation, dict[str, ProbeRun]], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = simulate("duplicate_submissions")
    runs = _run_all(sim, monkeypatch)
    dups = [f for f in runs["duplicate_postings"].findings if f.kind == "duplicate_posting"]
    assert dups
    for f in dups:
        postings = [p for p in sim.firm.postings_by_entry[f.object_id] if not p.reversed]
        assert len(f.detail["documents"]) == len(postings)
        assert f.amount is not None and abs(float(f.amount) - sum(p.amount for p in postings[1:])) < 0.01
        assert f.tenant_id == sim.firm.entries[f.object_id].tenant and f.consultant_id and f.project_code
    pending = [f for f in runs["time_posting"].findings if f.kind == "approved_not_posted"]
    for f in pending:
        e = sim.firm.entries[f.object_id]
        assert abs(f.age_seconds - (sim.now - e.approved_at)) < 1.0
        if f.amount is not None:
            assert abs(float(f.amount) - e.hours * e.rate) <= 0.01 * max(1.0, e.hours * e.rate)


def test_duplicate_scan_is_incremental_and_stays_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.calendar import DAY

    set_secrets(monkeypatch)
    sim = simulate("duplicate_submissions", days=21)
    with serve(create_app(sim)) as base:
        fleet = ProbeFleet(estate_probes(base), now=lambda: sim.now)
        first = fleet.run("duplicate_postings")
        assert {f.object_id for f in first.findings} == _truth(sim)[1]["duplicate_posting"]
        with sim.lock:
            sim.run_until(sim.now + 3 * DAY)  # more postings, more duplicates, some adjustments reverse journals
        second = fleet.run("duplicate_postings")
        fleet.close()
    expected = _truth(sim)[1]["duplicate_posting"]
    assert {f.object_id for f in second.findings} == expected and len(expected) > len(first.findings)
    assert second.api_calls < first.api_calls, (first.api_calls, second.api_calls)  # 3 days read, not 24
