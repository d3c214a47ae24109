"""Batching writer: many small requests become few large inserts; a request is answered once its rows are durable.

    request --submit()--> queue (bounded: QueueFull -> 503) --flush (rows or time)--> INSERT
                                                                   | fails
                                                                   v
                                                       spool (fsync) --replay--> INSERT

Durable means inserted into the warehouse, or fsynced into the spool when the warehouse refused. While the
warehouse is down, flushes go straight to the spool and one replay loop probes it; the data is never held
only in memory after a request has been answered.

Errors:
    QueueFull     too many rows waiting; the request is refused with 503 and Retry-After, nothing is kept
    WriteFailed   neither the warehouse nor the spool took the batch; the request gets 503, nothing is kept
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clickhouse_connect.driver.client import Client

from collector.spool import Spool
from collector.telemetry import CollectorMetrics

__all__ = ["QueueFull", "TableWriter", "WriteFailed"]

log = logging.getLogger("syncwatch.collector.writer")


class QueueFull(RuntimeError):
    """The writer holds as many rows as it may; the client should retry later."""


class WriteFailed(RuntimeError):
    """Neither the warehouse nor the spool took a batch."""


@dataclass
class _Chunk:
    rows: list[bytes]
    future: asyncio.Future[None]


@dataclass
class _Batch:
    chunks: list[_Chunk] = field(default_factory=list)
    rows: int = 0


class TableWriter:
    def __init__(
        self,
        table: str,
        client_factory: Callable[[], Client],
        spool: Spool,
        metrics: CollectorMetrics,
        *,
        max_rows: int,
        max_delay_s: float,
        queue_max_rows: int,
        fsync: bool = False,
    ):
        self.table = table
        self._client_factory = client_factory
        self._client: Client | None = None
        self.spool = spool
        self.metrics = metrics
        self.max_rows = max_rows
        self.max_delay_s = max_delay_s
        self.queue_max_rows = queue_max_rows
        self._insert_settings: dict[str, Any] = {
            "deduplicate_blocks_in_dependent_materialized_views": 1,
            "input_format_json_read_objects_as_strings": 1,  # `data` arrives as an object, is stored as its text
            "date_time_input_format": "best_effort",  # RFC 3339 with any offset
        }
        if fsync:
            self._insert_settings["fsync_after_insert"] = 1
        self._queue = _Batch()
        self._in_flight_rows = 0
        self._wake = asyncio.Event()
        self._warehouse_down = False
        self._task: asyncio.Task[None] | None = None
        self._replay_task: asyncio.Task[None] | None = None
        self._closing = False

    # -- public ---------------------------------------------------------------------------------------------
    @property
    def backlog_rows(self) -> int:
        return self._queue.rows + self._in_flight_rows

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"writer-{self.table}")
        self._replay_task = asyncio.create_task(self._replay_loop(), name=f"replay-{self.table}")

    async def stop(self) -> None:
        """Flush what is queued, then stop; called on graceful shutdown."""
        self._closing = True
        self._wake.set()
        if self._task:
            await self._task
        if self._replay_task:
            self._replay_task.cancel()
            try:
                await self._replay_task
            except asyncio.CancelledError:
                pass

    def enqueue(self, rows: list[bytes]) -> asyncio.Future[None]:
        """Queue rows; the future resolves once they are durable. Raises QueueFull without queuing anything."""
        if rows and self.backlog_rows + len(rows) > self.queue_max_rows:
            raise QueueFull(f"{self.table}: {self.backlog_rows} rows waiting")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not rows:
            future.set_result(None)
            return future
        self._queue.chunks.append(_Chunk(rows, future))
        self._queue.rows += len(rows)
        self.metrics.queue_rows.labels(self.table).set(self.backlog_rows)
        if self._queue.rows >= self.max_rows:
            self._wake.set()
        return future

    # -- the flush loop -------------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.max_delay_s)
            except TimeoutError:
                pass
            self._wake.clear()
            if self._queue.rows:
                batch, self._queue = self._queue, _Batch()
                self._in_flight_rows += batch.rows
                try:
                    await self._flush(batch)
                finally:
                    self._in_flight_rows -= batch.rows
                    self.metrics.queue_rows.labels(self.table).set(self.backlog_rows)
            elif self._closing:
                return

    async def _flush(self, batch: _Batch) -> None:
        rows = _concat(batch.chunks)
        token = uuid.uuid4().hex
        error: BaseException | None = None
        if not self._warehouse_down:
            try:
                await asyncio.to_thread(self._insert, rows, token)
            except Exception as exc:  # any failure: the batch goes to the spool below
                error = exc
                self._warehouse_down = True
                self.metrics.warehouse_up.set(0)
                self.metrics.insert_failures.labels(self.table).inc()
                log.warning("insert into %s failed, spooling: %s", self.table, _first_line(exc))
        if self._warehouse_down:
            try:
                await asyncio.to_thread(self.spool.write, self.table, token, rows)
                self.metrics.spool_writes.labels(self.table).inc()
                self.metrics.spooled_batches.set(len(self.spool.pending()))
            except Exception as exc:
                log.error("spool write for %s failed; refusing %d rows: %s", self.table, batch.rows, exc)
                for chunk in batch.chunks:
                    if not chunk.future.done():
                        chunk.future.set_exception(WriteFailed(str(error or exc)))
                return
        for chunk in batch.chunks:
            if not chunk.future.done():
                chunk.future.set_result(None)

    def _insert(self, rows: list[bytes], token: str) -> None:
        if self._client is None:
            self._client = self._client_factory()
        started = time.perf_counter()
        # Rows arrive as JSON text; ClickHouse parses them, so no value is serialised again in Python.
        self._client.raw_insert(
            self.table,
            insert_block=b"\n".join(rows),
            fmt="JSONEachRow",
            settings={**self._insert_settings, "insert_deduplication_token": token},
        )
        self.metrics.insert_seconds.labels(self.table).observe(time.perf_counter() - started)
        self.metrics.batch_rows.labels(self.table).observe(len(rows))

    # -- spool replay ---------------------------------------------------------------------------------------
    async def _replay_loop(self) -> None:
        while True:
            await self.replay_spool()
            await asyncio.sleep(2.0)

    async def replay_spool(self) -> int:
        """Insert spooled batches for this table, oldest first; stop at the first failure. Returns batches done."""
        done = 0
        for path in self.spool.pending(self.table):
            try:
                batch = await asyncio.to_thread(self.spool.read, path)
                await asyncio.to_thread(self._insert, batch.rows, batch.token)
            except Exception as exc:
                if not self._warehouse_down:
                    log.warning("spool replay into %s failed: %s", self.table, _first_line(exc))
                self._warehouse_down = True
                self.metrics.warehouse_up.set(0)
                return done
            await asyncio.to_thread(self.spool.remove, path)
            done += 1
        if self._warehouse_down:
            log.info("warehouse is taking %s inserts again; spool drained", self.table)
        self._warehouse_down = False
        self.metrics.warehouse_up.set(1)
        self.metrics.spooled_batches.set(len(self.spool.pending()))
        return done


def _concat(chunks: list[_Chunk]) -> list[bytes]:
    if len(chunks) == 1:
        return chunks[0].rows
    out: list[bytes] = []
    for chunk in chunks:
        out.extend(chunk.rows)
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
