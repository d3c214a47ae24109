"""Cases from probe findings on the real warehouse: one case per (finding kind, record) from each probe's latest
answer, owned by the routing defaults; auto-resolved by a later answer that no longer reports it, naming the run;
never by a blind (failed) or stale probe. Then on the simulated firm: a fault the probes detect opens exactly the
cases the ground truth lists, and the probes' answers on the healed estate close them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from clickhouse_connect.driver.client import Client

from cases.keeper import CaseKeeper
from cases.model import Case
from cases.routing import load_policy
from cases.store import load_cases
from probes.fleet import ProbeFleet
from probes.model import Finding, Outcome, ProbeRun
from probes.store import write_run
from simulator import truth
from simulator.apis.app import create_app
from simulator.simulation import Simulation
from tests.integration.probes.probe_support import estate_probes, serve, set_secrets, simulate

pytestmark = pytest.mark.integration

T = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday
DAY = 86400.0


def run(probe: str, run_id: str, at: datetime, outcome: Outcome, *findings: Finding) -> ProbeRun:
    return ProbeRun(run_id, probe, "erp", at.timestamp(), outcome, 120.0, 3, "" if outcome.healthy_answer else
                    "erp: POST /query answered 503", tuple(findings))  # fmt: skip


def unposted(entry: str, amount: str = "300", age: float = 2 * DAY) -> Finding:
    return Finding("approved_not_posted", "time_entry", entry, "erp", "acme-us", "P-1", "C-7", age, Decimal(amount),
                   "USD", {"status": "approved", "hours": 3})  # fmt: skip


@pytest.fixture
def keeper(warehouse: Client) -> CaseKeeper:
    return CaseKeeper(lambda: warehouse, load_policy())


def probe_cases(warehouse: Client) -> dict[tuple[str, str], Case]:
    return {(c.cause, c.business_key): c for c in load_cases(warehouse).values() if c.kind == "probe_finding"}


def test_findings_open_cases_heal_only_by_a_fresh_answer_and_reopen(warehouse: Client, keeper: CaseKeeper) -> None:
    mismatch = Finding("project_mismatch", "project", "P-9", "erp", "acme-de", "P-9", "", 3600.0, None, "",
                       {"fields": ["customer"], "customer": "Globex"})  # fmt: skip
    stopped = Finding("integration_stopped", "integration", "psa-to-erp-time", "middleware", age_seconds=60.0)
    write_run(warehouse, run("time_posting", "r1", T, Outcome.MISMATCH, unposted("E1"), unposted("E2", "50")))
    write_run(warehouse, run("project_master_data", "m1", T, Outcome.MISMATCH, mismatch))
    write_run(warehouse, run("integration_runtime", "i1", T, Outcome.MISMATCH, stopped))
    assert keeper.maintain(T + timedelta(minutes=1)).audit == {"opened": 3}
    cases = probe_cases(warehouse)
    assert sorted(cases) == [
        ("probe_finding:approved_not_posted", "E1"),
        ("probe_finding:approved_not_posted", "E2"),
        ("probe_finding:project_mismatch", "P-9"),
    ]  # fmt: skip  (a stopped flow is an alert's)
    e1 = cases[("probe_finding:approved_not_posted", "E1")]
    assert (e1.owner_team, e1.severity, e1.money, e1.tenant, e1.project, e1.consultant) == (
        "integrations", "P2", {"USD": 300.0}, "acme-us", "P-1", "C-7")  # fmt: skip
    assert e1.opened_at == T - timedelta(days=2)  # the entry waited 2 days before the probe saw it
    assert e1.due_at == T - timedelta(days=1) and e1.systems == ("erp",)
    assert "probe time_posting reports approved_not_posted on time_entry E1" in e1.detail
    p9 = cases[("probe_finding:project_mismatch", "P-9")]
    assert (p9.owner_team, p9.severity) == ("project-operations", "P3")

    # The same answer again, and a later answer still reporting E1 and E2: nothing changes.
    assert keeper.maintain(T + timedelta(minutes=2)).changed == 0
    write_run(warehouse, run("time_posting", "r2", T + timedelta(minutes=15), Outcome.MISMATCH, unposted("E1"),
                             unposted("E2", "50")))  # fmt: skip
    assert keeper.maintain(T + timedelta(minutes=16)).changed == 0

    # Blind: the ERP answered 503, the run has no findings; nothing heals.
    write_run(warehouse, run("time_posting", "r3", T + timedelta(minutes=30), Outcome.FAILED))
    assert keeper.maintain(T + timedelta(minutes=31)).changed == 0

    # An answer without E1 heals E1 only, naming the run; E2 is still reported.
    write_run(warehouse, run("time_posting", "r4", T + timedelta(minutes=45), Outcome.MISMATCH, unposted("E2", "50")))
    assert keeper.maintain(T + timedelta(minutes=46)).audit == {"auto_resolved": 1}
    e1 = probe_cases(warehouse)[("probe_finding:approved_not_posted", "E1")]
    assert (e1.state, e1.resolution) == ("auto_resolved", "healed")
    assert e1.resolution_note == "probe time_posting run r4 at 2026-11-04 10:45:00Z no longer reports it"
    assert e1.resolved_at == T + timedelta(minutes=45)

    # Stale: the clean answer is 4 intervals old (runs every 15 min) when the job reads it; E2 stays open.
    write_run(warehouse, run("time_posting", "r5", T + timedelta(minutes=60), Outcome.OK))
    assert keeper.maintain(T + timedelta(minutes=60 + 4 * 15)).changed == 0
    assert probe_cases(warehouse)[("probe_finding:approved_not_posted", "E2")].state == "open"
    assert keeper.maintain(T + timedelta(minutes=61)).audit == {"auto_resolved": 1}

    # E1 is reported again: its case reopens, due its SLA from now.
    write_run(warehouse, run("time_posting", "r6", T + timedelta(minutes=75), Outcome.MISMATCH, unposted("E1")))
    assert keeper.maintain(T + timedelta(minutes=76)).audit == {"reopened": 1}
    e1 = probe_cases(warehouse)[("probe_finding:approved_not_posted", "E1")]
    assert (e1.state, e1.due_at) == ("open", T + timedelta(minutes=76, days=1))


@pytest.fixture(scope="module")
def duplicated() -> Iterator[tuple[Simulation, Simulation]]:
    """The firm with duplicate submissions from day 10, and the same firm without them (the ERP cleaned up)."""
    yield simulate("duplicate_submissions", days=20, fault_day=10, consultants=60), simulate(days=20, consultants=60)


def _probe_once(sim: Simulation, name: str, monkeypatch: pytest.MonkeyPatch, at: datetime) -> ProbeRun:
    """One run over HTTP against the simulated estate, stamped `at`: the firm lives in 2025, and findings older than
    the retention would be dropped by the table's TTL as they are written."""
    set_secrets(monkeypatch)
    with serve(create_app(sim)) as base:
        fleet = ProbeFleet(estate_probes(base), now=lambda: sim.now)
        try:
            return replace(fleet.run(name), started_at=at.timestamp())
        finally:
            fleet.close()


