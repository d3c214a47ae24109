"""The collector as users run it: `syncwatch serve` in its own process, the CLI beside it, and kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import auth, free_port
from tests.factories import event
from tests.waiting import wait_http

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")


class Process:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.env = {
            **os.environ,
            "SYNCWATCH_PORT": str(self.port),
            "SYNCWATCH_CLICKHOUSE_URL": "chdb://./var/warehouse",
            "SYNCWATCH_BATCH_MAX_DELAY_MS": "50",
            "SYNCWATCH_RATE_LIMIT_PER_SECOND": "100000",
            "SYNCWATCH_RATE_LIMIT_BURST": "100000",
        }
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [SYNCWATCH, *args], cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=120
        )
        if check and done.returncode != 0:
            raise AssertionError(f"syncwatch {' '.join(args)} failed: {done.stderr}")
        return done

    def start(self) -> None:
        log = open(self.workdir / "serve.log", "ab")  # noqa: SIM115 - closed with the process
        self.server = subprocess.Popen([SYNCWATCH, "serve"], cwd=self.workdir, env=self.env, stdout=log, stderr=log)
        try:
            wait_http(f"{self.url}/readyz", self.server, what="the collector")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{(self.workdir / 'serve.log').read_text()[-4000:]}") from None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.server and self.server.poll() is None:
            self.server.send_signal(sig)
            self.server.wait(timeout=60)

    def children(self) -> set[int]:
        """Processes the server started (its parse workers), read from /proc."""
        assert self.server is not None
        found = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.server.pid:
                found.add(int(stat.parent.name))
        return found

    def query(self, sql: str) -> list[list[object]]:
        """Read the warehouse from a fresh process once the server has stopped (chDB: one engine per path)."""
        code = (
            "import json, sys; from syncwatch.settings import Settings; from syncwatch.warehouse import connect; "
            "c = connect(Settings()); print(json.dumps(c.query(sys.argv[1]).result_rows, default=str))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, sql],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        rows: list[list[object]] = json.loads(done.stdout)
        return rows


@pytest.fixture
def proc(tmp_path: Path) -> Iterator[Process]:
    process = Process(tmp_path)
    yield process
    process.stop(signal.SIGKILL)


def test_cli_manages_tokens_directly_and_through_a_running_collector(proc: Process) -> None:
    first = proc.cli("token", "create", "--name", "first", "--scope", "ingest").stdout.strip()
    assert first.startswith("swt_")
    assert "applied" in proc.cli("migrate").stdout or "up to date" in proc.cli("migrate").stdout
    proc.start()
    # the server holds the embedded warehouse; the CLI goes through its admin API
    second = proc.cli("token", "create", "--name", "second", "--scope", "read").stdout.strip()
    assert second.startswith("swt_") and second != first
    assert httpx.get(f"{proc.url}/api/v1/quarantine", headers=auth(second)).status_code == 200
    listing = proc.cli("token", "list").stdout
    assert "first" in listing and "second" in listing and second not in listing
    proc.cli("token", "revoke", "--name", "second")
    assert httpx.get(f"{proc.url}/api/v1/quarantine", headers=auth(second)).status_code == 401
    refused = proc.cli("migrate", check=False)
    assert refused.returncode == 2 and "running collector" in refused.stderr
    # the secret never reaches the server's logs
    proc.stop()
    assert second not in (proc.workdir / "serve.log").read_text()
    assert not (proc.workdir / "var" / "collector.json").exists()
    hidden = proc.cli("token", "create", "--name", "x", "--scope", "nope", check=False)
    assert hidden.returncode == 2 and "unknown scope" in hidden.stderr


def test_a_second_server_on_the_same_warehouse_says_what_to_do(proc: Process) -> None:
    proc.start()
    other = subprocess.run(
        [SYNCWATCH, "serve"],
        cwd=proc.workdir,
        env={**proc.env, "SYNCWATCH_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.returncode == 2 and "in use by another process" in other.stderr


def test_kill_9_loses_no_acknowledged_event_and_duplicates_none(proc: Process) -> None:
    token = proc.cli("token", "create", "--name", "crash", "--scope", "ingest").stdout.strip()
    proc.start()
    acked: set[str] = set()
    unacked: list[list[dict[str, object]]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(timeout=10) as http:
            batch_no = 0
            while not stop.is_set():
                batch = [event(id=f"c{n}-b{batch_no}-e{i}", source=f"/psa/client-{n}") for i in range(200)]
                batch_no += 1
                try:
                    answer = http.post(
                        f"{proc.url}/v1/events",
                        content=orjson.dumps(batch),
                        headers={**auth(token), "Content-Type": "application/cloudevents-batch+json"},
                    )
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    if ok:
                        acked.update(str(e["id"]) for e in batch)
                    else:
                        unacked.append(batch)
                if not ok:
                    time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60  # a loaded machine acknowledges more slowly; the crash must hit live traffic
    while len(acked) < 1000 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = proc.children()
    assert workers, "batches this size are parsed in worker processes"
    proc.stop(signal.SIGKILL)
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    acked_before_crash = len(acked)
    assert acked_before_crash >= 1000 and unacked, "the crash should interrupt traffic in flight"
    _wait_gone(workers)  # a killed server's workers do not linger holding its output open

    proc.start()  # a client re-sends what it never saw acknowledged
    with httpx.Client(timeout=30) as http:
        for batch in unacked:
            answer = http.post(
                f"{proc.url}/v1/events",
                content=orjson.dumps(batch),
                headers={**auth(token), "Content-Type": "application/cloudevents-batch+json"},
            )
            assert answer.status_code == 200
            acked.update(str(e["id"]) for e in batch)
    workers = proc.children()
    proc.stop()
    _wait_gone(workers)
    ((total, unique),) = proc.query("SELECT count(), uniqExact(source, id) FROM events")
    assert int(total) == int(unique) == len(acked)
    stored = {r[0] for r in proc.query("SELECT id FROM events")}
    assert stored == acked


def _wait_gone(pids: set[int], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if _running(pid)}
        time.sleep(0.1)
    assert not alive, f"worker processes still running after the server stopped: {sorted(alive)}"


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
