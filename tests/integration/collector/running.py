"""The collector as `syncwatch serve` runs it (collector/server.py's limits included), on loopback in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from collector.app import create_app
from collector.server import server_config
from syncwatch.settings import Settings


@contextmanager
def running(settings: Settings) -> Iterator[str]:
    server = uvicorn.Server(server_config(create_app(settings), settings, host="127.0.0.1", log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("collector did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
