"""Master data across systems: projects that disagree, closed-won deals with no project, and assignments whose
planned billable hours have no effective rate card."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from metrics.catalogue import Definition, Reading
from metrics.query import Db
from metrics.slis._scan import records_query
from metrics.slis.posting import AS_OF, seconds_between
from metrics.state import ASSIGNMENTS, DEALS, PROJECT_VIEWS, PROJECTS, RATE_CARDS
from metrics.windows import Window

__all__ = ["MasterDataConsistency", "RateCardExposure"]

# Each active project as the PSA and the ERP hold it, with the fields that differ. A project the ERP still lacks
# 24 hours after the PSA created it counts as a mismatch too.
_COMPARED = f"""
SELECT p.project_key AS project_key, p.tenant AS tenant, p.code AS code, p.customer AS customer,
       p.billing_type AS billing_type, p.created_at AS created_at,
       if(r.system = '',
          if({seconds_between("p.created_at", AS_OF)} > 86400, ['missing_in_erp'], []),
          arrayFilter(x -> x != '', [
              if(p.code != r.code, 'code', ''), if(p.status != r.status, 'status', ''),
              if(p.customer != r.customer, 'customer', ''), if(p.currency != r.currency, 'currency', ''),
              if(p.billing_type != r.billing_type, 'billing_type', '')])) AS differences
FROM (SELECT * FROM ({PROJECT_VIEWS}) WHERE system = 'psa') AS p
LEFT JOIN (SELECT * FROM ({PROJECT_VIEWS}) WHERE system = 'erp') AS r ON r.project_key = p.project_key
WHERE (p.status = 'active' OR r.status = 'active') AND p.created_at <= {AS_OF}
"""
_ORPHAN_DEALS = f"""
SELECT d.opportunity_id AS opportunity_id, d.tenant AS tenant, d.closed_at AS closed_at, d.amount AS amount,
       d.currency AS currency
FROM ({DEALS}) AS d
WHERE {seconds_between("d.closed_at", AS_OF)} > 86400
  AND d.opportunity_id NOT IN (
      SELECT project_key FROM ({PROJECT_VIEWS}) WHERE system = 'psa' AND created_at <= {AS_OF})
"""


class MasterDataConsistency:
    definition = Definition(
        "master_data_consistency",
        "Master-data mismatches (share of active projects)",
        "ratio",
        "<=",
        0.0,
        "Active projects whose code, status, customer, currency or billing type differ between the PSA and the ERP"
        " (or that the ERP still lacks after 24 h) / active projects. Details: billable (time-and-materials)"
        " mismatches and closed-won deals with no project after 24 h.",
        dimensions=("tenant", "customer"),
    )

    def measure(self, db: Db, windows: Sequence[Window], by: str | None = None) -> dict[str, list[Reading]]:
        key = {"tenant": "c.tenant", "customer": "c.customer"}.get(by or "", "''")
        rows = records_query(
            db,
            f"""SELECT {key} AS key, count() AS active, countIf(notEmpty(c.differences)) AS mismatched,
                       countIf(notEmpty(c.differences) AND c.billing_type = 'time_and_materials') AS billable,
                       arraySlice(arraySort(x -> (x.2 != 'time_and_materials', x.1), groupArrayIf(
                           (c.code, c.billing_type, arrayStringConcat(c.differences, ', ')),
                           notEmpty(c.differences))), 1, 5) AS top
                FROM ({_COMPARED}) AS c GROUP BY key ORDER BY key""",
            windows[0],
            0,
        )
        deals = records_query(db, f"SELECT count() AS n FROM ({_ORPHAN_DEALS})", windows[0], 0)
        orphans = deals[0]["n"] if deals else 0
        result: dict[str, list[Reading]] = {}
        for row in rows or ([{"key": "", "active": 0, "mismatched": 0, "billable": 0, "top": []}] if not by else []):
            active, bad = float(row["active"]), float(row["mismatched"])
            # The first offenders, billable first, so an alert can name them (all of them: records()).
            top = [{"project": code, "billing_type": kind, "differs": what} for code, kind, what in row["top"]]
            details = {
                "mismatched": row["mismatched"],
                "active": row["active"],
                "billable_mismatched": row["billable"],
                "deals_without_project_24h": orphans,
                "top_projects": top,
                "top_projects_text": "; ".join(f"{t['project']} ({t['differs']})" for t in top) or "none",
            }
            result[str(row["key"])] = [Reading(active - bad, active, bad / active if active else 0.0, details)] * len(
                windows
            )
        return result

    def records(self, db: Db, window: Window, limit: int) -> list[dict[str, Any]]:
        sql = f"""
            SELECT * FROM (
                SELECT c.code AS key, 'project' AS kind, 'differs: ' || arrayStringConcat(c.differences, ', ')
                       AS status, {seconds_between("c.created_at", AS_OF)} AS age_seconds,
                       CAST(NULL, 'Nullable(Float64)') AS amount, '' AS currency, c.tenant AS tenant,
                       c.code AS project_code, 'billing type ' || c.billing_type AS detail
                FROM ({_COMPARED}) AS c WHERE notEmpty(c.differences)
                UNION ALL
                SELECT o.opportunity_id, 'deal', 'closed won, no project after 24 h',
                       {seconds_between("o.closed_at", AS_OF)}, toFloat64(o.amount), o.currency, o.tenant, '', ''
                FROM ({_ORPHAN_DEALS}) AS o
            ) ORDER BY age_seconds DESC LIMIT {{limit:UInt32}}"""
        return records_query(db, sql, window, limit)


# A card is effective from the start of its start date through the end of its end date (dates are the firm's,
# taken as UTC days): as of the following midnight it no longer covers work.
_EFFECTIVE = f"toDate({AS_OF}) >= start_date AND {AS_OF} <= toDateTime64(end_date + 1, 6, 'UTC')"

# Every rate card as of the window's end: whether it is effective, and whether it ends within 30 days.
_CARDS = f"""
SELECT rate_card_id, tenant, customer, {_EFFECTIVE} AS effective,
       end_date + 1 >= toDate({AS_OF}) AND end_date + 1 <= toDate({AS_OF}) + 30 AS expiring
