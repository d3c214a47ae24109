"""Billing: how fast approved billable time becomes invoice-ready, and the unbilled work in progress at risk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from metrics.catalogue import Definition, Reading
from metrics.query import Db
from metrics.slis._scan import Counts, billable_entries, rank_level, readings, records_query, scan
from metrics.slis.posting import AS_OF, ENTRY_KEYS, seconds_between
from metrics.state import currency_of
from metrics.windows import Window, business_seconds, business_seconds_sql

__all__ = ["InvoiceReadiness", "UnbilledWip"]

P95 = rank_level(0.95)  # nearest rank, as the percentiles of docs/slis.md

# Blocked until a later posting books it.
_BLOCKED = f"(e.blocked_since IS NOT NULL AND (e.posted_at IS NULL OR e.posted_at > {AS_OF}))"
# Approved, still open and not yet on a ready invoice as of the window's end: the unbilled work in progress.
_UNBILLED = (
    f"approved_at IS NOT NULL AND approved_at <= {AS_OF} AND superseded_at IS NULL AND written_off_at IS NULL"
    f" AND (invoice_ready_at IS NULL OR invoice_ready_at > {AS_OF})"
)
_APPROVED_OPEN = "approved_at IS NOT NULL AND superseded_at IS NULL AND written_off_at IS NULL"
# Every window lies inside the SLO window (f0 to as_of): an entry approved outside it counts in none, so it is
# dropped before the join and its business time is never computed (a 30-day SLO window over a longer history).
# Overall only: a breakdown lists every key with entries, judged in the window or not, as it always has.
_IN_SPAN = f" AND approved_at >= {{f0:DateTime64(6, 'UTC')}} AND approved_at < {AS_OF}"


# Each code's billing cycle, from the latest project.* event that gives one (the PSA's; the ERP's views carry none),
# by the number 0011_project_number.sql gives each entry's code. Read from the events at read time: a few events
# per project, in a narrow range of the table's (canonical_type, time) order.
_CYCLE_NUMBERS = """
SELECT number FROM (
    SELECT if(project_code = '', 0, cityHash64(project_code)) AS number,
           tupleElement(max((time, JSONExtractString(data, 'billing_cycle'))), 2) AS cycle
    FROM events
    WHERE canonical_type IN ('project.created', 'project.updated', 'project.closed')
      AND JSONExtractString(data, 'billing_cycle') != ''
    GROUP BY number)
