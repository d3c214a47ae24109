"""The stream follows domain.md sections 5 and 6 within stated tolerances."""

from __future__ import annotations

import statistics
from collections import Counter

from simulator.calendar import business_days_between, weekday
from simulator.distributions import FAILURE_CAUSES
from simulator.truth import percentile


def test_lines_per_consultant_week(firm_500) -> None:
    sim, _ = firm_500
    weekly = Counter()
    for e in sim.firm.entries.values():
        if not e.supersedes:
            weekly[(e.consultant_id, int((e.work_date - sim.start) // (7 * 86400)))] += 1
    mean = statistics.mean(weekly.values())
    assert 7.2 <= mean <= 8.8, mean


def test_submission_weekday_shares(firm_500) -> None:
    sim, _ = firm_500
    days = Counter()
    late = 0
    regular = [ts for ts in sim.firm.timesheets.values() if ts.regular and ts.first_submitted_at is not None]
    for ts in regular:
        days[weekday(ts.first_submitted_at)] += 1
        late += ts.late
    n = len(regular)
    assert n > 4000
    share = {k: v / n for k, v in days.items()}
    assert abs(share.get(4, 0) - 0.40) < 0.03
    assert abs(share.get(0, 0) - 0.35) < 0.03
    assert abs(sum(share.get(d, 0) for d in (1, 2, 3)) - 0.20) < 0.03
    assert abs(share.get(5, 0) + share.get(6, 0) - 0.05) < 0.02
    assert 0.05 <= late / n <= 0.10


def test_approval_delay_lognormal(firm_500) -> None:
    sim, _ = firm_500
    delays = [
        business_days_between(ts.submitted_at, ts.approved_at)
        for ts in sim.firm.timesheets.values()
        if ts.approved_at is not None and ts.rejections == 0
    ]
    assert len(delays) > 3000
    assert 0.85 <= statistics.median(delays) <= 1.15
    assert 3.0 <= percentile(delays, 90) <= 5.0
    assert max(delays) <= 14.0 + 1e-6


def test_rejection_share(firm_500) -> None:
    _, sink = firm_500
    types = Counter(e["type"].split(".")[-2] for e in sink.events if "timesheet" in e["type"])
    share = types["rejected"] / (types["approved"] + types["rejected"])
    assert 0.02 <= share <= 0.05, share


def test_failure_cause_mix_and_first_pass(firm_500) -> None:
    _, sink = firm_500
    firsts = [e for e in sink.events if e["type"] == "time_entry.post_requested" and e["data"]["attempt"] == 1]
    failed_first = [e for e in sink.events if e["type"] == "time_entry.post_failed" and e["data"]["attempt"] == 1]
    rate = len(failed_first) / len(firsts)
    assert 0.01 <= rate <= 0.035, rate
    category = {v[0]: k for k, v in FAILURE_CAUSES.items()}
    mix = Counter(category.get(e["data"]["error_category"], "other") for e in failed_first)
    n = sum(mix.values())
    ranges = {
        "invalid_project": (0.30, 0.42),
        "closed_period": (0.12, 0.25),
        "rate_card": (0.08, 0.16),
        "missing_worktag": (0.08, 0.20),
        "duplicate": (0.04, 0.11),
        "throttling": (0.08, 0.20),
    }
    for cause, (lo, hi) in ranges.items():
        assert lo <= mix[cause] / n <= hi, (cause, mix[cause] / n, mix)


def test_several_entities_and_currencies(firm_500) -> None:
    _, sink = firm_500
    currencies = {e["data"]["currency"] for e in sink.events if e["type"].endswith("time_entry.posted")}
    tenants = {e["tenantid"] for e in sink.events}
    assert {"USD", "GBP", "EUR"} <= currencies
    assert len(tenants) >= 5