FROM ({RATE_CARDS}) ORDER BY rate_card_id
"""

# Assignments on time-and-materials projects overlapping the next 14 days, with whether a rate card is effective
# today: the customer's negotiated card when the customer has one, otherwise the entity's standard card. Which
# customers and entities are covered comes from _CARDS as bound sets (_coverage): a firm has a few hundred cards
# at most, and looking them up in two joins of grouped cards cost the query 42 -> 23 ms of analysis on an empty
# warehouse (47 -> 32 ms at 5,000 consultants).
_EXPOSED = f"""
SELECT a.assignment_id AS assignment_id, a.tenant AS tenant, a.project AS project, p.customer AS customer,
       a.consultant AS consultant,
       a.planned_hours / greatest(1.0, dateDiff('day', a.start_date, a.end_date) / 7.0) AS weekly_hours,
       greatest(0.0, dateDiff('second', greatest(toDateTime(a.start_date, 'UTC'), toDateTime({AS_OF}, 'UTC')),
                least(toDateTime(a.end_date, 'UTC') + INTERVAL 1 DAY,
                      toDateTime({AS_OF}, 'UTC') + INTERVAL 14 DAY)) / 86400.0) AS overlap_days,
       if(p.customer IN {{carded:Array(String)}}, p.customer IN {{covered_customers:Array(String)}},
          a.tenant IN {{covered_tenants:Array(String)}}) AS covered
FROM ({ASSIGNMENTS}) AS a
INNER JOIN ({PROJECTS}) AS p ON p.project = a.project
WHERE p.billing_type = 'time_and_materials' AND a.status != 'ENDED'
  AND a.end_date >= toDate({AS_OF}) AND toDateTime(a.start_date, 'UTC') <= {AS_OF} + INTERVAL 14 DAY
"""


def _coverage(db: Db, window: Window) -> tuple[dict[str, list[str]], list[str]]:
    """_EXPOSED's parameters (customers with a card, those with an effective one, entities with an effective
    standard card) and the cards expiring within 30 days, as of the window's end."""
    cards = records_query(db, _CARDS, window, 0)
    coverage = {
        "carded": sorted({c["customer"] for c in cards if c["customer"]}),
        "covered_customers": sorted({c["customer"] for c in cards if c["customer"] and c["effective"]}),
        "covered_tenants": sorted({c["tenant"] for c in cards if not c["customer"] and c["effective"]}),
    }
    return coverage, [c["rate_card_id"] for c in cards if c["expiring"]]


class RateCardExposure:
    definition = Definition(
        "rate_card_exposure",
        "Rate-card expiry exposure (planned hours, next 14 days)",
        "hours",
        "<=",
        0.0,
        "Planned billable hours in the next 14 days on assignments to time-and-materials projects with no effective"
        " rate card (the customer's card if it has one, otherwise the entity's standard card). Details: cards"
        " expiring within 30 days.",
        dimensions=("tenant", "project", "customer"),
    )

    def measure(self, db: Db, windows: Sequence[Window], by: str | None = None) -> dict[str, list[Reading]]:
        key = {"tenant": "x.tenant", "project": "x.project", "customer": "x.customer"}.get(by or "", "''")
        coverage, cards = _coverage(db, windows[0])
        rows = records_query(
            db,
            f"""SELECT key, sum(y.h) AS hours, sum(y.n) AS assignments,
                       arraySlice(arraySort(t -> -t.2, groupArrayIf((y.project, y.h), y.h > 0)), 1, 3) AS top
                FROM (SELECT {key} AS key, x.project AS project,
                             sumIf(x.weekly_hours * x.overlap_days / 7.0, NOT x.covered) AS h,
                             countIf(NOT x.covered AND x.overlap_days > 0) AS n
                      FROM ({_EXPOSED}) AS x GROUP BY key, project) AS y
                GROUP BY key ORDER BY key""",
            windows[0],
            0,
            **coverage,
        )
        result = {}
        for row in rows or ([{"key": "", "hours": 0.0, "assignments": 0, "top": []}] if not by else []):
            top = [{"project": code, "hours": round(float(hours), 1)} for code, hours in row["top"]]
            details = {
                "assignments_without_card": row["assignments"],
                "cards_expiring_30d": cards,
                "top_projects": top,
                "top_projects_text": "; ".join(f"{t['project']} ({t['hours']:g} h)" for t in top) or "none",
            }
            result[str(row["key"])] = [Reading(0.0, 0.0, round(float(row["hours"]), 1), details)] * len(windows)
        return result

    def records(self, db: Db, window: Window, limit: int) -> list[dict[str, Any]]:
        sql = f"""
            SELECT x.assignment_id AS key, 'assignment' AS kind, 'no effective rate card' AS status,
                   0.0 AS age_seconds, CAST(NULL, 'Nullable(Float64)') AS amount, '' AS currency, x.tenant AS tenant,
                   x.project AS project_code,
                   toString(round(x.weekly_hours * x.overlap_days / 7.0, 1)) || ' planned hours in 14 days' AS detail
            FROM ({_EXPOSED}) AS x WHERE NOT x.covered AND x.overlap_days > 0
            ORDER BY x.weekly_hours * x.overlap_days DESC LIMIT {{limit:UInt32}}"""
        return records_query(db, sql, window, limit, **_coverage(db, window)[0])
