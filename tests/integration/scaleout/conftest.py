"""A ClickHouse HTTP warehouse shared by the processes of one test (tests/clickhouse_http.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.scaleout.warehouse_server import WarehouseServer


@pytest.fixture(scope="module")
def warehouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WarehouseServer]:
    """The server on a free port; yields it (`.url` is the warehouse URL, http://127.0.0.1:P)."""
    server = WarehouseServer(Path(tmp_path_factory.mktemp("clickhouse-http")) / "warehouse")
    server.start()
    try:
        yield server
    finally:
        server.stop()
