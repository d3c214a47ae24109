"""`syncwatch simulate live` against the running collector: events keep flowing in wall-clock time after the
warm-up, never stamped in the future, and faults switch through the admin endpoint while it runs."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from clickhouse_connect.driver.client import Client

from tests.conftest import ThreadedCollector, Tokens, free_port
from tests.waiting import wait_http

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
ADMIN = {"Authorization": "Bearer sim-admin-token"}


def test_live_run_streams_in_wall_clock_time_and_switches_faults(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client, tmp_path: Path
) -> None:
    api_port = free_port()
    admin_url = f"http://127.0.0.1:{api_port}"
    live = subprocess.Popen(
        [SYNCWATCH, "simulate", "live", "--consultants", "60", "--speed", "3600", "--warmup-days", "2",
         "--duration", "40", "--api-port", str(api_port), "--base-url", collector.url, "--token", tokens["ingest"]],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_http(f"{admin_url}/admin/status", live, timeout=120, headers=ADMIN, what="the live simulation")
        # the warm-up history is sent while the system APIs come up: wait for it to land, then snapshot
        deadline = time.monotonic() + 90
        while warehouse.query("SELECT count() FROM events").result_rows[0][0] == 0:
            assert time.monotonic() < deadline, "no warm-up events arrived"
            time.sleep(0.5)
        started = datetime.now(UTC)
        after_warmup = warehouse.query("SELECT count() FROM events").result_rows[0][0]

        switched = subprocess.run(
            [SYNCWATCH, "simulate", "fault", "erp_outage", "--on", "--admin-url", admin_url],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert switched.returncode == 0, switched.stdout + switched.stderr
        faults = httpx.get(f"{admin_url}/admin/faults", headers=ADMIN, timeout=5).json()
        assert "erp_outage" in str(faults) and "true" in str(faults).lower()

        deadline = time.monotonic() + 30
        while warehouse.query("SELECT count() FROM events").result_rows[0][0] <= after_warmup:
            assert time.monotonic() < deadline, "no live events after the warm-up"
            time.sleep(0.5)
    finally:
        live.wait(timeout=120)
    assert live.returncode == 0
    latest, earliest_live = warehouse.query(
        "SELECT max(time), minIf(time, received_at >= {s:DateTime64(3)}) FROM events",
        parameters={"s": started.replace(tzinfo=None)},
    ).result_rows[0]
    assert latest.replace(tzinfo=UTC) <= datetime.now(UTC) + timedelta(seconds=5)
    assert earliest_live.replace(tzinfo=UTC) >= started - timedelta(hours=1)
    assert warehouse.query("SELECT count() FROM quarantine").result_rows[0][0] == 0
