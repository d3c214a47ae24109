"""HCM to PSA: how fast worker changes (hires, leavers, moves) reach the resource plans."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from metrics.catalogue import Definition, Reading
from metrics.query import Db
from metrics.slis._scan import Counts, readings, records_query, scan
from metrics.slis.posting import AS_OF, seconds_between
from metrics.state import CHANGES
from metrics.windows import Window

__all__ = ["ResourcePlanFreshness"]

_KEYS = {"tenant": "e.tenant", "flow": "'hcm-to-psa-workers'", "source_system": "'hcm'", "target_system": "'psa'"}
# Terminations must land within 4 hours (a leaver keeps being booked otherwise), other changes within 24.
_LIMIT = "if(e.change_type = 'termination', 4 * 3600, 24 * 3600)"


class ResourcePlanFreshness:
    definition = Definition(
        "resource_plan_freshness",
        "Resource-plan freshness",
        "ratio",
        ">=",
        0.95,
        "HCM changes entered in the window that reached the PSA (worker.synced) within 24 h (terminations 4 h) /"
        " changes judged so far (applied in time, or older than their limit). Details: the oldest unapplied change"
        " per consultant.",
        allowed_error=0.05,
        dimensions=tuple(_KEYS),
        flow="hcm-to-psa-workers",
    )

    def measure(self, db: Db, windows: Sequence[Window], by: str | None = None) -> dict[str, list[Reading]]:
        # Every window ends at as_of: judge each change once, then the windows only filter on entered_at.
        source = f"""
            SELECT c.*, {_LIMIT.replace("e.", "c.")} AS limit_s,
                   c.synced_at IS NOT NULL AND {seconds_between("c.entered_at", "c.synced_at")} <= limit_s AS in_time,
                   {seconds_between("c.entered_at", AS_OF)} AS age_s,
                   c.synced_at IS NULL OR c.synced_at > {AS_OF} AS unapplied
            FROM ({CHANGES}) AS c WHERE c.entered_at IS NOT NULL"""
        counts = Counts("e.entered_at", {"total": "e.in_time OR e.age_s > e.limit_s", "good": "e.in_time"})
        main = """
            maxIf(e.age_s, ({IN} AND e.unapplied) AS unapplied_in) AS oldest_t,
            uniqExactIfState(e.consultant, unapplied_in) AS consultants_t"""
        totals = "max(oldest_t) AS oldest, uniqExactIfMerge(consultants_t) AS consultants"
        rows = scan(db, source, windows, _KEYS.get(by or ""), counts=counts, main_columns=main, main_totals=totals)

        def build(row: dict[str, Any], i: int) -> Reading:
            good, total = float(row[f"good_{i}"]), float(row[f"total_{i}"])
            if i:  # burn-rate windows: counts only (only the SLO window's details are shown)
                return Reading(good, total, None if total == 0 else good / total)
            details = {
                "oldest_unapplied_hours": float(row["oldest"] or 0.0) / 3600,
                "consultants_with_unapplied": row["consultants"],
            }
            return Reading(good, total, None if total == 0 else good / total, details)

        return readings(rows, len(windows), build)

    def records(self, db: Db, window: Window, limit: int) -> list[dict[str, Any]]:
        sql = f"""
            SELECT e.change_id AS key, 'change' AS kind,
                   e.change_type || if(e.synced_at IS NULL, ' not applied in the PSA', ' applied late') AS status,
                   {seconds_between("e.entered_at", AS_OF)} AS age_seconds, CAST(NULL, 'Nullable(Float64)') AS amount,
                   '' AS currency, e.tenant AS tenant, '' AS project_code, 'consultant ' || e.consultant AS detail
            FROM ({CHANGES}) AS e
            WHERE e.entered_at >= {{f0:DateTime64(6, 'UTC')}} AND e.entered_at < {AS_OF}
              AND (e.synced_at IS NULL OR e.synced_at > {AS_OF}
                   OR {seconds_between("e.entered_at", "e.synced_at")} > {_LIMIT})
            ORDER BY e.synced_at IS NULL DESC, e.entered_at LIMIT {{limit:UInt32}}"""
        return records_query(db, sql, window, limit)