WHERE cycle = '{cycle}'"""
# When a line approved at approved_at is due on an invoice (docs/slis.md, invoice_readiness_lag): the end (UTC) of the
# week, Monday to Sunday, or of the calendar month it was approved in; for a daily cycle, or none given, its approval.
_CUTOFF = f"""multiIf(
    e.project_number IN ({_CYCLE_NUMBERS.format(cycle="weekly")}),
        {business_seconds_sql("toDateTime64(toMonday(e.approved_at) + 7, 6, 'UTC')", "week_end")},
    e.project_number IN ({_CYCLE_NUMBERS.format(cycle="monthly")}),
        {business_seconds_sql("toDateTime64(addMonths(toStartOfMonth(e.approved_at), 1), 6, 'UTC')", "month_end")},
    e.approved_business_s)"""


class InvoiceReadiness:
    definition = Definition(
        "invoice_readiness_lag",
        "Invoice-readiness lag (p95)",
        "business_days",
        "<=",
        3.0,
        "Per billable entry approved in the window: business days from its billing cycle's cut-off (the end of the"
        " week or month it was approved in for a weekly or monthly cycle, its approval otherwise) to the"
        " invoice.ready that contains it, 0 if ready before; entries not yet on a ready invoice count at their"
        " current age. Value: p95 (p50 in details). Judged good: ready within 3 business days.",
        allowed_error=0.05,
        dimensions=tuple(ENTRY_KEYS),
        flow="psa-to-erp-time",
    )
    limit_days = 3.0

    def measure(self, db: Db, windows: Sequence[Window], by: str | None = None) -> dict[str, list[Reading]]:
        # Every window ends at as_of, so each entry's lag is computed once and the windows only filter.
        # Approval and readiness in business seconds are kept at ingest (0007_business_time.sql); as_of's is bound
        # (windows.business_seconds: its formula took 2-3 ms of the query's analysis).
        ready = f"e.invoice_ready_at IS NOT NULL AND e.invoice_ready_at <= {AS_OF}"
        end = f"if({ready}, e.invoice_ready_business_s, {{as_of_business_s:Float64}})"
        lag = f"greatest(0.0, ({end} - {_CUTOFF}) / 86400.0)"
        source = f"""SELECT e.*, {lag} AS lag, ({ready}) AS ready
                     FROM ({billable_entries(_APPROVED_OPEN + ("" if by else _IN_SPAN), by == "customer")}) AS e"""
        # In one pass (_scan.Counts): the percentiles see the SLO window's entries at once.
        counts = Counts("e.approved_at", {"total": "1", "good": f"e.lag <= {self.limit_days}"}, one_pass=True)
        main = f"quantilesExactLowIf(0.5, {P95})(e.lag, {{IN}}) AS lags, countIf({{IN}} AND NOT e.ready) AS not_ready"
        rows = scan(db, source, windows, ENTRY_KEYS.get(by or ""), counts=counts, main_columns=main,
                    parameters={"as_of_business_s": business_seconds(windows[0].end)})  # fmt: skip

        def build(row: dict[str, Any], i: int) -> Reading:
            good, total = float(row[f"good_{i}"]), float(row[f"total_{i}"])
            if i:  # burn-rate windows: counts only
                return Reading(good, total, None)
            p50, p95 = row["lags"]  # one sort of the lags for both (two took 35% longer at 50,000 consultants)
            details = {"p50": p50 if total else None, "entries": total, "not_ready": row["not_ready"]}
            return Reading(good, total, float(p95) if total else None, details)

        return readings(rows, len(windows), build)

    def records(self, db: Db, window: Window, limit: int) -> list[dict[str, Any]]:
        sql = f"""
            SELECT e.entry_id AS key, 'entry' AS kind,
                   if(e.posted_at IS NULL, 'approved, not posted', 'posted, not on a ready invoice') AS status,
                   {seconds_between("e.approved_at", AS_OF)} AS age_seconds, e.amount AS amount,
                   e.currency AS currency, e.tenant AS tenant, e.project AS project_code, e.last_error AS detail
            FROM ({billable_entries(_UNBILLED)}) AS e
            WHERE e.approved_at >= {{f0:DateTime64(6, 'UTC')}}
            ORDER BY e.approved_at, e.amount DESC LIMIT {{limit:UInt32}}"""
        return records_query(db, sql, window, limit)


_BUCKETS = ("0-7", "8-30", "31-60", ">60")


class UnbilledWip:
    definition = Definition(
        "unbilled_wip_at_risk",
        "Unbilled WIP at risk",
        "count",
        "<=",
        0.0,
        "Approved billable entries not yet on a ready invoice (not superseded or written off), valued at hours x"
        " rate in their own currency, by age since approval (0-7, 8-30, 31-60, > 60 days). At risk: older than 30"
        " days or blocked (a posting failure the middleware will not retry). Value: entries blocked for more than 5"
        " days (bad above 0); money per currency and bucket in details.",
        dimensions=tuple(ENTRY_KEYS),
        flow="psa-to-erp-time",
    )

    def measure(self, db: Db, windows: Sequence[Window], by: str | None = None) -> dict[str, list[Reading]]:
        # Each intermediate written once and named (metrics/windows.py says why): the age alone was written out
        # nine times, and the query's analysis then took 33 ms against 18 ms (execution 124 -> 107 ms).
        age_days = f"({seconds_between('e.approved_at', AS_OF)} / 86400.0 AS age_days)"
        blocked = f"({_BLOCKED} AS blocked)"
        blocked5 = f"((blocked AND {seconds_between('e.blocked_since', AS_OF)} > 5 * 86400) AS blocked5)"
        key = ENTRY_KEYS.get(by or "", "''")
        sql = f"""
            SELECT {key} AS key, {currency_of("e.currency_code")} AS currency,
                   sumIf(e.amount, {age_days} <= 7) AS b0, sumIf(e.amount, age_days > 7 AND age_days <= 30) AS b1,
                   sumIf(e.amount, age_days > 30 AND age_days <= 60) AS b2, sumIf(e.amount, age_days > 60) AS b3,
                   sumIf(e.amount, age_days > 30 OR {blocked}) AS at_risk,
                   sumIf(e.amount, {blocked5}) AS blocked_over_5_days, countIf(blocked5) AS n_blocked5,
                   count() AS entries, countIf(e.first_attempt_at IS NULL) AS unpriced
            FROM ({billable_entries(_UNBILLED, by == "customer")}) AS e
            GROUP BY key, e.currency_code ORDER BY key, currency"""
        rows = records_query(db, sql, windows[0], 0)
        grouped: dict[str, dict[str, Any]] = defaultdict(
            lambda: {
                "by_currency_and_age": {},
                "at_risk": {},
                "blocked_over_5_days": {},
                "entries": 0,
                "entries_without_amount": 0,
                "blocked_entries_over_5_days": 0,
            }  # fmt: skip
        )
        for row in rows:
            d = grouped[str(row["key"])]
            currency = row["currency"] or "?"
            d["by_currency_and_age"][currency] = {b: float(row[f"b{n}"]) for n, b in enumerate(_BUCKETS)}
            d["at_risk"][currency] = float(row["at_risk"])
            d["blocked_over_5_days"][currency] = float(row["blocked_over_5_days"])
            d["entries"] += row["entries"]
            d["entries_without_amount"] += row["unpriced"]
            d["blocked_entries_over_5_days"] += row["n_blocked5"]
        if not by and not grouped:
            grouped[""]  # noqa: B018 -- an empty firm has zero WIP, not "no data"
        return {
            key: [Reading(0.0, 0.0, float(d["blocked_entries_over_5_days"]), d)] * len(windows)
            for key, d in grouped.items()
        }

    def records(self, db: Db, window: Window, limit: int) -> list[dict[str, Any]]:
        sql = f"""
            SELECT e.entry_id AS key, 'entry' AS kind,
                   if({_BLOCKED}, 'blocked: ' || e.last_error,
                      if(e.posted_at IS NULL, 'approved, not posted', 'posted, not invoiced')) AS status,
                   {seconds_between("e.approved_at", AS_OF)} AS age_seconds, e.amount AS amount,
                   e.currency AS currency, e.tenant AS tenant, e.project AS project_code, e.last_error AS detail
            FROM ({billable_entries(_UNBILLED)}) AS e
            WHERE ({seconds_between("e.approved_at", AS_OF)} > 30 * 86400 OR {_BLOCKED})
            ORDER BY e.amount DESC LIMIT {{limit:UInt32}}"""
        return records_query(db, sql, window, limit)
