from __future__ import annotations

from datetime import date

from simulator.calendar import DAY, to_epoch
from simulator.emit import MemorySink
from simulator.faults import FaultSchedule
from simulator.simulation import Simulation

START = to_epoch(date(2025, 3, 3))  # a Monday


def run_sim(
    consultants: int,
    days: int,
    seed: int = 7,
    faults: dict[str, tuple[float, float | None]] | None = None,
    spans: bool = True,
) -> tuple[Simulation, MemorySink]:
    sink = MemorySink()
    schedule = FaultSchedule()
    for name, (start_day, end_day) in (faults or {}).items():
        schedule.add(name, START + start_day * DAY, None if end_day is None else START + end_day * DAY)
    sim = Simulation(consultants, seed, START, sink, schedule, spans)
    sim.begin()
    sim.run_until(START + days * DAY)
    return sim, sink
