"""The SLIs computed from the warehouse agree with the simulator's independent ground truth, on every firm of a
matrix: each fault scenario alone and a mix of three, several seeds, and histories ending where a month start, a
month end and a weekend fall at different places in the window (tests/integration/metrics/truth_matrix.py).

Each firm is sent through the real HTTP path into the collector; the API's numbers over the truth's window must
equal it exactly (counts and ratios), to 1e-6 business days for the readiness lag and 0.01 s for latencies, and to a
unit of currency for money (entries carry amounts rounded to cents; the truth multiplies unrounded hours by rates).
`make bench-truth` runs the same cells at 5,000 consultants.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from simulator.faults import SCENARIOS
from simulator.styles import STYLES
from tests.conftest import ThreadedCollector, Tokens, auth
from tests.integration.metrics.truth_matrix import CELLS, Cell, backfill, disagreements, slis

pytestmark = pytest.mark.integration


def test_every_fault_scenario_has_a_cell_alone_and_one_mixes_three() -> None:
    alone = {c.faults[0].split("@")[0] for c in CELLS if len(c.faults) == 1}
    assert alone == set(SCENARIOS)
    assert any(len(c.faults) >= 3 for c in CELLS)
    assert len({c.seed for c in CELLS}) >= 2 and len({c.end for c in CELLS}) >= 4


def test_every_integration_style_has_a_cell_alone_and_one_has_all() -> None:
    alone = {c.styles[0].split("=")[0] for c in CELLS if len(c.styles) == 1}
    assert alone == set(STYLES)
    assert any(len(c.styles) == len(STYLES) for c in CELLS)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.name)
def test_every_sli_matches_the_ground_truth(
    cell: Cell, collector: ThreadedCollector, tokens: Tokens, warehouse: Client, tmp_path: Path
) -> None:
    truth = backfill(cell, collector.url, tokens["ingest"], tmp_path)
    assert warehouse.query("SELECT count() FROM quarantine").result_rows[0][0] == 0
    # Every cell judges real work on both sides, so an SLI reading nothing cannot agree with a truth of nothing.
    assert truth["time_posting_first_pass"]["total"] > 20 * cell.consultants
    assert truth["invoice_readiness_lag_business_days"]["count"] > 10 * cell.consultants
    _style_took_effect(cell, warehouse, truth)
    got = slis(collector.url, auth(tokens["read"]), truth)
    found = disagreements(got, truth) + _breakdowns_add_up(collector.url, auth(tokens["read"]), truth, got)
    assert [d for d in found if not d.startswith(cell.known)] == []
    assert sorted({k for k in cell.known for d in found if d.startswith(k)}) == sorted(cell.known)


def _style_took_effect(cell: Cell, warehouse: Client, truth: dict[str, object]) -> None:
    """Each style changed what was sent, so its cell tests what it claims to."""
    styles = {s.split("=")[0] for s in cell.styles}
    count = lambda sql: warehouse.query(sql).result_rows[0][0]  # noqa: E731
    requests = count("SELECT count() FROM events WHERE canonical_type = 'time_entry.post_requested'")
    assert (requests == 0) == ("outcome_only" in styles)
    told = count("SELECT count() FROM events WHERE target_system != '' AND source NOT LIKE '/middleware/%'")
    assert (told == 0) == ("missing_extensions" in styles)
    unclassified = truth["coverage"]["unbilled_wip_at_risk"].get("unknown_billing_type", 0)  # type: ignore[index]
    assert (unclassified > 0) == bool(styles & {"late_master_data", "missing_project_events"})


def _breakdowns_add_up(
    base_url: str, headers: dict[str, str], truth: dict[str, Any], got: dict[str, dict[str, Any]]
) -> list[str]:
    """By customer and by tenant, the entry SLIs count every entry the overall figure does (a renamed project's
    lines, booked under its old code, belong to its customer)."""
    found = []
    params = {"from": truth["window_start"], "to": truth["as_of"], "limit": 10_000}
    for name in ("invoice_readiness_lag", "time_posting_first_pass"):
        for by in ("customer", "tenant"):
            r = httpx.get(f"{base_url}/api/v1/slis/{name}/breakdown", params={**params, "by": by}, headers=headers,
                          timeout=300)  # fmt: skip
            r.raise_for_status()
            total = sum(row["total"] for row in r.json()["rows"])
            if total != got[name]["total"]:
                found.append(f"{name} by {by}: ours {total!r}, overall {got[name]['total']!r}")
    return found
