"""One worker acts at a time: the lease in the warehouse, its fencing token, and the holder that stops first.

Two `syncwatch worker` processes against one ClickHouse (the test server): only one runs jobs (worker_jobs);
the active one paused past its lease (SIGSTOP) is replaced and, resumed (SIGCONT), acts no more; killed (-9), the
standby takes over within the lease plus one renewal; the alert they both evaluate is sent to the webhook once.
The lease is 20 s here (SYNCWATCH_TEST_LEASE_SECONDS=30 measures the default).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from syncwatch.lease import Lease
from syncwatch.settings import Settings
from syncwatch.warehouse import apply_migrations, connect
from tests.conftest import free_port, http_server_running
from tests.integration.scaleout.helpers import server_settings, wait_until
from tests.integration.scaleout.warehouse_server import WarehouseServer

pytestmark = pytest.mark.integration

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
LEASE_SECONDS = float(os.environ.get("SYNCWATCH_TEST_LEASE_SECONDS", "20"))
RENEW_SECONDS = 4.0
log = logging.getLogger(__name__)

# An alert that fires on an empty warehouse (a backlog of 0 is >= 0), told to a webhook.
ALERTS = """
rules:
  - name: AlwaysFiring
    kind: sli
    sli: dead_letter_backlog
    op: ">="
    threshold: 0
    severity: critical
    team: integrations
    runbook_url: https://runbooks.example/always
    summary: "always firing"
route:
  receiver: default
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 24h
receivers:
  - name: default
"""


def _migrated(tmp_path: Path, server: WarehouseServer) -> tuple[Settings, Client]:
    settings = server_settings(tmp_path, server.url)
    client = connect(settings)
    apply_migrations(client, settings.retention_days)
    return settings, client


def test_one_holder_at_a_time_with_growing_tokens(warehouse_server: WarehouseServer, tmp_path: Path) -> None:
    settings, _ = _migrated(tmp_path, warehouse_server)

    def lease() -> Lease:
        return Lease(lambda: connect(settings, create_database=False), seconds=4, renew_seconds=1)

    a, b = lease(), lease()
    assert a.keep() and a.token == 1
    assert not b.keep() and b.token is None and not b.claim("page-1")
    assert a.keep() and a.token == 1  # renewed, same token
    assert a.claim("page-1") and a.claim("page-1")  # its claimer may retry a failed delivery
    time.sleep(2.1)  # past the holder's own half of the lease: it stops acting first...
    assert not a.held() and not a.claim("page-2")
    assert not b.keep()  # ...while the warehouse still says the lease runs: nobody acts
    time.sleep(2.1)
    assert b.keep() and b.token == 2  # expired: the standby takes the next token
    assert not a.keep() and a.token is None  # the old holder sees it lost; it never renews a lapsed lease
    assert b.claim("page-2") and not a.claim("page-2")
    assert not b.claim("page-1")  # sent under token 1 already: the new holder does not page again


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@contextmanager
def _webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Webhook", (_Webhook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with http_server_running(server):
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received


class Worker:
    def __init__(self, settings: Settings, tmp_path: Path, hook: str, name: str) -> None:
        config = tmp_path / "alerts.yaml"
        config.write_text(ALERTS)
        self.env = {
            **os.environ,
            "SYNCWATCH_CLICKHOUSE_URL": settings.clickhouse_url,
            "SYNCWATCH_DATABASE": settings.database,
            "SYNCWATCH_PORT": str(free_port()),
            "SYNCWATCH_VAR_DIR": str(tmp_path / name),
            "SYNCWATCH_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
            "SYNCWATCH_WORKER_LEASE_RENEW_SECONDS": str(RENEW_SECONDS),
            "SYNCWATCH_ALERTS_CONFIG_FILE": str(config),
            "SYNCWATCH_ALERTS_WEBHOOK_URL": hook,
            "SYNCWATCH_ALERTS_EVALUATION_INTERVAL_SECONDS": "5",
            "SYNCWATCH_SLI_SNAPSHOT_SECONDS": "15",
        }
        self.log = tmp_path / f"{name}.log"
        self.process = subprocess.Popen(
            [SYNCWATCH, "worker"], env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT
        )
        self.url = f"http://127.0.0.1:{self.env['SYNCWATCH_PORT']}"

    def ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def signal(self, sig: int) -> None:
        os.kill(self.process.pid, sig)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _acting(client: Client, since: float) -> dict[int, set[int]]:
    """Process id -> fencing tokens of the jobs it started after `since` (epoch seconds); a holder is host:pid:id."""
    rows = client.query(
        "SELECT holder, groupUniqArray(token) FROM worker_jobs WHERE started_at > {since:Float64} GROUP BY holder",
        parameters={"since": since},
    ).result_rows
    acting: dict[int, set[int]] = {}
    for holder, tokens in rows:
        acting.setdefault(int(str(holder).split(":")[1]), set()).update(int(t) for t in tokens)
    return acting


def test_workers_hand_over_without_overlap_or_double_page(warehouse_server: WarehouseServer, tmp_path: Path) -> None:
    settings, client = _migrated(tmp_path, warehouse_server)
    with _webhook() as (hook, received):
        workers = [Worker(settings, tmp_path, hook, name) for name in ("a", "b")]
        try:
            wait_until(lambda: all(w.ready() for w in workers), 90, "both workers to serve")
            started = time.time()
            wait_until(lambda: bool(_acting(client, started)), 60, "a worker to act")
            time.sleep(3 * RENEW_SECONDS)
            acting = _acting(client, started)
            assert len(acting) == 1, acting  # one acts, the other stands by
            (active_pid,) = acting
            active = next(w for w in workers if w.process.pid == active_pid)
            standby = next(w for w in workers if w is not active)
            wait_until(lambda: len(received) >= 1, 60, "the alert's notification")

            # Paused past its lease: the standby takes over; resumed, the old holder must not act again.
            active.signal(signal.SIGSTOP)
            paused = time.time()
            wait_until(lambda: standby.process.pid in _acting(client, paused), 3 * LEASE_SECONDS, "the takeover")
            took_over = time.time() - paused
            time.sleep(2)
            active.signal(signal.SIGCONT)
            resumed = time.time()
            time.sleep(4 * RENEW_SECONDS)
            after = _acting(client, resumed)
            assert active_pid not in after and standby.process.pid in after, after
            assert min(after[standby.process.pid]) > max(acting[active_pid])  # a newer fencing token

            # Killed outright: the first worker (standby again) takes over within the lease and one renewal.
            standby.signal(signal.SIGKILL)
            killed = time.time()
            wait_until(lambda: active_pid in _acting(client, killed), 60, "the takeover after kill -9")
            taken = time.time() - killed
            time.sleep(2 * RENEW_SECONDS)
        except AssertionError as exc:  # what each worker said is the first thing to read
            tails = "\n".join(f"--- {w.log.name}\n" + w.log.read_text()[-4000:] for w in workers)
            raise AssertionError(f"{exc}\n{tails}") from exc
        finally:
            for w in workers:
                w.stop()

    log.info("lease %g s: taken over %.1f s after SIGSTOP, %.1f s after kill -9", LEASE_SECONDS, took_over, taken)
    assert took_over < LEASE_SECONDS + 3 * RENEW_SECONDS, took_over
    assert taken < LEASE_SECONDS + 3 * RENEW_SECONDS, taken
    firing = [a["fingerprint"] for body in received for a in body.get("alerts", []) if a.get("status") == "firing"]
    assert len(firing) == 1, received  # told once, through two takeovers
