"""The firms the SLIs are held to the simulator's ground truth on, and the comparison itself.

Shared by tests/integration/metrics/test_truth_agreement.py (CI, small firms) and bench/truth.py (the same cells at
5,000 consultants). Each cell is a whole firm sent through the real collector; `disagreements` lists every SLI
figure that differs from the truth beyond the tolerance docs/slis.md states, so one run reports all of them.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import orjson

__all__ = ["CELLS", "Cell", "backfill", "disagreements", "slis"]

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")


@dataclass(frozen=True, slots=True)
class Cell:
    name: str
    consultants: int
    seed: int
    end: str  # the history's end; the SLI window is the 30 days before it
    faults: tuple[str, ...] = ()
    days: int = 30
    # How the integrations shape their events (simulator/styles.py): the truth is over what they let be seen, and
    # coverage must count exactly what they leave unclassifiable.
    styles: tuple[str, ...] = ()
    # Figures known to disagree, by the start of their `disagreements` line: the cell requires exactly these to
    # differ, so it fails on any other disagreement and again once these are fixed (then drop them here).
    known: tuple[str, ...] = ()

    def at(self, consultants: int) -> Cell:
        return replace(self, consultants=consultants)


# Ends put the calendar at different places in the window: Friday 2026-11-20 (mid-month), Thursday 2026-10-15
# (the closed_period firm that disagreed), Sunday 2026-11-01 (a month start on a weekend), Tuesday 2026-12-01 (a
# month end just before the end), Saturday 2026-10-03 (a weekend early in a month, periods still closing), Monday
# 2026-08-31 (the first hour of a month's last day) and Saturday 2026-10-31 18:00 (a month end on a weekend). Ends
# stay in the past: the collector quarantines events from the future. Fault windows are days from the Monday the
# run starts on.
_SMALL = 120
CELLS: tuple[Cell, ...] = (
    Cell("clean-500", 500, 42, "2026-11-20T00:00:00Z"),
    Cell("closed_period-500", 500, 7, "2026-10-15T00:00:00Z", ("closed_period@18+1",)),
    Cell("duplicate_submissions-500", 500, 7, "2026-12-01T00:00:00Z", ("duplicate_submissions",)),
    Cell("erp_outage-500", 500, 11, "2026-11-01T00:00:00Z", ("erp_outage@24+2",)),
    Cell("erp_outage", _SMALL, 42, "2026-10-03T12:00:00Z", ("erp_outage@10+2",)),
    Cell("closed_period", _SMALL, 11, "2026-12-01T00:00:00Z", ("closed_period",)),
    Cell("expired_rate_card", _SMALL, 7, "2026-12-01T00:00:00Z", ("expired_rate_card@6",)),
    Cell("crm_rename", _SMALL, 42, "2026-11-01T00:00:00Z", ("crm_rename@5",)),
    Cell("hcm_sync_stall", _SMALL, 11, "2026-10-15T00:00:00Z", ("hcm_sync_stall@20",)),
    Cell("duplicate_submissions", _SMALL, 42, "2026-10-03T12:00:00Z", ("duplicate_submissions@3",)),
    Cell("dead_letter_buildup", _SMALL, 7, "2026-11-20T00:00:00Z", ("dead_letter_buildup@15",)),
    Cell("silent_flow", _SMALL, 11, "2026-11-01T00:00:00Z", ("silent_flow@27",)),
    Cell("slow_drift", _SMALL, 7, "2026-08-31T00:00:00Z", ("slow_drift@10",)),
    Cell("master_data_drift", _SMALL, 42, "2026-10-31T18:00:00Z", ("master_data_drift@8",)),
    Cell("mix-of-three", _SMALL, 7, "2026-11-01T00:00:00Z",
         ("erp_outage@26+1", "closed_period", "duplicate_submissions@20")),
    Cell("outcome_only", _SMALL, 42, "2026-11-20T00:00:00Z", styles=("outcome_only",)),
    Cell("missing_extensions", _SMALL, 11, "2026-11-01T00:00:00Z", styles=("missing_extensions",)),
    Cell("late_master_data", _SMALL, 7, "2026-12-01T00:00:00Z", styles=("late_master_data=20",)),
    Cell("missing_project_events", _SMALL, 42, "2026-10-15T00:00:00Z", styles=("missing_project_events=0.1",)),
    Cell("every-style", _SMALL, 11, "2026-10-03T12:00:00Z", ("erp_outage@10+2",),
         styles=("outcome_only", "missing_extensions", "late_master_data", "missing_project_events")),
)  # fmt: skip


def backfill(cell: Cell, base_url: str, token: str, workdir: Path, timeout: float = 900) -> dict[str, Any]:
    """Send the cell's firm to the collector at base_url; the truth's SLIs over the 30 days before its end."""
    truth = workdir / "truth.json"
    args = [SYNCWATCH, "simulate", "backfill", "--consultants", str(cell.consultants), "--days", str(cell.days),
            "--seed", str(cell.seed), "--end", cell.end, "--no-spans", "--base-url", base_url, "--token", token,
            "--truth", str(truth), "--truth-window-days", "30"]  # fmt: skip
    for fault in cell.faults:
        args += ["--fault", fault]
    for style in cell.styles:
        args += ["--style", style]
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=workdir)
    if done.returncode != 0:
        raise RuntimeError(f"backfill of {cell.name} failed: {done.stderr[-2000:]}")
    found: dict[str, Any] = orjson.loads(truth.read_bytes())["slis"]
    return found


def slis(base_url: str, headers: dict[str, str], truth: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The API's SLIs over the truth's window."""
    params = {"from": truth["window_start"], "to": truth["as_of"]}
    response = httpx.get(f"{base_url}/api/v1/slis", params=params, headers=headers, timeout=300)
    response.raise_for_status()
    return {s["name"]: s for s in response.json()["slis"]}


