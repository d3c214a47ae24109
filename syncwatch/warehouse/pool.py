"""A pool of warehouse clients for the read routes of a stage: queries on one client serialise, and a reader
should not wait behind another reader or a scheduled job."""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import TypeVar

from clickhouse_connect.driver.client import Client

__all__ = ["ClientPool"]
T = TypeVar("T")


class ClientPool:
    def __init__(self, what: str) -> None:
        self.what = what  # named in the error when used before its stage started
        self._connect: Callable[[], Client] | None = None
        self._idle: queue.SimpleQueue[Client] = queue.SimpleQueue()

    def open(self, connect: Callable[[], Client]) -> None:
        """Clients are made with `connect` as needed, once the stage has started."""
        self._connect = connect

    def run(self, fn: Callable[[Client], T]) -> T:
        """fn with an idle client of its own (a new one when none is idle), returned to the pool afterwards."""
        assert self._connect is not None, f"{self.what} not started"
        try:
            client = self._idle.get_nowait()
        except queue.Empty:
            client = self._connect()
        try:
            return fn(client)
        finally:
            self._idle.put(client)
