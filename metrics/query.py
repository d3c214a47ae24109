"""Running SLI SQL: bound parameters for windows, rows as dicts. The one place metrics/ talks to the client."""

from __future__ import annotations

import queue
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from clickhouse_connect.driver.client import Client

from metrics.windows import Window

__all__ = ["Db", "per_window", "timestamp"]
T = TypeVar("T")
R = TypeVar("R")


def timestamp(moment: datetime) -> str:
    """A DateTime64(6, 'UTC') parameter value; formatted here so every backend reads the same instant."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# The engine compiles an expression to machine code the third time it sees it, in the query that sees it: SLI SQL
# repeats with the same instants (the snapshot job asks overall then per flow, a dashboard re-asks a fixed window),
# so every so often one evaluation paid 2-3 s of compilation (measured: the fourth full SLI set at 5,000
# consultants took 2.8-3.8 s against 0.7-1.1 s for the others), and the compiled code was no faster afterwards.
#
# Filters stay separate steps (query_plan_merge_filters): merged into one, a costly condition in an outer query
# ran on every row, not only on those an inner query's cheap conditions kept (measured on the billable lookup when
# it was a filter of its own: unbilled WIP 463 -> 318 ms at 50,000 consultants once apart).
_SETTINGS = {"compile_expressions": 0, "compile_aggregate_expressions": 0, "query_plan_merge_filters": 0}


# The engine's threads per query (its max_threads, by default its cores), asked once per client.
_ENGINE_THREADS: weakref.WeakKeyDictionary[Client, int] = weakref.WeakKeyDictionary()


def engine_threads(client: Client) -> int:
    if client not in _ENGINE_THREADS:
        _ENGINE_THREADS[client] = max(1, int(client.command("SELECT getSetting('max_threads')")))  # type: ignore[arg-type]
    return _ENGINE_THREADS[client]


class Db:
    def __init__(self, client: Client, spares: Sequence[Client] = (), threads: int | None = None) -> None:
        self.client = client
        self.spares = tuple(spares)
        # Threads per query; None: the engine's default (all of them).
        self._settings = _SETTINGS if threads is None else {**_SETTINGS, "max_threads": threads,
                                                              "max_final_threads": threads}  # fmt: skip

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        result = self.client.query(sql, parameters=parameters or {}, settings=self._settings)
        return list(result.named_results())

    def map(self, fn: Callable[[Db, T], R], items: Sequence[T]) -> list[R]:
        """fn(db, item) for every item, results in the order of `items`, on this client and each spare at once.

        Queries on one client run one after another; on two clients of one warehouse (the embedded engine allows
        that within a process) they run side by side, so one query's analysis, which uses one core, overlaps
        another's execution. Side by side, each query gets its share of the engine's threads: queries already keep
        the cores busy, and a query split over more threads than its share spends CPU on splitting and merging
        its work. Measured on two clients and two cores, the full set with every thread per query against one
        (bench/slis.py's firm, alternating in one process): 5,000 consultants 266 -> 245 ms (483 -> 441 ms of
        CPU); 50,000 merged 1,042 -> 964 ms (1,993 -> 1,859 ms of CPU), with an hour of fresh events
        1,399 -> 1,345 ms.
        """
        if not self.spares or len(items) < 2:
            return [fn(self, item) for item in items]
        share = max(1, engine_threads(self.client) // (len(self.spares) + 1))
        workers: queue.SimpleQueue[Db] = queue.SimpleQueue()
        for client in (self.client, *self.spares):
            workers.put(Db(client, threads=share))

        def run(item: T) -> R:
            db = workers.get()
            try:
                return fn(db, item)
            finally:
                workers.put(db)

        with ThreadPoolExecutor(len(self.spares) + 1, thread_name_prefix="sli") as pool:
            return list(pool.map(run, items))


def per_window(windows: Sequence[Window], columns: str) -> tuple[str, dict[str, str]]:
    """Repeat `columns` (SQL with {F}, {T} and {i} placeholders) once per window with bound window parameters.

    One scan of a state table then yields an SLI over the main window and every burn-rate window.
    """
    parts = []
    params: dict[str, str] = {}
    for i, window in enumerate(windows):
        params[f"f{i}"] = timestamp(window.start)
        params[f"t{i}"] = timestamp(window.end)
        parts.append(
            columns.replace("{F}", f"{{f{i}:DateTime64(6, 'UTC')}}")
            .replace("{T}", f"{{t{i}:DateTime64(6, 'UTC')}}")
            .replace("{i}", str(i))
        )
    return ",\n".join(parts), params
