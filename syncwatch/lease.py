"""The worker lease: exactly one process runs the scheduled stages at a time, with a fencing token.

Kept in the warehouse (`worker_lease`, migration 0020). ClickHouse has no compare-and-swap, so a claim is a new row
with the next token; the current lease is the largest token, won by the holder of that token's earliest row, and it
lasts until that holder's latest `expires_at`, set from the server's clock (now64 + SYNCWATCH_WORKER_LEASE_SECONDS).
A standby claims the next token once the server says the lease expired: within lease + renew seconds of the active
worker's death.

The holder trusts its lease for less time than the takers wait: SYNCWATCH_WORKER_LEASE_SECONDS / 2 after it sent the
renewal that the warehouse then confirmed, counted on its own monotonic clock (immune to wall-clock skew). A
renewal whose confirmation took longer than the other half is not trusted. So a holder that was paused,
partitioned or slow stops acting before anyone else can start. Every scheduled job checks the lease when it starts
(`FencedScheduler`) and is logged with the token in `worker_jobs`; a notification is claimed first in
`notification_claims` (`Lease.claim`), the first claim of a key winning, so an overlap never pages twice.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from clickhouse_connect.driver.client import Client

__all__ = ["FencedScheduler", "Lease"]

log = logging.getLogger("syncwatch.lease")

_CURRENT = """
WITH (SELECT max(token) FROM worker_lease WHERE name = {name:String}) AS current_token,
     (SELECT argMin(holder, claimed_at) FROM worker_lease
      WHERE name = {name:String} AND token = current_token) AS winner
