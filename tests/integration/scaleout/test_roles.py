"""The roles against one server warehouse: an ingest replica takes events and answers reads but runs no job; a
worker runs the jobs but takes no events; the CLI refuses both roles on an embedded warehouse."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from collector.app import create_app
from syncwatch.roles import Role
from syncwatch.settings import Settings
from tests.conftest import ThreadedCollector, auth, make_settings
from tests.factories import event
from tests.integration.scaleout.helpers import ids_stored, migrated, post_events, server_settings, wait_until
from tests.integration.scaleout.warehouse_server import WarehouseServer

pytestmark = pytest.mark.integration

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")


class RoleCollector(ThreadedCollector):
    """The collector of one role, as `syncwatch serve --role ingest` or `syncwatch worker` builds it."""

    def __init__(self, settings: Settings, role: Role) -> None:
        super().__init__(settings)
        self.app = create_app(settings, role=role)
        self.server.config.app = self.app


def test_an_ingest_replica_runs_no_job_and_a_worker_takes_no_event(
    warehouse_server: WarehouseServer, tmp_path: Path
) -> None:
    ingest = server_settings(tmp_path, warehouse_server.url, sli_snapshot_seconds=1)
    client, tokens = migrated(ingest)
    sent = [event("time_entry.posted") for _ in range(5)]
    with RoleCollector(ingest, "ingest") as replica:
        assert post_events(replica.url, tokens["ingest"], sent).status_code == 200
        assert replica.service.lease is None and replica.service.scheduler.running  # paused, not stopped
        time.sleep(3)  # three snapshot periods
        answer = httpx.get(f"{replica.url}/api/v1/slis", headers=auth(tokens["read"]), timeout=60)
        assert answer.status_code == 200  # the stages' read routes serve
    assert {e["id"] for e in sent} <= ids_stored(client).keys()
    assert client.query("SELECT count() FROM sli_snapshots").result_rows[0][0] == 0
    assert client.query("SELECT count() FROM worker_jobs").result_rows[0][0] == 0

    worker = server_settings(tmp_path, warehouse_server.url, database=ingest.database, sli_snapshot_seconds=1)
    with RoleCollector(worker, "worker") as running:
        refused = post_events(running.url, tokens["ingest"], [event("time_entry.posted")])
        assert refused.status_code == 404  # no ingest route
        assert httpx.get(f"{running.url}/healthz", timeout=10).status_code == 200
        lease = running.service.lease
        assert lease is not None
        wait_until(lambda: lease.held(), 30, "the worker to take the lease")
        wait_until(lambda: client.query("SELECT count() FROM sli_snapshots").result_rows[0][0] > 0, 60, "a snapshot")
    jobs = client.query("SELECT DISTINCT job FROM worker_jobs").result_rows
    assert ("sli-snapshot",) in jobs


@pytest.mark.parametrize("command", [["serve", "--role", "ingest"], ["worker"]])
def test_the_split_roles_refuse_an_embedded_warehouse(tmp_path: Path, command: list[str]) -> None:
    settings = make_settings(tmp_path)
    env = {"SYNCWATCH_CLICKHOUSE_URL": f"chdb://{tmp_path}/warehouse", "SYNCWATCH_PORT": str(settings.port)}
    done = subprocess.run(
        [SYNCWATCH, *command], env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "needs a ClickHouse server" in done.stderr + done.stdout, done.stderr
