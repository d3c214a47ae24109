"""The middleware's own view of the integrations it runs: each one running or stopped, since when and why.

Integration platforms report this themselves (a stopped process schedule, a recipe stopped after repeated errors,
a worker that exited), so a monitor that asks learns of a stop at once, where the records it leaves waiting take a
cadence or more to show. Three fault scenarios stop an integration; while one is on, the platform says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.simulation import Simulation

__all__ = ["INTEGRATIONS", "Integration", "integration_states"]


@dataclass(frozen=True, slots=True)
class Integration:
    name: str
    source_system: str
    target_system: str
    trigger: str  # "event" (runs per message) or "schedule" (runs on a timer)


INTEGRATIONS = (
    Integration("crm-to-psa-projects", "crm", "psa", "event"),
    Integration("psa-to-erp-projects", "psa", "erp", "event"),
    Integration("psa-to-erp-assignments", "psa", "erp", "event"),
    Integration("hcm-to-psa-workers", "hcm", "psa", "schedule"),
    Integration("psa-to-erp-time", "psa", "erp", "event"),
    Integration("psa-to-erp-invoices", "psa", "erp", "event"),
    Integration("dead-letter-replay", "middleware", "middleware", "schedule"),
)

# Each scenario that stops an integration: which one (None: the run's silent flow) and what the platform says.
_STOPS: dict[str, tuple[str | None, str]] = {
    "hcm_sync_stall": ("hcm-to-psa-workers", "schedule disabled after 3 consecutive failed runs"),
    "dead_letter_buildup": ("dead-letter-replay", "process failed to start: worker exited"),
    "silent_flow": (None, "listener stopped after repeated connection errors"),
}


def _faults_stopping(sim: Simulation, name: str) -> list[str]:
    return [fault for fault, (integration, _) in _STOPS.items() if (integration or sim.silent_flow_name) == name]


def _state(sim: Simulation, name: str) -> tuple[str | None, float]:
    """The fault stopping the integration now (None: running) and since when it is in that state: the stop's
    start, or the end of its last stop (the run's start if it never stopped)."""
    t = sim.now
    faults = _faults_stopping(sim, name)
    for fault in faults:
        window = sim.faults.window_at(fault, t)
        if window is not None:
            return fault, window.start
    ends = [w.end for f in faults for w in sim.faults.windows.get(f, ()) if w.end is not None and w.end <= t]
    return None, max(ends, default=sim.start)


def _last_execution(sim: Simulation, name: str) -> float | None:
    if name == "dead-letter-replay":
        t = sim.now
        return max((m.replayed_at for m in sim.firm.dead_letters.values() if m.replayed_at and m.replayed_at <= t),
                   default=None)  # fmt: skip
    return sim.last_event_at.get(name)


def integration_states(sim: Simulation) -> list[dict[str, Any]]:
    """Each integration as the platform reports it, in sim time (the caller stamps it). Call under sim.lock."""
    out = []
    for i in INTEGRATIONS:
        fault, since = _state(sim, i.name)
        out.append(
            {
                "name": i.name,
                "source_system": i.source_system,
                "target_system": i.target_system,
                "trigger": i.trigger,
                "status": "stopped" if fault else "running",
                "status_since": since,
                "status_reason": _STOPS[fault][1] if fault else None,
                "last_execution_at": _last_execution(sim, i.name),
            }
        )
    return out
