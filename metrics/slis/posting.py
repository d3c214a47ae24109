"""Time posting, PSA to ERP: first-pass success, eventual success within SLA, duplicates, end-to-end latency."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from metrics.catalogue import Definition, Reading
from metrics.query import Db, timestamp
from metrics.slis._scan import ENTRIES_WITH_PROJECT, Counts, rank_level, readings, records_query, scan
from metrics.state import ENTRIES, ENTRY_DOCUMENTS, INVOICES, POSTINGS
from metrics.windows import Window

__all__ = ["ENTRY_KEYS", "BillingSyncLatency", "DuplicateSubmissions", "Eventual", "FirstPass"]

_P95 = rank_level(0.95)  # nearest rank, as the percentiles of docs/slis.md

ENTRY_KEYS = {
    "tenant": "e.tenant",
    "project": "e.project",
    "customer": "e.customer",
    "flow": "'psa-to-erp-time'",
    "source_system": "'psa'",
    "target_system": "'erp'",
}
POSTING_SLA = timedelta(hours=24)
AS_OF = "{as_of:DateTime64(6, 'UTC')}"


def seconds_between(a: str, b: str) -> str:
    return f"((toUnixTimestamp64Milli({b}) - toUnixTimestamp64Milli({a})) / 1000.0)"


def _ratio(good: float, total: float) -> float | None:
    return None if total == 0 else good / total


def _counts(row: dict[str, Any], i: int, details: dict[str, Any] | None = None) -> Reading:
    good, total = float(row[f"good_{i}"]), float(row[f"total_{i}"])
    return Reading(good, total, _ratio(good, total), details or {})


class FirstPass:
    definition = Definition(
        "time_posting_first_pass",
        "Time posting success, first pass",
        "ratio",
        ">=",
        0.97,
        "Entries whose first post attempt (the earliest of their post_requested and outcome events) falls in the"
        " window and succeeded on that attempt / entries with a first attempt in the window. An entry none of whose"
        " events is attempt 1 is left out (coverage: no_first_attempt_known).",
        allowed_error=0.03,
        bad=0.95,
        dimensions=tuple(ENTRY_KEYS),
        flow="psa-to-erp-time",
    )

    def measure(self, db: Db, windows: Sequence[Window], by: str | None = None) -> dict[str, list[Reading]]:
        counts = Counts("e.first_attempt_at", {"total": "1", "good": "e.first_attempt_ok = 1"})
        source = ENTRIES_WITH_PROJECT if by == "customer" else ENTRIES
        # Every window lies inside the first (the SLO window): an attempt outside it counts in none. Overall only:
        # a breakdown lists every key with attempts, judged in the window or not, as it always has.
        in_span = f"e.first_attempt_at >= {{f0:DateTime64(6, 'UTC')}} AND e.first_attempt_at < {AS_OF}"
        # An entry whose attempt 1 was never seen (only retries arrived) is not judged: coverage counts it.
        where = f"e.first_attempt_known = 1 AND {'e.first_attempt_at IS NOT NULL' if by else in_span}"
        rows = scan(db, source, windows, ENTRY_KEYS.get(by or ""), counts=counts, where=where)
        return readings(rows, len(windows), _counts)

    def records(self, db: Db, window: Window, limit: int) -> list[dict[str, Any]]:
        sql = f"""
            SELECT e.entry_id AS key, 'entry' AS kind,
                   if(e.posted_at IS NULL, 'failed, not posted', 'failed first attempt, posted later') AS status,
                   {seconds_between("e.first_attempt_at", AS_OF)} AS age_seconds, e.amount AS amount,
                   e.currency AS currency, e.tenant AS tenant, e.project AS project_code, e.last_error AS detail
            FROM ({ENTRIES}) AS e
            WHERE e.first_attempt_at >= {{f0:DateTime64(6, 'UTC')}} AND e.first_attempt_at < {AS_OF}
              AND e.first_attempt_ok = 0 AND e.first_attempt_known = 1
            ORDER BY e.posted_at IS NULL DESC, e.amount DESC LIMIT {{limit:UInt32}}"""
        return records_query(db, sql, window, limit)


class Eventual:
    definition = Definition(
        "time_posting_eventual",
        "Time posting success, eventual (within 24 h)",
        "ratio",
        ">=",
        0.995,
        "Entries approved in the window, at least 24 h ago, that were posted within 24 h of approval / those entries."
        " An entry still unposted 24 h after approval counts as failed while it is stuck.",
        allowed_error=0.005,
        dimensions=tuple(ENTRY_KEYS),
        flow="psa-to-erp-time",
    )

    def measure(self, db: Db, windows: Sequence[Window], by: str | None = None) -> dict[str, list[Reading]]:
        # An entry is judged once its SLA has run out: the main window covers approvals up to as_of - SLA; a
        # burn-rate window of length L covers the approvals whose deadline fell in the last L.
        judged = [Window(windows[0].start, windows[0].end - POSTING_SLA)] if windows[0].seconds > 86400 else []
        judged = judged or [Window(windows[0].start - POSTING_SLA, windows[0].end - POSTING_SLA)]
        judged += [Window(w.start - POSTING_SLA, w.end - POSTING_SLA) for w in windows[1:]]
        sla = int(POSTING_SLA.total_seconds())
        in_time = f"e.posted_at IS NOT NULL AND {seconds_between('e.approved_at', 'e.posted_at')} <= {sla}"
        counts = Counts("e.approved_at", {"total": "1", "good": in_time}, closed=True)
        source = ENTRIES_WITH_PROJECT if by == "customer" else ENTRIES
        key = ENTRY_KEYS.get(by or "")
        rows = scan(db, source, judged, key, counts=counts, where="e.approved_at IS NOT NULL")
        return readings(rows, len(windows), _counts)

    def records(self, db: Db, window: Window, limit: int) -> list[dict[str, Any]]:
        return approved_not_posted(db, window, limit)


def approved_not_posted(db: Db, window: Window, limit: int) -> list[dict[str, Any]]:
    """Approved entries with no ERP posting yet (not superseded or written off), oldest and costliest first."""
    sql = f"""
        SELECT e.entry_id AS key, 'entry' AS kind,
               if(e.blocked_since IS NOT NULL, 'blocked: ' || e.last_error,
                  if(e.first_attempt_at IS NULL, 'approved, never sent to ERP', 'approved, posting in progress'))
                   AS status,
               {seconds_between("e.approved_at", AS_OF)} AS age_seconds, e.amount AS amount, e.currency AS currency,
               e.tenant AS tenant, e.project AS project_code, e.last_error AS detail
        FROM ({ENTRIES}) AS e
        WHERE e.approved_at IS NOT NULL AND e.approved_at <= {AS_OF}
          AND (e.posted_at IS NULL OR e.posted_at > {AS_OF})
          AND e.superseded_at IS NULL AND e.written_off_at IS NULL
        ORDER BY e.approved_at, e.amount DESC LIMIT {{limit:UInt32}}"""
    return records_query(db, sql, window, limit)


# Entries booked with two or more ERP documents: the only ones that can be duplicates.
_SEVERAL = f"SELECT d.entry_id FROM ({ENTRY_DOCUMENTS}) AS d WHERE NOT d.single"


class DuplicateSubmissions:
    definition = Definition(
        "duplicate_submission_rate",
        "Duplicate submissions",
        "ratio",
        "<=",
        0.0,
        "Postings in the window whose entry (consultant, project, work date, source entry) was booked more than once"
        " / postings in the window.",
        allowed_error=0.001,
        bad=0.001,
        dimensions=("tenant", "project", "flow", "source_system", "target_system"),
        flow="psa-to-erp-time",
    )

    def measure(self, db: Db, windows: Sequence[Window], by: str | None = None) -> dict[str, list[Reading]]:
        # Only an entry booked under two or more documents can be a duplicate in any window. The rest, nearly every
        # entry, is counted from its one-row summary (entry_documents) without grouping half a million postings by
        # entry; the postings of the others are read per entry only when there are any (a second query, so a firm
        # without duplicates pays for neither that read nor the set it filters by).
        single_key = {**ENTRY_KEYS, "tenant": "e.tenant", "project": "e.project"}.get(by or "")
        single = scan(
            db,
            ENTRY_DOCUMENTS,
            windows,
            single_key,
            counts=Counts("e.posted_at", {"total": "e.single"}),
            main_columns="countIf(NOT e.single) AS several_t",
            main_totals="sum(several_t) AS several",
        )
        several: dict[str, dict[str, Any]] = {}
        if any(row["several"] for row in single):
            several_key = {**ENTRY_KEYS, "tenant": "any(p.tenant)", "project": "any(p.project)"}.get(by or "", "''")
            counts = ", ".join(
                f"countIf(p.posted_at >= {{f{i}:DateTime64(6, 'UTC')}} AND p.posted_at < {{t{i}:DateTime64(6, 'UTC')}})"
                f" AS n_{i}"
                for i in range(len(windows))
            )
            source = f"""SELECT {several_key} AS k, {counts} FROM ({POSTINGS}) AS p
                         WHERE p.entry_id IN ({_SEVERAL}) GROUP BY p.entry_id"""
            columns = "sumIf(n_{i}, n_{i} > 1) AS bad_{i}, sum(n_{i}) AS total_{i}"
            rows = scan(db, source, windows, "e.k" if by else None, columns=columns)
            several = {str(r["key"]): r for r in rows}
        singles = {str(row["key"]): row for row in single}

        def reading(key: str, i: int) -> Reading:
            mixed = several.get(key, {})
            bad = float(mixed.get(f"bad_{i}", 0))
            total = float(singles[key][f"total_{i}"] if key in singles else 0) + float(mixed.get(f"total_{i}", 0))
            return Reading(total - bad, total, None if total == 0 else bad / total, {"duplicated": bad})

        return {key: [reading(key, i) for i in range(len(windows))] for key in sorted({*singles, *several})}

    def records(self, db: Db, window: Window, limit: int) -> list[dict[str, Any]]:
        sql = f"""
            SELECT p.entry_id AS key, 'entry' AS kind, 'booked ' || toString(count()) || ' times' AS status,
                   {seconds_between("min(p.posted_at)", AS_OF)} AS age_seconds, CAST(NULL, 'Nullable(Float64)')
                   AS amount, '' AS currency, any(p.tenant) AS tenant, any(p.project) AS project_code,
                   arrayStringConcat(groupArray(p.document), ', ') AS detail
            FROM ({POSTINGS}) AS p
            WHERE p.posted_at >= {{f0:DateTime64(6, 'UTC')}} AND p.posted_at < {AS_OF} AND p.entry_id IN ({_SEVERAL})
            GROUP BY p.entry_id HAVING count() > 1
            ORDER BY age_seconds DESC LIMIT {{limit:UInt32}}"""
        return records_query(db, sql, window, limit)


class BillingSyncLatency:
    definition = Definition(
        "billing_sync_latency",
        "End-to-end billing sync latency (approval to ERP posting, p95)",
        "seconds",
        "<=",
        900.0,
        "p95 of approval -> time_entry.posted over entries posted in the window plus entries approved in the window"
        " and not posted yet, at their current age (a stuck entry raises the number while it is stuck; the p95 of"
        " completed hops alone is in details); also invoice.released -> invoice.posted. Judged events: the same"
        " entries, good when posted within 15 min; unposted ones are judged once 15 min old.",
        allowed_error=0.05,
        dimensions=tuple(ENTRY_KEYS),
        flow="psa-to-erp-time",
    )
    threshold_seconds = 900

    def measure(self, db: Db, windows: Sequence[Window], by: str | None = None) -> dict[str, list[Reading]]:
        # Every window ends at as_of: latency and stuck-ness are computed once per entry. Overall, an entry posted
        # before the SLO window (which holds every other window) is in no window's counts and not open: left out
        # (a breakdown lists every key with approved entries, as it always has).
        posted_before = "" if by else "AND NOT (e.posted_at IS NOT NULL AND e.posted_at < {f0:DateTime64(6, 'UTC')})"
        # An entry is judged in a window when it was posted in it, or, still open, was approved in it: open or
        # not, one instant per entry, so the windows are counted in one pass (_scan.Counts) and the percentiles
        # see the SLO window's entries at once. Posted in the window excludes open (posted by as_of).
        source = f"""
            SELECT e.*, {seconds_between("e.approved_at", "e.posted_at")} AS lat,
                   (e.posted_at IS NULL OR e.posted_at > {AS_OF}) AND e.superseded_at IS NULL
                       AND e.written_off_at IS NULL AND e.approved_at <= {AS_OF} AS open,
                   {seconds_between("e.approved_at", AS_OF)} AS age_s,
                   open AND age_s > {self.threshold_seconds} AS stuck,
                   if(open, e.approved_at, e.posted_at) AS judged_at
            FROM ({ENTRIES_WITH_PROJECT if by == "customer" else ENTRIES}) AS e
            WHERE e.approved_at IS NOT NULL {posted_before}"""
        # Judged: posted, or open and older than the threshold; good: posted within it.
        counts = Counts(
            "e.judged_at",
            {"total": "e.stuck OR NOT e.open", "good": f"NOT e.open AND e.lat <= {self.threshold_seconds}"},
            one_pass=True,
        )
        main = f"""
            quantileExactLowIf({_P95})(if(e.open, e.age_s, e.lat), {{IN}}) AS p95,
            quantilesExactLowIf(0.5, {_P95})(e.lat, ({{IN}} AND NOT e.open) AS posted_in) AS completed,
            countIf(posted_in) AS n, countIf({{IN}}) AS counted, countIf(e.open) AS not_posted"""
        rows = scan(db, source, windows, ENTRY_KEYS.get(by or ""), counts=counts, main_columns=main)
        invoices = {} if by else self._invoices(db, windows[0])

        def build(row: dict[str, Any], i: int) -> Reading:
            good, total = float(row[f"good_{i}"]), float(row[f"total_{i}"])
            if i:  # burn-rate windows: counts only
                return Reading(good, total, None)
            n = row["n"]
            p50, p95 = row["completed"]  # one sort of the completed hops for both
            details = {
                "completed_p95": p95 if n else None,
                "approval_to_posted_p50": p50 if n else None,
                "posted": n,
                "not_posted_yet": row["not_posted"],
                **invoices,
            }
            return Reading(good, total, float(row["p95"]) if row["counted"] else None, details)

        return readings(rows, len(windows), build)

    def _invoices(self, db: Db, window: Window) -> dict[str, Any]:
        lat = seconds_between("i.released_at", "i.posted_at")
        rows = db.rows(
            f"""SELECT quantileExactLow({_P95})({lat}) AS p95, count() AS n FROM ({INVOICES}) AS i
                WHERE i.posted_at IS NOT NULL AND i.released_at IS NOT NULL
                  AND i.posted_at >= {{f:DateTime64(6, 'UTC')}} AND i.posted_at < {{t:DateTime64(6, 'UTC')}}""",
            {"f": timestamp(window.start), "t": timestamp(window.end)},
        )
        n = rows[0]["n"] if rows else 0
        return {"invoice_released_to_posted_p95": rows[0]["p95"] if n else None, "invoices_posted": n}

    def records(self, db: Db, window: Window, limit: int) -> list[dict[str, Any]]:
        return approved_not_posted(db, window, limit)
