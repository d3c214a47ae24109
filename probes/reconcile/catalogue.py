"""The built-in probes: name, the systems each reads (the first files its runs), default schedule and timeout,
and the calls a run declares it may spend per system (checked against the budgets before it starts)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from probes.interfaces import ProbeContext
from probes.model import Finding
from probes.reconcile.dead_letters import check_dead_letters
from probes.reconcile.deals import check_deals_without_project
from probes.reconcile.duplicates import check_duplicate_postings
from probes.reconcile.integrations import check_integrations
from probes.reconcile.projects import check_project_master_data
from probes.reconcile.rate_cards import check_rate_cards
from probes.reconcile.reachability import check_erp_reachable
from probes.reconcile.time_posting import check_time_posting
from probes.reconcile.workers import check_worker_sync

__all__ = ["BUILTIN_PROBES", "BuiltinProbe"]


@dataclass(frozen=True)
class BuiltinProbe:
    name: str
    systems: Sequence[str]
    interval_seconds: float
    timeout_seconds: float
    cost: Mapping[str, int]
    description: str
    check: Callable[[ProbeContext], list[Finding]]
    kinds: Sequence[str] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    def run(self, ctx: ProbeContext) -> list[Finding]:
        return self.check(ctx)

    def configured(self, **changes: Any) -> BuiltinProbe:
        return replace(self, **changes)


BUILTIN_PROBES: dict[str, BuiltinProbe] = {
    p.name: p
    for p in (
        BuiltinProbe(
            "erp_reachability",
            ("erp",),
            30,
            20,
            {"erp": 2},
            "one SuiteQL call every 30 s: an ERP that stops answering, or closes a period time still posts to, is"
            " known within a minute",
            check_erp_reachable,
            ("period_closed_early",),
        ),
        BuiltinProbe(
            "integration_runtime",
            ("middleware",),
            30,
            20,
            {"middleware": 1},
            "one call every 30 s: integrations the middleware reports stopped, since when and why",
            check_integrations,
            ("integration_stopped",),
        ),
        BuiltinProbe(
            "time_posting",
            ("erp", "psa"),
            900,
            240,
            {"psa": 60, "erp": 40},
            "approved time not posted to the ERP, per month: counts first, keys only where they disagree",
            check_time_posting,
            ("approved_not_posted",),
        ),
        BuiltinProbe(
            "duplicate_postings",
            ("erp",),
            3600,
            900,
            {"erp": 250},
            "time the ERP booked more than once: a full read on the first run, then journals created since",
            check_duplicate_postings,
            ("duplicate_posting",),
            {"lookback_days": 35},
        ),
        BuiltinProbe(
            "project_master_data",
            ("erp", "crm", "psa"),
            3600,
            180,
            {"crm": 10, "psa": 40, "erp": 20},
            "project code, status, customer, currency and billing type across CRM, PSA and ERP",
            check_project_master_data,
            ("project_mismatch",),
        ),
        BuiltinProbe(
            "deals_without_project",
            ("crm",),
            3600,
            120,
            {"crm": 6},
            "closed-won deals with no project after 24 h",
            check_deals_without_project,
            ("deal_without_project",),
        ),
        BuiltinProbe(
            "worker_sync",
            ("psa", "hcm"),
            3600,
            240,
            {"hcm": 60, "psa": 30},
            "HCM status and cost-centre changes not reflected in the PSA, with staleness per consultant",
            check_worker_sync,
            ("worker_not_synced",),
        ),
        BuiltinProbe(
            "rate_cards",
            ("erp",),
            21600,
            180,
            {"erp": 40},
            "rate cards expiring within 30 days with T&M work on them; active T&M projects with no effective card",
            check_rate_cards,
            ("rate_card_expiring", "assignment_without_rate_card"),
        ),
        BuiltinProbe(
            "dead_letters",
            ("middleware",),
            300,
            60,
            {"middleware": 10},
            "dead-letter messages not replayed, with their age and queue",
            check_dead_letters,
            ("dead_letter_unreplayed",),
        ),
    )
}
