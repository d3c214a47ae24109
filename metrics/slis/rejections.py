"""Entries the ERP rejects for one reason now: a burst of one non-retryable error code, against its own normal rate.

A closed accounting period, a lapsed rate card or a renamed project makes the ERP reject every posting it touches
with the same error, and no retry will help. The first-pass ratio sees it once enough of a window has failed (a
5-minute window needs minutes of a partial fault); the error code says it at once, as long as the burst is told from
the code's everyday trickle (a few late entries for a closed month are normal in the first days of a month).

Counted in consultants, not entries: one timesheet's lines fail together, so five rejected entries of one person are
one problem, and distinct counts are also immune to re-delivered events.

PERIOD_CLOSED is left out: its rejections follow the close calendar, not a fault. Late time for the closing month
fails with it in the first days of every month, against a 3-day baseline of month-end days without any (the
simulated firm: 28 consultants in 5 minutes on the 1st, normally 0.04), so it paged every month. A period closed
too early is told from the ERP's calendar itself (the erp_reachability probe, AccountingPeriodClosedEarly), before
the first rejection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from metrics.catalogue import Definition, Reading
from metrics.query import Db
from metrics.slis._scan import records_query
from metrics.slis.posting import AS_OF, seconds_between
from metrics.windows import Window

__all__ = ["BURST_FACTOR", "CALENDAR_CODES", "RejectionBurst"]

BURST_MINUTES = 5
NORMAL_DAYS = 3
BURST_FACTOR = 5.0  # x the code's normal consultants per 5 minutes
_BUCKETS = NORMAL_DAYS * 24 * 60 // BURST_MINUTES
CALENDAR_CODES = ("PERIOD_CLOSED",)  # rejected by the close calendar (see above), not counted

_REJECTED = f"""
SELECT tenant_id, entry_id, consultant_id, project_code, time, JSONExtractString(data, 'error_code') AS code,
       time > {AS_OF} - INTERVAL {BURST_MINUTES} MINUTE AS now
FROM events
WHERE canonical_type = 'time_entry.post_failed' AND NOT JSONExtractBool(data, 'retryable')
  AND JSONExtractString(data, 'error_code') NOT IN ({", ".join(f"'{c}'" for c in CALENDAR_CODES)})
  AND time > {AS_OF} - INTERVAL {BURST_MINUTES} MINUTE - INTERVAL {NORMAL_DAYS} DAY AND time <= {AS_OF}
"""


def _bursts(db: Db, window: Window, key: str) -> list[dict[str, Any]]:
    """Per (key, code) rejected in the last minutes: consultants and entries now, and the normal consultants per
    interval before (the average over every interval of the normal period, quiet ones included)."""
    now = f"""
        SELECT {key} AS key, code, uniqExact(consultant_id) AS consultants, uniqExact(entry_id) AS entries,
               groupUniqArray(3)(project_code) AS projects
        FROM ({_REJECTED}) WHERE now GROUP BY key, code ORDER BY key, consultants DESC, code"""
    before = f"""
        SELECT key, code, sum(c) / {_BUCKETS} AS normal FROM (
            SELECT {key} AS key, code, toStartOfInterval(time, INTERVAL {BURST_MINUTES} MINUTE) AS bucket,
                   uniqExact(consultant_id) AS c
            FROM ({_REJECTED}) WHERE NOT now GROUP BY key, code, bucket)
        GROUP BY key, code"""
    rows = records_query(db, now, window, 0)
    if not rows:
        return []
    normal = {(r["key"], r["code"]): float(r["normal"]) for r in records_query(db, before, window, 0)}
    return [{**r, "normal": normal.get((r["key"], r["code"]), 0.0)} for r in rows]


class RejectionBurst:
    definition = Definition(
        "time_posting_rejections",
        "Entries the ERP rejects for one reason now",
        "count",
        "<=",
        0.0,
        f"Per ERP error code of non-retryable time_entry.post_failed events (except {', '.join(CALENDAR_CODES)},"
        " which follows the close calendar): consultants with an entry rejected in"
        f" the last {BURST_MINUTES} minutes, less {BURST_FACTOR:g}x the code's normal consultants per"
        f" {BURST_MINUTES} minutes over the {NORMAL_DAYS} days before. Value: the largest such excess over the"
        " codes (0 when every code is at its normal rate). Details: per code, consultants and entries rejected now,"
        " the normal rate, and the first projects.",
        dimensions=("tenant",),
        flow="psa-to-erp-time",
    )

    def measure(self, db: Db, windows: Sequence[Window], by: str | None = None) -> dict[str, list[Reading]]:
        rows = _bursts(db, windows[0], "tenant_id" if by == "tenant" else "''")
        grouped: dict[str, dict[str, Any]] = {} if by else {"": {}}
        for row in rows:
            grouped.setdefault(str(row["key"]), {})[row["code"] or "?"] = {
                "consultants": row["consultants"],
                "entries": row["entries"],
                "normal_consultants": round(row["normal"], 3),
                "excess": max(0.0, row["consultants"] - BURST_FACTOR * row["normal"]),
                "projects": list(row["projects"]),
            }
        out = {}
        for key, codes in grouped.items():
            top = max(codes, key=lambda c: codes[c]["excess"], default=None)
            excess = codes[top]["excess"] if top else 0.0
            details = {"codes": codes, "top_code": top or "", "minutes": BURST_MINUTES}
            if top:
                c = codes[top]
                details["top_text"] = (
                    f"{top}: {c['entries']} entries of {c['consultants']} consultants in {BURST_MINUTES} min"
                    f" (normally {c['normal_consultants']:g} consultants), e.g. {', '.join(c['projects'])}"
                )
            out[key] = [Reading(0.0, 0.0, float(excess), details)] * len(windows)
        return out

    def records(self, db: Db, window: Window, limit: int) -> list[dict[str, Any]]:
        sql = f"""
            SELECT entry_id AS key, 'entry' AS kind, 'rejected by the ERP: ' || any(code) AS status,
                   {seconds_between("max(time)", AS_OF)} AS age_seconds,
                   CAST(NULL, 'Nullable(Float64)') AS amount, '' AS currency, any(tenant_id) AS tenant,
                   any(project_code) AS project_code, 'consultant ' || any(consultant_id) AS detail
            FROM ({_REJECTED}) WHERE now GROUP BY entry_id
            ORDER BY age_seconds, key LIMIT {{limit:UInt32}}"""
        return records_query(db, sql, window, limit)
