"""Batching writer: many small requests become few large inserts; a request is answered once its rows are durable.

    request --enqueue()--> queue (bounded: QueueFull -> 503) --flush (rows or time)--> INSERT
                                                                   | warehouse down      | rows refused
                                                                   v                     v
                                                   spool (fsync) --replay--> INSERT    split the batch: the
                                                                                       refusing rows go to
                                                                                       quarantine, the rest
                                                                                       is stored

Durable means inserted into the warehouse, or fsynced into the spool when the warehouse could not be reached.
While the warehouse is down, flushes go straight to the spool and one replay loop probes it; the data is never
held only in memory after a request has been answered.

A failure is one of two kinds (`classify`): the warehouse is unreachable or busy (connection errors, timeouts,
too many parts, memory: nothing is wrong with the rows, so they wait in the spool), or the engine refused
something in the rows (a value it cannot parse or hold, a view's function that throws on it). A refused insert
is split in halves, recursively, until the refusing rows are alone: they go to quarantine with the engine's
message, every other row is stored, and the enqueue future tells the caller which of its rows were refused. A
spooled batch is replayed the same way, so one bad row can never hold up the rows behind it. The halves carry
insert_deduplication_tokens derived from the batch's, so a split that a crash interrupted is stored once when
it is replayed.

Errors:
    QueueFull     too many rows waiting; the request is refused with 503 and Retry-After, nothing is kept
    WriteFailed   neither the warehouse nor the spool took the batch; the request gets 503, nothing is kept
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError

from collector.spool import Spool
from collector.telemetry import CollectorMetrics

__all__ = ["QueueFull", "Refused", "TableWriter", "WriteFailed", "classify"]

log = logging.getLogger("syncwatch.collector.writer")


class QueueFull(RuntimeError):
    """The writer holds as many rows as it may; the client should retry later."""


class WriteFailed(RuntimeError):
    """Neither the warehouse nor the spool took a batch."""


class _WarehouseDown(RuntimeError):
    """An insert failed for a reason that is not in the rows: wait and try again."""


# Refused rows of one enqueue: (position in the rows given to enqueue, the engine's message).
Refused = list[tuple[int, str]]
# Builds quarantine rows for rows the engine refused: (table, [(row, the engine's message)]) -> quarantine rows.
QuarantineRows = Callable[[str, list[tuple[bytes, str]]], list[bytes]]

# ClickHouse error codes that say the warehouse cannot take an insert now, whatever the rows hold.
_TRANSIENT_CODES = frozenset(
    {
        3,  # UNEXPECTED_END_OF_FILE (a connection cut mid-insert)
        159,  # TIMEOUT_EXCEEDED
        164,  # READONLY
        173,  # CANNOT_ALLOCATE_MEMORY
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        236,  # ABORTED
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        243,  # NOT_ENOUGH_SPACE
        252,  # TOO_MANY_PARTS
        279,  # ALL_CONNECTION_TRIES_FAILED
        319,  # UNKNOWN_STATUS_OF_INSERT
        394,  # QUERY_WAS_CANCELLED
        425,  # SYSTEM_ERROR
        999,  # KEEPER_EXCEPTION
    }
)
_CODE = re.compile(r"Code: (\d+)\.")


def classify(exc: BaseException) -> str:
    """'refused' when the engine said no to something in the rows, 'down' when the rows may be fine."""
    if isinstance(exc, OperationalError | OSError | TimeoutError):
        return "down"
    found = _CODE.search(str(exc))
    if found is None or int(found.group(1)) in _TRANSIENT_CODES:
        return "down"
    return "refused"


@dataclass
class _Chunk:
    rows: list[bytes]
    future: asyncio.Future[Refused]


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
        quarantine_rows: QuarantineRows | None = None,
        fsync: bool = False,
    ):
        self.table = table
        # None for the quarantine table itself: rows it refuses are set aside on disk (Spool.set_aside)
        self._quarantine_rows = quarantine_rows
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

    def enqueue(self, rows: list[bytes]) -> asyncio.Future[Refused]:
        """Queue rows; the future resolves once they are durable, to the rows the engine refused (quarantined by
        then) as (position in `rows`, message). Raises QueueFull without queuing anything."""
        if rows and self.backlog_rows + len(rows) > self.queue_max_rows:
            raise QueueFull(f"{self.table}: {self.backlog_rows} rows waiting")
        future: asyncio.Future[Refused] = asyncio.get_running_loop().create_future()
        if not rows:
            future.set_result([])
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
        refused: dict[int, str] = {}
        if not self._warehouse_down:
            try:
                refused = await asyncio.to_thread(self._store, rows, token)
            except _WarehouseDown as exc:  # the batch goes to the spool below
                error = exc.__cause__ or exc
                self._warehouse_down = True
                self.metrics.warehouse_up.set(0)
                log.warning("insert into %s failed, spooling: %s", self.table, _first_line(error))
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
        offset = 0
        for chunk in batch.chunks:
            end = offset + len(chunk.rows)
            mine = [(i - offset, message) for i, message in refused.items() if offset <= i < end] if refused else []
            if not chunk.future.done():
                chunk.future.set_result(mine)
            offset = end

    def _store(self, rows: list[bytes], token: str) -> dict[int, str]:
        """Insert rows, isolating any the engine refuses; returns those (position -> message), already
        quarantined. Raises _WarehouseDown when the warehouse cannot take them now (nothing is quarantined)."""
        try:
            self._insert(rows, token)
            return {}
        except Exception as exc:
            self._count_failure(exc)
            refused = self._isolate(rows, token, 0, len(rows), exc)
        if refused:
            self._put_aside(token, [(rows[i], message) for i, message in sorted(refused.items())])
        else:  # the halves all went in: what failed the whole was not in any one row
            return {}
        self.metrics.refused_rows.labels(self.table).inc(len(refused))
        log.warning(
            "%s: the warehouse refused %d of %d rows, quarantined; first: %s",
            self.table,
            len(refused),
            len(rows),
            next(iter(refused.values())),
        )
        return refused

    def _isolate(self, rows: list[bytes], token: str, lo: int, hi: int, error: BaseException) -> dict[int, str]:
        """The refusing rows of rows[lo:hi], whose insert failed with `error`; the others are stored in halves."""
        if classify(error) == "down":
            raise _WarehouseDown(_first_line(error)) from error
        if hi - lo == 1:
            return {lo: _engine_message(error)}
        refused: dict[int, str] = {}
        middle = (lo + hi) // 2
        for start, end in ((lo, middle), (middle, hi)):
            try:
                # Derived tokens: a replay of this batch splits it the same way, and halves already stored dedupe.
                self._insert(rows[start:end], f"{token}:{start}-{end}")
            except Exception as exc:
                self._count_failure(exc)
                refused.update(self._isolate(rows, token, start, end, exc))
        return refused

    def _put_aside(self, token: str, refused: list[tuple[bytes, str]]) -> None:
        """Refused rows into quarantine (one insert, a derived token), or onto disk for the quarantine table."""
        if self._quarantine_rows is None:
            self.spool.set_aside(self.table, token, refused)
            return
        try:
            self._insert_into("quarantine", self._quarantine_rows(self.table, refused), f"{token}:refused")
        except Exception as exc:
            raise _WarehouseDown(_first_line(exc)) from exc

    def _count_failure(self, exc: BaseException) -> None:
        self.metrics.insert_failures.labels(self.table).inc()
        log.debug("insert into %s failed: %s", self.table, _first_line(exc))

    def _insert(self, rows: list[bytes], token: str) -> None:
        started = time.perf_counter()
        self._insert_into(self.table, rows, token)
        self.metrics.insert_seconds.labels(self.table).observe(time.perf_counter() - started)
        self.metrics.batch_rows.labels(self.table).observe(len(rows))

    def _insert_into(self, table: str, rows: list[bytes], token: str) -> None:
        if self._client is None:
            self._client = self._client_factory()
        # Rows arrive as JSON text; ClickHouse parses them, so no value is serialised again in Python.
        self._client.raw_insert(
            table,
            insert_block=b"\n".join(rows),
            fmt="JSONEachRow",
            settings={**self._insert_settings, "insert_deduplication_token": token},
        )

    # -- spool replay ---------------------------------------------------------------------------------------
    async def _replay_loop(self) -> None:
        while True:
            await self.replay_spool()
            await asyncio.sleep(2.0)

    async def replay_spool(self) -> int:
        """Insert spooled batches for this table, oldest first, isolating rows the engine refuses; stop while the
        warehouse is down. Returns batches done."""
        done = 0
        for path in self.spool.pending(self.table):
            try:
                batch = await asyncio.to_thread(self.spool.read, path)
                await asyncio.to_thread(self._store, batch.rows, batch.token)
            except Exception as exc:
                if not self._warehouse_down:
                    log.warning("spool replay into %s failed: %s", self.table, _first_line(exc.__cause__ or exc))
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


def _engine_message(exc: BaseException) -> str:
    """The engine's reason without the driver's wrapping (the last "DB::Exception:"), up to where it says which
    temporary file it read, capped."""
    text = str(exc).strip()
    marker = text.rfind("DB::Exception:")
    if marker >= 0:
        text = text[marker + len("DB::Exception:") :].strip()
    text = text.split("\n: (in file/uri", 1)[0].strip()
    return text[:1000] or type(exc).__name__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
