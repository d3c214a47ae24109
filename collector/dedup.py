"""Which (source, id) events and (trace, span) spans the warehouse already holds or is about to.

A redelivered event must count once in every read, and materialized views see every inserted row, so
duplicates are dropped before the insert, not merged away afterwards. The index is in memory, bounded, and
warmed at start from the rows received lately; anything older that slips through still collapses in the
ReplacingMergeTree tables and FINAL reads (see docs/events.md, "Delivery guarantees").
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

__all__ = ["DedupIndex"]


class DedupIndex:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self._durable: dict[int, None] = {}  # insertion-ordered: the oldest key is evicted first
        self._pending: dict[int, asyncio.Future[Any]] = {}

    def __len__(self) -> int:
        return len(self._durable)

    def classify(self, keys: list[int]) -> tuple[list[int], list[asyncio.Future[Any]]]:
        """Indexes of keys that are new, and futures of in-flight batches holding the rest.

        A key repeated within `keys` counts as new once only. Called on the event loop, so no lock is needed.
        """
        new: list[int] = []
        waits: list[asyncio.Future[Any]] = []
        seen: set[int] = set()
        durable, pending = self._durable, self._pending
        for index, key in enumerate(keys):
            if key in durable or key in seen:
                continue
            future = pending.get(key)
            if future is not None:
                waits.append(future)
                continue
            seen.add(key)
            new.append(index)
        return new, waits

    def reserve(self, keys: Iterable[int], future: asyncio.Future[Any]) -> None:
        for key in keys:
            self._pending[key] = future

    def settle(self, keys: Iterable[int], *, durable: bool) -> None:
        pending, stored = self._pending, self._durable
        for key in keys:
            pending.pop(key, None)
            if durable:
                stored[key] = None
        self._evict()

    def warm(self, keys: Iterable[int]) -> None:
        for key in keys:
            self._durable[key] = None
        self._evict()

    def _evict(self) -> None:
        excess = len(self._durable) - self.capacity
        if excess > 0:
            stored = self._durable
            for key in list(_first(stored, excess)):
                del stored[key]


def _first(keys: dict[int, None], count: int) -> Iterable[int]:
    for n, key in enumerate(keys):
        if n >= count:
            return
        yield key
