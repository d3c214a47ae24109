"""Per-system API budgets: calls per rolling hour, a concurrency cap and a request rate, all kept below the real
systems' limits (domain.md section 7) so the monitor never eats a firm's Salesforce or NetSuite allocation.

Shared by every probe that calls the system, in every scheduler thread; enforcement is per call, and a probe's
declared cost is checked before it starts so a run that cannot finish does not begin.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from probes.errors import BudgetExhausted, DeadlineExceeded

__all__ = ["DEFAULT_BUDGETS", "BudgetLimits", "Deadline", "SystemBudget"]

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    calls_per_hour: int
    max_concurrency: int
    max_rate_per_second: float


# Defaults per system role, chosen under the real limits: NetSuite accounts start at 5 concurrent requests shared
# with every integration (we take 2); Salesforce's smallest allocation is ~100k calls a day (200/h is under 5% of
# it) with 25 concurrent long requests; Workday and Kantata throttle around 10 requests a second (we pace at 4).
DEFAULT_BUDGETS: dict[str, BudgetLimits] = {
    "erp": BudgetLimits(calls_per_hour=600, max_concurrency=2, max_rate_per_second=4.0),
    "crm": BudgetLimits(calls_per_hour=200, max_concurrency=3, max_rate_per_second=4.0),
    "hcm": BudgetLimits(calls_per_hour=600, max_concurrency=2, max_rate_per_second=4.0),
    "psa": BudgetLimits(calls_per_hour=1200, max_concurrency=2, max_rate_per_second=4.0),
    "middleware": BudgetLimits(calls_per_hour=600, max_concurrency=2, max_rate_per_second=5.0),
}
FALLBACK_BUDGET = BudgetLimits(calls_per_hour=300, max_concurrency=1, max_rate_per_second=2.0)


class Deadline:
    """A probe's time limit, checked before every call and used to cap each request's own timeout."""

    def __init__(
        self, seconds: float, clock: Callable[[], float] = time.monotonic, cancelled: Callable[[], bool] | None = None
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds
        self._cancelled = cancelled  # the host is shutting down: stop at the next call instead of running on

    def remaining(self) -> float:
        return self._end - self._clock()

    def check(self, what: str = "") -> float:
        if self._cancelled is not None and self._cancelled():
            raise DeadlineExceeded("stopped: the process is shutting down" + (f" ({what})" if what else ""))
        left = self.remaining()
        if left <= 0:
            raise DeadlineExceeded(f"timed out after {self.seconds:g} s" + (f" ({what})" if what else ""))
        return left


class SystemBudget:
    def __init__(
        self,
        system: str,
        limits: BudgetLimits,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.system = system
        self.limits = limits
        self._wall, self._monotonic, self._sleep = wall, monotonic, sleep
        self._calls: deque[float] = deque()  # wall times of calls in the last hour
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(limits.max_concurrency)
        self._next_start = 0.0  # monotonic time the next call may start (rate pacing)
        self.total_calls = 0  # since start, for the Prometheus counter
        self.refused_calls = 0

    def seed(self, call_times: Iterable[float]) -> None:
        """Calls made before a restart (read back from the monitor's own spans) still count for the hour."""
        with self._lock:
            cutoff = self._wall() - HOUR
            merged = sorted([*self._calls, *(t for t in call_times if t > cutoff)])
            self._calls = deque(merged)

    def used_last_hour(self) -> int:
        with self._lock:
            self._expire()
            return len(self._calls)

    def remaining(self) -> int:
        return max(0, self.limits.calls_per_hour - self.used_last_hour())

    def can_afford(self, calls: int) -> bool:
        return self.remaining() >= calls

    def _expire(self) -> None:
        cutoff = self._wall() - HOUR
        while self._calls and self._calls[0] <= cutoff:
            self._calls.popleft()

    @contextmanager
    def slot(self, deadline: Deadline) -> Iterator[None]:
        """Hold one of the system's concurrent slots for one call, paced to the rate, counted in the hour."""
        if not self._slots.acquire(timeout=max(0.0, deadline.check(f"waiting for a {self.system} slot"))):
            deadline.check(f"waiting for a {self.system} slot")
            raise DeadlineExceeded(f"no {self.system} slot free before the deadline")
        try:
            self._take_call(deadline)
            yield
        finally:
            self._slots.release()

    def _take_call(self, deadline: Deadline) -> None:
        with self._lock:
            self._expire()
            if len(self._calls) >= self.limits.calls_per_hour:
                self.refused_calls += 1
                retry_in = self._calls[0] + HOUR - self._wall()
                raise BudgetExhausted(
                    f"budget of {self.limits.calls_per_hour} calls an hour is spent; next call allowed in "
                    f"{retry_in:.0f} s",
                    system=self.system,
                )
            now = self._monotonic()
            start = max(now, self._next_start)
            self._next_start = start + 1.0 / self.limits.max_rate_per_second
            self._calls.append(self._wall())
            self.total_calls += 1
        wait = start - now
        if wait > 0:
            if wait >= deadline.remaining():
                raise DeadlineExceeded(f"pacing {self.system} calls would pass the deadline")
            self._sleep(wait)
