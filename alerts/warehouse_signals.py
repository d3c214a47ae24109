"""`SignalSource` over the warehouse tables of the metrics (sli_snapshots) and probes (probe_runs,
probe_findings) stages. A table that does not exist yet (its stage is not installed) reads as empty, which the
absent-data rules then report.

The exception queue's SLA standing (cases/metrics.py) joins the probe state as findings of the `exception_queue`
(one per case at risk or past due, `owner_team` and `severity` in its detail), so probe_finding rules split by
owner team alert on it with the findings' context: count, money per currency, the top cases."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from alerts.signals import Finding, ProbeRun, ProbeState, SliValue
from cases.calendar import UTC_WEEKDAYS, Calendar
from cases.metrics import PAGE_SEVERITIES, OpenCase, read_open_cases, sla_standing

__all__ = ["EXCEPTION_FINDINGS", "WarehouseSignals", "exception_findings"]

# The finding kinds of the exception queue: a breached case pages or opens a ticket by its severity.
EXCEPTION_FINDINGS = ("exception_sla_at_risk", "exception_sla_breached_page", "exception_sla_breached_ticket")

log = logging.getLogger("syncwatch.alerts")

_BURNS = ("5m", "30m", "1h", "6h", "1d", "3d")
_SLI_QUERY = """
SELECT sli, dimension, key,
       argMax(time, time), argMax(value, time), argMax(good, time), argMax(total, time), argMax(objective, time),
       argMax(status, time), argMax(budget_remaining, time),
       argMax(burn_5m, time), argMax(burn_30m, time), argMax(burn_1h, time), argMax(burn_6h, time),
       argMax(burn_1d, time), argMax(burn_3d, time), argMax(details, time)
FROM sli_snapshots
WHERE time <= {as_of:DateTime64(3, 'UTC')} AND time > {since:DateTime64(3, 'UTC')}
GROUP BY sli, dimension, key
"""
_RUNS_QUERY = """
SELECT argMax(run_id, started_at), probe, argMax(system, started_at), max(started_at),
       argMax(outcome, started_at), argMax(findings, started_at), argMax(error, started_at)
FROM probe_runs
WHERE started_at <= {as_of:DateTime64(3, 'UTC')} AND started_at > {since:DateTime64(3, 'UTC')}
GROUP BY probe
"""
_FINDINGS_QUERY = """
SELECT probe, kind, system, tenant_id, object_type, object_id, project_code, consultant_id, age_seconds,
       amount, currency, detail
FROM probe_findings
WHERE run_id IN {runs:Array(String)}
LIMIT {limit:UInt64}
"""


class WarehouseSignals:
    def __init__(self, client: Client, *, lookback: timedelta = timedelta(days=1), findings_limit: int = 200_000,
                 calendar_of: Callable[[str], Calendar] = lambda _: UTC_WEEKDAYS):  # fmt: skip
        self.client = client
        self.calendar_of = calendar_of  # each tenant's business calendar, for the exception cases' SLA used
        self.lookback = lookback
        self.findings_limit = findings_limit

    def sli_values(self, as_of: datetime) -> list[SliValue]:
        rows = self._rows(_SLI_QUERY, {"as_of": as_of, "since": as_of - self.lookback})
        out = []
        for r in rows:
            out.append(
                SliValue(
                    sli=r[0],
                    dimension=r[1],
                    key=r[2],
                    time=_utc(r[3]),
                    value=r[4],
                    good=float(r[5]),
                    total=float(r[6]),
                    objective=r[7],
                    status=r[8],
                    budget_remaining=r[9],
                    burn=dict(zip(_BURNS, r[10:16], strict=True)),
                    details=_json(r[16]),
                )
            )
        return out

    def probe_state(self, as_of: datetime) -> ProbeState:
        rows = self._rows(_RUNS_QUERY, {"as_of": as_of, "since": as_of - self.lookback})
        runs = [ProbeRun(r[0], r[1], r[2], _utc(r[3]), r[4], int(r[5]), r[6]) for r in rows]
        queue = exception_findings(self._open_cases(), as_of, self.calendar_of)
        if not runs:
            return ProbeState(findings=queue)
        found = self._rows(_FINDINGS_QUERY, {"runs": [r.run_id for r in runs], "limit": self.findings_limit})
        findings = [
            Finding(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], float(r[8]), r[9], r[10], _json(r[11]))
            for r in found
        ]
        return ProbeState(runs=runs, findings=findings + queue)

    def _open_cases(self) -> list[OpenCase]:
        try:
            return read_open_cases(self.client)
        except DatabaseError as exc:
            if "UNKNOWN_TABLE" in str(exc) or "doesn't exist" in str(exc) or "does not exist" in str(exc):
                return []
            raise

    def _rows(self, sql: str, parameters: dict[str, Any]) -> list[Any]:
        try:
            return list(self.client.query(sql, parameters=parameters).result_rows)
        except DatabaseError as exc:
            if "UNKNOWN_TABLE" in str(exc) or "doesn't exist" in str(exc) or "does not exist" in str(exc):
                log.debug("signal table missing (stage not installed yet): %s", str(exc).splitlines()[0])
                return []
            raise


def exception_findings(
    cases: list[OpenCase], now: datetime, calendar_of: Callable[[str], Calendar] = lambda _: UTC_WEEKDAYS
) -> list[Finding]:
    """One finding per case at risk or past due, aged since the case opened."""
    standing = sla_standing(cases, now, calendar_of)
    out = []
    for kind, found in (("exception_sla_at_risk", standing.at_risk), ("exception_sla_breached", standing.breaching)):
        for c in found:
            if kind == "exception_sla_breached":
                kind_of = f"{kind}_page" if c.severity in PAGE_SEVERITIES else f"{kind}_ticket"
            else:
                kind_of = kind
            # one record's money is in one currency; a case naming two keeps the larger (the rest is in the case)
            currency, amount = max(c.money.items(), key=lambda kv: kv[1], default=("", None))
            due = c.due_at.isoformat().replace("+00:00", "Z")
            detail = {"owner_team": c.owner_team, "severity": c.severity, "cause": c.cause, "state": c.state,
                      "business_key": c.business_key, "due_at": due}  # fmt: skip
            out.append(Finding("exception_queue", kind_of, "exception_queue", c.tenant, c.kind, c.case_id, c.project,
                               c.consultant, max(0.0, (now - c.opened_at).total_seconds()),
                               None if amount is None else Decimal(str(amount)), currency, detail))  # fmt: skip
    return out


def _json(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
