"""A healthy firm reads green, and a sick one does not.

A simulated firm with no fault injected (500 consultants, 30 days of SLI window after a week of warm-up, several
seeds and calendar positions) must have every SLI `ok` against the packaged objectives (metrics/slos.yaml) and no
alert rule of the default config that reads SLIs starting to fire, at the end and at instants before it. Each fault
scenario of simulator/faults.py, injected alone into a smaller firm, must turn the SLI that tells of it not `ok`.
`make bench-healthy` runs the healthy firms at 5,000 consultants (bench/healthy.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from simulator.faults import SCENARIOS
from tests.conftest import ThreadedCollector, Tokens, auth
from tests.integration.metrics.healthy_matrix import ENDS, SEEDS, backfill, firing, slis_at, table

pytestmark = pytest.mark.integration

HEALTHY = tuple(zip(SEEDS, ENDS, strict=True))
# Alerts are evaluated at the end and this long before it too (burn-rate windows of 5 min to 3 days end there).
EARLIER = (timedelta(hours=31),)
# The SLI each scenario must turn not ok, with the fault from this day of a 21-day run (ending FAULT_END).
FAULT_END = "2026-11-20T00:00:00Z"
TELLS: dict[str, tuple[str, str]] = {
    "erp_outage": ("time_posting_eventual", "erp_outage@15+2"),
    "closed_period": ("unbilled_wip_at_risk", "closed_period@7"),
    "expired_rate_card": ("rate_card_exposure", "expired_rate_card@7"),
    "crm_rename": ("master_data_consistency", "crm_rename@7"),
    "hcm_sync_stall": ("resource_plan_freshness", "hcm_sync_stall@7"),
    "duplicate_submissions": ("duplicate_submission_rate", "duplicate_submissions@7"),
    "dead_letter_buildup": ("dead_letter_backlog", "dead_letter_buildup@7"),
    "silent_flow": ("time_posting_pickup", "silent_flow@19"),
    "slow_drift": ("time_posting_first_pass", "slow_drift@7"),
    "master_data_drift": ("master_data_consistency", "master_data_drift@7"),
}


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def test_every_fault_scenario_has_a_telling_sli() -> None:
    assert set(TELLS) == set(SCENARIOS)


@pytest.mark.parametrize(("seed", "end"), HEALTHY, ids=[f"seed{s}-{e[:10]}" for s, e in HEALTHY])
def test_a_healthy_firm_reads_green(
    seed: int, end: str, collector: ThreadedCollector, tokens: Tokens, tmp_path: Path
) -> None:
    backfill(500, seed, end, collector.url, tokens["ingest"], tmp_path)
    headers = auth(tokens["read"])
    slis = slis_at(collector.url, headers, _at(end))
    not_ok = [row for row in table(slis) if row[2] != "ok"]
    assert not_ok == []
    assert firing(slis, _at(end)) == []
    for before in EARLIER:
        at = _at(end) - before
        assert firing(slis_at(collector.url, headers, at), at) == [], at


@pytest.mark.parametrize("name", sorted(TELLS))
def test_each_fault_turns_its_sli_not_ok(
    name: str, collector: ThreadedCollector, tokens: Tokens, tmp_path: Path
) -> None:
    sli, spec = TELLS[name]
    backfill(120, 42, FAULT_END, collector.url, tokens["ingest"], tmp_path, faults=(spec,), days=21)
    got = slis_at(collector.url, auth(tokens["read"]), _at(FAULT_END))[sli]
    assert got["status"] != "ok", f"{name}: {sli} = {got['value']} ({got['status']})"
