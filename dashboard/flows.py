"""The flow map: which integration flows carry which SLIs, and a health colour per hop.

Flow names are the simulator's and the metrics stage's flow keys (CADENCE_SECONDS in simulator/truth.py);
the dashboard never imports the simulator, it only shares the vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dashboard.format import STATUS_ICON, worst_status

__all__ = ["HOPS", "Hop", "HopHealth", "flow_map_dot", "hop_health", "silent_flows"]


@dataclass(frozen=True)
class Hop:
    label: str
    source: str
    target: str
    flows: tuple[str, ...]
    slis: tuple[str, ...]


HOPS: tuple[Hop, ...] = (
    Hop("deals → projects", "CRM", "PSA", ("crm-deals", "crm-to-psa-projects"), ("master_data_consistency",)),
    Hop("projects", "CRM", "ERP", ("psa-to-erp-projects",), ("master_data_consistency",)),
    Hop(
        "approved time",
        "PSA",
        "ERP",
        ("psa-timesheets", "psa-to-erp-time"),
        ("time_posting_first_pass", "time_posting_eventual", "duplicate_submission_rate", "dead_letter_backlog"),
    ),
    Hop(
        "invoices",
        "PSA",
        "ERP",
        ("psa-to-erp-invoices",),
        ("invoice_readiness_lag", "billing_sync_latency", "unbilled_wip_at_risk"),
    ),
    Hop("workers, leave", "HCM", "PSA", ("hcm-workers", "hcm-to-psa-workers"), ("resource_plan_freshness",)),
    Hop(
        "assignments, rate cards",
        "PSA",
        "ERP",
        ("psa-to-erp-assignments", "psa-rate-cards"),
        ("rate_card_exposure", "exception_sla_compliance"),
    ),
)

# Fills readable in light and dark themes, with white text on the coloured ones.
_FILL = {"ok": "#2e7d32", "warning": "#e65100", "breach": "#c62828", "no_data": "#757575"}


@dataclass(frozen=True)
class HopHealth:
    hop: Hop
    status: str
    reasons: tuple[str, ...]


def silent_flows(flow_silence_rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """Flows the flow_silence breakdown reports as silent (good < total on that flow's row)."""
    silent = set()
    for row in flow_silence_rows:
        good, total = row.get("good"), row.get("total")
        if isinstance(good, int | float) and isinstance(total, int | float) and total > 0 and good < total:
            silent.add(str(row.get("key")))
    return silent


def hop_health(slis: Mapping[str, Mapping[str, Any]], silent: set[str]) -> list[HopHealth]:
    """Each hop's colour is the worst status of its SLIs; a silent flow on the hop is a breach on its own."""
    out = []
    for hop in HOPS:
        statuses: list[str | None] = []
        reasons = []
        for name in hop.slis:
            sli = slis.get(name)
            status = sli.get("status") if sli else None
            statuses.append(status)
            if status in ("breach", "warning"):
                reasons.append(f"{name}: {status}")
        for flow in hop.flows:
            if flow in silent:
                statuses.append("breach")
                reasons.append(f"{flow}: silent")
        out.append(HopHealth(hop, worst_status(statuses), tuple(reasons)))
    return out


def flow_map_dot(health: list[HopHealth]) -> str:
    """Graphviz DOT of systems and hops, edges coloured by health; transparent so both themes read it."""
    systems: dict[str, list[str]] = {}
    for h in health:
        for system in (h.hop.source, h.hop.target):
            systems.setdefault(system, []).append(h.status)
    lines = [
        "digraph flows {",
        '  graph [rankdir=LR, bgcolor="transparent", nodesep=0.5, ranksep=1.4, fontname="sans-serif"];',
        '  node [shape=box, style="rounded,filled", fontcolor="white", fontname="sans-serif", penwidth=0, '
        'margin="0.25,0.12"];',
        '  edge [fontname="sans-serif", fontcolor="#8a8a8a", fontsize=11, penwidth=3];',
    ]
    for system in ("CRM", "HCM", "PSA", "ERP"):
        if system in systems:
            lines.append(f'  "{system}" [fillcolor="#455a64", label="{system}"];')
    for h in health:
        icon = STATUS_ICON.get(h.status, "")
        label = f"{icon} {h.hop.label}"
        tooltip = "; ".join(h.reasons) or h.status
        colour = _FILL.get(h.status, _FILL["no_data"])
        lines.append(
            f'  "{h.hop.source}" -> "{h.hop.target}" [label="{label}", color="{colour}", tooltip="{tooltip}"];'
        )
    lines.append("}")
    return "\n".join(lines)
