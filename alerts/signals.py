"""What alerts read: the latest SLI snapshots (metrics stage) and the latest probe runs and findings (probes
stage), behind one Protocol so the evaluator never knows where they come from.

`as_of` makes every read reproducible: the live job passes now, a replay over history passes each past
evaluation time and sees only rows written up to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

__all__ = ["Finding", "ProbeRun", "ProbeState", "SignalSource", "SliValue"]


@dataclass(frozen=True)
class SliValue:
    """The latest sli_snapshots row of one (sli, dimension, key)."""

    sli: str
    dimension: str
    key: str
    time: datetime
    value: float | None
    good: float
    total: float
    objective: float | None
    status: str
    budget_remaining: float | None
    burn: dict[str, float | None] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def field_value(self, name: str) -> float | None:
        if name == "value":
            return self.value
        if name == "good":
            return self.good
        if name == "total":
            return self.total
        if name == "bad":
            return self.total - self.good
        if name == "budget_remaining":
            return self.budget_remaining
        if name == "coverage":  # the share measured of what the SLI considered (metrics/coverage.py)
            coverage = self.details.get("coverage")
            return (
                float(coverage["lowest_ratio"]) if isinstance(coverage, dict) and "lowest_ratio" in coverage else None
            )
        return self.burn.get(name.removeprefix("burn_"))


@dataclass(frozen=True)
class ProbeRun:
    run_id: str
    probe: str
    system: str
    started_at: datetime
    outcome: str
    findings: int
    error: str


@dataclass(frozen=True)
class Finding:
    probe: str
    kind: str
    system: str
    tenant_id: str
    object_type: str
    object_id: str
    project_code: str
    consultant_id: str
    age_seconds: float
    amount: Decimal | None
    currency: str
    detail: dict[str, Any] = field(default_factory=dict)  # the probe's JSON detail, parsed


@dataclass(frozen=True)
class ProbeState:
    """The latest run of every probe, and the findings of those runs."""

    runs: list[ProbeRun] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


class SignalSource(Protocol):
    def sli_values(self, as_of: datetime) -> list[SliValue]:
        """The latest row per (sli, dimension, key) written at or before as_of (and not older than a day)."""
        ...

    def probe_state(self, as_of: datetime) -> ProbeState:
        """Each probe's latest run at or before as_of, with that run's findings."""
        ...
