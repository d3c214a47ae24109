"""The test ClickHouse HTTP server (tests/clickhouse_http.py) in a process of its own, stoppable and restartable
on the same port and directory, for tests of the server path (`SYNCWATCH_CLICKHOUSE_URL=http://...`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

_ROOT = Path(__file__).resolve().parents[3]


class WarehouseServer:
    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = path.parent / f"clickhouse-http-{self.port}.log"

    def start(self, timeout: float = 60) -> None:
        command = [sys.executable, "-m", "tests.clickhouse_http", "--port", str(self.port), "--path", str(self.path)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=_ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the test ClickHouse server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/ping", timeout=1).text.startswith("Ok."):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the test ClickHouse server did not answer /ping")

    def stop(self) -> None:
        """Gone as a crashed server is gone: SIGKILL, so nothing is flushed on the way out."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
        self.process = None
