"""ERP reachability and open accounting periods: one cheap call on a short interval.

The reconciling probes call the ERP heavily and rarely (time posting every 15 min, the others hourly or less), so
on their own they notice an outage at their next run. This probe asks one SuiteQL question of a tiny table every
30 s: the status of the accounting periods that time is being posted to right now. Its outcome is the
reachability signal (`ErpUnreachable` matches failed and timed-out runs whose error names the ERP), and its short
deadline stops a Retry-After longer than the interval from holding the run open: the run fails at once and says why.

The same answer tells of a period closed early. Time worked this month posts to this month's period, and until the
firm's close day (option `close_day_of_month`, default 6) late time for last month posts to last month's: a
closed one of those is a `period_closed_early` finding before the first posting fails PERIOD_CLOSED. Periods are
matched by `periodname` written with option `period_name_format` (strftime, default "%Y-%m").
"""

from __future__ import annotations

from datetime import date, timedelta

from probes.adapters import suiteql_rows
from probes.errors import BadResponse
from probes.interfaces import ProbeContext
from probes.model import Finding
from probes.reconcile.common import opt_int, quoted, to_date

__all__ = ["check_erp_reachable", "periods_that_must_be_open"]


def periods_that_must_be_open(today: date, close_day: int) -> list[date]:
    """The first day of each month whose period postings go to on `today`: this month's, and last month's until
    its books close on `close_day`."""
    this = today.replace(day=1)
    if today.day < close_day:
        return [(this - timedelta(days=1)).replace(day=1), this]
    return [this]


def check_erp_reachable(ctx: ProbeContext) -> list[Finding]:
    erp = ctx.client("erp")
    name_format = str(ctx.options.get("period_name_format", "%Y-%m"))
    months = periods_that_must_be_open(to_date(ctx.now), opt_int(ctx.options, "close_day_of_month", 6))
    names = {m.strftime(name_format): m for m in months}
    query = f"SELECT periodname, subsidiary, closed FROM accountingperiod WHERE periodname IN ({quoted(list(names))})"
    findings = []
    for row in suiteql_rows(erp, ctx.scope, query):
        if "periodname" not in row or "closed" not in row:
            raise BadResponse("accounting period row lacks periodname or closed", system=erp.system)
        if str(row["closed"]).upper() not in ("T", "TRUE"):
            continue
        period, subsidiary = str(row["periodname"]), str(row.get("subsidiary") or "")
        findings.append(
            Finding(
                kind="period_closed_early",
                object_type="accounting_period",
                object_id=f"{subsidiary}/{period}" if subsidiary else period,
                system="erp",
                tenant_id=subsidiary,
                detail={"period": period, "subsidiary": subsidiary, "month": names.get(period, months[-1]).isoformat()},
            )
        )
    return findings
