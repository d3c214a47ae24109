"""The flow map: which integration flows carry which SLIs, and a health colour per hop.

Flow names are the simulator's and the metrics stage's flow keys (CADENCE_SECONDS in simulator/truth.py);
the dashboard never imports the simulator, it only shares the vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dashboard.format import STATUS_ICON, worst_status

__all__ = ["HOPS", "Hop", "HopHealth", "flow_map_svg", "hop_health", "silent_flows"]


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
        (
            "time_posting_first_pass",
            "time_posting_eventual",
            "time_posting_pickup",
            "time_posting_rejections",
            "duplicate_submission_rate",
            "dead_letter_backlog",
        ),
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

# Mid-tone status colours, readable on light and dark backgrounds.
_FILL = {"ok": "#2e7d32", "warning": "#e65100", "breach": "#c62828", "no_data": "#757575"}


@dataclass(frozen=True)
class HopHealth:
    hop: Hop
    status: str
    reasons: tuple[str, ...]


def silent_flows(flow_silence_rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """Flows the flow_silence breakdown reports as silent. A row's `details.silent` decides (the metrics stage's
    judgement against the flow's cadence); only a row without it falls back to its status, then to good < total.
    Earlier collectors gave each flow its seconds since the last event as the value, which breached the objective
    of 0 silent flows for every flow: by status alone a flow that delivered a minute ago was silent."""
    silent = set()
    for row in flow_silence_rows:
        details = row.get("details")
        if isinstance(details, Mapping) and isinstance(details.get("silent"), bool):
            if details["silent"]:
                silent.add(str(row.get("key")))
        elif row.get("status") is not None:
            if row.get("status") == "breach":
                silent.add(str(row.get("key")))
        elif _fewer_good(row):
            silent.add(str(row.get("key")))
    return silent


def _fewer_good(row: Mapping[str, Any]) -> bool:
    good, total = row.get("good"), row.get("total")
    return isinstance(good, int | float) and isinstance(total, int | float) and 0 < total and good < total


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


# Where each system sits on the map (x, y of the box centre) and how each hop's line bends, in SVG units.
_POS = {"CRM": (90, 60), "HCM": (90, 250), "PSA": (330, 155), "ERP": (600, 155)}
_BEND = {
    ("CRM", "PSA"): 0,
    ("CRM", "ERP"): -95,
    ("HCM", "PSA"): 0,
}
_PARALLEL = (-55, 0, 55)  # three PSA -> ERP hops side by side


def flow_map_svg(health: list[HopHealth]) -> str:
    """The flow map as SVG: systems as boxes, hops as arrows coloured by health with a status label.

    SVG instead of a Graphviz chart: it draws with the page (no layout engine to load, a Graphviz chart cost the
    Overview about a second of its first render) and reads in light and
    dark themes alike (mid-grey labels: an image does not inherit the theme's text colour)."""
    parts = [
        '<svg viewBox="0 0 700 310" width="700" height="310" role="img" aria-label="integration flow map" '
        'xmlns="http://www.w3.org/2000/svg" style="font-family:sans-serif">',
        "<defs>",
    ]
    for status, colour in _FILL.items():
        parts.append(
            f'<marker id="arrow-{status}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
            f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )
    parts.append("</defs>")
    parallel = iter(_PARALLEL)
    arrows: list[str] = []
    labels: list[str] = []
    for h in health:
        (x1, y1), (x2, y2) = _POS[h.hop.source], _POS[h.hop.target]
        offset = next(parallel) if (h.hop.source, h.hop.target) == ("PSA", "ERP") else 0
        bend = _BEND.get((h.hop.source, h.hop.target), 0)
        # leave and enter the boxes at their edges, not their centres
        sx, ex = x1 + 55, x2 - 55
        sy, ey = y1 + offset * 0.35, y2 + offset * 0.35
        cx, cy = (sx + ex) / 2, (sy + ey) / 2 + bend + offset
        colour = _FILL.get(h.status, _FILL["no_data"])
        why = "; ".join(h.reasons) or h.status.replace("_", " ")
        arrows.append(
            f"<g><title>{_esc(h.hop.source)} → {_esc(h.hop.target)}: {_esc(h.hop.label)} ({_esc(why)})</title>"
            f'<path d="M{sx:.0f},{sy:.0f} Q{cx:.0f},{cy:.0f} {ex:.0f},{ey:.0f}" fill="none" stroke="{colour}" '
            f'stroke-width="4" marker-end="url(#arrow-{h.status})"/></g>'
        )
        # The label sits on the curve's midpoint in a filled box drawn after every arrow, so no other hop's arrow
        # crosses its text (on three parallel PSA → ERP hops they did).
        text = f"{STATUS_ICON.get(h.status, '')} {h.hop.label}"
        lx, ly = (sx + 2 * cx + ex) / 4, (sy + 2 * cy + ey) / 4
        half = 3.6 * len(text) + 6
        labels.append(
            f'<g><rect x="{lx - half:.0f}" y="{ly - 10:.0f}" width="{2 * half:.0f}" height="20" rx="6" '
            f'fill="#37474f" stroke="{colour}" stroke-width="1.5"/>'
            f'<text x="{lx:.0f}" y="{ly + 4:.0f}" text-anchor="middle" font-size="12" fill="#ffffff">'
            f"{_esc(text)}</text></g>"
        )
    parts.extend(arrows)
    for system, (x, y) in _POS.items():
        worst = worst_status([h.status for h in health if system in (h.hop.source, h.hop.target)])
        parts.append(
            f'<g><rect x="{x - 55}" y="{y - 22}" width="110" height="44" rx="10" fill="#455a64" '
            f'stroke="{_FILL.get(worst, _FILL["no_data"])}" stroke-width="3"/>'
            f'<text x="{x}" y="{y + 6}" text-anchor="middle" font-size="16" font-weight="bold" fill="#ffffff">'
            f"{system}</text></g>"
        )
    parts.extend(labels)
    parts.append("</svg>")
    return "".join(parts)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
