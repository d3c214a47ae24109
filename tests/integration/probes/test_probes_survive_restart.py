"""After a collector restart the probes stage remembers: last runs (so staleness counts from the last real run)
and the past hour's API calls (so a restart does not hand out a fresh budget)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from simulator.apis.app import create_app
from syncwatch.tokens import create_token
from syncwatch.warehouse import apply_migrations, connect
from tests.conftest import ThreadedCollector, auth, make_settings

from .probe_support import estate_config, serve, set_secrets, simulate

pytestmark = pytest.mark.integration


def test_last_runs_and_budget_use_survive_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)
    sim = simulate("dead_letter_buildup", days=14, fault_day=3)  # the replay job stopped from day 3 on
    with serve(create_app(sim)) as base:
        config = estate_config(base)
        config["builtin"] = {"dead_letters": {"interval_seconds": 3600}} | {
            name: {"enabled": False}
            for name in ("time_posting", "duplicate_postings", "project_master_data", "deals_without_project",
                         "worker_sync", "rate_cards")
        }  # fmt: skip
        path = tmp_path / "probes.yaml"
        path.write_text(yaml.safe_dump(config))
        settings = make_settings(tmp_path, probes_config=path)
        client = connect(settings)
        apply_migrations(client, settings.retention_days)
        admin = auth(create_token(client, "t-admin", ["admin"])[1])
        try:
            with ThreadedCollector(settings) as first:
                run = httpx.post(f"{first.url}/api/v1/probes/dead_letters/run", headers=admin, timeout=60).json()
                assert run["outcome"] == "mismatch"
                component = next(c for c in first.service.components if c.name == "probes")
                component._provider.force_flush()
                used = httpx.get(f"{first.url}/api/v1/probes", headers=admin).json()["systems"]["middleware"]
            with ThreadedCollector(make_settings(tmp_path, probes_config=path, database=settings.database)) as second:
                listing = httpx.get(f"{second.url}/api/v1/probes", headers=admin).json()
        finally:
            client.command(f"DROP DATABASE IF EXISTS `{settings.database}`")
    probe = {p["name"]: p for p in listing["probes"]}["dead_letters"]
    assert probe["last_run"]["started_at"] >= run["started_at"] and probe["stale"] is False
    assert probe["last_run"]["outcome"] == "mismatch"
    after = listing["systems"]["middleware"]
    seeded = after["used_last_hour"] - after["calls_since_start"]  # calls the new process did not make itself
    assert seeded >= used["used_last_hour"] >= run["api_calls"] > 0
    assert set(listing["skipped"]) == {"time_posting", "duplicate_postings", "project_master_data",
                                       "deals_without_project", "worker_sync", "rate_cards"}  # fmt: skip