class _Diff:
    def __init__(self) -> None:
        self.found: list[str] = []

    def equal(self, what: str, got: Any, want: Any) -> None:
        if got != want:
            self.found.append(f"{what}: ours {got!r}, truth {want!r}")

    def near(self, what: str, got: float | None, want: float | None, abs_: float, rel: float = 0.0) -> None:
        if got is None or want is None:
            self.equal(what, got, want)
        elif abs(got - want) > max(abs_, rel * abs(want)):
            self.found.append(f"{what}: ours {got!r}, truth {want!r} (tolerance {max(abs_, rel * abs(want)):g})")


def disagreements(got: dict[str, dict[str, Any]], truth: dict[str, Any]) -> list[str]:
    """Every figure the truth covers that the API's SLIs do not match: counts exactly, latencies to 0.01 s, lags
    to 1e-6 business days, money to a unit of currency (or 1e-4 of it), flow silence to 30 s."""
    d = _Diff()
    fp, first = truth["time_posting_first_pass"], got["time_posting_first_pass"]
    d.equal("first pass (good, total)", (first["good"], first["total"]), (fp["good"], fp["total"]))
    ev, eventual = truth["time_posting_eventual"], got["time_posting_eventual"]
    d.equal("eventual (good, total)", (eventual["good"], eventual["total"]), (ev["good"], ev["total"]))

    lag, readiness = truth["invoice_readiness_lag_business_days"], got["invoice_readiness_lag"]
    d.equal("invoice readiness entries", readiness["total"], lag["count"])
    d.near("invoice readiness p95", readiness["value"], lag["p95"], 1e-6)
    d.near("invoice readiness p50", readiness["details"]["p50"], lag["p50"], 1e-6)

    fresh, ours_fresh = truth["resource_plan_freshness"], got["resource_plan_freshness"]
    d.equal("freshness (good, total)", (ours_fresh["good"], ours_fresh["total"]), (fresh["within_sla"], fresh["total"]))
    d.near("freshness oldest unapplied hours", ours_fresh["details"]["oldest_unapplied_hours"],
           fresh["oldest_unapplied_hours"], 0.01)  # fmt: skip

    md, details = truth["master_data_consistency"], got["master_data_consistency"]["details"]
    d.equal("master data (mismatched, active)", (details["mismatched"], details["active"]),
            (md["mismatched"], md["active"]))  # fmt: skip
    d.equal("deals without project 24h", details["deals_without_project_24h"], md["deals_without_project_24h"])

    # What could not be classified: exactly the records the truth knows the events leave unclassifiable.
    covered = truth["coverage"]
    for name in ("invoice_readiness_lag", "unbilled_wip_at_risk"):
        left = got[name]["coverage"]["left_out"]
        for reason in ("no_project_named", "unknown_billing_type"):
            d.equal(f"{name} left out {reason}", left.get(reason, {}).get("count", 0), covered[name].get(reason, 0))
    unclassified = got["unbilled_wip_at_risk"]["coverage"]["left_out"].get("unknown_billing_type", {}).get("money", {})
    for currency, amount in covered["unbilled_wip_unclassified_money"].items():
        d.near(f"WIP unclassified {currency}", unclassified.get(currency, 0.0), amount, 1.0, 1e-4)
    pick, ours_pick = truth["time_posting_pickup"], got["time_posting_pickup"]
    d.equal("pickup (stalled, waiting)", (ours_pick["value"], ours_pick["details"]["waiting"]),
            (pick["stalled"], pick["waiting"]))  # fmt: skip
    d.equal("pickups learned from", ours_pick["details"]["pickups_learned_from"], pick["pickups_learned_from"])
    for q in ("p50", "p99"):
        d.near(f"normal pickup {q}", ours_pick["details"][f"normal_pickup_{q}_seconds"],
               pick[f"normal_pickup_{q}_seconds"], 0.01)  # fmt: skip
    d.equal("rate cards expiring in 30 days", sorted(got["rate_card_exposure"]["details"]["cards_expiring_30d"]),
            truth["rate_card_exposure"]["cards_expiring_30d"])  # fmt: skip
    dup, ours_dup = truth["duplicate_submission_rate"], got["duplicate_submission_rate"]
    d.equal("duplicates posted", ours_dup["total"], dup["posted"])
    d.equal("duplicates duplicated", ours_dup["details"]["duplicated"], dup["duplicated"])

    wip, ours_wip = truth["unbilled_wip"], got["unbilled_wip_at_risk"]["details"]
    for currency, buckets in wip["by_currency_and_age"].items():
        if not any(buckets.values()):
            continue
        for bucket, amount in buckets.items():
            ours = ours_wip["by_currency_and_age"].get(currency, {}).get(bucket, 0.0)
            d.near(f"WIP {currency} {bucket}", ours, amount, 1.0, 1e-4)
    for currency, amount in wip["at_risk"].items():
        d.near(f"WIP at risk {currency}", ours_wip["at_risk"].get(currency, 0.0), amount, 1.0, 1e-4)

    exc, ours_exc = truth["exception_sla"], got["exception_sla_compliance"]
    d.equal("exception SLA (good, total)", (ours_exc["good"], ours_exc["total"]), (exc["met"], exc["due"]))
    d.equal("exceptions open", ours_exc["details"]["open"], exc["open"])
    d.equal("exceptions open breaches", ours_exc["details"]["open_breaches"], exc["open_breaches"])

    lat, latency = truth["e2e_latency_seconds"], got["billing_sync_latency"]
    # The truth's p95 is over completed hops; ours also ages the open ones (given apart as completed_p95).
    d.near("approval -> posted p95", latency["details"]["completed_p95"], lat["approval_to_posted_p95"], 0.01)
    if latency["value"] is not None and latency["value"] < (latency["details"]["completed_p95"] or 0.0):
        d.found.append("billing latency p95 below its completed hops' p95")
    d.near("invoice released -> posted p95", latency["details"]["invoice_released_to_posted_p95"],
           lat["invoice_released_to_posted_p95"], 0.01)  # fmt: skip

    d.near("rate-card exposure hours", got["rate_card_exposure"]["value"],
           truth["rate_card_exposure"]["planned_hours_14d_without_card"], 1.0)  # fmt: skip
    queues = got["dead_letter_backlog"]["details"]["queues"]
    for queue, q in truth["dead_letter_backlog"].items():
        ours_q = queues.get(queue, {"count": 0, "oldest_hours": None})
        d.equal(f"dead letters {queue}", ours_q["count"], q["count"])
        d.near(f"dead letters {queue} oldest hours", ours_q["oldest_hours"], q["oldest_hours"], 0.01)
    # The truth records the time of the last event *emitted* per flow; a posting outcome is emitted up to 20 s
    # ahead of the sim clock, so the truth can trail the latest event time (ours: the max) by up to that much.
    flows = got["flow_silence"]["details"]["flows"]
    for flow, f in truth["flow_silence"].items():
        ours_f = flows.get(flow, {"silent": None, "seconds_since_last": None})
        d.equal(f"flow {flow} silent", ours_f["silent"], f["silent"])
        d.near(f"flow {flow} seconds since last", ours_f["seconds_since_last"], f["seconds_since_last"], 30.0)
    return d.found
