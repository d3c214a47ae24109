"""Why a piece of input was refused: a value, not an exception, so a batch can carry good and bad side by side."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Rejection"]


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
