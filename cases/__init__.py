"""The exception queue: cases opened from what the warehouse knows, owned, on an SLA clock, worked through audited
actions (docs/exceptions.md)."""

from cases.component import CasesComponent
from cases.keeper import CaseKeeper, Maintained, UnknownCase
from cases.model import Action, ActionRefused, Case, Evidence

__all__ = ["Action", "ActionRefused", "Case", "CaseKeeper", "CasesComponent", "Evidence", "Maintained", "UnknownCase"]
