"""Each fault scenario, seen the way production sees it: the simulated estate's system APIs served on loopback,
the real built-in probes run against them (probes stage), their runs and findings written to real chDB tables,
and the alert engine evaluating those rows. A clean run fires nothing; each scenario fires the rule it should;
the same firm whose fault ended days earlier resolves it (and on-call hears the resolve).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from alerts.component import build_engine
from alerts.config import load_config
from alerts.engine import AlertEngine
from alerts.warehouse_signals import WarehouseSignals
from probes.fleet import ProbeFleet
from probes.store import write_run
from simulator.apis.app import create_app
from simulator.calendar import DAY, to_epoch
from simulator.emit import MemorySink
from simulator.faults import FaultSchedule
from simulator.simulation import Simulation
from syncwatch.settings import Settings
from tests.integration.probes.probe_support import estate_probes, serve, set_secrets
from tests.unit.alerts.support import HttpReceiver

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
# Recent enough for the warehouse's retention TTL (older rows are dropped on insert); a Monday.
START = to_epoch(date(2026, 9, 7))
DAYS, FAULT_DAY, HEALED_DAY = 28, 20, 22

# scenario -> the rules its records (and the systems' own status) must fire (docs/scenarios.md; probe-visible)
EXPECTED = {
    "erp_outage": ("ErpUnreachable",),
    "closed_period": ("ApprovedTimeNotPosted", "AccountingPeriodClosedEarly"),
    "expired_rate_card": ("AssignmentsWithoutRateCard",),
    "crm_rename": ("ProjectMasterDataMismatch",),
    "hcm_sync_stall": ("WorkerChangesNotSynced", "IntegrationStopped"),
    "duplicate_submissions": ("DuplicatePostings",),
    "dead_letter_buildup": ("DeadLettersUnreplayed", "IntegrationStopped"),
    "silent_flow": ("ApprovedTimeNotPosted", "IntegrationStopped"),
    "master_data_drift": ("ProjectMasterDataMismatch",),
}


# Faults whose records stay wrong after the fault ends (ERP keeps both postings of a duplicate).
LASTING_DAMAGE = {"duplicate_submissions"}


def _firm(fault: str | None, end_day: float | None, days: float = DAYS) -> Simulation:
    faults = FaultSchedule()
    if fault:
        faults.add(fault, START + FAULT_DAY * DAY, None if end_day is None else START + end_day * DAY)
    sim = Simulation(150, 13, START, MemorySink(), faults, spans=False, silent_flow="psa-to-erp-time")
    sim.begin()
    sim.run_until(START + days * DAY)
    return sim


def _probe_into(sim: Simulation, client: Client) -> datetime:
    with serve(create_app(sim)) as base:
        # An ERP in outage answers 503 with Retry-After 30: honouring it is tested with the probes; here waiting
        # it out on every ERP call would only cost minutes before the same `failed` outcome.
        fleet = ProbeFleet(estate_probes(base, erp={"max_retries": 0}), now=lambda: sim.now)
        try:
            for name in fleet.probes:
                write_run(client, fleet.run(name))
        finally:
            fleet.close()
    return datetime.fromtimestamp(sim.now, UTC)


@pytest.fixture
def engine(settings: Settings, warehouse: Client, monkeypatch: pytest.MonkeyPatch) -> Iterator[AlertEngine]:
    set_secrets(monkeypatch)
    with HttpReceiver() as hook:
        config = load_config(extra_integrations={"default": [{"type": "webhook", "url": hook.url}]})
        # Only the probes' rules: no SLI snapshots are written here (the replay test covers those).
        config = dataclasses.replace(config, rules=tuple(r for r in config.rules if r.kind.startswith("probe")))
        built = build_engine(settings, config, WarehouseSignals(warehouse), None, httpx.Client(timeout=5))
        built.hook = hook  # type: ignore[attr-defined]
        yield built


def _firing(engine: AlertEngine) -> dict[str, dict[str, object]]:
    return {a["rule"]: a for a in engine.public_alerts("firing")}


def test_a_clean_firm_fires_no_probe_rule(engine: AlertEngine, warehouse: Client) -> None:
    now = _probe_into(_firm(None, None), warehouse)
    engine.evaluate(now)
    engine.evaluate(now.replace(minute=30) if now.minute < 30 else now)  # past every `for`
    assert {r: a["annotations"]["summary"] for r, a in _firing(engine).items()} == {}  # type: ignore[index]


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario_fires_its_rule_and_resolves_once_healed(
    scenario: str, engine: AlertEngine, warehouse: Client
) -> None:
    from datetime import timedelta

    rules = EXPECTED[scenario]
    now = _probe_into(_firm(scenario, None), warehouse)  # the fault is still on at the end of the run
    for minutes in (0, 20, 21):  # past the longest `for` (15 min), then past group_wait (30 s)
        engine.step(now + timedelta(minutes=minutes))
    firing = _firing(engine)
    hook: HttpReceiver = engine.hook  # type: ignore[attr-defined]
    told = [a["labels"]["alertname"] for r in hook.received for a in r.body["alerts"] if a["status"] == "firing"]
    for rule in rules:
        assert rule in firing, sorted(firing)
        summary = str(firing[rule]["annotations"]["summary"])  # type: ignore[index]
        assert any(ch.isdigit() for ch in summary), summary  # it states numbers
        assert rule in told

    # The same firm a day later, its fault over since day 22: the probes' next runs find the records fixed.
    later = _probe_into(_firm(scenario, HEALED_DAY, DAYS + 1), warehouse)
    for minutes in (0, 1, 5):
        engine.step(later + timedelta(minutes=minutes))
    states = {a["rule"]: a for a in engine.public_alerts()}
    for rule in rules:
        if scenario in LASTING_DAMAGE:
            # The fault is over but what it booked stays booked until someone reverses it: the alert keeps firing
            # (with fewer records: no new ones since the fault ended) rather than pretending all is well.
            assert states[rule]["state"] == "firing"
            assert states[rule]["value"] < firing[rule]["value"]  # type: ignore[operator]
            continue
        assert states.get(rule, {}).get("state") == "resolved", (rule, states)
        assert any(
            a["status"] == "resolved" and a["labels"]["alertname"] == rule
            for r in hook.received
            for a in r.body["alerts"]
        )
