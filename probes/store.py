"""Probe runs and findings in the warehouse (tables probe_runs and probe_findings, migration 0003)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from probes.model import ProbeRun

__all__ = ["findings_of_last_run", "last_runs", "probes_that_answered", "write_run"]

RUN_COLUMNS = ["run_id", "started_at", "probe", "system", "outcome", "duration_ms", "findings", "api_calls", "error"]
FINDING_COLUMNS = [
    "run_id", "observed_at", "probe", "kind", "system", "tenant_id", "object_type", "object_id", "project_code",
    "consultant_id", "age_seconds", "amount", "currency", "detail",
]  # fmt: skip


def _when(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def write_run(client: Client, run: ProbeRun) -> None:
    """Findings first: a run row is the marker that its findings are complete."""
    observed = _when(run.started_at)
    if run.findings:
        client.insert(
            "probe_findings",
            [
                [
                    run.run_id,
                    observed,
                    run.probe,
                    f.kind,
                    f.system or run.system,
                    f.tenant_id,
                    f.object_type,
                    f.object_id,
                    f.project_code,
                    f.consultant_id,
                    float(f.age_seconds),
                    f.amount,
                    f.currency,
                    json.dumps(dict(f.detail), default=str, separators=(",", ":")),
                ]  # fmt: skip
                for f in run.findings
            ],
            column_names=FINDING_COLUMNS,
        )
    client.insert(
        "probe_runs",
        [
            [
                run.run_id,
                observed,
                run.probe,
                run.system,
                run.outcome.value,
                run.duration_ms,
                len(run.findings),
                run.api_calls,
                run.error,
            ]
        ],  # fmt: skip
        column_names=RUN_COLUMNS,
    )


def last_runs(client: Client) -> dict[str, dict[str, Any]]:
    rows = client.query(
        "SELECT probe, argMax(run_id, started_at), max(started_at), argMax(outcome, started_at), "
        "argMax(duration_ms, started_at), argMax(findings, started_at), argMax(api_calls, started_at), "
        "argMax(error, started_at), argMax(system, started_at) FROM probe_runs GROUP BY probe"
    ).result_rows
    out = {}
    for probe, run_id, started, outcome, duration, findings, calls, error, system in rows:
        started = started.replace(tzinfo=UTC) if started.tzinfo is None else started
        out[probe] = {
            "run_id": run_id,
            "started_at": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "started_at_epoch": started.timestamp(),
            "outcome": outcome,
            "duration_ms": round(float(duration), 3),
            "findings": int(findings),
            "api_calls": int(calls),
            "error": error,
            "system": system,
        }
    return out


def probes_that_answered(client: Client) -> set[str]:
    """Probes with at least one run that got an answer, kept over restarts: a refused connection then is an outage."""
    rows = client.query("SELECT DISTINCT probe FROM probe_runs WHERE outcome IN ('ok', 'mismatch')").result_rows
    return {str(r[0]) for r in rows}


def findings_of_last_run(client: Client, probe: str, limit: int) -> dict[str, Any] | None:
    """The findings of the probe's latest run that produced an answer (a failed run has none to show)."""
    head = client.query(
        "SELECT run_id, started_at FROM probe_runs WHERE probe = {probe:String} AND outcome IN ('ok', 'mismatch') "
        "ORDER BY started_at DESC LIMIT 1",
        parameters={"probe": probe},
    ).result_rows
    if not head:
        return None
    run_id, started = head[0]
    started = started.replace(tzinfo=UTC) if started.tzinfo is None else started
    rows = client.query(
        "SELECT kind, object_type, object_id, tenant_id, project_code, consultant_id, age_seconds, amount, currency, "
        "detail FROM probe_findings WHERE probe = {probe:String} AND run_id = {run:String} "
        "ORDER BY amount IS NULL, amount DESC, age_seconds DESC LIMIT {limit:UInt32}",
        parameters={"probe": probe, "run": run_id, "limit": limit},
    ).result_rows
    return {
        "probe": probe,
        "run_id": run_id,
        "observed_at": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "findings": [
            {
                "kind": kind,
                "object_type": otype,
                "object_id": oid,
                "tenant_id": tenant,
                "project_code": project,
                "consultant_id": consultant,
                "age_seconds": float(age),
                "amount": None if amount is None else float(amount),
                "currency": currency,
                "detail": json.loads(detail) if detail else {},
            }
            for kind, otype, oid, tenant, project, consultant, age, amount, currency, detail in rows
        ],
    }
