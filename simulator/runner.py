"""Backfill (history as fast as it can be generated and sent) and live (the clock running at a speed factor).

Live runs compress the firm's process delays by the speed factor but stamp events with real wall-clock time:
sim time maps onto the wall clock as wall = anchor_wall + (sim - anchor_sim) / speed.
"""

from __future__ import annotations

import gc
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from simulator.calendar import DAY
from simulator.engine import Sink
from simulator.faults import FaultSchedule, parse_fault_spec
from simulator.simulation import Simulation
from simulator.styles import IntegrationStyle

__all__ = ["LiveRunner", "backfill", "now_minute"]


def now_minute() -> float:
    return float(int(datetime.now(UTC).timestamp() // 60) * 60)


def backfill(
    consultants: int,
    days: float,
    seed: int,
    sink: Sink,
    end: float | None = None,
    faults: list[str] | None = None,
    spans: bool = True,
    on_day: Callable[[int, int], None] | None = None,
    style: IntegrationStyle | None = None,
) -> Simulation:
    """Simulate `days` of history ending at `end` (default: now) and emit it all into sink."""
    end = end if end is not None else now_minute()
    start = end - days * DAY
    schedule = FaultSchedule()
    aligned = start - start % DAY
    aligned -= ((int(aligned // DAY) + 3) % 7) * DAY  # the Monday the simulation will start on
    for spec in faults or []:
        schedule.add(*parse_fault_spec(spec, aligned, end))
    gc_was = gc.isenabled()
    gc.collect()
    gc.freeze()  # the firm's long-lived records need no cycle scans
    gc.set_threshold(200_000, 50, 100)
    try:
        sim = Simulation(consultants, seed, start, sink, schedule, spans)
        sim.style = style or IntegrationStyle()
        sim.begin()
        total = int((end - sim.start) // DAY) + 1
        t = sim.start
        day = 0
        while t < end:
            t = min(t + DAY, end)
            sim.run_until(t)
            day += 1
            if on_day is not None:
                on_day(day, total)
        flush = getattr(sink, "flush", None)
        if flush is not None:
            flush()
        return sim
    finally:
        gc.set_threshold(700, 10, 10)
        gc.unfreeze()
        if not gc_was:
            gc.disable()


class LiveRunner:
    """Runs a simulation against the wall clock in a background thread; faults switch through `switch`."""

    def __init__(self, sim: Simulation, speed: float, flush_every_s: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.sim = sim
        self.speed = speed
        self.flush_every_s = flush_every_s
        self.anchor_sim = sim.now
        self.anchor_wall = time.time()
        sim.stamp = self._stamp
        self._stop = threading.Event()
        self._commands: queue.Queue[tuple[str, bool]] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="sim-live", daemon=True)
        self.error: Exception | None = None

    def _stamp(self, t: float) -> float:
        return self.anchor_wall + (t - self.anchor_sim) / self.speed

    def sim_time_now(self) -> float:
        return self.anchor_sim + (time.time() - self.anchor_wall) * self.speed

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def switch(self, name: str, on: bool) -> bool:
        return self.sim.switch_fault(name, on)

    def _loop(self) -> None:
        flush = getattr(self.sim.sink, "flush", None)
        last_flush = time.monotonic()
        try:
            while not self._stop.is_set():
                self.sim.run_until(self.sim_time_now())
                if flush is not None and time.monotonic() - last_flush >= self.flush_every_s:
                    flush()
                    last_flush = time.monotonic()
                self._stop.wait(0.05)
            if flush is not None:
                flush()
        except Exception as exc:  # surfaced to the caller through .error
            self.error = exc
