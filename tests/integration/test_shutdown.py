"""Stopping SyncWatch as users do: Ctrl-C on `syncwatch serve` (the whole process group gets SIGINT), `make run`
stopped by a signal, and `syncwatch migrate` beside a running collector."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import auth
from tests.factories import event
from tests.integration.collector.test_process import Process, _running, _wait_gone
from tests.waiting import wait_http

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def proc(tmp_path: Path) -> Iterator[Process]:
    process = Process(tmp_path)
    yield process
    if process.server is not None and process.server.poll() is None:
        os.killpg(process.server.pid, signal.SIGKILL)
        process.server.wait(timeout=30)


def _start_in_own_group(proc: Process) -> None:
    """As a shell starts a foreground job: the server leads a process group that its workers join."""
    log = open(proc.workdir / "serve.log", "ab")  # noqa: SIM115 - closed with the process
    proc.server = subprocess.Popen(
        [str(Path(sys.executable).parent / "syncwatch"), "serve"],
        cwd=proc.workdir, env=proc.env, stdout=log, stderr=log, process_group=0,
    )  # fmt: skip
    wait_http(f"{proc.url}/readyz", proc.server, what="the collector")


def test_ctrl_c_stops_the_collector_without_worker_tracebacks(proc: Process) -> None:
    token = proc.cli("token", "create", "--name", "ctrl-c", "--scope", "ingest").stdout.strip()
    _start_in_own_group(proc)
    workers: set[int] = set()
    with httpx.Client(timeout=30) as http:
        for n in range(20):  # large bodies are parsed in worker processes
            batch = [event(id=f"b{n}-e{i}") for i in range(2000)]
            answer = http.post(
                f"{proc.url}/v1/events",
                content=orjson.dumps(batch),
                headers={**auth(token), "Content-Type": "application/cloudevents-batch+json"},
            )
            assert answer.status_code == 200, answer.text
            workers = proc.children()
            if workers:
                break
    assert workers, "batches this size are parsed in worker processes"
    assert proc.server is not None
    os.killpg(proc.server.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    proc.server.wait(timeout=60)
    _wait_gone(workers)
    log = (proc.workdir / "serve.log").read_text()
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log[-4000:]


def test_migrate_beside_a_running_collector_prints_only_what_to_do(proc: Process) -> None:
    proc.start()
    refused = proc.cli("migrate", check=False)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: a running collector holds the embedded warehouse")
    assert "DB::Exception" not in refused.stderr and "Code: 76" not in refused.stderr, refused.stderr
    assert refused.stdout == ""
    proc.stop()
    assert "up to date" in proc.cli("migrate").stdout  # and the engine still speaks when opening works


def test_stopping_make_run_ends_the_simulator_and_what_it_started(tmp_path: Path) -> None:
    """run.sh's own stop_all and trap, around a stand-in simulator that starts a child of its own, as the live
    simulator does; the real run.sh needs the full demo (tokens, collector, warm-up), minutes on two cores."""
    pids = tmp_path / "pids"
    stand_in = (
        "import subprocess, sys, time; child = subprocess.Popen(['sleep', '300']);"
        f"open({str(pids)!r}, 'w').write(f'{{child.pid}}\\n'); time.sleep(300)"
    )
    script = (
        f"source {ROOT / 'scripts' / 'run.sh'}; set -m; "
        f"{sys.executable} -c {_quote(stand_in)} & sim=$!; install_stop_trap; echo ready; wait $sim"
    )
    shell = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, text=True)
    assert shell.stdout is not None and shell.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 30
    while not pids.exists() or not pids.read_text().endswith("\n"):
        assert time.monotonic() < deadline, "the stand-in simulator did not start"
        time.sleep(0.05)
    child = int(pids.read_text())
    assert _running(child)
    shell.send_signal(signal.SIGTERM)  # as a supervisor or `kill` stops `make run`
    assert shell.wait(timeout=30) == 143
    _wait_gone({child})


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
