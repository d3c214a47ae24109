from __future__ import annotations

import pytest
from sim_unit_support import run_sim

from simulator.emit import MemorySink
from simulator.simulation import Simulation


@pytest.fixture(scope="session")
def firm_500() -> tuple[Simulation, MemorySink]:
    """500 consultants over 13 weeks: enough lines for the distribution checks."""
    return run_sim(500, 91, seed=11, spans=False)
