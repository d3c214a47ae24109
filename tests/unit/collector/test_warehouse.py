from __future__ import annotations

from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from syncwatch.settings import Settings
from syncwatch.warehouse import applied_versions, apply_migrations, pending_migrations, resolve_dsn
from syncwatch.warehouse.migrations import load_migrations, sync_retention


def test_migrations_are_recorded_and_idempotent(warehouse: Client, settings: Settings) -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == sorted(set(versions)) and versions[0] == 1
    assert applied_versions(warehouse) == set(versions)
    assert pending_migrations(warehouse) == []
    assert apply_migrations(warehouse, settings.retention_days) == []
    tables = {r[0] for r in warehouse.query("SHOW TABLES").result_rows}
    assert {"events", "otel_traces", "otel_traces_trace_id_ts", "quarantine", "record_keys", "tokens"} <= tables


def test_retention_change_reaches_existing_tables(warehouse: Client) -> None:
    changed = set(sync_retention(warehouse, 30))
    # every stage's tables follow, not only the collector's: probe runs, SLI snapshots, flow activity, alerts
    assert {"events", "otel_traces", "quarantine", "probe_runs", "sli_snapshots", "flow_activity"} <= changed
    create = warehouse.query(
        "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = 'events'"
    ).result_rows[0][0]
    assert "toIntervalDay(30)" in create and "ttl_only_drop_parts = 1" in create
    assert sync_retention(warehouse, 30) == []


def test_otel_traces_matches_the_exporter_columns(warehouse: Client) -> None:
    columns = dict(
        warehouse.query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'otel_traces'"
        ).result_rows
    )
    assert columns["Timestamp"] == "DateTime64(9)"
    assert columns["SpanAttributes"] == "Map(LowCardinality(String), String)"
    assert columns["Duration"] == "UInt64"
    assert columns["Events.Timestamp"] == "Array(DateTime64(9))"
    assert columns["Links.TraceId"] == "Array(String)"


def test_relative_chdb_paths_resolve_against_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_dsn("chdb://./var/warehouse") == f"chdb://{tmp_path}/var/warehouse"
    assert resolve_dsn("chdb:///abs/path") == "chdb:///abs/path"
    assert resolve_dsn("http://u:p@h:8123/db") == "http://u:p@h:8123/db"


def test_settings_refuse_unknown_schemes() -> None:
    with pytest.raises(ValueError, match="chdb://"):
        Settings(clickhouse_url="postgres://x")


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCWATCH_PORT", "9999")
    monkeypatch.setenv("SYNCWATCH_TYPE_ALIASES", '{"TimeCardPosted": "time_entry.posted"}')
    s = Settings()
    assert s.port == 9999 and s.type_aliases == {"TimeCardPosted": "time_entry.posted"}
    assert Settings.model_fields["port"].default == 4318 and s.host == "127.0.0.1"
