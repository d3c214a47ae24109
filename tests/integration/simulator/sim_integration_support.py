from __future__ import annotations

from datetime import date

from simulator.calendar import DAY, to_epoch
from simulator.emit import MemorySink
from simulator.faults import FaultSchedule
from simulator.simulation import Simulation
from tests.conftest import serve as serve  # re-exported: the tests beside this module serve apps with it

START = to_epoch(date(2025, 3, 3))


def small_sim(days: int = 21, consultants: int = 150) -> tuple[Simulation, MemorySink]:
    sink = MemorySink()
    sim = Simulation(consultants, 13, START, sink, FaultSchedule(), spans=False)
    sim.begin()
    sim.run_until(START + days * DAY)
    return sim, sink
