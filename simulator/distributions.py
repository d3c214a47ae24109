"""The stated distributions of domain.md sections 5 and 6, as samplers over a seeded random.Random.

Shares and parameters are module constants so tests can hold the output against the same numbers.
"""

from __future__ import annotations

import math
import random

from simulator.calendar import DAY, HOUR, add_business_days, weekday

__all__ = [
    "APPROVAL_DELAY_MAX_DAYS",
    "APPROVAL_DELAY_MEDIAN_DAYS",
    "APPROVAL_DELAY_P90_DAYS",
    "FAILURE_CAUSES",
    "FAILURE_MIX_MONTH_START",
    "FAILURE_MIX_REGULAR",
    "FIRST_PASS_FAILURE_MONTH_START",
    "FIRST_PASS_FAILURE_REGULAR",
    "SUBMISSION_SHARES",
    "approval_delay_days",
    "failure_cause",
    "first_pass_failure_probability",
    "lognormal_from_median_p90",
    "submission_time",
    "weighted_choice",
]

# Where a weekly timesheet is submitted, relative to the Monday 00:00 that starts its week.
# (label, share, day offset range, hour range, late?) -- Friday 40%, next Monday morning 35%,
# Tuesday-Thursday 20% (12 points early in the week itself, 8 points late in the next week), weekend 5%.
SUBMISSION_SHARES: tuple[tuple[str, float, tuple[int, int], tuple[float, float], bool], ...] = (
    ("friday", 0.40, (4, 4), (12.0, 20.0), False),
    ("weekend", 0.05, (5, 6), (9.0, 22.0), False),
    ("monday", 0.35, (7, 7), (7.0, 12.0), False),
    ("tue_thu_early", 0.12, (1, 3), (14.0, 19.0), False),
    ("tue_thu_late", 0.08, (8, 10), (9.0, 18.0), True),
)

APPROVAL_DELAY_MEDIAN_DAYS = 1.0
APPROVAL_DELAY_P90_DAYS = 4.0
APPROVAL_DELAY_MAX_DAYS = 14.0
_Z90 = 1.2815515655446004

# Failure causes of time posting (domain.md section 5): (code, category, retryable).
FAILURE_CAUSES: dict[str, tuple[str, bool]] = {
    "invalid_project": ("INVALID_PROJECT_OR_ASSIGNMENT", False),
    "closed_period": ("PERIOD_CLOSED", False),
    "rate_card": ("RATE_CARD_MISSING_OR_EXPIRED", False),
    "missing_worktag": ("MISSING_COST_CENTER", False),
    "duplicate": ("DUPLICATE_RECORD", False),
    "throttling": ("SSS_REQUEST_LIMIT_EXCEEDED", True),
}
# Days 6..end of a month: no closed-period failures.
FAILURE_MIX_REGULAR: dict[str, float] = {
    "invalid_project": 0.42,
    "rate_card": 0.15,
    "missing_worktag": 0.18,
    "duplicate": 0.09,
    "throttling": 0.16,
}
# Days 1-5: the previous period is closing, so closed-period failures dominate; the rest keep their ratios.
_CLOSED_SHARE_MONTH_START = 0.45
FAILURE_MIX_MONTH_START: dict[str, float] = {
    "closed_period": _CLOSED_SHARE_MONTH_START,
    **{k: v * (1 - _CLOSED_SHARE_MONTH_START) for k, v in FAILURE_MIX_REGULAR.items()},
}
FIRST_PASS_FAILURE_REGULAR = 0.015
FIRST_PASS_FAILURE_MONTH_START = 0.06


def weighted_choice(rng: random.Random, weights: dict[str, float]) -> str:
    x = rng.random() * sum(weights.values())
    for key, weight in weights.items():
        x -= weight
        if x < 0:
            return key
    return key


def lognormal_from_median_p90(rng: random.Random, median: float, p90: float) -> float:
    sigma = math.log(p90 / median) / _Z90
    return median * math.exp(rng.gauss(0.0, sigma))


def approval_delay_days(rng: random.Random) -> float:
    """Business days from submission to approval: lognormal, median 1, p90 4, tail cut at 14."""
    days = lognormal_from_median_p90(rng, APPROVAL_DELAY_MEDIAN_DAYS, APPROVAL_DELAY_P90_DAYS)
    return min(APPROVAL_DELAY_MAX_DAYS, days)


def submission_time(rng: random.Random, week_start: float) -> tuple[float, bool]:
    """When a timesheet for the week starting at week_start (a Monday 00:00) is submitted, and whether late."""
    x = rng.random()
    chosen = SUBMISSION_SHARES[-1]
    for row in SUBMISSION_SHARES:
        x -= row[1]
        if x < 0:
            chosen = row
            break
    _label, _share, (d0, d1), (h0, h1), late = chosen
    day = rng.randint(d0, d1)
    return week_start + day * DAY + rng.uniform(h0, h1) * HOUR, late


def is_month_start(day_of_month: int) -> bool:
    return day_of_month <= 5


def first_pass_failure_probability(day_of_month: int) -> float:
    return FIRST_PASS_FAILURE_MONTH_START if is_month_start(day_of_month) else FIRST_PASS_FAILURE_REGULAR


def failure_cause(rng: random.Random, day_of_month: int) -> str:
    return weighted_choice(rng, FAILURE_MIX_MONTH_START if is_month_start(day_of_month) else FAILURE_MIX_REGULAR)


def business_hours_later(rng: random.Random, t: float, median_hours: float, p90_hours: float) -> float:
    """A delay counted in business time (8 working hours make a business day)."""
    hours = lognormal_from_median_p90(rng, median_hours, p90_hours)
    t2 = add_business_days(t, hours / 8.0)
    return t2 if weekday(t2) < 5 else t2 + 2 * DAY
