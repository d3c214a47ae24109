"""SLIs against their objectives: value, status, error budget remaining and burn rates, as of an instant.

burn rate = error ratio over a window / allowed error ratio (1 - objective); budget remaining = 1 - the burn rate
over the whole SLO window. Gauges (a threshold, no budget) have neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from metrics.bounded import bound_details
from metrics.catalogue import Definition, Reading, Sli
from metrics.coverage import Coverage, measure_coverage
from metrics.query import Db
from metrics.slis import build_registry
from metrics.slo import Objective, SloConfig
from metrics.windows import BURN_WINDOWS, Window

__all__ = ["Evaluator", "SliResult", "Status", "status_of"]
T = TypeVar("T")

# partial: the records measured meet the objective (or there were none), but more than the configured share of the
# records, or of the money, could not be classified and was left out (metrics/coverage.py).
Status = Literal["ok", "warning", "breach", "partial", "no_data"]


@dataclass(frozen=True, slots=True)
class SliResult:
    name: str
    title: str
    unit: str
    window: Window
    value: float | None
    good: float
    total: float
    target: float
    comparison: str
    window_label: str
    status: Status
    error_budget_remaining: float | None
    burn_rates: dict[str, float | None]
    details: dict[str, Any] = field(default_factory=dict)
    window_counts: dict[str, dict[str, float]] = field(default_factory=dict)  # burn window -> judged, bad
    coverage: dict[str, Any] | None = None  # Coverage.as_json; overall results only

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "unit": self.unit,
            "value": self.value,
            "good": self.good,
            "total": self.total,
            "objective": {"target": self.target, "comparison": self.comparison, "window": self.window_label},
            "status": self.status,
            "error_budget_remaining": self.error_budget_remaining,
            "burn_rates": self.burn_rates,
            "details": self.details,
            "coverage": self.coverage,
        }


def status_of(value: float | None, comparison: str, target: float, bad: float | None) -> Status:
    if value is None:
        return "no_data"
    meets = value >= target if comparison == ">=" else value <= target
    if meets:
        return "ok"
    if bad is not None and (value >= bad if comparison == ">=" else value <= bad):
        return "warning"
    return "breach"


def with_coverage(status: Status, coverage: Coverage, partial_above: float) -> Status:
    """`partial` where the number looks fine but too much was left out to say so, or is absent though records were
    there (no_data means there were none); a breach or warning stays what it is."""
    if status == "no_data" and coverage.missing:
        return "partial"
    if status == "ok" and coverage.short(partial_above):
        return "partial"
    return status


def _burn(reading: Reading, allowed: float | None) -> float | None:
    if allowed is None or reading.error_ratio is None or allowed <= 0:
        return None
    return reading.error_ratio / allowed


class Evaluator:
    def __init__(self, config: SloConfig, max_label_values: int = 20) -> None:
        self.config = config
        # Details keyed by data values (queues, flows, error codes) keep this many plus `other` (metrics/bounded.py).
        self.max_label_values = max_label_values
        self.registry: dict[str, Sli] = build_registry(config.cadences)

    def objective(self, definition: Definition) -> Objective:
        found = self.config.objectives.get(definition.name)
        return found or Objective(definition.target, timedelta(days=30), definition.bad)

    def allowed_error(self, definition: Definition) -> float | None:
        """Allowed bad share of judged events; follows the configured objective for ratio SLIs."""
        if definition.allowed_error is None:
            return None
        if definition.unit == "ratio" and definition.comparison == ">=":
            return 1.0 - self.objective(definition).target
        return definition.allowed_error

    def window_for(self, definition: Definition, as_of: datetime) -> Window:
        objective = self.objective(definition)
        return Window.calendar_month(as_of) if objective.window is None else Window.rolling(objective.window, as_of)

    def evaluate(
        self,
        db: Db,
        as_of: datetime | None = None,
        window: Window | None = None,
        names: Iterable[str] | None = None,
        by: str | None = None,
        overall: Mapping[str, dict[str, SliResult]] | None = None,
    ) -> dict[str, dict[str, SliResult]]:
        """name -> breakdown key ('' overall) -> result. An explicit window replaces each SLO window.

        `overall`: this evaluator's results without a breakdown at the same instant and window, if already at
        hand. By flow, an SLI of one flow is its overall result under the flow's name, so it is not measured again
        (the snapshot job asks overall, then by flow: the SLIs of one flow are most of the work).
        """
        moment = window.end if window else (as_of or datetime.now(UTC))
        plans = [self._plan(name, moment, window, by) for name in names or self.registry]
        plans = [plan for plan in plans if by is None or by in plan.sli.definition.dimensions]
        out: dict[str, dict[str, SliResult]] = {}
        known = overall or {}
        for plan in plans:
            if plan.single_flow and plan.name in known:  # coverage is an overall figure: not repeated per flow
                out[plan.name] = {k: replace(r, coverage=None) for k, r in _under_flow(plan, known[plan.name]).items()}
        plans = [plan for plan in plans if plan.name not in out]
        # The SLIs are independent queries: on a Db with spare clients they run side by side.
        measured = db.map(lambda worker, plan: plan.sli.measure(worker, plan.windows, plan.by), plans)
        coverage = {} if by else self._coverage(db, plans, measured)
        for plan, readings in zip(plans, measured, strict=True):
            if plan.single_flow:
                readings = _under_flow(plan, readings)
            out[plan.name] = {
                key: self._result(plan, r, window, coverage.get(plan.name) if key == "" else None)
                for key, r in readings.items()
            }
        return out

    def _coverage(self, db: Db, plans: list[_Plan], measured: list[dict[str, list[Reading]]]) -> dict[str, Coverage]:
        """Each SLI's coverage over its SLO window, one set of coverage queries per distinct window."""
        by_window: dict[Window, dict[str, Reading]] = {}
        for plan, readings in zip(plans, measured, strict=True):
            if "" in readings:
                by_window.setdefault(plan.windows[0], {})[plan.name] = readings[""][0]
        found: dict[str, Coverage] = {}
        for main, overall in by_window.items():
            found.update(measure_coverage(db, main, overall))
        return found

    def _plan(self, name: str, moment: datetime, window: Window | None, by: str | None) -> _Plan:
        sli = self.registry[name]
        definition = sli.definition
        # An SLI that belongs to one flow breaks down by flow into itself: reuse
        # the overall scan instead of a second identical one (the snapshot job asks for both every 30 s).
        single_flow = definition.flow if by == "flow" else None
        main = window or self.window_for(definition, moment)
        allowed = self.allowed_error(definition)
        windows = [main] + ([main.trailing(length) for length in BURN_WINDOWS.values()] if allowed else [])
        return _Plan(name, sli, windows, None if single_flow else by, single_flow, allowed)

    def _result(
        self, plan: _Plan, readings: list[Reading], window: Window | None, coverage: Coverage | None = None
    ) -> SliResult:
        definition, allowed = plan.sli.definition, plan.allowed
        objective = self.objective(definition)
        first = readings[0]
        burn = {label: _burn(r, allowed) for label, r in zip(BURN_WINDOWS, readings[1:], strict=False)}
        whole = _burn(first, allowed)
        # Judged and bad per burn window: a rule on a short window needs its own volume (twenty first
        # attempts in 5 minutes say more than the 30-day total does).
        counts = {
            label: {"judged": r.total, "bad": r.total - r.good}
            for label, r in zip(BURN_WINDOWS, readings[1:], strict=False)
        }
        status = status_of(first.value, definition.comparison, objective.target, objective.bad)
        if coverage is not None:
            status = with_coverage(status, coverage, self.config.partial_above)
        return SliResult(
            name=plan.name,
            title=definition.title,
            unit=definition.unit,
            window=plan.windows[0],
            value=first.value,
            good=first.good,
            total=first.total,
            target=objective.target,
            comparison=definition.comparison,
            window_label=objective.window_label if window is None else "explicit",
            status=status,
            error_budget_remaining=None if whole is None else 1.0 - whole,
            burn_rates=burn if allowed else {label: None for label in BURN_WINDOWS},
            details=bound_details(first.details, self.max_label_values),
            window_counts=counts if allowed else {},
            coverage=None if coverage is None else coverage.as_json(self.config.partial_above),
        )


def _under_flow(plan: _Plan, overall: dict[str, T]) -> dict[str, T]:
    """An SLI of one flow by flow: its overall reading or result, keyed by its flow."""
    return {plan.single_flow: overall[""]} if plan.single_flow and "" in overall else {}


@dataclass(frozen=True, slots=True)
class _Plan:
    """One SLI of an evaluation: its windows (SLO window, then burn-rate windows) and the breakdown it is read by."""

    name: str
    sli: Sli
    windows: list[Window]
    by: str | None
    single_flow: str | None
    allowed: float | None
