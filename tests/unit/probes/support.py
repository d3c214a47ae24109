"""Clients over httpx.MockTransport with a fake clock and sleep, so retries and budgets run in no time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from probes.auth import Auth
from probes.budget import BudgetLimits, Deadline, SystemBudget
from probes.transport import CallScope, RetryPolicy, SystemClient

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeTime:
    now: float = 1_000_000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(
    handler: Handler,
    *,
    auth: Auth | None = None,
    limits: BudgetLimits | None = None,
    fake: FakeTime | None = None,
    retries: int = 3,
    system: str = "erp",
) -> tuple[SystemClient, FakeTime]:
    fake = fake or FakeTime()
    budget = SystemBudget(
        system,
        limits or BudgetLimits(calls_per_hour=10_000, max_concurrency=4, max_rate_per_second=1e9),
        wall=fake.clock,
        monotonic=fake.clock,
        sleep=fake.sleep,
    )
    http = httpx.Client(base_url="https://target.example", transport=httpx.MockTransport(handler))
    client = SystemClient(system, http, budget, auth, retry=RetryPolicy(max_retries=retries), sleep=fake.sleep, seed=1)
    return client, fake


def scope(fake: FakeTime, seconds: float = 60.0) -> CallScope:
    return CallScope(Deadline(seconds, clock=fake.clock))
