"""Approved time waiting for the connector: entries approved but never sent to the ERP, judged against the
connector's own normal pickup time.

A stopped connector sends nothing, so nothing fails: flow silence sees it only after 3x the flow's cadence (3 h for
an hourly flow). The entries it leaves behind say so sooner, once they have waited longer than the connector ever
makes them wait. That "ever" is learned from the connector's recent pickups (approval -> first post attempt) rather
than configured, because connectors differ by orders of magnitude: an event-driven one picks time up in minutes, a
nightly batch in up to a day, and a fixed limit would either page on every batch or sleep through a stopped
event-driven connector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from metrics.catalogue import Definition, Reading
from metrics.query import Db
from metrics.slis._scan import rank_level, records_query
from metrics.slis.posting import AS_OF, ENTRY_KEYS, seconds_between
from metrics.state import ENTRY_TIMES
from metrics.windows import Window

__all__ = ["PICKUP_FACTOR", "PICKUP_FLOOR_SECONDS", "PICKUP_LEARNING_DAYS", "ConnectorPickup"]

PICKUP_LEARNING_DAYS = 7
PICKUP_FACTOR = 2.0  # x the p99 of recent pickups: a healthy connector's own tail stays below it
# Below this no wait is a stall, however fast the connector usually is: a restart or a short queue is not an
# incident. It is also the limit while the connector has no pickups in the learning window to learn from.
PICKUP_FLOOR_SECONDS = 300.0

_WAITING = f"""
    e.approved_at IS NOT NULL AND e.approved_at <= {AS_OF}
    AND (e.first_attempt_at IS NULL OR e.first_attempt_at > {AS_OF})
    AND (e.posted_at IS NULL OR e.posted_at > {AS_OF})
    AND (e.superseded_at IS NULL OR e.superseded_at > {AS_OF})
    AND (e.written_off_at IS NULL OR e.written_off_at > {AS_OF})
"""
_PICKUP = seconds_between("e.approved_at", "e.first_attempt_at")
_P99 = rank_level(0.99)  # nearest rank, as the percentiles of docs/slis.md
_WAIT = seconds_between("e.approved_at", AS_OF)
_STALLED = f"{_WAIT} > {{pickup_limit:Float64}}"
# The connector's pickups completed in the learning window before as_of, and the limit they set.
_PICKED_UP = f"""(e.approved_at IS NOT NULL AND e.first_attempt_at >= e.approved_at
             AND e.first_attempt_at > {AS_OF} - INTERVAL {PICKUP_LEARNING_DAYS} DAY
             AND e.first_attempt_at <= {AS_OF})"""
_LIMIT = f"""
SELECT quantilesExactLowIf(0.5, {_P99})({_PICKUP}, ok) AS q, q[1] AS p50, q[2] AS p99, countIf(ok) AS n
FROM (SELECT e.approved_at, e.first_attempt_at, {_PICKED_UP} AS ok
      FROM ({ENTRY_TIMES}) AS e WHERE e.first_attempt_at > {AS_OF} - INTERVAL {PICKUP_LEARNING_DAYS} DAY) AS e
"""


def _limit(db: Db, window: Window) -> dict[str, Any]:
    (row,) = records_query(db, _LIMIT, window, 0)
    return _learned({"learned_from": row["n"], "p50": row["p50"], "p99": row["p99"]})


def _learned(row: dict[str, Any]) -> dict[str, Any]:
    learned = row["learned_from"] > 0
    p99 = float(row["p99"]) if learned else None
    limit = max(PICKUP_FLOOR_SECONDS, PICKUP_FACTOR * p99) if p99 is not None else PICKUP_FLOOR_SECONDS
    return {
        "limit_seconds": limit,
        "normal_pickup_p50_seconds": float(row["p50"]) if learned else None,
        "normal_pickup_p99_seconds": p99,
        "pickups_learned_from": row["learned_from"],
    }


# What both conditions imply, on one column: an entry first attempted before the learning window is neither a
# recent pickup nor waiting, so most entries are dropped before either condition is evaluated.
_RECENT_OR_UNSENT = (
    f"(e.first_attempt_at IS NULL OR e.first_attempt_at > {AS_OF} - INTERVAL {PICKUP_LEARNING_DAYS} DAY)"
)


# The limit and what waits past it in one read of the entries (two reads before: 17 ms + 35 ms of 52-58 ms at
# 5,000 consultants). The limit is firm-wide whatever the breakdown: each key's pickups are kept as quantile
# states and merged over every key (a window function over the grouped rows), and each key's waits as an array
# that is then counted against it.
def _folded(key: str) -> str:
    return f"""
