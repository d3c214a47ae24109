"""A simulated estate served over loopback, and a probes file pointing at it (secrets through the environment)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from probes.config import ProbesFile, parse_probes_file
from simulator.apis.auth import Credentials
from simulator.calendar import DAY, to_epoch
from simulator.emit import MemorySink
from simulator.faults import FaultSchedule
from simulator.simulation import Simulation
from tests.conftest import serve as serve  # re-exported: the tests beside this module serve apps with it

START = to_epoch(date(2025, 3, 3))
CREDS = Credentials()


def simulate(
    fault: str | None = None,
    *,
    days: int = 28,
    fault_day: int = 14,
    consultants: int = 150,
    silent_flow: str = "psa-to-erp-time",
    also: tuple[str, ...] = (),
) -> Simulation:
    """The firm with `fault` (and every fault in `also`) switched on at `fault_day` and left on."""
    faults = FaultSchedule()
    for name in (fault, *also) if fault else also:
        faults.add(name, START + fault_day * DAY, None)
    sim = Simulation(consultants, 13, START, MemorySink(), faults, spans=False, silent_flow=silent_flow)
    sim.begin()
    sim.run_until(START + days * DAY)
    return sim


def set_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_CLIENT_SECRET", CREDS.client_secret)
    monkeypatch.setenv("SIM_API_KEY", CREDS.api_key)


def estate_config(base: str, *, fast: bool = True, **system_overrides: dict[str, Any]) -> dict[str, Any]:
    """The probes file for the simulated estate (as a mapping). `fast` lifts pacing so tests do not wait on it."""

    def oauth(path: str) -> dict[str, str]:
        return {
            "type": "oauth2_client_credentials",
            "token_url": path,
            "client_id": CREDS.client_id,
            "client_secret": "env:SIM_CLIENT_SECRET",
        }

    budget = {"max_rate_per_second": 200, "calls_per_hour": 100_000} if fast else {}
    systems: dict[str, dict[str, Any]] = {
        "erp": {"base_url": base, "auth": oauth("/services/rest/auth/oauth2/v1/token"), "budget": budget},
        "crm": {"base_url": base, "auth": oauth("/services/oauth2/token"), "budget": budget},
        "hcm": {"base_url": base, "auth": oauth("/ccx/oauth2/acme/token"), "options": {"tenant": "acme"}},
        "psa": {"base_url": base, "auth": {"type": "bearer", "token": "env:SIM_API_KEY"}},
        "middleware": {"base_url": base, "auth": {"type": "api_key", "key": "env:SIM_API_KEY"}},
    }
    for name, override in system_overrides.items():
        systems[name] = {**systems[name], **override}
    return {"systems": systems}


def estate_probes(base: str, **overrides: dict[str, Any]) -> ProbesFile:
    return parse_probes_file(estate_config(base, **overrides))
