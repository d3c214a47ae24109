"""Fault scenarios: what each one does to the firm, and which SLIs and probe findings it must move.

A FaultSchedule holds windows per scenario. Backfills schedule windows up front ("erp_outage@60+2": from day
60 of the run for 2 days); a live run switches them on and off through the admin endpoint or the CLI.
The flows ask `active(name, t)` at their decision points; docs/scenarios.md is written from SCENARIOS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from simulator.calendar import DAY, HOUR

__all__ = ["SCENARIOS", "FaultSchedule", "FaultWindow", "Scenario", "parse_fault_spec"]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    summary: str
    moves: tuple[tuple[str, str], ...]  # (SLI or probe finding, "up" | "down")


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "erp_outage",
            "ERP answers time and invoice postings with throttling (SSS_REQUEST_LIMIT_EXCEEDED) or HTTP 503; the"
            " connector retries with backoff, dead-letters after 4 attempts and replays once ERP is back. The ERP"
            " query API answers 503 with Retry-After.",
            (("time_posting_first_pass", "down"), ("time_posting_eventual", "down"),
             ("e2e_latency_approval_to_posted_p95", "up"), ("dead_letter_backlog", "up"),
             ("approved_not_posted", "up")),
        ),
        Scenario(
            "closed_period",
            "Month-end: ERP closes the current accounting period early (in the first five days of a month, the"
            " previous one too, whose books would close on the 6th); postings fail PERIOD_CLOSED (not retryable)"
            " until the periods are reopened at the end of the window.",
            (("time_posting_first_pass", "down"), ("unbilled_wip_blocked", "up"), ("exceptions_open", "up"),
             ("approved_not_posted", "up")),
        ),
        Scenario(
            "expired_rate_card",
            "The negotiated rate card of the largest account lapses and is not renewed: its billable lines fail"
            " RATE_CARD_MISSING_OR_EXPIRED and its planned hours have no effective card.",
            (("rate_card_exposure_hours", "up"), ("time_posting_first_pass", "down"),
             ("assignment_without_rate_card", "up"), ("unbilled_wip_blocked", "up")),
        ),
        Scenario(
            "crm_rename",
            "A CRM clean-up renames 5% of active project codes; PSA picks the new codes up, ERP keeps the old ones,"
            " so postings fail INVALID_PROJECT_OR_ASSIGNMENT.",
            (("master_data_mismatch_ratio", "up"), ("time_posting_first_pass", "down"), ("project_mismatch", "up")),
        ),
        Scenario(
            "hcm_sync_stall",
            "The HCM-to-PSA worker sync stops: worker.changed keeps arriving, worker.synced does not; PSA keeps"
            " stale status and cost centres, terminated consultants keep their assignments. The middleware reports"
            " hcm-to-psa-workers stopped.",
            (("resource_plan_freshness_24h", "down"), ("oldest_unapplied_change_hours", "up"),
             ("worker_not_synced", "up")),
        ),
        Scenario(
            "duplicate_submissions",
            "The time connector times out and re-sends 5% of postings with a fresh idempotency key; ERP books both.",
            (("duplicate_submission_rate", "up"), ("duplicate_posting", "up")),
        ),
        Scenario(
            "dead_letter_buildup",
            "The middleware replay job is down: failed messages stay dead-lettered and every sync error lands in"
            " the queue. The middleware reports dead-letter-replay stopped.",
            (("dead_letter_backlog", "up"), ("dead_letter_oldest_hours", "up"), ("dead_letter_unreplayed", "up")),
        ),
        Scenario(
            "silent_flow",
            "The PSA-to-ERP time connector stops: no post_requested/posted events, approved entries pile up. The"
            " middleware reports the integration stopped.",
            (("flow_silence_seconds", "up"), ("approved_not_posted", "up"), ("time_posting_eventual", "down"),
             ("approved_waiting_for_connector", "up")),
        ),
        Scenario(
            "slow_drift",
            "First-pass posting failures rise by 0.5 percentage points a day from the start of the window.",
            (("time_posting_first_pass", "down"),),
        ),
        Scenario(
            "master_data_drift",
            "ERP marks 3% of active projects closed while PSA and CRM keep them active; their postings fail.",
            (("master_data_mismatch_ratio", "up"), ("project_mismatch", "up"), ("time_posting_first_pass", "down")),
        ),
    )
}  # fmt: skip


@dataclass(slots=True)
class FaultWindow:
    start: float
    end: float | None  # None: until switched off


@dataclass
class FaultSchedule:
    windows: dict[str, list[FaultWindow]] = field(default_factory=dict)

    def add(self, name: str, start: float, end: float | None) -> None:
        if name not in SCENARIOS:
            raise ValueError(f"unknown fault scenario {name!r}; known: {', '.join(SCENARIOS)}")
        self.windows.setdefault(name, []).append(FaultWindow(start, end))

    def switch(self, name: str, on: bool, t: float) -> bool:
        """Switch a scenario on or off at t; returns whether anything changed."""
        current = self.window_at(name, t)
        if on and current is None:
            self.add(name, t, None)
            return True
        if not on and current is not None:
            current.end = t
            return True
        return False

    def window_at(self, name: str, t: float) -> FaultWindow | None:
        for w in self.windows.get(name, ()):
            if w.start <= t and (w.end is None or t < w.end):
                return w
        return None

    def active(self, name: str, t: float) -> bool:
        return name in self.windows and self.window_at(name, t) is not None

    def active_names(self, t: float) -> list[str]:
        return [name for name in self.windows if self.window_at(name, t) is not None]

    def clear_at(self, name: str, t: float) -> float:
        """When a process blocked by `name` may try again: the window's end, or an hour on if open-ended."""
        w = self.window_at(name, t)
        if w is None:
            return t
        return w.end if w.end is not None else t + HOUR


_SPEC = re.compile(r"^(?P<name>[a-z_]+)(?:@(?P<start>\d+(?:\.\d+)?)(?:\+(?P<days>\d+(?:\.\d+)?))?)?$")


def parse_fault_spec(spec: str, run_start: float, run_end: float) -> tuple[str, float, float | None]:
    """ "erp_outage@60+2" -> from day 60 of the run for 2 days; "slow_drift@30" -> day 30 to the end; bare name ->
    the whole run."""
    m = _SPEC.match(spec.strip().replace("-", "_"))
    if not m or m["name"] not in SCENARIOS:
        raise ValueError(f"bad fault spec {spec!r}: NAME[@START_DAY[+DAYS]] with NAME one of {', '.join(SCENARIOS)}")
    start = run_start + float(m["start"] or 0) * DAY
    end = start + float(m["days"]) * DAY if m["days"] else None
    if end is not None and end > run_end:
        end = None
    return m["name"], start, end
