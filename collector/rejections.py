"""Why a piece of input was refused: a value, not an exception, so a batch can carry good and bad side by side."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Rejection", "refused_by_warehouse"]

# ClickHouse names the column it could not parse: "(while reading the value of key time)", "column `amount`".
_REFUSED_COLUMN = re.compile(r"value of key ([\w.]+)|column [`']?([\w.]+)")


@dataclass(frozen=True, slots=True)
class Rejection:
    """reason is a short stable code (metrics label, quarantine column); field names the culprit; detail says why."""

    reason: str
    field: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "field": self.field, "detail": self.detail}

    def message(self) -> str:
        return f"{self.field}: {self.detail}" if self.field else self.detail


def refused_by_warehouse(message: str) -> Rejection:
    """A row the engine refused though it passed our checks: its message, and the column when it names one."""
    named = _REFUSED_COLUMN.search(message)
    return Rejection("refused_by_warehouse", next(filter(None, named.groups()), "") if named else "", message)
