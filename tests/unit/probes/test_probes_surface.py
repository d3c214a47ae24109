"""What other stages may import from probes/ (the dashboard reads the API; alerts read metrics and tables)."""

from __future__ import annotations

import importlib

import pytest

SURFACE = {
    "probes": ["FINDING_KINDS", "Finding", "Outcome", "ProbeError", "ProbeRun"],
    "probes.model": ["FINDING_KINDS", "Finding", "Outcome", "ProbeRun"],
    "probes.errors": ["AuthFailed", "BadResponse", "BudgetExhausted", "ConfigError", "DeadlineExceeded",
                      "HttpStatusError", "ProbeError", "TargetError", "Throttled", "Unreachable"],
    "probes.component": ["ProbesComponent"],
    "probes.interfaces": ["Probe", "ProbeContext"],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(SURFACE))
def test_public_names(module: str) -> None:
    loaded = importlib.import_module(module)
    assert sorted(loaded.__all__) == sorted(SURFACE[module])
    for name in loaded.__all__:
        assert hasattr(loaded, name), name


def test_outcomes_and_kinds_match_the_shared_interface() -> None:
    from probes import FINDING_KINDS, Outcome

    assert [o.value for o in Outcome] == ["ok", "mismatch", "failed", "timeout", "throttled", "unknown", "unreached"]
    assert set(FINDING_KINDS) == {
        "approved_not_posted", "duplicate_posting", "project_mismatch", "deal_without_project", "worker_not_synced",
        "terminated_with_open_assignment", "dead_letter_unreplayed", "assignment_without_rate_card",
        "rate_card_expiring", "integration_stopped", "period_closed_early",
    }  # fmt: skip