SELECT current_token, winner, toFloat64(argMaxIf(expires_at, claimed_at, holder = winner)), toFloat64(now64(3))
FROM worker_lease WHERE name = {name:String} AND token = current_token
"""
_CLAIM = """
INSERT INTO worker_lease (name, token, holder, claimed_at, expires_at)
SELECT {name:String}, {token:UInt64}, {holder:String}, now64(6), now64(3) + toIntervalMillisecond({ttl_ms:UInt64})
"""
_JOBS = "INSERT INTO worker_jobs (started_at, job, token, holder) VALUES"


class Lease:
    """This process's view of the worker lease; `run()` in a thread keeps it (claims, renews, logs jobs)."""

    def __init__(
        self,
        connect: Callable[[], Client],
        *,
        seconds: float = 30.0,
        renew_seconds: float = 5.0,
        name: str = "worker",
    ) -> None:
        self.name = name
        self.seconds = seconds
        self.renew_seconds = renew_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.token: int | None = None
        self._connect = connect
        self._client: Client | None = None
        self._valid_until = 0.0  # monotonic
        self._lock = threading.Lock()
        self._jobs: list[tuple[float, str, int]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._acquired: list[Callable[[int], None]] = []

    # -- the holder's view --------------------------------------------------------------------------------------
    def held(self) -> bool:
        """Whether this process may act now; False as soon as its own, shorter, view of the lease has lapsed."""
        return self.token is not None and time.monotonic() < self._valid_until

    @property
    def trust_seconds(self) -> float:
        return self.seconds / 2

    def on_acquire(self, listener: Callable[[int], None]) -> None:
        """Call `listener(token)` each time this process starts acting: what it remembers in memory may be stale
        (another worker acted meanwhile), so a stage reloads its state from the warehouse there."""
        self._acquired.append(listener)

    # -- keeping it ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="worker-lease", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        try:
            self._flush_jobs()
            if self.held():
                self._release()
        except Exception as exc:  # the warehouse is away: the lease expires on its own
            log.warning("could not release the worker lease: %s", _first_line(exc))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.keep()
            except Exception as exc:
                self._client = None
                log.warning("worker lease check failed: %s", _first_line(exc))
            self._stop.wait(self.renew_seconds)

    def keep(self) -> bool:
        """One round: renew the lease held, or claim it when it expired; returns whether it is held after."""
        before = self.token
        try:
            try:
                self._flush_jobs()
            except Exception as exc:  # kept for the next round; the lease itself must not wait for the log
                log.warning("could not log the worker's jobs: %s", _first_line(exc))
            self._round()
        finally:
            if self.token is not None and self.token != before:
                log.info("acting as the worker with fencing token %d", self.token)
                for listener in self._acquired:
                    try:
                        listener(self.token)
                    except Exception:  # one stage's reload must not keep the others from theirs
                        log.exception("a stage failed to resume on taking the worker lease")
        return self.token is not None

    def _round(self) -> None:
        started = time.monotonic()
        client = self._warehouse()
        token, winner, expires, now = self._current(client)
        if self.token is not None and not (
            self.held() and token == self.token and winner == self.holder and expires > now
        ):
            # Never renew a lease the warehouse may already have let a standby take: claim a new token instead.
            self._drop("lost" if token != self.token else "lapsed")
        if self.token is None and token and expires > now:
            return  # another worker holds it (or our own lapsed one, which nobody may renew)
        claim = self.token if self.token is not None else token + 1
        client.command(
            _CLAIM,
            parameters={"name": self.name, "token": claim, "holder": self.holder, "ttl_ms": int(self.seconds * 1000)},
        )
        token, winner, expires, now = self._current(client)
        confirmed = time.monotonic()
        if token == claim and winner == self.holder and expires > now and confirmed - started < self.trust_seconds:
            self.token = claim
            self._valid_until = started + self.trust_seconds
        elif self.token is not None:
            self._drop("not confirmed in time")

    def _current(self, client: Client) -> tuple[int, str, float, float]:
        row = client.query(_CURRENT, parameters={"name": self.name}).result_rows[0]
        return int(row[0] or 0), str(row[1] or ""), float(row[2] or 0.0), float(row[3])

    def _drop(self, why: str) -> None:
        log.warning("worker lease with fencing token %s %s: standing by", self.token, why)
        self.token = None
        self._valid_until = 0.0

    def _release(self) -> None:
        """On a clean stop: expire our lease now, so a standby need not wait for it."""
        assert self.token is not None
        parameters = {"name": self.name, "token": self.token, "holder": self.holder, "ttl_ms": 0}
        self.token = None
        self._warehouse().command(_CLAIM, parameters=parameters)

    def _warehouse(self) -> Client:
        if self._client is None:
            self._client = self._connect()
        return self._client

    # -- fencing ------------------------------------------------------------------------------------------------
    def guard(self, job: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn` as a scheduled job: it runs only while the lease is held, and its run is logged with the token."""

        @functools.wraps(fn)
        def fenced(*args: Any, **kwargs: Any) -> Any:
            token = self.token
            if token is None or not self.held():
                return None
            with self._lock:
                self._jobs.append((time.time(), job, token))
            return fn(*args, **kwargs)

        return fenced

    def _flush_jobs(self) -> None:
        with self._lock:
            jobs, self._jobs = self._jobs, []
        if jobs:
            rows = [(datetime.fromtimestamp(at, UTC), job, token, self.holder) for at, job, token in jobs]
            try:
                self._warehouse().insert("worker_jobs", rows, column_names=["started_at", "job", "token", "holder"])
            except Exception:
                with self._lock:
                    self._jobs = jobs + self._jobs
                raise

    def claim(self, key: str) -> bool:
        """Whether this worker may send the notification `key` (alert, fingerprint and state): only while the
        lease is held, and only if no other claim of the key came first (then someone already sent it)."""
        token = self.token
        if token is None or not self.held():
            return False
        client = self._connect()
        try:
            client.command(
                "INSERT INTO notification_claims (key, token, holder, claimed_at) "
                "SELECT {key:String}, {token:UInt64}, {holder:String}, now64(6)",
                parameters={"key": key, "token": token, "holder": self.holder},
            )
            first = client.query(
                "SELECT argMin((token, holder), claimed_at) FROM notification_claims WHERE key = {key:String}",
                parameters={"key": key},
            ).result_rows[0][0]
        finally:
            client.close()
        return tuple(first) == (token, self.holder) and self.held()


class FencedScheduler(BackgroundScheduler):  # type: ignore[misc]  # apscheduler 3 is untyped
    """APScheduler whose every job runs only while `lease` is held (no lease: every job runs)."""

    def __init__(self, lease: Lease | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.lease = lease

    def add_job(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        if self.lease is not None and callable(func):
            func = self.lease.guard(str(kwargs.get("id") or getattr(func, "__name__", "job")), func)
        return super().add_job(func, *args, **kwargs)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
