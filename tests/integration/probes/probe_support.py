"""A simulated estate served over loopback, and a probes file pointing at it (secrets through the environment)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from probes.config import ProbesFile, parse_probes_file
from simulator.apis.auth import Credentials
from simulator.calendar import DAY, to_epoch
from simulator.emit import MemorySink
from simulator.faults import FaultSchedule
from simulator.simulation import Simulation

START = to_epoch(date(2025, 3, 3))
CREDS = Credentials()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)


def simulate(
    fault: str | None = None,
    *,
    days: int = 28,
    fault_day: int = 14,
    consultants: int = 150,
    silent_flow: str = "psa-to-erp-time",
) -> Simulation:
    faults = FaultSchedule()
    if fault:
        faults.add(fault, START + fault_day * DAY, None)
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