def test_a_fault_the_probes_detect_opens_its_cases_and_the_healed_estate_closes_them(
    duplicated: tuple[Simulation, Simulation], warehouse: Client, keeper: CaseKeeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    faulty, healed = duplicated
    now = datetime.now(UTC).replace(microsecond=0)
    found = _probe_once(faulty, "duplicate_postings", monkeypatch, now)
    assert found.outcome is Outcome.MISMATCH
    write_run(warehouse, found)
    keeper.maintain(now + timedelta(milliseconds=500))
    expected = {
        f["object_id"] for f in truth.discrepancies(faulty.firm, faulty.now) if f["kind"] == "duplicate_posting"
    }
    cases = probe_cases(warehouse)
    assert expected and {k for c, k in cases if c == "probe_finding:duplicate_posting"} == expected
    assert {c.owner_team for c in cases.values()} == {"finance-ops"}
    assert all(c.money and sum(c.money.values()) > 0 for c in cases.values())

    # The same probe against the firm whose ERP holds no duplicates: every case heals, naming that run.
    clean = _probe_once(healed, "duplicate_postings", monkeypatch, now + timedelta(seconds=1))
    assert clean.outcome is Outcome.OK
    write_run(warehouse, clean)
    assert keeper.maintain(now + timedelta(seconds=2)).audit == {"auto_resolved": len(expected)}
    notes = {c.resolution_note for c in probe_cases(warehouse).values()}
    assert notes == {
        f"probe duplicate_postings run {clean.run_id} at "
        f"{datetime.fromtimestamp(clean.started_at, UTC):%Y-%m-%d %H:%M:%S}Z no longer reports it"
    }


def test_a_problem_first_reported_long_ago_opens_when_its_age_says(warehouse: Client, keeper: CaseKeeper) -> None:
    # Reported 10 days ago (1 day old then) and now (11 days old): the first report is beyond the week the job
    # looks back, and the finding's age still places the problem's start.
    write_run(warehouse, run("time_posting", "old", T - timedelta(days=10), Outcome.MISMATCH, unposted("E5", age=DAY)))
    write_run(warehouse, run("time_posting", "now", T, Outcome.MISMATCH, unposted("E5", age=11 * DAY)))
    assert keeper.maintain(T + timedelta(minutes=1)).audit == {"opened": 1}
    assert probe_cases(warehouse)[("probe_finding:approved_not_posted", "E5")].opened_at == T - timedelta(days=11)
