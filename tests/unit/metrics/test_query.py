"""Db.map: independent SLI queries on a Db with a spare client run side by side, results in the order asked, each
with its share of the engine's threads."""

from __future__ import annotations

import threading
from typing import Any, cast

from clickhouse_connect.driver.client import Client

from metrics.query import Db


class _Engine:
    """A client whose engine has `threads` threads per query: map asks for them once, then hands it on."""

    def __init__(self, name: str, threads: int = 2) -> None:
        self.name, self.threads = name, threads

    def command(self, sql: str) -> str:
        assert sql == "SELECT getSetting('max_threads')"
        return str(self.threads)

    def __eq__(self, other: object) -> bool:
        return other == self.name

    def __hash__(self) -> int:
        return hash(self.name)


def _client(name: str, threads: int = 2) -> Client:
    return cast(Client, _Engine(name, threads))


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


def test_side_by_side_each_query_gets_its_share_of_the_engine_threads() -> None:
    def settings(db: Db, _: int) -> dict[str, Any]:
        return db._settings

    for threads, clients, share in ((2, 2, 1), (8, 2, 4), (8, 3, 2), (2, 3, 1)):
        spares = [_client(f"spare{i}", threads) for i in range(clients - 1)]
        seen = Db(_client("main", threads), spares=spares).map(settings, [0, 1, 2])
        assert {(s["max_threads"], s["max_final_threads"]) for s in seen} == {(share, share)}
    # One at a time a query keeps every thread (the engine's default).
    assert "max_threads" not in Db(_client("main")).map(settings, [0, 1])[0]
