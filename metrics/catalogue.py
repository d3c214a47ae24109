"""What an SLI is (its definition) and what computing it yields (readings). The SLIs themselves: metrics/slis/."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from metrics.query import Db
from metrics.windows import Window

__all__ = ["DIMENSIONS", "Definition", "Reading", "Sli", "Unit"]

Unit = Literal["ratio", "seconds", "business_days", "hours", "count", "money"]
# Breakdown dimensions the API accepts; each SLI says which of them it supports.
DIMENSIONS = ("flow", "tenant", "source_system", "target_system", "project", "customer")


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    title: str
    unit: Unit
    comparison: Literal[">=", "<="]
    target: float
    description: str
    # The share of judged events allowed to be bad (1 - objective for ratio SLIs, 0.05 for a p95 objective);
    # None for gauges, which have a threshold but no error budget or burn rate.
    allowed_error: float | None = None
    # The value past which the SLI is bad, not merely below objective (domain.md "bad" thresholds).
    bad: float | None = None
    dimensions: tuple[str, ...] = ("tenant",)
    # The one integration flow this SLI is about, if any (its breakdown by flow is then the SLI itself).
    flow: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """One SLI over one window: good and judged counts (budgeted SLIs), the value shown, and its context."""

    good: float
    total: float
    value: float | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def error_ratio(self) -> float | None:
        return None if self.total == 0 else 1.0 - self.good / self.total


class Sli(Protocol):
    definition: Definition

    def measure(self, db: Db, windows: Sequence[Window], by: str | None = None) -> dict[str, list[Reading]]:
        """Readings per breakdown key ('' without `by`), one per window, in the order given."""

    def records(self, db: Db, window: Window, limit: int) -> list[dict[str, Any]]:
        """The records behind a bad number: key, kind, status, age_seconds, amount, currency, tenant, detail."""
