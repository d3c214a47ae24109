"""The state compaction job (metrics/compaction.py): it merges each state table with several parts into one, leaves
the state as it was, and spends no more than its budget of the time."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from clickhouse_connect.driver.client import Client
from prometheus_client import CollectorRegistry

from metrics.compaction import STATE_TABLES, StateCompaction
from metrics.state import ENTRIES
from syncwatch.settings import Settings
from tests.conftest import ThreadedCollector
from tests.integration.metrics.test_latest_values import _COLUMNS, T0, priced

pytestmark = pytest.mark.integration


def _parts(client: Client, table: str) -> int:
    return int(
        client.query(
            "SELECT count() FROM system.parts WHERE database = currentDatabase() AND active AND table = {t:String}",
            parameters={"t": table},
        ).result_rows[0][0]
    )


def _entries(client: Client) -> list[tuple[object, ...]]:
    return [tuple(row) for row in client.query(f"SELECT * FROM ({ENTRIES}) ORDER BY entry_id").result_rows]


def _insert(client: Client, first: int, count: int, amount: float) -> None:
    """One insert of `count` entries' post requests (a part in entry_state), E{first} onwards."""
    rows = [priced(f"E{n}", T0 + timedelta(minutes=n), amount) for n in range(first, first + count)]
    client.insert("events", rows, column_names=_COLUMNS)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_merges_each_table_with_several_parts_into_one_and_keeps_the_state(warehouse: Client) -> None:
    _insert(warehouse, 0, 50, 100.0)
    _insert(warehouse, 25, 50, 200.0)  # half of them again, later and dearer: the latest amount wins
    _insert(warehouse, 100, 10, 300.0)
    assert _parts(warehouse, "entry_state") >= 2
    before = _entries(warehouse)
    registry = CollectorRegistry()
    done = StateCompaction(lambda: warehouse, budget=0.05, registry=registry).run()
    assert "entry_state" in done and done["entry_state"] >= 0
    assert _parts(warehouse, "entry_state") == 1
    assert _entries(warehouse) == before
    assert len(before) == 85
    assert registry.get_sample_value("syncwatch_state_compactions_total", {"table": "entry_state"}) == 1
    # a table already in one part is left alone
    assert "rate_card_state" not in done
    assert set(done) <= set(STATE_TABLES)


def test_a_table_is_merged_again_only_once_its_budget_allows(warehouse: Client) -> None:
    clock = Clock()

    def timed_connect() -> Client:
        return warehouse

    job = StateCompaction(timed_connect, budget=0.1, clock=clock)
    _insert(warehouse, 0, 20, 100.0)
    _insert(warehouse, 20, 20, 100.0)
    # The merge "takes" 2 s on this clock: the job may merge entry_state again 20 s after it started.
    real_command = warehouse.command

    def slow_command(sql: str, *args: object, **kwargs: object) -> object:
        clock.now += 2.0
        return real_command(sql, *args, **kwargs)  # type: ignore[arg-type]

    warehouse.command = slow_command  # type: ignore[method-assign]
    try:
        assert "entry_state" in job.run()
        _insert(warehouse, 40, 20, 100.0)
        assert _parts(warehouse, "entry_state") >= 2
        clock.now = 1000.0 + 19.0  # started at 1000, took 2 s, budget 10%: due at 1020
        assert "entry_state" not in job.run()
        assert _parts(warehouse, "entry_state") >= 2
        clock.now = 1000.0 + 20.0
        assert "entry_state" in job.run()
        assert _parts(warehouse, "entry_state") == 1
    finally:
        warehouse.command = real_command  # type: ignore[method-assign]


def test_a_budget_outside_zero_to_one_is_refused(warehouse: Client) -> None:
    with pytest.raises(ValueError, match="share of the time"):
        StateCompaction(lambda: warehouse, budget=0)


def test_a_running_collector_keeps_the_state_merged(warehouse: Client, settings: Settings) -> None:
    # The collector's own job, on its scheduler. A large part and a small one, which the engine's background merges
    # leave apart (they merge parts of like sizes): the job merges them within a few of its intervals.
    _insert(warehouse, 0, 20_000, 100.0)
    quick = settings.model_copy(update={"state_compaction_seconds": 0.3, "sli_snapshot_seconds": 3600})
    with ThreadedCollector(quick) as running:
        _insert(warehouse, 20_000, 30, 100.0)

        def merged() -> float:
            labels = {"table": "entry_state"}
            return running.service.registry.get_sample_value("syncwatch_state_compactions_total", labels) or 0.0

        deadline = time.monotonic() + 20
        while not merged() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert merged() >= 1
        assert _parts(warehouse, "entry_state") == 1
