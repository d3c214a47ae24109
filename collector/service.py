"""The collector's moving parts in one place: warehouse clients, writers, de-duplication, auth, metrics.

Created by create_app's lifespan; routes reach it through `request.app.state.service`.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import orjson
from clickhouse_connect.driver.client import Client
from prometheus_client import CollectorRegistry

from collector.auth import Authenticator, RateLimiter, TokenCache
from collector.dedup import DedupIndex
from collector.events import EventRules
from collector.parsing import exit_with_parent
from collector.rejections import Rejection, refused_by_warehouse
from collector.spool import Spool
from collector.telemetry import CollectorMetrics
from collector.writer import TableWriter
from syncwatch.host import Component
from syncwatch.lease import FencedScheduler, Lease
from syncwatch.roles import Role, runs_ingest, runs_stages
from syncwatch.settings import Settings
from syncwatch.tokens import list_tokens
from syncwatch.warehouse import apply_migrations, connect

__all__ = ["Service"]

log = logging.getLogger("syncwatch.collector")
T = TypeVar("T")


class Service:
    """The stages' `Host` (syncwatch/host.py), and ingest when the role has it (syncwatch/roles.py)."""

    def __init__(self, settings: Settings, registry: CollectorRegistry | None = None, role: Role = "all"):
        self.settings = settings
        self.role = role
        self.registry = registry or CollectorRegistry()
        self.metrics = CollectorMetrics(self.registry)
        self.rules = EventRules(
            settings.type_aliases,
            settings.max_future_skew_seconds,
            settings.accepted_age_days,
            settings.max_json_depth,
            settings.source_systems,
        )
        self.tokens = TokenCache()
        self.local_admin_secret = secrets.token_urlsafe(32)
        self.auth = Authenticator(
            self.tokens,
            RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
            self.local_admin_secret,
            unauthenticated=RateLimiter(settings.unauthenticated_per_second, settings.unauthenticated_burst),
        )
        self.event_dedup = DedupIndex(settings.dedup_cache_keys)
        self.span_dedup = DedupIndex(settings.dedup_cache_keys)
        self.spool = Spool(settings.spool_dir)
        self.metrics.spool_oldest_age.set_function(self.spool.oldest_age_seconds)
        self.reader: Client | None = None
        self.migrations_applied = False
        self.writers: dict[str, TableWriter] = {}
        # With a server warehouse several processes may run the stages: one lease says which one acts. Embedded,
        # this process owns the warehouse and is the only one.
        self.lease: Lease | None = (
            Lease(
                self.connect, seconds=settings.worker_lease_seconds, renew_seconds=settings.worker_lease_renew_seconds
            )
            if runs_stages(role) and not settings.embedded
            else None
        )
        # Scheduled work of the stages living in this process (syncwatch/roles.py). Threads, not the event loop:
        # warehouse queries block, and chDB releases the GIL while it works.
        self.scheduler = FencedScheduler(
            self.lease,
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )
        self.components: list[Component] = []
        self._signal_listeners: list[Callable[[], None]] = []
        self._refresh_task: asyncio.Task[None] | None = None
        # spawn, not fork: the server process runs chDB's threads, which a fork would copy half-alive
        self._pool = (
            ProcessPoolExecutor(
                settings.parse_workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=exit_with_parent,
                initargs=(os.getpid(),),
            )
            if settings.parse_workers
            else None
        )

    async def parse(self, size: int, fn: Callable[..., T], *args: Any) -> T:
        """Run a parsing function in the worker pool for large bodies, inline for small ones (IPC costs more)."""
        if self._pool is None or size < self.settings.parse_inline_below_bytes:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # -- lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        settings = self.settings
        self.reader = await asyncio.to_thread(connect, settings)
        applied = await asyncio.to_thread(apply_migrations, self.reader, settings.retention_days)
        if applied:
            log.info("applied migrations %s", ", ".join(f"{m.version:04d}_{m.name}" for m in applied))
        self.migrations_applied = True
        await self.refresh_tokens()
        if runs_ingest(self.role):
            await asyncio.to_thread(self._warm_dedup)
            self._start_writers()
        self._refresh_task = asyncio.create_task(self._refresh_tokens_loop())
        for component in self.components:
            component.start(self)
        # An ingest-only process schedules nothing: the stages' jobs stay paused (their read routes still serve).
        self.scheduler.start(paused=not runs_stages(self.role))
        if self.lease is not None:
            self.lease.start()
        if self.role != "worker":  # the CLI's token commands need the admin API, which a worker does not serve
            self._write_local_admin_file()

    def _start_writers(self) -> None:
        settings = self.settings
        delay = settings.batch_max_delay_ms / 1000
        for table in ("events", "otel_traces", "quarantine"):
            writer = TableWriter(
                table,
                lambda: connect(settings, create_database=False),
                self.spool,
                self.metrics,
                max_rows=settings.batch_max_rows,
                max_delay_s=delay,
                queue_max_rows=settings.queue_max_rows,
                quarantine_rows=None if table == "quarantine" else self.refused_rows,
                fsync=settings.fsync_inserts,
            )
            writer.start()
            self.writers[table] = writer

    async def stop(self) -> None:
        if self._refresh_task:
            self._refresh_task.cancel()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self.lease is not None:
            await asyncio.to_thread(self.lease.stop)
        for component in self.components:
            component.stop()
        for writer in self.writers.values():
            await writer.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self.role != "worker":
            self.settings.local_admin_file.unlink(missing_ok=True)

    def on_new_signals(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever a stage has stored new signals (alert evaluation, so it need not wait)."""
        self._signal_listeners.append(listener)

    def new_signals(self) -> None:
        """A stage stored new signals (an SLI snapshot, a probe run): their readers act now, not at their next
        interval. The snapshot and the probes already wait out their own cadence; the alert evaluation's 15 s on
        top was up to a quarter of a detection's minute."""
        for listener in self._signal_listeners:
            try:
                listener()
            except Exception:  # a listener's failure must not fail the stage that stored the signals
                log.exception("a new-signals listener failed")

    def connect(self) -> Client:
        """A warehouse client of its own for a scheduled job or a read endpoint (queries on one client serialise)."""
        return connect(self.settings, create_database=False)

    # -- tokens ---------------------------------------------------------------------------------------------
    async def refresh_tokens(self) -> None:
        assert self.reader is not None
        self.tokens.replace(await asyncio.to_thread(list_tokens, self.reader))

    async def _refresh_tokens_loop(self) -> None:
        # Other collector replicas (server mode) may create or revoke tokens; pick that up within 30 s.
        while True:
            await asyncio.sleep(30)
            try:
                await self.refresh_tokens()
            except Exception as exc:
                log.warning("token refresh failed: %s", exc)

    def _write_local_admin_file(self) -> None:
        """Lets `syncwatch token ...` reach this server while it holds the embedded warehouse (mode 0600)."""
        path = self.settings.local_admin_file
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "url": f"http://{self.settings.host}:{self.settings.port}",
            "pid": os.getpid(),
            "admin_token": self.local_admin_secret,
        }
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(orjson.dumps(payload))
        os.replace(path.with_suffix(".tmp"), path)

    # -- de-duplication warm-up -------------------------------------------------------------------------------
    def _warm_dedup(self) -> None:
        assert self.reader is not None
        limit = self.settings.dedup_cache_keys
        if not limit:
            return
        events = self.reader.query(
            "SELECT source, id FROM events WHERE received_at >= now() - INTERVAL 2 DAY "
            "ORDER BY received_at DESC LIMIT {limit:UInt64}",
            parameters={"limit": limit},
        ).result_rows
        self.event_dedup.warm(hash((s, i)) for s, i in reversed(events))
        spans = self.reader.query(
            "SELECT TraceId, SpanId FROM otel_traces WHERE Timestamp >= now() - INTERVAL 2 DAY "
            "ORDER BY Timestamp DESC LIMIT {limit:UInt64}",
            parameters={"limit": limit},
        ).result_rows
        self.span_dedup.warm(hash((t, s)) for t, s in reversed(spans))
        log.info("de-duplication index warmed with %d events and %d spans", len(events), len(spans))

    # -- quarantine -----------------------------------------------------------------------------------------
    def quarantine_rows(self, signal: str, token: str, items: list[tuple[Rejection, bytes]]) -> list[bytes]:
        """JSON rows for the quarantine table: each rejection with its raw payload, capped in size."""
        cap = self.settings.quarantine_payload_bytes
        now_ns = time.time_ns()
        received_at = f"{now_ns // 1_000_000_000}.{now_ns // 1_000_000 % 1000:03d}"
        rows = []
        for rejection, raw in items:
            head = _head(raw)
            rows.append(
                orjson.dumps(
                    {
                        "received_at": received_at,
                        "signal": signal,
                        "token_name": token,
                        "reason": rejection.reason,
                        "field": rejection.field,
                        "detail": rejection.detail,
                        "source": _attr(head, "source"),
                        "id": _attr(head, "id") or _attr(head, "spanId") or _attr(head, "SpanId"),
                        "payload": raw[:cap].decode("utf-8", "replace"),
                        "payload_truncated": len(raw) > cap,
                    }
                )
            )
        return rows

    def refused_rows(self, table: str, refused: list[tuple[bytes, str]]) -> list[bytes]:
        """Quarantine rows for rows the warehouse refused (TableWriter isolates them): the stored row as payload,
        the engine's message as detail, the column it names (when it names one) as field."""
        signal = "event" if table == "events" else "span"
        rows: list[bytes] = []
        for row, message in refused:
            head = _head(row)
            rows += self.quarantine_rows(signal, _attr(head, "token_name"), [(refused_by_warehouse(message), row)])
        return rows


def _head(raw: bytes) -> Any:
    """The rejected item as JSON when it is small enough to be worth reading its source and id from."""
    if len(raw) > 65536 or not raw.startswith(b"{"):
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _attr(payload: Any, name: str) -> str:
    value = payload.get(name) if isinstance(payload, dict) else None
    return value if isinstance(value, str) else ""
