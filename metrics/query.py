"""Running SLI SQL: bound parameters for windows, rows as dicts. The one place metrics/ talks to the client."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from metrics.windows import Window

__all__ = ["Db", "per_window", "timestamp"]


def timestamp(moment: datetime) -> str:
    """A DateTime64(6, 'UTC') parameter value; formatted here so every backend reads the same instant."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class Db:
    def __init__(self, client: Client) -> None:
        self.client = client

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        result = self.client.query(sql, parameters=parameters or {})
        return list(result.named_results())


def per_window(windows: Sequence[Window], columns: str) -> tuple[str, dict[str, str]]:
    """Repeat `columns` (SQL with {F}, {T} and {i} placeholders) once per window with bound window parameters.

    One scan of a state table then yields an SLI over the main window and every burn-rate window.
    """
    parts = []
    params: dict[str, str] = {}
    for i, window in enumerate(windows):
        params[f"f{i}"] = timestamp(window.start)
        params[f"t{i}"] = timestamp(window.end)
        parts.append(
            columns.replace("{F}", f"{{f{i}:DateTime64(6, 'UTC')}}")
            .replace("{T}", f"{{t{i}:DateTime64(6, 'UTC')}}")
            .replace("{i}", str(i))
        )
    return ",\n".join(parts), params
