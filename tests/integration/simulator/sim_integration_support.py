from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import httpx
import uvicorn
from fastapi import FastAPI

from simulator.calendar import DAY, to_epoch
from simulator.emit import MemorySink
from simulator.faults import FaultSchedule
from simulator.simulation import Simulation

START = to_epoch(date(2025, 3, 3))


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
    for _ in range(200):
        try:
            httpx.get(base + "/openapi.json", timeout=0.5)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)


def small_sim(days: int = 21, consultants: int = 150) -> tuple[Simulation, MemorySink]:
    sink = MemorySink()
    sim = Simulation(consultants, 13, START, sink, FaultSchedule(), spans=False)
    sim.begin()
    sim.run_until(START + days * DAY)
    return sim, sink
