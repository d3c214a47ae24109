"""Values the stage passes around: a probe's outcome, its findings, and one run's record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

__all__ = ["FINDING_KINDS", "Finding", "Outcome", "ProbeRun"]

# Kinds follow the simulator's ground-truth discrepancy names (docs/scenarios.md), plus rate_card_expiring,
# integration_stopped (the middleware's own status of a process) and period_closed_early (the ERP's calendar).
FINDING_KINDS = (
    "approved_not_posted",
    "duplicate_posting",
    "project_mismatch",
    "deal_without_project",
    "worker_not_synced",
    "terminated_with_open_assignment",
    "dead_letter_unreplayed",
    "assignment_without_rate_card",
    "rate_card_expiring",
    "integration_stopped",
    "period_closed_early",
)


class Outcome(StrEnum):
    OK = "ok"  # ran to the end, found nothing
    MISMATCH = "mismatch"  # ran to the end, found discrepancies
    FAILED = "failed"  # could not reach or parse a target: never read as healthy
    TIMEOUT = "timeout"  # the probe's deadline passed
    THROTTLED = "throttled"  # the target's limits or our own budget stopped it
    UNKNOWN = "unknown"  # could not be evaluated (a system it needs is not configured)
    # No connection to a target this probe has never had an answer from: the system is not up yet or the probes
    # file points at the wrong place. Never read as healthy, and not an outage of something that worked.
    UNREACHED = "unreached"

    @property
    def healthy_answer(self) -> bool:
        """True when the run produced a trustworthy answer (clean or not)."""
        return self in (Outcome.OK, Outcome.MISMATCH)


@dataclass(frozen=True, slots=True)
class Finding:
    """One discrepancy, keyed by the record it is about, with the money it puts at risk when that is known."""

    kind: str
    object_type: str
    object_id: str
    system: str = ""
    tenant_id: str = ""
    project_code: str = ""
    consultant_id: str = ""
    age_seconds: float = 0.0
    amount: Decimal | None = None
    currency: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "tenant_id": self.tenant_id,
            "project_code": self.project_code,
            "consultant_id": self.consultant_id,
            "age_seconds": round(self.age_seconds, 3),
            "amount": None if self.amount is None else float(self.amount),
            "currency": self.currency,
            "detail": dict(self.detail),
        }


@dataclass(frozen=True, slots=True)
class ProbeRun:
    run_id: str  # the trace id of the run's span: the run and its API calls are one trace in otel_traces
    probe: str
    system: str
    started_at: float  # epoch seconds
    outcome: Outcome
    duration_ms: float
    api_calls: int
    error: str = ""
    findings: tuple[Finding, ...] = ()
    calls_by_system: Mapping[str, int] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        from datetime import UTC, datetime

        return {
            "run_id": self.run_id,
            "started_at": datetime.fromtimestamp(self.started_at, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "outcome": self.outcome.value,
            "duration_ms": round(self.duration_ms, 3),
            "findings": len(self.findings),
            "api_calls": self.api_calls,
            "error": self.error,
        }
