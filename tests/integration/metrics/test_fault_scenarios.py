"""Each simulator fault scenario moves the SLIs it documents (simulator/faults.py SCENARIOS[...].moves), in the
documented direction, against a clean run of the same firm (same seed). Measures a probe finds (project_mismatch,
worker_not_synced, ...) are read here from the SLI that carries the same records.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.faults import SCENARIOS
from syncwatch.tokens import create_token
from syncwatch.warehouse import apply_migrations, connect
from tests.conftest import ThreadedCollector, Tokens, auth, make_settings

pytestmark = pytest.mark.integration
SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
END = "2026-11-20T00:00:00Z"
WINDOW = {"from": "2026-10-30T00:00:00Z", "to": END}
Slis = dict[str, dict[str, Any]]


def _money(d: dict[str, float]) -> float:
    return sum(d.values())


def _approved_not_posted(slis: Slis) -> float:
    return float(slis["__records__"]["time_posting_eventual"])


# documented measure -> how to read it from the API's SLIs
MEASURES: dict[str, Callable[[Slis], float]] = {
    "time_posting_first_pass": lambda s: s["time_posting_first_pass"]["value"],
    "time_posting_eventual": lambda s: s["time_posting_eventual"]["value"],
    "e2e_latency_approval_to_posted_p95": lambda s: s["billing_sync_latency"]["value"],
    "unbilled_wip_blocked": lambda s: _money(s["unbilled_wip_at_risk"]["details"]["at_risk"]),
    "exceptions_open": lambda s: s["exception_sla_compliance"]["details"]["open"],
    "approved_not_posted": _approved_not_posted,
    "rate_card_exposure_hours": lambda s: s["rate_card_exposure"]["value"],
    "assignment_without_rate_card": lambda s: s["rate_card_exposure"]["details"]["assignments_without_card"],
    "master_data_mismatch_ratio": lambda s: s["master_data_consistency"]["value"],
    "project_mismatch": lambda s: s["master_data_consistency"]["details"]["mismatched"],
    "resource_plan_freshness_24h": lambda s: s["resource_plan_freshness"]["value"],
    "oldest_unapplied_change_hours": lambda s: s["resource_plan_freshness"]["details"]["oldest_unapplied_hours"],
    "worker_not_synced": lambda s: s["resource_plan_freshness"]["details"]["consultants_with_unapplied"],
    "duplicate_submission_rate": lambda s: s["duplicate_submission_rate"]["value"],
    "duplicate_posting": lambda s: s["duplicate_submission_rate"]["details"]["duplicated"],
    "dead_letter_backlog": lambda s: s["dead_letter_backlog"]["details"]["messages"],
    "dead_letter_oldest_hours": lambda s: s["dead_letter_backlog"]["value"],
    "dead_letter_unreplayed": lambda s: s["dead_letter_backlog"]["details"]["messages"],
    # The stopped flow's own quiet time: the count of silent flows also moves with flows that are quiet by chance
    # in a small firm (its HCM flows can go days without a change), so it can stay level while one flow stops.
    "flow_silence_seconds": lambda s: s["flow_silence"]["details"]["flows"]["psa-to-erp-time"]["seconds_since_last"],
    "approved_waiting_for_connector": lambda s: s["time_posting_pickup"]["value"],
}
_baseline: dict[str, Slis] = {}


def _run(collector: ThreadedCollector, tokens: Tokens, tmp_path: Path, *faults: str) -> Slis:
    args = [SYNCWATCH, "simulate", "backfill", "--consultants", "200", "--days", "21", "--no-spans", "--end", END,
            "--base-url", collector.url, "--token", tokens["ingest"]]  # fmt: skip
    for fault in faults:
        args += ["--fault", fault]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    headers = auth(tokens["read"])
    body = httpx.get(f"{collector.url}/api/v1/slis", params=WINDOW, headers=headers, timeout=120).json()
    slis: Slis = {s["name"]: s for s in body["slis"]}
    records = httpx.get(f"{collector.url}/api/v1/slis/time_posting_eventual/records",
                        params={**WINDOW, "limit": 10000}, headers=headers, timeout=120).json()  # fmt: skip
    slis["__records__"] = {"time_posting_eventual": len(records["records"])}
    return slis


def test_every_documented_measure_is_read() -> None:
    documented = {measure for scenario in SCENARIOS.values() for measure, _ in scenario.moves}
    assert documented <= set(MEASURES), documented - set(MEASURES)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fault_moves_its_slis(name: str, collector: ThreadedCollector, tokens: Tokens, tmp_path: Path) -> None:
    faulty = _run(collector, tokens, tmp_path, f"{name}@7")
    if "clean" not in _baseline:  # the clean run of the same firm, once per session, in a database of its own
        _baseline["clean"] = _clean_run(tmp_path)
    clean = _baseline["clean"]
    for measure, direction in SCENARIOS[name].moves:
        before, after = MEASURES[measure](clean), MEASURES[measure](faulty)
        assert before is not None and after is not None, f"{name}: {measure} has no data"
        moved = after > before if direction == "up" else after < before
        assert moved, f"{name}: {measure} should go {direction}: clean {before}, with the fault {after}"


def _clean_run(tmp_path: Path) -> Slis:

    settings = make_settings(tmp_path / "clean")
    client = connect(settings)
    apply_migrations(client, settings.retention_days)
    tokens = Tokens({scope: create_token(client, f"clean-{scope}", [scope])[1] for scope in ("ingest", "read")})
    try:
        with ThreadedCollector(settings) as running:
            return _run(running, tokens, tmp_path)
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{settings.database}`")
