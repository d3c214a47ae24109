"""Per-system limits as the real vendors apply them: a concurrency cap (NetSuite), a request rate (Workday,
Kantata), and a rolling daily allocation (Salesforce). Each refusal carries Retry-After."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from fastapi import HTTPException

__all__ = ["DailyAllocation", "Limits", "RateLimit", "SystemLimits"]


class ConcurrencyCap:
    def __init__(self, limit: int, error: dict[str, object]) -> None:
        self.limit = limit
        self.error = error
        self._in_flight = 0
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self._in_flight >= self.limit:
                raise HTTPException(429, self.error, headers={"Retry-After": "1"})
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1


class RateLimit:
    """Token bucket: `rate` requests a second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int, error: dict[str, object]) -> None:
        self.rate, self.burst, self.error = rate, burst, error
        self._tokens = float(burst)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1:
                wait = max(1, round((1 - self._tokens) / self.rate + 0.5))
                raise HTTPException(429, self.error, headers={"Retry-After": str(wait)})
            self._tokens -= 1


@dataclass
class DailyAllocation:
    """Salesforce-style rolling 24 h API allocation, reported in Sforce-Limit-Info."""

    limit: int
    _calls: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def use(self) -> str:
        with self._lock:
            now = time.time()
            cutoff = now - 86400
            while self._calls and self._calls[0] < cutoff:
                self._calls.pop(0)
            if len(self._calls) >= self.limit:
                raise HTTPException(
                    403,
                    [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                    headers={"Sforce-Limit-Info": f"api-usage={len(self._calls)}/{self.limit}"},
                )
            self._calls.append(now)
            return f"api-usage={len(self._calls)}/{self.limit}"


@dataclass
class SystemLimits:
    netsuite_concurrency: int = 5
    salesforce_daily: int = 100_000
    salesforce_concurrency: int = 25
    soql_batch: int = 2000
    workday_rate: float = 10.0
    workday_burst: int = 20
    kantata_rate: float = 10.0
    kantata_burst: int = 20
    dlq_rate: float = 20.0
    # replays a person asks for: each re-runs a message through the target system, so far fewer than reads
    replay_rate: float = 1.0
    replay_burst: int = 5
    latency_s: float = 0.0  # extra service time per request, so concurrency caps can be exercised


class Limits:
    def __init__(self, cfg: SystemLimits) -> None:
        self.cfg = cfg
        self.netsuite = ConcurrencyCap(
            cfg.netsuite_concurrency,
            {
                "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.29",
                "title": "Too Many Requests",
                "status": 429,
                "o:errorCode": "SSS_REQUEST_LIMIT_EXCEEDED",
                "o:errorDetails": [
                    {
                        "detail": "Concurrent request limit exceeded. Request blocked.",
                        "o:errorCode": "SSS_REQUEST_LIMIT_EXCEEDED",
                    }
                ],
            },
        )
        self.salesforce = ConcurrencyCap(
            cfg.salesforce_concurrency,
            {"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "ConcurrentRequests"},
        )
        self.salesforce_daily = DailyAllocation(cfg.salesforce_daily)
        self.workday = RateLimit(cfg.workday_rate, cfg.workday_burst, {"error": "Too Many Requests"})
        self.kantata = RateLimit(
            cfg.kantata_rate,
            cfg.kantata_burst,
            {"errors": [{"type": "rate_limit", "message": "Rate limit exceeded"}]},
        )
        self.dlq = RateLimit(cfg.dlq_rate, int(cfg.dlq_rate * 2), {"error": "rate limited"})
        self.replay = RateLimit(cfg.replay_rate, cfg.replay_burst, {"error": "replay rate limited"})
