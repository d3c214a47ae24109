"""The simulated firm with a month-end closed period and a stopped replay job, sent by the real `syncwatch simulate
backfill` into the collector: the queue holds one case per dead letter left unreplayed, owned by integrations, the
closed-period rejections go to finance-ops, every case is routed as its cause says, and a rerun changes nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from cases.keeper import CaseKeeper
from cases.model import route
from syncwatch.settings import Settings
from tests.conftest import ThreadedCollector, Tokens

pytestmark = pytest.mark.integration
SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")


@pytest.fixture
def quiet_collector(tokens: Tokens, settings: Settings) -> Iterator[ThreadedCollector]:
    with ThreadedCollector(Settings(**{**settings.model_dump(), "exceptions_maintenance_seconds": 0})) as running:
        yield running


def test_faults_become_cases_with_their_owners(
    quiet_collector: ThreadedCollector, tokens: Tokens, warehouse: Client, tmp_path: Path
) -> None:
    args = [SYNCWATCH, "simulate", "backfill", "--consultants", "150", "--days", "21", "--no-spans",
            "--end", "2026-11-20T00:00:00Z", "--fault", "closed_period", "--fault", "dead_letter_buildup",
            "--base-url", quiet_collector.url, "--token", tokens["ingest"]]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    keeper: CaseKeeper = quiet_collector.app.state.exceptions.keeper
    first = keeper.maintain()
    assert first.changed > 0 and set(first.audit) == {"opened"}
    assert keeper.maintain().changed == 0

    cases = warehouse.query(
        "SELECT kind, cause, owner_team, severity, state, length(mapKeys(money)) FROM exception_cases FINAL"
    ).result_rows
    unreplayed = warehouse.query(
        "SELECT count() FROM dead_letter_state FINAL WHERE dead_lettered_at IS NOT NULL AND replayed_at IS NULL"
    ).result_rows[0][0]
    letters = [c for c in cases if c[0] == "dead_letter"]
    assert len(letters) == unreplayed > 0
    assert {(c[2], c[3]) for c in letters} == {("integrations", "P1")}
    finance = [c for c in cases if c[2] == "finance-ops"]
    assert finance and all("PERIOD_CLOSED" in c[1] or "closed_period" in c[1] for c in finance)
    for kind, cause, owner, _, state, _ in cases:
        assert owner == route(kind, cause.partition(":")[2]).owner_team, cause
        assert state == "open"
    assert all(c[5] == 1 for c in cases if c[0] == "erp_rejection")  # the refused entry's money, in its currency
