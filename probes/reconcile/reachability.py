"""ERP reachability: one cheap call on a short interval, so an ERP that stops answering is known within a minute.

The reconciling probes call the ERP heavily and rarely (time posting every 15 min, the others hourly or less), so
on their own they notice an outage at their next run. This probe asks one question of a tiny table (the count of
accounting periods), a single SuiteQL call, and has no findings: its outcome is the signal (`ErpUnreachable`
matches failed and timed-out runs whose error names the ERP). Its short deadline stops a Retry-After longer than
the interval from holding the run open: the run fails at once and says why.
"""

from __future__ import annotations

from probes.adapters import suiteql_count
from probes.interfaces import ProbeContext
from probes.model import Finding

__all__ = ["check_erp_reachable"]

QUERY = "SELECT COUNT(*) FROM accountingperiod"


def check_erp_reachable(ctx: ProbeContext) -> list[Finding]:
    suiteql_count(ctx.client("erp"), ctx.scope, QUERY)
    return []
