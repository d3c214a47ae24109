"""`syncwatch probes list|run` as a user runs them: standalone from the probes file, and through a running
collector (so manual runs are budgeted and stored with the scheduled ones)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from simulator.apis.app import create_app

from .probe_support import CREDS, estate_config, serve, simulate
from .test_probes_in_collector import running  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "syncwatch"), *args],
        env={**os.environ, "SIM_CLIENT_SECRET": CREDS.client_secret, "SIM_API_KEY": CREDS.api_key, **env},
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_standalone_list_and_run(tmp_path: Path) -> None:
    # dead letters stay unreplayed only while the replay job is stopped: a working operations team replays them
    sim = simulate("duplicate_submissions", days=21, also=("dead_letter_buildup",))
    with serve(create_app(sim)) as base:
        config = estate_config(base)
        del config["systems"]["hcm"]
        # the CLI measures against the wall clock; the simulated firm lives in 2025
        config["builtin"] = {"duplicate_postings": {"options": {"lookback_days": 1000}}}
        path = tmp_path / "probes.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {
            "SYNCWATCH_PROBES_CONFIG": str(path),
            "SYNCWATCH_VAR_DIR": str(tmp_path / "var"),
            "SYNCWATCH_CLICKHOUSE_URL": f"chdb://{tmp_path / 'warehouse'}",
            "COLUMNS": "200",
        }
        listed = _cli(["probes", "list"], env)
        assert listed.returncode == 0, listed.stderr
        assert "time_posting" in listed.stdout and "worker_sync: not running" in listed.stdout
        assert "hcm" in listed.stdout.split("worker_sync: not running", 1)[1]

        ran = _cli(["probes", "run", "dead_letters"], env)
        assert ran.returncode == 1, ran.stderr  # mismatch
        assert "dead_letters" in ran.stdout and "mismatch" in ran.stdout and "dead_letter_unreplayed" in ran.stdout

        as_json = _cli(["probes", "run", "duplicate_postings", "--json"], env)
        assert as_json.returncode == 1, as_json.stderr
        answer = json.loads(as_json.stdout)
        assert answer["outcome"] == "mismatch"
        assert {f["kind"] for f in answer["findings"]} >= {"duplicate_posting"}

        missing = _cli(["probes", "run", "worker_sync"], env)
        assert missing.returncode == 2 and "hcm" in missing.stderr
    # the runs were stored in the warehouse the CLI opened
    stored = subprocess.run(
        [sys.executable, "-c",
         "import clickhouse_connect;"
         f"c=clickhouse_connect.get_client(dsn='chdb://{tmp_path / 'warehouse'}');"
         "print(c.query('SELECT count() FROM syncwatch.probe_runs').result_rows[0][0])"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert stored.stdout.strip() == "2", stored.stderr


def test_run_through_the_running_collector(running, tmp_path: Path) -> None:  # noqa: F811
    collector, (_, secrets) = running
    env = {
        "SYNCWATCH_VAR_DIR": str(collector.settings.var_dir),
        "SYNCWATCH_PROBES_CONFIG": str(collector.settings.probes_config),
        "COLUMNS": "200",
    }
    ran = _cli(["probes", "run", "dlq_queues"], env)
    assert ran.returncode == 1, ran.stderr
    # The collector stored the CLI's run. It need not be the probe's last: the collector's own first run of each
    # probe comes at a random 1-30 s after its start, before or after this one.
    found = re.search(r"\(run ([0-9a-f]{32})\)", ran.stdout)
    assert found, ran.stdout
    stored = collector.service.connect().query(
        "SELECT probe, outcome FROM probe_runs WHERE run_id = {id:String}", parameters={"id": found[1]}
    )
    assert stored.result_rows == [("dlq_queues", "mismatch")]
    listing = httpx.get(f"{collector.url}/api/v1/probes", headers={"Authorization": f"Bearer {secrets['read']}"}).json()
    last = {p["name"]: p["last_run"] for p in listing["probes"]}["dlq_queues"]
    assert last is not None and last["outcome"] == "mismatch"
    listed = _cli(["probes", "list"], env)
    assert listed.returncode == 0 and "dlq_queues" in listed.stdout and "mismatch" in listed.stdout
