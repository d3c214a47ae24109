"""bench/slis.py's live scenarios on a real warehouse: which stretch of fresh events a running collector leaves
unmerged at most, delivering it again, and measuring the state with it (`--fresh`)."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path
from types import ModuleType

from clickhouse_connect.driver.client import Client

from metrics.slis import NAMES
from syncwatch.settings import Settings
from syncwatch.warehouse import connect


def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "bench" / "slis.py"
    spec = importlib.util.spec_from_file_location("bench_slis", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()
END = bench.window().end


def _events(client: Client, at: list[tuple[timedelta, str]]) -> None:
    rows = [[END - before, END - before, event_id, "deal.closed_won"] for before, event_id in at]
    client.insert("events", rows, column_names=["received_at", "time", "id", "canonical_type"])


def _count(client: Client) -> int:
    return int(client.command("SELECT count() FROM events"))  # type: ignore[arg-type]


def test_the_busiest_stretch_counts_each_event_once(warehouse: Client) -> None:
    # The events table replaces rows by key when it merges: merges are held so that rows delivered twice stay
    # twice, as they are until a merge folds them.
    warehouse.command("SYSTEM STOP MERGES events")
    try:
        morning = timedelta(hours=14)  # 10:00 on the firm's last day
        evening = timedelta(hours=9)  # 15:00
        _events(warehouse, [(morning - timedelta(seconds=s), f"m{s}") for s in (1, 20, 40)])
        _events(warehouse, [(morning - timedelta(seconds=60 + s), f"n{s}") for s in (1, 20, 40, 50)])
        # Five events at 15:00, three of them delivered twice: eight rows, five events.
        afternoon = [(evening - timedelta(seconds=s), f"a{s}") for s in (1, 10, 20, 30, 40)]
        _events(warehouse, afternoon)
        _events(warehouse, afternoon[:3])
        _events(warehouse, [(timedelta(days=2), "older")])  # before the last day: never the busiest
        assert _count(warehouse) == 3 + 4 + 8 + 1

        start, events = bench.busiest_events(warehouse, timedelta(minutes=2))
        assert (start, events) == (END - morning, 7)
        start, events = bench.busiest_events(warehouse, timedelta(seconds=50))  # in whole 10 s
        assert events == 5 and start == END - evening

        bench.deliver_again(warehouse, END - morning, END - morning + timedelta(minutes=2), timedelta(minutes=1))
        assert _count(warehouse) == 16 + 7
    finally:
        warehouse.command("SYSTEM START MERGES events")


def test_the_unmerged_stretch_follows_the_slowest_merge_and_the_job_interval() -> None:
    assert bench.unmerged_window({}) == timedelta(seconds=60)  # the job's run interval
    assert bench.unmerged_window({"postings": 0.4}) == timedelta(seconds=60)
    # A table that took 9 s to merge waits 9 / 0.05 = 180 s for its next merge.
    assert bench.unmerged_window({"entry_state": 9.0, "postings": 2.0}) == timedelta(seconds=180)


def test_a_fresh_stretch_is_delivered_again_and_measured(warehouse: Client, settings: Settings) -> None:
    # --fresh N: the busiest N s delivered again on top of the state, then the full set measured on it.
    warehouse.command("SYSTEM STOP MERGES events")  # rows delivered twice stay twice (see above)
    try:
        _events(warehouse, [(timedelta(hours=3, seconds=s), f"f{s}") for s in (1, 5, 9)])
        _events(warehouse, [(timedelta(hours=5), "alone")])
        spare = connect(settings, create_database=False)
        figures = bench.fresh_state(warehouse, spare, 1, timedelta(seconds=30), "fresh")
        assert (figures["fresh_s"], figures["fresh_events"]) == (30.0, 3)
        assert _count(warehouse) == 4 + 3
        assert figures["state_s"] > 0 and figures["snapshot_s"] > 0 and set(figures["per_sli_s"]) == set(NAMES)
    finally:
        warehouse.command("SYSTEM START MERGES events")
