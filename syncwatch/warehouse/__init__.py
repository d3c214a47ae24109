"""The ClickHouse warehouse: one client factory for embedded chDB and servers, and forward-only migrations."""

from syncwatch.warehouse.client import WarehouseLocked, WarehouseUnavailable, connect, resolve_dsn
from syncwatch.warehouse.migrations import applied_versions, apply_migrations, pending_migrations

__all__ = [
    "WarehouseLocked",
    "WarehouseUnavailable",
    "applied_versions",
    "apply_migrations",
    "connect",
    "pending_migrations",
    "resolve_dsn",
]
