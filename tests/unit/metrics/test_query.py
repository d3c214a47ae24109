"""Db.map: independent SLI queries on a Db with a spare client run side by side, results in the order asked."""

from __future__ import annotations

import threading
from typing import Any, cast

from clickhouse_connect.driver.client import Client

from metrics.query import Db


def _client(name: str) -> Client:
    return cast(Client, name)  # map hands clients to the function and never queries them itself


def test_with_a_spare_two_items_run_at_once_each_on_its_own_client() -> None:
    both_running = threading.Barrier(2, timeout=5)  # broken (and raising) unless two calls overlap

    def measure(db: Db, item: int) -> tuple[int, Any]:
        if item < 2:
            both_running.wait()
        return item * 10, db.client

    results = Db(_client("main"), spares=[_client("spare")]).map(measure, list(range(6)))
    assert [value for value, _ in results] == [0, 10, 20, 30, 40, 50]
    assert {results[0][1], results[1][1]} == {"main", "spare"}


def test_without_a_spare_items_run_one_after_another_on_the_one_client() -> None:
    running = 0
    seen = []

    def measure(db: Db, item: int) -> int:
        nonlocal running
        running += 1
        seen.append((running, db.client))
        running -= 1
        return item

    assert Db(_client("main")).map(measure, [3, 1, 2]) == [3, 1, 2]
    assert seen == [(1, "main")] * 3
