"""How the simulated firm's integrations shape their events: the variety real integrations show, so that what
SyncWatch infers (first attempts from outcomes, systems from source prefixes) and what it has to leave out (entries
on projects the PSA never described) is tested against a firm whose truth is known.

    --style outcome_only                 the middleware sends posting outcomes only, never post_requested
    --style missing_extensions           the systems (not the middleware) send no sourcesystem/targetsystem
    --style late_master_data[=DAYS]      the PSA announces each new project DAYS (3) after it was created, so its
                                         first time entries arrive before the project's billing type does
    --style missing_project_events[=SHARE]  the PSA never sends project events for SHARE (0.05) of the projects
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["STYLES", "IntegrationStyle", "parse_styles"]

STYLES = ("outcome_only", "missing_extensions", "late_master_data", "missing_project_events")


@dataclass(frozen=True, slots=True)
class IntegrationStyle:
    outcome_only: bool = False
    missing_extensions: bool = False
    late_master_data_days: float = 0.0
    missing_project_share: float = 0.0

    def project_never_announced(self, code: str) -> bool:
        """Whether the PSA never sends this project's events: a fixed share of codes, chosen by hash, so that the
        same firm loses the same projects in every run."""
        if self.missing_project_share <= 0:
            return False
        digest = int.from_bytes(hashlib.sha1(code.encode()).digest()[:4], "big")
        return digest / 2**32 < self.missing_project_share


def parse_styles(specs: list[str] | None) -> IntegrationStyle:
    """`NAME` or `NAME=VALUE` per spec, as the CLI's repeatable --style takes them; a clear error otherwise."""
    values: dict[str, object] = {}
    for spec in specs or []:
        name, _, raw = spec.partition("=")
        if name not in STYLES:
            raise ValueError(f"--style: unknown style {name!r}; known: {', '.join(STYLES)}")
        if name in ("outcome_only", "missing_extensions"):
            if raw:
                raise ValueError(f"--style {name} takes no value")
            values[name] = True
            continue
        try:
            number = float(raw) if raw else (3.0 if name == "late_master_data" else 0.05)
        except ValueError:
            raise ValueError(f"--style {name}: {raw!r} is not a number") from None
        if name == "late_master_data":
            if number <= 0:
                raise ValueError("--style late_master_data: days must be above 0")
            values["late_master_data_days"] = number
        else:
            if not 0 < number <= 1:
                raise ValueError("--style missing_project_events: the share must be above 0 and at most 1")
            values["missing_project_share"] = number
    return IntegrationStyle(**values)  # type: ignore[arg-type]
