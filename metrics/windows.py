"""Time windows an SLI is computed over, and the business calendar in SQL.

Every computation takes explicit instants, so a number can be reproduced: `Window(start, end)` where `end` is also
the instant open work is aged against ("as of").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "BURN_WINDOWS",
    "Window",
    "business_seconds",
    "business_seconds_ms_sql",
    "business_seconds_sql",
]

# The burn-rate windows of the SRE workbook's multi-window alerts, shortest first.
BURN_WINDOWS: dict[str, timedelta] = {
    "5m": timedelta(minutes=5),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
}


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window instants must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"window end {self.end.isoformat()} is not after its start {self.start.isoformat()}")

    @classmethod
    def rolling(cls, length: timedelta, as_of: datetime | None = None) -> Window:
        end = as_of or datetime.now(UTC)
        return cls(end - length, end)

    @classmethod
    def calendar_month(cls, as_of: datetime | None = None) -> Window:
        end = as_of or datetime.now(UTC)
        start = end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return cls(start, end if end > start else start + timedelta(microseconds=1))

    def trailing(self, length: timedelta) -> Window:
        """The last `length` of this window, as of the same instant (burn-rate windows)."""
        return Window(max(self.start, self.end - length), self.end)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


# Business time: Saturdays and Sundays do not count (UTC days). f(t) = business seconds from the Monday before the
# epoch to t; 1970-01-01 was a Thursday, so day index d + 3 counts from a Monday.
#
# Each intermediate is written once and named (`(x AS name)`, later uses say `name`): written out in full, the
# formula repeats its argument five times (its inverse, an instant plus business time, 35 times), and the engine's
# query analysis, which is per node of the expression, then cost more than the query (95 ms of a 100 ms exception
# scan). `name` prefixes the intermediates: two uses in one SELECT need two names.
def business_seconds_sql(expr: str, name: str) -> str:
    """SQL for the business seconds elapsed between a fixed Monday and the DateTime64 `expr`."""
    t, day, shifted = f"{name}_t", f"{name}_d", f"{name}_s"
    t_def = f"(toUnixTimestamp64Milli({expr}) / 1000.0 AS {t})"
    day_def = f"(intDiv(toInt64(floor({t_def})), 86400) AS {day})"
    return (
        f"(intDiv(({day_def} + 3 AS {shifted}), 7) * 5 * 86400 + least({shifted} % 7, 5) * 86400"
        f" + if({shifted} % 7 < 5, {t} - {day} * 86400, 0))"
    )


def business_seconds_ms_sql(expr: str, name: str, plus: str = "") -> str:
    """business_seconds_sql of `expr` (plus `plus` business seconds) rounded to the millisecond: the SQL twin of
    business_seconds, for comparing business times with its bounds and with each other."""
    return f"round({business_seconds_sql(expr, name)}{f' + {plus}' if plus else ''}, 3)"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def business_seconds(moment: datetime) -> float:
    """business_seconds_sql of a bound instant rounded to the millisecond (business_seconds_ms_sql gives the same
    value to the bit), so a query compares business times with a parameter instead of turning each row's back into
    an instant. Rounded, two business times are equal exactly when they are to the millisecond, whatever sums
    produced them.

    A time given in business seconds x (a due time: an instant plus business time) is the latest instant with those
    business seconds, so never in a weekend but on its Monday 00:00, as the SQL has always placed it; it is at or
    after an instant F exactly when x >= business_seconds(F), and a resolution at r is by it exactly when
    business_seconds(r) <= x (to the millisecond: business time counts whole milliseconds)."""
    t = ((moment - _EPOCH) // timedelta(milliseconds=1)) / 1000.0  # toUnixTimestamp64Milli truncates to the ms
    day = math.floor(t) // 86400
    shifted = day + 3
    return round(
        shifted // 7 * 5 * 86400 + min(shifted % 7, 5) * 86400 + (t - day * 86400 if shifted % 7 < 5 else 0), 3
    )