SELECT key, p50, p99, learned_from, waiting, arrayCount(w -> w.1 > limit_s, waits) AS stalled,
       length(arrayDistinct(arrayMap(w -> w.2, arrayFilter(w -> w.1 > limit_s AND w.2 != '', waits))))
           AS consultants,
       arrayMax(w -> w.1, waits) AS oldest
FROM (
    SELECT key, waiting, waits, quantilesExactLowIfMerge(0.5, {_P99})(pickups) OVER () AS q, q[1] AS p50, q[2] AS p99,
           sum(n) OVER () AS learned_from,
           if(learned_from > 0, greatest({PICKUP_FLOOR_SECONDS}, {PICKUP_FACTOR} * p99), {PICKUP_FLOOR_SECONDS})
               AS limit_s
    FROM (
        SELECT {key} AS key, quantilesExactLowIfState(0.5, {_P99})({_PICKUP}, e.ok) AS pickups, countIf(e.ok) AS n,
               countIf(e.waiting) AS waiting, groupArrayIf(({_WAIT}, e.consultant), e.waiting) AS waits
        FROM (SELECT e.*, {_PICKED_UP} AS ok, ({_WAITING}) AS waiting FROM ({ENTRY_TIMES}) AS e
              WHERE {_RECENT_OR_UNSENT}) AS e
        WHERE e.ok OR e.waiting
        GROUP BY key
    )
)
"""


class ConnectorPickup:
    definition = Definition(
        "time_posting_pickup",
        "Approved time waiting for the connector",
        "count",
        "<=",
        0.0,
        f"Approved entries (not superseded, written off or posted) with no post attempt yet, waiting longer than the"
        f" connector's normal pickup: {PICKUP_FACTOR:g}x the p99 of approval -> first post attempt over the pickups"
        f" of the last {PICKUP_LEARNING_DAYS} days, at least {PICKUP_FLOOR_SECONDS / 60:g} minutes. Value: entries"
        " waiting past that limit, as of the window's end. Details: the limit and what it was learned from, the"
        " entries waiting and past the limit, the consultants past it, the oldest wait. No money: an entry is priced"
        " by its first post request, the very thing that has not happened.",
        dimensions=("tenant", "flow", "source_system", "target_system"),
        flow="psa-to-erp-time",
    )

    def measure(self, db: Db, windows: Sequence[Window], by: str | None = None) -> dict[str, list[Reading]]:
        rows = records_query(db, _folded(ENTRY_KEYS.get(by or "", "''")), windows[0], 0)
        grouped: dict[str, dict[str, Any]] = {}
        for row in rows:
            learned = _learned(row)
            if row["waiting"]:
                grouped[str(row["key"])] = {**learned, "waiting": row["waiting"], "stalled": row["stalled"],
                                            "consultants": row["consultants"],
                                            "oldest_wait_seconds": float(row["oldest"])}  # fmt: skip
        if not by and not grouped:  # nothing waiting is a healthy zero, not "no data"
            learned = _learned(rows[0]) if rows else _learned({"learned_from": 0, "p50": None, "p99": None})
            grouped[""] = {**learned, "waiting": 0, "stalled": 0, "consultants": 0, "oldest_wait_seconds": 0.0}
        return {key: [Reading(0.0, 0.0, float(d["stalled"]), d)] * len(windows) for key, d in grouped.items()}

    def records(self, db: Db, window: Window, limit: int) -> list[dict[str, Any]]:
        learned = _limit(db, window)
        sql = f"""
            SELECT e.entry_id AS key, 'entry' AS kind, 'approved, waiting for the connector' AS status,
                   {_WAIT} AS age_seconds, CAST(NULL, 'Nullable(Float64)') AS amount, '' AS currency,
                   e.tenant AS tenant, '' AS project_code, 'consultant ' || e.consultant AS detail
            FROM ({ENTRY_TIMES}) AS e WHERE {_WAITING} AND {_STALLED}
            ORDER BY e.approved_at, e.entry_id LIMIT {{limit:UInt32}}"""
        return records_query(db, sql, window, limit, pickup_limit=learned["limit_seconds"])
