"""Open a clickhouse-connect client on embedded chDB or a ClickHouse server, with the same API for both.

Errors:
    WarehouseUnavailable      the warehouse cannot be reached or opened
      +-- WarehouseLocked     embedded only: another process (usually a running collector) owns the path
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from syncwatch.settings import Settings

__all__ = ["WarehouseLocked", "WarehouseUnavailable", "connect", "resolve_dsn"]


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached (server down, bad URL) or opened."""


class WarehouseLocked(WarehouseUnavailable):
    """The embedded warehouse is held by another process; chDB allows one engine per path."""


def resolve_dsn(url: str) -> str:
    """chdb://./rel and chdb:///abs become chdb:///absolute; chDB itself would read ./rel as /rel."""
    if not url.startswith("chdb://"):
        return url
    rest = url[len("chdb://") :]
    if rest == "memory":
        return url
    if rest.startswith("/./"):
        rest = rest[1:]
    path = Path(rest) if rest.startswith("/") else Path.cwd() / rest
    return "chdb://" + str(path.resolve())


def connect(settings: Settings, *, database: str | None = None, create_database: bool = True) -> Client:
    """A client whose default database is `database` (settings.database unless given), created if missing."""
    dsn = resolve_dsn(settings.clickhouse_url)
    db = database or settings.database
    if dsn.startswith("chdb://") and dsn != "chdb://memory":
        os.makedirs(dsn[len("chdb://") :], exist_ok=True)
    try:
        if create_database:
            bootstrap = _open(dsn, None)
            bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{_identifier(db)}`")
        return _open(dsn, db)
    except ClickHouseError as exc:
        text = str(exc)
        if "Cannot lock file" in text or "already initialized" in text or _held_by_another_process(dsn):
            raise WarehouseLocked(
                f"the embedded warehouse at {dsn} is in use by another process (a running `syncwatch serve`?)"
            ) from exc
        raise WarehouseUnavailable(f"cannot open the warehouse at {_redact(dsn)}: {text.splitlines()[0]}") from exc
    except OSError as exc:
        raise WarehouseUnavailable(f"cannot reach the warehouse at {_redact(dsn)}: {exc}") from exc


def _held_by_another_process(dsn: str) -> bool:
    """ClickHouse flock()s <path>/status while an engine owns the path; test that lock without waiting.

    Only called after opening failed, so this process does not hold the engine itself.
    """
    if not dsn.startswith("chdb:///"):
        return False
    status = Path(dsn[len("chdb://") :]) / "status"
    try:
        fd = os.open(status, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _open(dsn: str, database: str | None) -> Client:
    kwargs: dict[str, Any] = {"dsn": dsn, "settings": {"date_time_input_format": "best_effort"}}
    if database:
        kwargs["database"] = database
    if not dsn.startswith("chdb://"):
        kwargs["connect_timeout"] = 5
        kwargs["send_receive_timeout"] = 60
    return clickhouse_connect.get_client(**kwargs)


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"database name {name!r} may hold letters, digits and underscores only")
    return name


def _redact(dsn: str) -> str:
    """Never print a password: http://user:secret@host -> http://user:***@host."""
    if "@" in dsn and "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return dsn
