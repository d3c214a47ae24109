"""What to do this week: rules over the report's own model, each a small function with a unit test
(tests/unit/reports/test_recommendations.py).

A rule fires only on a figure the report prints (its `figure` is that text, word for word), names the team that
owns the fix (the owners of the alert rules on the same problem, alerts/config/default.yaml) and says one thing to
do. No rule, no advice: the report never recommends anything a rule here did not derive from its numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["DEAD_LETTER_HOURS", "RULES", "Recommendation", "recommend"]

DEAD_LETTER_HOURS = 24.0  # a dead letter older than a day is work nobody is replaying, not a retry in flight

Report = Mapping[str, Any]


@dataclass(frozen=True)
class Recommendation:
    rule: str
    owner: str
    figure: str  # the number as the report prints it elsewhere
    text: str


def _rejections(report: Report, cause: str) -> dict[str, Any] | None:
    return next((c for c in report["stuck"]["rejections"] if c["cause"] == cause), None)


def period_closed(report: Report) -> list[Recommendation]:
    """First attempts the ERP refused because the accounting period was closed: the posting cut-off and the close
    calendar disagree."""
    found = _rejections(report, "PERIOD_CLOSED")
    if not found:
        return []
    n = found["entries"]
    return [Recommendation(
        "period_closed", "finance-systems", f"{n}",
        f"{n} time {'entry was' if n == 1 else 'entries were'} refused by the ERP because the accounting period was"
        f" closed ({found['money_text']}): align the time-posting cut-off with the period-close calendar.",
    )]  # fmt: skip


def rate_card_expired(report: Report) -> list[Recommendation]:
    """First attempts refused for an expired rate card: the card has to be renewed before the time can post."""
    found = _rejections(report, "RATE_CARD_EXPIRED")
    if not found:
        return []
    n, projects = found["entries"], ", ".join(found["projects"])
    return [Recommendation(
        "rate_card_expired", "billing", f"{n}",
        f"{n} time {'entry was' if n == 1 else 'entries were'} refused for an expired rate card"
        f"{f' (projects {projects})' if projects else ''}: renew the rate cards, then resend the entries.",
    )]  # fmt: skip


def rate_card_exposure(report: Report) -> list[Recommendation]:
    """Planned hours in the next 14 days with no effective rate card: they will be refused when posted."""
    found = next((s for s in report["slis"] if s["name"] == "rate_card_exposure"), None)
    if not found or not found["value"]:
        return []
    return [Recommendation(
        "rate_card_exposure", "billing", found["text"],
        f"{found['text']} of planned time in the next 14 days is on assignments without an effective rate card:"
        " add or renew those rate cards before the time is logged.",
    )]  # fmt: skip


def dead_letters(report: Report) -> list[Recommendation]:
    """A dead-letter queue whose oldest message waited more than DEAD_LETTER_HOURS: replay it."""
    return [
        Recommendation(
            "dead_letters", "integrations", f"{d['count']}",
            f"{d['count']} {'message waits' if d['count'] == 1 else 'messages wait'} in the {d['queue']} dead-letter"
            f" queue, the oldest for {d['oldest_text']}: replay them or close them as not needed.",
        )
        for d in report["stuck"]["dead_letters"]
        if d["count"] and (d.get("oldest_hours") or 0.0) > DEAD_LETTER_HOURS
    ]  # fmt: skip


def silent_flows(report: Report) -> list[Recommendation]:
    """Flows nothing arrived from at the week's end: their figures look better than they are. One line for all of
    them, longest quiet first: the fix (the connectors' schedules) is one team's."""
    flows = sorted(report["stuck"]["silent_flows"], key=lambda f: -f["hours_quiet"])
    if not flows:
        return []
    n, names = len(flows), ", ".join(f["flow"] for f in flows)
    quiet = flows[0]["quiet_text"] if n == 1 else f"{flows[-1]['quiet_text']} to {flows[0]['quiet_text']}"
    return [Recommendation(
        "silent_flows", "integrations", f"{n}",
        f"{n} integration {'flow has' if n == 1 else 'flows have'} been silent for {quiet} ({names}): check their"
        " connectors and schedules, or retire the flows nobody uses.",
    )]  # fmt: skip


def partial_coverage(report: Report) -> list[Recommendation]:
    """An SLI that left records out for a reason in the source's events: the source has to send what is missing."""
    out = []
    for gap in report["trust"]["slis"]:
        for left in gap["left_out"]:
            n = left["count"]
            out.append(Recommendation(
                "partial_coverage", "integrations", f"{n}",
                f"{n} {'record was' if n == 1 else 'records were'} left out of “{gap['title']}” ({left['why']}):"
                " fix the source's events so the figure sees them.",
            ))  # fmt: skip
    return out


def not_invoiced(report: Report) -> list[Recommendation]:
    """Time posted 30+ days ago and on no invoice: billing's queue, not an integration fault."""
    found = next((c for c in report["stuck"]["at_risk"] if c["cause"] == "not invoiced"), None)
    if not found:
        return []
    return [Recommendation(
        "not_invoiced", "finance-ops", found["money_text"],
        f"{found['money_text']} of time posted 30+ days ago is on no invoice ({found['entries']}"
        f" {'entry' if found['entries'] == 1 else 'entries'}):"
        " invoice it or write it off.",
    )]  # fmt: skip


RULES: tuple[Callable[[Report], list[Recommendation]], ...] = (
    period_closed,
    rate_card_expired,
    rate_card_exposure,
    dead_letters,
    silent_flows,
    partial_coverage,
    not_invoiced,
)


def recommend(report: Report) -> list[dict[str, Any]]:
    """Every rule's recommendations for the report, in the rules' order, as plain JSON."""
    return [asdict(r) for rule in RULES for r in rule(report)]
