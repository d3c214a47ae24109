"""Keeps the business state tables merged, within a CPU budget.

SLI queries read state with FINAL (metrics/state.py), which merges at read time the rows of every key that sits in
more than one part. Once a table's parts are merged into one, FINAL merges nothing; but a live collector inserts
small parts all the time, and the engine's background merges fold small parts into each other, not into the large
one. A small part's keys are spread over much of the key range (an invoice lists a month of entries), so its
ranges intersect most of the large part and the read merges most of the table. Measured at 5,000 consultants
(bench/slis.py "live"): the full SLI set took 202 ms merged, and 295-326 ms after one to ten hours of fresh events
added a few small parts to each state table.

So this job merges each state table that has more than one part (`OPTIMIZE TABLE ... FINAL`), and spends at most
`budget` of the time doing so: a table is merged again only once `duration / budget` has passed since its last
merge (5%: a table that takes 1 s to merge, entry state at 5,000 consultants, at most every 20 s; at 50,000, about
10 s, every 200 s). Small tables take milliseconds and are kept merged at every run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from clickhouse_connect.driver.client import Client
from prometheus_client import CollectorRegistry, Counter

__all__ = ["STATE_TABLES", "StateCompaction"]

log = logging.getLogger(__name__)

# Every table the SLIs read with FINAL (0002_business_state.sql and later migrations).
STATE_TABLES = ("entry_state", "postings", "entry_documents", "change_state", "exception_state", "dead_letter_state",
                "invoice_state", "project_state", "deal_state", "rate_card_state", "assignment_state",
                "flow_activity")  # fmt: skip


class StateCompaction:
    def __init__(
        self,
        connect: Callable[[], Client],
        budget: float,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < budget <= 1:
            raise ValueError("the compaction budget is a share of the time, above 0 and at most 1")
        self._connect = connect
        self._client: Client | None = None
        self.budget = budget
        self._clock = clock
        self._due: dict[str, float] = {}  # table -> when it may be merged again
        self.merges = Counter(
            "syncwatch_state_compactions", "State tables merged into one part", ["table"], registry=registry
        )
        self.seconds = Counter(
            "syncwatch_state_compaction_seconds", "Time spent merging state tables", ["table"], registry=registry
        )
        for table in STATE_TABLES:  # 0 from the start: a table never merged is a number, not "No data"
            self.merges.labels(table)
            self.seconds.labels(table)

    def run(self) -> dict[str, float]:
        """Merge the state tables that need it and whose budget allows; returns table -> seconds it took."""
        if self._client is None:
            self._client = self._connect()  # a client of its own: a merge holds it for its whole duration
        client = self._client
        counted = client.query(
            "SELECT table, count() FROM system.parts"
            " WHERE database = currentDatabase() AND active AND table IN {tables:Array(String)} GROUP BY table",
            parameters={"tables": list(STATE_TABLES)},
        ).result_rows
        parts: dict[str, int] = {str(table): int(count) for table, count in counted}
        done: dict[str, float] = {}
        for table in STATE_TABLES:
            if parts.get(table, 0) < 2 or self._clock() < self._due.get(table, 0.0):
                continue
            started = self._clock()
            try:
                client.command(f"OPTIMIZE TABLE `{table}` FINAL")
            except Exception as exc:  # the next run tries again; the others still run
                log.warning("merging %s failed: %s", table, str(exc).splitlines()[0][:300])
                continue
            took = self._clock() - started
            self._due[table] = started + took / self.budget
            self.merges.labels(table).inc()
            self.seconds.labels(table).inc(took)
            done[table] = took
        if done:
            log.debug("merged %s", ", ".join(f"{table} in {took:.2f} s" for table, took in done.items()))
        return done
